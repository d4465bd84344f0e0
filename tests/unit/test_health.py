"""Health report, metrics recording and the webhook receiver, without a bot process."""

from __future__ import annotations

import asyncio
import socket
import time
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY
from pydantic import SecretStr

from bot.health import Liveness, backlog, health_report
from bot.webhook import SECRET_HEADER, build_app, check_settings, public_url
from helpdesk import metrics
from storage.db import Database
from storage.models import Customer, InboxUpdate, OutboxMessage

TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz0123"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_report_counts_backlogs(db: Database) -> None:
    async with db.session() as session:
        session.add(InboxUpdate(update_id=1, chat_key=5, payload={}, status="pending"))
        session.add(InboxUpdate(update_id=2, chat_key=5, payload={}, status="done"))
        session.add(InboxUpdate(update_id=3, chat_key=6, payload={}, status="parked"))
        session.add(OutboxMessage(chat_id=5, method="sendMessage", payload={}, status="pending"))
        session.add(OutboxMessage(chat_id=5, method="sendMessage", payload={}, status="sent"))
    status, body = await health_report(db, Liveness.webhook(lambda: time.monotonic() - 2))
    assert status == 200, body
    assert body["status"] == "ok" and body["database_reachable"] is True
    assert body["inbox_backlog"] == 1 and body["inbox_parked"] == 1
    assert body["outbox_backlog"] == 1 and body["outbox_due"] == 1
    assert 1.5 < body["last_webhook_age_seconds"] < 10
    assert body["inbox_oldest_pending_seconds"] >= 0
    assert sample("helpdesk_inbox_backlog") == 1 and sample("helpdesk_outbox_backlog") == 1


async def test_empty_backlog(db: Database) -> None:
    counts = await backlog(db)
    assert counts["inbox_backlog"] == 0 and counts["outbox_backlog"] == 0
    assert counts["inbox_oldest_pending_seconds"] == 0 and counts["outbox_oldest_due_seconds"] == 0


async def test_unreachable_database_is_503() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    db = Database(f"postgresql://postgres@127.0.0.1:{port}/nothing")
    try:
        # it answers (a load balancer's probe must not hang): waited for, not timed
        status, body = await asyncio.wait_for(health_report(db, Liveness.webhook(lambda: None)), 60)
    finally:
        await db.dispose()
    assert status == 503
    assert body["database_reachable"] is False and body["status"] == "fail"
    assert body["problems"] and body["outbox_backlog"] is None


async def test_polling_that_stopped_is_503(db: Database) -> None:
    poller = SimpleNamespace(last_poll_at=time.monotonic())
    live = Liveness.polling(poller, poll_timeout=25)
    assert (await health_report(db, live))[0] == 200
    poller.last_poll_at = time.monotonic() - 200
    status, body = await health_report(db, live)
    assert status == 503 and "no successful polling" in body["problems"][0]
    assert body["last_poll_age_seconds"] >= 200


async def test_ticket_counter_counts_committed_tickets_only(db: Database) -> None:
    before = sample("helpdesk_tickets_created_total", type="incident", priority="P1")
    ticket = SimpleNamespace(ticket_type="incident", priority="P1")
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            session.add(Customer(telegram_id=1, chat_id=1))
            metrics.ticket_created(session, ticket)
            raise RuntimeError("handler failed; the transaction rolls back")
    assert sample("helpdesk_tickets_created_total", type="incident", priority="P1") == before
    async with db.session() as session:
        session.add(Customer(telegram_id=2, chat_id=2))
        metrics.ticket_created(session, ticket)
    assert sample("helpdesk_tickets_created_total", type="incident", priority="P1") == before + 1


async def test_sla_breaches_count_on_commit(db: Database) -> None:
    before = sample("helpdesk_sla_breaches_total")
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            metrics.sla_breached(session)
            raise RuntimeError("sweep failed; rolled back")
    assert sample("helpdesk_sla_breaches_total") == before
    async with db.session() as session:
        metrics.sla_breached(session)
        metrics.sla_breached(session)
    assert sample("helpdesk_sla_breaches_total") == before + 2


# -- webhook receiver ---------------------------------------------------------------------------------


class FakeInbox:
    def __init__(self, db: Database | None = None, fail: bool = False) -> None:
        self.db = db
        self.fail = fail
        self.stored: list[dict] = []

    async def store(self, payloads):
        if self.fail:
            raise ConnectionError("database went away")
        self.stored.extend(payloads)
        return [p["update_id"] for p in payloads]


def settings(**overrides):
    values = {
        "webhook_url": "https://desk.example.com",
        "webhook_secret": SecretStr("right_secret-1"),
        "webhook_path": "/telegram/webhook",
        **overrides,
    }
    return SimpleNamespace(**values)


