"""What the words of a report say about an outage besides the service (services.py): that something failed,
that many are affected, that it is one person's own problem or a request, and where.

Patterns match normalised text (helpdesk.triage.normalize), whole words only (services.whole_words).
This module is data: the rules that use it live in profile.py and similarity.py.
"""

from __future__ import annotations

import re

from helpdesk.outages.services import whole_words as _words
from helpdesk.triage.normalize import words

#: Something stopped working (besides the triage's incident cues, which are also used).
FAILURE = _words(
    r"down",
    r"out",
    r"лежит",
    r"лежат",
    r"лежал\w*",
    r"упал\w*",
    r"вис(?:ит|ят|нет|нут)",
    r"без\s+(?:свет|интернет|электричеств|сети|связи|доступа|телефон|wifi|почт)\w*",
    r"вырубил\w*",
    r"bounc\w*",
    r"reboot\w*",
    r"перезагруж\w*",
    r"cut",
    r"застрял\w*",
    r"не\s+(?:\w+\s+)?вид(?:ит|ят|но)",
    r"drops?",
    r"dropping",
    r"(?:nobody|no\s+one)\s+(?:\w+\s+)?(?:can|is|are|gets|has|receiv\w*)",
    r"нет",
    r"no\s+(?!rush|hurry|problem|one)\w+",
    r"without\s+\w+",
    r"dark",
    r"blackout",
    r"(?:is|are|went|turned|switched|cut)\s+off",
    r"обесточ\w*",
    r"мертв\w*",
    r"молчат",
    r"не\s+(?:\w+\s+)?(?:коннект|грузит|загруж|открыва|отвеча|пуска|проход|ловит|заход|звон|включа|подключ|соедин|"
    r"доход|приход|уход|доставл|получа|отправл|регистр|работ|печата|сканир)\w*",
    r"(?:is|are|was|were)\s+not\s+\w+ing",
    r"refus\w*",
    r"холодн\w*",
    r"cold",
    r"freezing",
    r"upal\w*",
    r"lezh\w*",
    r"bad\s+gateway",
    r"50[0-9]",
    r"not\s+(?:responding|loading|printing|connecting|accessible|available|coming|receiving|sending|working)",
    r"will\s+not",
    r"can\s+not",
    r"cannot",
    r"unable",
    r"gone",
    r"пропал\w*",
    r"исчез\w*",
    r"disappeared",
    r"keeps?\s+\w+ing",
)

#: More than the writer is affected.
COLLECTIVE = _words(
    r"у\s+всех",
    r"ни\s+у\s+кого",
    r"никто",
    r"никого",
    r"nobody",
    r"no\s+one",
    r"none\s+of\s+(?:us|the)",
    r"everyone\w*",
    r"everybody",
    r"for\s+all",
    r"all\s+of\s+\w+",
    r"any\s+of\s+the",
    r"for\s+any(?:one)?",
    r"anyone\s+else",
    r"anybody\s+else",
    r"all\s+(?:the\s+)?(?:users|staff|employees|agents|operators|pcs|computers|workstations|laptops|phones|"
    r"remote|desks|managers|customers|clients|colleagues|sip)\w*",
    r"(?:весь|всего|всей|вся|всем|все|всех|всю|во\s+всем|по\s+всему)\s+(?:офис|отдел|этаж|склад|команд|здани|корпус|"
    r"компани|бухгалтер|колл|оператор|менеджер|удален|сотрудник|пользовател|компьютер|бизнес)\w*",
    r"(?:whole|entire)\s+\w+",
    r"(?:на|во)\s+всех\s+\w+",
    r"(?:у\s+)?(?:коллег|соседей|соседа|других|гостей)\w*\s+(?:тоже|то\s+же|так\s+же|также)",
    r"у\s+гостей",
    r"у\s+всего\s+\w+",
    r"colleagues?\s+(?:too|also|as\s+well|say|have|are|at)",
    r"same\s+(?:for|problem|issue|here|thing)",
    r"то\s+же\s+самое",
    r"(?:not|не)\s+только\s+(?:у\s+)?(?:me|меня)",
    r"others\s+too",
    r"клиент\w*\s+(?:жалу|не\s+мо|звон|пиш)\w*",
    r"customers?\s+(?:can|complain|cannot|are)\w*",
    r"покупател\w*",
)

