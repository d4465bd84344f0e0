"""SQLModel tables: the whole persistent state of the desk.

Every due time a job acts on lives on a row here (never inside the scheduler), so a restart neither
skips nor repeats work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _big(*, nullable: bool = True, index: bool = False, unique: bool = False) -> Any:
    return Field(default=None, sa_type=BigInteger, nullable=nullable, index=index, unique=unique)


def _text(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_type=Text, nullable=nullable)


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def _json_dict() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Customer(SQLModel, table=True):
    """A person who writes to the bot in a private chat."""

    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_type=BigInteger, unique=True, index=True)
    chat_id: int = Field(sa_type=BigInteger)
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    telegram_language: str | None = None
    language: str | None = None  # chosen with /lang; wins over the Telegram language
    phone: str | None = None
    unreachable_since: datetime | None = _ts()  # the customer blocked the bot (403)
    pending: dict[str, Any] = _json_dict()  # what the next free message answers (ticket id, action)
    closed_notice_at: datetime | None = _ts()  # last told that the desk is closed (once per closed spell)
    created_at: datetime = _created()
    last_seen_at: datetime | None = _ts()


class Agent(SQLModel, table=True):
    """An agent seen by the bot; who *is* an agent is decided by AGENT_IDS, never by this table."""

    __tablename__ = "agents"

    telegram_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    first_name: str = ""
    username: str | None = Field(default=None, index=True)
    language: str | None = None
    last_seen_at: datetime | None = _ts()
    teams: list[str] = _json_list()  # the TEAMS whose chats the agent has worked in (their /queue)


class Counter(SQLModel, table=True):
    """Named monotonically increasing counters (ticket numbers); a row lock makes them safe."""

    __tablename__ = "counters"

    name: str = Field(primary_key=True)
    value: int = Field(default=0, sa_type=BigInteger)


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_state_priority", "state", "priority"),
        Index("ix_tickets_staff_topic", "staff_chat_id", "staff_thread_id"),  # a message in a ticket's topic
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, index=True)
    seq: int = Field(sa_type=BigInteger, unique=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)

    ticket_type: str
    category: str
    priority: str
    impact: str
    urgency: str
    confidence: float = 0.0
    explanation: str = _text(nullable=False)
    state: str = Field(default="new", index=True)

    description: str = _text(nullable=False)
    service: str | None = None
    service_key: str | None = None  # the catalogue key of the service chosen in the intake ("internet")
    contact: str | None = None
    language: str = "en"  # the customer's language when the ticket was registered
    resolution_report: str | None = _text()
    cause: str | None = None  # the closing report's cause (helpdesk.vocabulary.Cause)

    # major incidents (docs/major-incidents.md): a parent, or a ticket linked under one
    is_major: bool = False
    parent_id: int | None = Field(default=None, foreign_key="tickets.id", index=True)
    linked_at: datetime | None = _ts()

    assignee_id: int | None = _big()
    assignee_name: str | None = None

    created_at: datetime = _created()
    updated_at: datetime = _created()
    first_response_due: datetime | None = _ts()
    resolution_due: datetime | None = _ts()
    first_response_at: datetime | None = _ts()
    resolved_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    sla_paused_at: datetime | None = _ts()  # waiting on the customer: SLA clocks stand still
    last_public_update_at: datetime | None = _ts()  # last update the customer saw

    # due times of the jobs (scheduler sweeps read these)
    reminder_due_at: datetime | None = _ts(index=True)
    reminders_sent: int = 0
    auto_close_due_at: datetime | None = _ts(index=True)
    close_warning_sent: bool = False
    progress_due_at: datetime | None = _ts(index=True)
    progress_stage: int = 0
    sla_flags: dict[str, Any] = _json_dict()  # warnings and breaches already announced
    survey_due_at: datetime | None = _ts(index=True)

    rating: int | None = None
    rating_comment: str | None = _text()

    team: str | None = Field(default=None, index=True)  # TEAMS: the team that works it; None: the general desk
    staff_chat_id: int | None = _big()
    staff_message_id: int | None = _big()  # the card
    staff_thread_id: int | None = _big()  # forum topic, when STAFF_TOPICS is on
    card_version: int = 0
    personal_data_erased_at: datetime | None = _ts()


class TicketEvent(SQLModel, table=True):
    """The audit trail: who did what, when, from which state to which."""

    __tablename__ = "ticket_events"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    at: datetime = _created()
    actor_kind: str  # customer | agent | system
    actor_id: int | None = _big()
    actor_name: str | None = None
    kind: str  # created | state | reply | question | answer | message | assign | retype | priority | ...
    from_state: str | None = None
    to_state: str | None = None
    note: str | None = _text()
    data: dict[str, Any] = _json_dict()


class Attachment(SQLModel, table=True):
    """A file the customer or an agent sent; Telegram keeps the bytes, we keep the file id."""

    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="ticket_events.id")
    kind: str  # photo | document | video | audio | voice | animation | video_note
    file_id: str
    file_unique_id: str | None = None
    file_size: int | None = _big()
    file_name: str | None = None
    mime_type: str | None = None
    caption: str | None = _text()
    from_chat_id: int | None = _big()
    from_message_id: int | None = _big()
    created_at: datetime = _created()


class Draft(SQLModel, table=True):
    """An intake conversation in progress: every answer so far, so a restart continues it."""

    __tablename__ = "drafts"

    customer_id: int = Field(foreign_key="customers.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    token: str  # changes at every step, so buttons from older prompts are recognised as stale
    step: str
    answers: dict[str, Any] = _json_dict()
    attachments: list[dict[str, Any]] = _json_list()
    history: list[str] = _json_list()  # steps visited, for Back
    editing: bool = False  # came from the summary's Edit: return there after the step
    created_at: datetime = _created()
    updated_at: datetime = _created()


class MessageLink(SQLModel, table=True):
    """Which ticket a message belongs to, so replies to it keep working after a restart."""

    __tablename__ = "message_links"
    __table_args__ = (UniqueConstraint("chat_id", "message_id", name="uq_message_links_chat_message"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=BigInteger)
    message_id: int = Field(sa_type=BigInteger)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    kind: str  # card | relay | to_customer | question | prompt_ask | prompt_resolve | ...
    data: dict[str, Any] = _json_dict()
    created_at: datetime = _created()


class RelayedMessage(SQLModel, table=True):
    """An agent's message whose words went to a ticket's customer (a reply to the card, `/reply`, `/ask`,
    a message in the ticket's topic), so an edit of it sends the customer the correction; `digest` is of
    what the agent typed last (an edit to the same words sends nothing)."""

    __tablename__ = "relayed_messages"
    __table_args__ = (UniqueConstraint("chat_id", "message_id", name="uq_relayed_messages_chat_message"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=BigInteger)
    message_id: int = Field(sa_type=BigInteger)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    kind: str  # reply | question
    digest: str
    created_at: datetime = _created()
    edited_at: datetime | None = _ts()


class OutboxMessage(SQLModel, table=True):
    """A message for someone other than the sender of the update being handled.

    Written in the same transaction as the change that caused it; delivered by the scheduler.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _created()
    chat_id: int = Field(sa_type=BigInteger, index=True)
    method: str  # Bot API method: sendMessage, copyMessage, editMessageText, ...
    payload: dict[str, Any] = _json_dict()
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id", index=True)
    link_kind: str | None = None  # record a MessageLink of this kind once sent
    reply_to_card: bool = False  # reply under the ticket's card, resolved at send time
    edits_card: bool = False  # targets the ticket's card message, resolved at send time
    status: str = Field(default="pending")  # pending | sent | failed | dropped
    attempts: int = 0
    next_attempt_at: datetime = _created()
    sent_at: datetime | None = _ts()
    result_message_id: int | None = _big()
    last_error: str | None = _text()
    dedupe_key: str | None = Field(default=None, unique=True)
    locked_until: datetime | None = _ts()
    locked_by: str | None = None


class OutboxFile(SQLModel, table=True):
    """A file the bot made (the /stats chart, an /export CSV), kept until the outbox row that uploads it is
    sent: written in the same transaction as that row (its payload's `_upload`), deleted once delivered."""

    __tablename__ = "outbox_files"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _created()
    filename: str
    mime_type: str
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class InboxUpdate(SQLModel, table=True):
    """A Telegram update stored before its offset is confirmed; done in the same transaction as its effects."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_status_chat", "status", "chat_key", "update_id"),
        Index("ix_inbox_chat_sent", "chat_key", "sent_date"),
    )

    update_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    chat_key: int = Field(sa_type=BigInteger)
    payload: dict[str, Any] = _json_dict()
    status: str = "pending"  # pending | done | parked
    attempts: int = 0
    received_at: datetime = _created()
    done_at: datetime | None = _ts()
    last_error: str | None = _text()
    error_id: str | None = None
    locked_until: datetime | None = _ts()
    locked_by: str | None = None
    # flood control counts a chat's messages here, so every process agrees (helpdesk/flood.py):
    input_key: str | None = None  # one input of the sender: the album's id, else the update id; None: no message
    sent_date: int | None = _big()  # the message's Telegram `date` (Unix seconds), not when we received it


class HeldMessage(SQLModel, table=True):
    """A customer's message held by flood control: kept (not answered, not relayed one by one) until one
    digest posts every held message of the customer to the staff and removes the rows."""

    __tablename__ = "held_messages"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    update_id: int = Field(sa_type=BigInteger, unique=True)  # a redelivered update is held once
    content: dict[str, Any] = _json_dict()  # helpdesk.content.Content.as_data()
    received_at: datetime = _created()
    digest_due_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)


class LabelledExample(SQLModel, table=True):
    """An agent's correction of triage, kept as training data (`python -m bot export-labels`)."""

    __tablename__ = "labelled_examples"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="tickets.id", index=True)
    text: str = _text(nullable=False)
    ticket_type: str
    category: str
    priority: str | None = None
    actor_id: int | None = _big()
    created_at: datetime = _created()


