"""Theme quality against labelled short-text sets: Weft versus BERTopic, in five parts.

Run from the project root, one part per command::

    .venv/bin/python -m bench.quality large       # five labelled sets, defaults and told k
    .venv/bin/python -m bench.quality small       # samples of 30-500 and the QMSum meetings
    .venv/bin/python -m bench.quality novel       # a held-out tag arriving as a new session
    .venv/bin/python -m bench.quality stability   # 90% then 100%: kept keys and agreement
    .venv/bin/python -m bench.quality speed       # the five sets pooled; incremental placement

See bench/README.md for the metrics and their conventions.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import (
    QMSUM_NO_TOPIC,
    RESULTS_DIR,
    SETS,
    CachedEmbedder,
    IntArray,
    LabelledSet,
    Service,
    cached_embeddings,
    kmeans_labels,
    load_qmsum,
    load_set,
    score,
    write_json,
)
from pipelines.embed import DEFAULT_MODEL_NAME, FloatMatrix

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
    texts: Sequence[str],
    X: FloatMatrix,
    n_themes: int | None,
    seed: int = 0,
    with_map: bool = True,
) -> tuple[IntArray, dict[str, Any]]:
    """Weft's whole pipeline (cluster, describe, map unless told not to) with its defaults."""
    from pipelines.themes import find_themes

    result = find_themes(texts, X, n_themes=n_themes, random_state=seed, with_map=with_map)
    extra = {
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "min_theme_size": result.parameters["min_theme_size_used"],
        "n_subthemes": int(result.subtheme_parents.size),
        "sample_labels": [t.label for t in result.themes[:5]],
    }
    return result.labels, extra


def run_kmeans(X: FloatMatrix, k: int, seed: int = 0) -> tuple[IntArray, dict[str, Any]]:
    """k-means on the unit-length embeddings, told the true number of classes."""
    return kmeans_labels(X, k, seed), {}


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


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "part": args.part,
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


def _write(path: Path, meta: dict[str, Any], payload: dict[str, Any]) -> None:
    write_json(path, {"meta": meta, **payload})


# --- part: large ---------------------------------------------------------------------------


def part_large(args: argparse.Namespace, names: list[str], out: Path) -> None:
    rows: list[Row] = []
    meta = _meta(args)
    seeds = _seed_list(args)
    meta["weft_seeds"] = seeds
    print(HEADER, flush=True)
    for name in names:
        data = load_set(name, args.data)
        t0 = time.perf_counter()
        X = cached_embeddings(data)
        print(
            f"# {name}: {len(data)} texts, {data.n_classes} classes, "
            f"embeddings {time.perf_counter() - t0:.1f}s",
            flush=True,
        )
        for method, runner in _large_runs(args, data, X, seeds):
            row = evaluate(data, method, runner)
            rows.append(row)
            print(format_row(row), flush=True)
            _write(out, meta, {"rows": [asdict(r) for r in rows]})
    summary = large_summary(rows, seeds)
    for line in summary:
        print(line, flush=True)
    _write(out, meta, {"rows": [asdict(r) for r in rows], "summary": summary})


def _seed_list(args: argparse.Namespace) -> list[int]:
    if args.seeds:
        return [int(s) for s in args.seeds.split(",") if s.strip()]
    return [args.seed]


def _large_runs(
    args: argparse.Namespace, data: LabelledSet, X: FloatMatrix, seeds: list[int]
) -> list[tuple[str, Callable[[], tuple[IntArray, dict[str, Any]]]]]:
    """Weft's defaults and k-means told k for every seed; Weft told k (first seed) and
    BERTopic (its own fixed seed) once."""
    runs: list[tuple[str, Callable[[], tuple[IntArray, dict[str, Any]]]]] = []
    with_map = not args.no_map
    for seed in seeds:
        tag = "" if len(seeds) == 1 else f" s{seed}"
        runs.append((f"weft default{tag}", partial(run_weft, data.texts, X, None, seed, with_map)))
        if not args.no_k:
            runs.append((f"kmeans k{tag}", partial(run_kmeans, X, data.n_classes, seed)))
    if not args.no_k:
        told = partial(run_weft, data.texts, X, data.n_classes, seeds[0], with_map)
        runs.append(("weft n_themes=k", told))
    if not args.no_bertopic:
        runs.append(("bertopic default", partial(run_bertopic, data.texts, X)))
    return runs


