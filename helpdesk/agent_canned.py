"""A canned reply an agent sends to a ticket's customer: `/reply N #name`, and the list, `/canned`.

The templates are the operator's (CANNED_REPLIES_FILE, helpdesk/canned_replies.py). Each reader gets the
template in their own language with their name and their ticket's number filled in (for a major
incident, every linked customer their own); otherwise it is a reply like any other (`agent_actions.reply`:
the same header, history, first response and state).
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import agent_actions, customer_notices
from helpdesk.agent_actions import Notice, Refusal
from helpdesk.canned_replies import CannedReplies
from helpdesk.content import Content
from helpdesk.formatting import shorten
from helpdesk.i18n import t, to_plain
from helpdesk.people import Actor, customer_display_name
from helpdesk.policy import DeskPolicy
from storage.models import Ticket

#: how much of a template's first line the list shows
FIRST_LINE = 80


def is_canned(text: str) -> bool:
    """`#name` alone: the agent means a template, not words starting with a hash; a hash alone is a
    template whose name is missing (never sent as "#")."""
    words = text.split()
    return len(words) == 1 and words[0].startswith("#")


def listing(replies: CannedReplies, lang: str) -> str:
    """`/canned`: every template's name and the first line of its text in `lang`."""
    if not replies:
        return t(lang, "replies.canned.none")
    lines = [t(lang, "replies.canned.title", count=len(replies))]
    for reply in replies.replies:
        text = to_plain(reply.texts.get(lang) or next(iter(reply.texts.values())))
        first = next((line for line in text.splitlines() if line.strip()), "")
        lines.append(t(lang, "replies.canned.line", name=reply.name, first_line=shorten(first, FIRST_LINE)))
    return "\n".join(lines)


def canned_words(replies: CannedReplies, name: str, actor: Actor) -> customer_notices.Words:
    """The template `name` as words made for each reader (their language, name and number; the agent's
    name); a refusal naming the templates when there is no such template."""
    if not replies:
        raise Refusal("replies.canned.none")
    names = ", ".join(f"#{known}" for known in replies.names)
    if not name.strip().lstrip("#"):
        raise Refusal("replies.canned.missing", names=names)
    template = replies.get(name)
    if template is None:
        raise Refusal("replies.canned.unknown", name=name.strip().lstrip("#")[:40], names=names)

    def filled(reader: customer_notices.Recipient) -> Content:
        customer = customer_display_name(reader.customer) if reader.customer else ""
        html = template.render(reader.lang, customer=customer, number=reader.number, agent=actor.name)
        return Content(text=to_plain(html), html=html)

    return filled


def reply_words(replies: CannedReplies, text: str, actor: Actor) -> customer_notices.Words:
    """What `/reply N text` says: for `#name` the template (`canned_words`), else the words as typed."""
    return canned_words(replies, text, actor) if is_canned(text) else Content(text=text)


async def reply(
    session: AsyncSession, ticket: Ticket, actor: Actor, text: str, replies: CannedReplies, policy: DeskPolicy
) -> Notice | None:
    """`/reply N text`, or `/reply N #name`: the template, filled in for each reader, as the agent's reply."""
    notice = await agent_actions.reply(session, ticket, actor, reply_words(replies, text, actor), policy)
    if not is_canned(text):
        return notice
    _customer, lang = await customer_notices.recipient(session, ticket, policy)
    wanted = text.strip().lstrip("#").lower()
    return Notice("replies.canned.sent", {"name": wanted, "number": ticket.number, "lang": lang})
