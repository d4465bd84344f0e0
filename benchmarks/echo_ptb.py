"""The python-telegram-bot baseline for benchmarks/throughput.py --runtime ptb: a bare ptb echo bot.

ptb's Application + run_polling, `message.reply_text(text)`; a button press: answerCallbackQuery and a
message with the button's data. No database, no outbox, no limits.
    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:PORT python benchmarks/echo_ptb.py
"""

from __future__ import annotations

import logging
import os

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters


async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.message is not None:
        await update.message.reply_text(update.message.text or ".")


async def pressed(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is not None:
        await query.answer()
        if query.message is not None:
            await query.message.reply_text(query.data or ".")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    api = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org")
    app = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{api}/bot")
        .concurrent_updates(True)  # as the aiogram echo bot, which handles updates concurrently
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    app.run_polling(poll_interval=0, timeout=int(os.environ.get("POLL_TIMEOUT", "10")))


if __name__ == "__main__":
    main()
