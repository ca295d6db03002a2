"""`weft report` against a stand-in for the session report route (no server needed)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.cli.connection import Api, Connection
from app.cli.console import Failed, Output
from app.cli.files import save_answer

PDF = b"%PDF-1.7 a report\n" * 1000


def _api(handler: httpx.MockTransport) -> Api:
    api = Api(Connection("http://weft.test", "weft_k", "p1"), Output(quiet=True))
    api.http = httpx.Client(base_url="http://weft.test", transport=handler)
    return api


def _answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/projects/p1/sessions/7/report":
        pdf = request.url.params.get("format") == "pdf"
        return httpx.Response(200, content=PDF if pdf else b"<html>report</html>")
    return httpx.Response(
        404,
        json={"title": "Not found", "status": 404, "detail": "session 8 not found"},
        headers={"content-type": "application/problem+json"},
    )


def test_the_answer_is_written_whole(tmp_path: Path) -> None:
    api = _api(httpx.MockTransport(_answer))
    target = tmp_path / "june.pdf"
    written = save_answer(api, api.in_project("/sessions/7/report"), {"format": "pdf"}, target)
    assert written == len(PDF)
    assert target.read_bytes() == PDF
    assert list(tmp_path.iterdir()) == [target]


def test_an_error_leaves_no_file(tmp_path: Path) -> None:
    api = _api(httpx.MockTransport(_answer))
    target = tmp_path / "june.html"
    with pytest.raises(Failed, match="404 Not found: session 8 not found"):
        save_answer(api, api.in_project("/sessions/8/report"), {}, target)
    assert list(tmp_path.iterdir()) == []
