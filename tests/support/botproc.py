"""Running the real bot (``python -m bot``) as a child process against the Bot API stand-in.

The child gets a *clean* environment: a short whitelist from ours (PATH, HOME, locale, venv, OpenBLAS
switches, coverage) plus exactly the variables the test gives, and ``BOT_ENV_FILE=`` (empty) so that
``bot.config`` reads no ``.env`` from the repository. Output goes to a log file under the test's
``workdir``; every log file of the session is remembered (``all_log_texts``) so a final check can
grep them for the bot token.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tests.support import refusals

if TYPE_CHECKING:
    from tests.support.botapi import FakeBotAPI

__all__ = [
    "DEFAULT_AGENT_IDS",
    "DEFAULT_STAFF_CHAT_ID",
    "DEFAULT_TOKEN",
    "REPO_ROOT",
    "TEST_ENV_DEFAULTS",
    "BotFactory",
    "BotProcess",
    "all_log_files",
    "all_log_texts",
    "arun_cli",
    "child_env",
    "find_in_logs",
    "run_cli",
    "token_leaks",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz0123"
DEFAULT_AGENT_IDS = (7001, 7002)
DEFAULT_STAFF_CHAT_ID = -100123
# Short timings for tests; names are bot.config.Settings fields. Override per test via env=.
TEST_ENV_DEFAULTS: dict[str, str] = {
    "DEFAULT_LANGUAGE": "en",
    "POLL_TIMEOUT": "5",
    "SWEEP_EVERY": "1s",
    "OUTBOX_POLL_EVERY": "200ms",
    "LOG_LEVEL": "INFO",
}
_PASS_THROUGH = (
    "PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT",
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "COVERAGE_PROCESS_START", "COVERAGE_FILE", "TRIAGE_CACHE_DIR",
)  # fmt: skip

_LOG_FILES: list[Path] = []
_counter = itertools.count(1)
_LIVE: weakref.WeakSet[BotProcess] = weakref.WeakSet()


@atexit.register
def _kill_leftovers() -> None:
    """Never leave a bot child behind (e.g. after a pytest-timeout abort skipped teardown)."""
    for proc in list(_LIVE):
        proc.kill()


def child_env(env: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The environment for a bot child process: whitelisted basics + ``env`` (None values remove a key)."""
    out = {k: os.environ[k] for k in _PASS_THROUGH if k in os.environ}
    out.update(PYTHONUNBUFFERED="1", BOT_ENV_FILE="", PYTHONPATH=str(REPO_ROOT))
    for key, value in (env or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = str(value)
    return out


#: a file listing the log files of every process of the test session (pytest-xdist runs tests in several
#: worker processes; the conftest sets this so the token check sees all of them, not one worker's share)
LOG_MANIFEST_ENV = "INTAKE_TEST_LOG_MANIFEST"


def _register(path: Path) -> Path:
    if path not in _LOG_FILES:
        _LOG_FILES.append(path)
        manifest = os.environ.get(LOG_MANIFEST_ENV)
        if manifest:
            with open(manifest, "a", encoding="utf-8") as fh:  # one short line per write: appends do not mix
                fh.write(f"{path.resolve()}\n")
    return path


def all_log_files() -> list[Path]:
    """Every log file written by a bot process or CLI run during this test session (in any worker)."""
    paths = list(_LOG_FILES)
    manifest = os.environ.get(LOG_MANIFEST_ENV)
    if manifest and os.path.exists(manifest):
        with open(manifest, encoding="utf-8") as fh:
            paths += [Path(line.strip()) for line in fh if line.strip()]
    return list(dict.fromkeys(paths))


def all_log_texts() -> dict[Path, str]:
    """Path → text of every log file of the session that still exists."""
    return {p: p.read_text(errors="replace") for p in all_log_files() if p.exists()}


def find_in_logs(secret: str) -> list[Path]:
    """Log files of the session that contain ``secret`` (e.g. the bot token, or its part after the colon)."""
    return [p for p, text in all_log_texts().items() if secret in text]


def token_leaks(token: str = DEFAULT_TOKEN) -> list[str]:
    """``path:line: text`` for every log line of the session that shows the token's secret part."""
    secret = token.split(":", 1)[-1]
    return [
        f"{path}:{n}: {line.strip()[:200]}"
        for path, text in all_log_texts().items()
        for n, line in enumerate(text.splitlines(), start=1)
        if secret in line
    ]


class BotProcess:
    """One ``python -m bot`` child: ``start()``, ``await wait_ready(api)``, ``kill()``, ``await terminate()``.

    Can be started again after it exited (a restart appends to the same log file). ``command`` replaces
    ``[sys.executable, "-m", "bot"]`` (the runner's own tests use a stub).
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        database_url: str,
        env: Mapping[str, Any] | None = None,
        workdir: Path | str = ".",
        *,
        args: Sequence[str] = (),
        name: str | None = None,
        cwd: Path | str = REPO_ROOT,
        command: Sequence[str] | None = None,
    ) -> None:
        self.token = token
        self.args = list(args)
        self.command = list(command) if command is not None else [sys.executable, "-m", "bot"]
        self.cwd = Path(cwd)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name or f"bot-{next(_counter)}"
        self.log_path = _register(self.workdir / f"{self.name}.log")
        self.env = child_env(
            {
                "TELEGRAM_BOT_TOKEN": token,
                "TELEGRAM_API_URL": api_url,
                "DATABASE_URL": database_url,
                **(env or {}),
            }
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None
        self.starts = 0
        self._log: IO[bytes] | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> BotProcess:
        """Launch ``sys.executable -m bot [args]`` with cwd = repository root, output to the log file."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self._close_log()
        self._log = self.log_path.open("ab")
        self.starts += 1
        self._log.write(f"\n===== {self.name} start #{self.starts} at {time.strftime('%H:%M:%S')} =====\n".encode())
        self._log.flush()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [*self.command, *self.args],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _LIVE.add(self)
        return self

    async def wait_ready(self, api: FakeBotAPI, timeout: float = 30.0) -> None:
        """Wait until, since this start, the bot polls getUpdates (or sets a webhook); fail if it exits."""
        if self.started_at is None:
            raise RuntimeError("start() first")
        since = self.started_at
        deadline = time.monotonic() + timeout

        def ready() -> bool:
            return any(
                c.at >= since and (c.method == "getUpdates" or (c.method == "setWebhook" and c.ok)) for c in api.calls
            )

        while not ready():
            if self.returncode is not None:
                raise AssertionError(
                    f"{self.name} exited with code {self.returncode} before it started polling.\n"
                    f"--- log tail ({self.log_path}) ---\n{self.log_tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"{self.name} did not poll getUpdates within {timeout}s.\n"
                    f"--- log tail ({self.log_path}) ---\n{self.log_tail()}"
                )
            await api.wait_changed(min(remaining, 0.2))

    async def wait_log(self, text: str, timeout: float = 10.0) -> str:
        """Wait until the log contains ``text``; returns the log. Fails early if the process exits first."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log_text()):
            if self.returncode is not None or time.monotonic() >= deadline:
                state = "running" if self.running else f"exited {self.returncode}"
                raise AssertionError(f"{text!r} never appeared in {self.name}'s log ({state}):\n{self.log_tail()}")
            await asyncio.sleep(0.05)
        return log

    def kill(self) -> int | None:
        """SIGKILL (a crash) and reap; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._close_log()
        return self.proc.returncode

    async def terminate(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait for a graceful exit (without blocking the event loop the stand-in runs on);
        SIGKILL after ``timeout`` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            if await self.wait_exit(timeout) is None:
                return self.kill()
        self._close_log()
        return self.proc.returncode

    async def wait_exit(self, timeout: float = 10.0) -> int | None:
        """Wait (asynchronously) for the process to exit; returns its code, or None if still running."""
        deadline = time.monotonic() + timeout
        while self.proc is not None and self.proc.poll() is None:
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.05)
        return self.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    # ------------------------------------------------------------------ state and output

    @property
    def pid(self) -> int | None:
        """The child's pid."""
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        """Whether the child is alive."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit code once exited (negative = killed by that signal)."""
        return self.proc.poll() if self.proc else None

    def log_text(self) -> str:
        """Everything the process printed so far (all starts)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the log."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def diagnostic(self) -> str:
        """A block for failure messages: state and log tail."""
        state = "running" if self.running else f"exited {self.returncode}"
        return f"--- {self.name} ({state}) log tail ---\n{self.log_tail(25)}"

    # ------------------------------------------------------------------ CLI with the same configuration

    def run_cli(
        self, args: Sequence[str], env: Mapping[str, Any] | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python -m bot ARGS`` with this process's environment (plus ``env``); blocking."""
        return run_cli(args, {**self.env, **(env or {})}, workdir=self.workdir, raw_env=True, **kw)

    async def arun_cli(
        self, args: Sequence[str], env: Mapping[str, Any] | None = None, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """``run_cli`` without blocking the event loop (use it when the CLI talks to the stand-in)."""
        return await arun_cli(args, {**self.env, **(env or {})}, workdir=self.workdir, raw_env=True, **kw)

    def __repr__(self) -> str:
        state = "running" if self.running else ("not started" if self.proc is None else f"exited {self.returncode}")
        return f"<BotProcess {self.name} pid={self.pid} {state}>"


def _cli_log(workdir: Path | str | None, args: Sequence[str]) -> Path:
    base = Path(workdir) if workdir is not None else Path(os.environ.get("TMPDIR", "/tmp"))
    base.mkdir(parents=True, exist_ok=True)
    slug = "-".join(a.strip("-") for a in args[:2] if a and not a.startswith("/"))[:40] or "cli"
    return _register(base / f"cli-{next(_counter)}-{slug.replace('/', '_')}.log")


def _record(log: Path, args: Sequence[str], rc: int, out: str, err: str) -> None:
    with log.open("a", encoding="utf-8", errors="replace") as fh:
        fh.write(f"$ python -m bot {' '.join(args)}\n--- stdout ---\n{out}\n--- stderr ---\n{err}\n--- exit {rc}\n")


def run_cli(
    args: Sequence[str],
    env: Mapping[str, Any] | None = None,
    *,
    workdir: Path | str | None = None,
    timeout: float = 300.0,
    input: str | None = None,
    cwd: Path | str = REPO_ROOT,
    raw_env: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` (e.g. ``["migrate"]``, ``["classify", "text"]``): returns the CompletedProcess
    (text mode, stdout and stderr separate); output is also kept in a session log file."""
    full_env = dict(env or {}) if raw_env else child_env(env)
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={k: str(v) for k, v in full_env.items()},
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    _record(_cli_log(workdir, args), args, proc.returncode, proc.stdout, proc.stderr)
    return proc


async def arun_cli(
    args: Sequence[str],
    env: Mapping[str, Any] | None = None,
    *,
    workdir: Path | str | None = None,
    timeout: float = 300.0,
    input: str | None = None,
    cwd: Path | str = REPO_ROOT,
    raw_env: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Async ``run_cli``: the event loop (and so the stand-in) keeps running meanwhile."""
    full_env = dict(env or {}) if raw_env else child_env(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        cwd=cwd,
        env={k: str(v) for k, v in full_env.items()},
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(input.encode() if input is not None else None), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    rc = proc.returncode if proc.returncode is not None else -1
    _record(_cli_log(workdir, args), args, rc, stdout, stderr)
    return subprocess.CompletedProcess([sys.executable, "-m", "bot", *args], rc, stdout, stderr)


class BotFactory:
    """Builds ``BotProcess`` objects wired to one stand-in with test defaults; kills them all on ``aclose``.

    Defaults: token ``DEFAULT_TOKEN`` (the stand-in's), AGENT_IDS 7001,7002 (registered on the stand-in as
    users who already opened the bot), STAFF_CHAT_ID -100123 (registered as a supergroup; a forum with
    STAFF_TOPICS=true when ``staff_forum=True``), a SQLite file in the workdir, ``TEST_ENV_DEFAULTS``.
    """

    def __init__(
        self,
        api: FakeBotAPI,
        workdir: Path,
        *,
        agent_ids: Iterable[int] = DEFAULT_AGENT_IDS,
        staff_chat_id: int = DEFAULT_STAFF_CHAT_ID,
        runtime: str = "aiogram",
    ) -> None:
        self.api = api
        self.runtime = runtime  # BOT_RUNTIME of the bots built here
        self.workdir = Path(workdir)
        self.agent_ids = tuple(agent_ids)
        self.staff_chat_id = staff_chat_id
        self.processes: list[BotProcess] = []
        for n, agent_id in enumerate(self.agent_ids, start=1):
            api.user(agent_id, f"Agent{n}", username=f"agent{n}", language_code="en", started=True)
        self.staff = api.add_group(staff_chat_id, "Service desk staff", admins=self.agent_ids)

    @property
    def token(self) -> str:
        """The bot token the stand-in accepts."""
        return self.api.token

    @property
    def default_database_url(self) -> str:
        """SQLite file in the workdir, shared by every process this factory builds."""
        return f"sqlite+aiosqlite:///{self.workdir / 'bot.db'}"

    def env_for(self, database_url: str | None = None, env: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The variables a bot built here gets (before the whitelisted basics are added)."""
        out: dict[str, Any] = {
            "TELEGRAM_BOT_TOKEN": self.token,
            "TELEGRAM_API_URL": self.api.base_url,
            "DATABASE_URL": database_url or self.default_database_url,
            "AGENT_IDS": ",".join(str(a) for a in self.agent_ids),
            "STAFF_CHAT_ID": str(self.staff_chat_id),
            "BOT_RUNTIME": self.runtime,
            **TEST_ENV_DEFAULTS,
        }
        if self.api.chat(self.staff_chat_id).is_forum:
            out["STAFF_TOPICS"] = "true"
        out.update(env or {})
        return out

    def make_forum(self) -> None:
        """Turn the staff group into a forum (and set STAFF_TOPICS=true for bots built afterwards)."""
        self.staff = self.api.add_group(self.staff_chat_id, "Service desk staff", is_forum=True, admins=self.agent_ids)

    def __call__(
        self,
        database_url: str | None = None,
        env: Mapping[str, Any] | None = None,
        *,
        args: Sequence[str] = (),
        name: str | None = None,
        staff_forum: bool | None = None,
    ) -> BotProcess:
        """Build (not start) a bot process."""
        if staff_forum:
            self.make_forum()
        full = self.env_for(database_url, env)
        proc = BotProcess(
            full.pop("TELEGRAM_API_URL"),
            full.pop("TELEGRAM_BOT_TOKEN"),
            full.pop("DATABASE_URL"),
            env=full,
            workdir=self.workdir,
            args=args,
            name=name,
        )
        self.processes.append(proc)
        self.api.diagnostics.append(proc.diagnostic)
        return proc

    async def start(
        self,
        database_url: str | None = None,
        env: Mapping[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        **kw: Any,
    ) -> BotProcess:
        """Build, start and wait until the bot polls."""
        proc = self(database_url, env, **kw)
        proc.start()
        await proc.wait_ready(self.api, timeout)
        return proc

    def run_cli(
        self,
        args: Sequence[str],
        database_url: str | None = None,
        env: Mapping[str, Any] | None = None,
        **kw: Any,
    ) -> subprocess.CompletedProcess[str]:
        """``python -m bot ARGS`` with the same configuration a bot from this factory would get."""
        return run_cli(args, self.env_for(database_url, env), workdir=self.workdir, **kw)

    async def arun_cli(
        self,
        args: Sequence[str],
        database_url: str | None = None,
        env: Mapping[str, Any] | None = None,
        **kw: Any,
    ) -> subprocess.CompletedProcess[str]:
        """Async ``run_cli``."""
        return await arun_cli(args, self.env_for(database_url, env), workdir=self.workdir, **kw)

    def fallback_lines(self, patterns: Iterable[str] = ()) -> list[str]:
        """Delivery fallbacks in the logs of the processes built here that no pattern names."""
        return refusals.fallback_lines((proc.log_text() for proc in self.processes), patterns)

    async def aclose(self) -> None:
        """Kill every process built here (SIGKILL: tests that care about graceful stop call terminate())."""
        for proc in self.processes:
            proc.kill()
        for proc in self.processes:
            with contextlib.suppress(ValueError):
                self.api.diagnostics.remove(proc.diagnostic)