#: One person's own problem: their account, their device, one message, only them.
PERSONAL = _words(
    r"парол\w*",
    r"password\w*",
    r"pin",
    r"пин\s?код\w*",
    r"истек\w*",
    r"expired",
    r"забыл\w*",
    r"forgot\w*",
    r"сертификат\w*",
    r"certificate\w*",
    r"locked\s+out",
    r"заблокирован\w*",
    r"только\s+(?:у\s+меня|на\s+мо\w+|мне|мой|моя|мое|my|me)",
    r"only\s+(?:on\s+|for\s+)?(?:my|me|mine)",
    r"(?:for|to)\s+me\s+only",
    r"just\s+(?:me|my|mine)",
    r"у\s+(?:остальных|других|коллег|всех\s+остальных)\s+(?:все\s+)?(?:ок|нормально|работает|в\s+порядке|открывается)",
    r"остальные\s+(?:нормально|работают|приходят|ок)",
    r"others?\s+(?:see\s+it\s+)?(?:fine|ok|work\w*)",
    r"(?:everyone|everybody)\s+else\s+(?:is\s+)?(?:fine|ok)",
    r"(?:мо[йяею]|моего|моем|моей|моему|моих|my)\s+(?:\w+\s+)?(?:компьютер|ноутбук|телефон|мобильн|монитор|принтер|"
    r"стол|desk|laptop|computer|pc|phone|mobile|monitor|printer|adapter|адаптер|ибп|headset|гарнитур|calendar|"
    r"календар|mailbox|ящик|account|аккаунт|учетн|сделк|deal|home|дом)\w*",
    r"(?:у\s+меня\s+)?на\s+(?:мо\w+\s+|сво\w+\s+)?(?:телефоне|ноутбуке|компьютере|мобильном|планшете|айфоне|маке)",
    r"on\s+(?:my|the)\s+(?:phone|laptop|computer|pc|mac|iphone|tablet|mobile)",
    r"камер\w*",
    r"camera",
    r"webcam",
    r"микрофон\w*",
    r"microphone",
    r"демонстраци\w*",
    r"(?:screen\s+)?sharing",
    r"адаптер\w*",
    r"adapter",
    r"шнур\w*",
    r"cord",
    r"кабел\w*",
    r"cable",
    r"cracked",
    r"battery",
    r"розетк(?:а|у|е|ой)",
    r"socket",
    r"зарядк\w*",
    r"charger",
    r"удлинител\w*",
    r"лампочк\w*",
    r"bulb",
    r"(?:от|из|from)\s+одн(?:ого|ой)",
    r"одн(?:о|им)\s+(?:письм|сообщени|файл|документ)\w*",
    r"one\s+(?:email|message|client|customer|sender|file|document)",
    r"(?:письм\w*|emails?|message)\s+(?:от|from)\s+\w+",
    r"вложени\w*",
    r"attachment\w*",
    r"подпис\w*",
    r"signature",
    r"спам\w*",
    r"spam",
    r"переполн\w*",
    r"(?:mailbox|ящик)\s+(?:is\s+)?full",
    r"лимит\w*",
    r"quota",
    r"рассылк\w*",
    r"mailing\s+list",
    r"календар\w*",
    r"calendar",
    r"out\s*of\s*office|outofoffice",
    r"автоответ\w*",
    r"провод(?:ит|ится|ятся)",
    r"проведени\w*",
    r"не\s+могу\s+найти",
    r"can\s+not\s+find",
    r"опечатк\w*",
    r"typo",
    r"удалил\w*",
    r"нет\s+прав\w*",
    r"не\s+хватает\s+прав\w*",
    r"(?:no|without)\s+(?:permission|rights)\w*",
    r"clicked",
    r"кликнул\w*",
    r"нажал\w*\s+на\s+ссылк\w*",
    r"phishing",
    r"фишинг\w*",
    r"suspicious",
    r"подозрительн\w*",
    r"вирус\w*",
    r"virus\w*",
    r"deleted",
    r"после\s+обновлени\w*",
    r"after\s+(?:the\s+)?update",
    r"накладн\w*",
    r"тонер\w*",
    r"toner",
    r"картридж\w*",
    r"cartridge\w*",
    r"бумаг\w*",
    r"paper",
    r"закончил\w*",
    r"ran\s+out",
    r"дома",
    r"домашн\w*",
    r"at\s+home",
    r"home\s+\w+",
)

#: "my X" where X is neither a service nor the people around: "моя воронка", "my report"
POSSESSIVE = _words(r"(?:мо[йяеию]|моего|моем|моей|моему|моих|мою|my)\s+(\w+)")
NOT_PERSONAL_AFTER_MY = words(
    """
    team colleagues department dept office floor building company group коллеги коллег команда команды
    отдел отдела офис офиса этаж этаже здание компания
    """
)

#: Working from home is where a VPN outage is felt: "home" is not a personal cue for the VPN.
HOME = _words(r"дома", r"домашн\w*", r"at\s+home", r"home\s+\w+", r"(?:мо[йяею]|моего|моем|моей|my)\s+(?:home|дом)\w*")

#: Things on one person's desk or in their pocket: a report about one is that person's problem unless it
#: says many are affected ("монитор мерцает", "клавиатура залипает").
PERSONAL_DEVICE = _words(
    r"компьютер\w*",
    r"ноутбук\w*",
    r"монитор\w*",
    r"клавиатур\w*",
    r"мышк\w*",
    r"гарнитур\w*",
    r"наушник\w*",
    r"системн\w*\s+блок\w*",
    r"мобильн\w*",
    r"смартфон\w*",
    r"планшет\w*",
    r"computer",
    r"laptop",
    r"monitor",
    r"keyboard",
    r"mouse",
    r"headset",
    r"mobile",
    r"smartphone",
    r"iphone",
    r"tablet",
)

