"""Command line: run the bot, migrate, console chat, classify, eval, eval-groups, eval-kb, exports, reports,
the health check, webhooks.

`main` is the one error path of every command: an `OperatorError` raised anywhere below becomes one
`error:` line and its exit code (2: fix the configuration, 3: a service is unreachable), a bad
argument too; an unexpected exception is a bug and keeps its traceback. A new command adds a `cmd_*`
function and a parser entry, and raises instead of printing its failures. Each command imports what it
needs when it runs, so that `--help` and the light commands do not load the Telegram runtime.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError

from bot.config import Settings
from bot.operator_errors import ConfigError, OperatorError, settings_error
from helpdesk.policy import LANGUAGES


def load_settings() -> Settings:
    """Settings from the environment and `.env`; an invalid one is a `ConfigError` naming it."""
    try:
        return Settings()
    except ValidationError as exc:
        raise settings_error(exc) from None


def _triage(settings: Settings) -> None:
    """Load the process-wide classifier from TRIAGE_CACHE_DIR before a command uses it."""
    from helpdesk.triage import get_triage

    get_triage(settings.triage_cache_dir)


def cmd_run(_args: argparse.Namespace) -> int:
    from bot.app import Application
    from bot.logs import setup_logging

    settings = load_settings()
    try:
        settings.token()  # before the Telegram runtime is even imported: the newcomer's first command
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    setup_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(Application(settings).run())
    except KeyboardInterrupt:
        return 0
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from bot.database import database
    from storage import migrate

    settings = load_settings()
    if not migrate.is_known(args.revision):  # before the database is touched: Alembic's refusal is a traceback
        known = migrate.revisions()
        raise ConfigError(f"no migration {args.revision!r}: give one of {known[0]}…{known[-1]}, or head")

    async def run() -> str:
        async with database(settings, None) as db:
            before = await migrate.current_revision(db)
            refusal = migration_refusal(before, args.revision, migrate.revisions())
            if refusal is not None:
                raise ConfigError(refusal)
            await migrate.upgrade(db, args.revision)
            return migration_done(before, await migrate.current_revision(db))

    print(asyncio.run(run()))
    return 0


def migration_refusal(current: str | None, requested: str, known: list[str]) -> str | None:
    """Why `migrate REQUESTED` cannot be done on a database at `current` (None: it can). `migrate` only
    upgrades (README): an older revision would otherwise pass in silence, the database left as it is."""
    from storage import migrate

    if current is not None and current not in known:
        return f"the database is at revision {current}, which this version does not know (a newer release migrated it)"
    target = migrate.resolve(requested)
    if current is not None and (target is None or known.index(target) < known.index(current)):
        return (
            f"the database is at revision {current}, newer than {target or 'base'}: migrate only upgrades "
            "(to go back, restore the backup taken before the upgrade)"
        )
    return None


def migration_done(before: str | None, after: str | None) -> str:
    """What `migrate` did, in one line (`database is at revision 0010 …`, as docs/deployment.md shows)."""
    if after is None:
        return "database is empty (no migration applied)"
    if before == after:
        return f"database is at revision {after} (already; nothing to migrate)"
    return f"database is at revision {after} (migrated from {before or 'an empty database'})"


def cmd_console(args: argparse.Namespace) -> int:
    from bot.console import run_console

    return run_console(load_settings(), lang=args.lang, user_id=args.user_id)


def cmd_classify(args: argparse.Namespace) -> int:
    from bot.cli_triage import classify_main

    if not args.text and not args.jsonl:
        raise ConfigError("give a text or --jsonl FILE")
    if any(not text.strip() for text in args.text):  # an empty text was triaged as a P2 security incident
        raise ConfigError("the text to classify is empty")
    _triage(load_settings())
    return classify_main(list(args.text), Path(args.jsonl) if args.jsonl else None)


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.cli_triage import eval_main

    _triage(load_settings())
    return eval_main(Path(args.file))


def cmd_eval_groups(args: argparse.Namespace) -> int:
    from bot.cli_groups import eval_groups_main

    _triage(load_settings())
    return eval_groups_main(Path(args.file), jsonl=args.jsonl)


def cmd_eval_kb(args: argparse.Namespace) -> int:
    from bot.cli_kb import eval_kb_main

    _triage(load_settings())
    return eval_kb_main(Path(args.file), Path(args.kb), as_jsonl=args.jsonl)


def cmd_export_labels(args: argparse.Namespace) -> int:
    from bot.exports import export_labels

    return asyncio.run(export_labels(load_settings(), args.output))


def cmd_export_customer(args: argparse.Namespace) -> int:
    from bot.exports import export_customer

    return asyncio.run(export_customer(load_settings(), args.telegram_id, args.output))


def cmd_erase_customer(args: argparse.Namespace) -> int:
    from bot.exports import erase_customer

    return asyncio.run(erase_customer(load_settings(), args.telegram_id, apply=args.yes))


def cmd_report(args: argparse.Namespace) -> int:
    from bot.cli_report import report_main

    return report_main(load_settings(), args.since, args.format, args.output, args.lang)


def cmd_healthcheck(_args: argparse.Namespace) -> int:
    from bot.healthcheck import check_health

    return check_health(load_settings())


def cmd_set_webhook(_args: argparse.Namespace) -> int:
    from bot.webhook import set_webhook

    return asyncio.run(set_webhook(load_settings()))


def cmd_delete_webhook(_args: argparse.Namespace) -> int:
    from bot.webhook import delete_webhook

    return asyncio.run(delete_webhook(load_settings()))


class _Parser(argparse.ArgumentParser):
    """A bad argument is one `error:` line and exit 2, like a bad setting."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{message} (see: {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot", description="Service-desk intake bot for Telegram.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("run", help="run the bot (default)").set_defaults(func=cmd_run)
    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("console", help="try the intake in a terminal, no Telegram needed")
    p.add_argument("--lang", choices=LANGUAGES, default=None, help="en or ru (default: DEFAULT_LANGUAGE)")
    p.add_argument("--user-id", type=int, default=1, help="the console customer's id (default 1)")
    p.set_defaults(func=cmd_console)
    p = sub.add_parser("classify", help="triage texts, one JSON object per text")
    p.add_argument("text", nargs="*")
    p.add_argument("--jsonl", help="a JSONL file with a 'text' field per line")
    p.set_defaults(func=cmd_classify)
    p = sub.add_parser("eval", help="accuracy and confusion table on a labelled JSONL file")
    p.add_argument("file")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("eval-groups", help="pairwise precision and recall of outage grouping on a labelled JSONL file")
    p.add_argument("file")
    p.add_argument("--jsonl", action="store_true", help='print {"text", "cluster"} per input line instead')
    p.set_defaults(func=cmd_eval_groups)
    p = sub.add_parser("eval-kb", help="how well self-help articles are offered, on a labelled JSONL file")
    p.add_argument("file", help='JSONL lines {"text", "article"} (article null where none answers)')
    p.add_argument("--kb", required=True, metavar="DIR", help="the knowledge base directory (NAME.en.md, NAME.ru.md)")
    p.add_argument("--jsonl", action="store_true", help='print {"text", "offered"} per line instead')
    p.set_defaults(func=cmd_eval_kb)
    p = sub.add_parser("export-labels", help="agents' triage corrections as labelled JSONL")
    p.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export_labels)
    p = sub.add_parser("export-customer", help="everything stored about one customer, as JSON")
    p.add_argument("telegram_id", type=int)
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(func=cmd_export_customer)
    p = sub.add_parser("erase-customer", help="erase one customer's personal data on request")
    p.add_argument("telegram_id", type=int)
    p.add_argument("--yes", action="store_true", help="erase (without it: only say what would be erased)")
    p.set_defaults(func=cmd_erase_customer)
    p = sub.add_parser("report", help="desk statistics for a period: text, CSV (one row per ticket) or a PNG chart")
    p.add_argument("--since", default="7d", help="the period up to now: 7d, 30d, 24h… (default 7d)")
    p.add_argument("--format", default="text", help="text (default), csv or png")
    p.add_argument("-o", "--output", default="-", help="file to write (default: standard output)")
    p.add_argument("--lang", default=None, help="en or ru (default: DEFAULT_LANGUAGE)")
    p.set_defaults(func=cmd_report)
    sub.add_parser("healthcheck", help="ask the running bot for /healthz (the image's HEALTHCHECK)").set_defaults(
        func=cmd_healthcheck
    )
    sub.add_parser("set-webhook", help="register WEBHOOK_URL with Telegram").set_defaults(func=cmd_set_webhook)
    sub.add_parser("delete-webhook", help="remove the webhook (back to polling)").set_defaults(func=cmd_delete_webhook)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its failures end here as one `error:` line and the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return int(getattr(args, "func", cmd_run)(args) or 0)
    except OperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`… | head`): stop quietly, as Unix tools do
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
