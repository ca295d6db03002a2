"""The ONNX backends: the export reproduces sentence-transformers' vectors (fp32 closely, int8
near enough), rows come back in the order given, each backend records its own name, the
export is cached and atomic, and the service falls back to torch where it cannot export."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import app.embedder as app_embedder
from app.config import Settings
from app.embedder import build_embedder, embedding_cache_dir
from pipelines import embed_onnx
from pipelines.embed import DEFAULT_MODEL_NAME, HashEmbedder, SentenceTransformerEmbedder
from pipelines.embed_onnx import (
    Int8Kernel,
    OnnxEmbedder,
    OnnxExportError,
    backend_name,
    ensure_export,
    kernel_for_cpu,
    onnx_embedder,
    source_model,
)

TEXTS = [
    "The ward ran out of beds again",
    "x",
    "Staff were kind and explained everything before the operation, which put me at ease.",
    "café naïve résumé, 東京 and emoji 🙂",
    "Parking was impossible. " * 60,  # past the 256 word-piece window
    "How do I merge two dictionaries in Python?",
    "The receptionist was rude on the phone and I waited three hours in A&E with my son.",
]


def cache_dir() -> Path:
    """The exports shared by the test run (tests/conftest.py sets it)."""
    return Path(os.environ["WEFT_EMBEDDING_CACHE_DIR"])


@pytest.fixture(scope="module")
def torch_model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(batch_size=4)


@pytest.fixture(scope="module")
def fp32() -> OnnxEmbedder:
    return onnx_embedder(cache_dir(), "fp32", batch_size=3)


@pytest.fixture(scope="module")
def int8() -> OnnxEmbedder:
    return onnx_embedder(cache_dir(), "int8", batch_size=3)


@pytest.mark.export
def test_fp32_export_matches_sentence_transformers(
    fp32: OnnxEmbedder, torch_model: SentenceTransformerEmbedder
) -> None:
    ours, theirs = fp32.encode(TEXTS), torch_model.encode(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(ours * theirs, axis=1)) > 0.999
    assert fp32.dimension == 384 and fp32.max_tokens == torch_model.max_tokens == 256
    assert fp32.count_tokens(TEXTS) == torch_model.count_tokens(TEXTS)
    assert fp32.encode([]).shape == (0, 384)


@pytest.mark.export
def test_int8_export_stays_close_to_fp32(int8: OnnxEmbedder, fp32: OnnxEmbedder) -> None:
    cosines = np.sum(int8.encode(TEXTS) * fp32.encode(TEXTS), axis=1)
    assert cosines.min() > 0.95 and cosines.mean() > 0.98
    # the int8 file holds quantised weights: about a quarter of the fp32 file
    int8_file = next(cache_dir().glob(f"*/model-{kernel_for_cpu().tag}.onnx"))
    fp32_file = next(cache_dir().glob("*/model-fp32.onnx"))
    assert int8_file.stat().st_size < fp32_file.stat().st_size / 3


@pytest.mark.export
def test_rows_come_back_in_the_order_given(fp32: OnnxEmbedder, int8: OnnxEmbedder) -> None:
    # batches of 3 over texts sorted by length: each row must still be its own text's vector
    alone = np.stack([fp32.encode([t])[0] for t in TEXTS])
    np.testing.assert_allclose(fp32.encode(TEXTS), alone, atol=1e-5)
    # int8 activations are quantised per batch, so a row moves a little with its batch mates
    # (0.976 at the least here), far less than to another text's vector
    alone8 = np.stack([int8.encode([t])[0] for t in TEXTS])
    batched8 = int8.encode(TEXTS)
    assert np.min(np.sum(batched8 * alone8, axis=1)) > 0.95
    assert np.max(batched8 @ alone8.T - np.eye(len(TEXTS)) * 2) < 0.9


@pytest.mark.export
def test_the_service_builds_the_configured_backend(tmp_path: Path) -> None:
    settings = Settings(
        embedding_backend="onnx-int8", embedding_cache_dir=str(cache_dir()), data_dir=str(tmp_path)
    )
    model = build_embedder(settings)
    assert isinstance(model, OnnxEmbedder)
    assert model.name == f"{DEFAULT_MODEL_NAME}@onnx-{kernel_for_cpu().tag}"


@pytest.mark.export
def test_an_export_is_made_once(monkeypatch: pytest.MonkeyPatch, fp32: OnnxEmbedder) -> None:
    def no_export(*_args: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(embed_onnx, "_export_fp32", no_export)
    source = source_model()
    first = ensure_export(cache_dir(), source, "fp32")
    assert ensure_export(cache_dir(), source, "fp32") == first
    assert not list(first.parent.glob(".export-*"))


def test_each_backend_records_its_own_name() -> None:
    names = {
        DEFAULT_MODEL_NAME,  # torch
        backend_name(DEFAULT_MODEL_NAME, "fp32"),
        backend_name(DEFAULT_MODEL_NAME, "int8", Int8Kernel(per_channel=True)),
        backend_name(DEFAULT_MODEL_NAME, "int8", Int8Kernel(per_channel=False)),
        backend_name(DEFAULT_MODEL_NAME, "int8", Int8Kernel(reduce_range=True)),
    }
    assert len(names) == 5
    assert backend_name(DEFAULT_MODEL_NAME, "int8") == f"{DEFAULT_MODEL_NAME}@onnx-int8-pc"


def test_the_int8_kernel_follows_the_cpu() -> None:
    assert kernel_for_cpu({"avx2", "avx512f", "avx512_vnni"}) == Int8Kernel(True, False)
    assert kernel_for_cpu({"avx2", "avx_vnni"}) == Int8Kernel(True, False)
    # without VNNI, 7-bit weights keep the uint8 x int8 products from saturating
    assert kernel_for_cpu({"avx2", "fma"}) == Int8Kernel(True, True)


def test_a_failed_export_falls_back_to_torch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("exporter broke")

    stand_in = HashEmbedder(8, name="torch stand-in")
    monkeypatch.setattr(embed_onnx, "_export_fp32", broken)
    monkeypatch.setattr(app_embedder, "torch_embedder", lambda _settings: stand_in)
    settings = Settings(embedding_backend="onnx", embedding_cache_dir=str(tmp_path / "models"))
    with caplog.at_level(logging.WARNING, logger="app.embedder"):
        assert build_embedder(settings) is stand_in
    assert "embedding backend onnx unavailable" in caplog.text
    assert "exporter broke" in caplog.text and "falling back to torch" in caplog.text
    # nothing half-made is left in the cache
    assert [p for p in (tmp_path / "models").rglob("*") if p.is_file()] == []


def test_a_failed_quantisation_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def fake_export(_source: object, target: Path) -> None:
        target.write_bytes(b"not a model")

    monkeypatch.setattr(embed_onnx, "_export_fp32", fake_export)
    with pytest.raises(OnnxExportError, match="export to ONNX failed"):
        ensure_export(tmp_path, source_model(), "int8", Int8Kernel())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_model_the_export_cannot_reproduce_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text(
        json.dumps(
            [
                {"type": "sentence_transformers.models.Transformer"},
                {"type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    (tmp_path / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    with pytest.raises(OnnxExportError, match="not mean pooling"):
        source_model(str(tmp_path))
    with pytest.raises(OnnxExportError, match="not a local model directory"):
        source_model("someone/some-hub-model")


def test_the_backend_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEFT_EMBEDDING_BACKEND", "int8")
    with pytest.raises(ValidationError, match="'torch', 'onnx' or 'onnx-int8'"):
        Settings()
    monkeypatch.setenv("WEFT_EMBEDDING_BACKEND", "onnx-int8")
    assert Settings().embedding_backend == "onnx-int8"


def test_the_cache_lives_under_the_data_directory_by_default() -> None:
    assert embedding_cache_dir(Settings(data_dir="/srv/x", embedding_cache_dir="")) == Path(
        "/srv/x/models"
    )
    assert embedding_cache_dir(Settings(embedding_cache_dir="/m")) == Path("/m")
