"""`python -m bot console`: a customer's chat with the desk in a terminal, registering real tickets in the
configured database, no Telegram and no token needed (the conversation itself: bot/console_chat.py).

Typing a number presses the button shown with it; any other line is a message or a command (/help).
/quit, Ctrl-D and Ctrl-C leave without a traceback; an unfinished request is kept for next time.
Lines are read outside the event loop, so Ctrl-C always interrupts at once.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterator
from typing import TextIO

from bot.config import Settings
from bot.console_chat import ConsoleChat
from bot.database import open_database
from bot.intake_offers import load_self_help
from helpdesk.triage import get_triage

QUIT = ("/quit", "/exit")


def run_console(
    settings: Settings,
    *,
    lang: str | None = None,
    user_id: int = 1,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Talk until /quit, the end of the input or Ctrl-C; exit code 0."""
    stdin, out = stdin or sys.stdin, stdout or sys.stdout
    policy = settings.policy()
    load_self_help(policy)  # a malformed article: one error line before the chat begins
    _tolerate_any_text(stdin, out)
    with asyncio.Runner() as runner:
        db = runner.run(open_database(settings))
        chat = ConsoleChat(db, policy, get_triage(settings.triage_cache_dir), user_id, lang)
        try:
            _show(out, runner.run(chat.welcome()))
            for line in _lines(stdin, out):
                if line.strip().lower() in QUIT:
                    break
                _show(out, runner.run(chat.say(line)))
        except KeyboardInterrupt:
            print(file=out)  # end the line the ^C was typed on
        finally:
            try:
                _show(out, runner.run(chat.farewell()))
            finally:
                runner.run(db.dispose())
    return 0


def _lines(stdin: TextIO, out: TextIO) -> Iterator[str]:
    """Typed lines: with line editing and a prompt in a terminal, plain lines from a pipe or a file."""
    if stdin is not sys.stdin or not stdin.isatty():
        yield from stdin
        return
    import readline  # noqa: F401  (arrow keys and history for input(); only in a terminal)

    while True:
        try:
            yield input("› ")
        except EOFError:  # Ctrl-D
            print(file=out)
            return


def _show(out: TextIO, text: str) -> None:
    if text.strip():
        print(text, file=out, flush=True)


def _tolerate_any_text(*streams: TextIO) -> None:
    """Bytes that are not valid in the terminal's encoding become replacement marks, never an error."""
    for stream in streams:
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