class ReportSchedule(SQLModel, table=True):
    """A periodic report's due time (the daily digest), kept here so that a restart or a second process
    neither skips nor repeats it: the sweep that sends one locks the row and moves the due time on."""

    __tablename__ = "report_schedules"

    name: str = Field(primary_key=True)
    spec: str = ""  # what the due time was computed from, e.g. "09:00 Europe/Moscow"
    next_due_at: datetime | None = _ts()
    covered_day: str | None = None  # the last local day reported (ISO date), never reported twice
    sent_at: datetime | None = _ts()


class SelfHelpEvent(SQLModel, table=True):
    """What customers did with self-help: articles offered before the form, opened, "This solved it"
    (a deflection: no ticket), "I still need help", and articles agents sent with /kb. No person is
    named: the rows only count (for /stats and `python -m bot report`)."""

    __tablename__ = "self_help_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    kind: str  # offered | opened | solved | still_needed | sent
    article: str | None = None  # the article's name (none for an offer of several)
    language: str | None = None


class MajorProposal(SQLModel, table=True):
    """A proposal in the staff chat to merge similar incidents into one major incident, and its outcome.

    Kept so that a second press gets a clear answer and "Not related" is remembered (those tickets are
    not proposed again)."""

    __tablename__ = "major_proposals"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _created()
    status: str = Field(default="pending", index=True)  # pending | merged | rejected
    ticket_ids: list[int] = _json_list()  # the incidents proposed, in arrival order
    explanation: str | None = _text()  # why they look like one outage
    parent_id: int | None = Field(default=None, foreign_key="tickets.id")  # the major incident, once merged
    decided_at: datetime | None = _ts()
    decided_by_id: int | None = _big()
    decided_by_name: str | None = None


