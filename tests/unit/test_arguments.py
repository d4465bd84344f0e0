"""What agents type after a command, read into states, categories and priorities (bot.arguments)."""

from __future__ import annotations

from bot import arguments
from helpdesk.vocabulary import Category, Priority, State


def test_states_by_code_spelling_or_alias() -> None:
    assert arguments.parse_state("in-progress") == State.IN_PROGRESS
    assert arguments.parse_state("in progress") == State.IN_PROGRESS
    assert arguments.parse_state("waiting") == State.WAITING_CUSTOMER
    assert arguments.parse_state("Closed") == State.CLOSED
    assert arguments.parse_state("canceled") == State.CANCELLED
    assert arguments.parse_state("sleeping") is None


def test_categories_by_code_or_name_in_either_language() -> None:
    assert arguments.parse_category("ACCESS") == Category.ACCESS
    assert arguments.parse_category("доступ") == Category.ACCESS
    assert arguments.parse_category("nonsense") is None


def test_priorities_with_or_without_the_p() -> None:
    assert arguments.parse_priority("p2") == Priority.P2 and arguments.parse_priority("3") == Priority.P3
    assert arguments.parse_priority("P5") is None and arguments.parse_priority("high") is None
