"""Job workers compile the analysis code in the background as they start, when asked to."""

from __future__ import annotations

import logging

import pytest

import pipelines.themes
from app.config import Settings
from app.jobs.warm import start_warm_up


def test_no_warm_up_thread_when_the_setting_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[int] = []
    monkeypatch.setattr(pipelines.themes, "warm_up", lambda: called.append(1) or 0.0)
    assert start_warm_up(Settings(analysis_warm_up=False)) is None
    assert called == []


def test_the_warm_up_runs_on_its_own_thread_and_says_how_long_it_took(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    called: list[int] = []
    monkeypatch.setattr(pipelines.themes, "warm_up", lambda: called.append(1) or 12.5)
    with caplog.at_level(logging.INFO, logger="weft.worker"):
        thread = start_warm_up(Settings(analysis_warm_up=True))
        assert thread is not None and thread.daemon
        thread.join(10)
    assert called == [1]
    assert "analysis code compiled in 12.5 s" in caplog.text


def test_a_failed_warm_up_is_logged_and_leaves_the_worker_running(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> float:
        raise RuntimeError("numba is missing a compiler")

    monkeypatch.setattr(pipelines.themes, "warm_up", broken)
    with caplog.at_level(logging.INFO, logger="weft.worker"):
        thread = start_warm_up(Settings(analysis_warm_up=True))
        assert thread is not None
        thread.join(10)
    assert "could not compile the analysis code" in caplog.text
    assert "numba is missing a compiler" in caplog.text


def test_each_celery_worker_process_warms_up_as_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from celery.signals import worker_process_init

    from app.jobs import celery_runner

    started: list[Settings] = []
    monkeypatch.setattr(celery_runner, "start_warm_up", started.append)
    monkeypatch.setenv("WEFT_ANALYSIS_WARM_UP", "true")
    worker_process_init.send(sender=None)
    assert len(started) == 1 and started[0].analysis_warm_up is True
