"""Signing a test client in to the dashboard, as a browser would."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def sign_in(client: TestClient, key: str) -> str:
    """Sign `client` in with `key`; returns the session's CSRF token."""
    form = client.get("/ui/sign-in")
    assert form.status_code == 200, form.text
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    response = client.post(
        "/ui/sign-in", data={"key": key, "csrf": token.group(1)}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    found = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)
