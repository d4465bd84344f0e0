"""What one customer may ask of the desk, in-process on SQLite and PostgreSQL: the open-ticket cap
(MAX_OPEN_TICKETS_PER_CUSTOMER) and flood control (FLOOD_MESSAGES_PER_MINUTE). Agents are never limited."""

from __future__ import annotations

from typing import Any

import pytest

from tests.handlers.harness import Desk, Person
from tests.handlers.test_customers import NUMBER, register


@pytest.fixture(params=["sqlite", "postgresql"])
def any_desk(request: pytest.FixtureRequest, runtime: str) -> Desk:
    """The desk on SQLite or on PostgreSQL (where several processes share the counts)."""
    return request.getfixturevalue("desk" if request.param == "sqlite" else "pg_desk")


def limited(desk: Desk, **limits: Any) -> Desk:
    """The desk restarted with other limits (as an operator would, in .env)."""
    desk.policy = desk.policy.model_copy(update=limits)
    desk.restart()
    return desk


async def another(person: Person, description: str) -> str:
    """A further request (a free message would ask which open ticket it is about): /new, then the walk."""
    await person.send("/new")
    return await register(person, description)


async def to_summary(person: Person, description: str) -> None:
    """Start a request and answer each question with the first offer, up to the summary's Confirm."""
    await person.send(description)
    for _ in range(12):
        question = person.last
        if "✅ Confirm" in question.buttons:
            return
        if "Skip" in question.buttons:
            await person.press(question, "Skip")
        elif question.reply_markup and "keyboard" in question.reply_markup:
            await person.send("Skip")
        else:
            await person.press(question, question.buttons[0])
    raise AssertionError(f"the intake did not reach its summary: {person.last.text[:200]}")


# -- open tickets ------------------------------------------------------------------------------------------


async def test_the_open_ticket_cap_refuses_before_the_form_and_names_the_open_tickets(any_desk: Desk) -> None:
    desk = limited(any_desk, max_open_tickets_per_customer=2)
    ann = desk.person(501, "Ann")
    first = await register(ann, "The printer on floor 2 jams on every page")
    second = await another(ann, "Please give me access to the sales folder")
    await ann.send("/new")
    by_command = ann.last.text
    await ann.send("The monitor flickers all the time")  # which ticket is it about? …or a new request
    await ann.press(ann.last, ann.last.buttons[-1])
    for refusal in (by_command, ann.last.text):
        assert "limit of open requests (2)" in refusal and first in refusal and second in refusal
        assert "What happened" not in refusal and "Which service" not in refusal  # no form started
    await ann.send("/cancel")
    assert "nothing to cancel" in ann.last.text  # and no draft was left behind

    olga = desk.person(601, "Ольга", lang="ru")
    mine = [await another(olga, f"Не работает принтер номер {n} в бухгалтерии") for n in (1, 2)]
    await olga.send("/new")
    assert "это предел" in olga.last.text and all(number in olga.last.text for number in mine)

    agent = desk.agent()  # agents file requests for others: never limited
    numbers = [await another(agent, f"The projector in meeting room {n} shows no picture") for n in (1, 2, 3)]
    assert len(set(numbers)) == 3


async def test_a_ticket_reopened_meanwhile_is_refused_at_confirm_and_the_draft_is_kept(any_desk: Desk) -> None:
    desk = limited(any_desk, max_open_tickets_per_customer=1)
    ann, agent = desk.person(501, "Ann"), desk.agent()
    first = await register(ann, "Please give me access to the sales folder")
    await agent.send(f"/resolve {first} Access granted to the sales folder.")
    resolution = ann.chat.find("is resolved")
    await to_summary(ann, "The scanner in the office does not turn on at all")  # nothing open: the form starts
    summary = ann.last
    await ann.press(resolution, "👎 Still a problem")  # the first one is open again
    await ann.press(summary, "✅ Confirm")
    refused = ann.last
    assert "limit of open requests (1)" in refused.text and first in refused.text and "kept" in refused.text
    assert "✅ Confirm" in refused.buttons and not NUMBER.search(refused.text.replace(first, ""))

    await agent.send(f"/resolve {first} Access granted again, checked with the customer.")
    await ann.press(refused, "✅ Confirm")
    assert "Registered" in ann.last.text and "scanner" in desk.card(NUMBER.search(ann.last.text).group(0)).text
