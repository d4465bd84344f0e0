"""What agents see: a ticket's details with its audit trail, and the queue of open tickets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import callbacks, cards, causes, outbox
from helpdesk.formatting import shorten, when
from helpdesk.i18n import Safe, escape, has, name_or_code, t
from helpdesk.policy import DeskPolicy
from storage import repos
from storage.models import Ticket, TicketEvent

QUEUE_LIMIT = 30


@dataclass(frozen=True)
class QueueScope:
    """Whose tickets a queue shows: team names, "" for the general desk's; `known`: the teams in TEAMS."""

    teams: tuple[str, ...]
    known: tuple[str, ...]

    def label(self, lang: str) -> str:
        return ", ".join(name or t(lang, "teams.general") for name in self.teams)


def queue_scope(
    policy: DeskPolicy, here: str | None, in_private: bool, agent_teams: Sequence[str]
) -> QueueScope | None:
    """What `/queue` shows an agent (None: everything): nothing to choose without TEAMS; in a team's chat
    that team's tickets; in the staff chat the general desk's; in a private chat the tickets of the teams
    the agent works in (the general desk's if none)."""
    if not policy.teams:
        return None
    known = tuple(policy.teams.names)
    if here is not None:
        return QueueScope((here,), known)
    mine = tuple(name for name in agent_teams if name in known) if in_private else ()
    return QueueScope(mine or ("",), known)


def event_line(lang: str, event: TicketEvent) -> str:
    """One line of a ticket's audit trail for agents, every event named in the agent's language."""
    who = event.actor_name or (t(lang, "agents.view.system") if event.actor_kind == "system" else "—")
    if event.kind == "assign":  # its actor_name is the assignee; who assigned is in its data
        who = (event.data or {}).get("by") or who
    line = t(lang, "agents.view.history_line", at=when(event.at), who=who, what=_event_name(lang, event))
    if event.note and event.kind not in ("created",):
        line += Safe(": ") + escape(_event_note(lang, event, event.note))
    return line


def _event_note(lang: str, event: TicketEvent, note: str) -> str:
    """An event's note: what someone wrote, as written; a note the bot itself wrote ("answered", an SLA
    clock) named in the agent's language (`agents.event_note.<kind>.<note>`), a category change by its
    categories' names."""
    moved = event.data or {}
    if event.kind == "retype" and isinstance(moved.get("from"), dict) and isinstance(moved.get("to"), dict):
        names = [moved[side].get("category") for side in ("from", "to")]
        if all(has(lang, f"category.{name}") for name in names):
            return " → ".join(t(lang, f"category.{name}") for name in names)
    if event.actor_kind != "agent":
        key = f"agents.event_note.{event.kind}.{note.replace(' ', '_').lower()}"
        if len(note) <= 40 and has(lang, key):
            return t(lang, key)
    return shorten(note, 300)


def _event_name(lang: str, event: TicketEvent) -> str:
    """What happened, from the catalog (`agents.event.*`); a kind the catalog does not know yet (written by
    a newer version of the bot) reads as its code rather than failing the whole view."""
    data = event.data or {}
    if event.kind == "state":
        return " → ".join(
            t(lang, f"agents.state.{state}") if state else "—" for state in (event.from_state, event.to_state)
        )
    if event.kind == "assign":
        return t(lang, "agents.event.assign", name=data.get("assignee_name") or event.actor_name or "—")
    if event.kind == "rating":
        return t(lang, "agents.event.rating", rating=data.get("rating", "?"))
    return name_or_code(lang, "agents.event", event.kind)


async def details(session: AsyncSession, ticket: Ticket, lang: str) -> tuple[str, int]:
    """The full card with every event, and how many attachments the ticket has."""
    customer = await repos.customer_by_id(session, ticket.customer_id)
    if customer is None:
        head = t(lang, "agents.view.orphan", number=ticket.number)
    else:
        head = cards.card_text(ticket, customer, lang, await cards.link_notes(session, ticket, lang), whole=True)
    parts = [head]
    if ticket.resolution_report:
        parts.append(t(lang, "agents.view.report", report=ticket.resolution_report))
    if ticket.cause:
        parts.append(t(lang, "causes.view", cause=causes.name(ticket.cause, lang)))
    events = await repos.events_of(session, ticket.id)
    if events:
        parts.append(t(lang, "agents.view.history_title") + "\n" + "\n".join(event_line(lang, e) for e in events))
    files = await repos.attachments_of(session, ticket.id)
    if files:
        parts.append(t(lang, "agents.view.attachments", count=len(files)))
    return "\n\n".join(parts), len(files)


def summary_line(lang: str, ticket: Ticket) -> str:
    """A ticket in one line of the queue: number, priority, state, who has it, the next SLA due time."""
    due = ticket.first_response_due if ticket.first_response_at is None else ticket.resolution_due
    return t(
        lang,
        "agents.view.queue_line",
        icon=cards.STATE_ICONS.get(ticket.state, ""),
        number=ticket.number,
        priority=ticket.priority,
        state=t(lang, f"agents.state.{ticket.state}"),
        assignee=ticket.assignee_name or t(lang, "agents.view.nobody"),
        due=when(due),
        summary=shorten(ticket.description, 80),
    )


async def queue(session: AsyncSession, lang: str, scope: QueueScope | None = None) -> tuple[str, outbox.Buttons]:
    """Open tickets by priority, then SLA due time; a Details button for each shown. `scope`: some teams'
    tickets only (named in the title), else every open ticket."""
    if scope is None:
        open_ = list(await repos.open_tickets(session))
    else:
        open_ = list(await repos.open_tickets(session, teams=scope.teams, known_teams=scope.known))
    title = [t(lang, "teams.queue.scope", teams=scope.label(lang))] if scope is not None else []
    if not open_:
        return "\n\n".join([*title, t(lang, "agents.view.queue_empty")]), []
    shown = open_[:QUEUE_LIMIT]
    lines = [*title, t(lang, "agents.view.queue_title", count=len(open_))]
    lines.extend(summary_line(lang, ticket) for ticket in shown)
    if len(open_) > len(shown):
        lines.append(t(lang, "agents.view.queue_more", count=len(open_) - len(shown)))
    buttons: outbox.Buttons = []
    row: list[tuple[str, str]] = []
    for ticket in shown:
        row.append(
            (
                f"{cards.STATE_ICONS.get(ticket.state, '')} {ticket.number} · {ticket.priority}",
                callbacks.make(callbacks.AGENT, "det", ticket.id),
            )
        )
        if len(row) == 2:
            buttons.append(row)
            row = []
    if row:
        buttons.append(row)
    return "\n\n".join(lines), buttons
