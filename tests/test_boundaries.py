"""The package boundaries, enforced: imports only go down (docs: README, Layout).

Every import of every module counts, including imports inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "cogs", "storage", "devkit", "engine")

# The one place the shipped code reaches into the dev tools: `python -m bot playground` hands over to
# devkit.playground (imported only when that subcommand is given).
DEVKIT_HANDOVER = frozenset({"bot/__main__.py"})


def _modules() -> Iterator[tuple[str, str]]:
    """(path relative to the repo, dotted module name) of every module of the packages."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield relative.as_posix(), ".".join(parts)


def _imports(path: str, module: str) -> set[str]:
    """Every module name the file imports, relative imports resolved."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), filename=path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def _under(name: str, *roots: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


ALL = list(_modules())


def _violations(where: tuple[str, ...], forbidden: tuple[str, ...], allowed: frozenset[str] = frozenset()) -> list[str]:
    found = []
    for path, module in ALL:
        if not _under(module, *where) or path in allowed:
            continue
        for name in sorted(_imports(path, module)):
            if _under(name, *forbidden):
                found.append(f"{path} imports {name}")
    return found


def test_the_walk_sees_every_package_and_resolves_relative_imports() -> None:
    modules = dict(ALL)
    assert {m.split(".")[0] for m in modules.values()} >= {"bot", "cogs", "storage", "devkit"}
    assert "bot.core.ratelimit" in _imports("bot/core/intake.py", "bot.core.intake")
    assert "bot.nemo.errors" in _imports("bot/nemo/auth.py", "bot.nemo.auth")
    assert _violations(("cogs",), ("discord",))  # the check finds real imports


def test_shipped_code_never_imports_the_dev_tools() -> None:
    assert _violations(("bot", "cogs", "storage"), ("devkit",), DEVKIT_HANDOVER) == []


def test_the_playground_handover_is_the_only_exception_and_still_needed() -> None:
    (path,) = DEVKIT_HANDOVER
    assert any(_under(name, "devkit") for name in _imports(path, "bot.__main__"))


def test_the_core_the_backend_client_and_storage_never_import_discord_py() -> None:
    assert _violations(("bot.core", "bot.nemo", "storage"), ("discord",)) == []


def test_the_backend_client_does_not_depend_on_storage_or_the_core() -> None:
    assert _violations(("bot.nemo",), ("storage", "bot.core", "bot.app", "cogs")) == []


def test_storage_is_the_floor() -> None:
    assert _violations(("storage",), ("bot", "cogs", "devkit", "engine")) == []


def test_the_core_never_reaches_up() -> None:
    assert (
        _violations(("bot.core",), ("cogs", "bot.app", "bot.discord_surface", "bot.health", "bot.localization")) == []
    )


@pytest.mark.parametrize("forbidden", ["bot", "cogs", "storage", "devkit", "discord"])
def test_the_engine_stands_alone(forbidden: str) -> None:
    """The engine is a backend of its own: it speaks to the bot only over HTTP."""
    assert _violations(("engine",), (forbidden,)) == []
