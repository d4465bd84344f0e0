"""Hostile and odd input: over a thousand generated updates against the running bot.

Hypothesis generates the updates (every message type, texts of 0 to 10,000 characters full of HTML and
markdown characters, RTL and zero-width characters and emoji, commands with odd arguments, forged and
stale button data, users without username or language, strangers in groups, service messages, edits,
forwards, channel posts); they are sent through the Bot API stand-in in batches to the real bot process.
Then: no unhandled exception in the bot's log, no update failed or parked, no call the stand-in refused
(it rejects malformed HTML and texts over 4096 characters with 400), user text shown back to the user
arrives escaped (literally, never as markup), and the bot still answers a plain /start.
"""

from __future__ import annotations

import asyncio
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from storage.models import Draft
from tests.conftest import ON_EACH_RUNTIME
from tests.e2e.test_agents import card_of, register
from tests.support.botapi import Msg, utf16_len
from tests.support.database_state import read, wait_outbox_settled, wait_until_true
from tests.support.users import auto_entities

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

MIN_UPDATES = 1000
BATCH = 100
GROUP = -100900
STAFF = -100123
CHANNEL = -100800
# Telegram's own pacing (the defaults: 30 a second overall, one a second per chat): a thousand updates
# from 40 people is a flood, and the stand-in refuses a bot that answers one faster than Telegram allows.
ENV = {"POLL_TIMEOUT": "1"}

ODD = [
    "<b>x</b>", "</i>", "<a href='javascript:x'>", "&amp;", "&#0;", "&", "<", ">", '"', "'",
    "*bold*", "_it_", "[l](http://x)", "`c`", "```pre```", "~s~", "||sp||", "\\", "#", "@everyone",
    "\u202e", "\u200f", "\u200e", "\u200b", "\u200c", "\u200d", "\ufeff", "\u2066", "\x01", "\t", "\n",
    "😀", "👨‍👩‍👧‍👦", "🇷🇺", "ё", "Ж", "שלום", "مرحبا", "日本", "e\u0301", "/start", "INC-000001",
]  # fmt: skip
CHARS = st.one_of(
    st.sampled_from(ODD),
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00", max_codepoint=0x1FFFF),
)
SHORT = st.lists(CHARS, max_size=40).map("".join)
LONG = st.builds(lambda piece, n: (piece * n)[:10_000], SHORT.filter(bool), st.integers(60, 4000))
TEXT = st.one_of(SHORT, SHORT, SHORT, LONG)
COMMANDS = [
    "/start", "/start <b>deep</b>", "/status", "/status <b>x</b>", "/status INC-", "/status 99999999999999999999",
    "/status ' OR 1=1 --", "/lang", "/lang xx", "/lang ru", "/lang en", "/lang <i>", "/new", "/new@otherbot",
    "/new@intake_test_bot", "/cancel", "/my", "/my <script>", "/help", "/reply 1 hi", "/take INC-000001",
    "/queue", "/stats", "/close 1", "/", "/unknown_cmd arg", "/status@intake_test_bot INC-000001",
]  # fmt: skip
MEDIA = ["sticker", "voice", "video_note", "location", "contact", "poll", "dice", "document", "photo", "video"]
FORGED = st.one_of(
    st.none(),
    st.just("stale"),
    st.text(max_size=64).filter(lambda s: len(s.encode()) <= 64),
    st.sampled_from(["i:x:y", "i:::", "menu:", "menu:new", "lang:xx", "st:abc", "st:-1", "m:9999", ":", "a:b:c:d"]),
)
USER = st.integers(0, 39)
SPEC = st.one_of(
    st.tuples(st.just("text"), USER, TEXT),
    st.tuples(st.just("command"), USER, st.sampled_from(COMMANDS), SHORT),
    st.tuples(st.just("media"), USER, st.sampled_from(MEDIA), st.one_of(st.none(), SHORT)),
    st.tuples(st.just("callback"), USER, FORGED),
    st.tuples(st.just("edit"), USER, TEXT),
    st.tuples(st.just("forward"), USER, SHORT),
    st.tuples(st.just("group"), USER, st.one_of(SHORT, st.sampled_from(COMMANDS)), st.sampled_from([GROUP, STAFF])),
    st.tuples(st.just("service"), USER, st.sampled_from(["join", "leave"])),
    st.tuples(st.just("channel"), SHORT),
)


def generate_specs() -> list[tuple]:
    """Hypothesis draws the updates (derandomized: the same list every run)."""
    specs: list[tuple] = []

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(SPEC, min_size=5, max_size=15))
    def collect(batch: list[tuple]) -> None:
        specs.extend(batch)

    collect()
    return specs


