"""Major incidents in-process: the staff's proposal and its buttons, /major /link /unlink /outage with their
refusals, the cause buttons of /resolve, and the known outage offered at intake before any form question."""

from __future__ import annotations

import re

from tests.handlers.harness import STAFF, Desk
from tests.handlers.test_customers import register

NUMBER = re.compile(r"(INC|REQ)-\d{6}")
OUTAGE = (
    (501, "Ann", "en", "Internet is down for the whole office"),
    (502, "Bob", "en", "internet conection lost on all computers"),
    (503, "Вера", "ru", "Интернет не работает во всём офисе!!!"),
)


async def three_reports(desk: Desk) -> list[str]:
    return [await register(desk.person(uid, name, lang=lang), text) for uid, name, lang, text in OUTAGE]


async def test_a_proposal_merged_once_and_only_by_an_agent(desk: Desk) -> None:
    numbers = await three_reports(desk)
    proposal = desk.staff.find("Possible major incident")
    assert all(number in proposal.text for number in numbers)
    assert proposal.buttons == ["🔗 Merge into a major incident", "✖ Not related"]

    stranger = desk.person(666, "Eve")  # in the staff group, not an agent: the dispatch refuses her, and only it
    for label in ("🔗 Merge into a major incident", "✖ Not related"):
        answer = await stranger.press(proposal, label)
        assert answer["text"] == "Only support agents can do this." and answer["show_alert"]
    assert proposal.buttons and "Merged by" not in proposal.text and "Not related" not in proposal.text

    agent = desk.agent()
    answer = await agent.press(proposal, "🔗 Merge into a major incident")
    assert f"Merged into {numbers[0]}" in answer["text"]
    assert "Merged by Agent1" in proposal.text and proposal.buttons == []
    again = await desk.agent(7002).press_data(proposal, f"mj:m:{1}")
    assert "Already merged into" in again["text"] and "nothing changed" in again["text"]

    await agent.send(f"/ticket {numbers[0]}")
    assert "Major incident · 2 linked" in agent.last.text and numbers[1] in agent.last.text
    await agent.send(f"/ticket {numbers[2]}")
    assert f"Linked to {numbers[0]}" in agent.last.text
    (card,) = [m for m in desk.staff.from_bot if f"{numbers[1]} · Incident" in m.text]
    assert f"Linked to {numbers[0]}" in card.text and "In progress" not in card.text


async def test_link_commands_refuse_clearly_and_change_nothing(desk: Desk) -> None:
    agent = desk.agent()
    ann, bob, cid, dan = (
        desk.person(uid, name) for uid, name in ((501, "Ann"), (502, "Bob"), (503, "Cid"), (504, "Dan"))
    )
    a = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    b = await register(bob, "My monitor flickers and goes black every few minutes")
    request = await register(cid, "Please give me access to the finance shared folder")
    assert request.startswith("REQ")

    await agent.send(f"/link {a} {a}")
    assert "cannot be linked to itself" in agent.last.text
    await agent.send(f"/major {request}")
    assert "only an incident can be a major incident" in agent.last.text
    await agent.send(f"/link {b} {a}")
    assert f"{b} is linked to {a}" in agent.last.text
    await agent.send(f"/link {a} {b}")
    assert "would make a cycle" in agent.last.text
    c = await register(dan, "The scanner next to the printer shows a paper jam too")
    await agent.send(f"/link {c} {b}")
    assert f"{b} is itself linked to {a}" in agent.last.text
    await agent.send(f"/link {request} {a}")
    assert "only incidents are linked" in agent.last.text
    await agent.send(f"/unlink {c}")
    assert "is not linked to a major incident" in agent.last.text
    await agent.send(f"/unlink {a}")
    assert "is the major incident itself (1 linked)" in agent.last.text
    await agent.send("/link")
    assert "Usage: /link NUMBER PARENT" in agent.last.text
    await agent.send(f"/link {c} INC-424242")
    assert "There is no ticket INC-424242" in agent.last.text

    await agent.send(f"/resolve {c} supplier The vendor replaced the scanner's feed roller.")
    await agent.send(f"/close {c}")
    await agent.send(f"/link {b} {c}")
    assert f"{c} is Closed; link only to an open incident" in agent.last.text
    await agent.send(f"/unlink {b}")
    assert f"{b} is no longer linked to {a}" in agent.last.text
    assert "no longer part of" in bob.last.text


