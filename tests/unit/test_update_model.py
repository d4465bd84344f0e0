"""The handler layer's update model: read once from the Bot API's JSON, leniently, and formatting as HTML."""

from __future__ import annotations

import pytest
from aiogram.types import MessageEntity
from aiogram.utils.text_decorations import html_decoration
from hypothesis import given
from hypothesis import strategies as st

from bot.handlers.entities import entities_html
from bot.handlers.update import (
    Command,
    SharedContact,
    UnreadableUpdate,
    chat_key_of,
    parse_update,
    sender_of,
    storable,
)

USER = {"id": 42, "is_bot": False, "first_name": "Ann", "language_code": "en"}


def message(**fields):
    return {"update_id": 1, "message": {"message_id": 7, "date": 1, "chat": {"id": 42, "type": "private"}, "from": USER,
                                        **fields}}  # fmt: skip


def test_a_command_with_mention_and_arguments_from_text_or_caption() -> None:
    assert parse_update(message(text="/reply@Desk_Bot INC-1  two\nlines")).message.command == Command(
        "reply", "Desk_Bot", "INC-1  two\nlines"
    )
    assert parse_update(message(text="/new")).message.command == Command("new", None, "")
    assert parse_update(message(caption="/take 5", photo=[{"file_id": "p"}])).message.command == Command(
        "take", None, "5"
    )
    for text in ("/", "/ x", "hello /new", ""):
        assert parse_update(message(text=text)).message.command is None


def test_files_contacts_replies_and_topics() -> None:
    photo = parse_update(message(photo=[{"file_id": "small"}, {"file_id": "big", "file_size": 9}], caption="c"))
    assert photo.message.file["file_id"] == "big" and photo.message.file["caption"] == "c"
    document = parse_update(message(document={"file_id": "d", "file_name": "a.pdf", "mime_type": "application/pdf"}))
    assert document.message.file["kind"] == "document" and document.message.file["file_name"] == "a.pdf"
    assert parse_update(message(sticker={"file_id": "s"})).message.file is None  # not an attachment for tickets
    assert parse_update(message(contact={"phone_number": "+1 555"})).message.phone == "+1 555"
    reply = parse_update(message(text="x", reply_to_message={"message_id": 3}, message_thread_id=9))
    assert reply.message.reply_to == 3 and reply.message.thread_id is None  # a thread id outside a topic: ignored
    topic = parse_update(message(text="x", message_thread_id=9, is_topic_message=True))
    assert topic.message.thread_id == 9


def test_voice_video_notes_and_audio_are_files_and_album_parts_say_their_album() -> None:
    for kind in ("voice", "video_note", "audio"):
        note = parse_update(message(**{kind: {"file_id": kind[0], "file_unique_id": "u", "duration": 2}}))
        assert note.message.file["kind"] == kind and note.message.file["file_id"] == kind[0]
    part = parse_update(message(photo=[{"file_id": "p"}], media_group_id="13"))
    assert part.message.media_group_id == "13"
    assert parse_update(message(photo=[{"file_id": "p"}], media_group_id=13)).message.media_group_id is None
    assert parse_update(message(text="x")).message.media_group_id is None


def test_buttons_whose_message_is_gone_answer_the_presser_privately() -> None:
    shown = {"message_id": 5, "date": 0, "chat": {"id": -5, "type": "group"}}  # date 0: inaccessible
    gone = {"update_id": 2, "callback_query": {"id": "q", "from": USER, "data": "m:new", "message": shown}}
    press = parse_update(gone).press
    assert press.message_id is None and press.chat_id == -5 and press.data == "m:new"
    inline = {"update_id": 3, "callback_query": {"id": "q", "from": USER, "data": "x"}}
    update = parse_update(inline)
    assert update.chat_id == 42 and update.chat_type == "private" and update.chat_key == 42


def test_senders_that_are_no_person() -> None:
    anonymous = message(text="/take 1", sender_chat={"id": -100, "type": "supergroup"})
    assert parse_update(anonymous).sender is None
    assert parse_update(message(text="x", **{"from": {**USER, "is_bot": True}})).sender is None
    channel = {"update_id": 4, "channel_post": {"message_id": 1, "date": 1, "chat": {"id": -1001, "type": "channel"}}}
    assert parse_update(channel).sender is None and chat_key_of(channel) == -1001


