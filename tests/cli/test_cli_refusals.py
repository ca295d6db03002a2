"""Bad input gets an exit code and a message saying what to fix; Ctrl-C stops only the wait."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models import Job, JobStatus
from models.base import utcnow
from tests.cli.conftest import Weft, command_env
from tests.cli.test_cli_live import create_project, write_stories

pytestmark = pytest.mark.cli


def test_a_missing_file_is_a_usage_error(weft: Weft, tmp_path: Path) -> None:
    create_project(weft)
    answer = weft("upload", str(tmp_path / "nowhere.csv"))
    assert answer.returncode == 2
    assert "does not exist" in answer.stderr
    assert answer.stdout == ""


def test_a_directory_is_a_usage_error(weft: Weft, tmp_path: Path) -> None:
    create_project(weft)
    answer = weft("upload", str(tmp_path))
    assert answer.returncode == 2
    assert "is a directory" in answer.stderr


def test_a_file_weft_cannot_read_fails_with_the_servers_reason(weft: Weft, tmp_path: Path) -> None:
    create_project(weft)
    junk = tmp_path / "photo.csv"
    junk.write_bytes(bytes(range(256)) * 64)
    answer = weft("upload", str(junk), "--wait")
    assert answer.returncode == 1
    assert "photo.csv: failed: " in answer.stdout
    assert "weft: error: 1 of 1 file(s) failed: photo.csv" in answer.stderr


def test_a_wrong_key_fails_with_the_problem_detail(weft: Weft, tmp_path: Path) -> None:
    project = create_project(weft)
    stories = write_stories(tmp_path / "stories.csv", copies=1)
    wrong = {"WEFT_API_KEY": "weft_not-a-key", "WEFT_PROJECT": str(project["id"])}
    answer = weft("upload", str(stories), "--profile", "default", env=wrong)
    assert answer.returncode == 1
    assert "401" in answer.stderr and "check --key, WEFT_API_KEY" in answer.stderr
    assert "weft_not-a-key" not in answer.stderr


def test_no_project_is_a_usage_error(weft: Weft) -> None:
    answer = weft("themes", "--key", "weft_anything")
    assert answer.returncode == 2
    assert "which project?" in answer.stderr


def test_an_unknown_profile_is_a_usage_error(weft: Weft) -> None:
    answer = weft("themes", "--profile", "nope")
    assert answer.returncode == 2
    assert "no profile 'nope'" in answer.stderr


def test_a_server_that_is_not_there_fails_saying_so(weft: Weft) -> None:
    answer = weft("jobs", "--url", "http://127.0.0.1:9", "--project", "p", "--key", "k")
    assert answer.returncode == 1
    assert "cannot reach Weft at http://127.0.0.1:9" in answer.stderr


def test_a_report_of_a_missing_session_says_what_to_check(weft: Weft, tmp_path: Path) -> None:
    create_project(weft)
    target = tmp_path / "report.html"
    answer = weft("report", "999", "--format", "html", "-o", str(target))
    assert answer.returncode == 1
    assert "no report for session 999" in answer.stderr
    assert not target.exists()


def test_ctrl_c_stops_waiting_not_the_job(weft: Weft, engine: Engine, tmp_path: Path) -> None:
    project = create_project(weft)
    with Session(engine) as session, session.begin():
        # a job some worker is running, its lease live: nothing here will end it
        job = Job(
            project_id=str(project["id"]),
            kind="analyze",
            status=JobStatus.running,
            run_token="another-worker",
            started_at=utcnow(),
            lease_expires_at=utcnow() + timedelta(hours=1),
        )
        session.add(job)
        session.flush()
        job_id = job.id
    waiting = subprocess.Popen(
        weft.command("jobs", job_id, "--wait"),
        env=weft.env,
        cwd=weft.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)  # the command is polling by now
    waiting.send_signal(signal.SIGINT)
    _, stderr = waiting.communicate(timeout=30)
    assert waiting.returncode == 130
    assert f"Watch it again with: weft jobs {job_id} --wait" in stderr
    with Session(engine) as session:
        assert session.get(Job, job_id).status is JobStatus.running  # type: ignore[union-attr]


def test_profiles_come_from_the_config_dir_the_environment_names(tmp_path: Path) -> None:
    env = command_env(tmp_path / "elsewhere", "http://127.0.0.1:9")
    env.pop("WEFT_CONFIG_DIR")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    env["WEFT_API_KEY"] = "weft_secret-of-the-test"
    weft = Weft(env=env, cwd=tmp_path)
    added = weft("profile", "add", "field", "--project", "p1")
    assert added.returncode == 0, added.stderr
    saved = tmp_path / "xdg" / "weft" / "profiles.json"
    assert oct(os.stat(saved).st_mode & 0o777) == "0o600"
    assert "weft_secret-of-the-test" in saved.read_text()
    listed = weft("profile", "list")
    assert "field" in listed.stdout and "saved" in listed.stdout
    assert "weft_secret-of-the-test" not in listed.stdout
