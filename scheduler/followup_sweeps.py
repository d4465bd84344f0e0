"""The follow-up sweeps: reminders, auto-resolve and auto-close, SLA watch, progress updates, surveys.

Every sweep reads due times from the tickets (set by `helpdesk.due_times`) and acts on what is due.
Each ticket is handled in its own transaction that

1. claims it: `SELECT … WHERE id = :id AND <still due> FOR UPDATE SKIP LOCKED` (on PostgreSQL a second
   process skips it; on SQLite `BEGIN IMMEDIATE` makes writers take turns, and the re-checked condition
   sees the first one's work),
2. writes the messages (outbox rows), events and card edits, and
3. advances or clears the due time,

all committed together. So a restart neither skips nor repeats a follow-up, a follow-up that fell due
while the bot was down runs once at start, and two processes never both act on one ticket.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import cards, customer_notices, due_times, escalation, metrics, outbox
from helpdesk.clock import now_utc
from helpdesk.formatting import human_duration, when
from helpdesk.i18n import Safe, escape, t
from helpdesk.lifecycle import apply_transition
from helpdesk.policy import DeskPolicy
from helpdesk.tickets import record_event
from helpdesk.vocabulary import Priority, State, TicketType
from storage.db import Database
from storage.models import Ticket

log = logging.getLogger("bot.followups")

Act = Callable[[AsyncSession, Ticket, datetime], Awaitable[bool]]
#: each SLA clock and the column that stops it
CLOCKS: dict[str, Any] = {"first_response": Ticket.first_response_at, "resolution": Ticket.resolved_at}


def mention(ticket: Ticket) -> str:
    """The assignee as a Telegram mention (HTML), or '' when nobody is assigned."""
    if not ticket.assignee_id:
        return ""
    name = ticket.assignee_name or str(ticket.assignee_id)
    return Safe(f'<a href="tg://user?id={int(ticket.assignee_id)}">{escape(name)}</a>')


def _flag(key: str) -> ColumnElement[Any]:
    return col(Ticket.sla_flags)[key].as_string()


#: the pass's time in the sweeps' statements (built once, `FollowupSweeps.__init__`)
_NOW = bindparam("now")
#: the closing sweep's: a resolved ticket closing before this is warned (now + the warning's lead)
_WARN_FROM = bindparam("warn_from")


def sla_horizon(ticket_type: TicketType, priority: Priority, clock: str) -> str:
    """The bound parameter of one SLA cell's clock in the SLA watch's statement: where its warning starts
    on the wall clock this pass (`FollowupSweeps._sla_horizons`)."""
    return f"{clock}_horizon_{TicketType(ticket_type).value}_{Priority(priority).value}"


class FollowupSweeps:
    """All follow-up sweeps of one process; `run()` is what the scheduler calls every SWEEP_EVERY."""

    def __init__(self, db: Database, policy: DeskPolicy, *, batch: int = 100, max_batches: int = 20) -> None:
        self.db = db
        self.policy = policy
        self.batch = batch
        self.max_batches = max_batches
        self._failing: dict[tuple[str, int], tuple[int, float]] = {}  # (sweep, ticket) → (failures, retry at)
        #: each sweep's page and claim statements, built once here: building them anew every pass cost more
        #: than running them (the SLA watch's condition has a term per type, priority and clock); what
        #: changes from pass to pass (`now`, the SLA horizons…) is bound parameters
        self._statements: dict[str, tuple[Any, Any]] = {
            "waiting_timeouts": self._build(
                [
                    Ticket.state == State.WAITING_CUSTOMER.value,
                    col(Ticket.auto_close_due_at).is_not(None),
                    col(Ticket.auto_close_due_at) <= _NOW,
                ],
                col(Ticket.auto_close_due_at),
            ),
            "reminders": self._build(
                [
                    col(Ticket.reminder_due_at).is_not(None),
                    col(Ticket.reminder_due_at) <= _NOW,
                    Ticket.state == State.WAITING_CUSTOMER.value,
                ],
                col(Ticket.reminder_due_at),
            ),
            "closing": self._build(
                [
                    Ticket.state == State.RESOLVED.value,
                    col(Ticket.auto_close_due_at).is_not(None),
                    col(Ticket.auto_close_due_at) <= _WARN_FROM,
                    or_(col(Ticket.close_warning_sent).is_(False), col(Ticket.auto_close_due_at) <= _NOW),
                ],
                col(Ticket.auto_close_due_at),
            ),
            "sla": self._build(self._sla_where(), col(Ticket.id)),
            "progress": self._build(
                [col(Ticket.progress_due_at).is_not(None), col(Ticket.progress_due_at) <= _NOW],
                col(Ticket.progress_due_at),
            ),
            "surveys": self._build(
                [col(Ticket.survey_due_at).is_not(None), col(Ticket.survey_due_at) <= _NOW],
                col(Ticket.survey_due_at),
            ),
        }

    @property
    def lang(self) -> str:
        """The staff's language."""
        return self.policy.default_language

    async def run(self, now: datetime | None = None) -> dict[str, int]:
        """One pass of every sweep; returns how many tickets each acted on."""
        now = now or now_utc()
        done = {
            "waiting_timeouts": await self.waiting_timeouts(now),
            "reminders": await self.reminders(now),
            "closing": await self.closing(now),
            "sla": await self.sla_watch(now),
            "progress": await self.progress(now),
            "surveys": await self.surveys(now),
        }
        acted = {k: v for k, v in done.items() if v}
        if acted:
            log.info("follow-ups: %s", " ".join(f"{k}={v}" for k, v in acted.items()))
        return done

    # -- the claim loop ------------------------------------------------------------------------------

    def _build(self, condition: Sequence[Any], order: Any) -> tuple[Any, Any]:
        """A sweep's page of due ticket ids in `order` (those `seen` left out) and its claim of one."""
        page = (
            select(Ticket.id)
            .where(*condition, col(Ticket.id).not_in(bindparam("seen", expanding=True)))
            .order_by(order, col(Ticket.id))
            .limit(self.batch)
        )
        claim = select(Ticket).where(Ticket.id == bindparam("ticket_id"), *condition).with_for_update(skip_locked=True)
        return page, claim

    async def _each_due(self, name: str, act: Act, now: datetime, params: dict[str, Any] | None = None) -> int:
        page, claim = self._statements[name]
        params = {"now": now, **(params or {})}
        acted = 0
        # tickets looked at in this pass, and failing ones waiting for their retry, are not asked for again:
        # a page of tickets another process holds (or of poison) never hides the ones after it
        seen = {tid for (sweep, tid), (_, at) in self._failing.items() if sweep == name and at > time.monotonic()}
        for _ in range(self.max_batches):
            async with self.db.read() as session:
                ids = list((await session.exec(page, params={**params, "seen": sorted(seen)})).all())
            seen.update(ids)
            for ticket_id in ids:
                try:
                    async with self.db.session() as session:
                        ticket = (await session.exec(claim, params={**params, "ticket_id": ticket_id})).first()
                        if ticket is None:  # another process has it, or it is no longer due
                            continue
                        if await act(session, ticket, now):
                            acted += 1
                except Exception:
                    self._failed(name, ticket_id)
                else:
                    self._failing.pop((name, ticket_id), None)
            if len(ids) < self.batch:
                break
        return acted

    def _backing_off(self, name: str, ticket_id: int) -> bool:
        entry = self._failing.get((name, ticket_id))
        return entry is not None and entry[1] > time.monotonic()

    def _failed(self, name: str, ticket_id: int) -> None:
        failures = self._failing.get((name, ticket_id), (0, 0.0))[0] + 1
        delay = min(600.0, 5.0 * 2 ** (failures - 1))
        self._failing[(name, ticket_id)] = (failures, time.monotonic() + delay)
        log.exception(
            "follow-up %s of ticket %s failed (%s times); next try in %.0fs", name, ticket_id, failures, delay
        )

    # -- shared pieces -------------------------------------------------------------------------------

    def _who(self, ticket: Ticket) -> str:
        who = mention(ticket)
        return t(self.lang, "scheduler.sla.assignee", mention=who) if who else t(self.lang, "scheduler.sla.unassigned")

    # -- waiting on the customer ---------------------------------------------------------------------

    async def reminders(self, now: datetime) -> int:
        return await self._each_due("reminders", self._remind, now)

    async def _remind(self, session: AsyncSession, ticket: Ticket, now: datetime) -> bool:
        if ticket.auto_close_due_at is not None and ticket.auto_close_due_at <= now:
            ticket.reminder_due_at = None  # the auto-resolve is due: no reminder before it
            session.add(ticket)
            return False
        number = ticket.reminders_sent + 1
        left = (ticket.auto_close_due_at - now) if ticket.auto_close_due_at else timedelta(0)
        delivered = await customer_notices.reminder(session, ticket, number, left, self.policy)
        ticket.reminders_sent = number
        second = self.policy.info_second_reminder_after
        following = now + second if number == 1 and second > timedelta(0) else None
        if following is not None and ticket.auto_close_due_at is not None and following >= ticket.auto_close_due_at:
            following = None
        ticket.reminder_due_at = following
        session.add(ticket)
        record_event(
            session, ticket, "reminder", actor_kind="system", data={"n": number, "delivered": delivered}, at=now
        )
        return True

    async def waiting_timeouts(self, now: datetime) -> int:
        return await self._each_due("waiting_timeouts", self._auto_resolve, now)

    async def _auto_resolve(self, session: AsyncSession, ticket: Ticket, now: datetime) -> bool:
        after = self.policy.waiting_auto_close_after
        report = t(self.lang, "scheduler.waiting.report", after=human_duration(self.lang, after))
        await apply_transition(
            session, ticket, State.RESOLVED, self.policy, now, actor_kind="system", note=report, has_report=True
        )
        ticket.resolution_report = report
        session.add(ticket)
        await customer_notices.auto_resolved(session, ticket, self.policy)
        note = t(self.lang, "scheduler.waiting.card_note", after=human_duration(self.lang, after))
        await cards.refresh_card(session, ticket, self.policy, notes=[note])
        return True

    # -- resolved tickets: warning, then close ------------------------------------------------------

    async def closing(self, now: datetime) -> int:
        warn_from = now + self.policy.resolved_close_warning_before
        return await self._each_due("closing", self._close_or_warn, now, {"warn_from": warn_from})

    async def _close_or_warn(self, session: AsyncSession, ticket: Ticket, now: datetime) -> bool:
        after = self.policy.resolved_auto_close_after
        if ticket.auto_close_due_at is not None and ticket.auto_close_due_at <= now:
            note = t(self.lang, "scheduler.closing.report_note", after=human_duration(self.lang, after))
            await apply_transition(session, ticket, State.CLOSED, self.policy, now, actor_kind="system", note=note)
            await customer_notices.auto_closed(session, ticket, self.policy)
            card_note = t(self.lang, "scheduler.closing.card_note", after=human_duration(self.lang, after))
            await cards.refresh_card(session, ticket, self.policy, notes=[card_note])
            return True
        if ticket.close_warning_sent:
            return False
        ticket.close_warning_sent = True
        session.add(ticket)
        delivered = ticket.auto_close_due_at is not None and await customer_notices.close_warning(
            session, ticket, ticket.auto_close_due_at - now, self.policy
        )
        record_event(session, ticket, "close_warning", actor_kind="system", data={"delivered": delivered}, at=now)
        return True

    # -- SLA watch -----------------------------------------------------------------------------------

    def _sla_horizons(self, now: datetime) -> dict[str, datetime]:
        """This pass's wall-clock horizon of each (type, priority, clock) of `_sla_where`, by `sla_horizon` name."""
        share = 1.0 - self.policy.sla_warning_ratio
        add = self.policy.calendar.add
        return {
            sla_horizon(ticket_type, priority, clock): add(now, getattr(target, clock) * share)
            for (ticket_type, priority), target in self.policy.sla.targets.items()
            for clock in CLOCKS
        }

    def _sla_where(self) -> list[Any]:
        """Tickets with a clock past its warning point (or its due time) not yet announced.

        The warning point of a clock is when the working time left reaches (1 - ratio) of its target;
        `calendar.add(now, that)` turns it into a wall-clock horizon per (type, priority) (a bound
        parameter per cell and clock, named by `sla_horizon`; `_sla_horizons` gives their values), so the
        whole test is an indexed comparison in SQL, exact also with business hours.
        """
        cells = []
        for ticket_type, priority in self.policy.sla.targets:
            cell = and_(
                Ticket.ticket_type == TicketType(ticket_type).value, Ticket.priority == Priority(priority).value
            )
            for clock, done in CLOCKS.items():
                due = col(getattr(Ticket, f"{clock}_due"))
                cells.append(
                    and_(
                        cell,
                        col(done).is_(None),
                        due.is_not(None),
                        due <= bindparam(sla_horizon(ticket_type, priority, clock)),
                        _flag(f"{clock}_breach").is_(None),
                        or_(_flag(f"{clock}_warning").is_(None), due <= _NOW),
                    )
                )
        return [
            col(Ticket.state).in_(due_times.WORKING_STATES),
            col(Ticket.sla_paused_at).is_(None),
            or_(*cells),
        ]

    async def sla_watch(self, now: datetime) -> int:
        return await self._each_due("sla", self._sla, now, self._sla_horizons(now))

    async def _sla(self, session: AsyncSession, ticket: Ticket, now: datetime) -> bool:
        target = self.policy.sla.target(TicketType(ticket.ticket_type), Priority(ticket.priority))
        share = 1.0 - self.policy.sla_warning_ratio
        calendar = self.policy.calendar
        flags = dict(ticket.sla_flags or {})
        found: list[tuple[str, str, datetime, timedelta]] = []
        for clock, due, done, length in (
            ("first_response", ticket.first_response_due, ticket.first_response_at, target.first_response),
            ("resolution", ticket.resolution_due, ticket.resolved_at, target.resolution),
        ):
            if due is None or done is not None or f"{clock}_breach" in flags:
                continue
            if now >= due:
                flags[f"{clock}_breach"] = now.isoformat()
                flags.setdefault(f"{clock}_warning", now.isoformat())
                found.append((clock, "breach", due, length))
            elif f"{clock}_warning" not in flags and calendar.between(now, due) <= length * share:
                flags[f"{clock}_warning"] = now.isoformat()
                found.append((clock, "warning", due, length))
        if not found:
            return False
        ticket.sla_flags = flags
        session.add(ticket)
        lang = self.lang
        lines: list[str] = []
        for clock, kind, due, length in found:
            left = calendar.between(now, due)
            used = 100 if length <= timedelta(0) else round(100 * (1 - left / length))
            lines.append(
                t(
                    lang,
                    f"scheduler.sla.{clock}_{kind}",
                    number=ticket.number,
                    priority=t(lang, f"priority.{ticket.priority}"),
                    due=when(due),
                    left=human_duration(lang, left),
                    percent=used,
                    target=human_duration(lang, length),
                )
            )
            record_event(
                session,
                ticket,
                f"sla_{kind}",
                actor_kind="system",
                note=clock,
                data={"clock": clock, "due": due.isoformat(), "assignee_id": ticket.assignee_id},
                at=now,
            )
            if kind == "breach":
                metrics.sla_breached(session)  # helpdesk_sla_breaches_total, counted on commit
        staff = cards.staff_chat_of(ticket, self.policy)
        if staff is not None:
            text = "\n".join(lines) + "\n" + self._who(ticket)
            outbox.send_text(session, staff, text, ticket_id=ticket.id, reply_to_card=True)
        breaches = [(clock, due) for clock, kind, due, _length in found if kind == "breach"]
        if breaches:  # hierarchical escalation: the managers hear of every breach too
            await escalation.notify_managers(session, ticket, self.policy, self._breach_for_managers(ticket, breaches))
        await cards.refresh_card(session, ticket, self.policy)  # the card shows the SLA flags (cards.sla_notes)
        return True

    def _breach_for_managers(self, ticket: Ticket, breaches: list[tuple[str, datetime]]) -> Callable[[str], str]:
        def render(lang: str) -> str:
            clocks = [t(lang, f"teams.manager.breach_{clock}", due=when(due)) for clock, due in breaches]
            head = t(lang, "teams.manager.breach")
            return "\n".join([head, *clocks, escalation.summary(ticket, self.policy, lang)])

        return render

    # -- progress updates ----------------------------------------------------------------------------

    async def progress(self, now: datetime) -> int:
        return await self._each_due("progress", self._progress, now)

    async def _progress(self, session: AsyncSession, ticket: Ticket, now: datetime) -> bool:
        every = due_times.progress_interval(ticket, self.policy)
        if ticket.state not in due_times.WORKING_STATES or every is None:
            ticket.progress_due_at = None
            session.add(ticket)
            return False
        if ticket.progress_stage == 0:
            silence = now - (ticket.last_public_update_at or ticket.created_at)
            staff = cards.staff_chat_of(ticket, self.policy)
            if staff is not None:
                text = t(
                    self.lang,
                    "scheduler.progress.prompt",
                    number=ticket.number,
                    priority=t(self.lang, f"priority.{ticket.priority}"),
                    silence=human_duration(self.lang, silence),
                    who=Safe(self._who(ticket)),
                )
                outbox.send_text(session, staff, text, ticket_id=ticket.id, reply_to_card=True)
            ticket.progress_stage = 1
            ticket.progress_due_at = now + every
            session.add(ticket)
            record_event(session, ticket, "progress_prompt", actor_kind="system", at=now)
            return True
        if await customer_notices.work_continues(session, ticket, self.policy):
            due_times.on_public_update(ticket, self.policy, now)  # that is an update the customer saw
            record_event(session, ticket, "progress_notice", actor_kind="system", at=now)
        else:  # nobody to tell: keep prompting the staff
            ticket.progress_stage = 0
            ticket.progress_due_at = now + every
        session.add(ticket)
        return True

    # -- satisfaction --------------------------------------------------------------------------------

    async def surveys(self, now: datetime) -> int:
        return await self._each_due("surveys", self._survey, now)

    async def _survey(self, session: AsyncSession, ticket: Ticket, now: datetime) -> bool:
        ticket.survey_due_at = None
        session.add(ticket)
        if ticket.state != State.CLOSED.value or ticket.rating is not None:
            return False
        if not await customer_notices.satisfaction_survey(session, ticket, self.policy):
            return False
        record_event(session, ticket, "survey_sent", actor_kind="system", at=now)
        return True
