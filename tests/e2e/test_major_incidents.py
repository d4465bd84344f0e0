"""A major incident through the Bot API stand-in: one outage, one ticket to work, every reporter informed.

Three customers (two English, one Russian) report the same internet outage → one proposal in the staff
chat names the three → "Merge into a major incident" → a reply and `/resolve PARENT supplier …` on the
parent reach each of the three exactly once, in their language; a fourth customer describing the same
outage is told before any form question that it is known and, after "Yes, keep me informed", gets the
next update; an unrelated report in the same minutes is neither proposed nor linked and gets nothing.
"""

from __future__ import annotations

import pytest

from tests.e2e.test_agents import FAST, NUMBER

pytestmark = pytest.mark.e2e

OUTAGE = (
    (501, "Ann", "en", "Internet is down for the whole office"),
    (502, "Bob", "en", "internet conection lost on all computers"),
    (503, "Вера", "ru", "Интернет не работает во всём офисе!!!"),
)
UNRELATED = (510, "Zed", "en", "The printer on floor 2 is jammed and prints nothing at all")
REPLY = "The provider is replacing a line card; ETA 15:00."
REPORT = "The provider replaced a faulty line card; all links are up."


FOLLOW = ("✅ Yes, keep me informed", "✅ Да, держите меня в курсе")


async def walk(user, text: str, *, follow: bool = False, timeout: float = 30) -> str:
    """Write `text` and walk the intake with the first offered answers, in English or Russian; returns the
    ticket number, or "followed" when a known outage was offered and `follow` took it."""
    await user.send(text)
    for _ in range(20):
        q = await user.next_message(timeout=timeout)
        if "Registered" in (q.text or "") or "Зарегистрирована" in (q.text or ""):
            return NUMBER.search(q.text).group(0)
        taken = next((b for b in q.buttons if b in FOLLOW), None) if follow else None
        if taken:
            await user.press(q, taken)
            await user.wait_for(None, lambda m: (m.content or "").startswith("✅"), timeout=timeout)
            return "followed"
        confirm = next((b for b in q.buttons if b in ("✅ Confirm", "✅ Подтвердить")), None)
        skip = next((b for b in ("Skip", "Пропустить") if b in user.keyboard), None)
        if confirm:
            await user.press(q, confirm)
        elif skip:
            await user.press_reply_button(skip)
        elif q.buttons:
            await user.press(q, q.buttons[0])
    raise AssertionError("the intake did not finish")


def count(user, fragment: str) -> int:
    return sum(fragment in (m.content or "") for m in user.messages)


async def test_one_outage_one_ticket_every_reporter_informed_once(bot_api, bot_factory) -> None:
    await bot_factory.start(env=FAST)
    staff = bot_factory.staff
    agent = bot_api.user(7001)
    users = [bot_api.user(uid, name, language_code=lang) for uid, name, lang, _ in OUTAGE]
    zed = bot_api.user(UNRELATED[0], UNRELATED[1], language_code=UNRELATED[2])

    numbers = [await walk(users[0], OUTAGE[0][3])]
    unrelated = await walk(zed, UNRELATED[3])  # in the same minutes
    for user, (_uid, _name, _lang, text) in zip(users[1:], OUTAGE[1:], strict=True):
        numbers.append(await walk(user, text))

    proposal = await staff.wait_for("Possible major incident", timeout=20)
    assert all(number in proposal.content for number in numbers) and unrelated not in proposal.content
    assert proposal.buttons == ["🔗 Merge into a major incident", "✖ Not related"]
    parent = numbers[0]  # the earliest
    await (await agent.press(proposal, "🔗 Merge into a major incident")).answer()
    await staff.wait_edit(proposal, f"Merged into {parent}", timeout=15)
    card = await staff.wait_for(f"{parent} · Incident", include_seen=True, timeout=15)
    await staff.wait_edit(card, "Major incident · 2 linked", timeout=15)

    # a fourth customer: told before any form question, follows it
    dan = bot_api.user(504, "Dan", language_code="en")
    await dan.send("no internet at all, nobody can work 😡")
    offer = await dan.next_message(timeout=20)
    assert "This problem is already known" in offer.content and parent in offer.content
    assert "Which service" not in offer.content
    await dan.press(offer, "✅ Yes, keep me informed")
    followed = await dan.wait_for(f"every update on {parent}", timeout=15)
    own = [n for n in NUMBER.findall(followed.content) if n != parent]
    assert len(own) == 1  # a report registered for the record

    # one voice: the reply, then the resolution with its cause, on the parent only
    await agent.command("reply", f"{parent} {REPLY}")
    await agent.command("resolve", f"{parent} supplier {REPORT}")
    for user, lang in ((users[0], "en"), (users[1], "en"), (users[2], "ru"), (dan, "en")):
        resolved = await user.wait_for("faulty line card", timeout=30)
        assert ("решена" in resolved.content) == (lang == "ru"), resolved.content
        assert count(user, "ETA 15:00") == 1 and count(user, "faulty line card") == 1  # the resolution came after
        assert bot_api.duplicate_sends(user.id) == []
    # closing the parent closes them all; that notice comes after anything the resolution queued, so the
    # resolution was delivered exactly once
    await agent.command("close", parent)
    for user in (*users, dan):
        await user.wait_for(parent, predicate=lambda m: "closed" in m.content or "закрыта" in m.content, timeout=30)
        assert count(user, "faulty line card") == 1 and bot_api.duplicate_sends(user.id) == []
    assert "👍 Да, всё работает" in " ".join((await users[2].wait_for("faulty line card", include_seen=True)).buttons)

    # the unrelated customer: neither proposed nor linked, and told nothing; his /status answer comes after
    # anything the resolution could have queued for him
    await zed.command("status", unrelated)
    status = await zed.wait_for(unrelated, predicate=lambda m: "State" in m.content, timeout=15)
    assert "Part of" not in status.content
    assert count(zed, "ETA 15:00") == 0 and count(zed, "line card") == 0
    await agent.command("ticket", unrelated)
    details = await agent.wait_for(unrelated, predicate=lambda m: "History" in m.content, timeout=15)
    assert "Linked to" not in details.content and "Major incident" not in details.content
