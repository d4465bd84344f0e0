"""What ships for deployment agrees with itself: systemd units, compose.yaml, the Dockerfile, the docs."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.config import Settings

REPO = Path(__file__).resolve().parents[2]
UNITS = sorted((REPO / "deploy").glob("*.service"))
COMPOSE_TEXT = (REPO / "compose.yaml").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
DEPLOYMENT = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (REPO / ".env.example").read_text(encoding="utf-8")


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_units_restart_a_crash_but_not_a_configuration_error(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(unit.read_text(encoding="utf-8"))
    service = parser["Service"]
    assert service["Restart"] in ("on-failure", "always")
    assert "2" in service["RestartPreventExitStatus"].split()  # exit 2: one `error:` line, fix the settings
    assert service["ExecStart"].endswith("-m bot run")


def test_scripts_services_starts_only_what_the_suite_uses() -> None:
    text = (REPO / "scripts" / "services").read_text(encoding="utf-8").lower()
    assert "pg_ctlcluster" in text
    assert not re.search(r"redis|rabbit|mosquitto|nats|mysql|memcache", text)


def _bots() -> dict[str, dict]:
    return {name: service for name, service in COMPOSE["services"].items() if service.get("build")}


def _healthcheck_command() -> list[str]:
    line = next(x for x in DOCKERFILE.splitlines() if x.startswith("HEALTHCHECK"))
    return yaml.safe_load(line.split(" CMD ", 1)[1])


def test_compose_runs_the_image_as_the_dockerfile_defines_it() -> None:
    bots = _bots()
    assert len(bots) >= 2
    for name, bot in bots.items():
        assert bot["healthcheck"]["test"] == ["CMD", *_healthcheck_command()], name
        assert bot["env_file"] == ".env" and "bot-data:/app/data" in bot["volumes"], name
        assert set(bot["environment"]) <= {name.upper() for name in Settings.model_fields}, name
    assert "bot" in _healthcheck_command() and "healthcheck" in _healthcheck_command()


def test_compose_and_the_docs_agree_on_where_its_own_variables_go() -> None:
    """PUBLIC_HOST, POSTGRES_PASSWORD, WEBHOOK_SECRET: compose reads them from .env (next to compose.yaml)."""
    interpolated = set(re.findall(r"\$\{(\w+)", COMPOSE_TEXT))
    assert {"PUBLIC_HOST", "POSTGRES_PASSWORD"} <= interpolated
    compose_header = "\n".join(x for x in COMPOSE_TEXT.splitlines() if x.startswith("#"))
    for name in interpolated:
        assert re.search(rf"^#?\s*{name}=", ENV_EXAMPLE, re.MULTILINE), f"{name} is not in .env.example"
        assert name in compose_header and name in DEPLOYMENT, name
    assert "export PUBLIC_HOST" not in compose_header + DEPLOYMENT  # one way: .env, as the docs say


def test_every_docker_run_of_a_database_command_uses_the_data_volume() -> None:
    """A `docker run … migrate` without the volume migrates a throwaway container's database."""
    uses_database = ("migrate", "export-labels", "export-customer", "erase-customer", "console", "report")
    sources = {"Dockerfile": DOCKERFILE, "README.md": (REPO / "README.md").read_text(), "deployment.md": DEPLOYMENT}
    runs = 0
    for name, text in sources.items():
        for line in text.splitlines():
            if "docker run" in line and any(f"intake-bot {command}" in line for command in uses_database):
                runs += 1
                assert "-v intake-data:/app/data" in line, f"{name}: {line.strip()}"
    assert runs >= 2


def test_compose_config_with_the_docker_client(tmp_path: Path) -> None:
    """`docker compose config` checks compose.yaml against the Compose specification; it needs no daemon."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no Docker client on this machine; compose.yaml is checked structurally above")
    if subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("the Docker client here has no compose plugin; compose.yaml is checked structurally above")
    project = tmp_path / "project"
    shutil.copytree(REPO / "deploy", project / "deploy")
    shutil.copy(REPO / "compose.yaml", project / "compose.yaml")
    env = ENV_EXAMPLE + "\nPUBLIC_HOST=bot.example.com\nPOSTGRES_PASSWORD=secret\nWEBHOOK_SECRET=s3cret_value\n"
    (project / ".env").write_text(env, encoding="utf-8")
    done = subprocess.run([docker, "compose", "config", "--quiet"], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
