"""The Docker image, proven without Docker: carry out the Dockerfile's instructions on this machine, then
start the bot from the result as an unprivileged user against the Bot API stand-in.

No Docker daemon (and no base image) is reachable where the tests run, so this reads the Dockerfile
itself and does what each instruction says, in a scratch directory standing for the image's root:
FROM is a fresh virtual environment of the same Python version; ARG and ENV set the same variables
(absolute paths moved under the scratch root); COPY copies the same files, honouring .dockerignore; RUN
runs the same commands (the build is scripts/image-build) as root; USER, WORKDIR, ENTRYPOINT, CMD,
HEALTHCHECK and STOPSIGNAL are how the bot is then started, asked and stopped. An instruction it does not
know fails the check, so the Dockerfile cannot grow a step the check skips.

What it proves: the package installs from the copied sources alone (data files included); the triage
model is trained at build time into a cache the bot's user can read, so the bot starts without
training; the bot's user can write only the data volume; the bot answers a customer; the HEALTHCHECK
command reports it healthy; SIGTERM stops it with exit code 0; `migrate` works on the same volume.

Where the dependencies come from (the trade-off). The image's `pip install` downloads the project's
dependencies from PyPI: about 40 distributions (numpy, scipy, scikit-learn, matplotlib…), minutes of
download and unpacking on a 2-core machine, and a test that fails when PyPI cannot be reached. By
default the check does not do that. The base image's pip and the distributions `pip install` of the
project pulls in (pyproject.toml's dependencies and theirs, markers evaluated: the same resolution,
nothing of the dev extra) are linked from this checkout's .venv, which scripts/setup installed from the
same pyproject.toml, into a layer of the fresh environment; the RUN then runs unchanged with pip told
`--no-index` (PIP_NO_INDEX), so pip itself checks that the layer satisfies every requirement, builds the
project in its isolated build environment from a wheelhouse of the build backend (build-system.requires,
fetched from PyPI once per .venv and kept in .venv/image-check-wheels/), and installs the project for
real. What this leaves out: the versions are the .venv's rather than the newest PyPI has today, and the
dependencies' files are the .venv's (linked, not unpacked again), so a broken wheel on PyPI would be
missed. `--pypi` does it all from PyPI, exactly as the image is built (slow; needs the network).
A dev-only package (pytest, PyYAML…) is not in the layer, so a runtime import of one fails here as it
would in the image.

Run as root, the bot runs as `nobody`; otherwise the scratch root is made read-only and every file the
bot reads is checked to be readable by others, which is what a second user needs.

Usage: scripts/image-check [--pypi] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scripts import image_layers  # noqa: E402
from tests.support.botapi import FakeBotAPI  # noqa: E402  (the stand-in: a dev tool, like this check)
from tests.support.botproc import DEFAULT_TOKEN  # noqa: E402

RUNTIME_USER = "nobody"  # exists on every Linux; the image's own user is created by useradd in the build
KNOWN = {"FROM", "ARG", "ENV", "COPY", "RUN", "WORKDIR", "VOLUME", "USER", "EXPOSE", "HEALTHCHECK", "STOPSIGNAL",
         "ENTRYPOINT", "CMD"}  # fmt: skip


class CheckFailed(Exception):
    pass


@dataclass
class Image:
    """What the Dockerfile built: where things are, and how the container would start."""

    root: Path
    venv: Path | None = None
    python_version: str = ""
    variables: dict[str, str] = field(default_factory=dict)  # ARG and ENV, as RUN sees them
    env: dict[str, str] = field(default_factory=dict)  # ENV only: what the running container gets
    workdir: Path | None = None
    user: str = "root"
    volumes: list[Path] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    stopsignal: str = "SIGTERM"
    pip_env: dict[str, str] = field(default_factory=dict)  # where the build's pip finds packages (see FROM)

    def path(self, inside: str) -> Path:
        """A path of the image, in the scratch root (a path already there is kept)."""
        if Path(inside).is_relative_to(self.root):
            return Path(inside)
        return self.root / inside.lstrip("/")


# -- reading the Dockerfile ------------------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        word, _, rest = pending.partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def substitute(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m[1] or m[2], ""), text)


def exec_form(args: str) -> list[str]:
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        raise CheckFailed(f"use the JSON (exec) form so the container needs no shell: {args}") from None
    return [str(v) for v in value]


def dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [x.strip() for x in lines if x.strip() and not x.strip().startswith("#")]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern decides; `!` re-includes; a match covers what is inside."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        candidates = {pattern, pattern.removeprefix("**/")}
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates):
            result = not negate
    return result


# -- building ----------------------------------------------------------------------------------------------


def build(image: Image, build_args: dict[str, str], *, pypi: bool, dockerfile: Path = REPO / "Dockerfile") -> None:
    patterns = dockerignore(REPO)
    for word, args in instructions(dockerfile):
        if word not in KNOWN:
            raise CheckFailed(f"Dockerfile: {word} is an instruction this check does not carry out; teach it")
        if word == "FROM":
            start_from(image, args, pypi=pypi)
        elif word in ("ARG", "ENV"):
            define(image, word, args, build_args)
        elif word == "COPY":
            copy(image, shlex.split(substitute(args, image.variables)), patterns)
        elif word == "RUN":
            run_step(image, args)
        elif word == "WORKDIR":
            image.workdir = image.path(substitute(args, image.variables))
            image.workdir.mkdir(parents=True, exist_ok=True)
        elif word == "VOLUME":
            image.volumes += [image.path(v) for v in exec_form(substitute(args, image.variables))]
        elif word == "USER":
            image.user = substitute(args, image.variables).split(":")[0]
        elif word == "HEALTHCHECK":
            image.healthcheck = exec_form(args.partition(" CMD ")[2].strip())
        elif word == "ENTRYPOINT":
            image.entrypoint = exec_form(args)
        elif word == "CMD":
            image.cmd = exec_form(args)
        elif word == "STOPSIGNAL":
            image.stopsignal = args
        say(f"{word} {args[:100]}")


def start_from(image: Image, args: str, *, pypi: bool) -> None:
    """`FROM python:X.Y-…`: a fresh virtual environment of Python X.Y with pip, usable by any user. Without
    --pypi, pip and the project's dependencies are a layer linked from this checkout's .venv and pip is
    offline (see the header)."""
    match = re.match(r"python:(\d+\.\d+)", args)
    if not match:
        raise CheckFailed(f"FROM {args}: the check knows python:X.Y images only")
    image.python_version = match[1]
    base = base_python(image.python_version)
    image.venv = image.path("/usr/local")  # where the official python images keep their python
    subprocess.run([base, "-m", "venv", *([] if pypi else ["--without-pip"]), str(image.venv)], check=True)
    if pypi:
        return
    pyproject = REPO / "pyproject.toml"
    layer = image.path("/opt/dependency-layer")
    try:
        image_layers.add_pip(image.venv, layer)
        image_layers.link_distributions(image_layers.runtime_distributions(pyproject), layer)
        wheels = image_layers.build_backend_wheels(pyproject, REPO / ".venv" / "image-check-wheels")
    except image_layers.LayerError as exc:
        raise CheckFailed(str(exc)) from None
    image_layers.add_layer(image.venv, layer)
    image.pip_env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}


def base_python(version: str) -> str:
    """A Python of that version that an unprivileged user may run (not one under /root)."""
    candidates = [shutil.which(f"python{version}"), f"/usr/bin/python{version}", f"/usr/local/bin/python{version}",
                  getattr(sys, "_base_executable", sys.executable)]  # fmt: skip
    for candidate in candidates:
        if candidate and os.path.exists(candidate) and os.access(candidate, os.X_OK) and _readable_by_all(candidate):
            return candidate
    raise CheckFailed(f"no Python {version} that an unprivileged user can run (the image's FROM asks for it)")


def _readable_by_all(path: str) -> bool:
    real = Path(os.path.realpath(path))
    return all(p.stat().st_mode & 0o005 == 0o005 for p in [real, *real.parents] if p != Path("/"))


def define(image: Image, word: str, args: str, build_args: dict[str, str]) -> None:
    """ARG NAME=default (a build argument wins) or ENV NAME=value …; absolute paths move under the root."""
    for item in shlex.split(args):
        name, _, value = item.partition("=")
        if word == "ARG" and name in build_args:
            value = build_args[name]
        value = substitute(value, image.variables)
        if value.startswith("/"):
            value = str(image.path(value))  # (a value built from a moved ARG is moved already)
        image.variables[name] = value
        if word == "ENV":
            image.env[name] = value


def copy(image: Image, args: list[str], patterns: list[str]) -> None:
    *sources, target = args
    dest = image.path(target)
    for source in sources:
        src = REPO / source
        if ignored(source, patterns) or not src.exists():
            raise CheckFailed(f"COPY {source}: not in the build context (.dockerignore excludes it, or it is missing)")
        into = dest / src.name if target.endswith("/") else dest
        if src.is_dir():
            for file in sorted(src.rglob("*")):
                relative = file.relative_to(REPO).as_posix()
                if file.is_file() and not ignored(relative, patterns):
                    copied = into / file.relative_to(src)
                    copied.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, copied)
        else:
            into.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, into)


def run_step(image: Image, args: str) -> None:
    """RUN, as the build does: as root (here: this user), in the image's root, with its variables."""
    assert image.venv is not None
    env = {**build_env(image), **image.variables}
    command = exec_form(args) if args.startswith("[") else ["/bin/sh", "-c", args]
    done = subprocess.run(command, cwd=image.root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise CheckFailed(f"RUN {args}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def build_env(image: Image) -> dict[str, str]:
    assert image.venv is not None
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ")}
    path = f"{image.venv / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin"
    return {**keep, **image.pip_env, "PATH": path, "HOME": str(image.root / "root")}


# -- running -----------------------------------------------------------------------------------------------


def as_user(image: Image, command: list[str]) -> list[str]:
    """The command as the image's USER would run it (setpriv keeps the environment as Docker does)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", f"--reuid={image.user}", f"--regid={pwd.getpwnam(image.user).pw_gid}", "--clear-groups",
            *command]  # fmt: skip


def runtime_env(image: Image, api_url: str, health_port: int) -> dict[str, str]:
    """The container's environment: the image's ENV and what `docker run --env-file .env -e …` adds."""
    assert image.venv is not None and image.workdir is not None
    return {
        **{k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL")},
        **image.env,
        "PATH": f"{image.venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(image.workdir),
        "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
        "TELEGRAM_API_URL": api_url,
        "POLL_TIMEOUT": "2",
        "HEALTH_PORT": str(health_port),  # the image's 8080, moved: other checks may run on this machine
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot(root: Path, skip: list[Path]) -> dict[str, tuple[int, float]]:
    """Every file under root (but the volumes): size and modification time."""
    out = {}
    for path in root.rglob("*"):
        if any(path == s or s in path.parents for s in skip) or path.is_symlink() or not path.is_file():
            continue
        stat = path.stat()
        out[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime)
    return out


def check_permissions(image: Image) -> None:
    """Before the bot starts: what it reads is readable by another user; it may write only the volumes."""
    cache = Path(image.env["TRIAGE_CACHE_DIR"])
    models = list(cache.glob("*.npz"))
    if not models:
        raise CheckFailed(f"the build left no trained triage model in TRIAGE_CACHE_DIR ({cache})")
    assert image.venv is not None
    for tree in (cache, image.venv):
        for path in [tree, *tree.rglob("*")]:
            if path.is_symlink():
                continue
            needed = 0o005 if path.is_dir() else 0o004
            if path.stat().st_mode & needed != needed:
                raise CheckFailed(f"{path} is mode {oct(path.stat().st_mode & 0o777)}: the bot's user cannot read it")
    if os.geteuid() == 0:
        uid = pwd.getpwnam(image.user).pw_uid
        for volume in image.volumes:
            if volume.stat().st_uid != uid:
                raise CheckFailed(f"the volume {volume} is not owned by the image's user {image.user}")
    else:  # one user here: make everything but the volumes read-only, as it is for the image's user
        for path in image.root.rglob("*"):
            if (
                path.is_dir()
                and not path.is_symlink()
                and not any(v == path or v in path.parents for v in image.volumes)
            ):
                path.chmod(path.stat().st_mode & ~0o222)
    say(f"the triage model ({models[0].name}) and the installed package are readable by the bot's user")


async def start_the_bot(image: Image, log_path: Path) -> dict[str, str]:
    """Run the container's command as its user; a customer writes, HEALTHCHECK asks, STOPSIGNAL stops it.
    Returns the container's environment."""
    assert image.workdir is not None
    async with FakeBotAPI(token=DEFAULT_TOKEN) as api:
        env = runtime_env(image, api.base_url, free_port())
        with log_path.open("wb") as log:
            proc = launch(image, [*image.entrypoint, *image.cmd], env, log)
            try:
                await running(api, proc, log_path)
                say(f"the bot started as {image.user} and polls the Bot API stand-in")
                customer = api.user(5001, "Ann")
                await customer.send("/start")
                welcome = await customer.next_message(timeout=60)
                say(f"a customer wrote /start and got an answer: {welcome.text[:50]!r}…")
                health = await asyncio.to_thread(in_container, image, image.healthcheck, env)
                if health.returncode != 0:
                    raise CheckFailed(f"HEALTHCHECK {image.healthcheck}: exit {health.returncode}: {health.stderr}")
                say(f"HEALTHCHECK: {health.stdout.strip()}")
                proc.send_signal(getattr(signal, image.stopsignal))
                code = await asyncio.to_thread(proc.wait, 60)
                if code != 0:
                    raise CheckFailed(f"after {image.stopsignal} the bot exited with {code}:\n{tail(log_path)}")
                say(f"{image.stopsignal} stopped it with exit code 0")
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
    return env


def check_what_it_did(image: Image, log_path: Path, before: dict[str, tuple[int, float]]) -> None:
    """It loaded the image's triage model instead of training one, and wrote only to the volume."""
    text = log_path.read_text(errors="replace")
    if "triage cache" in text or "retraining" in text:
        raise CheckFailed(f"the bot trained the triage model at start, not loading the image's:\n{tail(log_path)}")
    changed = {k for k, v in snapshot(image.root, image.volumes).items() if before.get(k) != v}
    if changed:
        raise CheckFailed(f"the running bot wrote outside the data volume: {sorted(changed)[:5]}")
    say("no training at start, nothing written outside the data volume")


def launch(image: Image, command: list[str], env: dict[str, str], log: BinaryIO) -> subprocess.Popen[bytes]:
    return subprocess.Popen(as_user(image, command), cwd=image.workdir, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def in_container(image: Image, command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A command run as `docker exec` / `docker run` would: the image's user, WORKDIR and environment."""
    return subprocess.run(as_user(image, command), cwd=image.workdir, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


async def running(api: FakeBotAPI, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while not any(c.method == "getUpdates" for c in api.calls):
        if proc.poll() is not None:
            raise CheckFailed(f"the bot exited with {proc.returncode} before polling:\n{tail(log_path)}")
        if time.monotonic() > deadline:
            raise CheckFailed(f"the bot did not poll within 120 s:\n{tail(log_path)}")
        await api.wait_changed(0.2)


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


_STARTED = time.monotonic()


def say(line: str) -> None:
    print(f"ok: {line} [{time.monotonic() - _STARTED:.1f} s]", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/image-check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--pypi", action="store_true", help="install the dependencies from PyPI, as the image does")
    parser.add_argument("--keep", action="store_true", help="keep the scratch root (its path is printed)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="image-check-"))
    root.chmod(0o755)  # tempfile makes it 0700: the bot's user must get in
    log_path = root.parent / f"{root.name}.log"  # outside the image: its root is read-only when not root
    image = Image(root)
    build_args = {"BOT_USER": RUNTIME_USER} if os.geteuid() == 0 else {"BOT_USER": pwd.getpwuid(os.geteuid()).pw_name}
    try:
        build(image, build_args, pypi=args.pypi)
        check_permissions(image)
        before = snapshot(image.root, image.volumes)
        env = asyncio.run(start_the_bot(image, log_path))
        check_what_it_did(image, log_path, before)
        migrate = in_container(image, [*image.entrypoint, "migrate"], env)
        if migrate.returncode != 0:
            raise CheckFailed(f"migrate on the same volume: exit {migrate.returncode}: {migrate.stderr}")
        say(f"migrate on the same volume: {migrate.stdout.strip()}")
    except CheckFailed as exc:
        print(f"error: image check failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"scratch root kept: {root}")
        else:
            for path in [root, *root.rglob("*")]:
                if path.is_dir() and not path.is_symlink():
                    path.chmod(path.stat().st_mode | 0o700)
            shutil.rmtree(root, ignore_errors=True)
            log_path.unlink(missing_ok=True)
    mode = f"as {image.user}" if os.geteuid() == 0 else "as this user, the image's root read-only"
    print(
        f"image check passed: the Dockerfile's steps without Docker, Python {image.python_version}, the bot run {mode}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
