"""`python -m bot console`: a customer's chat in a terminal, as good as the Telegram chat — real tickets,
/status, /my, /help, /cancel, any text, both languages, no buttons it cannot press, a clean exit."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.console import run_console
from dialogs.intake import DESCRIPTION_MAX_CHARS
from helpdesk.i18n import catalog, t, to_plain
from storage.db import Database
from storage.models import Draft
from tests.support.botproc import REPO_ROOT, child_env, run_cli


@pytest.fixture
def settings(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    cache = tmp_path_factory.getbasetemp() / "triage-cache"
    return Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'console.db'}", triage_cache_dir=cache)


def talk(settings: Settings, *lines: str, lang: str | None = "en", user_id: int = 1) -> str:
    """What the console prints for these typed lines (then the end of the input, like Ctrl-D)."""
    out = io.StringIO()
    assert (
        run_console(
            settings, lang=lang, user_id=user_id, stdin=io.StringIO("".join(f"{x}\n" for x in lines)), stdout=out
        )
        == 0
    )
    return out.getvalue()


def drafts(settings: Settings) -> int:
    import asyncio

    from sqlmodel import func, select

    async def count() -> int:
        db = Database(settings.database_url)
        try:
            async with db.read() as session:
                return (await session.exec(select(func.count()).select_from(Draft))).one()
        finally:
            await db.dispose()

    return asyncio.run(count())


def number(text: str) -> str:
    found = re.findall(r"(?:INC|REQ)-\d{6}", text)
    assert found, text
    return found[-1]


# -- the whole intake, as a newcomer would type it -----------------------------------------------------


LONG_RU = ("Принтер в бухгалтерии не печатает, на экране ошибка 0x80070005, перезагрузка не помогает. " * 4)[:300]


def test_a_300_character_first_answer_attachment_and_contact_register_a_ticket(tmp_path: Path) -> None:
    """The first release crashed with "File name too long" here: a line is never taken for a file name."""
    attachment = tmp_path / "screenshot.png"
    attachment.write_bytes(b"\x89PNG fake")
    script = [LONG_RU, "1", "2", "1", str(attachment), "1", "+7 900 000-00-00", "1", "/quit"]
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}"}
    result = run_cli(["console", "--lang", "ru"], env, workdir=tmp_path, input="\n".join(script) + "\n", timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    out = result.stdout
    assert "Принтер или сканер" in out and "Получен 1 файл" in out
    ticket = number(out)
    assert f"Заявка {ticket} сохранена в {tmp_path / 'console.db'}." in out
    again = run_cli(["console"], env, workdir=tmp_path, input=f"/status {ticket}\n/my\n", timeout=60)
    assert again.returncode == 0 and "Traceback" not in again.stderr
    assert "Принтер в бухгалтерии" in again.stdout  # the customer's language was kept, and the ticket found
    assert f"{ticket} · Новая" in again.stdout


def test_ctrl_c_while_waiting_for_a_line_leaves_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "console"],
        cwd=REPO_ROOT,
        env=child_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("The VPN drops every five minutes when I work from home\n")
        proc.stdin.flush()
        seen = ""
        while "✖ Cancel" not in seen:  # the intake's first question: the line was read and answered
            line = proc.stdout.readline()
            assert line, f"the console ended early: {seen}"
            seen += line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "Bye! Your unfinished request is kept" in out


def test_the_end_of_the_input_and_an_interrupt_leave_cleanly(settings: Settings) -> None:
    assert talk(settings, "The VPN drops every five minutes").rstrip().endswith(t("en", "console.bye_draft"))

    class Interrupted(io.StringIO):
        def __iter__(self) -> Iterator[str]:
            yield "/my\n"
            raise KeyboardInterrupt

    out = io.StringIO()
    assert run_console(settings, lang="en", stdin=Interrupted(), stdout=out) == 0
    assert out.getvalue().rstrip().endswith(t("en", "console.bye_draft"))


def test_quitting_at_once_leaves_no_draft(settings: Settings) -> None:
    out = talk(settings, "/quit")
    assert t("en", "start.welcome", name="Console")[:20] in out and out.rstrip().endswith("Bye!")
    assert drafts(settings) == 0
    talk(settings, "/my", "/help")
    assert drafts(settings) == 0


# -- any text ----------------------------------------------------------------------------------------


def test_any_length_script_and_bytes_are_answered_politely(settings: Settings) -> None:
    typed = "🖨️💥 <b>принтер</b> & сканер 打印机 не работают, всё стоит с утра /etc/passwd"
    out = talk(settings, "x" * 10_000, "/" + "z" * 400, typed, *["1"] * 8, "/my")
    assert t("en", "intake.description_too_long", count=DESCRIPTION_MAX_CHARS) in out
    assert t("en", "errors.unknown_command") in out
    assert number(out) and "<b>принтер</b> & сканер 打印机" in out  # shown as typed: nothing read as markup
    typed_bytes = b"Printer \xff\xfe\x00 broken since the morning, nothing prints\n" + b"1\n" * 8 + b"/my\n"
    raw = io.TextIOWrapper(io.BytesIO(typed_bytes), encoding="utf-8")
    printed = io.StringIO()
    assert run_console(settings, lang="en", user_id=3, stdin=raw, stdout=printed) == 0
    assert "Printer \ufffd\ufffd\ufffd broken" in printed.getvalue()  # a NUL too, as in the chat


# -- the chat's commands -----------------------------------------------------------------------------


def test_status_my_help_and_cancel_work_as_in_the_chat(settings: Settings) -> None:
    out = talk(settings, "The office printer is jammed and prints nothing", "/cancel", "/cancel")
    assert t("en", "intake.cancelled") in out and t("en", "intake.nothing_to_cancel") in out
    registered = talk(settings, "The office printer is jammed and prints nothing", *["1"] * 8)
    ticket = number(registered)
    out = talk(settings, f"/status {ticket}", "/status", "/my", "/help", "1")
    assert f"{ticket} · Incident" in out and t("en", "status.usage") in out
    assert t("en", "status.my_title").replace("<b>", "").replace("</b>", "") in out
    assert "/attach PATH" in out  # the console's own commands are in /help
    # someone else's ticket number reads exactly like a number that does not exist
    foreign = talk(settings, f"/status {ticket}", user_id=2)
    unknown = talk(settings, "/status INC-999999", user_id=2)
    assert t("en", "status.not_found", number=ticket) in foreign
    assert foreign.replace(ticket, "N") == unknown.replace("INC-999999", "N")


def test_my_and_status_in_the_middle_of_the_form_ask_its_question_again(settings: Settings) -> None:
    ticket = number(talk(settings, "The office printer is jammed and prints nothing", *["1"] * 8))
    out = talk(settings, "Wi-Fi keeps dropping in the meeting room", "/my", f"/status {ticket}")
    back = to_plain(t("en", "intake.back_to_question"))
    listing, status = out.split(to_plain(t("en", "status.my_title")))[1].split(f"{ticket} · Incident")
    assert back in listing and back in status  # each answer, then the question it interrupted
    assert "\n  [2] " in status.split(back)[1]  # with its choices, numbered to press (after the Status button)


def test_the_language_is_the_customers_and_can_be_changed(settings: Settings) -> None:
    out = talk(settings, "/lang", "2", "/my", lang=None)
    assert t("en", "lang.prompt") in out and t("ru", "lang.changed") in out
    assert t("ru", "status.my_empty") in out
    assert t("ru", "console.welcome_note") in talk(settings, "/help", lang=None)  # remembered
    assert t("ru", "console.bye") in talk(settings, lang=None)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_no_buttons_the_console_cannot_press(settings: Settings, lang: str, tmp_path: Path) -> None:
    """Every numbered choice does something; the texts that name Telegram's own things (the share-phone
    button, sending files) are said the console's way."""
    proof = tmp_path / "photo.jpg"
    proof.write_bytes(b"jpeg")
    text = "Принтер не печатает, горит красная лампа" if lang == "ru" else "The printer shows a red light and stops"
    out = talk(settings, text, "1", "2", "1", f"/attach {proof}", "1", "/skip", "1", "1", lang=lang)
    assert number(out)
    assert t(lang, "button.share_phone") not in out
    for key in (k for k in catalog(lang) if k.startswith("console.instead.")):
        chat_text = t(lang, key.removeprefix("console.instead."))
        assert chat_text.split("\n")[-1] not in out, key
    assert "(/quit" not in out or lang == "en"  # the welcome note is in the customer's language
    assert t(lang, "console.welcome_note") in out


def test_articles_are_offered_in_the_console_as_in_the_chat(settings: Settings, tmp_path: Path) -> None:
    kb = settings.model_copy(update={"kb_dir": str(REPO_ROOT / "docs" / "kb-sample")})
    solved = talk(kb, "How do I connect to the office Wi-Fi?", "1", "1")
    assert "[1] 📄 Connect to the office Wi-Fi" in solved and "Office-Corp" in solved
    assert "Nothing was registered" in solved and not re.search(r"(?:INC|REQ)-\d{6}", solved)
    still = talk(kb, "How do I connect to the office Wi-Fi?", "1", "2", user_id=2)
    assert "your description is kept" in still and drafts(kb) == 1


def test_a_malformed_article_is_one_error_before_the_chat(tmp_path: Path) -> None:
    (tmp_path / "wifi.en.md").write_text("no title\n", encoding="utf-8")
    result = run_cli(["console"], {"KB_DIR": tmp_path, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: KB_DIR: {tmp_path}: 2 problems: wifi.en.md: the first line must be the title, as '# Title'; "
        "wifi: no wifi.ru.md"
    ]
