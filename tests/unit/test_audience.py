"""Who may use a route (bot.handlers.audience): every audience against every kind of caller and chat.

The dispatch trusts nothing in an update but who sent it and where, so these checks are the whole of
authorization for commands and buttons; the handler tier (tests/handlers) checks the routes wired to them.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.handlers.audience import AGENT, CUSTOMER, STAFF_AGENT, Audience
from bot.handlers.context import HandlerContext
from bot.handlers.update import Update
from helpdesk.people import Person
from helpdesk.policy import DeskPolicy
from tests.unit.desk import AGENT_ID, POLICY, STAFF

CUSTOMER_ID, OTHER_GROUP = 501, -100777
AUDIENCES = (AGENT, STAFF_AGENT, CUSTOMER)


def context(sender: int | None, chat_id: int | None, chat_type: str | None, policy: DeskPolicy = POLICY) -> Any:
    person = None if sender is None else Person(user_id=sender, chat_id=chat_id or sender, first_name="Ann")
    update = Update(1, "message", chat_id or 0, chat_id, chat_type, person)
    return HandlerContext(session=None, policy=policy, triage=None, answers=None, update=update)  # type: ignore[arg-type]


#: caller, chat → the audiences that admit it (AGENT, STAFF_AGENT, CUSTOMER)
CASES = {
    "an agent in a private chat": ((AGENT_ID, AGENT_ID, "private"), {AGENT, CUSTOMER}),
    "an agent in the staff chat": ((AGENT_ID, STAFF, "supergroup"), {AGENT, STAFF_AGENT}),
    "an agent in another group": ((AGENT_ID, OTHER_GROUP, "supergroup"), set()),
    "a customer in a private chat": ((CUSTOMER_ID, CUSTOMER_ID, "private"), {CUSTOMER}),
    "a customer in the staff chat": ((CUSTOMER_ID, STAFF, "supergroup"), set()),
    "a stranger in another group": ((CUSTOMER_ID, OTHER_GROUP, "group"), set()),
    "an anonymous admin in the staff chat": ((None, STAFF, "supergroup"), set()),
    "a sender-less update in a private chat": ((None, CUSTOMER_ID, "private"), set()),
    "an agent's update without a chat": ((AGENT_ID, None, None), set()),
}


@pytest.mark.parametrize(("caller", "admitted"), CASES.values(), ids=CASES.keys())
def test_each_audience_admits_exactly_its_callers(
    caller: tuple[int | None, int | None, str | None], admitted: set[Audience]
) -> None:
    ctx = context(*caller)
    assert {audience for audience in AUDIENCES if audience.admits(ctx)} == admitted


def test_a_desk_without_a_staff_chat_has_no_staff_audience() -> None:
    """STAFF_CHAT_ID unset: an update without a chat is not taken for one from the staff chat."""
    no_staff = DeskPolicy(agent_ids=POLICY.agent_ids, staff_chat_id=None)
    for audience in AUDIENCES:
        assert not audience.admits(context(AGENT_ID, None, None, no_staff))
    assert AGENT.admits(context(AGENT_ID, AGENT_ID, "private", no_staff))


def test_an_audience_reads_as_its_name() -> None:
    """An audience prints as its name (in assertion messages and logs)."""
    assert [str(a) for a in AUDIENCES] == ["agent", "agent in the staff chat", "customer"]


@pytest.mark.parametrize(("caller", "admitted"), CASES.values(), ids=CASES.keys())
def test_an_agents_button_refuses_every_person_who_is_not_an_agent(
    caller: tuple[int | None, int | None, str | None], admitted: set[Audience]
) -> None:
    """Who is told "only support agents" on an agent's button: any person not in AGENT_IDS, wherever;
    nobody else (an agent in the wrong chat and a sender-less update get "out of date")."""
    assert AGENT.refusal is not None
    refused, key = AGENT.refusal
    sender = caller[0]
    assert refused(context(*caller)) == (sender is not None and sender != AGENT_ID)
    assert key == "agents.conv.agents_only" and CUSTOMER.refusal is None and STAFF_AGENT.refusal is None
