"""How the analysis' cost grows with the number of narratives, step by step.

    nice .venv/bin/python -m bench.cost_curve [--sizes 10000,25000,50000,all] [--seed 0]

The pool is every distinct text the shared data holds (exact duplicates after
``normalize_text`` counted once): the five labelled sets, the NHS comments, the ArgKP
arguments and the QMSum speaker turns, 82,849. The five sets' vectors come from the
bench cache; the other texts are embedded once into it (``cost_curve_extra``). Each size is a
seeded random sample of the pool (``all``: the whole pool) analysed by ``find_themes`` in a
fresh process (numba compiled on a 3,000-row slice first), which reports its wall and CPU
seconds, its peak RSS (``ru_maxrss``) and each step's seconds. Then every step's growth is
fitted as ``seconds ~ n^b`` over the sizes run, against the exponent ``n log n`` has over the
same sizes: a step whose ``b`` is more than 0.15 above it is named as growing faster. Up to
``EXACT_KNN_N`` (10,000) the neighbours are exact and the layout runs its full epochs, above it
neither, so the fit is also made over the sizes above it alone when three or more are run.
Results go to ``bench/results/cost_curve.json``, written after every size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import (
    EXTRA_SOURCES,
    RESULTS_DIR,
    distinct_pool,
    run_analysis_process,
    write_analysis_input,
    write_json,
)
from pipelines.themes.graph import EXACT_KNN_N

#: A step grows faster than ``n log n`` when its fitted exponent exceeds that of ``n log n``
#: over the same sizes by more than this (timings on a shared machine are noisy).
FASTER_MARGIN = 0.15
#: Steps below this many seconds at the largest size are too short to fit.
MIN_FIT_SECONDS = 0.5
#: Peak RSS allowed at the largest size.
RSS_LIMIT_MIB = 4096.0


def exponents(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Fitted ``b`` of ``seconds ~ n^b`` per step (and for the wall and CPU time), with the
    exponent of ``n log n`` over the same sizes and the steps that grow faster than it."""
    if len(rows) < 2:
        return {}
    n = np.array([r["n"] for r in rows], dtype=np.float64)
    log_n = np.log(n)
    reference = float(np.polyfit(log_n, np.log(n * log_n), 1)[0])
    fitted: dict[str, float] = {}
    series: dict[str, list[float]] = {
        "wall": [r["wall_s"] for r in rows],
        "cpu": [r["cpu_s"] for r in rows],
    }
    for step in rows[-1]["timings"]:
        series[step] = [r["timings"].get(step, 0.0) for r in rows]
    for step, seconds in series.items():
        values = np.asarray(seconds, dtype=np.float64)
        if values[-1] < MIN_FIT_SECONDS or (values <= 0).any():
            continue
        fitted[step] = round(float(np.polyfit(log_n, np.log(values), 1)[0]), 2)
    faster = sorted(
        (s for s, b in fitted.items() if b > reference + FASTER_MARGIN),
        key=lambda s: -fitted[s],
    )
    return {"n_log_n": round(reference, 2), "steps": fitted, "faster_than_n_log_n": faster}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost_curve", description=__doc__)
    parser.add_argument("--data", default=None)
    parser.add_argument("--sizes", default="10000,25000,50000,all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--extra",
        default=",".join(EXTRA_SOURCES),
        help="sources beyond the five labelled sets ('' for the five alone)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "cost_curve.json")
    args = parser.parse_args(argv)
    texts, X, added = distinct_pool(args.data, [s for s in args.extra.split(",") if s.strip()])
    total = len(texts)
    sizes = [total if s.strip() == "all" else min(int(s), total) for s in args.sizes.split(",")]
    print(f"# pool: {total} distinct texts {added}", flush=True)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(total)
    meta = {"pool": total, "sources": added, "seed": args.seed, "rss_limit_mib": RSS_LIMIT_MIB}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="weft-cost-") as tmp:
        inputs = write_analysis_input(Path(tmp), texts, X)
        for size in sizes:
            # nested samples: each size holds every smaller one
            rows_used = np.sort(order[:size])
            figures, _ = run_analysis_process(inputs, seed=args.seed, rows=rows_used)
            row = {
                "n": size,
                "wall_s": round(figures["wall_s"], 2),
                "cpu_s": round(figures["cpu_s"], 2),
                "peak_rss_mib": round(figures["peak_rss_mib"], 1),
                "themes": figures["n_themes"],
                "timings": {k: round(v, 2) for k, v in figures["timings"].items()},
            }
            rows.append(row)
            print(
                f"n={size}: {row['wall_s']} s wall, {row['cpu_s']} s cpu, "
                f"peak {row['peak_rss_mib']:.0f} MiB, {row['themes']} themes, {row['timings']}",
                flush=True,
            )
            write_json(args.out, {"meta": meta, "rows": rows, "growth": exponents(rows)})
    growth = exponents(rows)
    print(f"# growth: {growth}", flush=True)
    # above EXACT_KNN_N the neighbours are approximate and the layout shorter: a regime of its own
    large = [r for r in rows if r["n"] > EXACT_KNN_N]
    if len(large) >= 3:
        growth["above_exact_knn_n"] = exponents(large)
        print(f"# growth above {EXACT_KNN_N}: {growth['above_exact_knn_n']}", flush=True)
    largest = max(rows, key=lambda r: r["n"])
    print(
        f"# peak RSS at n={largest['n']}: {largest['peak_rss_mib']:.0f} MiB "
        f"(limit {RSS_LIMIT_MIB:.0f})",
        flush=True,
    )
    write_json(args.out, {"meta": meta, "rows": rows, "growth": growth})
    return 0


if __name__ == "__main__":
    sys.exit(main())
