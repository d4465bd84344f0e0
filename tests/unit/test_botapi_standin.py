"""The Bot API stand-in, proved with aiogram's real ``Bot`` (the same client the bot uses), plus the
simulated users, the process runner and the database fixture."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from aiohttp import web

from tests.support.botapi import FakeBotAPI, HtmlParseError, parse_html
from tests.support.botproc import BotProcess, all_log_files, child_env, find_in_logs
from tests.support.flood import FloodControl, FloodLimits
from tests.support.http import local_server

STAFF = -100123


def make_bot(api: FakeBotAPI, token: str | None = None) -> Bot:
    """aiogram's Bot wired exactly as the product wires it."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url), timeout=10)
    return Bot(token or api.token, session=session)


async def close_bot(bot: Bot) -> None:
    """Close the HTTP session without aiogram's 250 ms grace sleep (keeps the suite fast)."""
    inner = getattr(bot.session, "_session", None)
    if inner is not None:
        await inner.close()


@pytest.fixture
async def bot(bot_api: FakeBotAPI) -> AsyncIterator[Bot]:
    b = make_bot(bot_api)
    yield b
    await close_bot(b)


def keyboard(*labels: str, prefix: str = "b") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=f"{prefix}:{i}")] for i, t in enumerate(labels)]
    )


# ----------------------------------------------------------------------------------------------- basics


async def test_get_me_and_urls(bot: Bot, bot_api: FakeBotAPI) -> None:
    me = await bot.get_me()
    assert me.id == 123456 and me.is_bot and me.username == "intake_test_bot"
    assert bot_api.calls[-1].method == "getMe" and bot_api.calls[-1].ok


async def test_wrong_token_and_unknown_method(bot_api: FakeBotAPI) -> None:
    other = make_bot(bot_api, token="999:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(TelegramUnauthorizedError):
        await other.get_me()
    await close_bot(other)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{bot_api.base_url}/bot{bot_api.token}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        # method names are case-insensitive; JSON and urlencoded bodies are accepted too
        bot_api.user(5, "Eve")
        await bot_api.users[5].send("hi")
        url = f"{bot_api.base_url}/bot{bot_api.token}/SENDMESSAGE"
        async with http.post(url, json={"chat_id": 5, "text": "json body"}) as resp:
            assert (await resp.json())["result"]["text"] == "json body"
        async with http.post(url, data={"chat_id": "5", "text": "form body"}) as resp:
            assert (await resp.json())["result"]["text"] == "form body"
        async with http.get(url, params={"chat_id": "5", "text": "query"}) as resp:
            assert (await resp.json())["result"]["text"] == "query"
    assert [c.params["chat_id"] for c in bot_api.calls_to(5, "sendMessage")] == [5, 5, 5]


# ----------------------------------------------------------------------------------------------- polling


async def test_long_poll_wakes_on_new_update_and_offset_confirms(bot: Bot, bot_api: FakeBotAPI) -> None:
    ann = bot_api.user(1001, "Ann", username="ann")
    poll = asyncio.create_task(bot.get_updates(timeout=50))
    await bot_api.wait_polling(2, since=0)
    await ann.send("/start")
    first = await asyncio.wait_for(poll, 20)  # the poll's own timeout is 50 s: it returned because of the update
    assert [u.message.text for u in first] == ["/start"]
    entity = first[0].message.entities[0]
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 6)
    assert first[0].message.from_user.id == 1001 and first[0].message.chat.type == "private"

    await ann.send("second")
    again = await bot.get_updates(timeout=0)  # no offset: nothing confirmed, both come back
    assert [u.update_id for u in again] == [first[0].update_id, first[0].update_id + 1]
    assert bot_api.confirmed_update_ids == []
    rest = await bot.get_updates(offset=first[0].update_id + 1, timeout=0)
    assert [u.message.text for u in rest] == ["second"]
    assert bot_api.is_confirmed(first[0].update_id) and not bot_api.is_confirmed(rest[0].update_id)
    assert bot_api.offsets == [first[0].update_id + 1]
    assert await bot.get_updates(offset=rest[0].update_id + 1, timeout=0) == []
    assert bot_api.pending_updates == [] and bot_api.polls == 4


@pytest.mark.refusals("getUpdates 409 Conflict: terminated by other getUpdates")
async def test_long_poll_times_out_empty_and_second_poller_conflicts(bot: Bot, bot_api: FakeBotAPI) -> None:
    assert await bot.get_updates(timeout=1) == []  # nothing came: the poll ends empty at its timeout
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await bot_api.wait_polling(2)
    newer = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await older
    assert await newer == []


