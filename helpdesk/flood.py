"""Flood control (FLOOD_MESSAGES_PER_MINUTE): one customer's burst cannot make the desk answer or relay
every message, nor crowd out everyone else.

- What counts: the new messages of one private chat (an album is one), by Telegram's time of sending,
  over the last minute, in the shared inbox (`storage.held_messages.inputs_before`), so every process
  of a deployment agrees. Edits count too (each would be relayed and answered). Agents are never limited
  (`applies_to`).
- Button presses are counted apart, by when they were stored (Telegram dates no press), against the same
  limit but never fewer than `PRESSES_AT_LEAST`: most of them answer the bot's own questions, so a burst
  of messages must not lock the form's buttons, nor a walk through the form count as messages or be
  refused under a small limit. But a press can make the bot send a message
  (the menu's Help or My tickets, an old question of the form asked again), so a hostile user hammering
  buttons could make it send one per press. A press beyond the limit is refused (`press_refused`): the
  button is answered with a short note and nothing is sent, done or kept; pressed again after the minute
  it works as usual.
- Beyond the limit a message is *held*: stored (nothing lost), neither answered nor relayed one by one.
  The first held message of a flood is answered once, with a polite "please slow down".
- The staff get the held messages as ONE digest on the customer's ticket (the most recently active open
  one; with none, in the staff chat), each message recorded in the ticket's history like any other (files
  as attachments). The digest goes when the minute after the first held message ends (a sweep), or
  earlier with the customer's next message that is not held, before it, so the staff read everything in
  the order it was written. Both, because a flood often simply stops: waiting for a next message could
  leave the staff without the digest for days.
- An intake open during a flood keeps the answers it had: held messages are not taken as answers (a
  burst is not an answer to one question; taking the last one would be a guess). The form waits at its
  question, and the slow-down message says so (only then: with no form open it mentions none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import outbox, tickets
from helpdesk.content import Content
from helpdesk.customer_messages import relay_to_staff
from helpdesk.formatting import shorten
from helpdesk.i18n import t
from helpdesk.people import customer_display_name
from helpdesk.policy import DeskPolicy
from storage import held_messages, repos
from storage.models import Customer, HeldMessage

WINDOW = timedelta(minutes=1)
#: in `customer.pending`: something of theirs is held (so a message under the limit looks for it)
PENDING_KEY = "flood_held"
#: messages a digest lists (each shortened); all of them are in the ticket's history
LISTED_AT_MOST = 15
LISTED_CHARS = 200
#: in a held row's content: an edit of an earlier message, not a new one
EDITED = "edited"
#: presses a minute allowed whatever FLOOD_MESSAGES_PER_MINUTE says: walking through the form with its
#: buttons (about ten, Back included) must never be refused
PRESSES_AT_LEAST = 20


def applies_to(policy: DeskPolicy, telegram_id: int) -> bool:
    """Whether flood control counts this sender at all: agents are never limited (the one place this is
    decided; the caller asks before anything else is done for the update)."""
    return not policy.is_agent(telegram_id)


@dataclass(frozen=True)
class Verdict:
    held: bool
    first: bool = False  # the first held message of this flood: the customer is asked to slow down


async def count_ahead(session: AsyncSession, messages: Sequence[int], presses: Sequence[int] = ()) -> None:
    """What `hold_if_flooding` counts for these messages and `press_refused` for these button presses (a
    batch's), in one query each up front."""
    window = int(WINDOW.total_seconds())
    await held_messages.count_inputs_before(session, messages, window)
    await held_messages.count_inputs_before(session, presses, window, presses=True)


async def hold_if_flooding(
    session: AsyncSession,
    customer: Customer,
    update_id: int,
    content: Content,
    policy: DeskPolicy,
    now: datetime,
    *,
    edited: bool = False,
) -> Verdict:
    """Hold the message (or edit) when the customer has sent FLOOD_MESSAGES_PER_MINUTE others within the
    minute. Only for a sender flood control `applies_to`."""
    if customer.id is None:
        return Verdict(held=False)
    before = await held_messages.inputs_before(session, update_id, int(WINDOW.total_seconds()))
    if before < policy.flood_messages_per_minute:
        return Verdict(held=False)
    due = await held_messages.digest_due_of(session, customer.id)
    data = {**content.as_data(), EDITED: edited}
    held_messages.hold(session, customer.id, update_id, data, now, due or now + WINDOW)
    if not (customer.pending or {}).get(PENDING_KEY):
        customer.pending = {**(customer.pending or {}), PENDING_KEY: True}
        session.add(customer)
    return Verdict(held=True, first=due is None)


async def press_refused(session: AsyncSession, update_id: int, policy: DeskPolicy) -> bool:
    """True when the press comes after `presses_per_minute` other presses of its chat within the minute:
    answered on the button only (`press_slow_down`), nothing else done. Only for a sender flood control
    `applies_to`."""
    before = await held_messages.presses_before(session, update_id, int(WINDOW.total_seconds()))
    return before >= presses_per_minute(policy)


def presses_per_minute(policy: DeskPolicy) -> int:
    return max(policy.flood_messages_per_minute, PRESSES_AT_LEAST)


def press_slow_down(lang: str) -> str:
    """The note on a refused press (a toast: short, plain)."""
    return t(lang, "flood.press_slow_down")


async def post_held(session: AsyncSession, customer: Customer, policy: DeskPolicy) -> int:
    """A message under the limit again: first the digest of what was held, if anything (returns how many)."""
    if not (customer.pending or {}).get(PENDING_KEY):
        return 0
    customer.pending = {k: v for k, v in (customer.pending or {}).items() if k != PENDING_KEY}
    session.add(customer)
    rows = await held_messages.take_held(session, customer.id, wait=True)
    if rows:
        await _post_digest(session, customer, rows, policy)
    return len(rows)


async def post_due_digests(session: AsyncSession, policy: DeskPolicy, now: datetime) -> int:
    """The sweep: every customer whose flood minute has ended gets their digest posted; returns how many."""
    posted = 0
    for customer_id in await held_messages.customers_with_due_digests(session, now):
        customer = await repos.customer_by_id(session, customer_id)
        rows = await held_messages.take_held(session, customer_id, wait=False)  # another process has them
        if customer is not None and rows:
            await _post_digest(session, customer, rows, policy)
            posted += 1
    return posted


def _listing(rows: Sequence[HeldMessage], contents: Sequence[Content], lang: str) -> str:
    lines = []
    for n, (row, content) in enumerate(zip(rows[:LISTED_AT_MOST], contents, strict=False), start=1):
        kind = (content.file or {}).get("kind")
        words = shorten(content.words, LISTED_CHARS)
        edit = f"[{t(lang, 'flood.staff.edited')}]" if row.content.get(EDITED) else ""
        label = f"[{t(lang, 'flood.staff.file')}: {kind}]" if kind else ""
        lines.append(f"{n}. {' '.join(part for part in (edit, label, words) if part) or '—'}")
    if len(contents) > LISTED_AT_MOST:
        lines.append(t(lang, "flood.staff.more", count=len(contents) - LISTED_AT_MOST))
    return "\n".join(lines)


async def _post_digest(
    session: AsyncSession, customer: Customer, rows: Sequence[HeldMessage], policy: DeskPolicy
) -> None:
    """One message to the staff for all the held rows; each recorded on the ticket; the rows go."""
    lang = policy.default_language
    name = customer_display_name(customer)
    contents = [Content.of_data(row.content) for row in rows]
    listing = _listing(rows, contents, lang)
    open_ = await repos.tickets_of_customer(session, customer.id, open_only=True, limit=1)
    ticket = await repos.lock_ticket(session, open_[0].id) if open_ else None
    if ticket is not None:
        for row, content in zip(rows, contents, strict=True):
            await tickets.record_content(
                session,
                ticket,
                "edited" if row.content.get(EDITED) else "message",
                content,
                row.received_at,
                actor_kind="customer",
                actor_id=customer.telegram_id,
                actor_name=name,
            )
            if content.chat_id is not None and content.message_id is not None and not row.content.get(EDITED):
                await repos.add_link(session, content.chat_id, content.message_id, ticket.id, "customer_msg")
        ticket.updated_at = rows[-1].received_at
        session.add(ticket)
        await relay_to_staff(
            session, ticket, policy, "flood.staff.digest", Content(text=listing), name=name, count=len(rows)
        )
    elif policy.staff_chat_id is not None:
        text = t(lang, "flood.staff.digest_no_ticket", name=name, count=len(rows), text=listing)
        outbox.send_text(session, policy.staff_chat_id, text)
    await held_messages.forget(session, rows)


async def slow_down(session: AsyncSession, customer: Customer, lang: str) -> str:
    """What the customer reads once per flood; the request form they are filling in, if one is open, is said
    to wait at its question (held messages are no answers)."""
    text = t(lang, "flood.slow_down", during=t(lang, "flood.next_seconds", count=int(WINDOW.total_seconds())))
    if customer.id is not None and await repos.draft_of(session, customer.id) is not None:
        text += "\n\n" + t(lang, "flood.intake_waits")
    return text