#: ``large``: Weft's defaults meet the bar on a set when they leave at most this share
#: unclustered (percent) and reach this multiple of both the NMI and the ARI of k-means told k.
LARGE_MAX_UNCLUSTERED = 10.0
LARGE_KMEANS_SHARE = 0.95


def large_summary(rows: Sequence[Row], seeds: Sequence[int]) -> list[str]:
    """Per seed: on which sets Weft's defaults meet the bar against k-means of the same seed."""
    lines: list[str] = []
    for seed in seeds:
        tag = "" if len(seeds) == 1 else f" s{seed}"
        weft = {r.dataset: r for r in rows if r.method == f"weft default{tag}"}
        anchor = {r.dataset: r for r in rows if r.method == f"kmeans k{tag}"}
        met = []
        for name, w in weft.items():
            k = anchor.get(name)
            if k is None:
                continue
            nmi, ari = w.nmi / max(k.nmi, 1e-9), w.ari / max(k.ari, 1e-9)
            ok = (
                w.unclustered <= LARGE_MAX_UNCLUSTERED
                and nmi >= LARGE_KMEANS_SHARE
                and ari >= LARGE_KMEANS_SHARE
            )
            if ok:
                met.append(name)
            lines.append(
                f"# seed {seed} {name}: {nmi:.2f}x NMI, {ari:.2f}x ARI of k-means, "
                f"{w.unclustered:.1f}% unclustered{' (met)' if ok else ''}"
            )
        lines.append(f"# seed {seed}: bar met on {len(met)}/{len(weft)} sets")
    return lines


# --- part: small ---------------------------------------------------------------------------

SMALL_SIZES = (30, 60, 120, 250, 500)
SMALL_SETS = ("stackoverflow", "tweet89")
SMALL_SEEDS = 5


def _safe_bertopic(texts: Sequence[str], X: FloatMatrix) -> tuple[IntArray, str]:
    """BERTopic's labels, or all ``-1`` and the error when it cannot fit so few texts."""
    try:
        labels, _ = run_bertopic(texts, X)
        return labels, ""
    except Exception as exc:
        return np.full(len(texts), -1, dtype=np.int64), f"{type(exc).__name__}: {exc}"[:200]


def _weft_labels(
    texts: Sequence[str], X: FloatMatrix, seed: int, resolution: float | None = None
) -> IntArray:
    from pipelines.themes import find_themes

    params = {"resolution": resolution} if resolution is not None else None
    return find_themes(texts, X, random_state=seed, with_map=False, clusterer_params=params).labels


