"""Self-help at the desk, on real SQLite and PostgreSQL: the intake's article offers end to end through
the intake service (deflections counted, nothing registered; "I still need help" registers with the
text already typed), /stats counting them, and `/kb N NAME` sending an article to a ticket's customer."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from dialogs.article_offers import ArticleOffers
from dialogs.form_data import Choice
from dialogs.intake import UserInput
from dialogs.intake_service import IntakeService, Result
from dialogs.offers import Decision, OfferEvent, OfferRequest, OfferView, Settlement, Verdict
from helpdesk import agent_articles, self_help, stats, tickets
from helpdesk.agent_actions import Refusal
from helpdesk.knowledge import ArticleMatcher, KnowledgeBase, load_knowledge_base
from helpdesk.people import Actor, Person, ensure_customer
from helpdesk.triage import Triage
from helpdesk.vocabulary import State
from storage.db import Database
from storage.models import Customer, Draft, OutboxMessage, SelfHelpEvent, Ticket, TicketEvent
from tests.unit.desk import POLICY, new_ticket, set_state

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "kb-sample"
WIFI = "How do I connect to the office Wi-Fi?"
AGENT = Actor(7001, "Agent1")
pytestmark = pytest.mark.usefixtures("triage")


@pytest.fixture(scope="module")
def knowledge() -> KnowledgeBase:
    return load_knowledge_base(SAMPLE)


@pytest.fixture(scope="module")
def articles(knowledge: KnowledgeBase, triage: Triage) -> ArticleOffers:
    return ArticleOffers(ArticleMatcher(knowledge, triage))


class Chat:
    """One customer talking to the intake service, an update per transaction (as the bot does)."""

    def __init__(self, db: Database, user_id: int, triage: Triage, articles: ArticleOffers, lang: str = "en") -> None:
        self.db, self.user_id, self.triage, self.articles, self.lang = db, user_id, triage, articles, lang
        self.last: Result | None = None

    async def _service(self, session) -> IntakeService:
        customer = await ensure_customer(session, Person(user_id=self.user_id, chat_id=self.user_id, first_name="C"))
        return IntakeService(session, customer, self.lang, self.triage, POLICY, offers=[self.articles])

    async def says(self, text: str) -> Result:
        async with self.db.session() as session:
            service = await self._service(session)
            result = await service.handle(UserInput.of_text(text))
            self.last = result if result is not None else await service.start(description=text)
        return self.last

    async def presses(self, label: str) -> Result:
        prompt = self.last.replies[-1].prompt
        values = {c.label: c.value for row in prompt.choices for c in row}
        assert label in values, f"{label!r} not among {list(values)}"
        async with self.db.session() as session:
            self.last = await (await self._service(session)).handle(UserInput.of_choice(values[label], prompt.token))
        return self.last


async def counted(db: Database) -> list[tuple[str, str | None]]:
    async with db.read() as session:
        rows = (await session.execute(select(SelfHelpEvent).order_by(col(SelfHelpEvent.id)))).scalars().all()
        return [(row.kind, row.article) for row in rows]


async def test_this_solved_it_registers_nothing_and_is_counted(
    db: Database, triage: Triage, articles: ArticleOffers
) -> None:
    ann = Chat(db, 601, triage, articles)
    offered = await ann.says(WIFI)
    assert offered.replies[-1].prompt.step == "offer"
    opened = await ann.presses("📄 Connect to the office Wi-Fi")
    assert len(opened.replies) >= 2 and "Office-Corp" in opened.replies[0].text
    done = await ann.presses("✅ This solved it")
    assert done.finished and done.ticket is None and "Nothing was registered" in done.replies[0].text
    async with db.read() as session:
        assert (await session.execute(select(Ticket))).scalars().first() is None
        assert (await session.execute(select(Draft))).scalars().first() is None
    assert await counted(db) == [("offered", None), ("opened", "office-wifi"), ("solved", "office-wifi")]
    async with db.read() as session:
        report = await stats.compute(session, period="1d")
    assert not report.empty and report.self_help == {"offered": 1, "opened": 1, "solved": 1}
    text = stats.render(report, "en")
    assert "Self-help: articles offered 1 time · solved it 1 (100%) · still needed help 0" in text
    assert "Самопомощь: статьи предложены 1 раз" in stats.render(report, "ru")


async def test_i_still_need_help_registers_with_what_was_typed(
    db: Database, triage: Triage, articles: ArticleOffers
) -> None:
    bob = Chat(db, 602, triage, articles)
    await bob.says(WIFI)
    await bob.presses("📄 Connect to the office Wi-Fi")
    result = await bob.presses("🙋 I still need help")
    assert "description is kept" in result.replies[-1].text
    for _ in range(10):  # answer the form with its first button (or skip the contact) until registered
        prompt = result.replies[-1].prompt
        if result.ticket is not None:
            break
        if prompt.step == "contact":
            result = await bob.says("Skip")
        elif prompt.step == "summary":
            result = await bob.presses(prompt.choices[0][0].label)
        else:
            result = await bob.presses(prompt.choices[0][0].label)
    assert result.ticket is not None and result.ticket.description == WIFI
    assert "<b>First response:</b> within 2 d" in result.replies[0].text  # no business hours: the plain target
    assert await counted(db) == [("offered", None), ("opened", "office-wifi"), ("still_needed", "office-wifi")]
    async with db.read() as session:
        report = await stats.compute(session, period="1d")
    assert "still needed help 1" in stats.render(report, "en")


async def test_kb_sends_the_article_in_the_customers_language(db: Database, knowledge: KnowledgeBase) -> None:
    ticket_id = await new_ticket(db, POLICY, 603, language="ru", description="Не могу подключиться к вайфаю")
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        notice = await agent_articles.send_article(session, ticket, AGENT, " Office-WiFi ", knowledge, POLICY)
        assert "Как подключиться к офисному Wi-Fi" in notice.text("en")
    async with db.read() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket.state == State.IN_PROGRESS.value and ticket.first_response_at is not None
        customer = await session.get(Customer, ticket.customer_id)
        sent = (
            (await session.execute(select(OutboxMessage).where(col(OutboxMessage.chat_id) == customer.chat_id)))
            .scalars()
            .all()
        )
        events = (await session.execute(select(TicketEvent).where(col(TicketEvent.ticket_id) == ticket_id))).scalars()
        kinds = {event.kind: event for event in events}
    assert sent and sent[0].payload["text"].startswith(f"📘 <b>{ticket.number}</b>: поддержка отправила вам статью.")
    assert "<b>Как подключиться к офисному Wi-Fi</b>" in sent[0].payload["text"]
    assert all(row.ticket_id == ticket_id for row in sent)
    assert kinds["article"].data == {"article": "office-wifi", "language": "ru"} and kinds["article"].actor_id == 7001
    assert ("sent", "office-wifi") in await counted(db)


async def test_kb_refuses_an_unknown_article_a_closed_ticket_and_an_empty_knowledge_base(
    db: Database, knowledge: KnowledgeBase
) -> None:
    ticket_id = await new_ticket(db, POLICY, 604)
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        with pytest.raises(Refusal) as unknown:
            await agent_articles.send_article(session, ticket, AGENT, "wifi", knowledge, POLICY)
        assert "There is no article wifi. Articles: email-on-phone, guest-wifi" in unknown.value.text("en")
        with pytest.raises(Refusal) as none:
            await agent_articles.send_article(session, ticket, AGENT, "office-wifi", KnowledgeBase(), POLICY)
        assert "KB_DIR" in none.value.text("en")
    await set_state(db, POLICY, ticket_id, State.CANCELLED)
    async with db.session() as session:
        ticket = await session.get(Ticket, ticket_id)
        with pytest.raises(Refusal) as closed:
            await agent_articles.send_article(session, ticket, AGENT, "office-wifi", knowledge, POLICY)
        assert "is Cancelled" in closed.value.text("en")
    async with db.read() as session:
        assert (await session.execute(select(SelfHelpEvent))).scalars().first() is None
        found = await tickets.find_by_number(session, ticket.number)
        assert found is not None and found.state == State.CANCELLED.value
    assert self_help.KINDS == ("offered", "opened", "solved", "still_needed", "sent")


class Subscribe:
    """Another provider (as a known outage would be): accepting it is acted on, with a message of its own."""

    name = "outage"

    async def prepare(self, session) -> str:
        return "the VPN is down"

    def propose(self, request: OfferRequest) -> dict | None:
        return {"outage": request.context}

    def view(self, state: dict, lang: str) -> OfferView:
        return OfferView(f"Is it this? {state['outage']}", ((Choice("yes", "Yes, keep me informed"),),))

    def choose(self, state: dict, value: str, lang: str) -> Decision:
        return (
            Decision(Verdict.ACCEPTED, event="subscribed", note="Noted.")
            if value == "yes"
            else Decision(Verdict.INVALID)
        )

    async def record(self, session, customer, event: OfferEvent) -> Settlement | None:
        if event.kind != "subscribed":
            return None
        assert event.answers["description"] == WIFI  # what was typed is there to register for the record
        return Settlement(messages=[f"We will tell you when {event.state['outage']} is over."])


async def test_an_accepted_offer_is_acted_on_by_its_provider(
    db: Database, triage: Triage, articles: ArticleOffers
) -> None:
    async with db.session() as session:
        customer = await ensure_customer(session, Person(user_id=605, chat_id=605, first_name="C"))
        service = IntakeService(session, customer, "en", triage, POLICY, offers=[Subscribe(), articles])
        shown = await service.start(description=WIFI)
        prompt = shown.replies[-1].prompt
        assert prompt.text == "Is it this? the VPN is down"  # the first provider's offer comes first
        done = await service.handle(UserInput.of_choice("yes", prompt.token))
    assert done.finished and [r.text for r in done.replies] == [
        "Noted.",
        "We will tell you when the VPN is down is over.",
    ]
    assert await counted(db) == []  # the articles were never shown
