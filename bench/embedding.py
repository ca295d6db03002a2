"""Embedding backends: speed against plain sentence-transformers, and what int8 costs in quality.

Run from the project root::

    .venv/bin/python -m bench.embedding speed     [--short 1000] [--long 400] [--rounds 2]
    .venv/bin/python -m bench.embedding quality   [--sets tweet89,...] [--seeds 0,1,2]

``speed``: texts per second of plain ``SentenceTransformer.encode`` fp32 (the anchor), Weft's
torch backend, ``onnx`` (fp32) and ``onnx-int8`` on short texts (stackoverflow titles, tweets)
and long ones (agnews, NHS comments over 50 words, SenseMaker stories). Each round measures
every backend on every group one after the other, anchor first, so a ratio compares runs made
under the same load; the ratio reported is the median over rounds.

``quality``: per labelled set, the cosine of each text's int8 vector to its fp32 ONNX and its
torch vector (mean and min), how much an int8 vector moves when the same text is batched with
others, then Weft's analysis (``find_themes``, defaults, no map) on each backend's vectors with
seeds 0-2, scored by NMI/ARI as ``bench.quality`` scores them. Beside the five labelled sets,
``nhs`` is the NHS comments the framework gives exactly one theme.
Results go to ``bench/results/embedding_<part>.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.config import Settings
from app.embedder import build_embedder, embedding_cache_dir
from bench.harness import (
    RESULTS_DIR,
    SETS,
    PlainSentenceTransformer,
    cached_embeddings,
    data_dir,
    load_nhs_rows,
    load_nhs_single_theme,
    load_set,
    score,
    write_json,
)
from pipelines.embed import DEFAULT_MODEL_NAME, Embedder, FloatMatrix

BACKENDS = ("torch", "onnx", "onnx-int8")


def _sample(texts: Sequence[str], n: int, seed: int = 0) -> list[str]:
    texts = [t for t in texts if t.strip()]
    if len(texts) <= n:
        return list(texts)
    pick = np.random.default_rng(seed).choice(len(texts), size=n, replace=False)
    return [texts[i] for i in sorted(pick)]


def _sensemaker_stories(root: Path | None) -> list[str]:
    path = data_dir(root) / "sensemaker_demo" / "fragments_decoded.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [r["story"].strip() for r in csv.DictReader(handle) if r["story"].strip()]


def text_groups(root: Path | None, n_short: int, n_long: int) -> dict[str, list[str]]:
    """The texts each speed figure is measured on."""
    _, nhs = load_nhs_rows(root)
    nhs_long = [r["FFT answer"] for r in nhs if len(r["FFT answer"].split()) > 50]
    return {
        "short: stackoverflow titles": _sample(load_set("stackoverflow", root).texts, n_short),
        "short: tweet89": _sample(load_set("tweet89", root).texts, n_short),
        "long: agnews8000": _sample(load_set("agnews8000", root).texts, n_long),
        "long: NHS comments > 50 words": _sample(nhs_long, n_long),
        "long: SenseMaker stories": _sample(_sensemaker_stories(root), n_long),
    }


def backend(name: str, settings: Settings) -> Embedder:
    """Weft's embedder for one backend, refusing the silent fallback to torch."""
    model = build_embedder(settings.model_copy(update={"embedding_backend": name}))
    if name != "torch" and "@onnx" not in model.name:
        raise SystemExit(f"backend {name} fell back to torch; see the log above")
    return model


def _texts_per_second(encode: Callable[[Sequence[str]], Any], texts: Sequence[str]) -> float:
    started = time.perf_counter()
    encode(texts)
    return len(texts) / (time.perf_counter() - started)


