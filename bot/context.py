"""What a handler gets: the transaction it works in, who is talking, and a way to answer.

Answers go to the outbox in the handler's own transaction, together with the inbox row being marked
done, so a crash either keeps everything or nothing, and a redelivered update answers once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import outbox
from helpdesk.outbox import Buttons
from helpdesk.people import Person, customer_language, ensure_customer
from helpdesk.policy import DeskPolicy
from storage.models import Customer


@dataclass
class HandlerContext:
    session: AsyncSession
    policy: DeskPolicy
    triage: Any
    bot: Bot
    update_id: int
    chat_id: int | None
    chat_type: str | None
    person: Person | None
    after_commit: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    outcome: str = "handled"
    _customer: Customer | None = None
    _lang: str | None = None

    @property
    def is_agent(self) -> bool:
        """Checked on every update from AGENT_IDS; anonymous admins have no `person` and never qualify."""
        return self.person is not None and self.policy.is_agent(self.person.user_id)

    @property
    def is_private(self) -> bool:
        return self.chat_type == "private"

    @property
    def in_staff_chat(self) -> bool:
        return self.chat_id is not None and self.chat_id == self.policy.staff_chat_id

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

    def answer_callback(self, callback_query_id: str, text: str | None = None, *, alert: bool = False) -> None:
        """Stop the button's spinner once the transaction is committed (harmless if repeated)."""

        async def _answer() -> None:
            try:
                await self.bot.answer_callback_query(callback_query_id, text=text, show_alert=alert)
            except Exception:  # an old query id, a network blip: the spinner stops by itself
                return

        self.after_commit.append(_answer)
