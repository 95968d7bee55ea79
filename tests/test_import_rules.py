"""The layout's rules, checked by walking every module's imports (see CONTRIBUTING.md).

- The pure layers (`sources/`, the notify policy, `protocol`) import no I/O module of
  sessiond's, and nothing from the standard library that touches the outside world.
- `watch/` and `read/` do not import `engine/` (they are below it).
- Nothing in the package imports `sessiond.cli` (the CLI is on top), except
  `sessiond.__main__`, which is `python -m sessiond`: the CLI's own entry point.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The repo folder of each installed package (pyproject.toml's package-dir).
PACKAGE_DIRS = {"sessiond": REPO / "daemon", "sessiond.cli": REPO / "cli"}

PURE = ("sessiond.sources", "sessiond.notify.policy", "sessiond.notify.toast_text", "sessiond.protocol",
        "sessiond.terminals.matching", "sessiond.terminals.place")
# What pure code may import from sessiond: other pure code only.
PURE_MAY_IMPORT = PURE
# Standard-library modules that do I/O (files, processes, sockets, the event loop).
IO_STDLIB = frozenset({"asyncio", "socket", "subprocess", "sqlite3", "shutil", "tempfile", "http",
                       "urllib", "aiohttp", "watchfiles", "desktop_notifier", "fcntl"})  # fmt: skip
BELOW_ENGINE = ("sessiond.watch", "sessiond.read")


def module_name(path: Path) -> str:
    for package, folder in sorted(PACKAGE_DIRS.items(), key=lambda kv: -len(str(kv[1]))):
        if path.is_relative_to(folder):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            return ".".join([package, *parts])
    raise AssertionError(path)


def all_modules() -> dict[str, Path]:
    found = {}
    for folder in PACKAGE_DIRS.values():
        for path in folder.rglob("*.py"):
            found[module_name(path)] = path
    return found


def imports_of(path: Path, name: str) -> set[str]:
    """Every module `path` imports, absolute, including imports inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".")[: -node.level]
                base = ".".join([*package, base]) if base else ".".join(package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(modules: dict[str, Path]) -> list[str]:
    broken = []
    known = set(modules)
    for name, path in sorted(modules.items()):
        imported = imports_of(path, name)
        ours = {m for m in imported if m in known}
        if within(name, PURE):
            for target in sorted(ours):
                if not within(target, PURE_MAY_IMPORT) and target != "sessiond":
                    broken.append(f"{name} is pure but imports {target}")
            for target in sorted(imported):
                if target.split(".")[0] in IO_STDLIB:
                    broken.append(f"{name} is pure but imports {target}")
        if within(name, BELOW_ENGINE):
            broken += [f"{name} imports {t} (the engine is above it)" for t in sorted(ours)
                       if within(t, ("sessiond.engine",))]
        if not within(name, ("sessiond.cli", "sessiond.__main__")):
            broken += [f"{name} imports the CLI ({t})" for t in sorted(imported)
                       if within(t, ("sessiond.cli",))]
    return broken


def test_the_layout_s_import_rules_hold() -> None:
    modules = all_modules()
    assert "sessiond.engine.coordinator" in modules and "sessiond.sources.claude.transcript" in modules
    assert violations(modules) == []


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("sessiond.sources.fake", "from sessiond.engine.coordinator import Engine",
         "sessiond.sources.fake is pure but imports sessiond.engine.coordinator"),
        ("sessiond.protocol", "import sqlite3", "sessiond.protocol is pure but imports sqlite3"),
        ("sessiond.watch.fake", "from sessiond.engine import rules",
         "sessiond.watch.fake imports sessiond.engine.rules (the engine is above it)"),
        ("sessiond.read.fake", "from ..engine.table import SessionTable",
         "sessiond.read.fake imports sessiond.engine.table (the engine is above it)"),
        ("sessiond.server", "from sessiond.cli.main import main",
         "sessiond.server imports the CLI (sessiond.cli.main)"),
    ],
)
def test_each_rule_catches_a_module_that_breaks_it(
    tmp_path: Path, module: str, line: str, expected: str
) -> None:
    """The check itself can fail: a module breaking a rule is reported, by name."""
    path = tmp_path / "m.py"
    path.write_text(line + "\n", encoding="utf-8")
    modules = all_modules()
    modules[module] = path
    assert expected in violations(modules)


def test_without_a_bus_redis_is_never_imported() -> None:
    """`sessiond[bus]` is an extra: the daemon must start without it installed."""
    import subprocess
    import sys

    code = ("import sys, sessiond.app, sessiond.server, sessiond.cli.main; "
            "print('redis' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=True)
    assert done.stdout.strip() == "False"