async def test_a_report_without_a_cause_gets_the_causes_as_buttons(desk: Desk) -> None:
    agent = desk.agent()
    ann = desk.person(501, "Ann")
    number = await register(ann, "The printer on floor 2 is jammed and prints nothing at all")
    await agent.send(f"/resolve {number} Replaced the fuser unit and printed a test page.")
    asked = agent.last
    assert "needs a cause first" in asked.text and "supplier — supplier failure" in asked.text
    assert "is resolved" not in ann.last.text  # nothing happened yet
    answer = await agent.press(asked, "technical fault")
    assert f"{number} resolved" in answer["text"] and asked.buttons == []
    resolved = ann.chat.find("is resolved")
    assert "Replaced the fuser unit" in resolved.text
    again = await agent.press_data(asked, asked.data_of("technical fault") if asked.buttons else "cz:1:1:technical")
    assert again["show_alert"]
    await agent.send(f"/ticket {number}")
    assert "Cause: technical fault" in agent.last.text
    await agent.send(f"/resolve {number} nonsense words here")
    assert "is already Resolved" in agent.last.text


async def test_a_known_outage_is_offered_before_the_form_and_followers_get_the_next_update(desk: Desk) -> None:
    numbers = await three_reports(desk)
    agent = desk.agent()
    await agent.press(desk.staff.find("Possible major incident"), "🔗 Merge into a major incident")

    dan = desk.person(504, "Dan")
    await dan.send("no internet at all, nobody can work 😡")
    offer = dan.last
    assert "This problem is already known" in offer.text and numbers[0] in offer.text
    assert offer.buttons[:2] == ["✅ Yes, keep me informed", "➡️ No, it's something else"]
    await dan.press(offer, "✅ Yes, keep me informed")
    assert f"every update on {numbers[0]}" in dan.last.text
    await agent.send(f"/reply {numbers[0]} The provider is replacing a line card, ETA 15:00.")
    assert "ETA 15:00" in dan.last.text and numbers[0] in dan.last.text

    eve = desk.person(505, "Eve")
    await eve.send("the internet is down for everyone on floor 3")
    await eve.press(eve.last, "➡️ No, it's something else")
    assert "Which service or device is affected?" in eve.last.text


async def test_outages_are_declared_updated_and_ended(desk: Desk) -> None:
    agent = desk.agent()
    await agent.send("/outage")
    assert "No outage is declared" in agent.last.text and "/outage SERVICE text" in agent.last.text
    await agent.send("/outage teleporter broken since noon")
    assert "I don't know the service “teleporter”" in agent.last.text
    await agent.send("/outage internet The provider has a fibre cut, ETA 15:00")
    assert "Outage of internet declared" in agent.last.text
    assert "Outage declared" in desk.staff.last.text

    vera = desk.person(506, "Вера", lang="ru")
    await vera.send("интернет не работает ни у кого")
    assert "уже известно" in vera.last.text and "fibre cut" in vera.last.text
    await vera.press(vera.last, "✅ Да, держите меня в курсе")
    assert "сообщу здесь" in vera.last.text

    await agent.send("/outage internet Fibre spliced, bringing links up")
    assert "1 following customer told." in agent.last.text
    assert "Fibre spliced" in vera.last.text
    await agent.send("/outage off internet")
    assert "устранён" in vera.last.text
    await agent.send("/outage off internet")
    assert "No outage of internet is declared" in agent.last.text
    assert STAFF