def make_users(api):
    names = ["Ann", "<b>Bob</b>", "Zoë & Co", "\u202eevil", "", "😀", "Ж" * 64, "a\u200bb", "O'Brien", "<i>"]
    langs = [None, "en", "ru", "xx", "zh-hans", "", "EN"]
    users = []
    for n in range(40):
        users.append(
            api.user(
                30_000 + n,
                names[n % len(names)] or "x",
                last_name="<u>L</u>" if n % 3 == 0 else None,
                username=f"user_{n}" if n % 2 else None,
                language_code=langs[n % len(langs)],
            )
        )
    return users


def _text_fields(text: str, key: str = "text") -> dict:
    fields = {key: text}
    if ents := auto_entities(text):
        fields["entities" if key == "text" else "caption_entities"] = ents
    return fields


def post(api, users, spec, rng: random.Random) -> None:
    kind, rest = spec[0], spec[1:]
    if kind == "channel":
        api.post_incoming(CHANNEL, _text_fields(rest[0] or "."), sender=None, sender_chat=api.chat(CHANNEL).data,
                          kind="channel_post")  # fmt: skip
        return
    user = users[rest[0]]
    if kind == "text":
        api.post_incoming(user.id, _text_fields(rest[1]), sender=user.data)
    elif kind == "command":
        text = rest[1] + (" " + rest[2] if rest[2] and rng.random() < 0.5 else "")
        api.post_incoming(user.id, _text_fields(text), sender=user.data)
    elif kind == "media":
        media, caption = rest[1], rest[2]
        if media == "location":
            fields = {"location": {"latitude": rng.uniform(-90, 90), "longitude": rng.uniform(-180, 180)}}
        elif media == "contact":
            fields = {
                "contact": {"phone_number": caption or "+1", "first_name": "X", "user_id": rng.choice([user.id, 5])}
            }
        elif media == "poll":
            option = {"persistent_id": "0", "text": caption or "a", "voter_count": 0}
            poll = {"id": "1", "question": caption or "?", "options": [option], "total_voter_count": 0}
            poll.update(is_closed=False, is_anonymous=True, type="regular", allows_multiple_answers=False)
            fields = {"poll": {**poll, "allows_revoting": True, "members_only": False}}
        elif media == "dice":
            fields = {"dice": {"emoji": "🎲", "value": rng.randint(1, 6)}}
        else:
            name = caption[:50] if media == "document" and caption else None
            fields = user._file(media, name=name or "f.bin", mime="application/octet-stream")
            if media == "sticker":
                fields["sticker"]["emoji"] = "👍"
            if caption and media in ("photo", "document", "video"):
                fields.update(_text_fields(caption[:1024], "caption"))
        api.post_incoming(user.id, fields, sender=user.data)
    elif kind == "callback":
        data = rest[1]
        bot_msgs = [m for u in users for m in u.messages if m.inline_keyboard]
        if data == "stale":
            buttons = [b.get("callback_data") for m in bot_msgs for row in m.inline_keyboard for b in row]
            data = rng.choice(buttons) if buttons else "i:0:0"
        own = user.messages
        target: Msg | None = own[-1] if own else None
        if target is None:
            target = next(iter(user.chat.messages), None)
        if target is None:
            api.post_incoming(user.id, _text_fields("/start"), sender=user.data)
            return
        api.new_callback_query(user.data, target, data)
    elif kind == "edit":
        mine = [m for m in user.chat.messages if not m.from_bot and "text" in m.data]
        if not mine:
            api.post_incoming(user.id, _text_fields(rest[1] or "."), sender=user.data)
            return
        msg = rng.choice(mine)
        msg.data.update(_text_fields(rest[1] or "."))
        msg.data["edit_date"] = msg.data["date"] + 1
        api.enqueue("edited_message", msg.to_api())
    elif kind == "forward":
        origin = {"type": "hidden_user", "sender_user_name": rest[1] or "?", "date": 1_700_000_000}
        api.post_incoming(user.id, {"forward_origin": origin, **_text_fields(rest[1] or ".")}, sender=user.data)
    elif kind == "group":
        text, chat_id = rest[1] or ".", rest[2]
        api.post_incoming(chat_id, _text_fields(text), sender=user.data)
    elif kind == "service":
        field = "new_chat_members" if rest[1] == "join" else "left_chat_member"
        value = [user.data] if rest[1] == "join" else user.data
        api.post_incoming(GROUP, {field: value}, sender=user.data)


