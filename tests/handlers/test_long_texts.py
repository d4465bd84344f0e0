"""No silent cuts: an agent's long /reply reaches the customer whole (delivery splits it), a long closing
report, a customer's long message and a long rating comment are stored and relayed whole; where a limit
is real (/open's description) the agent is told and nothing is opened. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import select

from helpdesk.tickets import DESCRIPTION_MAX_CHARS
from storage.models import Ticket, TicketEvent
from tests.handlers.harness import Desk, Sent
from tests.handlers.test_customers import register


def long_text(length: int, start: str = "Step") -> str:
    """`length` characters of numbered words and lines, so a lost or repeated piece shows."""
    words, n = [], 0
    while sum(len(w) + 1 for w in words) < length:
        n += 1
        words.append(f"{start}{n}" + ("\n" if n % 40 == 0 else ""))
    return " ".join(words)[:length].rstrip()


def joined(messages: list[Sent]) -> list[str]:
    """The words of messages a split text arrived in, in order."""
    return " ".join(m.text for m in messages).split()


async def ticket_of(desk: Desk, number: str) -> Ticket:
    async with desk.db.read() as session:
        return (await session.exec(select(Ticket).where(Ticket.number == number))).one()


async def test_a_4080_character_reply_reaches_the_customer_whole(any_desk: Desk) -> None:
    desk = any_desk
    ann, agent = desk.person(501, "Ann"), desk.agent()
    number = await register(ann, "The label printer on floor 2 prints blank pages")
    ann.new()
    words = long_text(4080)
    assert len(words) == 4080
    await agent.send(f"/reply {number} {words}")
    parts = ann.new()
    assert len(parts) >= 2 and "…" not in parts[-1].text
    got = joined(parts)
    assert got[-len(words.split()) :] == words.split()  # every word, in order, after the header
    assert agent.last.text == f"✉️ Sent to the customer ({number})."
    async with desk.db.read() as session:
        reply = (await session.exec(select(TicketEvent).where(TicketEvent.kind == "reply"))).one()
    assert reply.note is not None and reply.note.split() == words.split()


async def test_a_long_closing_report_and_a_long_customer_message_are_kept_whole(any_desk: Desk) -> None:
    desk = any_desk
    ann, agent = desk.person(501, "Ann"), desk.agent()
    number = await register(ann, "The scanner on floor 4 jams on every single page")
    message = long_text(4000, "Detail")
    staff_before = len(desk.staff.from_bot)
    await ann.send(message)  # about the open ticket: relayed under the card
    chooser = ann.last
    await ann.press(chooser, next(label for label in chooser.buttons if label.startswith(number)))
    relayed = desk.staff.from_bot[staff_before:]
    assert joined(relayed)[-len(message.split()) :] == message.split()
    report = "technical: " + long_text(4000, "Action")
    await agent.send(f"/resolve {number} {report}")
    ticket = await ticket_of(desk, number)
    assert ticket.resolution_report is not None and ticket.resolution_report.split() == report.split()[1:]
    told = [m for m in ann.chat.from_bot if "Action" in m.text]
    assert joined(told)[-len(report.split()) + 1 :] == report.split()[1:]


async def test_open_refuses_a_description_over_the_limit_before_opening_anything(any_desk: Desk) -> None:
    desk = any_desk
    ann, agent = desk.person(501, "Ann"), desk.agent()
    await ann.send("/start")
    await agent.send(f"/open 501 {'x' * (DESCRIPTION_MAX_CHARS + 1)}")
    assert f"at most {DESCRIPTION_MAX_CHARS}" in agent.last.text and "no ticket was opened" in agent.last.text
    async with desk.db.read() as session:
        assert (await session.exec(select(Ticket))).all() == []
    await agent.send(f"/open 501 {long_text(DESCRIPTION_MAX_CHARS, 'Word')}")
    async with desk.db.read() as session:
        ticket = (await session.exec(select(Ticket))).one()
    assert ticket.description == long_text(DESCRIPTION_MAX_CHARS, "Word")
