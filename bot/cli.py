"""Command line: run the bot, migrate, console chat, classify, eval, eval-groups, eval-kb, export labels, reports,
webhooks."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError


def _settings():
    from bot.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())).upper() or "settings"
        print(f"error: {field}: {first.get('msg')}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(_args: argparse.Namespace) -> int:
    from bot.app import Application, StartupError
    from bot.logs import setup_logging

    settings = _settings()
    setup_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(Application(settings).run())
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 0
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import Database

    settings = _settings()

    async def run() -> str | None:
        db = Database(settings.database_url)
        try:
            await migrate.upgrade(db, args.revision)
            return await migrate.current_revision(db)
        finally:
            await db.dispose()

    try:
        revision = asyncio.run(run())
    except Exception as exc:
        print(f"error: migration failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"database is at revision {revision}")
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from bot.console import run_console

    return asyncio.run(run_console(_settings(), lang=args.lang, user_id=args.user_id))


def cmd_classify(args: argparse.Namespace) -> int:
    from bot.cli_triage import classify_main

    if not args.text and not args.jsonl:
        print("error: give a text or --jsonl FILE", file=sys.stderr)
        return 2
    return classify_main(list(args.text), Path(args.jsonl) if args.jsonl else None)


def cmd_eval(args: argparse.Namespace) -> int:
    from bot.cli_triage import eval_main

    return eval_main(Path(args.file))


def cmd_eval_groups(args: argparse.Namespace) -> int:
    from bot.cli_groups import eval_groups_main

    return eval_groups_main(Path(args.file), jsonl=args.jsonl)


def cmd_eval_kb(args: argparse.Namespace) -> int:
    from bot.cli_kb import eval_kb_main

    return eval_kb_main(Path(args.file), Path(args.kb), as_jsonl=args.jsonl)


def cmd_export_labels(args: argparse.Namespace) -> int:
    from bot.exports import export_labels

    return asyncio.run(export_labels(_settings(), args.output))


def cmd_export_customer(args: argparse.Namespace) -> int:
    from bot.exports import export_customer

    return asyncio.run(export_customer(_settings(), args.telegram_id, args.output))


def cmd_erase_customer(args: argparse.Namespace) -> int:
    from bot.exports import erase_customer

    return asyncio.run(erase_customer(_settings(), args.telegram_id, apply=args.yes))


def cmd_report(args: argparse.Namespace) -> int:
    from bot.cli_report import report_main

    return report_main(_settings(), args.since, args.format, args.output, args.lang)


def cmd_set_webhook(_args: argparse.Namespace) -> int:
    from bot.webhook import set_webhook

    return asyncio.run(set_webhook(_settings()))


def cmd_delete_webhook(_args: argparse.Namespace) -> int:
    from bot.webhook import delete_webhook

    return asyncio.run(delete_webhook(_settings()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Service-desk intake bot for Telegram.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (default)").set_defaults(func=cmd_run)
    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("revision", nargs="?", default="head")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("console", help="try the intake in a terminal, no Telegram needed")
    p.add_argument("--lang", default=None, help="en or ru (default: DEFAULT_LANGUAGE)")
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
    sub.add_parser("set-webhook", help="register WEBHOOK_URL with Telegram").set_defaults(func=cmd_set_webhook)
    sub.add_parser("delete-webhook", help="remove the webhook (back to polling)").set_defaults(func=cmd_delete_webhook)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", cmd_run)
    return int(func(args) or 0)
