"""A customer describing an outage staff know of hears so before any form question (the intake's offer
step with dialogs/known_outage_offer.py, on a real database): "Yes, keep me informed" links them (a major incident)
or makes them a follower (a declared outage), and they hear the next update; "No, it's something else"
goes on with the form."""

from __future__ import annotations

import pytest
from sqlmodel import col

from dialogs import offers
from dialogs.intake import Action, UserInput
from dialogs.intake_service import IntakeService, Result
from dialogs.known_outage_offer import KEEP_INFORMED, SOMETHING_ELSE, KnownOutageOffers
from helpdesk import agent_actions
from helpdesk.agent_actions import Refusal
from helpdesk.content import Content
from helpdesk.major_incidents import declared
from helpdesk.people import Person, ensure_customer
from storage import repos
from storage.db import Database
from storage.models import Ticket
from tests.unit.desk import AGENT, POLICY, STAFF, act, rows_of, text_of
from tests.unit.fakes import KeywordTriage
from tests.unit.test_major_links import outage


async def intake(
    db: Database, user_id: int, lang: str, text: str | None = None, press: str | None = None, token: str = ""
) -> Result:
    async with db.session() as session:
        customer = await ensure_customer(
            session, Person(user_id=user_id, chat_id=user_id, first_name="Dan", language_code=lang)
        )
        await session.flush()
        triage = KeywordTriage()
        service = IntakeService(session, customer, lang, triage, POLICY, offers=[KnownOutageOffers(triage, POLICY)])
        if text is not None:
            return await service.start(description=text)
        return await service.handle(UserInput.of_choice(press or "", token))


def asked(result: Result) -> tuple[str, str, list[str]]:
    prompt = result.replies[-1].prompt
    return prompt.step, prompt.token, [c.label for row in prompt.choices for c in row]


async def tickets_of(db: Database, user_id: int) -> list[Ticket]:
    async with db.read() as session:
        who = await repos.customer_by_telegram_id(session, user_id)
        return list(await repos.tickets_of_customer(session, who.id)) if who else []


async def test_a_known_major_incident_is_offered_first_and_following_it_brings_its_next_update(db: Database) -> None:
    parent, _second, _third = await outage(db)
    started = await intake(db, 504, "ru", "инет лёг у всех, ничего не грузится")
    step, token, labels = asked(started)
    assert step == "offer"  # before any form question
    offer = started.replies[-1].text
    assert parent.number in offer and "Об этой проблеме уже известно" in offer and "В работе" in offer
    assert labels[:2] == ["✅ Да, держите меня в курсе", "➡️ Нет, у меня другое"]

    done = await intake(db, 504, "ru", press=KEEP_INFORMED, token=token)
    assert done.finished and parent.number in done.replies[0].text
    (child,) = await tickets_of(db, 504)
    assert child.parent_id == parent.id and child.state == "in_progress" and child.staff_chat_id is None
    assert child.number in done.replies[0].text
    assert not [r for r in await rows_of(db, child) if r.chat_id == STAFF]  # no card of its own

    await act(db, parent, agent_actions.reply, AGENT, Content(text="Провайдер чинит линию, ETA 15:00"))
    got = [text_of(r) for r in await rows_of(db, chat_id=504) if "ETA 15:00" in text_of(r)]
    assert len(got) == 1 and child.number in got[0] and parent.number in got[0]


async def test_no_its_something_else_goes_on_with_the_form_and_is_respected(db: Database) -> None:
    parent, _second, _third = await outage(db)
    started = await intake(db, 505, "en", "internet is down for everyone on our floor")
    step, token, _labels = asked(started)
    assert step == "offer"
    result = await intake(db, 505, "en", press=SOMETHING_ELSE, token=token)
    assert asked(result)[0] == "service"
    async with db.read() as session:
        draft = await repos.draft_of(session, (await repos.customer_by_telegram_id(session, 505)).id)
    assert draft.answers["description"] == "internet is down for everyone on our floor"
    assert [d["ref"] for d in offers.declined_states(draft.answers, "known_outage")] == [f"major:{parent.id}"]
    for value in ("internet", "team", "blocked", Action.SKIP, Action.SKIP, Action.CONFIRM):
        result = await intake(db, 505, "en", press=value, token=result.replies[-1].prompt.token)
    assert result.finished and result.ticket is not None
    (own,) = await tickets_of(db, 505)
    assert own.parent_id is None  # the customer said it is something else: not linked to that outage


