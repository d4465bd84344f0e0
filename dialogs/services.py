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


def suggested_services(ranked: list[Category]) -> list[str]:
    """Services of the most likely categories, best first, without repeats, at most MAX_OFFERED."""
    offered: list[str] = []
    for category in ranked:
        for service in SERVICES[category]:
            if service not in offered:
                offered.append(service)
        if len(offered) >= 4:
            break
    return offered[:MAX_OFFERED]
