"""The pooled analysis against BERTopic and against another checkout, each in its own process.

    nice .venv/bin/python -m bench.speed [--anchor DIR] [--seeds 0,1,2] [--no-bertopic]

The five labelled sets are pooled (55,895 narratives, classes kept apart per set) on the
cached all-MiniLM-L6-v2 embeddings. Per seed, ``find_themes`` of this checkout (and of the
checkout at ``--anchor``, for example ``git worktree add --detach ../wt-base <commit>``) runs
in a fresh process, one after the other; BERTopic's defaults (its UMAP seeded 42) run once,
between the first and the second seed, on the same embeddings. Every process compiles the
numba code on a 3,000-row slice before its timed call. Reported per run: wall and CPU seconds,
peak RSS, Weft's per-step seconds, NMI/ARI on the pooled set; then the mean over seeds and the
ratios to BERTopic's wall and CPU time. Results go to ``bench/results/speed.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import (
    RESULTS_DIR,
    ROOT,
    SETS,
    IntArray,
    cached_embeddings,
    load_set,
    run_analysis_process,
    score,
    write_analysis_input,
    write_json,
)
from pipelines.embed import FloatMatrix

#: BERTopic's UMAP seed, as in ``bench.quality``.
BERTOPIC_SEED = 42


def pooled(data: str | None) -> tuple[list[str], FloatMatrix, IntArray]:
    """The five sets' texts, cached embeddings and gold labels (classes apart per set)."""
    texts: list[str] = []
    blocks: list[FloatMatrix] = []
    gold: list[IntArray] = []
    offset = 0
    for name in SETS:
        labelled = load_set(name, data)
        texts.extend(labelled.texts)
        blocks.append(cached_embeddings(labelled))
        gold.append(labelled.labels + offset)
        offset += labelled.n_classes
    return texts, np.vstack(blocks), np.concatenate(gold)


def _row(
    arm: str, seed: int, figures: dict[str, Any], labels: IntArray, gold: IntArray
) -> dict[str, Any]:
    scores = asdict(score(gold, labels))
    row = {
        "arm": arm,
        "seed": seed,
        "wall_s": round(figures["wall_s"], 2),
        "cpu_s": round(figures["cpu_s"], 2),
        "peak_rss_mib": round(figures["peak_rss_mib"], 1),
        "nmi": round(scores["nmi"], 2),
        "ari": round(scores["ari"], 2),
        "unclustered": round(scores["unclustered"], 2),
        "themes": scores["n_themes"],
    }
    if "timings" in figures:
        row["timings"] = {k: round(v, 2) for k, v in figures["timings"].items()}
    print(
        f"{arm:>10} seed {seed}: {row['wall_s']:7.1f} s wall, {row['cpu_s']:7.1f} s cpu, "
        f"NMI {row['nmi']:.2f} ARI {row['ari']:.2f}, {row['themes']} themes, "
        f"{row['unclustered']:.1f}% out, peak {row['peak_rss_mib']:.0f} MiB "
        f"{row.get('timings', '')}",
        flush=True,
    )
    return row


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over seeds per arm, and each arm's ratio to BERTopic's wall and CPU seconds."""
    arms: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        arms.setdefault(r["arm"], []).append(r)
    out: dict[str, Any] = {}
    for arm, runs in arms.items():
        out[arm] = {
            key: round(float(np.mean([r[key] for r in runs])), 2)
            for key in ("wall_s", "cpu_s", "nmi", "ari", "peak_rss_mib")
        }
        out[arm]["runs"] = len(runs)
    bert = out.get("bertopic")
    if bert:
        for arm, means in out.items():
            if arm != "bertopic":
                means["wall_ratio"] = round(means["wall_s"] / bert["wall_s"], 3)
                means["cpu_ratio"] = round(means["cpu_s"] / bert["cpu_s"], 3)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__)
    parser.add_argument("--data", default=None)
    parser.add_argument("--anchor", type=Path, default=None, help="another checkout to time")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "speed.json")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    texts, X, gold = pooled(args.data)
    arms: list[tuple[str, Path]] = [("this", ROOT)]
    if args.anchor is not None:
        arms.append(("anchor", args.anchor.resolve()))
    print(f"# pooled: {len(texts)} narratives; arms {[a for a, _ in arms]}", flush=True)
    rows: list[dict[str, Any]] = []
    meta = {"n": len(texts), "seeds": seeds, "anchor": str(args.anchor), "bertopic_seed": 42}
    with tempfile.TemporaryDirectory(prefix="weft-speed-") as tmp:
        inputs = write_analysis_input(Path(tmp), texts, X)
        for i, seed in enumerate(seeds):
            for arm, code in arms:
                figures, labels = run_analysis_process(inputs, seed=seed, code=code)
                rows.append(_row(arm, seed, figures, labels, gold))
                write_json(args.out, {"meta": meta, "rows": rows, "summary": summary(rows)})
            if i == 0 and not args.no_bertopic:
                figures, labels = run_analysis_process(
                    inputs, method="bertopic", seed=BERTOPIC_SEED
                )
                rows.append(_row("bertopic", BERTOPIC_SEED, figures, labels, gold))
                write_json(args.out, {"meta": meta, "rows": rows, "summary": summary(rows)})
    result = summary(rows)
    for arm, means in result.items():
        print(f"# {arm}: {means}", flush=True)
    write_json(args.out, {"meta": meta, "rows": rows, "summary": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
