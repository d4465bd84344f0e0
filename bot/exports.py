"""Data commands: agents' triage corrections as labelled JSONL (`export-labels`), everything stored
about one customer as JSON (`export-customer`), and erasing one customer on request (`erase-customer`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from bot.config import Settings
from bot.database import database
from bot.operator_errors import ConfigError, OperatorError
from storage import repos


@contextmanager
def _output(output: str | Path | None) -> Iterator[TextIO]:
    """A file to write, or standard output for `-` (or nothing)."""
    if output is None or str(output) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    with handle:
        yield handle


async def export_labels(settings: Settings, output: str | Path | None = "-") -> int:
    """Write the agents' corrections as JSONL {"text", "type", "category", "priority"}; returns exit code 0.

    The format is the labelled sample's, so `python -m bot eval` and training read it unchanged. When a
    ticket was corrected several times, only its latest labels are written.
    """
    async with database(settings) as db, db.read() as session:
        examples = list(await repos.labelled_examples(session))
    latest: dict[Any, Any] = {}
    for example in examples:  # oldest first: later corrections of a ticket replace earlier ones
        key = example.ticket_id if example.ticket_id is not None else ("row", example.id)
        latest.pop(key, None)
        latest[key] = example
    with _output(output) as out:
        for example in latest.values():
            record: dict[str, Any] = {"text": example.text, "type": example.ticket_type, "category": example.category}
            if example.priority:
                record["priority"] = example.priority
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    if output not in (None, "-"):
        print(f"{len(latest)} labelled examples written to {output}", file=sys.stderr)
    return 0


async def export_customer(settings: Settings, telegram_id: int, output: str | Path | None = "-") -> int:
    """Everything stored about one customer as one JSON document (see `helpdesk.privacy.export_customer`):
    their row, tickets with events, attachments and message links, the intake draft, the messages queued
    for them and the updates they sent that are still kept.

    Exit code 0, or 1 when no customer has that Telegram id.
    """
    from helpdesk import privacy

    async with database(settings) as db, db.read() as session:
        document = await privacy.export_customer(session, telegram_id)
    if document is None:
        raise OperatorError(f"no customer with Telegram id {telegram_id}", code=1)
    with _output(output) as out:
        out.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    if output not in (None, "-"):
        print(f"customer {telegram_id}: {len(document['tickets'])} tickets written to {output}", file=sys.stderr)
    return 0


async def erase_customer(settings: Settings, telegram_id: int, *, apply: bool) -> int:
    """Erase one customer's personal data on request (see `helpdesk.privacy.erase_customer`); without
    `apply` only says what would go. Exit code 0, or 1 (unknown id, or tickets still open)."""
    from helpdesk import privacy

    async with database(settings) as db, db.session() as session:
        done = await privacy.erase_customer(session, telegram_id, apply=apply)
    if not done.found:
        raise OperatorError(f"no customer with Telegram id {telegram_id}", code=1)
    if done.open_tickets:
        numbers = ", ".join(done.open_tickets)
        raise OperatorError(f"customer {telegram_id} has open tickets ({numbers}); close or cancel them first", code=1)
    e = done.erasure
    if not apply:
        print(
            f"customer {telegram_id}: {e.tickets} tickets with personal data would be erased, with the name, "
            "username, phone, draft, kept updates and messages; run again with --yes to erase"
        )
        return 0
    print(
        f"customer {telegram_id} erased: {e.tickets} tickets, {e.labels} labelled examples, {e.drafts} drafts, "
        f"{e.inbox} updates, {e.outbox} messages; the Telegram id and the tickets' statistics are kept"
    )
    return 0
