"""The desk's rules that operators tune: who the agents are, SLA targets, follow-up timings.

Built by the bot's configuration from settings and handed to every domain operation, so the domain
never reads the environment itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from helpdesk.sla import SlaPolicy
from helpdesk.worktime import WorkCalendar


@dataclass(frozen=True)
class DeskPolicy:
    agent_ids: frozenset[int] = frozenset()
    staff_chat_id: int | None = None
    staff_topics: bool = False
    default_language: str = "en"
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    calendar: WorkCalendar = field(default_factory=WorkCalendar.always)
    info_reminder_after: timedelta = timedelta(hours=24)
    info_second_reminder_after: timedelta = timedelta(hours=24)
    waiting_auto_close_after: timedelta = timedelta(days=3)
    resolved_auto_close_after: timedelta = timedelta(days=3)
    resolved_close_warning_before: timedelta = timedelta(days=1)
    progress_update_p1: timedelta = timedelta(hours=1)
    progress_update_p2: timedelta = timedelta(hours=4)
    survey_after: timedelta = timedelta(seconds=0)
    sla_warning_ratio: float = 0.8
    recently_closed: timedelta = timedelta(days=14)

    def is_agent(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.agent_ids

    def due(self, start: datetime, delta: timedelta) -> datetime:
        """`start` plus `delta` of working time (all time when no business hours are set)."""
        return self.calendar.add(start, delta)
