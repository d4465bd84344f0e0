"""The daily digest's sweep: sends it to the staff chat once per day, whatever runs how often where.

The row `report_schedules.daily_digest` says which local day was reported last and when the next
digest is due. A run locks that row, and only when a day newer than the recorded one is due composes
the digest, queues it in the outbox (in the same transaction, with a dedupe key per day) and records
the day. Several processes, restarts and a changed DIGEST_AT therefore never repeat a day.
"""

from __future__ import annotations

import logging
from datetime import datetime, time

from helpdesk import digest, outbox
from helpdesk.clock import now_utc
from helpdesk.policy import DeskPolicy
from storage import reports
from storage.db import Database

log = logging.getLogger("bot.digest")
NAME = "daily_digest"


class DailyDigest:
    def __init__(self, db: Database, policy: DeskPolicy, at: time, zone: str | None = None) -> None:
        self.db = db
        self.policy = policy
        self.at = at
        self.zone = zone or policy.calendar.tz
        self._next: datetime | None = None  # nothing can be due before this: no need to ask the database

    async def run(self, now: datetime | None = None) -> str | None:
        """Send the digest if one is due; returns the day it covered (ISO), or None."""
        now = now or now_utc()
        if self.policy.staff_chat_id is None or (self._next is not None and now < self._next):
            return None
        _due, day = digest.latest_due(now, self.at, self.zone)
        sent = None
        async with self.db.session() as session:
            row = await reports.locked_schedule(session, NAME)
            if row.covered_day is None or row.covered_day < day.isoformat():
                lang = self.policy.default_language
                text = await digest.digest_text(session, day, self.zone, lang, now)
                outbox.send_text(session, self.policy.staff_chat_id, text, dedupe_key=f"digest:{day.isoformat()}")
                row.covered_day, row.sent_at, sent = day.isoformat(), now, day.isoformat()
            row.spec = f"{self.at:%H:%M} {self.zone}"
            row.next_due_at = digest.next_due(now, self.at, self.zone)
            session.add(row)
        self._next = row.next_due_at
        if sent:
            log.info("daily digest for %s queued for the staff chat", sent)
        return sent
