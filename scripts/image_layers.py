"""The image's Python packages without PyPI, for scripts/image-check (its header says why and what it costs):
the distributions `pip install` of the project pulls in, linked from this checkout's .venv into a layer of
the fresh environment; the base image's pip, likewise; and the build backend's wheels, which pip's isolated
build installs, fetched from PyPI once and kept."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


class LayerError(Exception):
    """The .venv cannot stand in for PyPI, or the build backend could not be fetched."""


def _pyproject(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def runtime_distributions(pyproject: Path) -> list[metadata.Distribution]:
    """What `pip install` of the project resolves to, as this environment has it: [project].dependencies and
    theirs, each with the extras asked for, markers evaluated here. The dev extra is not among them."""
    pending = [(Requirement(text), "") for text in _pyproject(pyproject)["project"]["dependencies"]]
    found: dict[str, metadata.Distribution] = {}
    expanded: set[tuple[str, str]] = set()
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        try:
            dist = found.get(name) or metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise LayerError(f"{requirement} is not installed in {sys.prefix}: run scripts/setup --dev") from None
        if not requirement.specifier.contains(dist.version, prereleases=True):
            raise LayerError(f"{name} {dist.version} in {sys.prefix} is not {requirement}: run scripts/setup --dev")
        found[name] = dist
        for wanted in {"", *map(canonicalize_name, requirement.extras)}:
            if (name, wanted) not in expanded:
                expanded.add((name, wanted))
                pending += [(Requirement(text), wanted) for text in dist.requires or []]
    return [found[name] for name in sorted(found)]


def link_distributions(dists: list[metadata.Distribution], layer: Path) -> None:
    """Each distribution's top-level files and directories (from its RECORD) linked into `layer`; its scripts
    (outside site-packages) and stray bytecode are left out."""
    layer.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        if dist.files is None:
            raise LayerError(f"{dist.metadata['Name']} has no RECORD of its files: run scripts/setup --dev")
        for top in sorted({PurePosixPath(f).parts[0] for f in dist.files} - {"..", "__pycache__"}):
            link = layer / top
            if not link.is_symlink():
                link.symlink_to(Path(str(dist.locate_file(top))))


def add_layer(venv: Path, layer: Path) -> None:
    """Make the environment's Python (and its pip) see the layer's distributions as installed."""
    site = next(venv.glob("lib/python*/site-packages"))
    (site / f"{layer.name}.pth").write_text(f"{layer}\n", encoding="utf-8")


def add_pip(venv: Path, layer: Path) -> None:
    """The base image's pip: this environment's pip, in the layer, and the `pip` command that runs it."""
    link_distributions([metadata.distribution("pip")], layer)
    script = venv / "bin" / "pip"
    script.write_text(
        f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n",
        encoding="utf-8",
    )
    script.chmod(0o755)


def build_backend_wheels(pyproject: Path, cache: Path) -> Path:
    """A directory of wheels for [build-system].requires, which pip's isolated build of the project installs:
    fetched from PyPI the first time (per .venv and set of requirements), reused afterwards."""
    requires = sorted(_pyproject(pyproject)["build-system"]["requires"])
    house = cache / hashlib.sha256("\n".join(requires).encode()).hexdigest()[:16]
    if (house / ".complete").exists():
        return house
    fetch = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
         "--dest", str(house), *requires],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if fetch.returncode != 0:
        raise LayerError(f"fetching the build backend ({', '.join(requires)}) from PyPI: {fetch.stderr[-1500:]}")
    (house / ".complete").touch()
    return house
