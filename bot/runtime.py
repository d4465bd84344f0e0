"""Which Telegram framework runs the bot (BOT_RUNTIME): aiogram or python-telegram-bot.

Only the chosen framework is imported: each costs start-up time and memory, and a deployment on one
need not load the other.
"""

from __future__ import annotations

from bot.bot_api import Runtime

RUNTIMES = ("aiogram", "ptb")


def make_runtime(name: str, token: str, api_url: str) -> Runtime:
    """The runtime BOT_RUNTIME names (see the module docstring for the imports in here)."""
    if name == "aiogram":
        from bot.bindings.aiogram3 import AiogramRuntime

        return AiogramRuntime(token, api_url)
    if name == "ptb":
        from bot.bindings.ptb import PtbRuntime

        return PtbRuntime(token, api_url)
    raise ValueError(f"BOT_RUNTIME must be one of {', '.join(RUNTIMES)}, got {name!r}")
