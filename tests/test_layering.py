"""The package's layers: the arrows between subpackages, and what each package exports.

The pipeline reads manifests -> store -> engine -> (runtime, proxy); the CLI and the daemon sit
on top. The engine is a functional core (no module but the executor imports effects) that
talks to runtimes and proxies only through their Protocols (``reconciler.runtime``,
``reconciler.proxy``); manifests know nothing of what is stored or planned; runtimes and
proxies never plan. Every import counts, at the top of a module or inside a function, so a
lazy import cannot hide an arrow. Each package's ``__init__`` says what it exports in a sorted
``__all__``, and nothing outside a package imports from its ``__init__`` a name not listed.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import reconciler

PACKAGE = Path(reconciler.__file__).parent
TESTS = Path(__file__).parent
FORBIDDEN_EFFECTS = {"subprocess", "socket", "os", "time", "asyncio", "sqlite3", "threading"}

# (importing layer, forbidden targets): "x" forbids x and all below it; "x.*" forbids only the
# modules below x (x itself, the Protocol module, is allowed).
ARROWS = [
    (
        "reconciler.engine",
        ("reconciler.cli", "reconciler.daemon", "reconciler.runtime.*", "reconciler.proxy.*"),
    ),
    ("reconciler.manifests", ("reconciler.store", "reconciler.engine")),
    ("reconciler.runtime", ("reconciler.engine",)),
    ("reconciler.proxy", ("reconciler.engine",)),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    root = PACKAGE.parent
    return (root / relative).with_suffix(".py").is_file() or (root / relative).is_dir()


def _imports(path: Path) -> list[tuple[str, int, tuple[str, ...]]]:
    """(module, line, names) of every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _module_name(path) if path.is_relative_to(PACKAGE) else ""
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: list[tuple[str, int, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, *([module] if module else [])])
            found.append((module, node.lineno, tuple(alias.name for alias in node.names)))
    return found


def _targets(path: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports: ``from a import b`` is ``a``, and ``a.b`` if a module."""
    out: list[tuple[str, int]] = []
    for module, line, names in _imports(path):
        out.append((module, line))
        out.extend((f"{module}.{n}", line) for n in names if _is_module(f"{module}.{n}"))
    return out


def _forbids(rule: str, module: str) -> bool:
    if rule.endswith(".*"):
        return module.startswith(rule[:-1])
    return module == rule or module.startswith(rule + ".")


def _within(layer: str, module: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize(("layer", "forbidden"), ARROWS, ids=[a[0] for a in ARROWS])
def test_layer_imports_only_what_the_arrows_allow(layer: str, forbidden: tuple[str, ...]) -> None:
    """No module of the layer imports a module the intended arrows forbid."""
    layer_files = [p for p in _sources() if _within(layer, _module_name(p))]
    offenders = sorted(
        f"{_module_name(path)}:{line} imports {target}"
        for path in layer_files
        for target, line in _targets(path)
        if any(_forbids(rule, target) for rule in forbidden)
    )
    assert offenders == []
    assert len(layer_files) >= 5


def test_the_arrows_catch_a_forbidden_import(tmp_path: Path) -> None:
    """The checker sees relative, lazy and from-package imports of a forbidden module."""
    source = tmp_path / "probe.py"
    source.write_text(
        "from reconciler.runtime import Runtime\n"
        "def f():\n"
        "    from reconciler.runtime import process\n"
        "    import reconciler.daemon.loop\n",
        encoding="utf-8",
    )
    targets = {target for target, _ in _targets(source)}
    rules = ARROWS[0][1]
    assert {t for t in targets if any(_forbids(r, t) for r in rules)} == {
        "reconciler.runtime.process",
        "reconciler.daemon.loop",
    }
    assert not any(_forbids(r, "reconciler.runtime") for r in rules)


def test_engine_modules_import_no_effects() -> None:
    """Every engine module except executor.py imports no effectful module."""
    engine = PACKAGE / "engine"
    offenders = {
        path.name: sorted(found)
        for path in sorted(engine.glob("*.py"))
        if path.name != "executor.py"
        if (found := {m.split(".")[0] for m, _, _ in _imports(path)} & FORBIDDEN_EFFECTS)
    }
    assert offenders == {}
    assert len(list(engine.glob("*.py"))) > 5


def _packages() -> list[str]:
    return sorted(_module_name(p) for p in PACKAGE.rglob("__init__.py"))


def _order(name: str) -> tuple[int, str]:
    """isort's order for ``__all__`` (ruff RUF022): CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("package", _packages())
def test_every_package_lists_its_public_names(package: str) -> None:
    """__all__ is sorted, names only what exists, and lists every public name defined there."""
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list), f"{package}/__init__.py has no __all__"
    assert exported == sorted(exported, key=_order)
    assert [name for name in exported if not hasattr(module, name)] == []
    tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
    defined = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    } | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    public = {name for name in defined if not name.startswith("_")} - {"T", "log"}
    assert sorted(public - set(exported)) == []


def test_imports_from_a_package_use_its_public_names() -> None:
    """``from reconciler.<package> import X`` anywhere names X in the package's __all__."""
    packages = {name: importlib.import_module(name) for name in _packages()}
    offenders = []
    for path in [*_sources(), *sorted(TESTS.rglob("*.py"))]:
        for module, line, names in _imports(path):
            if module not in packages or _within(module, _module_name(path)):
                continue
            exported = set(getattr(packages[module], "__all__", []))
            for name in names:
                if name not in exported and not _is_module(f"{module}.{name}"):
                    where = path.relative_to(PACKAGE.parent)
                    offenders.append(f"{where}:{line}: {module}.{name}")
    assert offenders == []