def part_small(args: argparse.Namespace, out: Path) -> None:
    meta = _meta(args)
    samples: list[dict[str, Any]] = []
    meetings: list[dict[str, Any]] = []
    print(f"{'set':<14} {'n':>4} {'weft NMI':>9} {'bt NMI':>7} {'weft>=3':>8}", flush=True)
    for name in SMALL_SETS if args.meetings != "only" else ():
        data = load_set(name, args.data)
        X = cached_embeddings(data)
        for n in SMALL_SIZES:
            for seed in range(SMALL_SEEDS):
                rng = np.random.default_rng(seed)
                idx = np.sort(rng.choice(len(data), n, replace=False))
                texts = [data.texts[i] for i in idx]
                truth = data.labels[idx]
                weft = _weft_labels(texts, X[idx], args.seed, args.resolution)
                row: dict[str, Any] = {
                    "set": name,
                    "n": n,
                    "seed": seed,
                    "classes": int(np.unique(truth).size),
                    "weft": asdict(score(truth, weft)),
                }
                if not args.no_bertopic:
                    bt, error = _safe_bertopic(texts, X[idx])
                    row["bertopic"] = asdict(score(truth, bt))
                    row["bertopic_error"] = error
                samples.append(row)
            block = [r for r in samples if r["set"] == name and r["n"] == n]
            w = float(np.mean([r["weft"]["nmi"] for r in block]))
            b = (
                float(np.mean([r["bertopic"]["nmi"] for r in block]))
                if not args.no_bertopic
                else float("nan")
            )
            ok = sum(1 for r in block if r["classes"] < 3 or r["weft"]["n_themes"] >= 3)
            print(f"{name:<14} {n:>4} {w:>9.1f} {b:>7.1f} {ok:>6}/{len(block)}", flush=True)
            _write(out, meta, {"samples": samples, "meetings": meetings})

    if args.meetings == "skip":
        summary = _small_summary(samples, meetings)
        for line in summary["lines"]:
            print(line, flush=True)
        _write(out, meta, {"samples": samples, "meetings": meetings, "summary": summary})
        return
    qm, meeting_of = load_qmsum(args.data)
    Xq = cached_embeddings(qm)
    none = np.array([c.endswith(":" + QMSUM_NO_TOPIC) for c in qm.class_names])
    meeting_arr = np.asarray(meeting_of)
    for meeting in sorted(set(meeting_of)):
        idx = np.flatnonzero(meeting_arr == meeting)
        texts = [qm.texts[i] for i in idx]
        truth = qm.labels[idx]
        scored = ~none[truth]
        weft = _weft_labels(texts, Xq[idx], args.seed, args.resolution)
        row = {
            "meeting": meeting,
            "n": int(idx.size),
            "topics": int(np.unique(truth[scored]).size),
            "weft": asdict(score(truth[scored], weft[scored])),
        }
        if not args.no_bertopic:
            bt, error = _safe_bertopic(texts, Xq[idx])
            row["bertopic"] = asdict(score(truth[scored], bt[scored]))
            row["bertopic_error"] = error
        meetings.append(row)
        print(
            f"qmsum {meeting:<10} n={idx.size:>5} topics={row['topics']:>2} "
            f"weft {row['weft']['nmi']:5.1f} ({row['weft']['n_themes']} themes)"
            + (
                f" bertopic {row['bertopic']['nmi']:5.1f} ({row['bertopic']['n_themes']})"
                if "bertopic" in row
                else ""
            ),
            flush=True,
        )
        _write(out, meta, {"samples": samples, "meetings": meetings})
    summary = _small_summary(samples, meetings)
    for line in summary["lines"]:
        print(line, flush=True)
    _write(out, meta, {"samples": samples, "meetings": meetings, "summary": summary})


def _small_summary(samples: list[dict[str, Any]], meetings: list[dict[str, Any]]) -> dict[str, Any]:
    lines: list[str] = []
    per_n: dict[str, Any] = {}
    for n in SMALL_SIZES:
        block = [r for r in samples if r["n"] == n]
        if not block:
            continue
        w = float(np.mean([r["weft"]["nmi"] for r in block]))
        have_bt = all("bertopic" in r for r in block)
        b = float(np.mean([r["bertopic"]["nmi"] for r in block])) if have_bt else float("nan")
        ok = sum(1 for r in block if r["classes"] < 3 or r["weft"]["n_themes"] >= 3)
        per_n[str(n)] = {"weft_nmi": w, "bertopic_nmi": b, "three_themes": ok, "runs": len(block)}
        lines.append(
            f"# n={n}: mean NMI weft {w:.1f}, bertopic {b:.1f} (diff {w - b:+.1f}); "
            f">=3 themes when >=3 classes {ok}/{len(block)}"
        )
    if meetings:
        w = float(np.mean([m["weft"]["nmi"] for m in meetings]))
        have_bt = all("bertopic" in m for m in meetings)
        b = float(np.mean([m["bertopic"]["nmi"] for m in meetings])) if have_bt else float("nan")
        wins = sum(1 for m in meetings if have_bt and m["weft"]["nmi"] > m["bertopic"]["nmi"])
        per_n["qmsum"] = {"weft_nmi": w, "bertopic_nmi": b, "wins": wins, "meetings": len(meetings)}
        lines.append(
            f"# qmsum: mean NMI weft {w:.1f}, bertopic {b:.1f}; weft above on "
            f"{wins}/{len(meetings)} meetings"
        )
    return {"per_n": per_n, "lines": lines}


