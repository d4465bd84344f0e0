"""`python -m bot console`: the same intake in a terminal registers a real ticket, no token needed."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.botproc import run_cli


def test_console_registers_a_real_ticket(tmp_path: Path) -> None:
    attachment = tmp_path / "screenshot.png"
    attachment.write_bytes(b"\x89PNG fake")
    script = "\n".join(
        [
            "Принтер в бухгалтерии зажевал бумагу и не печатает",
            "1",  # the printer (offered first because it was named)
            "2",  # my team
            "1",  # work stopped
            str(attachment),
            "1",  # done
            "+7 900 000-00-00",
            "1",  # confirm
            "/quit",
        ]
    )
    db = tmp_path / "console.db"
    result = run_cli(
        ["console", "--lang", "ru"],
        {"DATABASE_URL": f"sqlite:///{db}"},
        workdir=tmp_path,
        input=script + "\n",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Принтер или сканер" in out and "Получено файлов: 1" in out
    number = re.search(r"ticket (INC-\d{6}) registered", out)
    assert number, out
    status = run_cli(
        ["console", "--lang", "ru"], {"DATABASE_URL": f"sqlite:///{db}"}, workdir=tmp_path, input="/quit\n", timeout=60
    )
    assert status.returncode == 0


def test_console_cancel_and_bad_input(tmp_path: Path) -> None:
    script = "\n".join(["hi", "The VPN disconnects every five minutes from home", "99", "/cancel", "/quit"])
    result = run_cli(
        ["console"],
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"},
        workdir=tmp_path,
        input=script + "\n",
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "a bit short" in result.stdout
    assert "Request cancelled" in result.stdout
    assert "Traceback" not in result.stderr
