"""The `weft` command run as a subprocess against a live Weft on loopback.

The server is the browser tests' (`serving`: uvicorn on a free loopback port, the fake
embedder, the test's own data directory); the command runs with its own config directory,
so profiles written by one test are not seen by another.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import Settings
from tests.browser.conftest import LiveServer, serving
from tests.conftest import ROOT, CountingEmbedder

ZOOM_CHATS = Path(os.environ.get("WEFT_BENCH_DATA", ROOT.parent / "shared" / "data")) / "zoom_chats"

# A shell without job control starts a background command with Ctrl-C ignored, and every
# child inherits that: `make test &` would then run commands that cannot be interrupted, and
# the Ctrl-C tests would wait forever. The commands get Ctrl-C as a terminal gives it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: Seconds one command may take (waiting on a job included).
COMMAND_TIMEOUT = 180


@dataclass
class Weft:
    """Runs `weft ARGS` (as `python -m app.cli`) with this test's environment."""

    env: dict[str, str]
    cwd: Path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "app.cli", *args]

    def __call__(
        self, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )


def command_env(config_dir: Path, url: str) -> dict[str, str]:
    """The environment of the command: this checkout's code, no connection but `url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEFT_")}
    env.update(
        PYTHONPATH=str(ROOT),
        WEFT_CONFIG_DIR=str(config_dir),
        WEFT_URL=url,
        COLUMNS="200",
        HF_HUB_OFFLINE="1",
    )
    return env


@pytest.fixture
def live(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    """A live Weft whose first ingest queues an analysis, as in production."""
    served = settings.model_copy(update={"data_dir": str(tmp_path / "data")})
    with serving(served, CountingEmbedder()) as server:
        yield server


@pytest.fixture
def weft(live: LiveServer, tmp_path: Path) -> Weft:
    return Weft(env=command_env(tmp_path / "config", live.url), cwd=tmp_path)


@pytest.fixture
def zoom_chat() -> Path:
    path = ZOOM_CHATS / "wita_scrum_meetup_2020-10.txt"
    if not path.exists():
        pytest.skip(f"the shared data set is not at {ZOOM_CHATS}")
    return path
