# syntax=docker/dockerfile:1
# The intake bot: a small image that runs as an unprivileged user.
#   docker build -t intake-bot .
#   docker run --env-file .env -v intake-data:/app/data intake-bot            # SQLite + long polling
#   docker run --env-file .env intake-bot migrate                             # any CLI command
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TRIAGE_CACHE_DIR=/opt/intake-bot/triage-cache

# Install the package (and nothing else) from the build context, then drop the sources.
COPY pyproject.toml README.md /tmp/src/
COPY bot /tmp/src/bot
COPY dialogs /tmp/src/dialogs
COPY helpdesk /tmp/src/helpdesk
COPY scheduler /tmp/src/scheduler
COPY storage /tmp/src/storage
RUN pip install /tmp/src \
    && rm -rf /tmp/src \
    # train the triage model once, at build time: no training (and no network) at start-up
    && python -c "from helpdesk.triage import get_triage; get_triage()" \
    && useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin bot \
    && mkdir -p /app/data \
    && chown bot:bot /app/data

# ./data/ (the SQLite file when DATABASE_URL is not set) lives in /app/data: mount a volume there.
WORKDIR /app
VOLUME ["/app/data"]
USER bot:bot

# webhook mode (WEBHOOK_URL set): the webhook, /healthz and /metrics listen on WEBHOOK_PORT
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
