"""Long stories: do narratives that tell of two things belong to both themes?

Per set (agnews8000, searchsnippets) and seed, a mix of single-class texts and joined
narratives is clustered with every narrative embedded whole (the anchor) and, in the same
run, with long narratives segmented as the service does (arm ``service``: a long narrative
that fits the model's window keeps its whole vector; arm ``pooled``: its vector is the
length-weighted mean of its segment vectors); memberships come from the themes the segments
fall in. A joined narrative is two parts of different classes, each part one or more texts of
its class ending with a full stop, until the part has ``--part-words`` words (0: one text a
part). Reported per arm: the share of joined narratives with both classes among the classes
of their top-3 memberships (a theme's class is the majority gold class of its single-class
members), the share whose quote in their primary theme comes from the part of that theme's
class, and NMI/ARI on the single-class texts.

    nice .venv/bin/python -m bench.long_stories [--sets agnews8000,searchsnippets] [--k]
        [--arms service,pooled] [--single 2000] [--joined 400] [--part-words 60]
        [--seeds 0] [--long-tokens 128] [--segment-tokens 64] [--out PATH]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.harness import (
    RESULTS_DIR,
    LabelledSet,
    cached_embeddings,
    cached_text_embeddings,
    load_set,
    real_embedder,
    score,
    write_json,
)
from pipelines.embed import Embedder, FloatMatrix, normalize_text, text_hash
from pipelines.segments import (
    LONG_TOKENS,
    SEGMENT_TOKENS,
    Segmented,
    pooled_vector,
    reads_whole,
    segment,
    token_counter,
)
from pipelines.themes import ThemeResult, find_themes
from pipelines.themes.membership import closest_segment, with_segment_shares

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Mix:
    """Single-class texts (``single`` rows of ``texts`` first), then joined narratives."""

    texts: list[str]
    single_labels: IntArray
    #: rows of the set the single-class texts are
    single_rows: IntArray
    #: (class of the first part, class of the second part) per joined narrative
    part_classes: list[tuple[int, int]]
    #: characters of the first part in each joined narrative's canonical text
    first_part_chars: list[int]


def _part(data: LabelledSet, pool: list[int], words: int) -> tuple[str, int]:
    """Texts of one class taken from ``pool`` (consumed) until ``words`` words."""
    taken: list[str] = []
    count = 0
    while pool and (not taken or count < words):
        text = data.texts[pool.pop()].strip().rstrip(".")
        taken.append(text + ".")
        count += len(text.split())
    return " ".join(taken), len(taken)


def build_mix(data: LabelledSet, n_single: int, n_joined: int, words: int, seed: int) -> Mix:
    """A seeded mix of ``n_single`` texts and ``n_joined`` two-class narratives."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    single = order[:n_single]
    pools: dict[int, list[int]] = {c: [] for c in range(data.n_classes)}
    for i in order[n_single:]:
        pools[int(data.labels[i])].append(int(i))
    texts = [data.texts[i] for i in single]
    parts: list[tuple[int, int]] = []
    first_chars: list[int] = []
    for _ in range(n_joined):
        a, b = (int(c) for c in rng.choice(data.n_classes, size=2, replace=False))
        first, _n = _part(data, pools[a], words)
        second, _n = _part(data, pools[b], words)
        texts.append(f"{first} {second}")
        parts.append((a, b))
        first_chars.append(len(normalize_text(first)))
    return Mix(texts, data.labels[single], single, parts, first_chars)


@dataclass(frozen=True)
class SegmentedMix:
    """The service's view of a mix: narrative vectors, and the segments of the long ones."""

    X: FloatMatrix
    rows: IntArray
    owners: IntArray
    vectors: FloatMatrix
    lengths: npt.NDArray[np.float64]
    plans: dict[int, Segmented]


