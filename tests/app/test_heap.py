"""A served process freezes what start-up built out of the garbage collector's passes (a full
pass over the model's and libraries' objects paused every request for 130-280 ms); an app built
for a test does not, since a test process builds many. Each case runs in a fresh interpreter:
a freeze lasts as long as its process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command

from tests.conftest import alembic_config

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import gc, sys
from fastapi.testclient import TestClient
from app.config import Settings
from app.main import create_app
from pipelines.embed import HashEmbedder

settings = Settings(database_url=sys.argv[1], data_dir=sys.argv[2], job_runner="thread")
app = create_app(settings, embedder=HashEmbedder(16), settle_heap=sys.argv[3] == "settle")
with TestClient(app) as client:
    assert client.get("/readyz").status_code == 200
    print(gc.get_freeze_count())
"""


@pytest.mark.skipif(
    bool(os.environ.get("WEFT_TEST_DATABASE_URL")), reason="the process's heap, not the database"
)
@pytest.mark.parametrize(("how", "frozen"), [("settle", True), ("plain", False)])
def test_a_served_app_freezes_its_start_up_heap(tmp_path: Path, how: str, frozen: bool) -> None:
    url = f"sqlite:///{tmp_path / 'weft.db'}"
    command.upgrade(alembic_config(url), "head")
    answer = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, str(tmp_path / "var"), how],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    count = int(answer.stdout.split()[-1])
    # start-up leaves tens of thousands of objects even without the model
    assert (count > 10_000) is frozen
