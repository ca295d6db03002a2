"""The theme page's curation controls, through the dashboard's forms."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.app.curation_data import add, analyse, curated, curation_client, keys_by_topic
from tests.conftest import ProjectHandle
from tests.ui.helpers import sign_in

__all__ = ["curated", "curation_client"]


def _seeded(project: ProjectHandle) -> dict[str, str]:
    for topic in ("beds", "staff", "records", "food", "parking"):
        add(project, topic, 0, 20)
    analyse(project, n_themes=4)
    return keys_by_topic(project)


def _post(client: TestClient, url: str, csrf: str, **fields: str) -> str:
    response = client.post(url, data={"csrf": csrf, **fields}, follow_redirects=True)
    assert response.status_code in (200, 403, 404, 409, 422), response.text
    return response.text


def test_a_write_key_renames_pins_merges_and_undoes(
    curation_client: TestClient, curated: ProjectHandle
) -> None:
    keys = _seeded(curated)
    csrf = sign_in(curation_client, curated.key("write"))
    page = f"/ui/p/{curated.id}/themes/{keys['records']}"
    html = curation_client.get(page).text
    assert 'id="curate"' in html and 'name="action" value="rename"' in html

    html = _post(curation_client, page + "/curate", csrf, action="rename", label="IT trouble")
    assert "<h1" in html and "IT trouble</h1>" in html.replace("\n", "")
    assert "Weft\u2019s own name for it" in html
    html = _post(curation_client, page + "/curate", csrf, action="pin")
    assert 'badge clear">pinned' in html

    # merging the pinned theme away is refused, in words, with the themes' names
    food = f"/ui/p/{curated.id}/themes/{keys['food']}"
    add(curated, "food", 50, 10)
    analyse(curated, n_themes=4)
    refused = curation_client.post(
        food + "/merge", data={"csrf": csrf, "other": keys["records"]}, follow_redirects=True
    )
    assert refused.status_code == 409
    assert "“IT trouble” is pinned" in refused.text and keys["records"] not in refused.text

    html = _post(curation_client, food + "/merge", csrf, other=keys["parking"], label="Visits")
    assert "Visits</h1>" in html.replace("\n", "")
    edit = re.search(r'data-edit="(\d+)" data-status="applied"><td>merged', html)
    assert edit is not None, html
    html = _post(curation_client, f"{food}/edits/{edit.group(1)}/undo", csrf)
    assert "undone by" in html and "Visits</h1>" not in html.replace("\n", "")


def test_a_read_key_sees_the_changes_but_no_controls(
    curation_client: TestClient, curated: ProjectHandle
) -> None:
    keys = _seeded(curated)
    curated.client.patch(
        curated.url(f"/themes/{keys['care']}"),
        json={"label": "Beds and staff"},
        headers={"Authorization": f"Bearer {curated.admin_key}"},
    )
    csrf = sign_in(curation_client, curated.key("read"))
    page = f"/ui/p/{curated.id}/themes/{keys['care']}"
    html = curation_client.get(page).text
    assert "renamed “Beds and staff”" in html
    assert 'name="action"' not in html and "/undo" not in html
    refused = curation_client.post(
        page + "/curate", data={"csrf": csrf, "action": "hide"}, follow_redirects=True
    )
    assert refused.status_code == 403


def test_an_edit_of_an_ended_theme_asks_for_a_decision(
    curation_client: TestClient, curated: ProjectHandle
) -> None:
    sources = {t: add(curated, t, 0, 20) for t in ("beds", "staff", "records", "food", "parking")}
    analyse(curated, n_themes=4)
    keys = keys_by_topic(curated)
    csrf = sign_in(curation_client, curated.key("write"))
    records = f"/ui/p/{curated.id}/themes/{keys['records']}"
    _post(curation_client, records + "/curate", csrf, action="rename", label="IT trouble")
    gone = curation_client.delete(
        curated.url(f"/uploads/{sources['records']}"),
        headers={"Authorization": f"Bearer {curated.admin_key}"},
    )
    assert gone.status_code == 200, gone.text
    analyse(curated, n_themes=3)

    food = f"/ui/p/{curated.id}/themes/{keys['food']}"
    html = curation_client.get(food).text
    assert "1 change to the themes needs a decision" in html
    row = re.search(r'data-edit="(\d+)" data-status="needs_decision"', html)
    assert row is not None and "<strong>needs a decision</strong>" in html
    kept = curation_client.post(
        f"{food}/edits/{row.group(1)}/keep", data={"csrf": csrf}, follow_redirects=True
    )
    assert kept.status_code == 409 and "not in the latest analysis" in kept.text
    html = _post(curation_client, f"{food}/edits/{row.group(1)}/undo", csrf)
    assert "needs a decision" not in html and "undone by" not in html


def test_the_overview_counts_hidden_themes_and_links_them(
    curation_client: TestClient, curated: ProjectHandle
) -> None:
    keys = _seeded(curated)
    csrf = sign_in(curation_client, curated.key("write"))
    overview = f"/ui/p/{curated.id}/"
    assert "Hidden:" not in curation_client.get(overview).text
    page = f"/ui/p/{curated.id}/themes/{keys['parking']}"
    label = curated.get(f"/themes/{keys['parking']}").json()["label"]
    _post(curation_client, page + "/curate", csrf, action="hide")
    html = curation_client.get(overview).text
    listed = html[html.index('id="themes-heading"') :]
    assert "Hidden: 1 theme" in listed
    assert f'href="/ui/p/{curated.id}/themes/{keys["parking"]}">{label}</a>' in listed
