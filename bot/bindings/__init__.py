"""Thin bindings of the bot to a Telegram framework (BOT_RUNTIME): aiogram 3 and python-telegram-bot."""
