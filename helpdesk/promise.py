"""What the customer is promised about time: when the first response is due, and when a closed desk opens.

Both come from the working calendar the SLA clocks use (BUSINESS_HOURS in TIMEZONE). The first-response
promise is read from the due time registration stored on the ticket (`DeskPolicy.due`, the very value
the staff card shows), so the customer and the card never disagree: "within 4 h" while the calendar
does not stretch the target, the due time itself ("by Monday 10:00") when nights or a weekend do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from helpdesk.formatting import human_duration
from helpdesk.i18n import t
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Priority, TicketType
from storage.models import Customer, Ticket

#: a due time this much later than the plain target is a stretched one (the clock skipped closed hours)
STRETCH_TOLERANCE = timedelta(minutes=1)


def moment_text(lang: str, kind: str, moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    """`by Monday 10:00 (MSK)`, `today at 09:00 (UTC)`…: a moment near `now` on the desk's clock, as the
    texts `promise.<kind>.today|tomorrow|weekday|date` word it."""
    local = moment.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    values = {"time": f"{local:%H:%M}", "zone": local.tzname() or str(zone), "date": f"{local:%d.%m}"}
    if days <= 0:
        return t(lang, f"promise.{kind}.today", **values)
    if days == 1:
        return t(lang, f"promise.{kind}.tomorrow", **values)
    if days < 7:
        return t(lang, f"promise.{kind}.weekday", weekday=t(lang, f"promise.weekday.{local.weekday()}"), **values)
    return t(lang, f"promise.{kind}.date", **values)


def first_response(ticket: Ticket, policy: DeskPolicy, lang: str) -> str:
    """The first-response promise for a ticket just registered: `within 4 h`, or `by Monday 10:00 (UTC)`
    when working hours stretch the target."""
    target = policy.sla.target(TicketType(ticket.ticket_type), Priority(ticket.priority)).first_response
    due, created = ticket.first_response_due, ticket.created_at
    if due is None or due - created <= target + STRETCH_TOLERANCE:
        return t(lang, "promise.within", duration=human_duration(lang, target))
    return moment_text(lang, "by", due, created, policy.calendar.zone)


def closed_notice(customer: Customer, policy: DeskPolicy, lang: str, now: datetime) -> str | None:
    """The "desk is closed, it opens …" line for someone writing out of working hours, once per closed
    spell and day (remembered on the customer, in the caller's transaction); None otherwise."""
    calendar = policy.calendar
    if calendar.is_always or calendar.is_working(now):
        return None
    told, zone = customer.closed_notice_at, calendar.zone
    closed_since = calendar.last_closing(now)
    same_spell = told is not None and (closed_since is None or told >= closed_since)
    if same_spell and told is not None and told.astimezone(zone).date() == now.astimezone(zone).date():
        return None
    opens = calendar.next_opening(now)
    if opens is None:  # pragma: no cover - a calendar with working days always opens within a week
        return None
    customer.closed_notice_at = now
    return t(lang, "promise.closed", opens=moment_text(lang, "opens", opens, now, zone))