@pytest.fixture
async def client(sqlite_database_url: str):
    inbox = FakeInbox(Database(sqlite_database_url))
    app, _receiver = build_app(inbox, settings())
    async with TestClient(TestServer(app)) as http:
        http.inbox = inbox
        yield http
    await inbox.db.dispose()


async def test_receiver_refuses_without_the_secret(client) -> None:
    update = {"update_id": 5, "message": {}}
    for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: "right_secret-"}, {SECRET_HEADER: ""}):
        resp = await client.post("/telegram/webhook", json=update, headers=headers)
        assert resp.status == 403
    resp = await client.post("/telegram/webhook", data=b"not json", headers={})
    assert resp.status == 403  # the body of an unauthenticated request is never read
    assert client.inbox.stored == []


async def test_receiver_stores_then_answers(client) -> None:
    headers = {SECRET_HEADER: "right_secret-1"}
    resp = await client.post("/telegram/webhook", json={"update_id": 7, "message": {"text": "hi"}}, headers=headers)
    assert resp.status == 200
    assert client.inbox.stored == [{"update_id": 7, "message": {"text": "hi"}}]
    for bad in (b"not json", b"[1, 2]", b'{"update_id": "7"}', b'{"message": {}}', b'{"update_id": true}'):
        resp = await client.post("/telegram/webhook", data=bad, headers=headers)
        assert resp.status == 400, bad
    assert len(client.inbox.stored) == 1
    assert (await client.get("/telegram/webhook")).status == 405


async def test_receiver_answers_500_when_storing_fails(sqlite_database_url: str) -> None:
    inbox = FakeInbox(Database(sqlite_database_url), fail=True)
    app, _ = build_app(inbox, settings())
    async with TestClient(TestServer(app)) as http:
        resp = await http.post(
            "/telegram/webhook", json={"update_id": 1, "message": {}}, headers={SECRET_HEADER: "right_secret-1"}
        )
        assert resp.status == 500  # Telegram retries
    await inbox.db.dispose()


def test_webhook_settings_are_checked() -> None:
    check_settings(settings(), TOKEN)
    assert public_url(settings()) == "https://desk.example.com/telegram/webhook"
    assert public_url(settings(webhook_url="https://desk.example.com/")) == "https://desk.example.com/telegram/webhook"
    assert public_url(settings(webhook_url="https://desk.example.com/hook/x")) == "https://desk.example.com/hook/x"
    with pytest.raises(ValueError, match="WEBHOOK_SECRET is required"):
        check_settings(settings(webhook_secret=None), TOKEN)
    with pytest.raises(ValueError, match="WEBHOOK_SECRET is required"):
        check_settings(settings(webhook_secret=SecretStr("  ")), TOKEN)
    with pytest.raises(ValueError, match="only A-Z"):
        check_settings(settings(webhook_secret=SecretStr("has space")), TOKEN)
    with pytest.raises(ValueError, match="must not contain the bot token"):
        check_settings(settings(webhook_path=f"/bot{TOKEN}"), TOKEN)
    with pytest.raises(ValueError, match="must not contain the bot token"):
        check_settings(settings(webhook_url=f"https://desk.example.com/{TOKEN.split(':')[1]}"), TOKEN)
    with pytest.raises(ValueError, match="https://"):
        check_settings(settings(webhook_url="desk.example.com"), TOKEN)


def test_metric_names_are_stable() -> None:
    recorded = {
        ("helpdesk_sla_breaches_total", ()): lambda: metrics.sla_breaches.inc(),  # what the SLA watch calls
        ("helpdesk_updates_processed_total", (("kind", "message"), ("outcome", "handled"))): lambda: (
            metrics.update_done("message", "handled", 0.01)
        ),
        ("helpdesk_updates_failed_total", (("kind", "message"),)): lambda: metrics.update_failed("message"),
        ("helpdesk_outbox_sent_total", (("method", "sendMessage"),)): lambda: metrics.record_outbox_sent("sendMessage"),
        ("helpdesk_outbox_send_errors_total", (("reason", "transient"),)): lambda: metrics.outbox_error("transient"),
    }
    for (name, labels), record in recorded.items():
        before = sample(name, **dict(labels))
        record()
        assert sample(name, **dict(labels)) == before + 1, name  # each call counts once, under its labels
    names = {m.name for m in REGISTRY.collect()}
    for name in (
        "helpdesk_updates_processed",
        "helpdesk_updates_failed",
        "helpdesk_update_latency_seconds",
        "helpdesk_tickets_created",
        "helpdesk_outbox_backlog",
        "helpdesk_outbox_send_errors",
        "helpdesk_inbox_backlog",
        "helpdesk_sla_breaches",
    ):
        assert name in names, name