@ON_EACH_RUNTIME
async def test_generated_hostile_updates_never_break_the_bot(bot_api, bot_factory, bot_runtime):
    # A thousand updates make a backlog of seconds; a button answered that late is refused by Telegram
    # ("query is too old") and the spinner simply stops. That is expected here, not a rendering error.
    bot_api.callback_max_age = 600
    bot = await bot_factory.start(env=ENV, name="hostile")
    bot_api.add_group(GROUP, "Strangers & <b>Co</b>")
    bot_api.add_channel(CHANNEL, "News <i>")
    users = make_users(bot_api)
    specs = generate_specs()
    while len(specs) < MIN_UPDATES:
        specs += specs[: MIN_UPDATES - len(specs)]
    rng = random.Random(7)
    first_update = len(bot_api.updates)
    for start in range(0, len(specs), BATCH):
        for spec in specs[start : start + BATCH]:
            post(bot_api, users, spec, rng)
            # the stand-in shares this event loop: serve the bot's calls meanwhile, or they pile up and
            # arrive together, a burst the bot never sent (Telegram would see them as they came)
            await asyncio.sleep(0)
        bot_api._notify()
        await bot_api.wait_until(lambda: not bot_api.pending_updates, 90, "the bot to confirm the batch")

    # user text is shown back escaped: in the summary and in /status's "not found"
    eve = bot_api.user(39_999, "Eve", username="eve", language_code="en")
    await eve.send("/status <b>x</b>")
    status = await eve.wait_for("<b>x</b>", timeout=60)
    assert not any(e["type"] == "bold" for e in status.data.get("entities", []))
    await eve.send("<b>x</b> my printer & scanner are broken, nothing prints")
    q = await eve.next_message(timeout=60)
    await eve.send("Scanner <i>2</i>")
    q = await eve.next_message(timeout=30)
    while "Please check your request" not in q.content:
        labels = [b for b in q.buttons if b not in ("◀ Back", "✖ Cancel")]
        if "call back" in q.content:
            await eve.send("<code>ext</code> & 5")
        else:
            await eve.press(q, "Skip" if "Skip" in labels else labels[0])
        q = await eve.next_message(timeout=30)
    assert "<b>x</b> my printer & scanner" in q.content, q.content
    assert "Scanner <i>2</i>" in q.content and "<code>ext</code> & 5" in q.content
    visible_bold = [e for e in q.data.get("entities", []) if e["type"] in ("bold", "italic", "code")]
    for entity in visible_bold:  # the template's own bold labels only: never the user's <b>x</b>
        covered = q.content.encode("utf-16-le")[2 * entity["offset"] : 2 * (entity["offset"] + entity["length"])]
        assert covered.decode("utf-16-le") not in ("x", "2", "ext"), entity

    await bot_api.wait_quiet(2.0, timeout=120)
    # and a normal /start still gets its answer
    last = bot_api.user(39_998, "Last", language_code="en")
    await last.send("/start")
    welcome = await last.next_message(timeout=30)
    assert "/start" not in welcome.content and welcome.content

    # -- verdict ------------------------------------------------------------------------------------
    sent_updates = len(bot_api.updates) - first_update
    assert len(specs) >= MIN_UPDATES and sent_updates >= MIN_UPDATES * 0.9, (len(specs), sent_updates)
    refused = [c for c in bot_api.errors() if c.status == 400]
    assert not refused, "the stand-in refused calls:\n" + "\n".join(repr(c) for c in refused[:10])
    for chat in bot_api.chats.values():
        for m in chat.bot_messages:
            assert utf16_len(m.content) <= 4096
    log = bot.log_text()
    for bad in ("Traceback", "outcome=error", "outcome=parked", "CRITICAL"):
        assert bad not in log, (
            f"{bad!r} in the bot log:\n"
            + "\n".join(line for line in log.splitlines() if bad in line or "Error" in line)[:4000]
        )
    outcomes = re.findall(r"outcome=(\w+)", log)
    kinds = {k: outcomes.count(k) for k in set(outcomes)}
    print(f"\nhostile: {len(specs)} specs, {sent_updates} updates delivered to the bot; outcomes {kinds}")
    assert sum(kinds.values()) >= sent_updates * 0.9


FAST = {"OUTBOX_PRIVATE_INTERVAL": "50ms"}


@pytest.mark.postgres
async def test_a_description_with_nul_registers_on_postgresql(bot_api, bot_factory, postgres_database_url):
    """PostgreSQL's text refuses U+0000: the inbox makes it U+FFFD before anything is stored (polling)."""
    bot = await bot_factory.start(postgres_database_url, env=FAST)
    ann = bot_api.user(501, "Ann", username="ann", language_code="en")
    number = await register(ann, "The label printer\x00 on floor 2 prints blank pages since the morning")
    card = await card_of(bot_factory.staff, number)
    assert "The label printer\ufffd on floor 2 prints blank pages" in card.text
    await ann.send(f"/status {number}")  # and the ticket reads back from PostgreSQL
    status = await ann.wait_for(number, timeout=30)
    assert "Description: The label printer\ufffd on floor 2" in status.text, status.text
    staff_texts = [m.text or "" for m in bot_factory.staff.messages]
    assert not any("could not be processed" in text for text in staff_texts), staff_texts
    log = bot.log_text()
    assert "outcome=parked" not in log and "outcome=error" not in log and "invalid byte sequence" not in log


