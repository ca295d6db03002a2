"""Theme quality against labelled short-text sets: Weft (defaults, and told k) versus BERTopic.

Run from the project root::

    .venv/bin/python -m bench.quality --data ../shared/data

See bench/README.md for the metrics and their conventions.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    RESULTS_DIR,
    SETS,
    FloatMatrix,
    IntArray,
    LabelledSet,
    cached_embeddings,
    load_set,
    score,
)

BERTOPIC_SEED = 42


@dataclass(frozen=True)
class Row:
    """One method on one data set."""

    dataset: str
    method: str
    n: int
    n_classes: int
    nmi: float
    ari: float
    acc: float
    unclustered: float
    n_themes: int
    seconds: float
    extra: dict[str, Any]


def run_weft(
    texts: Sequence[str], X: FloatMatrix, n_themes: int | None, seed: int = 0
) -> tuple[IntArray, dict[str, Any]]:
    """Weft's whole pipeline (cluster, describe, map) with its defaults."""
    from pipelines.themes import find_themes

    result = find_themes(texts, X, n_themes=n_themes, random_state=seed)
    extra = {
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "min_theme_size": result.parameters["min_theme_size_used"],
        "n_subthemes": int(result.subtheme_parents.size),
        "sample_labels": [t.label for t in result.themes[:5]],
    }
    return result.labels, extra


def run_bertopic(texts: Sequence[str], X: FloatMatrix) -> tuple[IntArray, dict[str, Any]]:
    """BERTopic 0.17 defaults on the same embeddings, with a seeded UMAP."""
    from bertopic import BERTopic
    from umap import UMAP

    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=BERTOPIC_SEED
    )
    model = BERTopic(umap_model=umap_model)
    topics, _ = model.fit_transform(list(texts), embeddings=X)
    return np.asarray(topics, dtype=np.int64), {}


def evaluate(
    data: LabelledSet,
    method: str,
    runner: Callable[[], tuple[IntArray, dict[str, Any]]],
) -> Row:
    start = time.perf_counter()
    labels, extra = runner()
    seconds = time.perf_counter() - start
    s = score(data.labels, labels)
    return Row(
        dataset=data.name,
        method=method,
        n=len(data),
        n_classes=data.n_classes,
        nmi=round(s.nmi, 2),
        ari=round(s.ari, 2),
        acc=round(s.acc, 2),
        unclustered=round(s.unclustered, 2),
        n_themes=s.n_themes,
        seconds=round(seconds, 2),
        extra=extra,
    )


HEADER = (
    f"{'dataset':<15} {'method':<17} {'n':>6} {'k':>3} {'NMI':>6} {'ARI':>6} {'ACC':>6} "
    f"{'uncl%':>6} {'themes':>6} {'sec':>7}"
)


def format_row(r: Row) -> str:
    return (
        f"{r.dataset:<15} {r.method:<17} {r.n:>6} {r.n_classes:>3} {r.nmi:>6.1f} {r.ari:>6.1f} "
        f"{r.acc:>6.1f} {r.unclustered:>6.1f} {r.n_themes:>6} {r.seconds:>7.1f}"
    )


def _embedder_factory() -> object:
    from pipelines.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument(
        "--data", default=None, help="data directory (default: $WEFT_BENCH_DATA or ../shared/data)"
    )
    parser.add_argument(
        "--sets", default=",".join(SETS), help=f"comma-separated subset of {','.join(SETS)}"
    )
    parser.add_argument("--no-bertopic", action="store_true", help="skip the BERTopic baseline")
    parser.add_argument("--seed", type=int, default=0, help="Weft's random_state (default 0)")
    parser.add_argument(
        "--no-k", action="store_true", help="skip Weft told the true number of classes"
    )
    parser.add_argument(
        "--out", default=str(RESULTS_DIR / "quality.json"), help="JSON results file"
    )
    args = parser.parse_args(argv)

    from pipelines.embed import DEFAULT_MODEL_NAME

    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in names if s not in SETS]
    if unknown:
        parser.error(f"unknown set(s): {', '.join(unknown)}")
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    meta = {
        "model": DEFAULT_MODEL_NAME,
        "python": sys.version.split()[0],
        "weft_seed": args.seed,
        "bertopic_umap_seed": BERTOPIC_SEED,
        "machine": platform.machine(),
        "conventions": {
            "nmi_ari": "unclustered (-1) points form one extra cluster",
            "acc": "Hungarian one-to-one matching; unclustered points count as wrong",
            "percent": "nmi, ari, acc and unclustered are in percent",
        },
    }

    print(HEADER, flush=True)
    for name in names:
        data = load_set(name, args.data)
        t0 = time.perf_counter()
        X = cached_embeddings(data, _embedder_factory, DEFAULT_MODEL_NAME)
        embed_s = time.perf_counter() - t0
        print(
            f"# {name}: {len(data)} texts, {data.n_classes} classes, embeddings {embed_s:.1f}s",
            flush=True,
        )
        runs: list[tuple[str, Callable[[], tuple[IntArray, dict[str, Any]]]]] = [
            ("weft default", partial(run_weft, data.texts, X, None, args.seed)),
        ]
        if not args.no_k:
            runs.append(
                ("weft n_themes=k", partial(run_weft, data.texts, X, data.n_classes, args.seed))
            )
        if not args.no_bertopic:
            runs.append(("bertopic default", partial(run_bertopic, data.texts, X)))
        for method, runner in runs:
            row = evaluate(data, method, runner)
            rows.append(row)
            print(format_row(row), flush=True)
            out_path.write_text(
                json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2) + "\n"
            )
    print(f"# written {out_path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
