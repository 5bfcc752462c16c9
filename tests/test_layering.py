"""The engine is a functional core: no module but the executor imports effects."""

from __future__ import annotations

import ast
from pathlib import Path

import reconciler.engine

FORBIDDEN = {"subprocess", "socket", "os", "time", "asyncio", "sqlite3", "threading"}
ENGINE = Path(reconciler.engine.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_modules_import_no_effects() -> None:
    """Every engine module except executor.py imports none of the effectful modules."""
    offenders = {
        path.name: sorted(_imports(path) & FORBIDDEN)
        for path in sorted(ENGINE.glob("*.py"))
        if path.name != "executor.py" and _imports(path) & FORBIDDEN
    }
    assert offenders == {}
    assert len(list(ENGINE.glob("*.py"))) > 5
