"""The words of the domain: ticket types, categories, priorities, impact, urgency and states.

Kept in one small module because every layer (storage, triage, dialogs, bot) speaks them.
"""

from __future__ import annotations

from enum import StrEnum


class TicketType(StrEnum):
    INCIDENT = "incident"
    SERVICE_REQUEST = "service_request"


class Category(StrEnum):
    # incidents: something broke
    HARDWARE = "hardware"
    SOFTWARE = "software"
    NETWORK = "network"
    SECURITY = "security"
    POWER = "power"
    FACILITY = "facility"
    SUPPLIER = "supplier"
    # service requests: something is wanted
    ACCESS = "access"
    PROVISIONING = "provisioning"
    CHANGE = "change"
    CONSULTATION = "consultation"
    INFORMATION = "information"

    @property
    def ticket_type(self) -> TicketType:
        """The category implies the type (DESIGN.md, Triage)."""
        return TicketType.INCIDENT if self in INCIDENT_CATEGORIES else TicketType.SERVICE_REQUEST


INCIDENT_CATEGORIES: tuple[Category, ...] = (
    Category.HARDWARE,
    Category.SOFTWARE,
    Category.NETWORK,
    Category.SECURITY,
    Category.POWER,
    Category.FACILITY,
    Category.SUPPLIER,
)
REQUEST_CATEGORIES: tuple[Category, ...] = (
    Category.ACCESS,
    Category.PROVISIONING,
    Category.CHANGE,
    Category.CONSULTATION,
    Category.INFORMATION,
)


def categories_of(ticket_type: TicketType) -> tuple[Category, ...]:
    return INCIDENT_CATEGORIES if ticket_type == TicketType.INCIDENT else REQUEST_CATEGORIES


class Impact(StrEnum):
    """Who is affected."""

    INDIVIDUAL = "individual"  # only me
    TEAM = "team"  # my team or department
    ORGANIZATION = "organization"  # the whole organisation or its customers


class Urgency(StrEnum):
    """How much it blocks work."""

    BLOCKED = "blocked"  # work stopped
    DEGRADED = "degraded"  # degraded, a workaround exists
    LOW = "low"  # can wait


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        return int(self.value[1])


class State(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self in (State.NEW, State.IN_PROGRESS, State.WAITING_CUSTOMER)


class Cause(StrEnum):
    """What caused an incident, as the closing report records it (the practice's fixed list), so that
    recurring problems show in the reports. The value is the code word agents type: /resolve N supplier …"""

    TECHNICAL = "technical"  # technical fault
    CONFIGURATION = "configuration"  # configuration error
    HUMAN = "human"  # human error
    POWER = "power"  # power failure
    NATURAL = "natural"  # natural event
    CYBERATTACK = "cyberattack"  # cyberattack or data leak
    SAFETY = "safety"  # safety violation
    SUPPLIER = "supplier"  # supplier failure
    OTHER = "other"


TYPE_PREFIX: dict[TicketType, str] = {TicketType.INCIDENT: "INC", TicketType.SERVICE_REQUEST: "REQ"}