# --- part: novel ---------------------------------------------------------------------------

NOVEL_TAGS = 5
NOVEL_SESSION = 100


def part_novel(args: argparse.Namespace, out: Path) -> None:
    from pipelines.themes import assign_incremental, find_themes

    meta = _meta(args)
    data = load_set("stackoverflow", args.data)
    X = cached_embeddings(data)
    rows: list[dict[str, Any]] = []
    for tag in range(args.tags):
        rng = np.random.default_rng(tag)
        held = np.flatnonzero(data.labels == tag)
        others = np.flatnonzero(data.labels != tag)
        known_new = np.sort(rng.choice(others, NOVEL_SESSION, replace=False))
        novel_new = np.sort(rng.choice(held, NOVEL_SESSION, replace=False))
        ref = np.setdiff1d(others, known_new)
        texts_ref = [data.texts[i] for i in ref]
        t0 = time.perf_counter()
        result = find_themes(texts_ref, X[ref], random_state=args.seed, with_map=False)
        fit_s = time.perf_counter() - t0
        session = np.concatenate([novel_new, known_new])
        centroids = np.vstack([t.centroid for t in result.themes])
        t0 = time.perf_counter()
        inc = assign_incremental(
            X[session],
            X[ref],
            result.labels,
            centroids,
            new_texts=[data.texts[i] for i in session],
            random_state=args.seed,
        )
        assign_s = time.perf_counter() - t0
        is_novel = np.arange(session.size) < NOVEL_SESSION
        best: dict[str, Any] = {"novel_share": 0.0, "known_share": 0.0, "label": ""}
        for theme in inc.emerging:
            members = inc.labels == theme.theme
            share = float(members[is_novel].mean())
            if share > best["novel_share"]:
                best = {
                    "novel_share": share,
                    "known_share": float(members[~is_novel].mean()),
                    "label": theme.label,
                    "size": theme.size,
                }
        known_ok = float(
            np.mean(
                [
                    _majority_match(result.labels, data.labels[ref], lab, data.labels[i])
                    for lab, i in zip(inc.labels[~is_novel], known_new, strict=True)
                ]
            )
        )
        row: dict[str, Any] = {
            "removed_tag": data.class_names[tag],
            "reference_n": int(ref.size),
            "reference_themes": result.n_themes,
            "emerging_themes": len(inc.emerging),
            "best_emerging": best,
            "novel_unassigned": float(np.mean(inc.labels[is_novel] < 0)),
            "known_to_existing": float(np.mean(inc.labels[~is_novel] >= 0)),
            "known_to_majority_theme": known_ok,
            "find_themes_s": round(fit_s, 2),
            "assign_s": round(assign_s, 3),
            "met": best["novel_share"] >= 0.8 and best["known_share"] <= 0.05,
        }
        if not args.no_bertopic:
            row["bertopic"] = _bertopic_novel(data, X, ref, session, is_novel)
        rows.append(row)
        print(json.dumps(row), flush=True)
        _write(out, meta, {"rows": rows})
    met = sum(1 for r in rows if r["met"])
    print(f"# emerging theme target met on {met}/{len(rows)} removed tags", flush=True)
    _write(out, meta, {"rows": rows, "met": met})


def _majority_match(theme_labels: IntArray, gold: IntArray, placed: int, truth: int) -> bool:
    """Whether ``placed`` is a theme whose most common gold class is ``truth``."""
    if placed < 0:
        return False
    members = gold[theme_labels == placed]
    return bool(members.size) and int(np.bincount(members).argmax()) == int(truth)


def _bertopic_novel(
    data: LabelledSet, X: FloatMatrix, ref: IntArray, session: IntArray, is_novel: Any
) -> dict[str, Any]:
    """BERTopic fitted on the reference, then ``transform`` of the session."""
    from bertopic import BERTopic
    from umap import UMAP

    model = BERTopic(
        umap_model=UMAP(
            n_neighbors=15,
            n_components=5,
            min_dist=0.0,
            metric="cosine",
            random_state=BERTOPIC_SEED,
        )
    )
    model.fit_transform([data.texts[i] for i in ref], embeddings=X[ref])
    t0 = time.perf_counter()
    topics, _ = model.transform([data.texts[i] for i in session], embeddings=X[session])
    seconds = time.perf_counter() - t0
    topics = np.asarray(topics)
    novel_topics = topics[is_novel]
    placed = novel_topics[novel_topics >= 0]
    top_share = float(np.bincount(placed).max() / novel_topics.size) if placed.size else 0.0
    return {
        "novel_outlier_share": float(np.mean(novel_topics < 0)),
        "novel_largest_topic_share": top_share,
        "known_outlier_share": float(np.mean(topics[~is_novel] < 0)),
        "transform_s": round(seconds, 3),
    }


