"""The project's shape, read from its source: layers point down, no import cycles, names that say what a
module holds, small modules, queries only in storage/.

The import graph is built with `ast` from every module of the project's packages. Imports inside
functions count like any other (a cycle hidden behind a function-level import is still a cycle);
imports under `if TYPE_CHECKING:` never run and are left out of the cycle check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "dialogs", "scheduler", "helpdesk", "storage")
#: each layer imports only the ones below it (dialogs and scheduler are side by side)
LAYER = {"storage": 0, "helpdesk": 1, "dialogs": 2, "scheduler": 2, "bot": 3}
TELEGRAM_LIBRARIES = ("aiogram", "telegram")
VAGUE_NAMES = frozenset({"work", "utils", "util", "misc", "helpers", "common"})
MAX_LINES = 500
#: word lists and other data, allowed to be long
DATA_MODULES = frozenset({"helpdesk.triage.lexicons", "helpdesk.triage.normalize"})

# Known exceptions, each with its owner. An entry that no longer applies fails the tests below, so it is
# removed together with the problem.
#: import cycles behind a function-level import, each with its owner (none left)
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()
#: modules over MAX_LINES still to be split (none left)
KNOWN_OVERSIZE: frozenset[str] = frozenset()
#: domain modules that still build queries (none left)
KNOWN_QUERIES: frozenset[str] = frozenset()
#: SQL builders a domain module must not use: queries live in storage/
QUERY_BUILDERS = frozenset({"select", "update", "delete", "insert", "text", "exists", "func", "col", "and_", "or_"})
#: module names used by two modules, each the same kind of thing in two layers
SHARED_NAMES = {
    "__init__": "packages",
    "survey": "the satisfaction survey's domain (helpdesk) and its Telegram handlers (bot/handlers)",
    "services": "the service catalogue as the intake offers it (dialogs) and as outage grouping reads it",
    "intake": "the intake form (dialogs) and its handlers (bot/handlers)",
    "evaluation": "quality on a labelled file, of outage grouping and of self-help offers",
}
#: names two modules share with two meanings, to be renamed by their owner (none left)
KNOWN_NAME_CLASHES: frozenset[str] = frozenset()


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    imports: set[str] = field(default_factory=set)  # every project or library module it imports
    runtime_imports: set[str] = field(default_factory=set)  # the same, without TYPE_CHECKING-only ones
    sql_builders: set[str] = field(default_factory=set)  # query builders imported from sqlmodel/sqlalchemy


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under `if TYPE_CHECKING:`."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in ast.walk(node):
                if isinstance(child, ast.Import | ast.ImportFrom):
                    lines.add(child.lineno)
    return lines


@cache
def project() -> dict[str, Module]:
    paths = {_module_name(path): path for path in _sources()}
    modules: dict[str, Module] = {}
    for name, path in paths.items():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
        module = Module(name, path, len(source.splitlines()))
        typing_only = _type_checking_only(tree)
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    targets.append(candidate if candidate in paths else base)
                if base in ("sqlmodel", "sqlalchemy", "sqlalchemy.sql", "sqlalchemy.sql.expression"):
                    module.sql_builders |= {a.name for a in node.names if a.name in QUERY_BUILDERS}
            for target in targets:
                module.imports.add(target)
                if node.lineno not in typing_only:
                    module.runtime_imports.add(target)
        modules[name] = module
    return modules


def _package(name: str) -> str:
    return name.split(".")[0]


def _project_edges(runtime: bool = True) -> dict[str, set[str]]:
    modules = project()
    return {
        name: {t for t in (m.runtime_imports if runtime else m.imports) if t in modules and t != name}
        for name, m in modules.items()
    }


def _cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


# -- the tests -------------------------------------------------------------------------------------------


def test_the_graph_is_read_from_every_package() -> None:
    modules = project()
    for package in PACKAGES:
        assert any(_package(name) == package for name in modules), package
    assert "helpdesk.lifecycle" in _project_edges()["helpdesk.agent_actions"]  # `from helpdesk.x import y`
    assert "storage.repos" in _project_edges()["helpdesk.tickets"]  # `from storage import repos`


def test_no_import_cycles() -> None:
    cycles = set(_cycles(_project_edges()))
    unexpected = sorted(sorted(cycle) for cycle in cycles - KNOWN_CYCLES)
    assert not unexpected, f"import cycles (a function-level import does not hide one): {unexpected}"
    gone = sorted(sorted(cycle) for cycle in KNOWN_CYCLES - cycles)
    assert not gone, f"these cycles are gone: remove them from KNOWN_CYCLES: {gone}"


def test_layers_point_down() -> None:
    upward = []
    for name, targets in _project_edges(runtime=False).items():
        layer = LAYER[_package(name)]
        for target in targets:
            if _package(target) != _package(name) and LAYER[_package(target)] >= layer:
                upward.append(f"{name} → {target}")
    assert not upward, "bot → dialogs/scheduler → helpdesk → storage, nothing points up or sideways:\n" + "\n".join(
        sorted(upward)
    )


def test_only_the_bot_layer_knows_telegram_libraries() -> None:
    offenders = [
        f"{name} imports {target}"
        for name, module in project().items()
        if _package(name) != "bot"
        for target in module.imports
        if target.split(".")[0] in TELEGRAM_LIBRARIES
    ]
    assert not offenders, offenders


def test_outbox_delivery_depends_on_storage_only() -> None:
    """Delivery gets its domain hooks (tell the staff, metrics) at the composition root, bot/app.py."""
    delivery = {name: m for name, m in project().items() if name.startswith("scheduler.delivery")}
    assert delivery, "the outbox delivery package is scheduler/delivery/"
    offenders = [
        f"{name} imports {target}"
        for name, targets in _project_edges(runtime=False).items()
        if name in delivery
        for target in targets
        if not (target.startswith("storage") or target.startswith("scheduler.delivery"))
    ]
    assert not offenders, offenders


def test_queries_live_in_storage() -> None:
    offenders = {
        name: sorted(m.sql_builders)
        for name, m in project().items()
        if _package(name) == "helpdesk" and m.sql_builders and name not in KNOWN_QUERIES
    }
    assert not offenders, f"domain modules building SQL (move the query to storage/): {offenders}"
    stale = [name for name in KNOWN_QUERIES if not project()[name].sql_builders]
    assert not stale, f"no longer building queries: remove from KNOWN_QUERIES: {stale}"


def test_module_names_say_what_they_hold() -> None:
    vague = [name for name in project() if set(name.split(".")) & VAGUE_NAMES]
    assert not vague, f"name modules by what they hold: {vague}"
    by_name: dict[str, list[str]] = {}
    for name, module in project().items():
        by_name.setdefault(module.path.stem, []).append(name)
    shared = {
        stem: names
        for stem, names in by_name.items()
        if len(names) > 1 and stem not in SHARED_NAMES and stem not in KNOWN_NAME_CLASHES
    }
    migrations = {stem: names for stem, names in shared.items() if all(".migrations." in n for n in names)}
    shared = {stem: names for stem, names in shared.items() if stem not in migrations}
    assert not shared, f"one meaning per name: {shared}"
    resolved = [stem for stem in KNOWN_NAME_CLASHES if len(by_name.get(stem, [])) < 2]
    assert not resolved, f"renamed: remove from KNOWN_NAME_CLASHES: {resolved}"


def test_source_modules_stay_small() -> None:
    large = {
        name: module.lines
        for name, module in project().items()
        if module.lines > MAX_LINES and name not in DATA_MODULES and name not in KNOWN_OVERSIZE
    }
    assert not large, f"split these by job (over {MAX_LINES} lines): {large}"
    stale = [name for name in KNOWN_OVERSIZE if project()[name].lines <= MAX_LINES]
    assert not stale, f"small now: remove from KNOWN_OVERSIZE: {stale}"
