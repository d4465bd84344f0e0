"""Strong cue words, written by hand, matched on normalised text (see normalize.py).

They serve twice: as extra features the model weighs (so one cue word in an unseen sentence still
counts), and as the words the explanation quotes, so an agent can check why a ticket went where it went.
Patterns are prefixes anchored at a word start; keep them specific: a cue that fires everywhere
teaches the model nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from helpdesk.vocabulary import Category, TicketType

_NOT = r"(?:не|not|no|never|cannot|cant)"


@dataclass(frozen=True)
class Cue:
    group: str  # "incident", "service_request" or a category value
    pattern: re.Pattern[str]


def _cues(group: str, *patterns: str) -> list[Cue]:
    """Cues anchored at a word start; Latin-only patterns must also end at a word end ("account" ≠ "accounting")."""
    out = []
    for p in patterns:
        tail = "" if re.search(r"[а-я]", p) else r"(?![a-z0-9])"
        out.append(Cue(group, re.compile(r"(?<![\w])(?:" + p + ")" + tail)))
    return out


TYPE_CUES: list[Cue] = [
    *_cues(
        TicketType.INCIDENT.value,
        r"не\s+(?:\w+\s+)?(?:работа|работ|включа|печата|груз|загруж|открыва|запуска|отправля|приход|"
        r"подключа|видит|отвеча|сканир|заряжа|звон|слыш|показыва|сохраня|синхрониз|проход|отобража|"
        r"реагир|крут|охлажда|горит|пуска|логин|входит|войти|могу\s+войти|могу\s+зайти|получа|доступ\w*\s+сайт)",
        r"перестал\w*", r"сломал\w*", r"слома[нл]\w*", r"разбил\w*", r"разбит\w*", r"треснул\w*", r"упал\w*",
        r"завис\w*", r"тормоз\w*", r"сбо[ийя]\w*", r"ошибк\w*", r"ошибоч\w*", r"вылета\w*", r"пропал\w*",
        r"отключ(?:ился|илась|илось|ились|ается|аются|или)", r"выключ(?:ился|илась|ается)", r"глюч\w*",
        r"не\s+могу\s+(?:работать|зайти|войти|подключиться|распечатать|отправить|открыть)", r"нет\s+(?:связи|сети|интернета|света|звука|изображения|доступа\s+к\s+сети|питания)",
        r"неисправ\w*", r"поломк\w*", r"авари\w*", r"недоступ\w*", r"исчез\w*", r"дымит", r"искрит",
        r"протека\w*", r"течет", r"потоп\w*", r"зажева\w*", r"мерцает", r"шумит", r"пищит", r"гудит",
        r"broken", r"broke\b", r"(?:is|are|went|goes|go|been|was)\s+down\b", r"down\s+(?:again|since|for)",
        r"does\s+not\s+(?:work|start|turn|open|load|print|connect|respond|charge|boot|sync|send|show)",
        r"(?:not|stopped)\s+working", r"stopped\s+\w+ing", r"crash\w*", r"freezes", r"error\w*", r"fail\w*",
        r"outage", r"dead\b", r"won\s+not|will\s+not\s+(?:start|open|turn|load|print|connect|boot)",
        r"can\s+not\s+(?:connect|log|login|print|open|access|send|reach|work|sign|hear|see)",
        r"keeps?\s+(?:dropping|crashing|freezing|disconnecting|restarting|rebooting)", r"slow\b",
        r"flaky", r"unreachable", r"unavailable", r"timeout\w*", r"timing\s+out", r"disconnect\w*",
        r"offline", r"no\s+(?:internet|signal|power|connection|sound|picture|network|dial\s+tone)",
        r"leak\w*", r"flood\w*", r"overheat\w*", r"smoke", r"blank", r"glitch\w*", r"bug\b", r"lost\b",
        r"missing", r"wrong\b", r"suspicious", r"hacked",
    ),
    *_cues(
        TicketType.SERVICE_REQUEST.value,
        r"нуж(?:ен|на|но|ны)\b", r"надо\b", r"прошу", r"просьба", r"хочу", r"хотел\w*", r"хотим",
        r"установ(?:ите|ить|ка)", r"постав(?:ьте|ить|или)", r"выда(?:йте|ть)", r"предостав\w*",
        r"дайте", r"дать\b", r"добав(?:ьте|ить)", r"измен(?:ите|ить)", r"помен(?:яйте|ять)", r"замен(?:ите|ить)",
        r"созда(?:йте|ть)", r"заведите", r"завести", r"оформ\w*", r"закаж\w*", r"заказ\w*", r"подскаж\w*",
        r"как\s+(?:мне\s+|можно\s+|правильно\s+|бы\s+)?\w+", r"где\s+\w+", r"когда\s+\w+", r"какой|какая|какие|каком|сколько",
        r"можно\s+ли", r"подключите", r"откройте", r"открыть\s+доступ", r"перенес\w*", r"настро(?:йте|ить)",
        r"пришлите", r"отправьте\s+мне", r"сбросьте", r"разблокир\w*", r"продл\w*", r"купит\w*",
        r"please\s+(?:install|add|create|grant|give|set|change|order|send|share|move|update|remove|reset|unlock|provide|enable)",
        r"need\w*\b", r"would\s+like", r"request\w*", r"want\b", r"how\s+(?:do|can|to|should|does)",
        r"where\s+(?:can|do|is)", r"when\s+(?:will|is|does)", r"what\s+(?:is|are)", r"which\b", r"could\s+you",
        r"can\s+you", r"install\w*", r"grant\w*", r"access\s+to", r"(?:please\s+)?order\s+(?:a|an|new|some|more|\d+)", r"set\s*up|setup",
        r"new\s+(?:employee|hire|starter|laptop|phone|monitor|account|user)",
    ),
]

CATEGORY_CUES: list[Cue] = [
    *_cues(
        Category.HARDWARE.value,
        r"принтер\w*", r"мфу", r"сканер\w*", r"картридж\w*", r"монитор\w*", r"экран\w*", r"клавиатур\w*",
        r"мышк\w*", r"ноутбук\w*", r"компьютер\w*", r"системн\w+\s+блок", r"блок\s+питания", r"жестк\w+\s+диск",
        r"батаре\w*", r"зарядк\w*", r"кулер\w*", r"вентилятор\w*", r"гарнитур\w*", r"камер\w*", r"проектор\w*",
        r"телефон\w*", r"планшет\w*", r"док-станц\w*|докстанц\w*", r"тачпад\w*", r"клавиш\w*",
        r"printer\w*", r"scanner", r"monitor\w*", r"screen", r"keyboard\w*", r"mouse", r"laptop\w*",
        r"computer\w*", r"battery", r"charger", r"fan\b", r"headset\w*", r"webcam|camera", r"projector",
        r"docking|dock\b", r"touchpad|trackpad", r"hard\s+drive|ssd|hdd", r"toner|cartridge",
    ),
    *_cues(
        Category.SOFTWARE.value,
        r"программ\w*", r"приложени\w*", r"почт\w*", r"outlook", r"excel", r"word\b", r"1с", r"crm",
        r"erp", r"сайт\w*", r"портал\w*", r"windows", r"обновлени\w*", r"браузер\w*", r"chrome",
        r"база\s+данн\w*", r"систем\w+\s+документооборот\w*", r"личн\w+\s+кабинет\w*", r"кнопк\w*",
        r"отчет\w*\s+не", r"драйвер\w*", r"application", r"software", r"email", r"mail\b", r"website",
        r"browser", r"app\b", r"update", r"database", r"portal", r"button", r"login\s+page", r"500|502|503|404",
        r"exception", r"bitrix", r"jira", r"zoom", r"teams", r"skype", r"telegram",
    ),
    *_cues(
        Category.NETWORK.value,
        r"интернет\w*", r"сет(?:ь|и|евой|евая|евого|евом)\b", r"wifi", r"vpn", r"роутер\w*", r"маршрутизатор\w*",
        r"коммутатор\w*", r"свитч\w*", r"кабел\w*", r"пинг\w*", r"dns", r"ip\b", r"сетев\w+\s+диск\w*",
        r"удаленн\w+\s+рабоч\w+\s+стол\w*", r"rdp", r"связ\w*", r"internet", r"network", r"router",
        r"switch", r"ethernet|lan\b", r"cable", r"ping", r"packet\s+loss", r"latency", r"bandwidth",
        r"remote\s+desktop", r"shared\s+drive|network\s+drive|mapped\s+drive", r"proxy|firewall",
    ),
    *_cues(
        Category.SECURITY.value,
        r"вирус\w*", r"фишинг\w*", r"взлом\w*", r"вымогател\w*", r"шифровальщик\w*", r"троян\w*",
        r"подозрит\w*", r"утечк\w*", r"утек\w*", r"слит\w*|слили", r"посторонн\w*", r"спам\w*", r"мошенни\w*", r"антивирус\w*", r"баннер\w*",
        r"чуж\w+\s+(?:вход|устройств)", r"без\s+моего\s+ведома", r"украли|украден\w*", r"скомпрометир\w*",
        r"malware", r"virus\w*", r"phish\w*", r"hack\w*", r"breach\w*", r"leaked|data\s+leak\w*|leak\w*\s+(?:data|password)",
        r"ransomware", r"trojan", r"suspicious", r"compromis\w*", r"stolen", r"antivirus", r"spam",
        r"scam\w*", r"fraud\w*", r"unauthori[sz]ed", r"without\s+my\s+knowledge", r"keylogger|spyware",
    ),
    *_cues(
        Category.POWER.value,
        r"свет\b|света\b|свету\b", r"электричеств\w*", r"электропитани\w*", r"питани\w*", r"обесточ\w*",
        r"розетк\w*", r"ибп", r"генератор\w*", r"напряжени\w*", r"щиток\w*|электрощит\w*", r"автомат\w*\s+выбил\w*",
        r"выбило\s+пробк\w*|пробки", r"power\b", r"electricity", r"outlet\w*|socket\w*", r"ups\b", r"generator",
        r"blackout", r"power\s+cut|power\s+outage|brownout", r"voltage", r"breaker\w*", r"surge",
    ),
    *_cues(
        Category.FACILITY.value,
        r"кондиционер\w*", r"отоплени\w*", r"батаре\w+\s+отоплени\w*", r"протеч\w*|протека\w*|потоп\w*|прорвал\w*",
        r"труб\w*", r"вод\w*", r"пожар\w*", r"задымлени\w*|дым\w*", r"сигнализаци\w*", r"охлаждени\w*",
        r"температур\w*", r"жарко|холодно|духота", r"лифт\w*", r"двер\w*", r"замок|замки|пропуск\w*\s+не",
        r"турникет\w*", r"потол\w*", r"туалет\w*", r"уборк\w*", r"помещени\w*", r"air\s*condition\w*|hvac|a/?c\b",
        r"heating", r"leak\w*", r"flood\w*", r"pipe\w*", r"fire", r"smoke", r"alarm", r"sprinkler\w*",
        r"cooling", r"overheat\w*", r"temperature", r"elevator|lift\b", r"door\w*", r"badge\s+reader|turnstile",
        r"ceiling", r"toilet|restroom", r"water",
    ),
    *_cues(
        Category.SUPPLIER.value,
        r"провайдер\w*", r"поставщик\w*", r"подрядчик\w*", r"оператор\w*\s+связи", r"облачн\w*", r"хостинг\w*",
        r"сторонн\w*", r"внешн\w+\s+сервис\w*", r"партнер\w*", r"банк\w*", r"платежн\w+\s+шлюз\w*", r"эквайринг\w*",
        r"курьерск\w*", r"служб\w+\s+доставк\w*", r"на\s+их\s+стороне", r"у\s+них", r"аренд\w*",
        r"provider", r"vendor\w*", r"supplier\w*", r"third[\s-]party", r"contractor", r"hosting", r"cloud",
        r"saas", r"carrier", r"isp\b", r"payment\s+gateway|acquir\w*", r"courier", r"on\s+their\s+side",
        r"their\s+(?:api|service|status\s+page|support)", r"status\s+page",
    ),
    *_cues(
        Category.ACCESS.value,
        r"доступ\w*", r"пароль\w*", r"парол\w*", r"учетн\w*\s+запис\w*|учетн\w+", r"аккаунт\w*", r"логин\w*",
        r"прав[аоу]?\b", r"разблокир\w*", r"заблокирован\w*", r"сброс\w*", r"права\s+администратора",
        r"пропуск\w*", r"gitlab", r"github", r"git\b", r"confluence", r"папк\w*", r"общ\w+\s+папк\w*",
        r"access", r"password\w*", r"accounts?", r"permission\w*", r"credentials", r"unlock", r"locked\s+out",
        r"reset", r"login|log\s+in|sign\s+in", r"admin\s+rights", r"revoke|remove\s+access|offboard\w*",
        r"onboard\w*", r"mfa|2fa|two[\s-]factor",
    ),
    *_cues(
        Category.PROVISIONING.value,
        r"установ\w*", r"постав(?:ьте|ить|или|ят)", r"выда(?:йте|ть|ча)", r"нов(?:ый|ая|ое|ые|ую)\s+\w+", r"закаж\w*",
        r"заказ\w*", r"купит\w*", r"закуп\w*", r"лицензи\w*", r"photoshop", r"архиватор\w*", r"sim", r"флешк\w*",
        r"гарнитур\w*", r"второй\s+монитор", r"install\w*", r"(?:please\s+)?order\s+(?:a|an|new|some|more|\d+|ink|toner|cartridges?)", r"purchas\w*", r"buy\b", r"licen[cs]e\w*",
        r"new\s+(?:laptop|phone|monitor|headset|mouse|keyboard|sim|computer|chair|printer)", r"provide",
        r"issue\s+(?:me|a|an)", r"spare", r"toner|cartridge\w*", r"adobe|acrobat|visio|autocad",
    ),
    *_cues(
        Category.CHANGE.value,
        r"измен(?:ите|ить|ение|ения)", r"помен(?:яйте|ять)", r"перенес(?:ите|ти)|перенос\w*", r"переезд\w*",
        r"перенастро\w*", r"настро(?:йте|ить)\s+(?:по-другому|иначе)", r"добав(?:ьте|ить)\s+\w+\s+в\s+справочник\w*",
        r"справочник\w*", r"маршрут\w*", r"расписани\w*", r"шаблон\w*", r"обнов(?:ите|ить)\s+до", r"внедр\w*",
        r"миграц\w*|мигрир\w*", r"переименуйте|переименовать", r"change\b", r"modify", r"move\b|moved\b",
        r"migrat\w*", r"rename", r"reconfigur\w*", r"schedule\w*", r"roll\s*out|deploy\w*|upgrade",
        r"template", r"workflow", r"relocat\w*", r"adjust", r"switch\s+(?:to|from|the)", r"update\s+the\s+\w+",
    ),
    *_cues(
        Category.CONSULTATION.value,
        r"как\s+(?:мне\s+|можно\s+|правильно\s+|бы\s+|же\s+)?(?:сделать|настроить|поменять|изменить|\w+ть)",
        r"подскаж\w*", r"научите", r"объясните", r"посоветуйте", r"инструкци\w*", r"что\s+делать", r"каким\s+образом",
        r"можно\s+ли", r"как\s+\w+", r"вопрос\s+по", r"how\s+(?:do|can|to|should)", r"is\s+it\s+possible",
        r"explain", r"advice|advise", r"recommend\w*", r"guide|tutorial|instruction\w*", r"tips?\b",
        r"which\s+\w+\s+should", r"best\s+way", r"help\s+me\s+understand",
    ),
    *_cues(
        Category.INFORMATION.value,
        r"когда\s+(?:будет|будут|закончат|планир\w*)", r"какой\s+(?:номер|телефон|адрес|статус|срок)", r"сколько",
        r"пришлите", r"предоставьте\s+(?:отчет|список|информаци)", r"информаци\w*", r"статус\w*", r"график\w*",
        r"срок\w*", r"список\w*", r"отчет\w*", r"акт\w*", r"счет\w*", r"контакт\w*", r"регламент\w*", r"где\s+найти",
        r"кто\s+отвечает", r"what\s+(?:is|are)\s+the", r"when\s+(?:will|is|does)", r"how\s+many|how\s+much",
        r"send\s+me", r"report", r"list\s+of|inventory", r"status", r"hours\b", r"contact\w*", r"schedule",
        r"invoice\w*", r"policy", r"who\s+is\s+responsible", r"where\s+can\s+i\s+find", r"deadline",
    ),
]

ALL_CUES: list[Cue] = TYPE_CUES + CATEGORY_CUES
GROUPS: tuple[str, ...] = (
    TicketType.INCIDENT.value,
    TicketType.SERVICE_REQUEST.value,
    *(c.value for c in Category),
)

#: Words that carry no triage evidence on their own ("помогите", "hello", "вопрос"): a text made
#: only of these is doubtful whatever the model says.
VAGUE_WORDS: frozenset[str] = frozenset(
    ["помогите", "помогите", "помоги", "помощь", "help", "hello", "hi", "hey", "привет", "здравствуйте", "здрасте", "добрый", "день", "доброе", "утро", "вечер", "вопрос", "вопросик", "question", "проблема", "проблемы", "problem", "issue", "issues", "беда", "ау", "алло", "эй", "срочно", "urgent", "please", "пожалуйста", "спасибо", "thanks", "thank", "you", "у", "меня", "мне", "i", "me", "my", "we", "our", "нас", "есть", "is", "a", "an", "the", "there", "have", "has", "что", "то", "это", "it", "this", "that", "something", "somebody", "anyone", "someone", "кто", "нибудь", "можно", "can", "с", "with", "и", "and", "or", "или", "по", "about", "на", "on", "в", "in", "to", "к", "for", "для", "ok", "ок", "хорошо", "good", "morning", "evening", "afternoon", "всем", "all", "team", "коллеги", "colleagues", "support", "поддержка", "админ", "администратор", "администраторы", "admin", "сапорт", "плиз", "pls", "очень", "very", "really", "вообще", "опять", "again", "снова", "still", "hi", "there", "тут", "here", "so", "так", "же", "also", "тоже", "есть", "ли", "кто", "нибудь", "anybody", "ticket", "тикет", "заявка", "заявку", "обращение", "request", "новая", "new"]
)


_GROUP_PATTERNS: dict[str, re.Pattern[str]] = {}
for _cue in ALL_CUES:
    _prev = _GROUP_PATTERNS.get(_cue.group)
    _src = _cue.pattern.pattern if _prev is None else _prev.pattern + "|" + _cue.pattern.pattern
    _GROUP_PATTERNS[_cue.group] = re.compile(_src)
_WORD_END = re.compile(r"\w*")


def matches(normalized: str) -> dict[str, list[str]]:
    """Group → the words of every cue found, in order (for features and explanations)."""
    found: dict[str, list[str]] = {}
    for group, pattern in _GROUP_PATTERNS.items():
        words: list[str] = []
        for m in pattern.finditer(normalized):
            end = _WORD_END.match(normalized, m.end()).end() if m.end() > m.start() else m.end()
            hit = normalized[m.start() : end].strip()
            if hit and hit not in words:
                words.append(hit)
        if words:
            found[group] = words
    return found
