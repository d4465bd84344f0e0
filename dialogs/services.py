"""The service catalogue offered at the 'which service' step, by category (labels live in the catalogs)."""

from __future__ import annotations

from helpdesk.vocabulary import Category

SERVICES: dict[Category, tuple[str, ...]] = {
    Category.HARDWARE: ("computer", "printer", "peripherals", "phone", "meeting_room"),
    Category.SOFTWARE: ("email", "business_app", "website", "office_apps"),
    Category.NETWORK: ("internet", "wifi", "vpn", "shared_drive"),
    Category.SECURITY: ("virus", "phishing", "account"),
    Category.POWER: ("electricity", "ups"),
    Category.FACILITY: ("building", "climate"),
    Category.SUPPLIER: ("cloud", "vendor_service"),
    Category.ACCESS: ("system_access", "new_account", "account"),
    Category.PROVISIONING: ("software_install", "equipment", "supplies"),
    Category.CHANGE: ("configuration", "move"),
    Category.CONSULTATION: ("how_to",),
    Category.INFORMATION: ("documents", "contacts"),
}

MAX_OFFERED = 6

#: word beginnings that point at a service, so the one the customer named is offered first
CUES: dict[str, tuple[str, ...]] = {
    "computer": ("comput", "laptop", "pc ", "notebook", "компьют", "комп", "ноут", "пк"),
    "printer": ("print", "scan", "toner", "принтер", "печат", "сканер", "мфу", "картридж"),
    "peripherals": ("monitor", "mouse", "keyboard", "монитор", "мыш", "клавиат"),
    "phone": ("phone", "tablet", "телефон", "планшет", "смартфон"),
    "meeting_room": ("projector", "camera", "meeting room", "conference", "проектор", "камер", "переговор"),
    "email": ("mail", "outlook", "почт", "письм"),
    "business_app": ("erp", "crm", "1c", "1с", "sap", "учет", "учёт"),
    "website": ("site", "portal", "web", "сайт", "портал"),
    "office_apps": ("word", "excel", "office", "ворд", "эксел", "офис"),
    "internet": ("internet", "интернет", "инет"),
    "wifi": ("wi-fi", "wifi", "wireless", "вайфай", "вай-фай"),
    "vpn": ("vpn", "remote", "впн", "удален", "удалён"),
    "shared_drive": ("drive", "share", "folder", "диск", "папк"),
    "account": ("password", "account", "login", "парол", "учетн", "учётн", "логин"),
    "virus": ("virus", "malware", "ransom", "вирус", "антивирус", "шифроваль"),
    "phishing": ("phish", "suspicious", "фишинг", "подозрит"),
    "electricity": ("power", "electric", "socket", "свет", "электр", "розетк"),
    "ups": ("ups", "generator", "ибп", "генератор", "бесперебой"),
    "climate": ("cooling", "heating", "water", "leak", "кондиц", "отоплен", "вод", "протечк"),
    "cloud": ("cloud", "hosting", "облак", "хостинг"),
    "software_install": ("install", "установ", "постав"),
    "equipment": ("new laptop", "new phone", "equipment", "оборудован", "выдай", "нужен новый"),
    "supplies": ("toner", "headset", "cartridge", "картридж", "гарнитур", "расходн"),
    "move": ("move", "relocat", "переезд", "перенес", "перенос"),
}


def _first_mention(service: str, text: str) -> int:
    """Where the customer first named the service (len(text) when not at all): the earliest wins."""
    found = [text.find(cue) for cue in CUES.get(service, ())]
    return min((i for i in found if i >= 0), default=len(text))


def suggested_services(ranked: list[Category], description: str = "") -> list[str]:
    """Services of the most likely categories, best first, without repeats, at most MAX_OFFERED.

    A service the customer already named ("принтер", "VPN") moves to the front.
    """
    offered: list[str] = []
    for category in ranked:
        for service in SERVICES[category]:
            if service not in offered:
                offered.append(service)
        if len(offered) >= 4:
            break
    text = f" {description.casefold()} "
    offered.sort(key=lambda service: _first_mention(service, text))
    return offered[:MAX_OFFERED]
