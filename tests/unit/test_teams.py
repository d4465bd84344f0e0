"""TEAMS as operators write them: read strictly, a mistake is one
`error:` line naming TEAMS and exit code 2 from every command; where a chat and topic belong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from helpdesk.escalation import known_targets
from helpdesk.policy import DeskPolicy
from helpdesk.teams import Teams, parse_teams
from helpdesk.vocabulary import Category
from tests.unit.test_cli_errors import one_error, operator  # noqa: F401  (the fixture)

NETWORK = {"chat": -1001, "categories": ["network", "Security"]}
FACILITY = {"chat": -1002, "topic": 7, "categories": ["facility"]}


def test_a_json_object_of_teams_is_read() -> None:
    teams = parse_teams(json.dumps({"Network": NETWORK, "facility": FACILITY}))
    assert teams.names == ["network", "facility"]
    network = teams.get("NETWORK")
    assert network is not None and network.chat_id == -1001 and network.topic is None
    assert network.categories == {Category.NETWORK, Category.SECURITY}
    assert teams.owner("security") is network and teams.owner("hardware") is None
    assert teams.get("facility").topic == 7  # type: ignore[union-attr]
    assert teams.chat_ids() == {-1001, -1002}


@pytest.mark.parametrize("unset", [None, "", "  ", "{}"])
def test_unset_or_empty_means_no_teams(unset: str | None) -> None:
    assert not parse_teams(unset) and parse_teams(unset) == Teams()


BAD = [
    ('{"network": {"chat": -1, ', "not valid JSON"),
    ('["network"]', "must be a JSON object of teams"),
    ('{"network": -100}', "must be an object"),
    ('{"network": {"chat": -1, "categories": ["gardening"]}}', "unknown category 'gardening'"),
    ('{"network": {"chat": -1, "categories": "network"}}', "must be a list of category names"),
    ('{"network": {"chat": 12345, "categories": []}}', '"chat" must be the staff group\'s id'),
    ('{"network": {"chat": "-100", "categories": []}}', '"chat" must be the staff group\'s id'),
    ('{"network": {"categories": []}}', '"chat" must be the staff group\'s id'),
    ('{"network": {"chat": -1, "topic": 0}}', '"topic" must be a forum topic id'),
    ('{"network": {"chat": -1, "topic": "seven"}}', '"topic" must be a forum topic id'),
    ('{"network": {"chat": -1, "chats": -2}}', "unknown key 'chats'"),
    ('{"net work": {"chat": -1}}', "team name 'net work'"),
    ('{"manager": {"chat": -1}}', "team name 'manager' is reserved"),
    ('{"all": {"chat": -1}}', "team name 'all' is reserved"),
    ('{"General": {"chat": -1}}', "team name 'General' is reserved"),
    ('{"a": {"chat": -1, "categories": ["network"]}, "b": {"chat": -2, "categories": ["network"]}}', "belongs to both"),
    ('{"a": {"chat": -1}, "b": {"chat": -1}}', "have the same chat and topic"),
    ('{"a": {"chat": -1}, "A": {"chat": -2}}', "is named twice"),
]


@pytest.mark.parametrize(("value", "reason"), BAD, ids=[reason for _, reason in BAD])
def test_a_malformed_value_is_refused_with_the_reason(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(")):
        parse_teams(value)


def test_a_team_in_the_staff_chat_needs_its_own_topic() -> None:
    with pytest.raises(ValueError, match="has the chat of STAFF_CHAT_ID and no topic"):
        DeskPolicy(staff_chat_id=-1001, teams=json.dumps({"network": NETWORK}))
    policy = DeskPolicy(staff_chat_id=-1001, teams=json.dumps({"network": {**NETWORK, "topic": 3}}))
    assert policy.is_staff_chat(-1001) and not policy.is_staff_chat(-1002)


def test_where_a_message_belongs() -> None:
    shared = {"chat": -1002, "topic": 8, "categories": ["power"]}
    in_staff = {"chat": -1000, "topic": 9, "categories": ["access"]}
    teams = parse_teams(json.dumps({"network": NETWORK, "facility": FACILITY, "power": shared, "access": in_staff}))
    assert teams.at(-1001, None, -1000).name == "network"  # type: ignore[union-attr]
    assert teams.at(-1001, 55, -1000).name == "network"  # type: ignore[union-attr]  # its own chat, any topic
    assert teams.at(-1002, 7, -1000).name == "facility"  # type: ignore[union-attr]
    assert teams.at(-1002, 8, -1000).name == "power"  # type: ignore[union-attr]
    assert teams.at(-1002, None, -1000) is None  # a forum shared by two teams, outside their topics
    assert teams.at(-1000, 9, -1000).name == "access"  # type: ignore[union-attr]
    assert teams.at(-1000, None, -1000) is None  # the general staff chat
    assert teams.at(501, None, -1000) is None  # a private chat


def test_settings_carry_teams_to_the_policy() -> None:
    settings = Settings(_env_file=None, teams=json.dumps({"network": NETWORK}))
    policy = settings.policy()
    assert policy.teams.names == ["network"]


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ('{"network": {"chat": -1001, "categories": ["network"]', "error: TEAMS: not valid JSON"),
        ('{"network": {"chat": -1001, "categories": ["wifi"]}}', "error: TEAMS: team 'network': unknown category"),
        ('{"network": {"chat": 42}}', "error: TEAMS: team 'network': \"chat\" must be"),
    ],
)
def test_every_command_stops_on_a_bad_teams_in_one_line(
    operator: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str,
    line: str,
) -> None:
    monkeypatch.setenv("TEAMS", value)
    for argv in (["migrate"], ["console"], ["run"]):
        assert main(argv) == 2
        assert one_error(capsys).startswith(line), argv


def test_escalate_names_general_only_where_it_is_accepted() -> None:
    """Without TEAMS every ticket is the general desk's and `/escalate N general` is refused: not offered."""
    assert known_targets(DeskPolicy()) == "manager"
    teams = DeskPolicy(teams=parse_teams(json.dumps({"network": NETWORK})))
    assert known_targets(teams) == "network, general, manager"