def segmented_vectors(
    name: str,
    mix: Mix,
    whole: FloatMatrix,
    embedder: Embedder,
    long_tokens: int,
    segment_tokens: int,
    whole_when_fits: bool,
) -> SegmentedMix:
    """Long narratives' vectors pooled from their segments (each distinct segment embedded
    once, through the bench cache), the others kept whole; with `whole_when_fits`, as the
    service does, a long narrative that fits the model's window keeps its whole vector."""
    plans = segment(mix.texts, token_counter(embedder), long_tokens, segment_tokens)
    long = {i: p for i, p in enumerate(plans) if p is not None}
    fits = reads_whole(embedder, [mix.texts[i] for i in long]) if whole_when_fits else []
    read_whole = {i for i, fit in zip(long, fits, strict=False) if fit}
    distinct = sorted({t for p in long.values() for t in p.texts})
    cached = (
        cached_text_embeddings(f"{name}-segments", distinct, lambda: embedder)
        if distinct
        else whole[:0]
    )
    by_hash = {text_hash(t): v for t, v in zip(distinct, cached, strict=True)}
    X = whole.copy()
    owners: list[int] = []
    pieces: list[FloatMatrix] = []
    lengths: list[float] = []
    for owner, (i, plan) in enumerate(long.items()):
        vectors = np.stack([by_hash[text_hash(t)] for t in plan.texts])
        if i not in read_whole:
            X[i] = pooled_vector(vectors, plan.lengths)
        owners += [owner] * len(plan.texts)
        pieces.append(vectors)
        lengths += plan.lengths.tolist()
    dim = whole.shape[1]
    return SegmentedMix(
        X=X,
        rows=np.asarray(list(long), dtype=np.int64),
        owners=np.asarray(owners, dtype=np.int64),
        vectors=np.concatenate(pieces) if pieces else np.zeros((0, dim), dtype=np.float32),
        lengths=np.asarray(lengths),
        plans=long,
    )


def theme_classes(result: ThemeResult, single_labels: IntArray) -> dict[int, int]:
    """Each theme's majority gold class among its single-class members."""
    labels = result.labels[: single_labels.size]
    out: dict[int, int] = {}
    for theme in range(result.n_themes):
        members = single_labels[labels == theme]
        if members.size:
            out[theme] = int(np.bincount(members).argmax())
    return out


def _quote_part(mix: Mix, j: int, theme: int, result: ThemeResult, seg: SegmentedMix | None) -> int:
    """Which part (0 first, 1 second) the quote of joined narrative ``j`` comes from in
    ``theme``; whole texts quote from their start, so the first part."""
    i = mix.single_labels.size + j
    if seg is None or i not in seg.plans:
        return 0
    plan = seg.plans[i]
    owner = int(np.flatnonzero(seg.rows == i)[0])
    vectors = seg.vectors[seg.owners == owner].astype(np.float64)
    best = plan.spans[closest_segment(vectors, result.themes[theme].centroid)]
    middle = (best[0] + best[1]) / 2
    return 0 if middle < mix.first_part_chars[j] else 1


def judge(mix: Mix, result: ThemeResult, top: IntArray, seg: SegmentedMix | None) -> dict[str, Any]:
    """Both classes in the top 3, the primary quote's part, NMI/ARI on the single texts."""
    n_single = mix.single_labels.size
    classes = theme_classes(result, mix.single_labels)
    both = quoted_right = clustered = 0
    for j, (a, b) in enumerate(mix.part_classes):
        held = [int(t) for t in top[n_single + j] if t >= 0]
        found = {classes.get(t) for t in held}
        both += a in found and b in found
        if held:
            clustered += 1
            part = _quote_part(mix, j, held[0], result, seg)
            quoted_right += classes.get(held[0]) == (a, b)[part]
    n_joined = len(mix.part_classes)
    scores = score(mix.single_labels, result.labels[:n_single])
    return {
        "both_classes_top3": 100.0 * both / n_joined,
        "joined_clustered": 100.0 * clustered / n_joined,
        "primary_quote_from_its_class": 100.0 * quoted_right / max(clustered, 1),
        "single_nmi": scores.nmi,
        "single_ari": scores.ari,
        "single_unclustered": scores.unclustered,
        "themes": result.n_themes,
    }