async def test_allowed_updates_filter_and_drop_pending(bot: Bot, bot_api: FakeBotAPI) -> None:
    ann = bot_api.user(1001, "Ann")
    await bot.get_updates(timeout=0, allowed_updates=["message"])
    msg = await ann.send("hello")
    bot_api.chat(1001).started = True
    sent = await bot.send_message(1001, "Pick", reply_markup=keyboard("A"))
    await ann.press(sent, "A")  # callback_query is not allowed: Telegram never queues it
    await ann.edit(msg, "hello!")
    assert [next(k for k in u if k != "update_id") for u in bot_api.pending_updates] == ["message"]
    assert len(bot_api.filtered_updates) == 2
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert bot_api.pending_updates == [] and await bot.get_updates(timeout=0) == []


# ----------------------------------------------------------------------------------------------- validation


async def test_html_is_parsed_into_text_and_entities(bot: Bot, bot_api: FakeBotAPI) -> None:
    bot_api.user(1001, "Ann", started=True)
    html = (
        '<b>INC-000042</b> &lt;P2&gt; <a href="https://x.test/?a=1&amp;b=2">link</a> '
        '<tg-spoiler>s</tg-spoiler> <span class="tg-spoiler">t</span> 😀<i>é</i> &#8470;'
        '<pre><code class="language-python">x = 1</code></pre>'
    )
    msg = await bot.send_message(1001, html, parse_mode="HTML")
    assert msg.text == "INC-000042 <P2> link s t 😀é №x = 1"
    kinds = [(e.type, e.offset, e.length) for e in msg.entities]
    assert ("bold", 0, 10) in kinds and ("italic", 27, 1) in kinds  # 😀 counts 2 UTF-16 units
    assert next(e for e in msg.entities if e.type == "text_link").url == "https://x.test/?a=1&b=2"
    assert next(e for e in msg.entities if e.type == "pre").language == "python"
    assert bot_api.chat(1001).get(msg.message_id).source == html


