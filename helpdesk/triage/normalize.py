"""Turn a customer's informal text into something the model and the lexicons can match.

Customers write "инет тупит", "ne rabotaet pochta", "wi-fi", "doesnt work", "<b>HELP</b> 😡". We fold
case and ё, drop markup, expand English contractions, map slang to the word the corpus uses, and
transliterate Russian written in Latin letters back to Cyrillic, so that one training example covers
all those spellings.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache


def words(text: str) -> frozenset[str]:
    """A word set written as whitespace-separated text: long lexicons stay readable."""
    return frozenset(text.split())


_TAG = re.compile(r"<[^>]{0,200}>")
_URL = re.compile(r"https?://\S+|www\.\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_TOKEN = re.compile(r"[a-zа-я0-9]+(?:[''][a-z]+)?")
_LATIN = re.compile(r"[a-z]")
_CYRILLIC = re.compile(r"[а-я]")

# Phrases joined before tokenising: the hyphen and space variants of one word.
_JOINS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\bwi[\s-]?fi\b|\bwai[\s-]?fai\b|\bвай[\s-]?фай\w*|\bвифи\b|\bвайфа\w*|\bвафл[яиею]\b", " wifi "),
        (r"\be[\s-]mail", " email"),
        (r"\bэл(?:ектронн\w*|\.)?\s*почт", " почт"),
        (r"\b1\s?[сc]\b|\bодин\s?эс\w*|\bодинэс\w*", " 1с "),
        (r"\bip[\s-]телефон\w*|\bip[\s-]?phone\w*|\bvoip\b", " voip "),
        (r"\bне\s*(?:пашет|фурычит|робит|работат)", " не работает"),
        (r"\bn[ae][\s-]?rabota\w*", " не работает"),
        (r"\bon[\s-]?line\b", " online"),
        (r"\blog[\s-]?in\b", " login"),
        (r"\blog[\s-]?on\b", " login"),
        (r"\bset[\s-]?up\b", " setup"),
        (r"\bpass[\s-]?word\b", " password"),
        (r"\bout[\s-]of[\s-]office\b", " outofoffice"),
        (r"\bre[\s-]?install", " reinstall"),
        (r"\bun[\s-]?install", " uninstall"),
    )
)

# English contractions: the negation matters ("doesn't work" is an incident cue).
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\b(can|won|don|doesn|didn|isn|aren|wasn|weren|couldn|wouldn|shouldn|hasn|haven|ain)[''`]?t\b", r"\1 not"),
        (r"\bcan not\b", "can not"),
        (r"\bwon not\b", "will not"),
        (r"\b(doesn|don|didn) not\b", "does not"),
        (r"\b(isn|aren|wasn|weren|ain) not\b", "is not"),
        (r"\b(couldn|wouldn|shouldn|hasn|haven) not\b", r"\1 not"),
        (r"\bi[''`]?m\b", "i am"),
        (r"\b(\w+)[''`]s\b", r"\1"),
        (r"\b(\w+)[''`](ve|ll|re|d)\b", r"\1"),
    )
)

#: Slang, short forms and brand spellings → the word the corpus and lexicons use.
SLANG: dict[str, str] = {
    # Russian slang for things
    "инет": "интернет",
    "инета": "интернета",
    "инете": "интернете",
    "инетом": "интернетом",
    "инету": "интернету",
    "интер": "интернет",
    "интырнет": "интернет",
    "энтернет": "интернет",
    "иннет": "интернет",
    "комп": "компьютер",
    "компа": "компьютера",
    "компе": "компьютере",
    "компу": "компьютеру",
    "компом": "компьютером",
    "компы": "компьютеры",
    "компов": "компьютеров",
    "компах": "компьютерах",
    "компутер": "компьютер",
    "кампьютер": "компьютер",
    "компьтер": "компьютер",
    "пк": "компьютер",
    "ноут": "ноутбук",
    "ноута": "ноутбука",
    "ноуте": "ноутбуке",
    "ноуту": "ноутбуку",
    "ноутом": "ноутбуком",
    "бук": "ноутбук",
    "ноутбук": "ноутбук",
    "ноутбуг": "ноутбук",
    "винда": "windows",
    "винды": "windows",
    "винде": "windows",
    "виндовс": "windows",
    "винду": "windows",
    "впн": "vpn",
    "впнка": "vpn",
    "впнку": "vpn",
    "впн-ка": "vpn",
    "принтак": "принтер",
    "принтор": "принтер",
    "притнер": "принтер",
    "пинтер": "принтер",
    "клава": "клавиатура",
    "клаву": "клавиатуру",
    "клавы": "клавиатуры",
    "клаве": "клавиатуре",
    "мышь": "мышка",
    "мыш": "мышка",
    "моник": "монитор",
    "моника": "монитора",
    "монитр": "монитор",
    "сервак": "сервер",
    "сервака": "сервера",
    "серваке": "сервере",
    "серв": "сервер",
    "тел": "телефон",
    "мобила": "телефон",
    "мобилу": "телефон",
    "мобилка": "телефон",
    "трубка": "телефон",
    "симка": "sim",
    "симку": "sim",
    "симки": "sim",
    "сим-карту": "sim",
    "сим-карта": "sim",
    "симкарту": "sim",
    "учетка": "учетная",
    "учетку": "учетную",
    "учетки": "учетной",
    "учетке": "учетной",
    "акк": "аккаунт",
    "акка": "аккаунта",
    "акаунт": "аккаунт",
    "аккаунт": "аккаунт",
    "логин": "логин",
    "пароль": "пароль",
    "пароли": "пароль",
    "пасс": "пароль",
    "пассворд": "пароль",
    "почтовик": "почта",
    "аутлук": "outlook",
    "аутлуке": "outlook",
    "эксель": "excel",
    "ексель": "excel",
    "экселе": "excel",
    "экселя": "excel",
    "эксел": "excel",
    "ворд": "word",
    "ворде": "word",
    "ворда": "word",
    "фотошоп": "photoshop",
    "фотошопа": "photoshop",
    "зум": "zoom",
    "зуме": "zoom",
    "зума": "zoom",
    "тимс": "teams",
    "тимсе": "teams",
    "телега": "telegram",
    "телеге": "telegram",
    "телегу": "telegram",
    "гитлаб": "gitlab",
    "гитлабу": "gitlab",
    "гитлабе": "gitlab",
    "гит": "git",
    "жира": "jira",
    "жиру": "jira",
    "жире": "jira",
    "джира": "jira",
    "джиру": "jira",
    "джире": "jira",
    "конфлюенс": "confluence",
    "конфлюенсу": "confluence",
    "битрикс": "bitrix",
    "битрикс24": "bitrix",
    "битрикса": "bitrix",
    "битриксе": "bitrix",
    "скайп": "skype",
    "хром": "chrome",
    "хроме": "chrome",
    "антивирь": "антивирус",
    "касперский": "антивирус",
    "каспер": "антивирус",
    "дрова": "драйвер",
    "дров": "драйвер",
    "прога": "программа",
    "проги": "программы",
    "прогу": "программу",
    "проге": "программе",
    "прогой": "программой",
    "софт": "программа",
    "софта": "программы",
    "приложуха": "приложение",
    "приложка": "приложение",
    "приложку": "приложение",
    "апп": "приложение",
    "кондер": "кондиционер",
    "кондёр": "кондиционер",
    "кондей": "кондиционер",
    "кондеи": "кондиционеры",
    "кондеры": "кондиционеры",
    "кондеров": "кондиционеров",
    "кондея": "кондиционер",
    "свет": "свет",
    "электричка": "электричество",
    "электричества": "электричество",
    "бесперебойник": "ибп",
    "бесперебойника": "ибп",
    "ups": "ибп",
    "серверная": "серверная",
    "админ": "администратор",
    "админу": "администратору",
    "админа": "администратора",
    "админы": "администраторы",
    "сисадмин": "администратор",
    "айтишники": "администраторы",
    "айтишник": "администратор",
    "айтишникам": "администраторам",
    "флешка": "флешка",
    "флэшка": "флешка",
    "флешку": "флешка",
    "флэшку": "флешка",
    "наушники": "гарнитура",
    "наушников": "гарнитура",
    "ушки": "гарнитура",
    "вебка": "камера",
    "вебку": "камера",
    "вебки": "камера",
    "вебкамера": "камера",
    "вебкамеру": "камера",
    # Russian slang for states
    "глючит": "сбоит",
    "глючат": "сбоит",
    "глючит.": "сбоит",
    "глюк": "сбой",
    "глюки": "сбой",
    "глюков": "сбой",
    "лагает": "тормозит",
    "лагает.": "тормозит",
    "лагают": "тормозит",
    "лаги": "тормозит",
    "тупит": "тормозит",
    "тупят": "тормозит",
    "туплю": "тормозит",
    "тормозит": "тормозит",
    "тормозят": "тормозит",
    "виснет": "зависает",
    "виснут": "зависает",
    "висит": "зависает",
    "повис": "зависает",
    "зависло": "зависает",
    "завис": "зависает",
    "зависла": "зависает",
    "пашет": "работает",
    "фурычит": "работает",
    "робит": "работает",
    "сдох": "сломался",
    "сдохла": "сломался",
    "сдохло": "сломался",
    "сдохли": "сломался",
    "накрылся": "сломался",
    "накрылась": "сломался",
    "накрылось": "сломался",
    "гикнулся": "сломался",
    "гикнулась": "сломался",
    "навернулся": "сломался",
    "навернулась": "сломался",
    "полетел": "сломался",
    "полетела": "сломался",
    "крякнул": "сломался",
    "крякнулся": "сломался",
    "помер": "сломался",
    "померла": "сломался",
    "умер": "сломался",
    "умерла": "сломался",
    "умерло": "сломался",
    "отвалился": "отключился",
    "отвалилась": "отключился",
    "отвалилось": "отключился",
    "отвалились": "отключился",
    "отваливается": "отключается",
    "отваливаются": "отключается",
    "отпал": "отключился",
    "отпала": "отключился",
    "лег": "упал",
    "легла": "упал",
    "легло": "упал",
    "легли": "упал",
    "прилег": "упал",
    "прилегла": "упал",
    "вырубился": "выключился",
    "вырубилась": "выключился",
    "вырубилось": "выключился",
    "вырубили": "отключили",
    "вырубает": "выключается",
    "вырубило": "выключился",
    "крашится": "вылетает",
    "крашнулся": "вылетает",
    "крашнулась": "вылетает",
    "вылетает": "вылетает",
    "жесть": "очень",
    "капец": "очень",
    "трындец": "очень",
    "ппц": "очень",
    "пипец": "очень",
    "щас": "сейчас",
    "сча": "сейчас",
    "плз": "пожалуйста",
    "пжлст": "пожалуйста",
    "пж": "пожалуйста",
    "пожалуста": "пожалуйста",
    "пожайлуста": "пожалуйста",
    "позязя": "пожалуйста",
    "спс": "спасибо",
    "срочняк": "срочно",
    "асап": "срочно",
    "чо": "что",
    "че": "что",
    "шо": "что",
    "чота": "что",
    "чтото": "что",
    "ктонибудь": "кто",
    "нифига": "не",
    "ниче": "ничего",
    "нихрена": "ничего",
    "оч": "очень",
    "ща": "сейчас",
    "тыщу": "тысячу",
    "бухи": "бухгалтерия",
    "бухгалтерии": "бухгалтерии",
    "бухгалтерша": "бухгалтер",
    "бухгалтерше": "бухгалтеру",
    # English slang and short forms
    "pls": "please",
    "plz": "please",
    "pleas": "please",
    "plse": "please",
    "thx": "thanks",
    "ty": "thanks",
    "u": "you",
    "ur": "your",
    "wanna": "want",
    "gonna": "going",
    "gotta": "must",
    "cuz": "because",
    "coz": "because",
    "bc": "because",
    "asap": "urgent",
    "urgnt": "urgent",
    "urgant": "urgent",
    "pc": "computer",
    "comp": "computer",
    "puter": "computer",
    "compter": "computer",
    "computr": "computer",
    "lappy": "laptop",
    "lapop": "laptop",
    "labtop": "laptop",
    "laptp": "laptop",
    "notebook": "laptop",
    "printr": "printer",
    "priter": "printer",
    "prnter": "printer",
    "keybord": "keyboard",
    "inet": "internet",
    "intrnet": "internet",
    "internt": "internet",
    "interwebs": "internet",
    "wifi": "wifi",
    "wlan": "wifi",
    "ethernet": "lan",
    "vpn": "vpn",
    "acct": "account",
    "acc": "account",
    "accnt": "account",
    "pw": "password",
    "pwd": "password",
    "passwd": "password",
    "passwrd": "password",
    "creds": "credentials",
    "dunno": "not know",
    "broke": "broken",
    "borked": "broken",
    "busted": "broken",
    "kaput": "broken",
    "fubar": "broken",
    "wonky": "flaky",
    "laggy": "slow",
    "lagging": "slow",
    "sluggish": "slow",
    "crashy": "crashes",
    "froze": "freezes",
    "frozen": "freezes",
    "hangs": "freezes",
    "dead": "dead",
    "died": "dead",
    "dies": "dead",
    "outage": "outage",
    "app": "application",
    "apps": "application",
    "sw": "software",
    "hw": "hardware",
    "msg": "message",
    "msgs": "messages",
    "info": "information",
    "pic": "picture",
    "pls.": "please",
    "mins": "minutes",
    "min": "minutes",
    "hrs": "hours",
    "mgr": "manager",
    "dept": "department",
    "ppl": "people",
    "every1": "everyone",
    "some1": "someone",
    "nobody": "nobody",
    "outlok": "outlook",
    "exel": "excel",
    "excell": "excel",
    "zoon": "zoom",
    "photshop": "photoshop",
    "gitlab": "gitlab",
    "github": "github",
}

# Latin words that signal Russian written in Latin letters.
_TRANSLIT_MARKERS = words(
    """
    ne net ni rabotaet rabotayet rabotaet. rabota rabotat zavis zavisaet zavislo tormozit slomalsya
    slomalas slomalos slomal pomogite pomogi pozhaluysta pozhalujsta pojaluista pozhalusta plz srochno
    nuzhen nuzhna nuzhno nuzhny nado hochu prosba proshu dayte daite vydayte ustanovite ustanovit
    postavte postavit dostup dostupa parol parolya pochta pochtu pochty interneta inet komp
    kompyuter kompyutera noutbuk pechataet pechatat vklyuchaetsya vkluchaetsya vklyuchaet kak
    gde kogda pochemu podskazhite podskajite skazhite privet zdravstvuyte zdravstvujte dobryy dobriy den
    vopros propal propala propalo otvalilsya otvalilas tupit glyuchit glyuchit. vyletaet oshibka oshibku
    oshibki uchetka uchetku uchetnuyu zapis vse vsya vsem ofis ofise otdel otdele bukhgalteriya
    buhgalteriya sklad sklade ochen ochen. svet sveta elektrichestvo nichego nikto mozhno mogu mozhem
    virus vzlom vzlomali fishing zaydi zaiti zayti ustanovka novyy novyi novaya smenit pomenyat izmenit
    dobavit udalit sbrosit sbroste razblokiruyte razblokirovat vkluchite vklyuchite
    upal upala upalo upali lezhit lezhat telefony telefoniya
    """
)
_TRANSLIT_MULTI: tuple[tuple[str, str], ...] = (
    ("shch", "щ"),
    ("sch", "щ"),
    ("yo", "е"),
    ("zh", "ж"),
    ("kh", "х"),
    ("tsya", "тся"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ju", "ю"),
    ("ya", "я"),
    ("yte", "йте"),
    ("ja", "я"),
    ("ye", "е"),
    ("iy", "ий"),
    ("yy", "ый"),
    ("yi", "ый"),
    ("ii", "ий"),
    ("ay", "ай"),
    ("oy", "ой"),
    ("ey", "ей"),
    ("uy", "уй"),
    ("ai", "ай"),
    ("oi", "ой"),
    ("ei", "ей"),
)
_TRANSLIT_SINGLE = str.maketrans(
    {
        "a": "а",
        "b": "б",
        "v": "в",
        "g": "г",
        "d": "д",
        "e": "е",
        "z": "з",
        "i": "и",
        "j": "й",
        "k": "к",
        "l": "л",
        "m": "м",
        "n": "н",
        "o": "о",
        "p": "п",
        "r": "р",
        "s": "с",
        "t": "т",
        "u": "у",
        "f": "ф",
        "h": "х",
        "c": "к",
        "y": "ы",
        "w": "в",
        "q": "к",
        "x": "кс",
        "'": "ь",
    }
)
# Latin words kept as they are inside a transliterated text (brands, and tokens the corpus uses in Latin).
_KEEP_LATIN = words(
    """
    wifi vpn excel word outlook zoom teams gitlab github jira confluence photoshop windows linux mac
    chrome skype telegram bitrix crm erp sap sql api ssl ip dns dhcp usb hdmi lan sim email online login
    setup password ok pdf it hr
    """
)
_ENGLISH_HINTS = words(
    """
    the is are was my our we i you it not please can could would need want to of in on at for and or
    with this that have has do does will from an be been
    """
)


@lru_cache(maxsize=8192)
def translit_word(word: str) -> str:
    """Latin transliteration of a Russian word → Cyrillic ("rabotaet" → "работает")."""
    out = word
    for latin, cyr in _TRANSLIT_MULTI:
        out = out.replace(latin, cyr)
    return out.translate(_TRANSLIT_SINGLE)


# Letter groups and endings that English words rarely have but transliterated Russian often does.
_RUSSIAN_LIKE = re.compile(r"zh|kh|shch|yy|iy$|ya|yu|(?:ogo|ayte|yayte|aya|yye|ov|ev|ami|akh|nuyu|uyu)$")


@lru_cache(maxsize=65536)
def _shape(token: str) -> tuple[bool, bool, bool]:
    """(has a Latin letter, has a Cyrillic letter, spelt like transliterated Russian) of one word, kept:
    every word of every text was asked up to five regex searches, and words recur from text to text."""
    return bool(_LATIN.search(token)), bool(_CYRILLIC.search(token)), bool(_RUSSIAN_LIKE.search(token))


def _looks_transliterated(tokens: list[str]) -> bool:
    """Russian in Latin letters: known Russian words or Russian-looking spellings outnumber English words."""
    shapes = [(t, _shape(t)) for t in tokens]
    latin = [(t, shape) for t, shape in shapes if shape[0] and not shape[1] and t not in _KEEP_LATIN]
    if not latin:
        return False
    markers = sum(t in _TRANSLIT_MARKERS for t, _ in latin)
    english = sum(t in _ENGLISH_HINTS for t, _ in latin)
    russian_like = sum(t not in _TRANSLIT_MARKERS and t not in _ENGLISH_HINTS and shape[2] for t, shape in latin)
    return 2 * markers + russian_like >= 2 and markers + russian_like > english


def _mixed_script(token: str) -> bool:
    latin, cyrillic, _ = _shape(token)
    return latin and cyrillic


def _any_of(rules: tuple[tuple[re.Pattern[str], str], ...]) -> re.Pattern[str]:
    """One pattern matching wherever any of the rules' patterns would (none has inline flags)."""
    return re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in rules))