def _segmented_arm(
    mix: Mix, seg: SegmentedMix, n_themes: int | None, seed: int, clustered: ThemeResult | None
) -> dict[str, Any]:
    """Memberships from segments, on `clustered` when given (the same vectors were
    clustered already), else on a clustering of the segmented arm's vectors."""
    started = time.perf_counter()
    result = clustered or find_themes(
        mix.texts, seg.X, n_themes=n_themes, random_state=seed, with_map=False
    )
    centroids = [t.centroid for t in result.themes]
    top, _p = with_segment_shares(
        result.top_themes,
        result.top_probabilities,
        result.labels,
        np.stack(centroids) if centroids else np.zeros((0, seg.X.shape[1])),
        seg.rows,
        seg.owners,
        seg.vectors.astype(np.float64),
        seg.lengths,
    )
    return {**judge(mix, result, top, seg), "seconds": time.perf_counter() - started}


def _whole_arm(
    mix: Mix, X: FloatMatrix, n_themes: int | None, seed: int
) -> tuple[dict[str, Any], ThemeResult]:
    started = time.perf_counter()
    result = find_themes(mix.texts, X, n_themes=n_themes, random_state=seed, with_map=False)
    seconds = time.perf_counter() - started
    return {**judge(mix, result, result.top_themes, None), "seconds": seconds}, result


def run_set(name: str, args: argparse.Namespace, seed: int, embedder: Embedder) -> dict[str, Any]:
    """Both arms on one set and seed, with the defaults and (``--k``) told the true k."""
    data = load_set(name, args.data)
    mix = build_mix(data, args.single, args.joined, args.part_words, seed)
    tag = f"{name}-long-s{seed}-w{args.part_words}-n{args.single}-{args.joined}"
    n_single = mix.single_labels.size
    joined = cached_text_embeddings(f"{tag}-joined", mix.texts[n_single:], lambda: embedder)
    whole = np.concatenate([cached_embeddings(data)[mix.single_rows], joined])
    row: dict[str, Any] = {"set": name, "seed": seed}
    runs = [("default", None)] + ([("k", data.n_classes)] if args.k else [])
    anchors = {label: _whole_arm(mix, whole, n, seed) for label, n in runs}
    for label, _n in runs:
        row[f"whole_text_anchor_{label}"] = anchors[label][0]
    for arm in args.arms.split(","):
        seg = segmented_vectors(
            f"{tag}-t{args.segment_tokens}",
            mix,
            whole,
            embedder,
            args.long_tokens,
            args.segment_tokens,
            whole_when_fits=arm == "service",
        )
        row[f"{arm}_long_narratives"] = int(seg.rows.size)
        row[f"{arm}_segments_per_long"] = round(seg.owners.size / max(seg.rows.size, 1), 2)
        for label, n_themes in runs:
            # where every long narrative keeps its whole vector, clustering is the anchor's
            same = np.array_equal(seg.X, whole)
            reuse = anchors[label][1] if same else None
            row[f"segments_{arm}_{label}"] = _segmented_arm(mix, seg, n_themes, seed, reuse)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--sets", default="agnews8000,searchsnippets")
    parser.add_argument("--single", type=int, default=2000)
    parser.add_argument("--joined", type=int, default=400)
    parser.add_argument("--part-words", type=int, default=60)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--long-tokens", type=int, default=LONG_TOKENS)
    parser.add_argument("--segment-tokens", type=int, default=SEGMENT_TOKENS)
    parser.add_argument(
        "--arms",
        default="service,pooled",
        help="service: a long narrative that fits the window keeps its whole vector; "
        "pooled: every long narrative's vector is pooled from its segments",
    )
    parser.add_argument("--k", action="store_true", help="also run both arms told the true k")
    parser.add_argument("--out", default=str(RESULTS_DIR / "long_stories.json"))
    args = parser.parse_args(argv)
    embedder = real_embedder()
    rows = []
    for name in args.sets.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            row = run_set(name, args, seed, embedder)
            rows.append(row)
            print(row, flush=True)
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    write_json(Path(args.out), {"settings": settings, "runs": rows})


if __name__ == "__main__":
    main()
