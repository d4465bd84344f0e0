"""Outages staff declare before, or without, any ticket: `/outage SERVICE text`, updated by the same
command, ended by `/outage off SERVICE`.

While one is on, a customer describing that service failing is told at intake that it is known
(known_outages.py) and may ask to be kept informed: they follow the outage (`outage_followers`; no ticket is
registered, there is nothing for the desk to work) and hear each update and its end, in their own
language. The staff chat hears of each declaration, update and end.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import customer_notices, outbox
from helpdesk.agent_actions import Notice, Refusal
from helpdesk.clock import now_utc
from helpdesk.formatting import when
from helpdesk.i18n import t
from helpdesk.outages.profile import resolve_service
from helpdesk.people import Actor, customer_language
from helpdesk.policy import DeskPolicy
from storage import major_incidents
from storage.models import DeclaredOutage

#: the word that ends an outage: `/outage off SERVICE`
OFF_WORDS = frozenset({"off", "end", "stop", "выкл", "конец", "отбой"})


async def _matching(session: AsyncSession, word: str) -> tuple[frozenset[str], DeclaredOutage | None]:
    """The services the word names, and the outage on that is about one of them."""
    keys = resolve_service(word)
    if not keys:
        return keys, None
    for outage in await major_incidents.active_outages(session):
        if keys & (resolve_service(outage.service_word) | {outage.service}):
            return keys, await major_incidents.active_outage(session, outage.service, lock=True)
    return keys, None


def _unknown(word: str) -> Refusal:
    return Refusal("major.outage.unknown_service", service=word[:40])


def _staff(session: AsyncSession, policy: DeskPolicy, key: str, **values: object) -> None:
    if policy.staff_chat_id is not None:
        outbox.send_text(session, policy.staff_chat_id, t(policy.default_language, key, **values))


async def declare(session: AsyncSession, word: str, text: str, actor: Actor, policy: DeskPolicy) -> Notice:
    """Declare an outage of the service `word` names, or update the one that is on (its followers hear)."""
    text = " ".join(text.split())
    keys, outage = await _matching(session, word)
    if not keys:
        raise _unknown(word)
    if not text:
        raise Refusal("major.usage.outage")
    now = now_utc()
    if outage is not None:
        outage.text, outage.updated_at = text, now
        session.add(outage)
        told = await _tell_followers(session, outage, "major.outage.customer_update", policy)
        _staff(session, policy, "major.outage.staff_updated", service=outage.service_word, text=text, by=actor.name)
        return Notice("major.outage.updated", {"service": outage.service_word, "count": told})
    outage = DeclaredOutage(
        service=sorted(keys)[0],
        service_word=word[:60],
        text=text,
        declared_at=now,
        updated_at=now,
        declared_by_id=actor.user_id,
        declared_by_name=actor.name,
    )
    session.add(outage)
    _staff(session, policy, "major.outage.staff_declared", service=outage.service_word, text=text, by=actor.name)
    return Notice("major.outage.declared", {"service": outage.service_word})


async def end(session: AsyncSession, word: str, actor: Actor, policy: DeskPolicy) -> Notice:
    """`/outage off SERVICE`: the outage is over; its followers hear it."""
    keys, outage = await _matching(session, word)
    if not keys:
        raise _unknown(word)
    if outage is None:
        raise Refusal("major.outage.none", service=word[:40])
    outage.ended_at = now_utc()
    session.add(outage)
    told = await _tell_followers(session, outage, "major.outage.customer_ended", policy)
    _staff(session, policy, "major.outage.staff_ended", service=outage.service_word, by=actor.name)
    return Notice("major.outage.ended", {"service": outage.service_word, "count": told})


async def _tell_followers(session: AsyncSession, outage: DeclaredOutage, key: str, policy: DeskPolicy) -> int:
    told = 0
    for customer in await major_incidents.followers(session, outage.id):
        lang = customer_language(customer, policy.default_language)
        text = t(lang, key, service=outage.service_word, text=outage.text)
        told += customer_notices.follower_told(session, customer, text)
    return told


async def listing(session: AsyncSession, lang: str) -> str:
    """`/outage` alone: the outages on, and how to declare and end one."""
    outages = await major_incidents.active_outages(session)
    lines = [
        t(lang, "major.outage.line", service=o.service_word, since=when(o.declared_at), text=o.text) for o in outages
    ]
    head = t(lang, "major.outage.list_title") if lines else t(lang, "major.outage.list_empty")
    return "\n".join([head, *lines, "", t(lang, "major.usage.outage")])
