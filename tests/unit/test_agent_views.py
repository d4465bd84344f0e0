"""What agents see (helpdesk.agent_views): the queue and a ticket's details."""

from __future__ import annotations

from helpdesk import agent_actions, agent_views
from helpdesk.content import Content
from helpdesk.vocabulary import Priority
from storage.db import Database
from storage.models import Ticket
from tests.unit.desk import AGENT, act, customer, ticket_for


async def test_queue_and_details(db: Database) -> None:
    ann = await customer(db)
    low = await ticket_for(db, ann, text="Low one")
    high = await ticket_for(db, ann, text="High one")
    await act(db, high, agent_actions.set_priority, AGENT, Priority.P1)
    await act(db, low, agent_actions.ask, AGENT, Content(text="Which room?"))
    async with db.read() as session:
        text, buttons = await agent_views.queue(session, "en")
        locked = await session.get(Ticket, low.id)
        details, files = await agent_views.details(session, locked, "en")
    assert text.index(high.number) < text.index(low.number)
    assert [data for row in buttons for _, data in row] == [f"ag:det:{high.id}", f"ag:det:{low.id}"]
    assert "History" in details and "New → Waiting on customer" in details and "Which room?" in details
    assert files == 0
