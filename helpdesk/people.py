"""Who is talking to us: customers (anyone in a private chat) and agents (AGENT_IDS)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk.clock import now_utc
from helpdesk.i18n import pick_language
from helpdesk.policy import DeskPolicy
from storage import repos
from storage.models import Agent, Customer


@dataclass(frozen=True)
class Person:
    """The sender of an update, transport-neutral."""

    user_id: int
    chat_id: int
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p).strip()
        return name or (f"@{self.username}" if self.username else str(self.user_id))


@dataclass(frozen=True)
class Actor:
    """An agent acting on a ticket (or being assigned one)."""

    user_id: int
    name: str
    username: str | None = None


#: how fresh `last_seen_at` is kept: retention counts in days, and writing it at every message would
#: cost an UPDATE per update for nothing
LAST_SEEN_RESOLUTION = timedelta(minutes=10)


async def ensure_customer(session: AsyncSession, person: Person) -> Customer:
    """The customer row for this person, created on first contact and refreshed on each."""
    customer = await repos.customer_by_telegram_id(session, person.user_id)
    now = now_utc()
    if customer is None:
        return await repos.add_customer(session, _new_customer(person, now))
    changes: dict[str, object] = {
        "first_name": person.first_name or customer.first_name,
        "last_name": person.last_name,
        "username": person.username,
        "telegram_language": person.language_code or customer.telegram_language,
        "unreachable_since": None,  # they wrote to us, so they unblocked the bot
    }
    if customer.last_seen_at is None or now - customer.last_seen_at >= LAST_SEEN_RESOLUTION:
        changes["last_seen_at"] = now
    repos.assign_changed(customer, changes)
    return customer


def _new_customer(person: Person, now: datetime) -> Customer:
    return Customer(**_new_customer_row(person, now))


def _new_customer_row(person: Person, now: datetime) -> dict[str, Any]:
    """A first contact's columns (every one the table needs: a batch inserts them as they are)."""
    return {
        "telegram_id": person.user_id,
        "chat_id": person.chat_id,
        "first_name": person.first_name or "",
        "last_name": person.last_name,
        "username": person.username,
        "telegram_language": person.language_code,
        "language": None,
        "phone": None,
        "unreachable_since": None,
        "pending": {},  # given, not defaulted: pydantic inspects a default factory at every call
        "closed_notice_at": None,
        "created_at": now,
        "last_seen_at": now,
    }


async def prefetch_people(session: AsyncSession, senders: Iterable[tuple[Person | None, bool]]) -> None:
    """Load the customers of a batch of updates (and their drafts, their open tickets) up front.

    `senders` are (person, in a private chat). Someone writing privately becomes a customer on first
    contact (`ensure_customer`); the ones new in this batch are created together here, in one statement.
    """
    now = now_utc()
    people = {p.user_id: (p, private) for p, private in senders if p is not None}

    def first_contact(telegram_id: int) -> dict[str, Any] | None:
        person, private = people[telegram_id]
        return _new_customer_row(person, now) if private else None

    if people:
        await repos.prefetch_customers(session, list(people), first_contact)


def customer_language(customer: Customer | None, default: str) -> str:
    if customer is None:
        return pick_language(default=default)
    return pick_language(customer.language, customer.telegram_language, default=default)


def customer_display_name(customer: Customer) -> str:
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p).strip()
    return name or (f"@{customer.username}" if customer.username else str(customer.telegram_id))


async def remember_agent(session: AsyncSession, person: Person, team: str | None = None) -> Agent:
    """The agent as last seen (for /assign @username); `team`: they act in that team's chat, so they are
    one of its agents (what their /queue in a private chat shows)."""
    agent = await session.get(Agent, person.user_id)
    if agent is None:
        agent = Agent(telegram_id=person.user_id, teams=[])
    agent.first_name = person.first_name or agent.first_name
    agent.username = person.username
    agent.language = person.language_code or agent.language
    agent.last_seen_at = now_utc()
    if team is not None and team not in agent.teams:
        agent.teams = sorted([*agent.teams, team])
    session.add(agent)
    return agent


def public_agent_name(name: str | None) -> str | None:
    """An agent's name as a customer may read it; None for none, or for a name that is only a Telegram id
    (`find_agent` names an agent the bot has not seen yet by their id, which means nothing to a customer)."""
    return name if name and not name.strip().isdigit() else None


async def find_agent(session: AsyncSession, policy: DeskPolicy, ref: str) -> Actor | None:
    """Another agent by Telegram id or @username (usernames are known once the agent has acted)."""
    ref = ref.strip()
    if ref.lstrip("-").isdigit():
        user_id = int(ref)
        if not policy.is_agent(user_id):
            return None
        known = await repos.agent_by_id(session, user_id)
    else:
        known = await repos.agent_by_username(session, ref)
        if known is None or not policy.is_agent(known.telegram_id):
            return None
        user_id = known.telegram_id
    name = (known.first_name if known else "") or (f"@{known.username}" if known and known.username else str(user_id))
    return Actor(user_id, name, known.username if known else None)


async def set_reachable(session: AsyncSession, chat_id: int, *, reachable: bool) -> None:
    """A customer blocked (or unblocked) the bot; the staff see it on the ticket cards."""
    customer = await repos.customer_by_telegram_id(session, chat_id)
    if customer is None:
        return
    if reachable:
        customer.unreachable_since = None
    elif customer.unreachable_since is None:
        customer.unreachable_since = now_utc()
    session.add(customer)
