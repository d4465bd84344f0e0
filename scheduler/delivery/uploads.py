"""Rows that upload a file the bot made: the bytes are read for the call and forgotten once the row is over.

`helpdesk.outbox.send_upload` stores the file (`storage.outbox_files`) in the handler's transaction and
names it in the row's payload; the attempt puts the bytes in as a `FileUpload` parameter, which the
transport sends as multipart/form-data. A retry uploads them again; a row sent, refused or given up
deletes them.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from scheduler.delivery.transport import FileUpload
from storage import outbox_files
from storage.models import OutboxMessage


def _named(row: OutboxMessage) -> dict[str, Any] | None:
    upload = row.payload.get(outbox_files.UPLOAD_KEY) if isinstance(row.payload, dict) else None
    return upload if isinstance(upload, dict) else None


async def attach(session: AsyncSession, row: OutboxMessage, payload: dict[str, Any]) -> bool:
    """Put the row's file into the call's parameters; False when the file is gone (nothing to send)."""
    upload = _named(row)
    if upload is None:
        return True
    file = await outbox_files.read(session, int(upload["file"]))
    if file is None:
        return False
    payload[str(upload["field"])] = FileUpload(file.filename, file.data, file.mime_type)
    return True


async def forget(session: AsyncSession, row: OutboxMessage) -> None:
    """The row is over: its file will not be asked for again."""
    upload = _named(row)
    if upload is not None:
        await outbox_files.forget(session, int(upload["file"]))
