"""`weft migrate` and `weft doctor` on a fresh database, as an operator would run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Weft, command_env

pytestmark = [pytest.mark.cli, pytest.mark.slow]


def test_doctor_says_what_to_fix_then_migrate_fixes_it(tmp_path: Path) -> None:
    env = command_env(tmp_path / "config", "http://127.0.0.1:9")
    env.update(
        WEFT_DATABASE_URL=f"sqlite:///{tmp_path / 'weft.db'}", WEFT_DATA_DIR=str(tmp_path / "var")
    )
    weft = Weft(env=env, cwd=tmp_path)

    before = weft("doctor", "--json")
    assert before.returncode == 1
    checks = {c["name"]: c for c in json.loads(before.stdout)}
    assert checks["database"]["status"] == "fail"
    assert "run weft migrate" in checks["database"]["detail"]
    assert "weft: error: not ready: database" in before.stderr

    migrated = weft("migrate")
    assert migrated.returncode == 0, migrated.stderr

    after = weft("doctor")
    assert after.returncode == 0, after.stdout + after.stderr
    lines = after.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["ok", "database"],
        ["ok", "model"],
        ["skip", "broker"],
        ["ok", "data"],
    ]
    assert "loads offline" in lines[1]


def test_doctor_names_an_unreachable_broker(tmp_path: Path) -> None:
    env = command_env(tmp_path / "config", "http://127.0.0.1:9")
    env.update(
        WEFT_DATABASE_URL=f"sqlite:///{tmp_path / 'weft.db'}",
        WEFT_DATA_DIR=str(tmp_path / "var"),
        WEFT_JOB_RUNNER="celery",
        WEFT_BROKER_URL="redis://127.0.0.1:9/0",
    )
    answer = Weft(env=env, cwd=tmp_path)("doctor", "--json")
    assert answer.returncode == 1
    broker = next(c for c in json.loads(answer.stdout) if c["name"] == "broker")
    assert broker["status"] == "fail"
    assert "start Redis or fix WEFT_BROKER_URL" in broker["detail"]


def test_doctor_warns_when_the_onnx_backend_falls_back_to_torch(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the export would go")
    env = command_env(tmp_path / "config", "http://127.0.0.1:9")
    env.update(
        WEFT_DATABASE_URL=f"sqlite:///{tmp_path / 'weft.db'}",
        WEFT_DATA_DIR=str(tmp_path / "var"),
        WEFT_EMBEDDING_BACKEND="onnx",
        WEFT_EMBEDDING_CACHE_DIR=str(blocked),
    )
    weft = Weft(env=env, cwd=tmp_path)
    assert weft("migrate").returncode == 0
    answer = weft("doctor", "--json")
    # the service still embeds (with torch), so the check warns and does not fail
    assert answer.returncode == 0, answer.stdout + answer.stderr
    model = next(c for c in json.loads(answer.stdout) if c["name"] == "model")
    assert model["status"] == "warn"
    assert "WEFT_EMBEDDING_BACKEND=onnx does not load" in model["detail"]
    assert "embeds with torch instead" in model["detail"]
