"""The intake conversation as a service: load the draft, apply one input, store it, register on Confirm.

Transport-free: returns `Reply` objects that the Telegram bot and the console render in their own way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from dialogs import offers
from dialogs.intake import DraftState, IntakeDialog, Outcome, Prompt, Turn, UserInput
from dialogs.known_outage_offer import KnownOutageOffers
from dialogs.offers import OfferProvider, OfferStep
from helpdesk import customer_messages, promise, registration, tickets, views
from helpdesk.clock import now_utc
from helpdesk.customer_limits import open_ticket_refusal
from helpdesk.i18n import t
from helpdesk.outbox import Buttons
from helpdesk.policy import DeskPolicy
from helpdesk.vocabulary import Category, Impact, TicketType, Urgency
from storage import drafts, repos
from storage.models import Customer, Ticket


@dataclass
class Reply:
    text: str
    prompt: Prompt | None = None
    buttons: Buttons | None = None
    remove_keyboard: bool = False
    coalesce: str | None = None  # a pending unsent reply with the same key is rewritten instead
    ticket_id: int | None = None  # about this ticket: the customer's Telegram reply to it goes there


@dataclass
class Result:
    replies: list[Reply]
    ticket: Ticket | None = None
    stale: bool = False
    finished: bool = False


def _draft_state(row: drafts.DraftRow) -> DraftState:
    return DraftState(
        step=row.step,
        token=row.token,
        answers=dict(row.answers or {}),
        attachments=list(row.attachments or []),
        history=list(row.history or []),
        editing=row.editing,
    )


def _fields(state: DraftState) -> dict[str, Any]:
    """The draft's columns an intake step writes, copied (the state goes on changing)."""
    return {
        "step": state.step,
        "token": state.token,
        "answers": dict(state.answers),
        "attachments": list(state.attachments),
        "history": list(state.history),
        "editing": state.editing,
    }


_UNREAD = object()