#: Words that say nothing about what failed: they never make two reports "about the same thing".
GENERIC_WORDS = words(
    """
    не нет работает работают работа работать сломался сломалась упал вообще опять снова уже еще сейчас очень
    утра утром сегодня минут час часа полчаса с со у всех все весь вся офис офисе офиса мы нас наш наша
    пишет выдает ошибка ошибку проблема срочно помогите пожалуйста что кто никто ничего ни
    not no is are was the a an again still since today morning minutes hour now all everyone nobody
    office our we us it works working work down broken dead error problem issue please help urgent
    """
)

#: Something is wanted, or asked about: a service request, not an outage.
REQUEST = _words(
    r"нуж(?:ен|на|но|ны)",
    r"need\w*",
    r"please\s+(?:install|add|create|grant|give|set|change|order|send|share|move|update|remove|reset|unlock|provide|"
    r"enable|forward|connect|restore|whitelist)\w*",
    r"(?:can|could)\s+you\s+(?:please\s+)?(?:add|give|create|set|restore|install|change|forward|connect|whitelist|"
    r"update|map)\w*",
    r"как\s+(?:мне\s+|можно\s+)?\w+ть(?:ся)?",
    r"how\s+(?:do|to|can|should)",
    r"можно",
    r"какой|какая|какие",
    r"what\s+is\s+the",
    r"хочу",
    r"хотел\w*",
    r"прошу",
    r"просьба",
    r"(?:установ|настро|подключ|добав|созда|обнов|помен|перенес|выда|заведи|переадрес)\w*(?:ите|йте|ьте)",
    r"дайте",
    r"would\s+like",
    r"i\s+d\s+like",
    r"install\w*",
    r"order\s+(?:a|an|new|some|me|for\s+me)",
    r"book",
    r"забронир\w*",
    r"whitelist",
    r"should\s+i",
)

#: Where: a floor, a building or block, a room, a meeting room.
_RUSSIAN_ORDINALS: dict[str, int] = {
    "перв": 1,
    "втор": 2,
    "трет": 3,
    "четверт": 4,
    "пят": 5,
    "шест": 6,
    "седьм": 7,
    "восьм": 8,
    "девят": 9,
    "десят": 10,
}
_ENGLISH_ORDINALS: dict[str, int] = {
    word: n
    for n, pair in enumerate(
        (
            ("first", "one"),
            ("second", "two"),
            ("third", "three"),
            ("fourth", "four"),
            ("fifth", "five"),
            ("sixth", "six"),
            ("seventh", "seven"),
            ("eighth", "eight"),
            ("ninth", "nine"),
            ("tenth", "ten"),
        ),
        1,
    )
    for word in pair
}
_ORD_RU = r"(перв|втор|трет|четверт|пят|шест|седьм|восьм|девят|десят)\w*"
_ORD_EN = r"(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)"
_NUM_EN = r"(one|two|three|four|five|six|seven|eight|nine|ten)"
_FLOOR_WORD = r"(?:этаж|етаж|floor)\w*"
FLOOR_PATTERNS: tuple[re.Pattern[str], ...] = (
    _words(r"(\d{1,2})(?:st|nd|rd|th)?\s+(?:(?:й|м|ом|ем|ий|ой)\s+)?" + _FLOOR_WORD),
    _words(_FLOOR_WORD + r"\s+(\d{1,2})"),
    _words(_ORD_RU + r"\s+" + _FLOOR_WORD),
    _words(_ORD_EN + r"\s+" + _FLOOR_WORD),
    _words(_FLOOR_WORD + r"\s+" + _NUM_EN),
    _words(r"на\s+(\d{1,2})\s+(?:м|ом|ем)"),
    _words(r"на\s+(первом|втором|третьем|четвертом|пятом|шестом|седьмом|восьмом|девятом|десятом)"),
)
BUILDING_PATTERNS: tuple[re.Pattern[str], ...] = (
    _words(r"(?:корпус|здани|building|bldg|строени|block|блок)\w*\s+([a-zа-я0-9]{1,2})"),
    _words(r"([a-z])\s+block"),
)
ROOM_PATTERN = _words(r"(?:кабинет\w*|каб|room|офис\w*|office)\s+(\d{2,4})")
MEETING_ROOM = _words(
    r"переговор\w*", r"meeting\s+rooms?", r"conference\s+rooms?", r"boardroom\w*", r"конференц\s?зал\w*"
)


def ordinal(word: str) -> int | None:
    """3 for "третьем", "third", "three" or "3"; None when the word is no floor number."""
    if word.isdigit():
        return int(word)
    if word in _ENGLISH_ORDINALS:
        return _ENGLISH_ORDINALS[word]
    return next((n for stem, n in _RUSSIAN_ORDINALS.items() if word.startswith(stem)), None)
