"""The services customers report as down, and the words they use for each ("инет", "1С", "МФУ", "outlook").

Patterns match normalised text (helpdesk.triage.normalize: lowercase, ё folded, slang mapped, Russian
typed in Latin letters back in Cyrillic), whole words only: each alternative starts at a word start and
ends at a word end; ``\\w*`` in an alternative allows any ending ("принтер\\w*" → принтера, принтеры).
Data, read by profile.py; the other cues (failure, scope, personal, request, place) are in cues.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def whole_words(*alternatives: str) -> re.Pattern[str]:
    """One pattern matching any of the alternatives as whole words."""
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


@dataclass(frozen=True)
class Service:
    """A service customers report as down; ``parent`` is its key in the intake's service catalogue."""

    key: str
    parent: str
    pattern: re.Pattern[str]
    #: whole words a typo is measured against (one slip allowed from 6 letters, two from 9)
    spellings: tuple[str, ...] = ()


_BUSINESS_APP = "business_app"

#: Services in the order of the intake catalogue's keys (dialogs/services.py); "erp" and "crm" are two
#: systems behind one catalogue entry, so a 1C outage and a CRM outage stay apart.
SERVICES: tuple[Service, ...] = (
    Service(
        "internet",
        "internet",
        whole_words(
            r"интернет\w*",
            r"internet",
            r"провайдер\w*",
            r"provider",
            r"isp",
            r"сайты",
            r"сайтов",
            r"websites",
            r"web\s+pages",
            r"pages",
            r"сеть",
            r"сети",
            r"network",
        ),
        ("интернет", "интернета", "интернете", "internet"),
    ),
    Service(
        "wifi",
        "wifi",
        whole_words(r"wifi", r"вай\s?фа\w*", r"wireless", r"беспроводн\w*", r"точк\w*\s+доступа", r"access\s+points?"),
        ("wireless",),
    ),
    Service(
        "vpn",
        "vpn",
        whole_words(
            r"vpn\w*",
            r"anyconnect",
            r"forticlient",
            r"openvpn",
            r"wireguard",
            r"удаленн\w*\s+доступ\w*",
            r"удаленк\w*",
            r"remote\s+access",
        ),
        ("forticlient", "anyconnect"),
    ),
    Service(
        "email",
        "email",
        whole_words(
            r"почт(?:а|у|ы|е|ой|ов\w*)",
            r"e?mails?",
            r"email\w*",
            r"webmail",
            r"mailbox\w*",
            r"mailing",
            r"outlook\w*",
            r"exchange",
            r"письм\w*",
            r"писм\w*",
            r"inbox",
            r"outbox",
            r"smtp",
            r"imap",
        ),
        ("почта", "почты", "почту", "почтовый", "outlook", "email", "emails", "exchange", "письма", "mailbox"),
    ),
    Service("erp", _BUSINESS_APP, whole_words(r"1с\w*", r"erp", r"sap"), ()),
    Service(
        "crm",
        _BUSINESS_APP,
        whole_words(r"crm", r"срм", r"bitrix\w*", r"битрикс\w*", r"amocrm", r"salesforce"),
        ("bitrix", "битрикс"),
    ),
    Service(
        "printer",
        "printer",
        whole_words(
            r"(?:сканер|сканир|scan)\w*\s+(?:\w+\s+){0,2}(?:на|to)\s+(?:почт|e?mail)\w*",
            r"принтер\w*",
            r"printer\w*",
            r"print\w*",
            r"печат\w*",
            r"распечат\w*",
            r"мфу",
            r"сканер\w*",
            r"scanner\w*",
            r"ксерокс\w*",
            r"copier\w*",
            r"xerox",
        ),
        ("принтер", "принтера", "принтеры", "printer", "printers", "печатает", "сканер", "scanner"),
    ),
    Service(
        "electricity",
        "electricity",
        whole_words(
            r"свет(?:а|у|ом|е)?",
            r"электричеств\w*",
            r"электропитани\w*",
            r"электроэнерги\w*",
            r"power",
            r"electricity",
            r"electric\w*",
            r"blackout",
            r"обесточ\w*",
            r"розетк\w*",
            r"sockets?",
            r"ибп",
            r"генератор\w*",
            r"lights?",
        ),
        ("электричество", "электричества", "electricity", "blackout", "обесточен"),
    ),
    Service(
        "phone",
        "phone",
        whole_words(
            r"телефон\w*",
            r"phones?",
            r"telephon\w*",
            r"telefon\w*",
            r"voip",
            r"атс",
            r"pbx",
            r"sip",
            r"звонк\w*",
            r"calls?",
            r"дозвон\w*",
            r"гудк\w*",
            r"гудок",
            r"dial\s+tone",
            r"voicemail",
            r"голосов\w*\s+почт\w*",
            r"трубк\w*",
        ),
        ("телефон", "телефоны", "телефония", "телефонии", "phones", "telephone", "telephony"),
    ),
    Service(
        "website",
        "website",
        whole_words(
            r"сайт(?:а|е|у|ом)?",
            r"websites?",
            r"site",
            r"портал\w*",
            r"portal\w*",
            r"личн\w*\s+кабинет\w*",
            r"лк",
            r"интернет\s+магазин\w*",
            r"online\s+(?:shop|store)",
            r"web\s?shop",
            r"shop",
            r"checkout",
        ),
        ("website", "портал", "portal"),
    ),
    Service(
        "shared_drive",
        "shared_drive",
        whole_words(
            r"сетев\w*\s+(?:диск|папк|ресурс)\w*",
            r"общ\w*\s+(?:диск|папк)\w*",
            r"файлов\w*\s+сервер\w*",
            r"файлообменник\w*",
            r"(?:shared|network)\s+(?:drive|folder)s?",
            r"file\s+server",
            r"диск\s+[a-zа-я]",
            r"[a-z]\s+drive",
        ),
        (),
    ),
    Service(
        "video_calls",
        "cloud",
        whole_words(
            r"zoom\w*",
            r"teams",
            r"skype",
            r"webex",
            r"google\s+meet",
            r"видеоконференц\w*",
            r"видеосвяз\w*",
            r"созвон\w*",
            r"video\s+(?:calls?|conferenc\w*|meetings?)",
        ),
        ("webex",),
    ),
    Service("elevator", "building", whole_words(r"лифт\w*", r"lifts?", r"elevators?"), ("elevator",)),
    Service(
        "meeting_room",
        "meeting_room",
        whole_words(r"проектор\w*", r"projector\w*", r"телевизор\w*", r"tv"),
        ("проектор", "projector"),
    ),
    Service(
        "cooling",
        "climate",
        whole_words(r"кондиционер\w*", r"кондиционир\w*", r"air\s+condition\w*", r"cooling"),
        ("кондиционер",),
    ),
    Service(
        "heating",
        "climate",
        whole_words(r"отоплени\w*", r"батаре\w*\s+(?:холодн|не\s+гре)\w*", r"heating", r"radiators?"),
        ("отопление",),
    ),
)
