"""The benchmarks' shared harness: data sets, cached embeddings, scoring, the service in process.

Every module under ``bench/`` imports what it shares from here and from nothing else in
``bench/``; this module imports no other benchmark. Nothing in the service imports it.

Two benchmarks report the memory of a process that imports this module: the upload server of
``bench.ingest`` (its baseline) and ``bench.quality speed`` (which never starts the service). So
only numpy, scipy and ``pipelines.embed`` are imported up here; the service (``app``), alembic,
the test client and scikit-learn are imported inside the functions that use them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from pipelines.embed import (
    DEFAULT_MODEL_NAME,
    Embedder,
    FloatMatrix,
    SentenceTransformerEmbedder,
    default_model_path,
    normalize_text,
    unit_rows,
)

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from app.config import Settings

IntArray = npt.NDArray[np.int64]

#: The project checkout (alembic.ini lives here).
ROOT = Path(__file__).resolve().parents[1]
#: Where the labelled sets live when neither ``--data`` nor ``WEFT_BENCH_DATA`` says otherwise.
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data"
#: Embedding cache and results, both git-ignored.
BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"


# --- data sets -------------------------------------------------------------------------------


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


#: NHS patient-experience comments (trusts, service types, dates, multi-label framework themes).
NHS_FILE = Path("nhs_patient_experience") / "v6framework_230831.csv"


def load_nhs_rows(
    root: str | os.PathLike[str] | None = None,
) -> tuple[list[str], list[dict[str, str]]]:
    """The NHS file's columns and its rows that hold a comment (blank and "Did not answer"
    left out)."""
    path = data_dir(root) / NHS_FILE
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        rows = [r for r in reader if r["FFT answer"].strip() not in ("", "Did not answer")]
    return columns, rows


def load_nhs_single_theme(root: str | os.PathLike[str] | None = None) -> LabelledSet:
    """The NHS comments that the framework gives exactly one theme, labelled by it (the
    columns after "Comment sentiment"; "Not assigned" and "Labelling not possible" are no
    theme)."""
    columns, rows = load_nhs_rows(root)
    themes = [
        c
        for c in columns[columns.index("Comment sentiment") + 1 :]
        if c not in ("Not assigned", "Labelling not possible")
    ]
    texts: list[str] = []
    raw: list[str] = []
    for row in rows:
        held = [c for c in themes if row[c].strip() == "1"]
        if len(held) == 1:
            texts.append(row["FFT answer"])
            raw.append(held[0])
    codes: dict[str, int] = {}
    labels = np.array([codes.setdefault(lab, len(codes)) for lab in raw], dtype=np.int64)
    return LabelledSet(name="nhs_single_theme", texts=texts, labels=labels, class_names=list(codes))


# --- embeddings ------------------------------------------------------------------------------


class PlainSentenceTransformer:
    """The anchor: ``SentenceTransformer.encode`` fp32, as anyone would call it."""

    name = "plain SentenceTransformer.encode"

    def __init__(self, batch_size: int) -> None:
        from sentence_transformers import SentenceTransformer

        self._model: Any = SentenceTransformer(
            default_model_path(), device="cpu", local_files_only=True
        )
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        return np.asarray(
            self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )


def real_embedder() -> Embedder:
    """The packaged sentence model (all-MiniLM-L6-v2)."""
    return SentenceTransformerEmbedder()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def cache_path(set_name: str, model_name: str, texts: Sequence[str]) -> Path:
    """Cache file for one set and model; a digest of the texts guards against stale files."""
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:12]
    return CACHE_DIR / f"{_slug(set_name)}__{_slug(model_name)}__{digest}.npy"


def cached_embeddings(
    data: LabelledSet,
    embedder_factory: Callable[[], Embedder] = real_embedder,
    model_name: str = DEFAULT_MODEL_NAME,
) -> FloatMatrix:
    """Embeddings of ``data.texts``, computed once per (set, model) and kept as ``.npy``.

    ``embedder_factory`` is only called on a cache miss, so a warm cache never loads the model.
    """
    path = cache_path(data.name, model_name, data.texts)
    if path.is_file():
        cached: FloatMatrix = np.load(path).astype(np.float32, copy=False)
        return cached
    embedder = embedder_factory()
    vectors = np.asarray(embedder.encode(data.texts), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


def unlabelled(name: str, texts: Sequence[str]) -> LabelledSet:
    """Texts without gold labels, as a set the embedding cache can key."""
    return LabelledSet(name, list(texts), np.zeros(len(texts), dtype=np.int64), [])


def cached_text_embeddings(
    name: str, texts: Sequence[str], embedder_factory: Callable[[], Embedder] = real_embedder
) -> FloatMatrix:
    """Embeddings of loose texts under the bench cache (computed once per text list)."""
    return cached_embeddings(unlabelled(name, texts), embedder_factory)


class CachedEmbedder:
    """The service's embedder for a benchmark: the real model's vectors for a data set's texts,
    from the bench cache; the model is only loaded for a text the cache lacks."""

    def __init__(self, texts: Sequence[str], set_name: str) -> None:
        self._loaded: Embedder | None = None
        self.misses = 0
        vectors = cached_text_embeddings(set_name, texts, self._model)
        self._known = {normalize_text(t): v for t, v in zip(texts, vectors, strict=True)}
        self._dimension = int(vectors.shape[1])

    def _model(self) -> Embedder:
        if self._loaded is None:
            self._loaded = real_embedder()
        return self._loaded

    @property
    def name(self) -> str:
        return DEFAULT_MODEL_NAME

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        missing = [t for t in texts if normalize_text(t) not in self._known]
        if missing:
            self.misses += len(missing)
            for text, vector in zip(missing, self._model().encode(missing), strict=True):
                self._known[normalize_text(text)] = vector
        return np.stack([self._known[normalize_text(t)] for t in texts]).astype(np.float32)


# --- scoring ---------------------------------------------------------------------------------


# --- every distinct text of the shared data ---------------------------------------------------


ARGKP_FILE = Path("ibm_argkp2021") / "arguments_with_keypoints.csv"


def load_argkp_rows(root: str | os.PathLike[str] | None = None) -> list[dict[str, str]]:
    """The ArgKP file's rows, one per argument."""
    with (data_dir(root) / ARGKP_FILE).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


