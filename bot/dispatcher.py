"""The aiogram Dispatcher with our routers, most specific first."""

from __future__ import annotations

from aiogram import Dispatcher

from bot.routers import customer, fallback


def build_dispatcher() -> Dispatcher:
    dp = Dispatcher()
    dp.include_routers(customer.router, fallback.router)
    return dp