@pytest.mark.parametrize(
    "payload",
    [
        {"message": {"text": "x"}},
        {"update_id": 5, "message": "garbage"},
        {"update_id": 5, "message": {"chat": {"id": 1, "type": "private"}, "text": "no id"}},
        {"update_id": 5, "callback_query": {"from": USER}},
    ],
)
def test_what_is_no_update_is_refused_and_its_sender_still_found(payload) -> None:
    with pytest.raises(UnreadableUpdate):
        parse_update(payload)
    sender_of(payload)  # never raises: a parked update still gets its apology where possible


def test_updates_of_other_kinds_are_read_without_content() -> None:
    poll = {"update_id": 6, "poll": {"id": "p"}}
    update = parse_update(poll)
    assert update.kind == "poll" and update.message is None and update.press is None and update.chat_key == 0


ENTITY_TYPES = ["bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre", "text_link", "blockquote",
                "expandable_blockquote", "mention", "url", "custom_emoji"]  # fmt: skip
TEXT = st.text(alphabet=st.sampled_from("ab <>&\"'😀ё\n"), min_size=1, max_size=30)


@st.composite
def formatted(draw):
    text = draw(TEXT)
    bounds = [0]  # entity edges fall between characters (Telegram never splits an emoji's surrogate pair)
    for char in text:
        bounds.append(bounds[-1] + len(char.encode("utf-16-le")) // 2)
    entities = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(bounds) - 2))
        end = draw(st.integers(start + 1, len(bounds) - 1))
        offset, length = bounds[start], bounds[end] - bounds[start]
        kind = draw(st.sampled_from(ENTITY_TYPES))
        entity = {"type": kind, "offset": offset, "length": length}
        if kind == "text_link":
            entity["url"] = "https://example.com/a"
        if kind == "pre" and draw(st.booleans()):
            entity["language"] = "python"
        if kind == "custom_emoji":
            entity["custom_emoji_id"] = "123"
        entities.append(entity)
    return text, entities


@given(formatted())
def test_formatting_renders_as_aiogram_does(case) -> None:
    text, entities = case
    expected = html_decoration.unparse(text, [MessageEntity(**e) for e in entities])
    assert entities_html(text, entities) == expected


def test_link_addresses_are_escaped_and_broken_entities_skipped() -> None:
    link = {"type": "text_link", "offset": 0, "length": 2, "url": 'https://x/?a=1&b="2"'}
    assert entities_html("go", [link]) == '<a href="https://x/?a=1&amp;b=&quot;2&quot;">go</a>'
    assert entities_html("<x>", [{"type": "bold", "offset": "0", "length": 1}]) == "&lt;x&gt;"
    assert entities_html("a😀", [{"type": "bold", "offset": 0, "length": 2}])  # a split emoji: no crash


def test_storable_replaces_what_no_database_takes_and_keeps_the_entities_offsets() -> None:
    raw = message(text="A\x00 \ud800bold", entities=[{"type": "bold", "offset": 4, "length": 4}])
    raw["message"]["from"] = {**USER, "first_name": "Ev\x00e", "x\x00": ["\udfff", 3]}
    clean = storable(raw)
    assert clean["message"]["text"] == "A\ufffd \ufffdbold" and clean["message"]["from"]["first_name"] == "Ev\ufffde"
    assert clean["message"]["from"]["x\ufffd"] == ["\ufffd", 3] and clean["update_id"] == 1
    parsed = parse_update(clean).message
    assert entities_html(parsed.text, parsed.entities) == "A\ufffd \ufffd<b>bold</b>"
    ordinary = message(text="Привет 👋 — all fine")
    assert storable(ordinary) == ordinary


@given(st.text())
def test_storable_text_is_always_utf8_without_nul_and_as_long_in_utf16(text: str) -> None:
    clean = storable({"t": text})["t"]
    assert "\x00" not in clean
    clean.encode("utf-8")  # no lone surrogate left
    assert len(clean.encode("utf-16-le", "surrogatepass")) == len(text.encode("utf-16-le", "surrogatepass"))


def test_a_contact_card_is_the_senders_own_only_when_its_user_id_is_theirs() -> None:
    def card(**fields):
        return parse_update(message(contact={"phone_number": "+1 555", "first_name": "Bob", **fields})).message.contact

    assert card(user_id=42) == SharedContact("+1 555", "Bob", own=True)  # USER is 42
    assert card(user_id=7, last_name="Smith") == SharedContact("+1 555", "Bob Smith", own=False)
    assert card() == SharedContact("+1 555", "Bob", own=False)  # no user_id: not on Telegram, not theirs
    assert card(user_id="42") == SharedContact("+1 555", "Bob", own=True)
    assert parse_update(message(contact={"first_name": "Bob"})).message.contact is None