#: The sources beyond the five labelled sets, in the order they join the pool.
EXTRA_SOURCES = ("nhs", "argkp", "qmsum")


def distinct_pool(
    root: str | None, extra_sources: Sequence[str] = EXTRA_SOURCES
) -> tuple[list[str], FloatMatrix, dict[str, int]]:
    """Every distinct text of the shared data (the five sets and ``extra_sources``), its
    vector, and how many each source added."""
    seen: set[str] = set()
    texts: list[str] = []
    blocks: list[FloatMatrix] = []
    added: dict[str, int] = {}
    for name in SETS:
        labelled = load_set(name, root)
        vectors = cached_embeddings(labelled)
        keep = []
        for i, text in enumerate(labelled.texts):
            key = normalize_text(text)
            if key and key not in seen:
                seen.add(key)
                keep.append(i)
        texts.extend(labelled.texts[i] for i in keep)
        blocks.append(vectors[keep])
        added[name] = len(keep)
    extra: list[str] = []
    loaders = {
        "nhs": lambda: [r["FFT answer"] for r in load_nhs_rows(root)[1]],
        "argkp": lambda: [row["argument"] for row in load_argkp_rows(root)],
        "qmsum": lambda: load_qmsum(root)[0].texts,
    }
    for source in extra_sources:
        candidates = loaders[source]()
        before = len(extra)
        for text in candidates:
            key = normalize_text(text)
            if key and key not in seen:
                seen.add(key)
                extra.append(text)
        added[source] = len(extra) - before
    if extra:
        texts.extend(extra)
        blocks.append(cached_text_embeddings("cost_curve_extra", extra))
    return texts, np.vstack(blocks).astype(np.float32), added


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
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    predicted = np.asarray(predicted)
    return Scores(
        nmi=100.0 * float(normalized_mutual_info_score(truth, predicted)),
        ari=100.0 * float(adjusted_rand_score(truth, predicted)),
        acc=100.0 * hungarian_accuracy(truth, predicted),
        unclustered=100.0 * float(np.mean(predicted < 0)) if predicted.size else 0.0,
        n_themes=int(np.unique(predicted[predicted >= 0]).size),
    )


