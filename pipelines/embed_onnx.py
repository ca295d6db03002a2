"""Sentence embeddings on ONNX Runtime: a local export of a sentence-transformers model (fp32, or
with int8 weights by dynamic quantisation) and the `OnnxEmbedder` that runs it.

The exported graph holds the whole sentence-transformers pipeline after tokenising: the
transformer, mean pooling over the attention mask and L2 normalisation, so its output matches
``SentenceTransformer.encode(..., normalize_embeddings=True)``. Tokenising uses the model's own
``tokenizer.json``. Nothing is downloaded: the model is read from a local directory (the packaged
all-MiniLM-L6-v2 by default).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from pipelines.embed import DEFAULT_MODEL_NAME, FloatMatrix, default_model_path, quiet_transformers

log = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]

#: Bumped when the exported graph changes, so older exports in a cache are not reused.
EXPORT_VERSION = 1
OPSET = 17


class OnnxExportError(RuntimeError):
    """The model cannot be exported to (or loaded from) ONNX here."""


@dataclass(frozen=True)
class Int8Kernel:
    """How the int8 weights are quantised, chosen for the CPU that runs them.

    ``per_channel`` keeps one scale per output column (closer to fp32 at no cost in speed on
    the machines measured). ``reduce_range`` quantises weights to 7 bits: without VNNI the
    uint8 x int8 kernels can saturate on 8-bit weights, with VNNI they cannot.
    """

    per_channel: bool = True
    reduce_range: bool = False

    @property
    def tag(self) -> str:
        return "int8" + ("-pc" if self.per_channel else "") + ("-rr7" if self.reduce_range else "")


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The instruction-set flags of the first CPU listed (empty where unreadable)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def kernel_for_cpu(flags: set[str] | None = None) -> Int8Kernel:
    """Per-channel int8 weights, at 7 bits unless the CPU has VNNI (AVX-512 or AVX) or AMX."""
    found = cpu_flags() if flags is None else flags
    vnni = bool(found & {"avx512_vnni", "avx_vnni", "amx_int8"})
    return Int8Kernel(per_channel=True, reduce_range=not vnni)


def backend_name(model_name: str, precision: Precision, kernel: Int8Kernel | None = None) -> str:
    """The name recorded with vectors of this backend: vectors of different backends or int8
    kernels never share a cache key."""
    if precision == "fp32":
        return f"{model_name}@onnx-fp32"
    return f"{model_name}@onnx-{(kernel or Int8Kernel()).tag}"


# --- the source model ------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceModel:
    """A sentence-transformers model directory that the ONNX path can reproduce."""

    path: Path
    label: str
    max_tokens: int
    lower_case: bool

    @property
    def tokenizer_file(self) -> Path:
        return self.path / "tokenizer.json"

    def fingerprint(self) -> str:
        """A digest of the weights and configuration: a changed model gets a fresh export."""
        digest = hashlib.sha256(f"export-v{EXPORT_VERSION}".encode())
        for name in sorted(os.listdir(self.path)):
            file = self.path / name
            if file.is_file() and (name.endswith((".json", ".txt", ".safetensors", ".bin"))):
                digest.update(name.encode())
                with file.open("rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
        return digest.hexdigest()[:16]


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def source_model(model: str = "") -> SourceModel:
    """Check that ``model`` (a local directory; empty means the packaged all-MiniLM-L6-v2) is a
    transformer with mean pooling, the pipeline the export reproduces."""
    path = Path(model or default_model_path())
    if not path.is_dir():
        raise OnnxExportError(f"{model!r} is not a local model directory")
    if not (path / "tokenizer.json").is_file():
        raise OnnxExportError(f"{path} has no tokenizer.json")
    modules_file = path / "modules.json"
    if modules_file.is_file():
        kinds = [m["type"].rsplit(".", 1)[-1] for m in _read_json(modules_file)]
        if kinds[:2] != ["Transformer", "Pooling"] or not set(kinds[2:]) <= {"Normalize"}:
            raise OnnxExportError(f"{path}: modules {kinds} are not transformer + pooling")
        pooling = _read_json(path / "1_Pooling" / "config.json")
        others = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v]
        if others != ["pooling_mode_mean_tokens"]:
            raise OnnxExportError(f"{path}: pooling {others} is not mean pooling")
    bert_config = path / "sentence_bert_config.json"
    config = _read_json(bert_config) if bert_config.is_file() else {}
    label = re.sub(r"[^A-Za-z0-9._-]+", "_", (model or DEFAULT_MODEL_NAME).rsplit("/", 1)[-1])
    return SourceModel(
        path=path,
        label=label,
        max_tokens=int(config.get("max_seq_length") or 256),
        lower_case=bool(config.get("do_lower_case", False)),
    )


# --- export ----------------------------------------------------------------------------------


def _export_fp32(source: SourceModel, target: Path) -> None:
    import torch
    from transformers import AutoModel

    quiet_transformers()
    # eager attention traces into plain ONNX operators
    backbone = AutoModel.from_pretrained(
        str(source.path), local_files_only=True, attn_implementation="eager"
    ).eval()
    wants_types = "token_type_ids" in inspect.signature(backbone.forward).parameters

    class Pooled(torch.nn.Module):
        """Transformer, mean pooling over the mask, L2 normalisation."""

        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            extra = {"token_type_ids": torch.zeros_like(input_ids)} if wants_types else {}
            hidden = self.backbone(
                input_ids=input_ids, attention_mask=attention_mask, **extra
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    dummy = torch.ones((2, 8), dtype=torch.int64)
    dynamic = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        # the tracer's notes on shape checks that hold for every padded batch
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled().eval(),
            (dummy, dummy),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": dynamic,
                "attention_mask": dynamic,
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )


def _quantize(fp32: Path, target: Path, kernel: Int8Kernel) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # dynamic quantisation: int8 weights, activation ranges measured per batch at run time,
    # so no calibration data is needed. The quantiser logs a line per tensor on the root
    # logger; those are held back for the second it runs.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(
            str(fp32),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=kernel.per_channel,
            reduce_range=kernel.reduce_range,
        )
    finally:
        logging.disable(logging.NOTSET)


def export_path(cache_dir: str | os.PathLike[str], source: SourceModel, file_tag: str) -> Path:
    """Where the export of ``source`` with ``file_tag`` (``fp32``, ``int8-pc``, ...) is kept."""
    return Path(cache_dir) / f"{source.label}-{source.fingerprint()}" / f"model-{file_tag}.onnx"


def export_file(
    cache_dir: str | os.PathLike[str],
    source: SourceModel,
    precision: Precision,
    kernel: Int8Kernel | None = None,
) -> Path:
    """Where the export of ``source`` at ``precision`` (int8: for ``kernel``, else this CPU's)
    is kept, made or not."""
    kernel = kernel or kernel_for_cpu()
    return export_path(cache_dir, source, "fp32" if precision == "fp32" else kernel.tag)


def ensure_export(
    cache_dir: str | os.PathLike[str],
    source: SourceModel,
    precision: Precision,
    kernel: Int8Kernel | None = None,
) -> Path:
    """The exported model file, made once: exported (and quantised) in a temporary directory
    beside the cache entry, then renamed into place, so a reader never sees half a file and
    two processes exporting at once both end with a whole one."""
    kernel = kernel or kernel_for_cpu()
    final = export_file(cache_dir, source, precision, kernel)
    if final.is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s to ONNX (%s) under %s", source.label, final.stem, final.parent)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=final.parent))
    try:
        fp32 = export_path(cache_dir, source, "fp32")
        if not fp32.is_file():
            _export_fp32(source, work / "model-fp32.onnx")
            if precision == "fp32":
                os.replace(work / "model-fp32.onnx", final)
                return final
            fp32 = work / "model-fp32.onnx"
        _quantize(fp32, work / final.name, kernel)
        os.replace(work / final.name, final)
        return final
    except OnnxExportError:
        raise
    except Exception as exc:
        raise OnnxExportError(f"export to ONNX failed: {type(exc).__name__}: {exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- the embedder ----------------------------------------------------------------------------


class OnnxEmbedder:
    """Embedder that runs an exported model on ONNX Runtime's CPU provider.

    Parameters
    ----------
    onnx_path:
        The exported graph (see :func:`ensure_export`).
    source:
        The model directory it was exported from; its tokenizer is used.
    name:
        The name recorded with the vectors (see :func:`backend_name`).
    batch_size:
        Texts per forward pass. Texts are sorted by length first, so a batch pads to
        about its own length, and the rows come back in the order given.
    threads:
        ONNX Runtime intra-op threads; ``0`` lets it choose (one per physical core).

    With int8 weights the activations are quantised per batch at run time, so a text's
    vector can differ slightly with the texts it is batched with.
    """

    def __init__(
        self,
        onnx_path: str | os.PathLike[str],
        source: SourceModel,
        name: str,
        batch_size: int = 64,
        threads: int = 0,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._name = name
        self.batch_size = batch_size
        self._source = source
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(
                str(onnx_path), options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = Tokenizer.from_file(str(source.tokenizer_file))
        except Exception as exc:
            raise OnnxExportError(f"cannot load {onnx_path}: {type(exc).__name__}: {exc}") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(source.max_tokens)
        self._counter = Tokenizer.from_file(str(source.tokenizer_file))
        self._counter.no_padding()
        self._counter.no_truncation()
        self._dimension = int(self._run([self._tokenizer.encode("").ids])[0].shape[0])

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads of a text; the rest is cut off."""
        return self._source.max_tokens

    def _prepare(self, texts: Sequence[str]) -> list[str]:
        return [t.lower() for t in texts] if self._source.lower_case else list(texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text by the model's own tokenizer, special tokens left out."""
        if not texts:
            return []
        encoded = self._counter.encode_batch(self._prepare(texts), add_special_tokens=False)
        return [len(e.ids) for e in encoded]

    def _run(self, ids: Sequence[Sequence[int]]) -> FloatMatrix:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        out = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
        return np.asarray(out, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> FloatMatrix:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        ids = [e.ids for e in self._tokenizer.encode_batch(self._prepare(texts))]
        order: npt.NDArray[np.intp] = np.argsort([len(row) for row in ids], kind="stable")
        vectors = np.empty((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            vectors[chunk] = self._run([ids[i] for i in chunk])
        return vectors


def onnx_embedder(
    cache_dir: str | os.PathLike[str],
    precision: Precision,
    model: str = "",
    batch_size: int = 64,
    threads: int = 0,
    kernel: Int8Kernel | None = None,
) -> OnnxEmbedder:
    """An `OnnxEmbedder` for ``model`` (empty: the packaged default), exported on first use."""
    source = source_model(model)
    kernel = kernel or kernel_for_cpu()
    path = ensure_export(cache_dir, source, precision, kernel)
    name = backend_name(model or DEFAULT_MODEL_NAME, precision, kernel)
    return OnnxEmbedder(path, source, name, batch_size=batch_size, threads=threads)
