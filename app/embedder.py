"""The one place the service builds its embedding model from the settings.

``python -m app.embedder`` exports the configured ONNX backend ahead of time (an install or
image build step), so the first start has nothing to export.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from app.config import Settings, configure_logging
from pipelines.embed import Embedder, SentenceTransformerEmbedder
from pipelines.embed_onnx import (
    Int8Kernel,
    OnnxExportError,
    Precision,
    export_file,
    kernel_for_cpu,
    onnx_embedder,
    source_model,
)

log = logging.getLogger(__name__)

PRECISION: dict[str, Precision] = {"onnx": "fp32", "onnx-int8": "int8"}


def embedding_cache_dir(settings: Settings) -> Path:
    """Where ONNX exports are kept: the setting, else models/ under the data directory."""
    return Path(settings.embedding_cache_dir or os.path.join(settings.data_dir, "models"))


def torch_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(
        settings.embedding_model, settings.embedding_batch_size, settings.embedding_threads
    )


def build_embedder(settings: Settings) -> Embedder:
    """The configured backend; an ONNX backend that cannot be exported or loaded here falls
    back to torch, and says so in the log."""
    backend = settings.embedding_backend
    if backend == "torch":
        return torch_embedder(settings)
    cache = embedding_cache_dir(settings)
    try:
        model = onnx_embedder(
            cache,
            PRECISION[backend],
            settings.embedding_model,
            batch_size=settings.embedding_batch_size,
            threads=settings.embedding_threads,
        )
    except Exception as exc:
        log.warning(
            "embedding backend %s unavailable (%s: %s); falling back to torch "
            "(WEFT_EMBEDDING_BACKEND=torch silences this)",
            backend,
            type(exc).__name__,
            exc,
        )
        return torch_embedder(settings)
    log.info("embedding with %s from %s", model.name, cache)
    return model


def export_missing(settings: Settings) -> bool:
    """Whether the configured ONNX backend has no export in the cache yet (False for torch,
    and for a model the ONNX path cannot take, which falls back to torch)."""
    if settings.embedding_backend not in PRECISION:
        return False
    try:
        source = source_model(settings.embedding_model)
    except OnnxExportError:
        return False
    cache = embedding_cache_dir(settings)
    return not export_file(cache, source, PRECISION[settings.embedding_backend]).is_file()


def check_backend(settings: Settings) -> tuple[str, str]:
    """(name, where) of the configured backend's model, loaded and tried on one sentence as
    the service will load it; raises what stops it (an ONNX backend's export or load error,
    where the service would fall back to torch)."""
    if settings.embedding_backend == "torch":
        model: Embedder = torch_embedder(settings)
        where = "PyTorch"
    else:
        cache = embedding_cache_dir(settings)
        model = onnx_embedder(
            cache,
            PRECISION[settings.embedding_backend],
            settings.embedding_model,
            threads=settings.embedding_threads,
        )
        where = f"ONNX Runtime, exported under {cache}"
    model.encode(["a test sentence"])
    return model.name, f"{where}, {model.dimension} dimensions"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.embedder",
        description="Export the embedding model for an ONNX backend into the cache directory.",
    )
    parser.add_argument(
        "--backend",
        choices=sorted(PRECISION),
        help="backend to export (default: WEFT_EMBEDDING_BACKEND, else onnx)",
    )
    parser.add_argument(
        "--every-cpu",
        action="store_true",
        help="for onnx-int8, export the weights for CPUs with and without VNNI (an image "
        "built on one machine and run on another)",
    )
    parser.add_argument(
        "--if-configured",
        action="store_true",
        help="export only when WEFT_EMBEDDING_BACKEND is an ONNX backend (what `make run` does "
        "before it starts the service)",
    )
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings)
    if args.if_configured and settings.embedding_backend not in PRECISION:
        return 0
    backend = args.backend or (
        settings.embedding_backend if settings.embedding_backend in PRECISION else "onnx"
    )
    cache = embedding_cache_dir(settings)
    kernels = [kernel_for_cpu()]
    if args.every_cpu and backend == "onnx-int8":
        kernels = [Int8Kernel(reduce_range=False), Int8Kernel(reduce_range=True)]
    for kernel in kernels:
        try:
            model = onnx_embedder(
                cache, PRECISION[backend], settings.embedding_model, kernel=kernel
            )
        except OnnxExportError as exc:
            print(f"python -m app.embedder: {exc}", file=sys.stderr)
            return 1
        print(f"{model.name}: exported under {cache}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