_ANY_CONTRACTION = _any_of(_CONTRACTIONS)
_ANY_JOIN = _any_of(_JOINS)


def _substitute(text: str, rules: tuple[tuple[re.Pattern[str], str], ...], any_rule: re.Pattern[str]) -> str:
    """The rules applied in order; a text none of them matches (most texts) is returned as it is after one
    scan instead of one per rule. Exact: a rule that matches nowhere leaves the text as it was for the next."""
    if any_rule.search(text) is None:
        return text
    for pattern, repl in rules:
        text = pattern.sub(repl, text)
    return text


def normalize(text: str) -> str:
    """Lowercased, ё-folded, markup-free text with slang and transliteration mapped; words space-separated."""
    return normalize_aligned(text)[0]


def normalize_aligned(text: str) -> tuple[str, tuple[str, ...]]:
    """normalize(), plus the customer's own word behind each normalised word (for explanations)."""
    if not text:
        return "", ()
    text = html.unescape(_TAG.sub(" ", text[:20000]))
    text = _URL.sub(" url ", text)
    text = _EMAIL.sub(" emailaddr ", text)
    text = text.lower().replace("ё", "е").replace("’", "'").replace("`", "'")
    text = _substitute(text, _CONTRACTIONS, _ANY_CONTRACTION)
    # Decide on transliteration before the joins turn "ne rabotaet" into Cyrillic and hide the evidence.
    tokens = [t.replace("'", "") for t in _TOKEN.findall(text)]
    transliterated = _looks_transliterated(tokens)
    joined = _substitute(text, _JOINS, _ANY_JOIN)
    if joined is not text:
        tokens = [t.replace("'", "") for t in _TOKEN.findall(joined)]
    source = list(tokens)
    if transliterated:
        tokens = [translit_word(t) if _LATIN.search(t) and t not in _KEEP_LATIN else t for t in tokens]
        tokens = _substitute(" ".join(tokens), _JOINS, _ANY_JOIN).split()
        if len(tokens) != len(source):
            source = list(tokens)
    else:  # "mышка", "serverнoy": a word typed half in the wrong keyboard layout
        tokens = [translit_word(t) if _mixed_script(t) else t for t in tokens]
    out: list[str] = []
    aligned: list[str] = []
    for token, own in zip(tokens, source, strict=True):
        for word in SLANG.get(token, token).split():
            out.append(word)
            aligned.append(own)
    return " ".join(out), tuple(aligned)