@pytest.mark.refusals("sendMessage 400 Bad Request: can't parse entities")
@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>unclosed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("a <br> b", 'Unsupported start tag "br" at byte offset 2'),
        ("2 < 3", 'Unsupported start tag "" at byte offset 2'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("Tom & Jerry", 'Unescaped "&" at byte offset 4'),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
async def test_malformed_html_is_rejected(bot: Bot, bot_api: FakeBotAPI, html: str, error: str) -> None:
    bot_api.user(1001, "Ann", started=True)
    with pytest.raises(TelegramBadRequest, match="can't parse entities") as info:
        await bot.send_message(1001, html, parse_mode="HTML")
    assert error in info.value.message
    assert bot_api.chat(1001).messages == []


def test_parse_html_edge_cases() -> None:
    assert parse_html("  <b>x</b>  ") == ("  x  ", [{"offset": 2, "length": 1, "type": "bold"}])
    assert parse_html("<b></b>a") == ("a", [])  # empty entities vanish
    assert parse_html("&#x41;&quot;")[0] == 'A"'
    assert parse_html("a & b", strict_ampersand=False)[0] == "a & b"
    assert parse_html("<blockquote expandable>q</blockquote>")[1][0]["type"] == "expandable_blockquote"
    assert parse_html('<a href="tg://user?id=7">u</a>')[1][0]["type"] == "text_mention"
    with pytest.raises(HtmlParseError):
        parse_html("&bogus;")


@pytest.mark.refusals(
    "400 Bad Request: message text is empty",
    "400 Bad Request: message is too long",
    "400 Bad Request: message caption is too long",
    "can't parse entities: parse_mode MarkdownV2",
)
async def test_text_limits_and_parse_modes(bot: Bot, bot_api: FakeBotAPI) -> None:
    bot_api.user(1001, "Ann", started=True)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(1001, "")  # aiogram drops "" from the form: Telegram sees no text
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(1001, " \n ")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(1001, "<b> </b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(1001, "x" * 4097)
    assert len((await bot.send_message(1001, "x" * 4096)).text) == 4096
    assert len((await bot.send_message(1001, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")).text) == 4096
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(1001, "&amp;" * 4097, parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(1001, "*bold*", parse_mode="MarkdownV2")
    photo = BufferedInputFile(b"\x89PNG...", "shot.png")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(1001, photo, caption="c" * 1025)
    assert (await bot.send_photo(1001, photo, caption="c" * 1024)).caption == "c" * 1024


@pytest.mark.refusals("400 Bad Request: can't parse entities", "400 Bad Request: message is too long")
async def test_explicit_entities_and_lengths_count_utf16_units(bot: Bot, bot_api: FakeBotAPI) -> None:
    bot_api.user(1001, "Ann", started=True)
    text = "😀 Sync now"  # the emoji is two UTF-16 units: "Sync" starts at 3, the text is 11 units long
    bold = MessageEntity(type="bold", offset=3, length=4)
    sent = await bot.send_message(1001, text, entities=[bold])
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 3, 4)]
    for bad, reason in (
        (MessageEntity(type="bold", offset=7, length=5), "outside the text of 11 UTF-16 code units"),
        (MessageEntity(type="bold", offset=-1, length=2), "outside the text"),
        (MessageEntity(type="shiny", offset=0, length=1), "unsupported entity type"),
        (MessageEntity(type="text_link", offset=0, length=1), "needs url"),
    ):
        with pytest.raises(TelegramBadRequest, match="can't parse entities") as info:
            await bot.send_message(1001, text, entities=[bad])
        assert reason in info.value.message
    assert len((await bot.send_message(1001, "😀" * 2048)).text) == 2048  # 4096 units: the limit exactly
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(1001, "😀" * 2048 + "x")  # 2049 characters, 4097 units


@pytest.mark.refusals("400 Bad Request: BUTTON_DATA_INVALID", "can't parse reply keyboard markup")
async def test_keyboard_validation(bot: Bot, bot_api: FakeBotAPI) -> None:
    bot_api.user(1001, "Ann", started=True)
    too_long = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1001, "t", reply_markup=too_long)
    empty = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="", callback_data="d")]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1001, "t", reply_markup=empty)
    utf = "я" * 32  # 64 bytes: the limit is in bytes, not characters
    ok = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="ok", callback_data=utf)]])
    assert (await bot.send_message(1001, "t", reply_markup=ok)).reply_markup.inline_keyboard[0][0].callback_data == utf
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(1001, "t", reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="я" * 33)]]
        ))  # fmt: skip
    async with aiohttp.ClientSession() as http:
        url = f"{bot_api.base_url}/bot{bot_api.token}/sendMessage"
        async with http.post(url, data={"chat_id": "1001", "text": "t", "reply_markup": "{not json"}) as resp:
            body = await resp.json()
    assert body["description"] == "Bad Request: can't parse reply keyboard markup JSON object"


@pytest.mark.refusals("400 Bad Request: chat not found", "403 Forbidden: bot can't initiate")
async def test_unknown_chat_and_user_who_never_started(bot: Bot, bot_api: FakeBotAPI) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hi")
    bot_api.user(1002, "Bob")
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await bot.send_message(1002, "hi")
    await bot_api.users[1002].send("/start")
    assert (await bot.send_message(1002, "hi")).chat.id == 1002


# ----------------------------------------------------------------------------------------------- faults


@pytest.mark.refusals("403 Forbidden: bot was blocked by the user")
async def test_faults_429_502_blocked_and_lost(bot: Bot, bot_api: FakeBotAPI) -> None:
    ann = bot_api.user(1001, "Ann", started=True)
    bot_api.faults.every_nth_429 = 2
    bot_api.faults.retry_after = 7
    await bot.send_message(1001, "one")
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(1001, "two")
    assert info.value.retry_after == 7 and "Too Many Requests: retry after 7" in info.value.message
    assert (await bot.get_me()).id  # getMe/getUpdates are never faulted unless asked
    assert bot_api.faults.injected_429 == 1 and bot_api.faults.seen == 2
    bot_api.faults.reset()

    bot_api.faults.every_nth_5xx = 1
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(1001, "three")
    bot_api.faults.reset()

    bot_api.faults.fail_next(400, "Bad Request: custom", method="sendMessage")
    with pytest.raises(TelegramBadRequest, match="custom"):
        await bot.send_message(1001, "four")

    ann.block_bot()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(1001, "five")
    bot_api.unblock(1001)

    bot_api.faults.every_nth_lost = 1
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(1001, "six")  # delivered, but the answer never arrives
    bot_api.faults.reset()
    assert [m.text for m in ann.messages] == ["one", "six"]
    assert [c.injected for c in bot_api.calls_to(1001, "sendMessage")] == [None, "429", "5xx", "queued", None, "lost"]
    report = bot_api.exact_once_report()
    assert report["injected"] == {"429": 0, "5xx": 0, "lost": 0}  # reset() zeroes the counters
    assert report["errors"]["sendMessage: Forbidden: bot was blocked by the user"] == 1