def kmeans_labels(X: FloatMatrix, k: int, seed: int = 0) -> IntArray:
    """The k-means anchor: ``KMeans(k, n_init=4)`` on the unit-length embeddings."""
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=k, n_init=4, random_state=seed)
    return np.asarray(model.fit_predict(unit_rows(X)), dtype=np.int64)


# --- an analysis in a process of its own -------------------------------------------------------

#: Run in a fresh interpreter by :func:`run_analysis_process`, with the checkout under test
#: first on ``sys.path``: it imports only that checkout's ``pipelines.themes`` (or BERTopic),
#: so two checkouts can be timed against each other in one run. It compiles the numba code
#: first (UMAP and HDBSCAN on a 3,000-row slice, and the checkout's ``warm_up`` where it has
#: one, else its two-thread descent and lock-free UMAP epochs), then times one call.
_ANALYSIS_WORKER = r"""
import json, resource, sys, time, warnings
import numpy as np
spec = json.loads(sys.argv[1])
X = np.load(spec["embeddings"]).astype(np.float32)
with open(spec["texts"], encoding="utf-8") as handle:
    texts = json.load(handle)
if spec.get("rows") is not None:
    rows = np.load(spec["rows"])
    X, texts = X[rows], [texts[i] for i in rows]
warnings.simplefilter("ignore")
import hdbscan
from umap import UMAP
small = X[:3000]
if spec["method"] != "bertopic":
    try:  # what a job worker compiles as it starts
        from pipelines.themes import warm_up
    except ImportError:  # an older checkout: its two-thread descent and lock-free epochs
        try:
            from pipelines.themes.graph import approximate_knn
            from pipelines.themes.parallel import release_layout_lock
        except ImportError:
            pass
        else:
            approximate_knn(small / np.linalg.norm(small, axis=1, keepdims=True), 15, 0)
            release_layout_lock()
    else:
        warm_up()
UMAP(n_neighbors=15, n_components=5, metric="cosine", n_epochs=5, random_state=0,
     force_approximation_algorithm=True, init="pca").fit(small)
hdbscan.HDBSCAN(min_cluster_size=10).fit(small[:, :5])
out = {"n": len(texts)}
if spec["method"] == "bertopic":
    from bertopic import BERTopic
    t0, c0 = time.perf_counter(), time.process_time()
    model = BERTopic(umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0,
                                     metric="cosine", random_state=spec["seed"]))
    labels, _ = model.fit_transform(texts, embeddings=X)
    out["wall_s"], out["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    labels = np.asarray(labels, dtype=np.int64)
else:
    from pipelines.themes import find_themes
    t0, c0 = time.perf_counter(), time.process_time()
    result = find_themes(texts, X, random_state=spec["seed"])
    out["wall_s"], out["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    out["timings"] = dict(result.timings)
    out["n_themes"] = result.n_themes
    labels = result.labels
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
np.save(spec["labels"], labels)
with open(spec["result"], "w", encoding="utf-8") as handle:
    json.dump(out, handle)
"""


