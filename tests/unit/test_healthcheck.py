"""`python -m bot healthcheck` (the image's HEALTHCHECK): asks the running bot where its settings say it
serves /healthz; healthy is exit 0, unhealthy 1, nothing answering 3, nothing to ask 2."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.healthcheck import health_url


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)


def test_where_the_bot_serves_healthz() -> None:
    assert health_url(settings(health_port=9100)) == "http://127.0.0.1:9100/healthz"
    assert health_url(settings(health_port=9100, health_host="0.0.0.0")) == "http://127.0.0.1:9100/healthz"
    webhook = settings(webhook_url="https://bot.example.com", webhook_port=8081, health_port=9100)
    assert health_url(webhook) == "http://127.0.0.1:8081/healthz"  # webhook mode: on the webhook server
    assert health_url(settings(health_port=9100, health_host="::1")) == "http://[::1]:9100/healthz"


@pytest.fixture
def bot_health() -> Iterator[dict]:
    """A /healthz that answers with the status the test sets."""
    state = {"status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"status": "ok"}' if state["status"] == 200 else b'{"status": "unhealthy", "database": "down"}'
            self.send_response(state["status"] if self.path == "/healthz" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["port"] = server.server_address[1]
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)


def test_healthy_unhealthy_and_nothing_answering(
    operator: None, bot_health: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEALTH_PORT", str(bot_health["port"]))
    assert main(["healthcheck"]) == 0
    assert capsys.readouterr().out.startswith(f"healthy: http://127.0.0.1:{bot_health['port']}/healthz")
    bot_health["status"] = 503
    assert main(["healthcheck"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unhealthy: ") and '"database": "down"' in err
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("HEALTH_PORT", str(closed))
    assert main(["healthcheck"]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"error: no answer from http://127.0.0.1:{closed}/healthz") and err.count("\n") == 1


def test_polling_without_a_health_port_is_a_configuration_error(
    operator: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["healthcheck"]) == 2
    assert capsys.readouterr().err.startswith("error: HEALTH_PORT is not set")
