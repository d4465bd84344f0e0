"""The Docker image, proven without Docker (scripts/image-check): the Dockerfile's own instructions carried
out here, and the bot started from the result as an unprivileged user."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("image_check", REPO / "scripts" / "image_check.py")
assert _spec is not None and _spec.loader is not None
image_check = importlib.util.module_from_spec(_spec)
sys.modules["image_check"] = image_check  # a script, not a package: registered for its dataclasses
_spec.loader.exec_module(image_check)
image_layers = image_check.image_layers


def test_the_dockerfile_uses_only_instructions_the_check_carries_out() -> None:
    words = [word for word, _ in image_check.instructions(REPO / "Dockerfile")]
    assert set(words) <= image_check.KNOWN
    assert words[0] == "FROM" and "HEALTHCHECK" in words and words.count("RUN") == 1


def test_an_instruction_the_check_does_not_know_fails_it(tmp_path: Path) -> None:
    """The Dockerfile cannot grow a step the check would skip: the two stay in step."""
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("# a step added to the image only\nADD https://example.com/tool /usr/local/bin/tool\n")
    with pytest.raises(image_check.CheckFailed, match="ADD is an instruction this check does not carry out"):
        image_check.build(image_check.Image(tmp_path / "root"), {}, pypi=False, dockerfile=dockerfile)


def test_the_dependency_layer_is_what_pip_install_resolves_without_the_dev_extra(tmp_path: Path) -> None:
    """The layer standing for PyPI: the project's dependencies and theirs (extras and markers followed),
    never a dev-only package, so a runtime import of pytest or PyYAML fails the check as it fails the image."""
    names = {
        d.metadata["Name"].lower().replace("_", "-")
        for d in image_layers.runtime_distributions(REPO / "pyproject.toml")
    }
    assert {"aiogram", "sqlalchemy", "greenlet", "typing-extensions", "numpy", "scipy", "tzdata"} <= names
    assert not names & {"pytest", "pyyaml", "hypothesis", "ruff", "pytest-xdist", "intake-bot", "pip"}

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["sqlalchemy>=2"]\n')  # without the asyncio extra
    assert "greenlet" not in {d.metadata["Name"].lower() for d in image_layers.runtime_distributions(pyproject)}
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["sqlalchemy>=99"]\n')
    with pytest.raises(image_layers.LayerError, match="run scripts/setup --dev"):
        image_layers.runtime_distributions(pyproject)

    layer = tmp_path / "layer"
    image_layers.link_distributions(image_layers.runtime_distributions(REPO / "pyproject.toml"), layer)
    linked = {p.name for p in layer.iterdir()}
    assert {"aiogram", "sklearn", "numpy.libs", "typing_extensions.py"} <= linked
    assert not linked & {"pytest", "yaml", "_pytest", "hypothesis", "__pycache__", "bot"}
    assert all(p.is_symlink() for p in layer.iterdir())


def test_dockerignore_is_read_as_docker_reads_it() -> None:
    patterns = image_check.dockerignore(REPO)
    assert image_check.ignored("tests/unit/test_config.py", patterns)
    assert image_check.ignored("bot/__pycache__/cli.cpython-311.pyc", patterns)
    assert image_check.ignored("scripts/test", patterns)
    assert not image_check.ignored("scripts/image-build", patterns)  # re-included: the build steps
    assert not image_check.ignored("helpdesk/texts/en/core.toml", patterns)


def test_a_model_only_root_can_read_fails_the_check(tmp_path: Path) -> None:
    """The first release's image: the cache trained as root with mode 0600, retrained at every start."""
    image = image_check.Image(tmp_path, venv=tmp_path / "venv", env={"TRIAGE_CACHE_DIR": str(tmp_path / "cache")})
    (tmp_path / "venv").mkdir()
    (tmp_path / "cache").mkdir()
    model = tmp_path / "cache" / "triage-x.npz"
    model.write_bytes(b"arrays")
    model.chmod(0o600)
    with pytest.raises(image_check.CheckFailed, match="mode 0o600: the bot's user cannot read it"):
        image_check.check_permissions(image)


@pytest.mark.slow
@pytest.mark.timeout(900)  # a build, a model trained, three processes: minutes on a loaded 2-core machine
def test_the_image_builds_and_runs_without_docker() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "image_check.py")], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    for step in (
        "RUN sh",
        "the triage model (",
        "the bot started as",
        "a customer wrote /start and got an answer",
        "HEALTHCHECK: healthy: http://127.0.0.1:",
        "SIGTERM stopped it with exit code 0",
        "no training at start, nothing written outside the data volume",
        "migrate on the same volume: database is at revision",
        "image check passed",
    ):
        assert step in done.stdout, f"{step!r} missing:\n{done.stdout}"
