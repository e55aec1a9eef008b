"""The dependency rules of ARCHITECTURE.md, checked on the source rather than trusted.

``rules/`` is the pure domain (stdlib and pydantic only); ``connectors/`` may use the CRM
client libraries but never ``service/``. A new third-party import in either package has to
be added here on purpose.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = frozenset(sys.stdlib_module_names)

ALLOWED = {
    "rules": {"rules", "pydantic"},
    "connectors": {
        "connectors",
        "pydantic",
        "simple_salesforce",
        "hubspot",
        "httpx",
        "requests",
        "urllib3",
        "trustme",  # the sandbox's locally generated CA
        "cryptography",  # RS256 signatures for Salesforce's JWT bearer flow
        "orjson",  # decoding HubSpot answers, encoding the sandbox's (a JSON codec)
    },
}


def _imported_top_level_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_architecture_allows(package: str):
    offenders: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        extra = _imported_top_level_modules(path) - STDLIB - ALLOWED[package]
        if extra:
            offenders[str(path.relative_to(ROOT))] = extra
    assert offenders == {}


def test_the_checker_sees_forbidden_imports(tmp_path: Path):
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom service.store import Store\nimport sqlalchemy.orm\n")
    assert _imported_top_level_modules(module) - STDLIB - ALLOWED["rules"] == {
        "service",
        "sqlalchemy",
    }
