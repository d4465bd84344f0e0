"""Teams (the TEAMS setting): which staff chat owns which categories, and where a ticket is worked.

`TEAMS='{"network": {"chat": -1001234, "topic": 7, "categories": ["network", "security"]}}'`: a new
ticket whose category a team owns gets its card in that team's chat (in its forum topic, when given);
every other ticket goes to STAFF_CHAT_ID, the general desk. A ticket remembers its team (`Ticket.team`),
so a later change of category does not move it: `/escalate` does.

Who may act where: an agent (AGENT_IDS) in a team's chat works that team's tickets; in the general staff
chat or a private chat with the bot, any ticket. Looking (/ticket, /status N, Details, /queue) is allowed
everywhere. `acting_refusal` is the one place that rule lives.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from helpdesk.vocabulary import Category

#: words of the commands that no team may be called: /escalate N manager, /escalate N general, /queue all
RESERVED_NAMES = frozenset({"manager", "general", "all"})
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
TEAM_KEYS = frozenset({"chat", "topic", "categories"})


@dataclass(frozen=True)
class Team:
    """One team: its name, its staff chat, an optional forum topic in it, the categories it owns."""

    name: str
    chat_id: int
    topic: int | None
    categories: frozenset[Category]


class Teams:
    """Every team of the desk; empty when TEAMS is not set (then everything is the general desk's)."""

    def __init__(self, teams: tuple[Team, ...] = ()) -> None:
        self.all = teams
        self._by_name = {team.name: team for team in teams}
        self._by_category = {category: team for team in teams for category in team.categories}

    def __bool__(self) -> bool:
        return bool(self.all)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Teams) and self.all == other.all

    def __hash__(self) -> int:
        return hash(self.all)

    def __repr__(self) -> str:
        return f"Teams({', '.join(team.name for team in self.all)})"

    @property
    def names(self) -> list[str]:
        return [team.name for team in self.all]

    def get(self, name: str | None) -> Team | None:
        """A team by name (as typed: any case); None for unknown names and the general desk."""
        return self._by_name.get(name.strip().casefold()) if name else None

    def owner(self, category: str) -> Team | None:
        """The team that owns a category, if any."""
        try:
            return self._by_category.get(Category(category))
        except ValueError:
            return None

    def chat_ids(self) -> frozenset[int]:
        return frozenset(team.chat_id for team in self.all)

    def at(self, chat_id: int | None, thread_id: int | None, staff_chat_id: int | None) -> Team | None:
        """The team whose chat (and topic) this is; None for the general staff chat and private chats.

        A forum shared by several teams' topics: a message in a team's topic is that team's; outside any,
        the chat counts as the general desk's, like the staff chat (one team alone in a chat owns all of it).
        Button presses carry no topic: on a shared forum they count as the general desk's.
        """
        if chat_id is None:
            return None
        in_chat = [team for team in self.all if team.chat_id == chat_id]
        for team in in_chat:
            if team.topic is not None and team.topic == thread_id:
                return team
        if chat_id == staff_chat_id:  # a team in the staff chat has a topic of its own (checked at start)
            return None
        return in_chat[0] if len(in_chat) == 1 else None


def parse_teams(value: Any) -> Teams:
    """TEAMS as operators write it (a JSON object), checked strictly; ValueError names what is wrong."""
    if isinstance(value, Teams):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        return Teams()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos + 1}); expected {EXAMPLE}") from None
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object of teams, e.g. {EXAMPLE}")
    teams: list[Team] = []
    owners: dict[Category, str] = {}
    places: dict[tuple[int, int | None], str] = {}
    for raw_name, spec in value.items():
        name = _name(raw_name)
        if any(team.name == name for team in teams):
            raise ValueError(f"team {name!r} is named twice")
        team = _team(name, spec)
        for category in team.categories:
            if category in owners:
                raise ValueError(f"category {category.value!r} belongs to both {owners[category]!r} and {name!r}")
            owners[category] = name
        place = (team.chat_id, team.topic)
        if place in places:
            raise ValueError(f"teams {places[place]!r} and {name!r} have the same chat and topic")
        places[place] = name
        teams.append(team)
    return Teams(tuple(teams))


EXAMPLE = '{"network": {"chat": -1001234567890, "categories": ["network", "security"]}}'


def _name(raw: str) -> str:
    name = str(raw).strip().casefold()
    if not NAME_PATTERN.match(name):
        raise ValueError(f"team name {raw!r}: use 1-32 letters, digits, '-' or '_' (it is typed in /escalate N TEAM)")
    if name in RESERVED_NAMES:
        raise ValueError(f"team name {raw!r} is reserved (/escalate N manager, /escalate N general, /queue all)")
    return name


def _team(name: str, spec: Any) -> Team:
    if not isinstance(spec, dict):
        raise ValueError(f'team {name!r} must be an object with "chat" and "categories"')
    unknown = sorted(set(spec) - TEAM_KEYS)
    if unknown:
        raise ValueError(f"team {name!r}: unknown key {unknown[0]!r} (known: chat, topic, categories)")
    chat = spec.get("chat")
    if isinstance(chat, bool) or not isinstance(chat, int) or chat >= 0:
        raise ValueError(f'team {name!r}: "chat" must be the staff group\'s id, a negative number, not {chat!r}')
    topic = spec.get("topic")
    if topic is not None and (isinstance(topic, bool) or not isinstance(topic, int) or topic <= 0):
        raise ValueError(f'team {name!r}: "topic" must be a forum topic id, a positive number, not {topic!r}')
    categories = spec.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise ValueError(f'team {name!r}: "categories" must be a list of category names')
    owned: set[Category] = set()
    for raw in categories:
        try:
            owned.add(Category(raw.strip().casefold()))
        except ValueError:
            known = ", ".join(c.value for c in Category)
            raise ValueError(f"team {name!r}: unknown category {raw!r} (known: {known})") from None
    return Team(name, chat, topic, frozenset(owned))
