"""When a customer's message cannot be handled: never silence. Tell the staff and apologise.

Only for a person: an update with no usable sender (a bot, a channel, a forged payload) has nobody
waiting for an answer and nothing for the staff to do; it is logged and counted for the operator.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import outbox
from helpdesk.i18n import t
from helpdesk.people import customer_language
from helpdesk.policy import DeskPolicy
from storage import repos


async def update_parked(
    session: AsyncSession,
    *,
    chat_id: int | None,
    user_id: int | None,
    who: str,
    error_id: str,
    policy: DeskPolicy,
) -> None:
    if user_id is None:
        return
    customer = await repos.customer_by_telegram_id(session, user_id)
    ticket_note = ""
    if customer is not None:
        open_tickets = await repos.tickets_of_customer(session, customer.id, open_only=True, limit=1)
        if open_tickets:
            ticket_note = t(policy.default_language, "staff.update_parked_ticket", number=open_tickets[0].number)
    if policy.staff_chat_id is not None:
        outbox.send_text(
            session,
            policy.staff_chat_id,
            t(policy.default_language, "staff.update_parked", who=who, error_id=error_id, ticket=ticket_note),
        )
    if chat_id is not None and chat_id > 0:
        lang = customer_language(customer, policy.default_language)
        outbox.send_text(session, chat_id, t(lang, "errors.apology"))
