"""Served beyond loopback, Weft will not start until creating a project needs a token."""

from __future__ import annotations

from typing import Any

import pytest

import app.__main__ as entry
from app.services import projects as project_service

TOKEN = "k3Jx9-long-enough-bootstrap-token"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Calls that reached uvicorn (none is really served)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(entry.uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.setattr(entry, "create_app", lambda settings, **_options: object())
    for name in ("WEFT_HOST", "WEFT_BOOTSTRAP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_docker_bind_without_a_token_refuses_to_start_and_says_how(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEFT_HOST", "0.0.0.0")
    with pytest.raises(SystemExit) as stopped:
        entry.main()
    message = str(stopped.value.code)
    assert "WEFT_BOOTSTRAP_TOKEN" in message and "token_urlsafe" in message
    assert "WEFT_HOST=127.0.0.1" in message
    assert served == []


def test_a_short_token_is_refused_too(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEFT_HOST", "10.1.2.3")
    monkeypatch.setenv("WEFT_BOOTSTRAP_TOKEN", "secret")
    with pytest.raises(SystemExit, match="shorter than 16"):
        entry.main()
    assert served == []


def test_with_a_token_it_serves_on_every_address(
    served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEFT_HOST", "0.0.0.0")
    monkeypatch.setenv("WEFT_BOOTSTRAP_TOKEN", TOKEN)
    entry.main()
    assert [call["host"] for call in served] == ["0.0.0.0"]


def test_loopback_stays_open_without_a_token(served: list[dict[str, Any]]) -> None:
    entry.main()
    assert [call["host"] for call in served] == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("weft.internal", False),
    ],
)
def test_what_counts_as_loopback(host: str, local: bool) -> None:
    assert project_service.is_loopback(host) is local