@pytest.mark.refusals("429 Too Many Requests")
async def test_flood_limits_hold_by_default_and_retry_after_grows(bot: Bot, bot_api: FakeBotAPI) -> None:
    """Telegram's limits are on without asking: a private chat takes a burst of 20, a group 20, edits count;
    each refused call is told to wait longer (the overshoot grows). The clock is frozen, so the refill
    between calls cannot blur the counts."""
    bot_api.flood.clock = lambda: 1000.0
    bot_api.user(1001, "Ann", started=True)
    bot_api.add_group(STAFF, "Staff")
    sent = [await bot.send_message(1001, f"m{i}") for i in range(20)]
    waits = []
    for _ in range(3):
        with pytest.raises(TelegramRetryAfter) as info:
            await bot.send_message(1001, "too fast")
        waits.append(info.value.retry_after)
    assert waits == [2, 3, 4]  # the refused attempt itself is one more message over the limit
    assert len(bot_api.chat(1001).bot_messages) == 20

    bot_api.flood.clock = lambda: 1002.0  # the overall bucket (30 a second) is full again, Ann's chat is not
    for i in range(20):
        await bot.send_message(STAFF, f"g{i}")
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.edit_message_text("edited", chat_id=STAFF, message_id=bot_api.chat(STAFF).bot_messages[0].id)
    assert info.value.retry_after == 6  # 20 a minute, a token every 3 s: this one and the one it owes
    assert [r.scope for r in bot_api.flood.refusals] == ["private"] * 3 + ["group"]

    bot_api.flood.clock = lambda: 1032.0  # half a minute later: the private chat is full again, edits too
    assert (await bot.edit_message_text("m0 edited", chat_id=1001, message_id=sent[0].message_id)).text


def test_flood_model_overall_limit_and_refill() -> None:
    """30 a second overall across chats (a bucket of 30), refilled continuously; refused calls are debt."""
    flood = FloodControl()
    assert all(flood.check(n, "private", now=0.0) is None for n in range(30))
    assert flood.check(99, "private", now=0.0) == 1  # 1/30 s for the token it owes and the one it needs
    assert flood.refusals[-1].scope == "global"
    assert flood.check(100, "private", now=0.5) is None  # 15 tokens back, one was owed
    group = FloodControl()
    assert all(group.check(-1, "supergroup", now=0.0) is None for _ in range(20))
    assert [group.check(-1, "supergroup", now=0.0) for _ in range(3)] == [6, 9, 12]
    assert group.check(-1, "supergroup", now=12.0) is None  # waited the last retry_after: accepted
    assert group.check(-2, "supergroup", now=12.0) is None  # another group has its own budget
    off = FloodControl(FloodLimits(enforce=False))
    assert all(off.check(1, "private", now=0.0) is None for _ in range(100))


def test_flood_model_a_backlog_after_the_stand_ins_own_stall_is_not_a_burst() -> None:
    """Calls paced at 30 a second that waited in the socket while the stand-in's loop was held up for 2 s
    are handled together: counted as a burst they would be refused, though Telegram (which never stalls)
    saw them paced. With the stall named, the refill of those 2 s is kept for the backlog, once: the same
    burst without a stall is refused as before, and the credit does not outlive the backlog."""
    paced = FloodControl()
    assert all(paced.check(n, "private", now=n / 30) is None for n in range(30))  # the bucket is full again
    stalled_since = 1.0
    backlog = [paced.check(1000 + n, "private", now=3.0, stalled_since=stalled_since) for n in range(90)]
    assert backlog == [None] * 90  # 2 s of paced calls, plus the bucket's 30
    assert paced.check(2000, "private", now=3.0, stalled_since=stalled_since) is not None  # not a free pass
    unnamed = FloodControl()
    assert all(unnamed.check(n, "private", now=n / 30) is None for n in range(30))
    assert [unnamed.check(1000 + n, "private", now=3.0) for n in range(90)].count(None) == 30
    # long after, no stall: the bucket's capacity again, no more
    assert [paced.check(3000 + n, "private", now=10.0) for n in range(31)].count(None) == 30