# --- part: stability -----------------------------------------------------------------------

STABLE_MIN_SIZE = 20


def part_stability(args: argparse.Namespace, names: list[str], out: Path) -> None:
    from sklearn.metrics import adjusted_rand_score

    from app.services.analyses import HOLD_MAX_GROWTH
    from pipelines.themes import find_themes, match_themes
    from pipelines.themes.cluster import AUTO_FIXED_MAX_N

    meta = _meta(args)
    rows: list[dict[str, Any]] = []
    for name in names:
        data = load_set(name, args.data)
        X = cached_embeddings(data)
        n = len(data)
        rng = np.random.default_rng(args.seed)
        part = np.sort(rng.choice(n, round(0.9 * n), replace=False))
        first = find_themes(
            [data.texts[i] for i in part], X[part], random_state=args.seed, with_map=False
        )
        # As the service does (app.services.analyses.held_resolution): the second analysis
        # keeps the merge resolution the first chose, unless --fresh-level.
        held = (
            not args.fresh_level
            and first.parameters.get("resolution_used") is not None
            and part.size > AUTO_FIXED_MAX_N
            and n <= HOLD_MAX_GROWTH * part.size
        )
        params = {"resolution": first.parameters["resolution_used"]} if held else None
        full = find_themes(
            data.texts, X, random_state=args.seed, with_map=False, clusterer_params=params
        )
        prev_c = {t.theme: t.centroid for t in first.themes}
        prev_m = {t.theme: set(part[first.labels == t.theme].tolist()) for t in first.themes}
        new_c = (
            np.vstack([t.centroid for t in full.themes])
            if full.themes
            else np.zeros((0, X.shape[1]))
        )
        new_m = [set(np.flatnonzero(full.labels == t.theme).tolist()) for t in full.themes]
        matching = match_themes(prev_c, prev_m, new_c, new_m, new_ids=set(range(n)))
        kept = set(matching.kept().values())
        big = [t.theme for t in first.themes if t.size >= STABLE_MIN_SIZE]
        kept_big = sum(1 for t in big if t in kept)
        ari = float(adjusted_rand_score(first.labels, full.labels[part]))
        kinds: dict[str, int] = {}
        for e in matching.events:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        row = {
            "dataset": name,
            "level_held": params is not None,
            "themes_first": first.n_themes,
            "themes_full": full.n_themes,
            "themes_ge20": len(big),
            "kept_ge20": kept_big,
            "kept_share": kept_big / len(big) if big else float("nan"),
            "ari_shared": 100.0 * ari,
            "events": kinds,
            "met": (kept_big >= 0.9 * len(big)) and ari >= 0.85,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        _write(out, meta, {"rows": rows})


# --- part: speed ---------------------------------------------------------------------------


def _rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _warm_up(X: FloatMatrix) -> None:
    """Compile the numba code both methods share (neighbour descent, UMAP, HDBSCAN) on a
    small slice, so neither timed run pays for it."""
    import hdbscan
    from umap import UMAP

    small = X[:3000]
    UMAP(
        n_neighbors=15,
        n_components=5,
        metric="cosine",
        n_epochs=5,
        random_state=0,
        force_approximation_algorithm=True,
        init="pca",
    ).fit(small)
    hdbscan.HDBSCAN(min_cluster_size=10).fit(small[:, :5])


def part_speed(args: argparse.Namespace, out: Path) -> None:
    from pipelines.themes import assign_incremental, find_themes

    meta = _meta(args)
    texts: list[str] = []
    blocks: list[FloatMatrix] = []
    gold_parts: list[IntArray] = []
    offset = 0
    for name in SETS:
        data = load_set(name, args.data)
        texts.extend(data.texts)
        blocks.append(cached_embeddings(data))
        gold_parts.append(data.labels + offset)
        offset += data.n_classes
    X = np.vstack(blocks)
    gold = np.concatenate(gold_parts)
    del blocks
    _warm_up(X)
    report: dict[str, Any] = {"n": len(texts), "rss_before_mib": _rss_mib()}
    print(f"# pooled: {len(texts)} narratives, RSS {report['rss_before_mib']:.0f} MiB", flush=True)
    t0, c0 = time.perf_counter(), time.process_time()
    result = find_themes(texts, X, random_state=args.seed)
    report["weft_s"] = round(time.perf_counter() - t0, 2)
    report["weft_cpu_s"] = round(time.process_time() - c0, 2)
    report["weft_timings"] = {k: round(v, 2) for k, v in result.timings.items()}
    report["weft_themes"] = result.n_themes
    report["weft_unclustered"] = round(100 * result.unclustered_share, 2)
    report["weft_peak_rss_mib"] = round(_rss_mib(), 1)
    report["weft_pooled_scores"] = asdict(score(gold, result.labels))
    print(
        f"# weft find_themes: {report['weft_s']} s (cpu {report['weft_cpu_s']} s) "
        f"{report['weft_timings']}, "
        f"peak RSS {report['weft_peak_rss_mib']} MiB",
        flush=True,
    )
    _write(out, meta, report)

    # Incremental placement: 200 stackoverflow titles into the other 19,800 (about 20,000),
    # the reference labelled by the pooled analysis just made.
    names = list(SETS)
    start = sum(len(load_set(name, args.data)) for name in names[: names.index("stackoverflow")])
    so = load_set("stackoverflow", args.data)
    rows = np.arange(start, start + len(so))
    rng = np.random.default_rng(args.seed)
    new = np.sort(rng.choice(rows, 200, replace=False))
    ref = np.setdiff1d(rows, new)
    centroids = np.vstack([t.centroid for t in result.themes])
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        assign_incremental(
            X[new],
            X[ref],
            result.labels[ref],
            centroids,
            new_texts=[texts[i] for i in new],
            random_state=args.seed,
        )
        times.append(time.perf_counter() - t0)
    report["incremental_200_into_n"] = int(ref.size)
    report["incremental_s"] = [round(t, 3) for t in times]
    print(f"# incremental 200 into {ref.size}: {report['incremental_s']} s", flush=True)
    _write(out, meta, report)

    if not args.no_bertopic:
        t0, c0 = time.perf_counter(), time.process_time()
        bt, _ = run_bertopic(texts, X)
        report["bertopic_s"] = round(time.perf_counter() - t0, 2)
        report["bertopic_cpu_s"] = round(time.process_time() - c0, 2)
        report["cpu_ratio"] = round(report["weft_cpu_s"] / report["bertopic_cpu_s"], 3)
        report["bertopic_pooled_scores"] = asdict(score(gold, bt))
        report["ratio"] = round(report["weft_s"] / report["bertopic_s"], 3)
        report["peak_rss_after_bertopic_mib"] = round(_rss_mib(), 1)
        print(
            f"# bertopic fit_transform: {report['bertopic_s']} s "
            f"(cpu {report['bertopic_cpu_s']} s); weft/bertopic wall {report['ratio']}, "
            f"cpu {report['cpu_ratio']}",
            flush=True,
        )
    _write(out, meta, report)


# --- part: incremental (through the service) ---------------------------------------------------

INCREMENTAL_SESSIONS = 3
INCREMENTAL_SESSION_N = 200


def part_incremental(args: argparse.Namespace, out: Path) -> None:
    """A 20,000-narrative project on SQLite, analysed; then sessions of 200 posted one by one.

    Timed: the placement step inside the embedding job (``incremental.seconds``: reading the
    analysis and the vectors, ``assign_incremental``, writing), and the wall time from the POST
    until the job is done (with embeddings served from the bench cache, so it is the service's
    own overhead plus the placement)."""
    meta = _meta(args)
    data = load_set("stackoverflow", args.data)
    cached_embeddings(data)  # fill the cache the service's embedder reads
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(data))
    held = INCREMENTAL_SESSIONS * INCREMENTAL_SESSION_N
    reference, sessions = order[held:], order[:held].reshape(INCREMENTAL_SESSIONS, -1)

    def items(rows: Any) -> list[dict[str, Any]]:
        return [{"text": data.texts[i], "external_id": f"so-{i}"} for i in rows]

    report: dict[str, Any] = {"reference_n": int(reference.size), "sessions": []}
    embedder = CachedEmbedder(data.texts, set_name=data.name)
    with (
        tempfile.TemporaryDirectory(prefix="weft-bench-inc-") as tmp,
        Service(Path(tmp), embedder) as service,
    ):
        project = service.project("incremental", items(reference))
        report["analysis_s"] = round(project.analysis_seconds, 1)
        print(f"# analysed {reference.size} in {report['analysis_s']} s", flush=True)
        for rows in sessions:
            t0 = time.perf_counter()
            answer = project.post("/narratives", {"narratives": items(rows)})
            job = service.wait(project.key, answer["job"]["id"])
            wall = time.perf_counter() - t0
            placed = job["result"]["incremental"]
            row = {
                "placed": placed["placed"],
                "unassigned": placed["unassigned"],
                "emerging": len(placed["emerging"]),
                "placement_s": placed["seconds"],
                "post_to_done_s": round(wall, 2),
                "reanalysis_due": placed["reanalysis_due"],
            }
            report["sessions"].append(row)
            print(json.dumps(row), flush=True)
            _write(out, meta, report)
        # the sessions were placed, not re-clustered: still the one analysis
        report["analyses_run"] = len(project.get("/analyses"))
    _write(out, meta, report)