class IntakeService:
    """One customer's intake, step by step, persisted after every step."""

    def __init__(
        self,
        session: AsyncSession,
        customer: Customer,
        lang: str,
        triage: Any,
        policy: DeskPolicy,
        offers: Sequence[OfferProvider] = (),
    ) -> None:
        self.session = session
        self.customer = customer
        self.lang = lang
        self.triage = triage
        self.policy = policy
        self.providers = {provider.name: provider for provider in offers}
        self.dialog = IntakeDialog(triage, lang, OfferStep(offers))
        self._prepared = not offers
        self._row: Any = _UNREAD  # the draft row, read once per update (None: there is none)

    async def _prepare_offers(self, draft: DraftState | None) -> None:
        """Let the offer providers read what they need, when this update may judge a first description."""
        if self._prepared or (draft is not None and draft.step != "description"):
            return
        providers = list(self.providers.values())
        contexts = {provider.name: await provider.prepare(self.session) for provider in providers}
        self.dialog.offers = OfferStep(providers, contexts)
        self._prepared = True

    async def _draft_row(self) -> drafts.DraftRow | None:
        if self._row is _UNREAD:
            self._row = await repos.draft_of(self.session, self.customer.id)
        return self._row

    async def _load(self) -> DraftState | None:
        row = await self._draft_row()
        return _draft_state(row) if row is not None else None

    async def _delete(self) -> None:
        await repos.delete_draft(self.session, self.customer.id)
        self._row = None

    async def has_draft(self) -> bool:
        return await self._draft_row() is not None

    async def start(self, description: str | None = None, file: UserInput | None = None) -> Result:
        """/new or a free message: resume an open draft, or begin a new one with what was sent (words,
        or a file: `UserInput.of_file`). A new request ends the conversation about an earlier ticket."""
        customer_messages.end_conversation(self.customer)
        self.session.add(self.customer)
        existing = await self._load()
        if existing is not None and description and existing.step == "description":
            # "/new the printer is jammed" while the open form asks for just that: the words are its answer
            await self._prepare_offers(existing)
            return await self._apply(self.dialog.handle(existing, UserInput.of_text(description)))
        if existing is not None:
            turn = self.dialog.resume(existing)
            turn.notes.insert(0, t(self.lang, "intake.continue_draft"))
            return await self._apply(turn)
        refusal = await open_ticket_refusal(self.session, self.customer, self.policy, self.lang)
        if refusal is not None:  # before the form: no effort spent on a request that cannot be registered
            return Result([Reply(refusal)], finished=True)
        await self._prepare_offers(None)
        if file is not None:
            turn = self.dialog.handle(self.dialog.begin().draft, file)
        else:
            turn = self.dialog.begin(description)
        closed = promise.closed_notice(self.customer, self.policy, self.lang, now_utc())
        if closed:
            turn.notes.insert(0, closed)
        return await self._apply(turn)

    async def handle(self, event: UserInput) -> Result | None:
        """Apply one input to the open draft; None when there is no draft."""
        draft = await self._load()
        if draft is None:
            return None
        await self._prepare_offers(draft)
        return await self._apply(self.dialog.handle(draft, event))

    async def current(self) -> Result | None:
        draft = await self._load()
        return None if draft is None else await self._apply(self.dialog.resume(draft))

    async def reminder(self) -> list[Reply]:
        """The open form's question again, said to be where we stopped: sent after a side command (/my,
        /status, /help) answered in the middle of the form, so the customer sees how to go on. Nothing when
        no form is open."""
        draft = await self._load()
        if draft is None:
            return []
        turn = self.dialog.resume(draft)
        turn.notes.insert(0, t(self.lang, "intake.back_to_question"))
        return (await self._apply(turn)).replies

    async def cancel(self) -> Result:
        if not await self.has_draft():
            return Result([Reply(t(self.lang, "intake.nothing_to_cancel"))])
        await self._delete()
        return Result([Reply(t(self.lang, "intake.cancelled"), remove_keyboard=True)], finished=True)

    async def _apply(self, turn: Turn) -> Result:
        settled = [await self.providers[e.provider].record(self.session, self.customer, e) for e in turn.events]
        if turn.outcome == Outcome.SETTLED:
            await self._delete()
            messages = [*turn.notes, *(text for s in settled if s is not None for text in s.messages)]
            ticket = next((s.ticket for s in settled if s is not None and s.ticket is not None), None)
            about = ticket.id if ticket is not None else None
            replies = [Reply(text, remove_keyboard=True, ticket_id=about) for text in messages]
            return Result(replies, ticket=ticket, finished=True)
        if turn.outcome == Outcome.CANCELLED:
            await self._delete()
            return Result([Reply(t(self.lang, "intake.cancelled"), remove_keyboard=True)], finished=True)
        if turn.outcome == Outcome.CONFIRMED:
            refusal = await open_ticket_refusal(self.session, self.customer, self.policy, self.lang)
            if refusal is not None:  # reached meanwhile: the draft is kept, Confirm works once one is closed
                again = self.dialog.resume(turn.draft)
                again.notes.insert(0, refusal + "\n\n" + t(self.lang, "intake.open_ticket_cap_kept"))
                return await self._apply(again)
            registered = await self._register(turn.draft)
            await self._delete()
            return Result([self._registered(registered)], ticket=registered.ticket, finished=True)
        assert self.customer.id is not None  # a customer the intake talks to is stored
        self._row = drafts.save(self.session, await self._draft_row(), self.customer.id, _fields(turn.draft), now_utc())
        if turn.quiet:
            return Result([])
        text = "\n\n".join([*turn.notes, turn.prompt.text if turn.prompt else ""]).strip()
        coalesce = f"intake-receipt:{turn.draft.token}" if turn.receipt else None
        shown = [Reply(message) for message in turn.messages]
        return Result([*shown, Reply(text, prompt=turn.prompt, coalesce=coalesce)], stale=turn.stale)

    async def _register(self, draft: DraftState) -> registration.Registered:
        a = draft.answers
        forced = TicketType(a["forced_type"]) if a.get("forced_type") else None
        result = self.triage.classify(
            a["description"],
            impact=Impact(a["impact"]) if a.get("impact") else None,
            urgency=Urgency(a["urgency"]) if a.get("urgency") else None,
            ticket_type=forced,
            category=Category(a["category"]) if a.get("category") else None,
        )
        new = tickets.NewTicket(
            description=a["description"],
            classification=tickets.Classification.of(result),
            service=a.get("service"),
            contact=a.get("contact"),
            phone=a.get("phone"),
            attachments=list(draft.attachments),
            language=self.lang,
            service_key=a.get("service_id"),
        )
        declined = [str(state.get("ref")) for state in offers.declined_states(a, KnownOutageOffers.name)]
        return await registration.register(
            self.session, self.customer, new, self.policy, text_key="intake.registered", declined=declined
        )

    def _registered(self, registered: registration.Registered) -> Reply:
        ticket = registered.ticket
        buttons = views.status_button(ticket, self.lang)
        return Reply(registered.text, buttons=buttons, remove_keyboard=False, ticket_id=ticket.id)
