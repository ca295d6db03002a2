"""Theme names against IBM ArgKP-2021's key points, with BERTopic's representations beside them.

    nice .venv/bin/python -m bench.naming [--data ../shared/data] [--topics N] [--scale 12]

For each of the 31 topics, ``find_themes`` runs on the topic's arguments. Every theme of at
least 5 arguments with a single-key-point majority (the key point most of its arguments match
as their only one, with no tie) is scored; the themes where that key point holds more than half
of the arguments are also reported on their own. A name is right when, among the topic's key
points, the one whose embedding is closest to the name's is the theme's majority key point.
Every method names the same partitions in the same run:

- ``weft``: the names ``find_themes`` gives without an embedder (phrases placed at their
  narratives' mean vector);
- ``weft_embedded``: the names ``find_themes(..., embedder=...)`` gives the same partition (its
  describer fitted again with the model: the candidates embedded by it);
- ``keyword_label``: the keyword label themes had before (the first three keywords);
- ``central``: the theme's most central argument;
- ``bertopic``: BERTopic's default c-TF-IDF representation, top 4 words, fitted with a
  pass-through clusterer on Weft's labels;
- ``keybert``: the same BERTopic fit with ``KeyBERTInspired``, top 4 words.

Beside the embedding score, a word-overlap score that no model takes part in: a name is right
when it shares more content-word stems with its majority key point than with any other key
point of the topic. ``--scale N`` also times naming on the 7,238 arguments repeated N times
(topics as themes). The naming time per analysis (``ThemeDescriber.fit`` on one topic, with
and without the model) is summed over the topics. Results go to ``bench/results/naming.json``.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from bench.harness import (
    RESULTS_DIR,
    cached_text_embeddings,
    load_argkp_rows,
    real_embedder,
    write_json,
)
from pipelines.embed import Embedder, unit_rows
from pipelines.themes import ThemeDescriber, find_themes
from pipelines.themes.describe import CHAT_STOP_WORDS, short_label, stem

FloatArray = npt.NDArray[np.float64]
METHODS = ("weft", "weft_embedded", "keyword_label", "central", "bertopic", "keybert")
MIN_SIZE = 5


@dataclass(frozen=True)
class ArgKP:
    texts: list[str]
    topics: list[str]
    keypoints: list[list[str]]
    keypoint_text: dict[str, str]


def load_argkp(root: Path | None) -> ArgKP:
    texts: list[str] = []
    topics: list[str] = []
    keypoints: list[list[str]] = []
    names: dict[str, str] = {}
    for row in load_argkp_rows(root):
        texts.append(row["argument"])
        topics.append(row["topic"])
        # key point ids restart in each split, so a key point is known by its topic too
        ids = [f"{row['topic']}|{k}" for k in row["matched_key_point_ids"].strip().split(";") if k]
        keypoints.append(ids)
        texts_of = row["matched_key_points"].split(" | ") if ids else []
        for k, text in zip(ids, texts_of, strict=True):
            names[k] = text.strip()
    return ArgKP(texts, topics, keypoints, names)


@dataclass
class Scored:
    topic: str
    theme: int
    size: int
    majority: str
    strict: bool
    names: dict[str, str]


def _add(seconds: dict[str, float], what: str, start: float) -> None:
    seconds[what] = seconds.get(what, 0.0) + time.perf_counter() - start


def _names_with_model(
    texts: list[str],
    X: npt.NDArray[np.float32],
    result: Any,
    embedder: Embedder,
    seconds: dict[str, float],
) -> list[str]:
    """The names ``find_themes(..., embedder=...)`` gives the same partition: its describer
    fitted again with the model; both namings are timed (phrase counts shared, as there)."""
    labels = result.labels
    centroids = np.stack([t.centroid for t in result.themes]) if result.themes else None
    counts = ThemeDescriber().count(texts) if result.themes else None
    start = time.perf_counter()
    ThemeDescriber().fit(texts, labels, X, centroids, phrase_counts=counts)
    _add(seconds, "naming without model", start)
    start = time.perf_counter()
    fitted = ThemeDescriber().fit(
        texts, labels, X, centroids, phrase_counts=counts, phrase_embedder=embedder
    )
    _add(seconds, "naming with model", start)
    return list(fitted.theme_labels_)


def _majority(keypoints: Sequence[list[str]]) -> tuple[str | None, bool]:
    """The key point most of the theme's arguments match as their only one, when no other
    ties with it, and whether it holds more than half of the theme (the strict reading)."""
    ranked = Counter(k[0] for k in keypoints if len(k) == 1).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None, False
    return ranked[0][0], ranked[0][1] * 2 > len(keypoints)


def _bertopic_names(
    texts: list[str], X: npt.NDArray[np.float32], labels: npt.NDArray[np.int64], model: Any
) -> dict[str, dict[int, str]]:
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from bertopic.representation import KeyBERTInspired

    topic_model = BERTopic(
        embedding_model=model,
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
        representation_model={"KeyBERT": KeyBERTInspired()},
    )
    topic_model.fit(texts, embeddings=X, y=labels)
    assigned = np.asarray(topic_model.topics_)
    out: dict[str, dict[int, str]] = {"bertopic": {}, "keybert": {}}
    for t in range(int(labels.max()) + 1):
        mine = assigned[labels == t]
        if mine.size == 0:
            continue
        bt = int(Counter(mine.tolist()).most_common(1)[0][0])
        words = [w for w, _ in topic_model.get_topic(bt) or []][:4]
        keybert = [w for w, _ in topic_model.topic_aspects_["KeyBERT"].get(bt, [])][:4]
        out["bertopic"][t] = " ".join(words)
        out["keybert"][t] = " ".join(keybert)
    return out


_STOP = frozenset(ENGLISH_STOP_WORDS) | CHAT_STOP_WORDS


def content_stems(text: str) -> set[str]:
    """Content-word stems of a text, as the word-overlap score counts them."""
    return {stem(w) for w in re.findall(r"[^\W\d_][^\W_]+", text.lower()) if w not in _STOP}


def main(argv: Sequence[str] | None = None) -> None:
    from sentence_transformers import SentenceTransformer

    from pipelines.embed import default_model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--topics", type=int, default=0, help="first N topics only (smoke run)")
    parser.add_argument("--scale", type=int, default=0, help="time naming at N x 7,238 texts")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "naming.json")
    args = parser.parse_args(argv)

    data = load_argkp(args.data)
    E = cached_text_embeddings("argkp", data.texts)
    embedder: Embedder = real_embedder()
    st_model = SentenceTransformer(default_model_path(), device="cpu", local_files_only=True)
    topic_of = np.array(data.topics)
    topics = sorted(set(data.topics))[: args.topics or None]
    scored: list[Scored] = []
    topic_keypoints: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for topic in topics:
        member = np.flatnonzero(topic_of == topic)
        texts = [data.texts[j] for j in member]
        X = E[member]
        start = time.perf_counter()
        result = find_themes(texts, X, with_map=False, random_state=0)
        _add(seconds, "find_themes", start)
        labels = result.labels
        embedded = _names_with_model(texts, X, result, embedder, seconds)
        start = time.perf_counter()
        bert = _bertopic_names(texts, X, labels, st_model) if result.themes else {}
        _add(seconds, "bertopic fits", start)
        topic_keypoints[topic] = sorted({k for j in member for k in data.keypoints[j]})
        for theme in result.themes:
            inside = member[labels == theme.theme]
            majority, strict = _majority([data.keypoints[j] for j in inside])
            if inside.size < MIN_SIZE or majority is None:
                continue
            names = {
                "weft": theme.label,
                "weft_embedded": embedded[theme.theme],
                "keyword_label": short_label(theme.keywords),
                "central": texts[theme.exemplars[0]],
                "bertopic": bert["bertopic"].get(theme.theme, ""),
                "keybert": bert["keybert"].get(theme.theme, ""),
            }
            scored.append(Scored(topic, theme.theme, int(inside.size), majority, strict, names))
        print(f"{topic[:60]:<62}{result.n_themes:>3} themes", flush=True)

    kp_ids = sorted({k for ks in topic_keypoints.values() for k in ks})
    kp_vectors = np.asarray(
        unit_rows(
            cached_text_embeddings("argkp_keypoints", [data.keypoint_text[k] for k in kp_ids])
        ),
        dtype=np.float64,
    )
    kp_row = {k: i for i, k in enumerate(kp_ids)}
    all_names = sorted({n for s in scored for n in s.names.values()})
    name_vectors = unit_rows(np.asarray(embedder.encode(all_names), dtype=np.float64))
    vectors = {n: name_vectors[i] for i, n in enumerate(all_names)}
    chance = float(np.mean([1 / len(topic_keypoints[s.topic]) for s in scored] or [0.0]))
    summary: dict[str, Any] = {}
    for subset, chosen in (("plurality", scored), ("strict", [s for s in scored if s.strict])):
        print(
            f"\n{len(chosen)} themes ({subset}: >= {MIN_SIZE} arguments, "
            + ("single-key-point plurality" if subset == "plurality" else "key point > half")
            + f"); chance {100 * chance:.1f}%"
        )
        summary[subset] = _score(chosen, data, topic_keypoints, kp_vectors, kp_row, vectors)
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    payload: dict[str, Any] = {
        "themes_scored": len(scored),
        "chance": chance,
        "methods": summary,
        "seconds": dict(seconds),
        "themes": [
            {
                "topic": s.topic,
                "theme": s.theme,
                "size": s.size,
                "majority": data.keypoint_text[s.majority],
                "names": s.names,
            }
            for s in scored
        ],
    }
    if args.scale:
        payload["scale"] = _scale(data, E, args.scale, embedder)
    write_json(args.out, payload, indent=1)
    print(f"results written to {args.out}")


def _score(
    scored: list[Scored],
    data: ArgKP,
    topic_keypoints: dict[str, list[str]],
    kp_vectors: FloatArray,
    kp_row: dict[str, int],
    vectors: dict[str, FloatArray],
) -> dict[str, Any]:
    """Both scores and the name lengths of every method over `scored`, printed and returned."""
    n = max(len(scored), 1)
    header = f"{'method':<16}{'embedding':>11}{'overlap':>10}{'median words':>14}{'max':>5}"
    print(header + f"{'2-6 words':>11}")
    out: dict[str, Any] = {}
    for m in METHODS:
        right = overlap_right = 0
        words = []
        for s in scored:
            candidates = topic_keypoints[s.topic]
            name = s.names[m]
            words.append(len(name.split()))
            sims = kp_vectors[[kp_row[k] for k in candidates]] @ vectors[name]
            right += int(candidates[int(np.argmax(sims))] == s.majority)
            own = content_stems(name)
            overlaps = {k: len(own & content_stems(data.keypoint_text[k])) for k in candidates}
            mine = overlaps.pop(s.majority)
            overlap_right += int(mine > 0 and mine > max(overlaps.values(), default=0))
        w = np.array(words or [0])
        in_range = float(np.mean((w >= 2) & (w <= 6)))
        print(
            f"{m:<16}{100 * right / n:>10.1f}%{100 * overlap_right / n:>9.1f}%"
            f"{np.median(w):>14.0f}{w.max():>5}{100 * in_range:>10.0f}%"
        )
        out[m] = {
            "embedding_right": right / n,
            "overlap_right": overlap_right / n,
            "median_words": float(np.median(w)),
            "max_words": int(w.max()),
            "share_2_to_6_words": in_range,
        }
    return out


def _scale(data: ArgKP, E: npt.NDArray[np.float32], times: int, embedder: Embedder) -> Any:
    """Seconds to describe N copies of every argument, the 31 topics as themes."""
    codes = {t: i for i, t in enumerate(sorted(set(data.topics)))}
    labels = np.tile(np.array([codes[t] for t in data.topics], dtype=np.int64), times)
    texts = data.texts * times
    X = np.tile(E, (times, 1))
    out: dict[str, float] = {"narratives": float(len(texts))}
    describer = ThemeDescriber()
    start = time.perf_counter()
    counts = describer.count(texts)
    out["count"] = time.perf_counter() - start
    for name, phrase_embedder in (("fit", None), ("fit_embedded", embedder)):
        start = time.perf_counter()
        ThemeDescriber().fit(
            texts, labels, X, phrase_counts=counts, phrase_embedder=phrase_embedder
        )
        out[name] = time.perf_counter() - start
    print(
        f"scale: {len(texts)} narratives, 31 themes: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in out.items() if k != "narratives")
    )
    return out


if __name__ == "__main__":
    main()