async def test_nothing_is_offered_for_an_unrelated_first_message(db: Database) -> None:
    await outage(db)
    started = await intake(db, 506, "en", "The printer on floor 2 is jammed")
    assert asked(started)[0] == "service"


async def test_a_declared_outage_is_offered_and_its_followers_hear_updates_and_its_end(db: Database) -> None:
    with pytest.raises(Refusal) as caught:
        await declare(db, "teleporter", "broken")
    assert caught.value.key == "major.outage.unknown_service"
    notice = await declare(db, "1C", "Сервер 1С недоступен, чиним")
    assert notice.key == "major.outage.declared"
    assert any("Outage declared" in text_of(r) for r in await rows_of(db, chat_id=STAFF))

    personal = await intake(db, 507, "ru", "забыл пароль от 1С")
    assert asked(personal)[0] != "offer"  # one person's own problem is not the outage
    started = await intake(db, 508, "ru", "1С не работает ни у кого в бухгалтерии")
    step, token, _labels = asked(started)
    assert step == "offer" and "1C" in started.replies[-1].text and "чиним" in started.replies[-1].text
    done = await intake(db, 508, "ru", press=KEEP_INFORMED, token=token)
    assert done.finished and await tickets_of(db, 508) == []  # nothing to work: they follow the outage

    updated = await declare(db, "1с", "Подняли резервный сервер, проверяем")
    assert updated.key == "major.outage.updated" and updated.values["count"] == 1
    async with db.session() as session:
        ended = await declared.end(session, "1C", AGENT, POLICY)
    assert ended.key == "major.outage.ended"
    told = [text_of(r) for r in await rows_of(db, chat_id=508)]
    assert sum("Подняли резервный сервер" in x for x in told) == 1 and sum("устранён" in x for x in told) == 1
    async with db.session() as session:
        with pytest.raises(Refusal) as caught:
            await declared.end(session, "1C", AGENT, POLICY)
    assert caught.value.key == "major.outage.none"
    assert asked(await intake(db, 509, "ru", "1С не работает ни у кого"))[0] != "offer"  # over: nothing offered


async def declare(db: Database, service: str, text: str):
    async with db.session() as session:
        return await declared.declare(session, service, text, AGENT, POLICY)


async def test_the_known_outages_check_sees_what_the_transaction_has_not_flushed_yet(db: Database) -> None:
    """One query says whether anything is known (every first description asks); a declared outage or a
    major incident added earlier in the same transaction, still unflushed, counts."""
    from datetime import UTC, datetime

    from helpdesk.major_incidents.known_outages import known_outages
    from storage.models import DeclaredOutage

    async with db.session() as session:
        assert await known_outages(session) == []
        now = datetime.now(UTC)
        session.add(
            DeclaredOutage(
                service="internet",
                service_word="internet",
                text="The internet is down",
                declared_at=now,
                updated_at=now,
            )
        )
        found = await known_outages(session)
    assert [k.declared.text for k in found if k.declared is not None] == ["The internet is down"]


async def test_a_transaction_asks_once_while_nothing_is_known_and_again_after_writing_one(db: Database) -> None:
    """A batch's first descriptions each ask whether an outage is known: with none, one query answers the
    whole transaction, until it writes a ticket or an outage (flushed by any other query, or an UPDATE
    statement past the unit of work): then the next question reads again and sees it."""
    from datetime import UTC, datetime

    from sqlalchemy import update
    from sqlmodel import select

    from helpdesk.major_incidents.known_outages import known_outages
    from storage.major_incidents import any_known_outage
    from storage.models import Customer, DeclaredOutage
    from tests.unit.desk import customer, ticket_for
    from tests.unit.test_tickets import statements

    ticket = await ticket_for(db, await customer(db, 7301))
    async with db.session() as session:
        with statements(db) as asked:
            assert [await known_outages(session) for _ in range(5)] == [[]] * 5
        assert len(asked) == 1, asked
        await session.execute(update(Ticket).where(col(Ticket.id) == ticket.id).values(is_major=True))
        assert await any_known_outage(session)
        await session.rollback()
    async with db.session() as session:
        assert not await any_known_outage(session)
        now = datetime.now(UTC)
        session.add(
            DeclaredOutage(service="internet", service_word="internet", text="Down", declared_at=now, updated_at=now)
        )
        await session.execute(select(col(Customer.id)).limit(1))  # autoflushes the outage
        assert not session.sync_session.new
        assert await any_known_outage(session)
