"""`python -m bot console`: the same intake in a terminal, registering a real ticket, no Telegram needed.

Choices are numbered; type the number (or the text where free text is accepted). `/cancel`, `/back`
and `/quit` work at every step; a path to an existing file attaches it at the attachments step.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from bot.config import Settings
from dialogs.intake import Action, InputKind, UserInput
from dialogs.intake_service import IntakeService, Reply
from helpdesk.i18n import pick_language, t, to_plain
from helpdesk.people import Person, ensure_customer
from storage import migrate
from storage.db import Database


def _render(reply: Reply, out: TextIO) -> list[str]:
    """Print a reply; returns the values of its numbered choices."""
    print(to_plain(reply.text), file=out)
    values: list[str] = []
    if reply.prompt is not None:
        for row in reply.prompt.choices:
            for choice in row:
                values.append(choice.value)
                print(f"  [{len(values)}] {to_plain(choice.label)}", file=out)
        if reply.prompt.share_phone_label:
            print("  (type a phone number or contact, or 'skip')", file=out)
    print(file=out)
    return values


def _to_input(line: str, values: list[str], token: str | None) -> UserInput:
    text = line.strip()
    if text.isdigit() and values and 1 <= int(text) <= len(values) and token:
        return UserInput.of_choice(values[int(text) - 1], token)
    if text.lower() in ("/back", "back") and token:
        return UserInput.of_choice(Action.BACK, token)
    if text.lower() in ("skip", "/skip") and token:
        return UserInput.of_choice(Action.SKIP, token)
    path = Path(text).expanduser()
    if text and len(text) < 4096 and path.is_file():
        return UserInput(
            InputKind.FILE,
            file={
                "kind": "document",
                "file_id": f"console:{path.resolve()}",
                "file_name": path.name,
                "file_size": path.stat().st_size,
            },
        )
    return UserInput.of_text(line.rstrip("\n"))


async def run_console(
    settings: Settings,
    *,
    lang: str | None = None,
    user_id: int = 1,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    from helpdesk.triage import get_triage

    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    language = pick_language(lang, default=settings.default_language)
    policy = settings.policy()
    db = Database(settings.database_url)
    await migrate.upgrade(db)
    triage = get_triage()
    person = Person(user_id=user_id, chat_id=user_id, first_name="Console", language_code=language)
    print(t(language, "start.welcome", name="Console").replace("<b>", "").replace("</b>", ""), file=out)
    print("(/quit to leave)\n", file=out)
    values: list[str] = []
    token: str | None = None
    try:
        async with db.session() as session:
            customer = await ensure_customer(session, person)
            customer.language = language
            result = await IntakeService(session, customer, language, triage, policy).start()
        for reply in result.replies:
            values = _render(reply, out)
            token = reply.prompt.token if reply.prompt else token
        for line in stdin:
            if line.strip() in ("/quit", "/exit"):
                break
            async with db.session() as session:
                customer = await ensure_customer(session, person)
                service = IntakeService(session, customer, language, triage, policy)
                if line.strip() == "/cancel":
                    result = await service.cancel()
                elif line.strip() == "/new" or not await service.has_draft():
                    result = await service.start(None if line.strip() == "/new" else line.strip() or None)
                else:
                    result = await service.handle(_to_input(line, values, token)) or await service.start()
            values = []
            for reply in result.replies:
                values = _render(reply, out)
                token = reply.prompt.token if reply.prompt else None
            if result.ticket is not None:
                print(f"ticket {result.ticket.number} registered in {db.url.split('@')[-1]}\n", file=out)
    finally:
        await db.dispose()
    return 0
