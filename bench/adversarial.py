"""Crafted files against the parsers: how long each takes to be read or refused, and the memory.

    nice .venv/bin/python -m bench.adversarial [--code DIR] [--timeout 120] [--out FILE]

Each case is a small file made to stall or swell a parser: two Excel workbooks (a sheet that
declares a million rows, and shared strings that unpack from 0.3 MB to 300 MB), a JSONL line
nested 10,000 deep, and four texts that once made a parser scan again and again (a Zoom header
full of " to ", a chat of 8,000 reactions to nothing, a caption of 30,000 voice tags, a Teams
message of 60,000 unclosed comments). Each runs in a fresh Python process, so its figures are
its own:

- **seconds** from the parse call to its end (records read, or the file refused);
- **peak MB**: the process's peak resident memory above what it held once the parsers were
  imported;
- **outcome**: the records read, the refusal's first words, or ``timeout`` after ``--timeout``.

``--code DIR`` runs the parsers of another checkout (e.g. a worktree of an older commit, made
with ``git worktree add``) with the same files, so a change and its anchor are measured in one
run on one machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.harness import RESULTS_DIR, ROOT, write_json

# The child: import the parsers from `code`, parse `path` as `how`, print one JSON line.
_CHILD = r"""
import json, resource, sys, time
code, how, path = sys.argv[1:4]
sys.path.insert(0, code)
from pipelines.ingest import open_batch, parse_teams_messages, parse_transcript, parse_zoom_chat
data = open(path, "rb").read()
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base = peak_mb()
parse = {
    "xlsx": lambda: list(open_batch(data, filename="crafted.xlsx")),
    "jsonl": lambda: list(open_batch(data, filename="crafted.jsonl")),
    "zoom": lambda: parse_zoom_chat(data).records,
    "vtt": lambda: parse_transcript(data).records,
    "teams": lambda: parse_teams_messages(data).records,
}[how]
started = time.perf_counter()
try:
    outcome = f"read {len(parse())} records"
except Exception as exc:
    outcome = f"{type(exc).__name__}: {str(exc)[:90]}"
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb() - base, "outcome": outcome}))
"""


def _workbooks() -> dict[str, Callable[[], bytes]]:
    # the same crafted workbooks the tests refuse
    from tests.pipelines.ingest import crafted_xlsx

    return {
        "xlsx-huge-dimension": crafted_xlsx.huge_dimension,
        "xlsx-shared-strings-bomb": crafted_xlsx.shared_strings_bomb,
    }


def _deep_jsonl() -> bytes:
    deep = b'{"text": "A story", "extra": ' + b"[" * 10_000 + b"]" * 10_000 + b"}\n"
    return b'{"text": "An ordinary story"}\n' + deep + b'{"text": "Another story"}\n'


def _zoom_header() -> bytes:
    return ("10:00:00 From " + "a to b (" * 24_000 + "x\n").encode()


def _reactions() -> bytes:
    said = "".join(
        f"10:00:{i % 60:02d} From A{i} to Everyone:\n\tmessage {i}\n" for i in range(8000)
    )
    reacted = "".join(
        f'10:00:00 From B to Everyone:\n\tReacted to "nothing like {i}" with 👍\n'
        for i in range(8000)
    )
    return (said + reacted).encode()


def _voice_tags() -> bytes:
    return ("WEBVTT\n\n00:01.000 --> 00:02.000\n" + "<v a" * 30_000 + "\n").encode()


def _teams_comments() -> bytes:
    message = {"id": "1", "body": {"contentType": "html", "content": "<!--" * 60_000}}
    return json.dumps({"value": [message]}).encode()


def cases() -> list[tuple[str, str, Callable[[], bytes]]]:
    """(name, how it is parsed, its bytes) of every crafted file."""
    workbooks = _workbooks()
    return [
        ("xlsx-huge-dimension", "xlsx", workbooks["xlsx-huge-dimension"]),
        ("xlsx-shared-strings-bomb", "xlsx", workbooks["xlsx-shared-strings-bomb"]),
        ("jsonl-10000-deep", "jsonl", _deep_jsonl),
        ("zoom-header-of-to", "zoom", _zoom_header),
        ("zoom-8000-reactions-to-nothing", "zoom", _reactions),
        ("vtt-30000-voice-tags", "vtt", _voice_tags),
        ("teams-60000-unclosed-comments", "teams", _teams_comments),
    ]


def run_case(code: Path, how: str, data: bytes, timeout: float) -> dict[str, object]:
    """One crafted file parsed in a fresh process by the parsers under `code`."""
    with tempfile.NamedTemporaryFile(suffix=".bin") as spool:
        spool.write(data)
        spool.flush()
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(code), how, spool.name],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"seconds": None, "peak_mb": None, "outcome": f"timeout after {timeout:.0f} s"}
    if done.returncode != 0 or not done.stdout.strip():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        wall = time.perf_counter() - started
        return {"seconds": round(wall, 2), "peak_mb": None, "outcome": f"crashed: {tail[:90]}"}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose parsers run")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "adversarial.json")
    args = parser.parse_args(argv)
    rows = []
    for name, how, make in cases():
        data = make()
        figures = run_case(args.code.resolve(), how, data, args.timeout)
        rows.append({"case": name, "bytes": len(data), **figures})
        seconds = "-" if figures["seconds"] is None else f"{figures['seconds']:.2f}"
        peak = "-" if figures["peak_mb"] is None else f"{figures['peak_mb']:.0f}"
        print(f"{name:32} {len(data):>10,} B {seconds:>8} s {peak:>6} MB  {figures['outcome']}")
    write_json(
        args.out,
        {"code": str(args.code.resolve()), "machine": platform.platform(), "cases": rows},
    )


if __name__ == "__main__":
    main()
