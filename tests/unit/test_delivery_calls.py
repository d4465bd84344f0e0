"""A row's Bot API calls (scheduler.delivery.calls): splitting by Telegram's count, fallbacks, answers."""

from __future__ import annotations

from scheduler.delivery.calls import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    calls_for,
    fallback,
    harmless_refusal,
    maybe_sent,
    message_id_of,
    not_modified,
    public,
    split_plain,
    thread_id_of,
    utf16_len,
)
from scheduler.delivery.transport import Transient


def test_split_counts_utf16_and_prefers_boundaries() -> None:
    text = ("😀😀 word " * 900).strip()  # emoji count twice in UTF-16: 2 parts by code points, 3 by Telegram's count
    assert len(text) < TEXT_LIMIT * 2 < utf16_len(text)
    parts = split_plain(text)
    assert all(utf16_len(p) <= TEXT_LIMIT for p in parts) and len(parts) == 3
    assert " ".join(parts).split() == text.split()  # cut between words, nothing lost
    assert split_plain("x" * 5000) == ["x" * 4096, "x" * 904]
    assert split_plain("short") == ["short"]


def test_calls_for_long_html_text_and_caption() -> None:
    payload = {
        "chat_id": 5,
        "text": "<b>Report</b>\n" + "a &amp; b " * 800,
        "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "ok", "callback_data": "x"}]]},
        "reply_parameters": {"message_id": 9},
    }
    calls = calls_for("sendMessage", payload)
    assert len(calls) == 2 and all("parse_mode" not in p for _, p in calls)
    assert calls[0][1]["text"].startswith("Report\na & b")  # the visible text of the HTML
    assert "reply_markup" not in calls[0][1] and "reply_markup" in calls[1][1]
    assert "reply_parameters" in calls[0][1] and "reply_parameters" not in calls[1][1]
    short = {"chat_id": 5, "text": "<b>x</b>" * 1000, "parse_mode": "HTML"}  # 8000 characters of HTML, 1000 visible
    assert calls_for("sendMessage", short) == [("sendMessage", short)]
    caption = {"chat_id": -1, "photo": "F", "caption": "word " * 500, "message_thread_id": 3}
    head, *rest = calls_for("sendPhoto", caption)
    assert head[0] == "sendPhoto" and utf16_len(head[1]["caption"]) <= CAPTION_LIMIT
    assert [m for m, _ in rest] == ["sendMessage"] and rest[0][1]["message_thread_id"] == 3
    assert (head[1]["caption"] + " " + rest[0][1]["text"]).split() == caption["caption"].split()


def test_a_refused_call_goes_again_without_what_was_refused() -> None:
    html = {"chat_id": 5, "text": "<b>a &amp; b</b>", "parse_mode": "HTML", "reply_markup": {"k": 1}}
    plain = fallback(html, "Bad Request: can't parse entities: unsupported start tag")
    assert plain is not None and plain.kind == "plain"
    assert plain.payload == {"chat_id": 5, "text": "a & b", "reply_markup": {"k": 1}}
    topic = fallback({"chat_id": -1, "text": "x", "message_thread_id": 7}, "Bad Request: message thread not found")
    assert topic is not None and topic.kind == "general_topic" and "message_thread_id" not in topic.payload
    keyboard = fallback({"chat_id": 5, "text": "x", "reply_markup": {}}, "Bad Request: BUTTON_DATA_INVALID")
    assert keyboard is not None and keyboard.kind == "no_keyboard" and "reply_markup" not in keyboard.payload
    # "not modified" also says "reply markup": it is success, never a reason to drop the buttons
    unchanged = (
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same"
    )
    assert not_modified(unchanged) and fallback({"chat_id": 5, "reply_markup": {}}, unchanged) is None
    assert fallback({"chat_id": 5, "text": "x"}, "Bad Request: chat not found") is None


def test_what_a_failure_says_about_the_message() -> None:
    assert harmless_refusal("Bad Request: message to edit not found")
    assert not harmless_refusal("Bad Request: chat not found")
    assert maybe_sent(Transient("timeout: no answer from the Bot API"))
    assert maybe_sent(Transient("network: ClientOSError: reset"))
    assert not maybe_sent(Transient("Bad Gateway"))


def test_answers_and_bookkeeping_keys() -> None:
    assert message_id_of({"message_id": 12, "chat": {"id": 5}}) == 12 and message_id_of(True) is None
    assert thread_id_of({"message_thread_id": 77, "name": "INC"}) == 77
    assert thread_id_of({"message_id": 3, "message_thread_id": 77}) is None  # a message in a topic
    assert public({"chat_id": 5, "_inflight": {}, "_parts_sent": 1}) == {"chat_id": 5}