def write_analysis_input(folder: Path, texts: Sequence[str], X: FloatMatrix) -> dict[str, str]:
    """The texts and embeddings an analysis process reads, written once into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"texts": str(folder / "texts.json"), "embeddings": str(folder / "embeddings.npy")}
    Path(paths["texts"]).write_text(json.dumps(list(texts)), encoding="utf-8")
    np.save(paths["embeddings"], np.asarray(X, dtype=np.float32))
    return paths


def run_analysis_process(
    inputs: dict[str, str],
    *,
    method: str = "weft",
    seed: int = 0,
    code: Path = ROOT,
    rows: npt.NDArray[np.int64] | None = None,
    timeout: float = 3600.0,
) -> tuple[dict[str, Any], IntArray]:
    """One analysis (``weft``: ``find_themes`` of the checkout at ``code``; ``bertopic``: its
    defaults, ``seed`` seeding its UMAP) in a fresh process on the inputs of
    :func:`write_analysis_input` (only ``rows`` of them when given).

    Returns the process' figures (``wall_s``, ``cpu_s``: ``process_time`` of the call;
    ``peak_rss_mib``: its ``ru_maxrss``; Weft's ``timings`` and ``n_themes``) and the labels.
    """
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="weft-analysis-") as tmp:
        spec: dict[str, Any] = {
            **inputs,
            "method": method,
            "seed": seed,
            "labels": str(Path(tmp) / "labels.npy"),
            "result": str(Path(tmp) / "result.json"),
            "rows": None,
        }
        if rows is not None:
            spec["rows"] = str(Path(tmp) / "rows.npy")
            np.save(spec["rows"], np.asarray(rows, dtype=np.int64))
        env = {**os.environ, "PYTHONPATH": str(code)}
        subprocess.run(
            [sys.executable, "-c", _ANALYSIS_WORKER, json.dumps(spec)],
            cwd=code,
            env=env,
            check=True,
            timeout=timeout,
        )
        figures: dict[str, Any] = json.loads(Path(spec["result"]).read_text(encoding="utf-8"))
        labels = np.asarray(np.load(spec["labels"]), dtype=np.int64)
    return figures, labels


# --- results ---------------------------------------------------------------------------------


def write_json(path: Path, payload: Any, indent: int = 2) -> None:
    """Write a results file (numpy scalars as floats), making its folder when needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=indent, default=float) + "\n")


# --- the service -----------------------------------------------------------------------------


def migrate(url: str) -> None:
    """Bring a fresh store at ``url`` to the latest schema."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes.update(url=url, configure_logging=False)
    command.upgrade(config, "head")


def service_settings(url: str, data_dir: str | os.PathLike[str], **overrides: Any) -> Settings:
    """Settings of a throwaway bench store: analyses run only when a benchmark asks."""
    from app.config import Settings

    options: dict[str, Any] = {"auto_analyze": False, **overrides}
    return Settings(database_url=url, data_dir=str(data_dir), **options)


def wait_for_job(
    client: Any, key: str, job_id: str, timeout: float = 3600, every: float = 0.5
) -> dict[str, Any]:
    """Poll a job through ``client`` (a test client or an HTTP client) every ``every``
    seconds until it has succeeded; raise when it failed or ran out of time."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(
            f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}
        ).json()
        if body["status"] == "succeeded":
            return body
        if body["status"] == "failed":
            raise RuntimeError(f"job {job_id} failed: {body['error']}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {body['status']} after {timeout}s")
        time.sleep(every)


