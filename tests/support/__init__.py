"""Test support: a strict Bot API stand-in, simulated users, the bot process runner, database helpers.

Import it as ``tests.support`` (``tests/conftest.py`` puts the repository root on ``sys.path``), never as
``support``: two import names would give two copies of module state such as the log-file registry.
"""

from __future__ import annotations

from tests.support.botapi import ApiError, Call, FakeBotAPI, Faults, Msg
from tests.support.users import SimChannel, SimGroup, SimUser

__all__ = ["ApiError", "Call", "FakeBotAPI", "Faults", "Msg", "SimChannel", "SimGroup", "SimUser"]
