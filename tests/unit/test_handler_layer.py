"""The handler layer stays framework-free, and its route table is the whole public surface of commands."""

from __future__ import annotations

import subprocess
import sys

from bot.handlers.audience import AGENT, CUSTOMER, STAFF_AGENT
from bot.handlers.routes import ROUTES
from bot.handlers.routing import OnButton, OnCommand
from helpdesk import callbacks
from tests.conftest import REPO_ROOT


def test_the_handler_layer_imports_no_telegram_framework() -> None:
    code = (
        "import sys, bot.handlers.routes, bot.inbox, bot.polling, bot.webhook\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'aiogram', 'telegram'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_command_and_button_has_a_route_and_an_audience() -> None:
    commands = {(r.name, r.audience) for r in ROUTES if isinstance(r, OnCommand)}
    agent = {"queue", "ticket", "take", "assign", "reply", "ask", "status", "resolve", "close", "reopen", "retype",
             "priority", "stats", "export", "major", "link", "unlink", "outage", "kb", "canned", "open",
             "escalate"}  # fmt: skip
    customer = {"start", "new", "status", "my", "cancel", "help", "lang"}
    staff_only = {"help"}  # the agent commands listed to an agent in the staff chat (a customer's /help elsewhere)
    assert commands == (
        {(c, AGENT) for c in agent} | {(c, CUSTOMER) for c in customer} | {(c, STAFF_AGENT) for c in staff_only}
    )
    prefixes = {r.prefix for r in ROUTES if isinstance(r, OnButton)}
    assert prefixes == {callbacks.INTAKE, callbacks.MENU, callbacks.STATUS, callbacks.FIXED, callbacks.RATE,
                        callbacks.FOR_TICKET, callbacks.ANSWER, callbacks.LANG, callbacks.AGENT, callbacks.MAJOR,
                        callbacks.CAUSE}  # fmt: skip