CUSTOMER_BUTTONS = ("m:new", "m:my", "m:help", "lg:ru", "i:abc123:incident", "st:1", "ft:new", "fx:1:y", "rt:1:5")


@ON_EACH_RUNTIME
async def test_customer_buttons_pressed_by_a_non_agent_in_the_staff_group_post_nothing(
    bot_api, bot_factory, bot_runtime
):
    await bot_factory.start(env=FAST)
    staff = bot_factory.staff
    ann = bot_api.user(501, "Ann", username="ann", language_code="en")
    eve = bot_api.user(666, "Eve", username="eve", language_code="en")
    number = await register(ann, "The label printer on floor 2 prints blank pages since the morning")
    card = await card_of(staff, number)
    await wait_outbox_settled(bot_factory.default_database_url)
    staff_before = {m.id for m in staff.messages}
    for data in CUSTOMER_BUTTONS:
        press = await eve.press_data(card, data)
        assert (await press.answer())["text"] == "This button is out of date.", data
    press = await eve.press_data(card, card.inline_keyboard[0][0]["callback_data"])  # the card's own Take
    assert (await press.answer())["text"] == "Only support agents can do this."
    # an agent's command in the staff group is handled after every press (one chat, in order) and its
    # answer is queued after anything they could have posted there: it must be the only new message
    await bot_api.user(7001).send_in(staff.id, "/queue")
    queue = await staff.wait_for("Queue")
    assert [m.id for m in staff.messages if m.id not in staff_before] == [queue.id]
    assert eve.messages == []  # nothing privately either (no intake started for her)
    assert await read(bot_factory.default_database_url, _drafts) == 0


async def _drafts(session) -> int:
    return (await session.exec(select(func.count()).select_from(Draft))).one()


async def test_a_4080_character_reply_reaches_the_customer_whole(bot_api, bot_factory):
    await bot_factory.start(env=FAST)
    ann = bot_api.user(501, "Ann", username="ann", language_code="en")
    agent = bot_api.user(7001)
    number = await register(ann, "The scanner on floor 4 jams on every single page since Monday")
    await card_of(bot_factory.staff, number)
    words = " ".join(f"Step{n}" + ("\n" if n % 40 == 0 else "") for n in range(1, 700))[:4080].rstrip()
    assert len(words) == 4080
    ann_before = {m.id for m in ann.messages}
    await agent.command("reply", f"{number} {words}")
    await agent.wait_for(f"Sent to the customer ({number})", timeout=30)
    last_word = words.split()[-1]
    await ann.wait_for(last_word, predicate=lambda m: m.content.rstrip().endswith(last_word), timeout=30)
    parts = [m for m in ann.messages if m.id not in ann_before]
    assert len(parts) >= 2  # over Telegram's 4096 with the header: split, every part within the limit
    got = " ".join(m.content for m in parts).split()
    assert got[-len(words.split()) :] == words.split() and "…" not in got[-1]


async def test_a_private_message_with_no_usable_sender_raises_no_staff_alert(bot_api, bot_factory):
    bot = await bot_factory.start(env=FAST)
    staff = bot_factory.staff
    await wait_outbox_settled(bot_factory.default_database_url)
    staff_before = {m.id for m in staff.messages}
    ghost = bot_api.user(4401, "Ghost", language_code="en")
    robot = bot_api.user(4402, "Robot", language_code="en")
    bot_api.post_incoming(ghost.id, {"text": "no from at all"}, sender=None)
    bot_api.post_incoming(robot.id, {"text": "/start"}, sender={**robot.data, "is_bot": True})
    bot_api._notify()
    await wait_until_true(lambda: _count(bot, "outcome=no_sender", 2), "both dropped at the edge")
    await bot_api.user(7001).send_in(staff.id, "/queue")  # after them in the staff chat's order of rows
    queue = await staff.wait_for("Queue")
    assert [m.id for m in staff.messages if m.id not in staff_before] == [queue.id]
    assert ghost.messages == [] and robot.messages == []
    log = bot.log_text()
    assert "outcome=parked" not in log and "outcome=error" not in log and "could not be processed" not in log


async def _count(bot, text: str, at_least: int) -> bool:
    return bot.log_text().count(text) >= at_least
