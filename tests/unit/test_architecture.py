"""The dependency rules of the architecture, checked on the source rather than trusted.

``rules/`` is the pure domain (stdlib and pydantic only); ``connectors/`` may use the CRM
client libraries but never ``service/`` or ``sandbox/``; ``sandbox/`` is a fake CRM that
stands alone; ``service/`` reaches the sandbox only from the commands that run it. A new
third-party import in a guarded package has to be added here on purpose. Imports inside
functions and under ``TYPE_CHECKING`` count too: a cycle that only type checkers follow
still ties two modules together for a reader.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = frozenset(sys.stdlib_module_names)
PACKAGES = ("rules", "connectors", "sandbox", "service", "migrations", "bench")

#: What each guarded package may import, beyond the standard library.
ALLOWED = {
    "rules": {"rules", "pydantic"},
    "connectors": {
        "connectors",
        "pydantic",
        "simple_salesforce",
        "hubspot",
        "requests",
        "urllib3",
        "cryptography",  # RS256 signatures for Salesforce's JWT bearer flow
        "orjson",  # decoding HubSpot answers (a JSON codec)
    },
    "sandbox": {
        "sandbox",
        "pydantic",
        "orjson",  # encoding the fake CRMs' answers
        "trustme",  # the locally generated CA (the sandbox extra)
    },
}

#: The only service modules that may import the sandbox: the commands that run it.
SANDBOX_USERS = frozenset(
    {
        "service.cli.sandbox_commands",
        "service.cli.sandbox_run",
        "service.cli.demo",
        "service.cli.demo_rules",
    }
)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` names in an import statement, absolute or relative."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parts = path.relative_to(ROOT).with_suffix("").parts
    package = parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join((*base, *(node.module.split(".") if node.module else ())))
            # ``from package import module`` depends on that module, not on the
            # package's other contents; ``from module import name`` on the module.
            submodules = [f"{module}.{alias.name}" for alias in node.names]
            named = [name for name in submodules if name in MODULES]
            yield from named
            if len(named) < len(submodules):
                yield module


def _top_levels(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imports(path) if name}


def _internal_edges(name: str) -> set[str]:
    return {imported for imported in _imports(MODULES[name]) if imported in MODULES} - {name}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_architecture_allows(package: str):
    offenders = {
        name: extra
        for name, path in MODULES.items()
        if name.split(".")[0] == package
        and (extra := _top_levels(path) - STDLIB - ALLOWED[package])
    }
    assert offenders == {}


def test_service_reaches_the_sandbox_only_from_the_commands_that_run_it():
    users = {
        name
        for name, path in MODULES.items()
        if name.startswith("service.") and "sandbox" in _top_levels(path)
    }
    assert users <= SANDBOX_USERS
    assert all(name.startswith("service.cli.") for name in SANDBOX_USERS)


def test_migrations_read_only_the_store_and_the_settings():
    reached = {
        imported
        for name in MODULES
        if name.startswith("migrations")
        for imported in _internal_edges(name)
        if not imported.startswith("migrations")
    }
    assert {m for m in reached if not m.startswith(("service.store", "service.settings"))} <= {
        "service"
    }


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph = {name: _internal_edges(name) for name in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for node in graph:
        if node not in index:
            visit(node)
    return components


def test_the_import_graph_has_no_cycle():
    assert _cycles() == []


def test_the_checker_sees_forbidden_imports_and_cycles(tmp_path: Path, monkeypatch):
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom service.store import Store\nimport sqlalchemy.orm\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _top_levels(module) - STDLIB - ALLOWED["rules"] == {"service", "sqlalchemy"}
    for name, body in (("a", "from rules import b\n"), ("b", "from rules.a import x\n")):
        (tmp_path / "rules").mkdir(exist_ok=True)
        (tmp_path / "rules" / f"{name}.py").write_text(body)
    monkeypatch.setattr(
        sys.modules[__name__],
        "MODULES",
        {"rules.a": tmp_path / "rules" / "a.py", "rules.b": tmp_path / "rules" / "b.py"},
    )
    assert _cycles() == [["rules.a", "rules.b"]]


def _loaded_by(code: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after ``code`` runs in a fresh interpreter."""
    script = (
        f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(result.stdout.split())


def test_the_command_line_starts_without_the_sandbox_the_crm_clients_or_a_web_stack():
    loaded = _loaded_by("import service.cli.main")
    assert "typer" in loaded  # the check sees what the import brought in
    heavy = {"sandbox", "connectors", "simple_salesforce", "hubspot", "fastapi", "trustme"}
    assert loaded & heavy == set()
    assert {"sqlalchemy", "alembic", "pydantic_settings"} & loaded == set()
