"""CANNED_REPLIES_FILE: strict loading with the template named in every error, safe rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk.canned_replies import CannedReplies, CannedRepliesError, load_canned_replies
from helpdesk.policy import DeskPolicy
from tests.support.botproc import run_cli

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "canned-replies-sample.toml"


def load(tmp_path: Path, toml: str) -> CannedReplies:
    path = tmp_path / "canned.toml"
    path.write_text(toml, encoding="utf-8")
    return load_canned_replies(path)


def test_not_configured_means_no_templates() -> None:
    assert not load_canned_replies(None) and not load_canned_replies("")


def test_a_template_is_rendered_in_the_customers_language_with_values_escaped(tmp_path: Path) -> None:
    replies = load(
        tmp_path,
        '[restart]\nen = "Hello {customer}! Please **restart** and tell us about {number}. — {agent}"\n'
        'ru = "Здравствуйте, {customer}! Перезагрузитесь и напишите про {number}. — {agent}"\n',
    )
    restart = replies.get("#Restart ")
    assert restart is not None and replies.names == ("restart",)
    values = {"customer": "<Ann & Co>", "number": "INC-000042", "agent": "Bob *the* agent"}
    assert restart.render("en", **values) == (
        "Hello &lt;Ann &amp; Co&gt;! Please <b>restart</b> and tell us about INC-000042. — Bob *the* agent"
    )
    assert restart.render("ru", **values).startswith("Здравствуйте, &lt;Ann &amp; Co&gt;!")
    assert restart.render("de", **values).startswith("Hello")  # an unsupported language reads English
    assert replies.get("nope") is None


def test_literal_braces_and_markdown_survive(tmp_path: Path) -> None:
    replies = load(
        tmp_path, '[json]\nen = "Send `{{\\"id\\": 1}}` for {number}"\nru = "Пришлите {{код}} для {number}"\n'
    )
    assert replies.get("json").render("en", customer="", number="REQ-1", agent="") == (  # type: ignore[union-attr]
        'Send <code>{"id": 1}</code> for REQ-1'
    )
    assert replies.get("json").render("ru", customer="", number="REQ-1", agent="") == "Пришлите {код} для REQ-1"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[hi]\nen = "{custmer}"\nru = "x"\n', "template [hi] (en): unknown placeholder {custmer}; use {customer}"),
        ('[hi]\nen = "Hello {0}"\nru = "Привет"\n', "template [hi] (en): unknown placeholder {0}"),
        ('[hi]\nen = "Hi {customer!r}"\nru = "Привет"\n', "template [hi] (en): write the placeholder as {customer}"),
        ('[hi]\nen = "Hi {customer:>9}"\nru = "Привет"\n', "template [hi] (en): write the placeholder as {customer}"),
        ('[hi]\nen = "Hello {customer"\nru = "Привет"\n', "template [hi] (en): "),
        ('[hi]\nen = "Hello }"\nru = "Привет"\n', "template [hi] (en): "),
        ('[hi]\nen = "Hello"\n', "template [hi]: no 'ru' text"),
        ('[hi]\nen = "Hello"\nru = "   "\n', "template [hi] (ru): empty text"),
        ('[hi]\nen = "Hello"\nru = 5\n', "template [hi] (ru): the text must be a string"),
        ('[hi]\nen = "Hello"\nru = "Привет"\nde = "Hallo"\n', "template [hi]: unknown language 'de'"),
        ('hi = "Hello"\n', "template [hi] must be a table with en and ru texts"),
        ('["Hi there"]\nen = "Hello"\nru = "Привет"\n', "template [Hi there]: name must be 1-32 lowercase"),
        ('[hi]\nen = "' + "x" * 4000 + '"\nru = "Привет"\n', "template [hi] (en): longer than"),
        ("[hi\nen = 1\n", "not valid TOML"),
        ("", "no templates"),
    ],
)
def test_a_malformed_file_is_one_line_naming_the_template(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(CannedRepliesError) as caught:
        load(tmp_path, toml)
    text = str(caught.value)
    assert message in text and "canned.toml" in text and "\n" not in text


def test_a_missing_or_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CannedRepliesError, match="no such file"):
        load_canned_replies(tmp_path / "missing.toml")
    (tmp_path / "latin1.toml").write_bytes(b'[hi]\nen = "caf\xe9"\nru = "x"\n')
    with pytest.raises(CannedRepliesError, match=r"latin1\.toml: not UTF-8 text"):
        load_canned_replies(tmp_path / "latin1.toml")


def test_the_sample_file_loads_and_renders_every_template_in_both_languages() -> None:
    replies = load_canned_replies(SAMPLE)
    assert len(replies) >= 5
    for reply in replies.replies:
        for lang in ("en", "ru"):
            text = reply.render(lang, customer="Anna", number="INC-000042", agent="Boris")
            assert "{" not in text and "}" not in text and text.strip()
    on_site = replies.get("on-site").render("en", customer="Anna", number="INC-000042", agent="Boris")  # type: ignore[union-attr]
    assert "• Who: Boris" in on_site


def test_a_bad_file_stops_every_command_with_one_line_naming_the_setting(tmp_path: Path) -> None:
    """CANNED_REPLIES_FILE is checked with the settings: `python -m bot run` and every other command refuse
    a template without a language with one `error:` line naming the setting and the template, exit 2."""
    bad = tmp_path / "canned.toml"
    bad.write_text('[restart]\nen = "Hello {customer}!"\n', encoding="utf-8")
    env = {"CANNED_REPLIES_FILE": bad, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    for command in (["migrate"], ["run"]):
        result = run_cli(command, {**env, "TELEGRAM_BOT_TOKEN": "123:abc"})
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"error: CANNED_REPLIES_FILE: {bad}: template [restart]: no 'ru' text"
        ]
    missing = run_cli(["migrate"], {**env, "CANNED_REPLIES_FILE": tmp_path / "none.toml"})
    assert missing.returncode == 2 and missing.stderr.strip() == (
        f"error: CANNED_REPLIES_FILE: {tmp_path / 'none.toml'}: no such file"
    )


def test_the_policy_reads_the_file_once_and_follows_a_changed_setting(tmp_path: Path) -> None:
    policy = DeskPolicy(canned_replies_file=str(SAMPLE))
    assert policy.canned_replies is policy.canned_replies and "restart" in policy.canned_replies.names
    assert not policy.model_copy(update={"canned_replies_file": None}).canned_replies
    with pytest.raises(ValueError, match=r"canned_replies_file\n.*unknown placeholder \{custmer\}"):
        path = tmp_path / "typo.toml"
        path.write_text('[a]\nen = "{custmer}"\nru = "{customer}"\n', encoding="utf-8")
        DeskPolicy(canned_replies_file=str(path))
