"""Escalation, and who may act on a ticket from where.

- Functional: `/escalate N TEAM [note]` moves the ticket to another team (TEAMS): a new card in that team's
  chat, the old card marked as moved and without buttons, the assignee cleared (the new team takes it),
  the customer told in their language.
- Hierarchical: `/escalate N manager [note]`, and every SLA breach, reach MANAGER_IDS (private messages)
  and ESCALATION_CHAT_ID.
- Acting from another team's chat: `check_acting`, the one place of the rule (docs/teams.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import cards, customer_notices, outbox
from helpdesk.agent_actions import Notice, Refusal, require_open
from helpdesk.clock import now_utc
from helpdesk.formatting import shorten, when
from helpdesk.i18n import t
from helpdesk.people import Actor, customer_language
from helpdesk.policy import DeskPolicy
from helpdesk.teams import Team
from helpdesk.tickets import record_event
from storage import outbox_rows, repos
from storage.models import Ticket

#: `/escalate N manager`: to the managers instead of a team; `/escalate N general`: back to the general desk
MANAGER = "manager"
GENERAL = "general"
SUMMARY_LIMIT = 300


def owner(ticket: Ticket, policy: DeskPolicy) -> Team | None:
    """The team working the ticket; None: the general desk (also for a team no longer in TEAMS)."""
    return policy.teams.get(ticket.team)


def check_acting(ticket: Ticket, where: Team | None, policy: DeskPolicy) -> None:
    """From a team's chat agents act on that team's tickets only; the general staff chat and private chats
    act on any ticket. Raises the polite refusal that says whose ticket it is and what to do."""
    if where is None:
        return
    team = owner(ticket, policy)
    if team is not None and team.name == where.name:
        return
    if team is None:
        raise Refusal("teams.error.general_ticket", number=ticket.number, here=where.name)
    raise Refusal("teams.error.other_team", number=ticket.number, team=team.name, here=where.name)


def _recorded(
    session: AsyncSession, ticket: Ticket, actor: Actor, note: str | None, data: dict[str, Any], now: datetime
) -> None:
    """The `escalated` event on the ticket's trail: who, where to (and from), the note."""
    record_event(
        session,
        ticket,
        "escalated",
        actor_kind="agent",
        actor_id=actor.user_id,
        actor_name=actor.name,
        note=note,
        data=data,
        at=now,
    )


def known_targets(policy: DeskPolicy) -> str:
    """What /escalate accepts after the number, for its usage and the refusal of an unknown one (`general`
    only with TEAMS: without teams every ticket is the general desk's, and `escalate` refuses it)."""
    return ", ".join([*policy.teams.names, GENERAL, MANAGER] if policy.teams else [MANAGER])


async def escalate(
    session: AsyncSession, ticket: Ticket, actor: Actor, target: str, note: str | None, policy: DeskPolicy
) -> Notice:
    """`/escalate N TEAM|manager [note]`."""
    if target.strip().casefold() == MANAGER:
        return await to_managers(session, ticket, actor, note, policy)
    if target.strip().casefold() == GENERAL and policy.teams:
        return await to_team(session, ticket, actor, None, note, policy)
    team = policy.teams.get(target)
    if team is None:
        if not policy.teams:
            raise Refusal("teams.error.no_teams", target=target[:40])
        raise Refusal("teams.error.unknown_team", target=target[:40], known=known_targets(policy))
    return await to_team(session, ticket, actor, team, note, policy)