class Service:
    """One app on one SQLite file, in process; projects are created, filled and analysed
    through the API. ``settings`` override the bench defaults (``job_poll_seconds=0.2``)."""

    def __init__(self, workdir: Path, embedder: Embedder, **settings: Any) -> None:
        from fastapi.testclient import TestClient

        from app.main import create_app

        self.url = f"sqlite:///{workdir / 'weft.db'}"
        migrate(self.url)
        options: dict[str, Any] = {"job_poll_seconds": 0.2, **settings}
        app = create_app(service_settings(self.url, workdir / "var", **options), embedder=embedder)
        self.client: TestClient = TestClient(app)

    def __enter__(self) -> Service:
        self.client.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)

    def wait(self, key: str, job_id: str, timeout: float = 3600) -> dict[str, Any]:
        """Poll a job until it has succeeded; raise when it failed."""
        return wait_for_job(self.client, key, job_id, timeout)

    def create_project(self, name: str) -> Project:
        """An empty project, with its admin key."""
        created = self.client.post("/v1/projects", json={"name": name})
        created.raise_for_status()
        return Project(self, created.json()["id"], created.json()["admin_key"]["key"])

    def project(
        self, name: str, items: list[dict[str, Any]], n_themes: int | None = None
    ) -> Project:
        """A project holding ``items`` (posted 10,000 at a time), analysed with ``seed=0``."""
        project = self.create_project(name)
        for start in range(0, len(items), 10_000):
            answer = project.post("/narratives", {"narratives": items[start : start + 10_000]})
            self.wait(project.key, answer["job"]["id"])
        started = time.perf_counter()
        queued = project.post("/analyses", {"seed": 0, "n_themes": n_themes})
        self.wait(project.key, queued["job"]["id"])
        project.analysis_seconds = time.perf_counter() - started
        return project


class Project:
    """One project of a ``Service``, called with its admin key."""

    def __init__(self, service: Service, project_id: str, key: str) -> None:
        self.service = service
        self.id = project_id
        self.key = key
        self.analysis_seconds = 0.0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def path(self, sub: str) -> str:
        """The API path of ``sub`` (``"/narratives"``) under this project."""
        return f"/v1/projects/{self.id}{sub}"

    def post(self, path: str, body: Any) -> dict[str, Any]:
        response = self.service.client.post(self.path(path), json=body, headers=self.headers)
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:500]}")
        answer: dict[str, Any] = response.json()
        return answer

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.service.client.get(self.path(path), params=params, headers=self.headers)
        if response.status_code >= 400:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:500]}")
        answer: dict[str, Any] = response.json()
        return answer

    def assignments(self, level: str = "top") -> dict[str, str | None]:
        """Theme key of every narrative, by external id (at ``leaf`` level, its sub-theme's
        where its theme has sub-themes)."""
        body = self.get("/assignments")
        if level == "leaf":
            return {
                a["external_id"]: a["subtheme_key"] or a["theme_key"] for a in body["assignments"]
            }
        return {a["external_id"]: a["theme_key"] for a in body["assignments"]}


#: Flags headless Chromium needs here: no sandbox as root, and no call home.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_path() -> str:
    """Debian's chromium (Playwright's own browser download is never used)."""
    found = os.environ.get("WEFT_TEST_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise RuntimeError("install Debian's chromium (apt-get install chromium) for this bench")
    return found


class LiveService:
    """One app on one SQLite file served by uvicorn on a loopback port, so a browser can load
    its pages; ``client`` calls its API over HTTP. Analyses run when the settings say."""

    def __init__(self, workdir: Path, embedder: Embedder, **settings: Any) -> None:
        self.workdir = workdir
        self.embedder = embedder
        self.settings = {"job_poll_seconds": 0.2, **settings}
        self.url = ""

    def __enter__(self) -> LiveService:
        import httpx
        import uvicorn

        from app.main import create_app

        database = f"sqlite:///{self.workdir / 'weft.db'}"
        migrate(database)
        app = create_app(
            service_settings(database, self.workdir / "var", **self.settings),
            embedder=self.embedder,
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 120
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the bench server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, timeout=600)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self._server.should_exit = True
        self._thread.join(30)

    def wait(self, key: str, job_id: str, timeout: float = 3600) -> dict[str, Any]:
        """Poll a job until it has succeeded; raise when it failed."""
        return wait_for_job(self.client, key, job_id, timeout, every=0.25)
