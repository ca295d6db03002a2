"""Every command has --help with an example, and completion comes from Typer (no server)."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from app.cli import app


def _paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += _paths(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _paths(typer.main.get_group(app))


def test_the_issues_commands_are_all_there() -> None:
    wanted = {
        ("serve",), ("worker",), ("migrate",), ("doctor",), ("upload",), ("analyse",),
        ("themes",), ("theme",), ("trends",), ("tensions",), ("report",), ("jobs",),
        ("project", "create"), ("key", "create"), ("key", "list"), ("key", "revoke"),
        ("profile", "add"), ("profile", "list"), ("export", "assignments"),
    }  # fmt: skip
    assert wanted <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="weft", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Example: weft" in result.output or "Example: " in result.output
    assert "weft" in result.output.split("Example:")[1]


def test_shell_completion_is_offered() -> None:
    result = CliRunner().invoke(app, ["--help"], prog_name="weft", env={"COLUMNS": "200"})
    assert "--install-completion" in result.output


def test_a_usage_error_exits_2() -> None:
    result = CliRunner().invoke(app, ["themes", "--level", "middle"], prog_name="weft")
    assert result.exit_code == 2