# ----------------------------------------------------------------------------------------------- messages


@pytest.mark.refusals("message to copy not found", "wrong file identifier", "can't use file of type Document")
async def test_copy_forward_and_media(bot: Bot, bot_api: FakeBotAPI) -> None:
    ann = bot_api.user(1001, "Ann")
    staff = bot_api.add_group(STAFF, "Staff")
    shot = await ann.send_photo("screen is black")
    doc = await ann.send_document("log.txt", "text/plain", 1234)
    copied = await bot.copy_message(STAFF, 1001, shot.id, caption="<b>INC-1</b>", parse_mode="HTML")
    copy_msg = bot_api.chat(STAFF).get(copied.message_id)
    assert copy_msg.caption == "INC-1" and copy_msg.data["photo"] == shot.data["photo"]
    assert copy_msg.data["caption_entities"][0]["type"] == "bold" and copy_msg.from_bot
    fwd = await bot.forward_message(STAFF, 1001, doc.id)
    assert fwd.document.file_name == "log.txt" and fwd.forward_origin.sender_user.id == 1001
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(STAFF, 1001, 999)
    # file ids the user sent can be re-sent; unknown ones cannot; types must match
    assert (await bot.send_photo(STAFF, shot.data["photo"][-1]["file_id"])).photo
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(STAFF, "AgACAgIAAxkBAAIunknown")
    with pytest.raises(TelegramBadRequest, match="can't use file of type Document as Photo"):
        await bot.send_photo(STAFF, doc.data["document"]["file_id"])
    up = await bot.send_document(STAFF, BufferedInputFile(b"a,b\n1,2\n", "report.csv"), caption="export")
    assert up.document.file_name == "report.csv" and up.document.file_size == 8
    album = await bot.send_media_group(
        STAFF,
        [
            InputMediaPhoto(media=BufferedInputFile(b"1", "1.png")),
            InputMediaPhoto(media=shot.data["photo"][-1]["file_id"]),
        ],
    )
    assert len({m.media_group_id for m in album}) == 1 and len(album) == 2
    assert [m.kind for m in staff.messages] == ["photo", "document", "photo", "document", "photo", "photo"]
    assert await bot.send_chat_action(STAFF, "typing")
    assert [m.method for m in staff.messages][:2] == ["copyMessage", "forwardMessage"]


async def test_a_users_album_comes_as_one_update_per_part(bot_api: FakeBotAPI) -> None:
    ann = bot_api.user(1001, "Ann")
    parts = await ann.send_album(3, "the printer")
    updates = [u["message"] for u in bot_api.pending_updates[-3:]]
    assert [u["message_id"] for u in updates] == [m.id for m in parts]
    assert len({u["media_group_id"] for u in updates}) == 1 and all(u["photo"] for u in updates)
    assert [u.get("caption") for u in updates] == ["the printer", None, None]
    tracks = await ann.send_album(2, kind="audio")
    assert tracks[0].data["media_group_id"] != parts[0].data["media_group_id"] and tracks[1].kind == "audio"
    with pytest.raises(ValueError):
        await ann.send_album(2, kind="voice")
    assert (await ann.send_audio("memo")).data["audio"]["duration"] == 3


