"""Shared benchmark helpers: labelled data sets, an on-disk embedding cache, clustering metrics.

Everything here is importable by any benchmark under ``bench/``; nothing in the service imports it.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

IntArray = npt.NDArray[np.int64]
FloatMatrix = npt.NDArray[np.float32]

#: Where the labelled sets live when neither ``--data`` nor ``WEFT_BENCH_DATA`` says otherwise.
DEFAULT_DATA_DIR = Path("../shared/data")
#: Embedding cache and results, both git-ignored.
BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"


@dataclass(frozen=True)
class LabelledSet:
    """A labelled text collection: texts and their integer class ids (0..n_classes-1)."""

    name: str
    texts: list[str]
    labels: IntArray
    class_names: list[str]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class SetSpec:
    """Where a labelled set lives below the data directory and which columns hold what."""

    files: tuple[str, ...]
    text_column: str
    label_column: str


#: The five short-text sets with a single gold label per text.
SETS: dict[str, SetSpec] = {
    "tweet89": SetSpec(("tweet89/data.csv",), "text", "label"),
    "agnews8000": SetSpec(("agnews8000/data.csv",), "text", "label"),
    "searchsnippets": SetSpec(("searchsnippets/data.csv",), "text", "label"),
    "stackoverflow": SetSpec(("stackoverflow/data.csv",), "text", "label"),
    "banking77": SetSpec(("banking77/train.csv", "banking77/test.csv"), "text", "category"),
}


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: the explicit path, else ``WEFT_BENCH_DATA``, else ``../shared/data``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("WEFT_BENCH_DATA")
    return Path(env) if env else DEFAULT_DATA_DIR


def load_set(name: str, root: str | os.PathLike[str] | None = None) -> LabelledSet:
    """Read one labelled set; labels are re-coded 0..k-1 in order of first appearance."""
    try:
        spec = SETS[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(SETS)}") from None
    base = data_dir(root)
    texts: list[str] = []
    raw_labels: list[str] = []
    for rel in spec.files:
        path = base / rel
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found (set --data or WEFT_BENCH_DATA)")
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                texts.append(row[spec.text_column])
                raw_labels.append(row[spec.label_column])
    codes: dict[str, int] = {}
    labels = np.array([codes.setdefault(lab, len(codes)) for lab in raw_labels], dtype=np.int64)
    return LabelledSet(name=name, texts=texts, labels=labels, class_names=list(codes))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def cache_path(set_name: str, model_name: str, texts: Sequence[str]) -> Path:
    """Cache file for one set and model; a digest of the texts guards against stale files."""
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:12]
    return CACHE_DIR / f"{_slug(set_name)}__{_slug(model_name)}__{digest}.npy"


def cached_embeddings(
    data: LabelledSet,
    embedder_factory: Callable[[], object],
    model_name: str,
) -> FloatMatrix:
    """Embeddings of ``data.texts``, computed once per (set, model) and kept as ``.npy``.

    ``embedder_factory`` is only called on a cache miss, so a warm cache never loads the model.
    It must return an object with ``encode(texts) -> float32 matrix`` (the ``Embedder`` protocol).
    """
    path = cache_path(data.name, model_name, data.texts)
    if path.is_file():
        cached: FloatMatrix = np.load(path).astype(np.float32, copy=False)
        return cached
    embedder = embedder_factory()
    vectors = np.asarray(embedder.encode(data.texts), dtype=np.float32)  # type: ignore[attr-defined]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


# --- metrics -------------------------------------------------------------------------------


def hungarian_accuracy(truth: IntArray, predicted: IntArray) -> float:
    """Best one-to-one matching accuracy; predictions labelled -1 are always counted wrong."""
    truth = np.asarray(truth)
    predicted = np.asarray(predicted)
    if truth.size == 0:
        return float("nan")
    mask = predicted >= 0
    if not mask.any():
        return 0.0
    t_ids, t_idx = np.unique(truth[mask], return_inverse=True)
    p_ids, p_idx = np.unique(predicted[mask], return_inverse=True)
    counts = np.zeros((p_ids.size, t_ids.size), dtype=np.int64)
    np.add.at(counts, (p_idx, t_idx), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum()) / float(truth.size)


@dataclass(frozen=True)
class Scores:
    """Agreement of a clustering with gold labels, in percent except the counts."""

    nmi: float
    ari: float
    acc: float
    unclustered: float
    n_themes: int


def score(truth: IntArray, predicted: IntArray) -> Scores:
    """NMI, ARI (with -1 kept as one cluster of its own), ACC (with -1 wrong), share of -1."""
    predicted = np.asarray(predicted)
    return Scores(
        nmi=100.0 * float(normalized_mutual_info_score(truth, predicted)),
        ari=100.0 * float(adjusted_rand_score(truth, predicted)),
        acc=100.0 * hungarian_accuracy(truth, predicted),
        unclustered=100.0 * float(np.mean(predicted < 0)) if predicted.size else 0.0,
        n_themes=int(np.unique(predicted[predicted >= 0]).size),
    )


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` holds the elapsed wall seconds."""
    box: list[float] = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


#: QMSum test meetings: speaker turns with human topic spans (relative to the data directory).
QMSUM_FILE = "qmsum/test_utterances_with_topics.csv"
#: Class name suffix of turns that fall in no annotated topic span.
QMSUM_NO_TOPIC = "none"


def load_qmsum(root: str | os.PathLike[str] | None = None) -> tuple[LabelledSet, list[str]]:
    """All QMSum test turns as one set, and the meeting of each turn.

    A turn's class is ``"<meeting>:<first topic id>"`` (``"<meeting>:none"`` outside every
    topic span), so classes never cross meetings.
    """
    path = data_dir(root) / QMSUM_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (set --data or WEFT_BENCH_DATA)")
    texts: list[str] = []
    meetings: list[str] = []
    raw: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            texts.append(row["content"])
            meetings.append(row["meeting_id"])
            first = row["topic_ids"].split(";")[0] if row["topic_ids"] else QMSUM_NO_TOPIC
            raw.append(f"{row['meeting_id']}:{first}")
    codes: dict[str, int] = {}
    labels = np.array([codes.setdefault(lab, len(codes)) for lab in raw], dtype=np.int64)
    return LabelledSet(name="qmsum", texts=texts, labels=labels, class_names=list(codes)), meetings
