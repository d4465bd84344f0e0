# syntax=docker/dockerfile:1
# The intake bot: a small image that runs as an unprivileged user (uid 10001) and trains nothing at start.
#
#   docker build -t intake-bot .
#   docker run --rm --env-file .env -v intake-data:/app/data intake-bot migrate     # any command, same volume
#   docker run -d --name intake-bot --restart unless-stopped --env-file .env -v intake-data:/app/data intake-bot
#
# With SQLite (the default) the database is /app/data/bot.db, so every command that uses it needs the same
# volume. The build steps are scripts/image-build (the RUN below). scripts/image-check, run by the test
# suite, carries out this file's instructions without Docker and starts the bot from the result as an
# unprivileged user: a step it does not know fails it, so keep the two in step.
FROM python:3.11-slim

ARG SRC=/tmp/src
ARG APP_DIR=/app
ARG BOT_USER=bot
ARG BOT_UID=10001
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TRIAGE_CACHE_DIR=/opt/intake-bot/triage-cache \
    HEALTH_PORT=8080

# The package and nothing else from the build context (see .dockerignore).
COPY pyproject.toml README.md ${SRC}/
COPY bot ${SRC}/bot
COPY dialogs ${SRC}/dialogs
COPY helpdesk ${SRC}/helpdesk
COPY scheduler ${SRC}/scheduler
COPY storage ${SRC}/storage
COPY scripts/image-build ${SRC}/image-build
RUN sh "$SRC/image-build"

# ./data/ (the SQLite file when DATABASE_URL is not set) is /app/data: mount a volume there.
WORKDIR ${APP_DIR}
VOLUME ["/app/data"]
USER ${BOT_USER}

# Webhook mode (WEBHOOK_URL set): the webhook, /healthz and /metrics on WEBHOOK_PORT (8080). Polling mode:
# /healthz and /metrics on HEALTH_PORT (8080), inside the container only (HEALTH_HOST is 127.0.0.1).
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["python", "-m", "bot", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
