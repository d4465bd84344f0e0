"""What cannot be handled (helpdesk.failures): the staff are told, and the person is apologised to in one
language rule, their customer row read once."""

from __future__ import annotations

from typing import Any

import pytest

from helpdesk import failures
from helpdesk.people import Person, ensure_customer
from helpdesk.policy import DeskPolicy
from storage import repos
from storage.db import Database
from tests.unit.test_inbox import outbox_texts

STAFF = -100123
POLICY = DeskPolicy(agent_ids=frozenset({7001}), staff_chat_id=STAFF, default_language="en")
RU_APOLOGY = "Извините"
RU_PRESS = "Извините, сейчас не получилось обработать нажатие"


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads: list[int] = []
    real = repos.customer_by_telegram_id

    async def reading(session: Any, telegram_id: int) -> Any:
        reads.append(telegram_id)
        return await real(session, telegram_id)

    monkeypatch.setattr(repos, "customer_by_telegram_id", reading)
    return reads


async def park(db: Database, user_id: int, language_code: str | None, *, pressed: bool) -> str | None:
    async with db.session() as session:
        return await failures.update_parked(
            session,
            chat_id=user_id,
            user_id=user_id,
            who="X",
            error_id="e1",
            policy=POLICY,
            pressed=pressed,
            language_code=language_code,
        )


async def test_a_parked_press_reads_the_customer_once_and_speaks_their_chosen_language(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.session() as session:
        customer = await ensure_customer(session, Person(user_id=41, chat_id=41, first_name="Оля", language_code="en"))
        customer.language = "ru"  # their /lang choice wins over the Telegram language
        session.add(customer)
    reads = count_reads(monkeypatch)
    note = await park(db, 41, "en", pressed=True)
    assert reads == [41]  # the staff notice, the apology and the press's note: one read
    assert note is not None and note.startswith(RU_PRESS)
    (apology,) = await outbox_texts(db, 41)
    assert apology.startswith(RU_APOLOGY)
    assert await park(db, 41, "en", pressed=False) is None  # a message: no note for a button


async def test_a_newcomers_apology_is_in_their_telegram_language_as_their_press_note(db: Database) -> None:
    """No customer row yet (their first message failed with everything it wrote): the update's Telegram
    language, for the apology in the chat as for the note on a button (and without a database)."""
    note = await park(db, 42, "ru", pressed=True)
    assert note is not None and note.startswith(RU_PRESS)
    (apology,) = await outbox_texts(db, 42)
    assert apology.startswith(RU_APOLOGY)
    assert failures.press_apology(None, "ru-RU", POLICY) == note
    assert failures.press_apology(None, None, POLICY).startswith("Sorry")  # the desk's language
