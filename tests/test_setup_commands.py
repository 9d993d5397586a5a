"""The README's commands work from a fresh clone in a new terminal, and CI runs exactly its test command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = "python3 -m venv .venv && "


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _commands(section: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)]


def test_each_readme_command_stands_alone_in_a_new_terminal() -> None:
    setup = _commands(_section("Set-up (two commands)"))
    assert len(setup) == 2  # one installs and runs the product, one runs the tests
    commands = setup + _commands(_section("Run it on your Discord server"))
    for command in commands:
        assert "\n" not in command, command
        # It makes (or reuses) the virtual environment, then only runs what is inside it: no system pip
        # (refused by Debian's Python), nothing to activate, no venv left over from another command.
        assert command.startswith(VENV), command
        for step in command.removeprefix(VENV).split(" && "):
            assert shlex.split(step)[0].startswith(".venv/bin/"), step
    try_it, test, run = commands
    assert try_it.endswith(".venv/bin/python -m bot playground")
    assert run.endswith(".venv/bin/python -m bot")
    assert test.endswith(".venv/bin/python -m pytest") and '-e ".[dev]"' in test


def test_ci_runs_exactly_the_readme_test_command_last() -> None:
    test = _commands(_section("Set-up (two commands)"))[1]
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[-1] == test
    # Nothing before it leaves a virtual environment active that the command could silently rely on.
    assert not any("activate" in line for line in lines)
