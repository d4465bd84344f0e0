"""The aiogram Dispatcher with our routers, most specific first."""

from __future__ import annotations

from aiogram import Dispatcher

from bot.routers import agent, conversation, customer, fallback, staff, survey


def build_dispatcher() -> Dispatcher:
    dp = Dispatcher(disable_fsm=True)  # no handler keeps FSM state: the intake's state is in the database
    # agents first: their routers match agents only, everyone else falls through to the customer's
    dp.include_routers(staff.router, agent.router, conversation.router, survey.router, customer.router, fallback.router)
    return dp
