"""The baseline for benchmarks/throughput.py: a bare aiogram echo bot (Dispatcher + start_polling).

No database, no outbox, no limits: it answers every text with the same text, straight from the handler,
and a button press as a bot that reacts to buttons must: it stops the button's spinner
(answerCallbackQuery) and answers with a message carrying the button's data.
    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:PORT python benchmarks/echo_bot.py
"""

from __future__ import annotations

import asyncio
import logging
import os

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message

dp = Dispatcher()


@dp.message(F.text)
async def echo(message: Message) -> None:
    await message.answer(message.text or ".", parse_mode=None)


@dp.callback_query()
async def pressed(query: CallbackQuery) -> None:
    await query.answer()
    if query.message is not None:
        await query.message.answer(query.data or ".", parse_mode=None)


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    api = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org")
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=AiohttpSession(api=TelegramAPIServer.from_base(api)))
    await dp.start_polling(bot, polling_timeout=int(os.environ.get("POLL_TIMEOUT", "10")), handle_signals=True)


if __name__ == "__main__":
    asyncio.run(main())