@pytest.mark.refusals(
    "message is not modified",
    "message to edit not found",
    "message can't be edited",
    "there is no caption",
    "message to delete not found",
    "message to be replied not found",
)
async def test_replies_edits_and_deletes(bot: Bot, bot_api: FakeBotAPI) -> None:
    ann = bot_api.user(1001, "Ann")
    question = await ann.send("printer broken")
    sent = await bot.send_message(
        1001,
        "Which floor?",
        reply_markup=keyboard("1st", "2nd"),
        reply_parameters=ReplyParameters(message_id=question.id),
    )
    assert sent.reply_to_message.text == "printer broken"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Which floor?", chat_id=1001, message_id=sent.message_id, reply_markup=keyboard("1st", "2nd")
        )
    edited = await bot.edit_message_text("Floor noted", chat_id=1001, message_id=sent.message_id)
    assert edited.text == "Floor noted" and edited.reply_markup is None  # no markup passed = keyboard removed
    assert ann.last.text == "Floor noted" and ann.last.edited and ann.last.buttons == []
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=1001, message_id=999)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=1001, message_id=question.id)
    with pytest.raises(TelegramBadRequest, match="there is no caption"):
        await bot.edit_message_caption(chat_id=1001, message_id=sent.message_id, caption="c")
    markup = await bot.edit_message_reply_markup(chat_id=1001, message_id=sent.message_id, reply_markup=keyboard("OK"))
    assert markup.reply_markup.inline_keyboard[0][0].text == "OK"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=1001, message_id=sent.message_id, reply_markup=keyboard("OK"))
    reply = await ann.reply(edited, "3rd floor")
    assert reply.data["reply_to_message"]["message_id"] == sent.message_id
    assert await bot.delete_message(1001, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(1001, sent.message_id)
    assert ann.messages == [] and [m.text for m in ann.history] == ["printer broken", "3rd floor"]
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(1001, "x", reply_parameters=ReplyParameters(message_id=999))
    with pytest.raises(AssertionError, match="does not exist"):
        await ann.press(sent, "OK")  # a deleted message cannot be pressed


@pytest.mark.refusals("answerCallbackQuery 400 Bad Request: query is too old")
async def test_callback_round_trip(bot: Bot, bot_api: FakeBotAPI) -> None:
    ann = bot_api.user(1001, "Ann")
    await ann.send("/new")
    sent = await bot.send_message(
        1001, "Is it broken or do you need something?", reply_markup=keyboard("Broken", "Need")
    )
    press = await ann.press(sent, "need")  # labels match case-insensitively
    updates = await bot.get_updates(timeout=1)
    query = updates[-1].callback_query
    assert (query.data, query.from_user.id, query.message.message_id) == ("b:1", 1001, sent.message_id)
    assert await bot.answer_callback_query(query.id, text="Noted", show_alert=True)
    assert (await press.answer())["text"] == "Noted" and press.answered["show_alert"] is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)  # a query can be answered once
    with pytest.raises(AssertionError, match=r"available: \['Broken', 'Need'\]"):
        await ann.press(sent, "Maybe")
    bot_api.callback_max_age = -1.0  # every query is too old already
    stale = await ann.press_data(sent, "forged:data")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(stale.id)


async def test_reply_keyboard_buttons(bot: Bot, bot_api: FakeBotAPI) -> None:
    ann = bot_api.user(1001, "Ann")
    await ann.send("/start")
    kb = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Share phone", request_contact=True)], [KeyboardButton(text="Skip")]],
        one_time_keyboard=True,
    )
    await bot.send_message(1001, "Your phone?", reply_markup=kb)
    assert ann.keyboard == ["Share phone", "Skip"] and ann.last.keyboard_buttons == ["Share phone", "Skip"]
    contact = await ann.press_reply_button("Share phone")
    assert contact.data["contact"]["user_id"] == 1001
    with pytest.raises(AssertionError, match="no reply-keyboard button"):
        await ann.press_reply_button("Skip")  # one-time keyboard is gone


# ----------------------------------------------------------------------------------------------- groups


@pytest.mark.refusals("the chat is not a forum", "message thread not found")
async def test_forum_topics_and_group_people(bot: Bot, bot_api: FakeBotAPI) -> None:
    plain = bot_api.add_group(-100555, "Plain")
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(plain.id, "INC-000001")
    forum = bot_api.add_group(STAFF, "Staff", is_forum=True)
    topic = await bot.create_forum_topic(STAFF, "INC-000001 Printer")
    card = await bot.send_message(
        STAFF, "card", message_thread_id=topic.message_thread_id, reply_markup=keyboard("Take")
    )
    assert card.message_thread_id == topic.message_thread_id and card.is_topic_message
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(STAFF, "x", message_thread_id=424242)
    agent = bot_api.user(7001, "Agent")
    plain_msg = await agent.send_in(STAFF, "looking", thread_id=topic.message_thread_id)
    # Telegram: a plain message in a topic is a "reply" to the topic's creation service message
    assert plain_msg.reply_to == topic.message_thread_id and plain_msg.thread_id == topic.message_thread_id
    answer = await agent.send_in(STAFF, "Restart it", reply_to=card)
    assert answer.reply_to == card.message_id and answer.thread_id == topic.message_thread_id
    anon = await forum.anonymous_admin("from admin", reply_to=card)
    assert anon.data["from"]["id"] == 1087968824 and anon.data["sender_chat"]["id"] == STAFF
    await forum.add_members(bot_api.user(7003, "New"))
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text or "new_chat_members" for u in updates] == [
        "looking", "Restart it", "from admin", "new_chat_members"
    ]  # fmt: skip
    assert updates[0].message.reply_to_message.forum_topic_created.name == "INC-000001 Printer"
    assert (await forum.next_message()).text == "card"


