"""Every setting is explained in `.env.example` and listed in the README, with the default the code has:
adding a field to `Settings` (or `DeskPolicy`) without its documentation fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings
from helpdesk.policy import SLA_CELLS

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = (REPO / ".env.example").read_text(encoding="utf-8")
README = (REPO / "README.md").read_text(encoding="utf-8")
FIELDS = sorted(name.upper() for name in Settings.model_fields)
ENVIRONMENT_ONLY = ["BOT_ENV_FILE"]  # read before any settings file: it names the file
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]+)=(.*)$", re.MULTILINE)


def _readme_settings_table() -> str:
    section = README.split("## Settings\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


@pytest.mark.parametrize("name", FIELDS)
def test_env_example_explains_each_setting_and_its_scope(name: str) -> None:
    lines = EXAMPLE.splitlines()
    at = next(
        (i for i, line in enumerate(lines) if ASSIGNMENT.match(line) and line.lstrip("# ").startswith(f"{name}=")), None
    )
    assert at is not None, f"{name} is not in .env.example"
    above = lines[:at]
    comment = []
    for line in reversed(above):  # the explanation: the nearest comment lines that are not assignments
        if not line.startswith("#") or not line.strip("# "):
            break
        if not ASSIGNMENT.match(line):
            comment.append(line)
        elif comment:
            break
    text = " ".join(reversed(comment))
    assert text, f"{name} has no explanation above it in .env.example"
    assert "[all processes]" in text or "[per process]" in text, f"{name}: say whether it is per process: {text}"


@pytest.mark.parametrize("name", FIELDS + ENVIRONMENT_ONLY)
def test_readme_lists_each_setting(name: str) -> None:
    where = _readme_settings_table() if name not in ENVIRONMENT_ONLY else README
    assert f"`{name}`" in where or f"`{name}=" in where, f"{name} is not in the README's settings table"


def test_environment_only_names_are_explained_in_env_example() -> None:
    for name in ENVIRONMENT_ONLY:
        assert name in EXAMPLE


def test_the_defaults_shown_in_env_example_are_the_code_defaults() -> None:
    """`# NAME=value` shows the default: writing it must change nothing (examples go in the prose)."""
    default = Settings(_env_file=None)
    shown = {m[2]: m[3] for m in ASSIGNMENT.finditer(EXAMPLE)}
    assert set(FIELDS) <= set(shown)
    for name, value in shown.items():
        if not value:
            continue  # NAME= is "not set", which is the default by definition
        given = Settings(_env_file=None, **{name.lower(): value})
        if name.lower() in SLA_CELLS:
            assert given.policy().sla == default.policy().sla, name
        elif name == "PROGRESS_UPDATE_EVERY":
            assert (given.progress_update_p1, given.progress_update_p2) == (
                default.progress_update_p1,
                default.progress_update_p2,
            ), name
        else:
            assert getattr(given, name.lower()) == getattr(default, name.lower()), f"{name}={value} is not the default"
