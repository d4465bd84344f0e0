"""Messages that are only a greeting, a bare call for help or a thank-you, in English or Russian.

A newcomer's first message is often "Hello!" or "Здравствуйте", and a customer whose ticket was closed
often writes "Спасибо!". Taken as a ticket's description, each started a form about nothing. The intake
answers them instead (dialogs/small_talk_answers.py), and a thank-you in reply to a closed ticket's message is no
new request (helpdesk/customer_messages.py). A message counts only when every word in it is one of these
(or a filler such as "please"), so "hi, the printer is jammed" is still a description.
"""

from __future__ import annotations

import re
from enum import StrEnum


class SmallTalk(StrEnum):
    GREETING = "greeting"
    HELP = "help"  # "help", "помогите": wants help, has not said with what
    THANKS = "thanks"  # also a bare "ok", "понятно", 👍: nothing asked


#: every phrase a kind of small talk is made of; None: fillers that may stand around them
_PHRASES: dict[SmallTalk | None, tuple[str, ...]] = {
    SmallTalk.GREETING: (
        "hi", "hello", "hey", "hiya", "howdy", "greetings", "yo", "good morning", "good afternoon",
        "good evening", "good day", "привет", "приветик", "приветствую", "здравствуйте", "здравствуй",
        "здрасте", "здрасьте", "добрый день", "добрый вечер", "доброе утро", "доброго дня",
        "доброго времени суток", "доброй ночи", "хай", "салют", "алло",
    ),
    SmallTalk.HELP: (
        "help", "help me", "i need help", "need help", "can you help", "can you help me", "sos",
        "помогите", "помоги", "помощь", "нужна помощь", "мне нужна помощь", "нужна ваша помощь",
        "помогите мне", "вопрос", "есть вопрос", "у меня вопрос",
    ),
    SmallTalk.THANKS: (
        "thanks", "thank you", "thank you very much", "thanks a lot", "many thanks", "thx", "ty", "cheers",
        "спасибо", "спс", "благодарю", "большое спасибо", "спасибо большое", "огромное спасибо",
        "it works", "it works now", "works now", "all good", "работает", "все работает", "заработало",
        "все заработало", "ok", "okay", "got it", "great", "ок", "окей", "хорошо", "понятно", "ясно", "понял",
        "поняла", "ладно", "отлично", "супер",
    ),
    None: (
        "there", "all", "everyone", "everybody", "team", "support", "guys", "folks", "bot", "again", "dear",
        "please", "pls", "plz", "всем", "вам", "поддержка", "коллеги", "ребята", "бот", "снова", "еще раз",
        "пожалуйста", "плиз",
    ),
}  # fmt: skip
_KIND_OF: dict[tuple[str, ...], SmallTalk | None] = {
    tuple(phrase.split()): kind for kind, phrases in _PHRASES.items() for phrase in phrases
}
_LONGEST = max(len(phrase) for phrase in _KIND_OF)
_WORD = re.compile(r"[^\W\d_]+")
_MAX_WORDS = 8
#: a message of only these is a thumbs-up or a thank-you (variation selectors and spaces included)
_THANKS_SIGNS = frozenset("👍🙏❤🤝👌 \ufe0f")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold().replace("ё", "е"))


def small_talk(text: str) -> SmallTalk | None:
    """What the message is, when every word of it is a greeting, a call for help, thanks or a filler."""
    words = _words(text)
    if not words and text.strip() and set(text) <= _THANKS_SIGNS:
        return SmallTalk.THANKS
    if not words or len(words) > _MAX_WORDS:
        return None
    found: set[SmallTalk] = set()
    i = 0
    while i < len(words):
        match = _match_at(words, i)
        if match is None:
            return None
        kind, length = match
        if kind is not None:
            found.add(kind)
        i += length
    for kind in (SmallTalk.THANKS, SmallTalk.HELP, SmallTalk.GREETING):  # "hi, thanks" thanks; "hi, help" asks
        if kind in found:
            return kind
    return None  # fillers alone ("please", "again") say nothing: the usual "too short" answer fits


def _match_at(words: list[str], i: int) -> tuple[SmallTalk | None, int] | None:
    """The longest known phrase starting at word `i`: its kind (None for a filler) and length."""
    for length in range(min(_LONGEST, len(words) - i), 0, -1):
        phrase = tuple(words[i : i + length])
        if phrase in _KIND_OF:
            return _KIND_OF[phrase], length
    return None
