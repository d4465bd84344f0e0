"""KB_DIR: articles load strictly, a bad one is named with its file, and every article renders for Telegram."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk.knowledge.articles import KnowledgeBaseError, load_knowledge_base
from helpdesk.markdown_html import MESSAGE_LIMIT, utf16_length

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "kb-sample"


def write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(text, encoding="utf-8")


def article(directory: Path, name: str, en: str = "# VPN\nInstall it.", ru: str = "# VPN\nУстановите.") -> None:
    write(directory, f"{name}.en.md", en)
    write(directory, f"{name}.ru.md", ru)


def test_no_directory_configured_means_no_self_help() -> None:
    assert not load_knowledge_base(None)
    assert not load_knowledge_base("")


def test_an_empty_directory_means_no_self_help(tmp_path: Path) -> None:
    kb = load_knowledge_base(tmp_path)
    assert not kb and len(kb) == 0 and kb.names == ()


def test_a_configured_directory_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="no such directory"):
        load_knowledge_base(tmp_path / "missing")
    write(tmp_path, "file.md", "x")
    with pytest.raises(KnowledgeBaseError, match="not a directory"):
        load_knowledge_base(tmp_path / "file.md")


def test_articles_load_with_titles_and_bodies_in_both_languages(tmp_path: Path) -> None:
    article(tmp_path, "vpn", "# Set up the VPN\n\nInstall **the client**.", "# Как настроить VPN\n\nУстановите клиент.")
    article(tmp_path, "wifi")
    write(tmp_path, "README.md", "# About this folder")  # ignored
    write(tmp_path, "diagram.png", "not text")  # ignored
    write(tmp_path, ".hidden.en.md", "")  # ignored
    kb = load_knowledge_base(tmp_path)
    assert kb.names == ("vpn", "wifi")
    vpn = kb.get(" VPN ")
    assert vpn is not None and vpn.title("en") == "Set up the VPN" and vpn.title("ru") == "Как настроить VPN"
    assert vpn.title("de") == "Set up the VPN"  # an unsupported language reads English
    assert vpn.messages("en") == ["<b>Set up the VPN</b>\n\nInstall <b>the client</b>."]
    assert kb.get("printer") is None


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"vpn.en.md": "VPN\ntext", "vpn.ru.md": "# VPN\nтекст"}, "vpn.en.md: the first line must be the title"),
        ({"vpn.en.md": "#VPN\ntext", "vpn.ru.md": "# VPN\nтекст"}, "vpn.en.md: the first line must be the title"),
        ({"vpn.en.md": "# VPN\n\n   \n", "vpn.ru.md": "# VPN\nтекст"}, "vpn.en.md: no text after the title"),
        ({"vpn.en.md": "", "vpn.ru.md": "# VPN\nтекст"}, "vpn.en.md: empty file"),
        ({"vpn.en.md": "# VPN\ntext"}, "vpn: no vpn.ru.md"),
        ({"vpn.de.md": "# VPN\ntext"}, "vpn.de.md: name must be NAME.en.md or NAME.ru.md"),
        ({"notes.md": "# Notes\ntext"}, "notes.md: name must be NAME.en.md or NAME.ru.md"),
        ({"My VPN.en.md": "# VPN\nt", "My VPN.ru.md": "# VPN\nт"}, "My VPN.en.md: NAME must be 1-32 lowercase"),
        ({"vpn.en.md": "# " + "x" * 200 + "\ntext", "vpn.ru.md": "# VPN\nт"}, "vpn.en.md: title longer than 120"),
    ],
)
def test_a_malformed_article_refuses_the_directory_naming_the_file(
    tmp_path: Path, files: dict[str, str], problem: str
) -> None:
    article(tmp_path, "wifi")  # a good article does not save a directory with a bad one
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base(tmp_path)
    message = str(caught.value)
    assert problem in message and str(tmp_path) in message and "\n" not in message


def test_every_problem_is_named_in_one_line(tmp_path: Path) -> None:
    write(tmp_path, "a.en.md", "no title")
    write(tmp_path, "a.ru.md", "# A\nтекст")
    write(tmp_path, "b.ru.md", "# B\nтекст")
    (tmp_path / "c.en.md").write_bytes(b"# C\n\xff\xfe not utf-8")
    write(tmp_path, "c.ru.md", "# C\nтекст")
    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base(tmp_path)
    message = str(caught.value)
    assert "3 problems" in message and "a.en.md" in message and "b: no b.en.md" in message
    assert "c.en.md: not UTF-8 text" in message and "\n" not in message


def test_a_byte_order_mark_and_windows_line_ends_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "vpn.en.md").write_bytes("\ufeff# VPN\r\n\r\nInstall it.\r\n".encode())
    write(tmp_path, "vpn.ru.md", "# VPN\nУстановите.")
    assert load_knowledge_base(tmp_path).get("vpn").messages("en") == ["<b>VPN</b>\n\nInstall it."]  # type: ignore[union-attr]


def test_a_long_article_is_split_into_messages_telegram_accepts(tmp_path: Path) -> None:
    step = "open the <settings> & press **Next** 😀 " + "and wait " * 20
    steps = "\n".join(f"{i}. Step {i}: {step}" for i in range(1, 80))
    article(tmp_path, "long", f"# A long guide\n\n{steps}", "# Длинная инструкция\n\nТекст.")
    messages = load_knowledge_base(tmp_path).get("long").messages("en")  # type: ignore[union-attr]
    assert len(messages) > 1 and messages[0].startswith("<b>A long guide</b>")
    assert all(utf16_length(m) <= MESSAGE_LIMIT for m in messages)
    assert "&lt;settings&gt; &amp; press <b>Next</b>" in messages[0]
    assert messages[-1].rstrip().endswith("and wait")


def test_the_sample_knowledge_base_loads_and_every_article_fits_telegram() -> None:
    kb = load_knowledge_base(SAMPLE)
    assert len(kb) >= 12
    assert {"office-wifi", "vpn-setup", "password-reset", "guest-wifi", "mfa-new-phone"} <= set(kb.names)
    for item in kb:
        for lang in ("en", "ru"):
            messages = item.messages(lang)
            assert len(messages) == 1 and utf16_length(messages[0]) <= MESSAGE_LIMIT
            assert messages[0].startswith(f"<b>{item.title(lang)}</b>\n\n")
