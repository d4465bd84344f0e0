"""`python -m bot healthcheck`: ask the bot process on this host whether it is healthy (the image's HEALTHCHECK).

It asks where the running bot serves `/healthz` with the same settings: the webhook server
(WEBHOOK_HOST:WEBHOOK_PORT) in webhook mode, the health server (HEALTH_HOST:HEALTH_PORT) in polling mode.
Exit 0 when healthy; 1 when the bot answers that it is not (503: no database, polling stalled); 3 when
nothing answers; 2 in polling mode without HEALTH_PORT (nothing to ask).
"""

from __future__ import annotations

import urllib.error
import urllib.request

from bot.config import Settings
from bot.operator_errors import ConfigError, OperatorError, ServiceUnreachable

TIMEOUT = 4.0  # seconds; Docker's own timeout for the check is 5


def health_url(settings: Settings) -> str:
    if settings.webhook_url:
        host, port = settings.webhook_host, settings.webhook_port
    elif settings.health_port:
        host, port = settings.health_host, settings.health_port
    else:
        raise ConfigError("HEALTH_PORT is not set: in polling mode /healthz is served only on HEALTH_PORT")
    if host in ("", "0.0.0.0", "::"):  # listening everywhere: ask on this host
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"


def check_health(settings: Settings) -> int:
    """0 and one line when /healthz says 200; raises an `OperatorError` otherwise."""
    url = health_url(settings)
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy
    try:
        with direct.open(url, timeout=TIMEOUT) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        raise OperatorError(f"unhealthy: {url} answered {exc.code}: {detail}", code=1) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ServiceUnreachable(f"no answer from {url}: {reason}") from None
    print(f"healthy: {url}")
    return 0