def part_speed(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    groups = text_groups(args.data, args.short, args.long)
    anchor = PlainSentenceTransformer(settings.embedding_batch_size)
    models: dict[str, Callable[[Sequence[str]], Any]] = {"anchor": anchor.encode}
    for name in BACKENDS:
        models[name] = backend(name, settings).encode
    for encode in models.values():  # first calls allocate; keep them out of the figures
        encode(groups["short: tweet89"][:32])
    rounds: list[dict[str, dict[str, float]]] = []
    for r in range(args.rounds):
        measured: dict[str, dict[str, float]] = {}
        for group, texts in groups.items():
            measured[group] = {m: _texts_per_second(enc, texts) for m, enc in models.items()}
            line = "  ".join(f"{m} {v:7.1f}/s" for m, v in measured[group].items())
            print(f"round {r} {group:32s} {line}", flush=True)
        rounds.append(measured)
    table: dict[str, Any] = {}
    for group, texts in groups.items():
        words = [len(t.split()) for t in texts]
        row: dict[str, Any] = {"n": len(texts), "median_words": statistics.median(words)}
        for m in models:
            per_round = [rd[group][m] for rd in rounds]
            row[m] = {
                "texts_per_s": [round(v, 1) for v in per_round],
                "ratio_to_anchor": round(
                    statistics.median(rd[group][m] / rd[group]["anchor"] for rd in rounds), 3
                ),
            }
        table[group] = row
    return {"groups": table}


def _cosines(a: FloatMatrix, b: FloatMatrix) -> dict[str, float]:
    c = np.sum(a * b, axis=1)
    return {"mean": round(float(c.mean()), 4), "min": round(float(c.min()), 4)}


def _batch_drift(model: Embedder, texts: Sequence[str], n: int = 200) -> dict[str, float]:
    """Cosine of a text's int8 vector embedded alone to the same text's vector in a batch."""
    sample = _sample(texts, n, seed=1)
    batched = model.encode(sample)
    alone = np.stack([model.encode([t])[0] for t in sample])
    return _cosines(batched, alone)


def part_quality(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    from pipelines.themes import find_themes

    loaded: dict[str, Embedder] = {}

    def factory(name: str) -> Callable[[], Embedder]:
        def make() -> Embedder:
            if name not in loaded:
                loaded[name] = backend(name, settings)
            return loaded[name]

        return make

    names = {
        "torch": DEFAULT_MODEL_NAME,
        "onnx": factory("onnx")().name,
        "onnx-int8": factory("onnx-int8")().name,
    }
    table: dict[str, Any] = {}
    for set_name in args.sets:
        data = (
            load_nhs_single_theme(args.data) if set_name == "nhs" else load_set(set_name, args.data)
        )
        X = {b: cached_embeddings(data, factory(b), names[b]) for b in args.backends}
        row: dict[str, Any] = {"n": len(data), "classes": data.n_classes}
        if "onnx-int8" in X:
            for other in ("onnx", "torch"):
                if other in X:
                    row[f"cos int8 vs {other}"] = _cosines(X["onnx-int8"], X[other])
            row["cos int8 alone vs batched"] = _batch_drift(factory("onnx-int8")(), data.texts)
        if "onnx" in X and "torch" in X:
            row["cos onnx vs torch"] = _cosines(X["onnx"], X["torch"])
        for b in args.backends:
            runs = []
            for seed in args.seeds:
                labels = find_themes(data.texts, X[b], random_state=seed, with_map=False).labels
                s = score(data.labels, labels)
                runs.append({"seed": seed, "nmi": round(s.nmi, 2), "ari": round(s.ari, 2)})
            row[b] = {
                "nmi": round(statistics.mean(r["nmi"] for r in runs), 2),
                "ari": round(statistics.mean(r["ari"] for r in runs), 2),
                "runs": runs,
            }
        print(json.dumps({set_name: row}), flush=True)
        table[set_name] = row
    return {"sets": table, "names": names}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.embedding", description=__doc__)
    parser.add_argument("part", choices=["speed", "quality"])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--short", type=int, default=1000, help="texts per short group")
    parser.add_argument("--long", type=int, default=400, help="texts per long group")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sets", type=lambda s: s.split(","), default=[*SETS, "nhs"])
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    parser.add_argument("--backends", type=lambda s: s.split(","), default=["torch", "onnx-int8"])
    parser.add_argument("--threads", type=int, default=0, help="WEFT_EMBEDDING_THREADS")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    settings = Settings(embedding_threads=args.threads)
    started = time.time()
    body = part_speed(args, settings) if args.part == "speed" else part_quality(args, settings)
    payload = {
        "part": args.part,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "threads": args.threads,
        "batch_size": settings.embedding_batch_size,
        "onnx_cache": str(embedding_cache_dir(settings)),
        "seconds": round(time.time() - started, 1),
        **body,
    }
    out = args.out or RESULTS_DIR / f"embedding_{args.part}.json"
    write_json(out, payload)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