async def test_privacy_mode_hides_plain_group_chatter_from_non_admin_bot(bot_api: FakeBotAPI) -> None:
    group = bot_api.add_group(-100777, "Team", bot_is_admin=False)
    bob = bot_api.user(1002, "Bob")
    _, update = bot_api.post_incoming(group.id, {"text": "chit-chat"}, sender=bob.data)
    assert update is None
    await bob.send_in(group.id, "/queue")
    assert [u["message"]["text"] for u in bot_api.pending_updates] == ["/queue"]


# ----------------------------------------------------------------------------------------------- user waits


async def test_user_waits_and_readable_timeouts(bot: Bot, bot_api: FakeBotAPI) -> None:
    ann = bot_api.user(1001, "Ann", started=True)

    async def bot_side() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(1001, "Hello! Describe the problem.")
        await bot.send_message(1001, "Your ticket is INC-000042", reply_markup=keyboard("Cancel"))

    task = asyncio.create_task(bot_side())
    assert (await ann.next_message(2)).text == "Hello! Describe the problem."
    card = await ann.wait_for("inc-0000", timeout=2)
    await task
    assert card.buttons == ["Cancel"] and ann.last is card
    await ann.expect_no_message(0.05)
    edit = asyncio.create_task(bot.edit_message_text("Cancelled", chat_id=1001, message_id=card.id))
    assert (await ann.wait_edit(card, "cancelled", timeout=2)).text == "Cancelled"
    await edit
    bot_api.faults.fail_next(400, "Bad Request: demo failure")
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(1001, "lost")
    with pytest.raises(AssertionError) as info:
        await ann.next_message(0.2)
    text = str(info.value)
    assert "timed out after 0.2s" in text and "'Cancelled'" in text and "demo failure" in text
    await bot_api.wait_quiet(0.1, timeout=2)


@pytest.mark.refusals("getUpdates 409 Conflict: can't use getUpdates method while webhook is active")
async def test_webhook_delivery_and_reply(bot: Bot, bot_api: FakeBotAPI) -> None:
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        assert request.headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret"
        update = await request.json()
        received.append(update)
        chat = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat, "text": "via webhook reply"})

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with local_server(app) as url:
        assert await bot.set_webhook(f"{url}/hook", secret_token="s3cret")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        ann = bot_api.user(1001, "Ann")
        _, update = bot_api.post_incoming(1001, {"text": "hi"}, sender=ann.data)
        assert (await ann.next_message(3)).text == "via webhook reply"
        await bot_api.wait_update_confirmed(update["update_id"], 3)
        assert received[0]["message"]["text"] == "hi"
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert await bot.delete_webhook()
        assert (await bot.get_webhook_info()).url == ""


# ----------------------------------------------------------------------------------------------- runner, databases


STUB = r"""
import json, os, sys, time, urllib.request
base = os.environ["TELEGRAM_API_URL"] + "/bot" + os.environ["TELEGRAM_BOT_TOKEN"]
print("env:", json.dumps(sorted(k for k in os.environ if k not in ("PATH", "HOME"))), flush=True)
if os.environ.get("STUB_FAIL"):
    print("boom: bad configuration", flush=True)
    sys.exit(3)
urllib.request.urlopen(base + "/getUpdates?timeout=0").read()
print("polling", flush=True)
time.sleep(60)
"""


async def test_bot_process_runner_with_a_stub(bot_api: FakeBotAPI, tmp_path: Path) -> None:
    stub = [sys.executable, "-c", STUB]
    proc = BotProcess(bot_api.base_url, bot_api.token, "sqlite+aiosqlite:///x.db", {"FOO": "1"}, tmp_path, command=stub)
    proc.start()
    await proc.wait_ready(bot_api, timeout=10)
    assert proc.running and "polling" in await proc.wait_log("polling", 5)
    env_line = next(line for line in proc.log_text().splitlines() if line.startswith("env:"))
    keys = json.loads(env_line[4:])
    assert {"BOT_ENV_FILE", "PYTHONUNBUFFERED", "TELEGRAM_API_URL", "DATABASE_URL", "FOO"} <= set(keys)
    assert proc.env["BOT_ENV_FILE"] == "" and "PYTEST_CURRENT_TEST" not in keys
    assert await proc.terminate(timeout=5) == -15
    assert proc.log_path in all_log_files() and proc.log_path in find_in_logs("polling")

    failing = BotProcess(bot_api.base_url, bot_api.token, "x", {"STUB_FAIL": "1"}, tmp_path, command=stub)
    failing.start()
    with pytest.raises(AssertionError, match=r"exited with code 3(.|\n)*boom: bad configuration"):
        await failing.wait_ready(bot_api, timeout=10)
    assert child_env({"A": 1, "PATH": None}).get("PATH") is None


