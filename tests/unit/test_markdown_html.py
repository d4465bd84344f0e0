"""Markdown an operator writes → Telegram HTML that Telegram accepts, in messages within its limit."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk.markdown_html import MESSAGE_LIMIT, Block, plain_text, split_messages, to_blocks, to_html, utf16_length

TELEGRAM_TAGS = {"b", "i", "s", "u", "code", "pre", "a", "blockquote"}
_TAG = re.compile(r'</?(?:b|i|s|u|code|pre|blockquote|a(?: href="[^"<>]*")?)>')
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#\d+);")


class _TagChecker(HTMLParser):
    """Fails on a tag Telegram does not know or on unbalanced tags, as Telegram's parser would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in TELEGRAM_TAGS, tag
        assert tag != "a" or [name for name, _ in attrs] == ["href"]
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, tag


def assert_telegram_html(text: str) -> None:
    checker = _TagChecker()
    checker.feed(text)
    checker.close()
    assert checker.stack == []
    bare = _TAG.sub("", text)
    assert "<" not in bare and ">" not in bare  # every literal bracket is escaped
    assert all(_ENTITY.match(bare, i) for i, ch in enumerate(bare) if ch == "&")


def test_the_markdown_people_use_becomes_telegram_tags() -> None:
    html = to_html(
        "# Wi-Fi\n\nUse **Office-Corp** and *your* login `name.surname`.\n\n"
        "1. Open settings\n2. Pick [the network](https://example.com/wifi)\n\n- one\n- two\n  - nested\n\n"
        "> note\n\n```\ncode <here>\n```\n\n~~old~~"
    )
    assert html.startswith("<b>Wi-Fi</b>\n\nUse <b>Office-Corp</b> and <i>your</i> login <code>name.surname</code>.")
    assert '1. Open settings\n2. Pick <a href="https://example.com/wifi">the network</a>' in html
    assert "• one\n• two\n    ◦ nested" in html
    assert "<blockquote>note</blockquote>" in html
    assert "<pre>code &lt;here&gt;</pre>" in html
    assert "<s>old</s>" in html
    assert_telegram_html(html)


def test_raw_html_and_special_characters_are_shown_as_typed() -> None:
    html = to_html('<b>bold?</b> <script>alert(1)</script> & "quotes" 5 < 6')
    assert html == '&lt;b&gt;bold?&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt; &amp; "quotes" 5 &lt; 6'
    assert_telegram_html(html)


def test_only_web_mail_and_telegram_links_become_links() -> None:
    html = to_html(
        '[a](javascript:alert(1)) [b](/relative/page) [c](mailto:it@example.com) [d](https://x.org/?a=1&b="2")'
    )
    assert '<a href="javascript' not in html
    assert "b (/relative/page)" in html
    assert '<a href="mailto:it@example.com">c</a>' in html
    assert '<a href="https://x.org/?a=1&amp;b=%222%22">d</a>' in html
    assert_telegram_html(html)


def test_plain_text_drops_markup_for_matching() -> None:
    assert plain_text("**Reset** your [password](https://p.example.com) & `login`") == "Reset your password & login"


def test_a_long_document_is_split_between_blocks_within_the_limit() -> None:
    paragraphs = [f"Paragraph {i} with **bold** text and an emoji 😀 " * 8 for i in range(60)]
    blocks = to_blocks("\n\n".join(paragraphs))
    messages = split_messages(blocks, MESSAGE_LIMIT)
    assert len(messages) > 1
    for message in messages:
        assert utf16_length(message) <= MESSAGE_LIMIT
        assert_telegram_html(message)
    rejoined = "\n\n".join(messages)
    assert rejoined == "\n\n".join(b.html for b in blocks)  # nothing lost, nothing reordered


def test_one_block_longer_than_a_message_is_cut_between_words() -> None:
    word = "pass&word "
    messages = split_messages([Block("<b>" + word * 1000 + "</b>")], 500)
    assert len(messages) > 1
    for message in messages:
        assert utf16_length(message) <= 500
        assert_telegram_html(message)
    assert "".join(m.replace("&amp;", "&") + " " for m in messages).split() == ["pass&word"] * 1000


def test_emoji_count_as_two_units_as_telegram_counts_them() -> None:
    assert utf16_length("😀") == 2
    messages = split_messages([Block("😀" * 100)], 50)
    assert all(utf16_length(m) <= 50 for m in messages) and "".join(messages) == "😀" * 100


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab *_`#>-[]()<>&\n1.~😀ё")), max_size=600), st.integers(40, 300))
def test_any_text_renders_to_valid_telegram_html_within_the_limit(text: str, limit: int) -> None:
    for message in split_messages(to_blocks(text), limit):
        assert 0 < utf16_length(message) <= limit
        assert_telegram_html(message)
