"""What a handler gets: the update, the transaction it works in, who is talking, and a way to answer.

Answers go to the outbox in the handler's own transaction, together with the inbox row being marked
done, so a crash either keeps everything or nothing, and a redelivered update answers once. The one
thing said to Telegram directly is the answer to a button press (it stops the button's spinner), after
the commit, through the runtime's `ButtonAnswers`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.handlers.update import Update
from helpdesk import outbox
from helpdesk.outbox import Buttons
from helpdesk.people import Person, customer_language, ensure_customer
from helpdesk.policy import DeskPolicy
from helpdesk.teams import Team
from storage.models import Customer


class ButtonAnswers(Protocol):
    """What a runtime provides to answer a button press (answerCallbackQuery)."""

    async def answer_button(self, query_id: str, text: str | None, alert: bool) -> None: ...


@dataclass
class HandlerContext:
    session: AsyncSession
    policy: DeskPolicy
    triage: Any
    answers: ButtonAnswers
    update: Update
    after_commit: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    outcome: str = "handled"
    _customer: Customer | None = None
    _lang: str | None = None

    @property
    def update_id(self) -> int:
        return self.update.update_id

    @property
    def chat_id(self) -> int | None:
        return self.update.chat_id

    @property
    def chat_type(self) -> str | None:
        return self.update.chat_type

    @property
    def person(self) -> Person | None:
        return self.update.sender

    @property
    def is_agent(self) -> bool:
        """Checked on every update from AGENT_IDS; anonymous admins have no `person` and never qualify."""
        return self.person is not None and self.policy.is_agent(self.person.user_id)

    @property
    def is_private(self) -> bool:
        return self.chat_type == "private"

    @property
    def in_staff_chat(self) -> bool:
        """The general staff chat or a team's (TEAMS): where cards are and agents work."""
        return self.policy.is_staff_chat(self.chat_id)

    @property
    def team(self) -> Team | None:
        """The team whose chat (or forum topic) this update came from; None: the general desk, a private chat."""
        message = self.update.message
        thread_id = message.thread_id if message is not None else None
        return self.policy.teams.at(self.chat_id, thread_id, self.policy.staff_chat_id)

    async def customer(self) -> Customer:
        """The sender as a customer (private chats), created on first contact."""
        if self._customer is None:
            if self.person is None:
                raise RuntimeError("no sender")
            self._customer = await ensure_customer(self.session, self.person)
        return self._customer

    async def lang(self) -> str:
        if self._lang is None:
            if self.is_private and self.person is not None:
                self._lang = customer_language(await self.customer(), self.policy.default_language)
            else:
                self._lang = self.policy.default_language
        return self._lang

    def set_lang(self, lang: str) -> None:
        self._lang = lang

    def reply(
        self,
        text: str,
        *,
        buttons: Buttons | None = None,
        reply_markup: dict[str, Any] | None = None,
        reply_to_message_id: int | None = None,
        thread_id: int | None = None,
        ticket_id: int | None = None,
        link_kind: str | None = None,
    ) -> outbox.OutboxRow:
        """Answer in the chat the update came from."""
        if self.chat_id is None:
            raise RuntimeError("this update has no chat to answer in")
        return outbox.send_text(
            self.session,
            self.chat_id,
            text,
            buttons=buttons,
            reply_markup=reply_markup,
            reply_to_message_id=reply_to_message_id,
            thread_id=thread_id,
            ticket_id=ticket_id,
            link_kind=link_kind,
        )

    def answer_button(self, text: str | None = None, *, alert: bool = False) -> None:
        """Stop the pressed button's spinner (with a note) once the transaction is committed."""
        press = self.update.press
        if press is None:
            raise RuntimeError("this update is no button press")

        async def _answer() -> None:
            try:
                await self.answers.answer_button(press.query_id, text, alert)
            except Exception:  # an old query id, a network blip: the spinner stops by itself
                return

        self.after_commit.append(_answer)