async def test_database_url_fixture(database_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select 40 + 2"))).scalar_one() == 42
    finally:
        await engine.dispose()
    assert database_url.startswith(("sqlite+aiosqlite:///", "postgresql+asyncpg://"))


async def test_every_simulated_update_parses_in_aiogram(bot: Bot, bot_api: FakeBotAPI) -> None:
    ann = bot_api.user(1001, "Ann", last_name="Lee", username="ann_lee", language_code="ru")
    group = bot_api.add_group(STAFF, "Staff")
    channel = bot_api.add_channel(-100999, "News", username="news")
    await ann.send("see https://example.com and @someone, then /help")
    await ann.send_photo("photo caption")
    await ann.send_document("a.pdf", "application/pdf", 10, caption="doc")
    await ann.send_video("clip")
    await ann.send_sticker()
    await ann.send_voice()
    await ann.send_video_note()
    await ann.send_location()
    await ann.send_contact("+79990000000")
    await ann.send_poll()
    await ann.send_dice()
    await ann.forward("fwd")
    await ann.forward("hidden", hidden_name="Someone")
    await ann.forward("from channel", origin_chat=channel.chat.data)
    text = await ann.send("typo")
    await ann.edit(text, "fixed")
    await ann.send_in(STAFF, "in group")
    await group.anonymous_admin("anon")
    await group.add_members(bot_api.user(1002, "Bob"))
    await group.remove_member(bot_api.users[1002])
    await channel.post("post")
    ann.block_bot()
    bot_api.unblock(1001)
    sent = await bot.send_message(1001, "kb", reply_markup=keyboard("X"))
    await ann.press(sent, "X")
    updates = await bot.get_updates(timeout=0)
    kinds = [u.event_type for u in updates]
    assert kinds.count("message") == 19 and kinds.count("edited_message") == 1
    assert kinds[-4:] == ["channel_post", "my_chat_member", "my_chat_member", "callback_query"]
    first = updates[0].message
    assert [e.type for e in first.entities] == ["url", "mention", "bot_command"]
    assert updates[8].message.contact.user_id == 1001 and updates[1].message.photo[-1].width == 800
    assert updates[11].message.forward_origin.type == "user"
    assert updates[13].message.forward_origin.type == "channel"
    assert updates[-3].my_chat_member.new_chat_member.status == "kicked"


@pytest.mark.refusals("setMyCommands 400 Bad Request: BOT_COMMAND_INVALID")
async def test_chat_info_commands_and_files(bot: Bot, bot_api: FakeBotAPI) -> None:
    from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

    bot_api.add_group(STAFF, "Staff", is_forum=True, admins=[7001])
    agent = bot_api.user(7001, "Agent")
    info = await bot.get_chat(STAFF)
    assert (info.type, info.title, info.is_forum) == ("supergroup", "Staff", True)
    assert (await bot.get_chat_member(STAFF, 7001)).status == "administrator"
    assert (await bot.get_chat_member(STAFF, bot_api.bot_id)).status == "administrator"
    commands = [BotCommand(command="new", description="New request"), BotCommand(command="status", description="S")]
    assert await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats(), language_code="en")
    stored = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="en")
    assert [(c.command, c.description) for c in stored] == [("new", "New request"), ("status", "S")]
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="New-Request", description="x")])
    doc = await agent.send_document("spec.txt", "text/plain", 5)
    sent = await bot.send_document(7001, BufferedInputFile(b"hello", "hello.txt"))
    file = await bot.get_file(sent.document.file_id)
    assert file.file_path.endswith(".txt") and file.file_size == 5
    data = await bot.download_file(file.file_path)
    assert data is not None and data.read() == b"hello"
    assert (await bot.get_file(doc.data["document"]["file_id"])).file_size == 5
