"""Impact and urgency read from the text when the customer has not answered those questions.

Cues are explicit phrases about who is affected and how hard work is blocked; with no cue we fall
back to the cautious defaults of a service desk: one person, degraded for incidents, can wait for
questions and information, and for other requests.
"""

from __future__ import annotations

import re

from helpdesk.vocabulary import Category, Impact, TicketType, Urgency


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(patterns) + r")")


_ORGANIZATION = _any(
    r"(?:весь|всем|всего|во\s+всем|по\s+всему|всей|вся)\s+(?:офис\w*|компани\w*|организаци\w*|здани\w*|"
    r"бизнес\W?центр\w*|предприяти\w*|филиал\w*|магазин\w*|сеть\s+магазинов|стран\w*)",
    r"(?:у|для)\s+всех(?!\s+(?:в|из)\s+(?:отдел|бухгалтер|команд|склад))",
    r"все\s+сотрудник\w*",
    r"всех\s+сотрудник\w*",
    r"все\s+пользовател\w*",
    r"всех\s+пользовател\w*",
    r"все\s+филиал\w*",
    r"все\s+магазин\w*",
    r"все\s+кассы",
    r"все\s+заказы",
    r"все\s+компьютеры",
    r"никто\s+не\s+может",
    r"никто\s+в\s+офисе",
    r"клиент\w*\s+не\s+мо\w+",
    r"у\s+клиентов",
    r"всех\s+клиентов",
    r"все\s+клиенты",
    r"whole\s+(?:office|company|building|organi[sz]ation|site|store)",
    r"entire\s+(?:office|company|building|organi[sz]ation)",
    r"all\s+(?:users|employees|staff|offices|stores|branches|orders|customers|clients|computers|pcs)",
    r"everyone|everybody|nobody\s+can|no\s+one\s+can|company[\s-]wide|for\s+all\s+(?:of\s+us|users|customers)",
    r"customers\s+(?:can\s+not|are\s+unable|complain)",
    r"clients\s+(?:can\s+not|are\s+unable)",
    r"nationwide",
)
_TEAM = _any(
    r"отдел\w*",
    r"бухгалтери\w*",
    r"склад\w*",
    r"команд\w*",
    r"колл[\s-]?центр\w*",
    r"цех\w*",
    r"этаж\w*",
    r"филиал\w*",
    r"(?:у|для)\s+(?:нас|коллег)\s+всех",
    r"у\s+всех\s+(?:в|из)\s+",
    r"несколько\s+(?:человек|сотрудник|коллег|компьютер)",
    r"половин\w+",
    r"(?:два|три|пять|\d+)\s+(?:компа|компьютер\w*|человек\w*|сотрудник\w*)",
    r"коллег\w*\s+тоже",
    r"переговорн\w*|переговорк\w*|ресепшен\w*|приемн\w*",
    r"магазин\w*",
    r"касс[аыу]",
    r"(?:our|the|my|whole|entire)\s+(?:team|department|dept|floor|branch|warehouse|group|shop|store)",
    r"team\b",
    r"department",
    r"accounting|finance\s+team|sales\s+team|support\s+team|call\s+cent(?:er|re)",
    r"warehouse",
    r"several\s+(?:people|users|colleagues|pcs|computers)",
    r"half\s+(?:of\s+)?the",
    r"floor\b",
    r"meeting\s+room|boardroom|conference\s+room|reception",
    r"colleagues\s+too|others\s+too",
    r"(?:two|three|four|five|\d+)\s+(?:people|users|pcs|computers|laptops)",
    r"branch",
)
_BLOCKED = _any(
    r"(?:nobody|no\s+one)(?:\s+\w+){0,4}\s+can\s+(?:work|do\s+anything)",
    r"никто(?:\s+\w+){0,4}\s+не\s+мо\w+\s+работать",
    r"ничего\s+не\s+можем\s+делать",
    r"can\s+not\s+do\s+anything",
    r"не\s+(?:могу|можем|может|могут)\s+работать",
    r"невозможно\s+работать",
    r"работа\s+стоит",
    r"работа\s+встала",
    r"встал\w*\s+(?:работа|весь|вся|все|производств\w*)",
    r"сто(?:ит|ят)\s+(?:работа|производств\w*|станки|кассы)",
    r"станки\s+стоят",
    r"простой",
    r"срочн\w*",
    r"сроки\s+горят|горит\s+срок\w*|все\s+горит",
    r"критичн\w*",
    r"авари\w*",
    r"немедленно",
    r"как\s+можно\s+скорее",
    r"очень\s+срочно",
    r"никто\s+не\s+может",
    r"вообще\s+ничего\s+не",
    r"полностью\s+не",
    r"не\s+можем\s+принимать",
    r"can\s+not\s+work",
    r"unable\s+to\s+work",
    r"work\s+(?:has\s+)?stopped",
    r"(?:production|work)\s+(?:is\s+)?(?:stopped|halted|down)",
    r"urgent\w*",
    r"emergency",
    r"critical",
    r"immediately",
    r"right\s+now",
    r"blocked",
    r"nobody\s+can",
    r"no\s+one\s+can",
    r"(?:is|are)\s+idle",
    r"dead\s+in\s+the\s+water",
    r"can\s+not\s+(?:pay|take\s+orders|sell)",
    r"customers\s+can\s+not",
    r"down\s+for\s+(?:everyone|all)",
    r"stuck\s+outside",
    r"(?:пожар|потоп|дым|задымлени|прорвал|fire\b|smoke|flood|burst)\w*",
    r"шифровальщик\w*|ransomware",
)
_LOW = _any(
    r"не\s+срочно",
    r"несрочно",
    r"когда\s+(?:будет|появится)\s+(?:время|возможность|минутка)",
    r"не\s+к\s+спеху",
    r"в\s+любое\s+время",
    r"на\s+следующей\s+неделе",
    r"в\s+следующем\s+месяце",
    r"при\s+случае",
    r"по\s+возможности",
    r"не\s+критично",
    r"терпит",
    r"not\s+urgent",
    r"no\s+rush",
    r"no\s+hurry",
    r"(?:when|whenever)\s+you\s+(?:have|get)\s+(?:time|a\s+chance|a\s+minute)",
    r"low\s+priority",
    r"next\s+(?:week|month)",
    r"at\s+some\s+point",
    r"not\s+critical",
    r"can\s+wait",
    r"whenever\s+(?:possible|convenient)",
    r"(?:it\s+is|it)\s+not\s+blocking",
)
_DEGRADED = _any(
    r"тормоз\w*",
    r"медленн\w*",
    r"иногда",
    r"периодически",
    r"время\s+от\s+времени",
    r"обход\w*",
    r"пока\s+(?:работаю|пользуюсь)",
    r"slow",
    r"sometimes",
    r"intermittent\w*",
    r"workaround",
    r"for\s+now\s+i",
)
_REQUEST_STUCK = _any(
    r"не\s+могу\s+(?:войти|зайти|работать)",
    r"заблокирован\w*",
    r"locked\s+out",
    r"can\s+not\s+(?:log|login|sign|access|work)",
    r"истек\w*",
    r"expired",
)


def infer_impact(normalized: str) -> tuple[Impact, str | None]:
    """Who is affected, and the phrase that says so (None when it is the default)."""
    for impact, pattern in ((Impact.ORGANIZATION, _ORGANIZATION), (Impact.TEAM, _TEAM)):
        m = pattern.search(normalized)
        if m:
            return impact, m.group(0).strip()
    return Impact.INDIVIDUAL, None


def infer_urgency(normalized: str, category: Category) -> tuple[Urgency, str | None]:
    """How much work is blocked, and the phrase that says so (None when it is the default)."""
    low = _LOW.search(normalized)
    if low:
        return Urgency.LOW, low.group(0).strip()
    blocked = _BLOCKED.search(normalized)
    if blocked:
        return Urgency.BLOCKED, blocked.group(0).strip()
    if category.ticket_type == TicketType.INCIDENT:
        degraded = _DEGRADED.search(normalized)
        return Urgency.DEGRADED, degraded.group(0).strip() if degraded else None
    if category == Category.ACCESS:
        stuck = _REQUEST_STUCK.search(normalized)
        if stuck:
            return Urgency.DEGRADED, stuck.group(0).strip()
    return Urgency.LOW, None
