"""Non-responses left out of the themes: precision and recall, and the themes they no longer make.

Three measures, each for the code of this checkout and for the anchor (the code at
``--anchor``, default 5460c7f, extracted with ``git archive`` and run in a subprocess):

* ``detector``: precision and recall of what is left out (flagged low content at ingest)
  against the NHS set's ``Labelling not possible`` column, over every row with text, and
  against the hand-checked sample (tests/fixtures/nonresponse_judged.json: 200 NHS rows and
  200 chat lines, sampled here with ``random.Random(15)``, each judged by hand);
* ``api``: the NHS file uploaded as CSV through the API (the service in process) and
  analysed: themes whose label is a placeholder or "(no keywords)", and themes with more than
  10% placeholder members by the gold column and the hand rule (the answer is "Did not
  answer", a bare N/A, punctuation only), not by Weft's detector;
* the seven Fab Academy sessions posted one after another with auto-analysis on (as a convenor
  would: analyses when due, incremental placement and emerging themes between them), looked at
  after each session and after a final analysis: themes where most members are pleasantries by
  a hand rule independent of Weft's.

    python -m bench.nonresponse [--data DIR] [--anchor REV] [--parts detector,nhs,fab]
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import NHS_FILE, RESULTS_DIR, CachedEmbedder, Service, data_dir, write_json

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "nonresponse_judged.json"
SEED = 15
_MESSAGE = re.compile(r"^\d\d:\d\d:\d\d\t From (.+?) : (.*)$")
#: Hand rule for a survey placeholder (independent of Weft's lists).
_HAND_PLACEHOLDER = re.compile(r"^(?:did not answer|n\s*/?\s*a\.?/?|[\W_]*)$", re.I)
#: Hand rule for a chat pleasantry (independent of Weft's lists).
_HAND_PLEASANTRY = re.compile(
    r"^(?:thanks?|thank you|thx|ty|cheers|hi|hello|hey|bye|\+1|agreed?|yes|no|ok|okay|"
    r"ha(?:ha)+|lol|great|nice|cool|wow|awesome|sorry|good|excellent)\b",
    re.I,
)

FAB = ("8-wednesday", "8-thursday", "9-monday", "9-wednesday", "9-thursday", "10-wednesday")
FAB_SESSIONS = (*FAB, "10-thursday")


def _newlines(text: str) -> str:
    return text.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n")


def nhs_rows(root: Path) -> list[dict[str, str]]:
    with (root / NHS_FILE).open(encoding="utf-8-sig", newline="") as handle:
        return [r for r in csv.DictReader(handle) if r["FFT answer"].strip()]


def sample_nhs(root: Path) -> list[dict[str, str]]:
    """200 NHS rows with text, by comment id (fixed seed)."""
    rng = random.Random(SEED)
    return sorted(rng.sample(nhs_rows(root), 200), key=lambda r: r["Comment ID"])


def chat_lines(root: Path) -> list[tuple[str, int, str]]:
    """Every message line of the Zoom chats not sent privately: (file, line number, text)."""
    lines: list[tuple[str, int, str]] = []
    folder = root / "zoom_chats"
    for path in sorted(glob.glob(str(folder / "**" / "*.txt"), recursive=True)):
        if path.endswith("SOURCE.txt"):
            continue
        text = _newlines(Path(path).read_bytes().decode("utf-8", "replace"))
        for number, line in enumerate(text.split("\n"), 1):
            match = _MESSAGE.match(line)
            if match and "(Privately)" not in match.group(1):
                lines.append((str(Path(path).relative_to(folder)), number, match.group(2).strip()))
    return lines


def sample_chat(root: Path) -> list[tuple[str, int, str]]:
    """200 chat lines (fixed seed)."""
    return sorted(random.Random(SEED).sample(chat_lines(root), 200))


def _pr(predicted: list[bool], truth: list[bool]) -> dict[str, Any]:
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    return {
        "left_out": tp + fp,
        "truth": tp + fn,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "false_positives": fp,
        "false_negatives": fn,
    }


Survey = Callable[[str, str], bool]
Chat = Callable[[str], bool]


def detectors() -> tuple[Survey, Chat]:
    """How the imported code flags a survey answer (batch row with its question) and a
    chat line, whichever checkout it is."""
    from pipelines.ingest import batch

    def survey(text: str, question: str) -> bool:
        import io

        body = io.StringIO()
        writer = csv.writer(body)
        writer.writerow(["FFT question", "FFT answer"])
        writer.writerow([question, text])
        records = list(batch.parse_batch(body.getvalue().encode("utf-8")))
        return bool(records and records[0].low_content)

    from pipelines.ingest._text import is_low_content

    try:
        from pipelines.nonresponse import nonresponse_reason
    except ImportError:  # the anchor has no survey rules

        def chat(text: str) -> bool:
            return is_low_content(text)
    else:

        def chat(text: str) -> bool:
            return is_low_content(text) or nonresponse_reason(text) is not None

    return survey, chat


def measure_detector(root: Path) -> dict[str, Any]:
    survey, chat = detectors()
    judged = json.loads(FIXTURE.read_text(encoding="utf-8"))
    rows = nhs_rows(root)
    started = time.perf_counter()
    flags = [survey(r["FFT answer"].strip(), r["FFT question"]) for r in rows]
    seconds = time.perf_counter() - started
    gold = [r["Labelling not possible"] == "1" for r in rows]
    by_id = {r["Comment ID"]: r for r in rows}
    sample = sample_nhs(root)
    assert [r["Comment ID"] for r in sample] == [j["comment_id"] for j in judged["nhs"]]
    nhs_pred = [
        survey(by_id[j["comment_id"]]["FFT answer"].strip(), by_id[j["comment_id"]]["FFT question"])
        for j in judged["nhs"]
    ]
    lines = sample_chat(root)
    assert [(f, n) for f, n, _ in lines] == [(j["file"], j["line"]) for j in judged["chat"]]
    chat_pred = [chat(t) for _, _, t in lines]
    nhs_truth = [bool(j["left_out"]) for j in judged["nhs"]]
    chat_truth = [bool(j["left_out"]) for j in judged["chat"]]
    return {
        "nhs_gold_column": _pr(flags, gold),
        "nhs_rows": len(rows),
        "nhs_parse_seconds": round(seconds, 2),
        "sample_nhs": _pr(nhs_pred, nhs_truth),
        "sample_chat": _pr(chat_pred, chat_truth),
        "sample_all": _pr(nhs_pred + chat_pred, nhs_truth + chat_truth),
        "chat_misses": [
            t for (_, _, t), p, g in zip(lines, chat_pred, chat_truth, strict=True) if g and not p
        ],
        "chat_wrongly_left_out": [
            t for (_, _, t), p, g in zip(lines, chat_pred, chat_truth, strict=True) if p and not g
        ],
    }


def _label_bad(label: str) -> bool:
    flat = label.lower()
    return (
        "(no keywords)" in flat
        or "did answer" in flat
        or "not answer" in flat
        or bool(_HAND_PLACEHOLDER.match(label.strip()))
    )


def measure_api(root: Path, workdir: Path) -> dict[str, Any]:
    rows = nhs_rows(root)
    gold = {
        r["Comment ID"]: (
            r["Labelling not possible"] == "1"
            or bool(_HAND_PLACEHOLDER.match(r["FFT answer"].strip()))
        )
        for r in rows
    }
    texts = [r["FFT answer"].strip() for r in rows]
    (workdir / "nhs").mkdir(parents=True, exist_ok=True)
    with Service(workdir / "nhs", CachedEmbedder(texts, "nhs_fft_answers")) as service:
        project = service.create_project("NHS")
        upload = service.client.post(
            project.path("/uploads"),
            headers=project.headers,
            files={"file": ("nhs.csv", (root / NHS_FILE).read_bytes(), "text/csv")},
        )
        upload.raise_for_status()
        ingest = service.wait(project.key, upload.json()["job"]["id"])
        if ingest["result"].get("embed_job_id"):
            service.wait(project.key, ingest["result"]["embed_job_id"])
        queued = project.post("/analyses", {"seed": 0})
        service.wait(project.key, queued["job"]["id"])
        page = project.get("/themes", limit=200)
        members: dict[str, list[str]] = {}
        for ext, key in project.assignments().items():
            if key is not None:
                members.setdefault(key, []).append(ext)
    themes = []
    for t in page["themes"]:
        ids = members.get(t["key"], [])
        share = sum(gold.get(i, False) for i in ids) / len(ids) if ids else 0.0
        themes.append(
            {"label": t["label"], "size": t["size"], "placeholder_share": round(share, 3)}
        )
    return {
        "themes": len(themes),
        "bad_labels": [t for t in themes if _label_bad(t["label"])],
        "over_10pct_placeholders": [t for t in themes if t["placeholder_share"] > 0.10],
        "largest": sorted(themes, key=lambda t: -t["size"])[:5],
        "notes": page["notes"][:2],
        "left_out_report": ingest["result"]["report"].get("left_out", {}).get("count"),
    }


def measure_fab(root: Path, workdir: Path) -> dict[str, Any]:
    """Post the seven sessions one after another; look at the themes after each and at the end.

    Between sessions the service works as a convenor would see it: auto-analysis where one is
    due, otherwise incremental placement with emerging themes. Each snapshot counts the themes
    (emerging included) where most members are pleasantries by the hand rule.
    """
    folder = root / "zoom_chats" / "fab_academy_2020"
    texts = [t for f, _, t in chat_lines(root) if f.startswith("fab_academy")]
    (workdir / "fab").mkdir(parents=True, exist_ok=True)
    after_each: list[dict[str, Any]] = []
    embedder = CachedEmbedder(texts, "fab_lines")
    with Service(workdir / "fab", embedder, auto_analyze=True) as service:
        project = service.create_project("Fab Academy")
        for day, stem in enumerate(FAB_SESSIONS):
            path = folder / f"{stem}.txt"
            response = service.client.post(
                project.path("/sessions"),
                headers=project.headers,
                files={"file": (path.name, path.read_bytes(), "text/plain")},
                data={"name": stem, "held_on": f"2020-03-{11 + day:02d}", "timezone": "UTC"},
            )
            response.raise_for_status()
            ingest = service.wait(project.key, response.json()["job"]["id"])
            if ingest["result"].get("embed_job_id"):
                service.wait(project.key, ingest["result"]["embed_job_id"])
            _settle(service, project)
            after_each.append({"after": stem, **_pleasantry_snapshot(project)})
        queued = project.post("/analyses", {"seed": 0})
        service.wait(project.key, queued["job"]["id"])
        final = _pleasantry_snapshot(project)
    return {
        **final,
        "after_each_session": after_each,
        "sessions_with_pleasantry_theme": [
            s["after"] for s in after_each if s["pleasantry_themes"]
        ],
    }


def _pleasantry_snapshot(project: Any) -> dict[str, Any]:
    page = project.get("/themes", limit=200)
    if not page.get("themes"):
        return {"themes": 0, "pleasantry_themes": [], "max_pleasantry_share": 0.0, "largest": []}
    texts_by_id = {n["id"]: n["text"] for n in project.get("/narratives", limit=1000)["items"]}
    members: dict[str, list[str]] = {}
    for a in project.get("/assignments")["assignments"]:
        if a["theme_key"]:
            members.setdefault(a["theme_key"], []).append(texts_by_id.get(a["narrative_id"], ""))
    themes = []
    for t in page["themes"]:
        ms = members.get(t["key"], [])
        share = (
            sum(bool(_HAND_PLEASANTRY.match(m)) and len(m.split()) <= 6 for m in ms) / len(ms)
            if ms
            else 0.0
        )
        themes.append(
            {
                "label": t["label"],
                "size": t["size"],
                "emerging": bool(t.get("emerging")),
                "pleasantry_share": round(share, 3),
            }
        )
    return {
        "themes": len(themes),
        "pleasantry_themes": [t for t in themes if t["pleasantry_share"] >= 0.5],
        "max_pleasantry_share": max((t["pleasantry_share"] for t in themes), default=0.0),
        "most_pleasantries": max(themes, key=lambda t: t["pleasantry_share"]),
        "largest": sorted(themes, key=lambda t: -t["size"])[:3],
    }


def _settle(service: Service, project: Any, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        analyses = service.client.get(project.path("/analyses"), headers=project.headers).json()
        if not any(a["status"] in ("queued", "running") for a in analyses):
            return
        time.sleep(0.5)
    raise RuntimeError("analyses did not finish")


PARTS = ("detector", "nhs", "fab")


def run_here(root: Path, parts: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "detector" in parts:
        out["detector"] = measure_detector(root)
    with tempfile.TemporaryDirectory() as tmp:
        if "nhs" in parts:
            out["nhs_api"] = measure_api(root, Path(tmp))
        if "fab" in parts:
            out["fab_api"] = measure_fab(root, Path(tmp))
    return out


def run_anchor(rev: str, root: Path, parts: set[str]) -> dict[str, Any]:
    """The same measures on the code at `rev`, in a subprocess."""
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "anchor"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(here), "archive", rev], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        (here / "bench" / ".cache").mkdir(exist_ok=True)
        (tree / "bench" / ".cache").symlink_to(here / "bench" / ".cache")
        out = Path(tmp) / "anchor.json"
        args = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--data",
            str(root),
            "--inner",
            str(out),
            "--parts",
            ",".join(sorted(parts)),
        ]
        subprocess.run(args, check=True, cwd=tree, env={"PYTHONPATH": str(tree), **_env()})
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--anchor", default="5460c7f")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma-separated, of: detector (ingest rules), nhs (upload and analyse), "
        "fab (seven sessions)",
    )
    parser.add_argument("--skip-api", action="store_true", help="the same as --parts detector")
    parser.add_argument("--inner", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = data_dir(args.data)
    parts = {"detector"} if args.skip_api else set(args.parts.split(","))
    if unknown := parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    if args.inner:
        Path(args.inner).write_text(json.dumps(run_here(root, parts)))
        return
    report = {
        "anchor": {"rev": args.anchor, **run_anchor(args.anchor, root, parts)},
        "weft": run_here(root, parts),
    }
    print(json.dumps(report, indent=1, ensure_ascii=False))
    write_json(RESULTS_DIR / f"nonresponse_{'_'.join(sorted(parts))}.json", report)


if __name__ == "__main__":
    main()