PARTS = ("large", "small", "novel", "stability", "speed", "incremental")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("part", nargs="?", default="large", choices=PARTS, help="which part")
    parser.add_argument(
        "--data", default=None, help="data directory (default: $WEFT_BENCH_DATA or ../shared/data)"
    )
    parser.add_argument(
        "--sets", default=",".join(SETS), help=f"comma-separated subset of {','.join(SETS)}"
    )
    parser.add_argument("--no-bertopic", action="store_true", help="skip the BERTopic baseline")
    parser.add_argument("--seed", type=int, default=0, help="Weft's random_state (default 0)")
    parser.add_argument(
        "--seeds", default=None, help="large: comma-separated Weft seeds (default: --seed)"
    )
    parser.add_argument(
        "--no-map", action="store_true", help="large: skip the 2-D map (labels are the same)"
    )
    parser.add_argument(
        "--no-k", action="store_true", help="large: skip Weft and k-means told the true k"
    )
    parser.add_argument(
        "--tags", type=int, default=NOVEL_TAGS, help="novel: how many tags to hold out (5)"
    )
    parser.add_argument(
        "--meetings",
        default="with",
        choices=("with", "skip", "only"),
        help="small: run the QMSum meetings with the samples (default), skip them, or only them",
    )
    parser.add_argument(
        "--resolution",
        type=float,
        default=None,
        help="small: merge at this modularity resolution instead of the default (an experiment)",
    )
    parser.add_argument(
        "--fresh-level",
        action="store_true",
        help="stability: the second run chooses its merge resolution afresh instead of "
        "keeping the first one's, as the service does by default",
    )
    parser.add_argument("--out", default=None, help="JSON results file")
    args = parser.parse_args(argv)

    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = [s for s in names if s not in SETS]
    if unknown:
        parser.error(f"unknown set(s): {', '.join(unknown)}")
    default_name = "quality.json" if args.part == "large" else f"quality_{args.part}.json"
    out = Path(args.out) if args.out else RESULTS_DIR / default_name
    if args.part == "large":
        part_large(args, names, out)
    elif args.part == "small":
        part_small(args, out)
    elif args.part == "novel":
        part_novel(args, out)
    elif args.part == "stability":
        part_stability(args, names, out)
    elif args.part == "speed":
        part_speed(args, out)
    else:
        part_incremental(args, out)
    print(f"# written {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