async def to_team(
    session: AsyncSession, ticket: Ticket, actor: Actor, team: Team | None, note: str | None, policy: DeskPolicy
) -> Notice:
    """Functional escalation: the ticket, its card and its conversation move to `team`'s chat (None: back
    to the general desk, STAFF_CHAT_ID)."""
    require_open(ticket, "teams.error.not_open")
    if ticket.parent_id is not None:
        parent = await repos.ticket_by_id(session, ticket.parent_id)
        raise Refusal("teams.error.linked", number=ticket.number, parent=parent.number if parent else "?")
    previous = owner(ticket, policy)
    lang = policy.default_language
    name = team.name if team is not None else t(lang, "teams.general")
    if previous == team and team is None:  # the general desk is named in the agent's language: a key of its own
        raise Refusal("teams.error.already_general", number=ticket.number)
    if previous == team:
        raise Refusal("teams.error.already", number=ticket.number, team=name)
    if team is None and policy.staff_chat_id is None:
        raise Refusal("teams.error.no_general", number=ticket.number)
    now = now_utc()
    customer, customer_lang = await customer_notices.recipient(session, ticket, policy)
    from_name = previous.name if previous is not None else t(lang, "teams.general")
    old_chat, old_card = ticket.staff_chat_id, ticket.staff_message_id
    if old_chat is not None and old_card is not None and customer is not None:
        moved = t(lang, "teams.card.moved", team=name, agent=actor.name)
        outbox.edit_text(session, old_chat, old_card, cards.card_text(ticket, customer, lang, [moved]), buttons=[])
    elif old_chat is not None:  # the old card was never sent: it will not be now
        await outbox_rows.drop_unstarted_of_ticket(session, ticket.id, old_chat, f"moved to {name}")
    ticket.team = team.name if team is not None else None
    ticket.staff_chat_id = ticket.staff_message_id = ticket.staff_thread_id = None
    ticket.assignee_id, ticket.assignee_name = None, None  # the new team takes it
    ticket.updated_at = now
    session.add(ticket)
    moves = {"from": previous.name if previous is not None else None, "to": ticket.team}
    _recorded(session, ticket, actor, note, moves, now)
    if customer is not None:
        await cards.post_new_card(session, ticket, customer, policy)
    chat_id, _topic = cards.card_place(ticket, policy)
    why = t(lang, "teams.staff.note", note=note) if note else ""
    if chat_id is not None:
        outbox.send_text(
            session,
            chat_id,
            t(lang, "teams.staff.escalated", number=ticket.number, source=from_name, agent=actor.name) + why,
            ticket_id=ticket.id,
            link_kind="relay",
            reply_to_card=True,
        )
    if team is not None:
        told = t(customer_lang, "teams.customer.escalated", number=ticket.number, team=team.name)
    else:
        told = t(customer_lang, "teams.customer.returned", number=ticket.number)
    customer_notices.tell(session, ticket, customer, told)
    if team is None:
        return Notice("teams.done.returned", {"number": ticket.number})
    return Notice("teams.done.escalated", {"number": ticket.number, "team": team.name})


async def to_managers(
    session: AsyncSession, ticket: Ticket, actor: Actor, note: str | None, policy: DeskPolicy
) -> Notice:
    """Hierarchical escalation: the managers hear of the ticket, the staff and the customer are told."""
    if not policy.manager_ids and policy.escalation_chat_id is None:
        raise Refusal("teams.error.no_managers")
    require_open(ticket, "teams.error.not_open")
    now = now_utc()
    _recorded(session, ticket, actor, note, {"to": MANAGER}, now)

    def render(lang: str) -> str:
        why = t(lang, "teams.staff.note", note=note) if note else ""
        return t(lang, "teams.manager.escalated", agent=actor.name) + "\n" + summary(ticket, policy, lang) + why

    reached = await notify_managers(session, ticket, policy, render)
    lang = policy.default_language
    staff = cards.staff_chat_of(ticket, policy)
    if staff is not None:
        why = t(lang, "teams.staff.note", note=note) if note else ""
        text = t(lang, "teams.staff.to_managers", number=ticket.number, agent=actor.name) + why
        outbox.send_text(session, staff, text, ticket_id=ticket.id, link_kind="relay", reply_to_card=True)
    customer, customer_lang = await customer_notices.recipient(session, ticket, policy)
    customer_notices.tell(
        session, ticket, customer, t(customer_lang, "teams.customer.to_managers", number=ticket.number)
    )
    return Notice("teams.done.to_managers", {"number": ticket.number, "count": reached})


def summary(ticket: Ticket, policy: DeskPolicy, lang: str) -> str:
    """The ticket in a few lines for a manager, who has no card to look at."""
    team = owner(ticket, policy)
    return t(
        lang,
        "teams.manager.summary",
        number=ticket.number,
        priority=t(lang, f"priority.{ticket.priority}"),
        category=t(lang, f"category.{ticket.category}"),
        state=t(lang, f"agents.state.{ticket.state}"),
        team=team.name if team is not None else t(lang, "teams.general"),
        assignee=ticket.assignee_name or t(lang, "card.unassigned"),
        due=when(ticket.resolution_due),
        description=shorten(ticket.description, SUMMARY_LIMIT),
    )


async def notify_managers(
    session: AsyncSession, ticket: Ticket, policy: DeskPolicy, render: Callable[[str], str]
) -> int:
    """`render(lang)` to each manager privately (in their language, when they have talked to the bot) and
    to ESCALATION_CHAT_ID; how many managers and chats it was queued for."""
    reached = 0
    for manager_id in sorted(policy.manager_ids):
        known = await repos.customer_by_telegram_id(session, manager_id)
        if known is not None and known.unreachable_since is not None:
            continue
        outbox.send_text(
            session, manager_id, render(customer_language(known, policy.default_language)), ticket_id=ticket.id
        )
        reached += 1
    if policy.escalation_chat_id is not None:
        outbox.send_text(session, policy.escalation_chat_id, render(policy.default_language), ticket_id=ticket.id)
        reached += 1
    return reached
