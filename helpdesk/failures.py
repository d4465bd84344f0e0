"""When a customer's message cannot be handled: never silence. Tell the staff and apologise.

Only for a person: an update with no usable sender (a bot, a channel, a forged payload) has nobody
waiting for an answer and nothing for the staff to do; it is logged and counted for the operator.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from helpdesk import outbox
from helpdesk.i18n import pick_language, t
from helpdesk.people import customer_language
from helpdesk.policy import DeskPolicy
from storage import repos
from storage.models import Customer

#: the staff's text for what failed: (a button press?, in a private chat?)
_PARKED = {
    (False, True): "staff.update_parked",
    (False, False): "staff.update_parked_group",
    (True, True): "staff.update_parked_press",
    (True, False): "staff.update_parked_press_group",
}


async def update_parked(
    session: AsyncSession,
    *,
    chat_id: int | None,
    user_id: int | None,
    who: str,
    error_id: str,
    policy: DeskPolicy,
    pressed: bool = False,
    language_code: str | None = None,
) -> str | None:
    """Tell the staff what failed, worded for its kind (a message or a button press, in a private chat or
    a group: `chat_id` is given for a private chat only), and apologise to a person in a private chat.
    A press's note for its button is returned (`press_apology`, with the customer read here), None else."""
    if user_id is None:
        return None
    customer = await repos.customer_by_telegram_id(session, user_id)
    ticket_note = ""
    if customer is not None and chat_id is not None:  # in a group the sender is staff, not a customer
        open_tickets = await repos.tickets_of_customer(session, customer.id, open_only=True, limit=1)
        if open_tickets:
            ticket_note = t(policy.default_language, "staff.update_parked_ticket", number=open_tickets[0].number)
    if policy.staff_chat_id is not None:
        outbox.send_text(
            session,
            policy.staff_chat_id,
            t(
                policy.default_language,
                _PARKED[pressed, chat_id is not None],
                who=who,
                error_id=error_id,
                ticket=ticket_note,
            ),
        )
    if chat_id is not None and chat_id > 0:
        outbox.send_text(session, chat_id, t(apology_language(customer, language_code, policy), "errors.apology"))
    return press_apology(customer, language_code, policy) if pressed else None


def press_apology(customer: Customer | None, language_code: str | None, policy: DeskPolicy) -> str:
    """The short note on a button press that could not be handled (its spinner must stop, never hang), in
    the presser's language (`apology_language`; `customer` None when the database is the problem)."""
    return t(apology_language(customer, language_code, policy), "errors.press_failed")


def apology_language(customer: Customer | None, language_code: str | None, policy: DeskPolicy) -> str:
    """One rule for every apology: the customer's /lang choice or stored Telegram language, else the
    Telegram language of the update (a newcomer, or no database to ask), else the desk's language."""
    return customer_language(customer, pick_language(language_code, default=policy.default_language))
