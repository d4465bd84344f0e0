"""Files the bot generated for an outbox row to upload (the /stats chart, an /export CSV).

The bytes are written in the handler's transaction, next to the outbox row whose payload names them
(`_upload`), so a crash keeps both or neither; delivery reads them for the multipart upload and deletes
them once the row is sent or given up; housekeeping removes any a dropped row left behind.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import OutboxFile
from storage.types import utcnow

_FILES = OutboxFile.__table__  # type: ignore[attr-defined]
#: the outbox payload key naming the file: {"file": its id here, "field": "photo" | "document"}
UPLOAD_KEY = "_upload"


async def add(session: AsyncSession, data: bytes, filename: str, mime_type: str) -> int:
    """Store a file for an upload; returns its id (for the outbox row's payload)."""
    stmt = insert(_FILES).values(created_at=utcnow(), filename=filename, mime_type=mime_type, data=data)
    return int((await session.execute(stmt.returning(_FILES.c.id))).scalar_one())


async def read(session: AsyncSession, file_id: int) -> OutboxFile | None:
    return await session.get(OutboxFile, file_id)


async def forget(session: AsyncSession, file_id: int) -> None:
    """The upload is over (sent, or given up): the bytes are not needed any more."""
    await session.execute(delete(OutboxFile).where(col(OutboxFile.id) == file_id))


async def forget_older_than(session: AsyncSession, moment: datetime) -> None:
    """Files of rows that ended without their upload (dropped): nothing will ask for them again."""
    await session.execute(delete(OutboxFile).where(col(OutboxFile.created_at) < moment))