class DeclaredOutage(SQLModel, table=True):
    """An outage an agent declared (`/outage SERVICE text`) until it is ended (`/outage off SERVICE`)."""

    __tablename__ = "declared_outages"

    id: int | None = Field(default=None, primary_key=True)
    service: str  # the catalogue key the agent's word names ("internet", "email", "business_app")
    service_word: str  # as the agent wrote it ("1C", "почта"), for the texts
    text: str = _text(nullable=False)
    declared_at: datetime = _created()
    updated_at: datetime = _created()
    declared_by_id: int | None = _big()
    declared_by_name: str | None = None
    ended_at: datetime | None = _ts(index=True)


class OutageFollower(SQLModel, table=True):
    """A customer who asked to be kept informed about a declared outage."""

    __tablename__ = "outage_followers"
    __table_args__ = (UniqueConstraint("outage_id", "customer_id", name="uq_outage_followers_outage_customer"),)

    id: int | None = Field(default=None, primary_key=True)
    outage_id: int = Field(foreign_key="declared_outages.id", index=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    description: str = _text(nullable=False)  # what they wrote, for the record
    created_at: datetime = _created()


class SendSchedule(SQLModel, table=True):
    """Telegram's global send rate as all delivery processes share it (PostgreSQL, storage/send_schedule.py):
    per scope, the moment its next free send slot begins. Processes reserve slots by moving it forward."""

    __tablename__ = "send_schedule"

    scope: str = Field(primary_key=True)  # "global": all of the bot's sends
    next_slot: datetime = Field(sa_type=UTCDateTime, nullable=False)
