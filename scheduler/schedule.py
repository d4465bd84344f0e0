"""The schedule: which sweeps the bot runs and how often (registered at start by bot/app.py).

Each sweep reads due times from rows and acts on what is due: the follow-ups (scheduler/followup_sweeps.py)
every SWEEP_EVERY, housekeeping hourly, retention daily (when RETENTION_DAYS is set), the daily digest.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import col

from helpdesk import flood
from helpdesk.clock import now_utc
from helpdesk.digest import parse_clock
from helpdesk.policy import DeskPolicy
from scheduler.digest_job import DailyDigest
from scheduler.followup_sweeps import FollowupSweeps
from scheduler.periodic import Jobs
from scheduler.retention import retention_sweep
from storage import outbox_files
from storage.db import Database
from storage.models import InboxUpdate, OutboxMessage

INBOX_KEEP = timedelta(days=2)  # Telegram redelivers for up to a day; keep ids to recognise repeats
OUTBOX_KEEP = timedelta(days=30)
#: a generated file outlives its upload only when the row was dropped; a week covers every retry
UPLOAD_KEEP = timedelta(days=7)


async def housekeeping(db: Database) -> None:
    """Forget finished inbox and outbox rows, and files no upload needs, after they can no longer matter."""
    now = now_utc()
    async with db.session() as session:
        await session.execute(
            delete(InboxUpdate).where(InboxUpdate.status == "done", col(InboxUpdate.done_at) < now - INBOX_KEEP)
        )
        await session.execute(
            delete(OutboxMessage).where(
                col(OutboxMessage.status).in_(("sent", "dropped")), col(OutboxMessage.created_at) < now - OUTBOX_KEEP
            )
        )
        await outbox_files.forget_older_than(session, now - UPLOAD_KEEP)


async def flood_digests(db: Database, policy: DeskPolicy) -> None:
    """Held messages whose flood minute has ended reach the staff as one digest per customer (helpdesk/flood.py)."""
    async with db.session() as session:
        await flood.post_due_digests(session, policy, now_utc())


def register_sweeps(jobs: Jobs, db: Database, policy: DeskPolicy, settings: Any) -> FollowupSweeps:
    """Reminders, auto-resolve/close, SLA watch, progress updates, surveys, flood control's digests and the
    daily digest (when DIGEST_AT is set) every SWEEP_EVERY."""
    followups = FollowupSweeps(db, policy)
    every = getattr(settings, "sweep_every", None) or timedelta(seconds=5)
    jobs.every("followups", every, followups.run)
    jobs.every("flood digests", every, lambda: flood_digests(db, policy))
    jobs.every("housekeeping", timedelta(hours=1), lambda: housekeeping(db))
    if getattr(settings, "retention_days", None):  # unset: personal data is kept forever
        jobs.every("retention", timedelta(days=1), lambda: retention_sweep(db, settings.retention_days))
    digest_at = parse_clock(getattr(settings, "digest_at", None))
    if digest_at is not None and policy.staff_chat_id is not None:  # DIGEST_AT unset: no digest
        jobs.every("digest", every, DailyDigest(db, policy, digest_at).run)
    return followups
