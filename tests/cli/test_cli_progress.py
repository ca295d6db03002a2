"""Progress bars are drawn on a terminal (a pseudo-terminal here) and never into a pipe."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.conftest import COMMAND_TIMEOUT, Weft
from tests.cli.test_cli_live import create_project, write_stories

pytestmark = pytest.mark.cli

#: Drawn by every progress bar (rich's bar character), never by a message.
BAR = "━"


def run_on_terminal(weft: Weft, *args: str) -> tuple[int, str, str]:
    """Run `weft ARGS` with stderr on a pseudo-terminal; exit code, stdout and the terminal."""
    controller, terminal = pty.openpty()
    started = subprocess.Popen(
        weft.command(*args),
        env=weft.env,
        cwd=weft.cwd,
        stdout=subprocess.PIPE,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
    )
    os.close(terminal)
    seen = bytearray()
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                block = os.read(controller, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not block:
                break
            seen += block
        elif started.poll() is not None:
            break
    os.close(controller)
    stdout = started.communicate(timeout=30)[0]
    return started.returncode, stdout.decode(), seen.decode(errors="replace")


def test_upload_progress_on_a_terminal(weft: Weft, tmp_path: Path) -> None:
    create_project(weft)
    stories = write_stories(tmp_path / "stories.csv")
    code, stdout, terminal = run_on_terminal(weft, "upload", str(stories), "--wait")
    assert code == 0, terminal
    assert BAR in terminal
    for stage in ("send", "parse", "store", "embed"):
        assert stage in terminal
    assert "stories.csv: stored 48" in stdout


def test_no_progress_into_a_pipe(weft: Weft, tmp_path: Path) -> None:
    create_project(weft)
    stories = write_stories(tmp_path / "stories.csv")
    piped = weft("upload", str(stories), "--wait")
    assert piped.returncode == 0, piped.stderr
    assert BAR not in piped.stderr and "\x1b[" not in piped.stderr
    assert piped.stderr.splitlines() == [
        line for line in piped.stderr.splitlines() if line.startswith("stories.csv: source ")
    ]
    assert "stories.csv: stored 48" in piped.stdout


def test_quiet_on_a_terminal_draws_nothing(weft: Weft, tmp_path: Path) -> None:
    create_project(weft)
    stories = write_stories(tmp_path / "stories.csv", copies=2)
    code, stdout, terminal = run_on_terminal(weft, "upload", str(stories), "--wait", "-q")
    assert code == 0, terminal
    assert terminal == ""
    assert "stories.csv: stored 8" in stdout
