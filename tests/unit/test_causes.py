"""Closing causes: written by code word or by name in either language, or chosen by button when missing."""

from __future__ import annotations

import pytest

from helpdesk import agent_actions, causes
from helpdesk.agent_actions import CauseNeeded, Refusal
from helpdesk.vocabulary import Category, Cause
from storage import repos
from storage.db import Database
from tests.unit.desk import AGENT, act, customer, fresh, ticket_for


@pytest.mark.parametrize(
    ("report", "cause", "actions"),
    [
        ("supplier The provider replaced a line card", Cause.SUPPLIER, "The provider replaced a line card"),
        ("Supplier failure: the provider replaced a line card", Cause.SUPPLIER, "the provider replaced a line card"),
        ("сбой поставщика — провайдер заменил плату", Cause.SUPPLIER, "провайдер заменил плату"),
        ("ТЕХНИЧЕСКИЙ СБОЙ заменили блок питания", Cause.TECHNICAL, "заменили блок питания"),
        ("configuration, restored the old DHCP scope", Cause.CONFIGURATION, "restored the old DHCP scope"),
        ("cyberattack or data leak blocked the sender", Cause.CYBERATTACK, "blocked the sender"),
        ("other", Cause.OTHER, ""),
        ("power-supply swapped", None, "power-supply swapped"),  # a word that merely starts like a cause
        ("technically the cable was loose", None, "technically the cable was loose"),
        ("The cable was loose; reseated it", None, "The cable was loose; reseated it"),
    ],
)
def test_a_cause_is_read_from_the_start_of_the_report(report: str, cause: Cause | None, actions: str) -> None:
    assert causes.split_cause(report) == (cause, actions)


def test_the_list_names_every_cause_in_both_languages() -> None:
    for lang in ("en", "ru"):
        listing = causes.listing(lang)
        assert all(f"<code>{cause.value}</code>" in listing for cause in Cause)
    assert "сбой поставщика" in causes.listing("ru") and "supplier failure" in causes.listing("en")
    assert causes.parse_cause("Сбой поставщика") == Cause.SUPPLIER and causes.parse_cause("supplier x") is None


async def test_an_incident_without_a_cause_lists_the_causes_then_a_button_resolves_with_the_report(
    db: Database,
) -> None:
    ann = await customer(db)
    ticket = await ticket_for(db, ann, Category.NETWORK, "internet is down")
    with pytest.raises(CauseNeeded) as caught:
        await act(db, ticket, agent_actions.resolve, AGENT, "The cable was loose; reseated it")
    needed = caught.value
    assert "“The” is not one" in needed.text("en") and "сбой поставщика" in needed.text("ru")
    assert (await fresh(db, ticket)).state == "new"  # nothing changed

    async with db.session() as session:
        draft_id = await agent_actions.keep_report(
            session, await repos.lock_ticket(session, ticket.id), AGENT, needed.report
        )
    buttons = causes.buttons(ticket.id, draft_id, "en")
    assert [label for row in buttons for label, _ in row][-1] == "other"
    notice, done = await act(db, ticket, agent_actions.resolve_kept, AGENT, draft_id, Cause.TECHNICAL)
    assert notice.key == "agents.done.resolved"
    assert done.cause == "technical" and done.resolution_report == "The cable was loose; reseated it"
    with pytest.raises(Refusal) as again:  # the same button later: already resolved
        await act(db, ticket, agent_actions.resolve_kept, AGENT, draft_id, Cause.TECHNICAL)
    assert again.value.key == "agents.transition.same"


async def test_a_cause_alone_is_no_report_and_a_request_needs_no_cause(db: Database) -> None:
    ann = await customer(db)
    incident = await ticket_for(db, ann, Category.NETWORK, "internet is down")
    with pytest.raises(Refusal) as caught:
        await act(db, incident, agent_actions.resolve, AGENT, "supplier ok")
    assert caught.value.key == "agents.error.report_needed"
    request = await ticket_for(db, ann, Category.ACCESS, "access to the finance folder please")
    notice, done = await act(db, request, agent_actions.resolve, AGENT, "Access granted to the folder.")
    assert notice.key == "agents.done.resolved" and done.cause is None
