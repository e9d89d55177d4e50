"""The embedding backends: ONNX Runtime on our export of the model, and sentence-transformers (torch).

Real model, real export, real ONNX Runtime session throughout.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.store import onnx_encoder
from rag.store.embeddings import Embedder, default_model_path

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "Who did Rajnath Singh meet?",
    "Japan set a target of 2% of GDP for defence spending in 2027.",
    "“Japan is concerned about your (India) partnership with Russia,” he said.",
    "Das Abkommen wurde am 22. April unterzeichnet — für 1.200 Crore ₹.",
    "x",
    # Longer than the 256 word pieces the model reads: both backends must cut it at the same place.
    " ".join(f"Clause {i} of the agreement covers joint exercises and technology transfer." for i in range(60)),
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    e = Embedder(backend="torch")
    e.warm_up()
    return e


@pytest.mark.slow
def test_onnx_gives_the_vectors_torch_gives(embedder, torch_embedder):
    assert embedder.backend == "onnx" and torch_embedder.backend == "torch"
    a, b = embedder.embed(TEXTS), torch_embedder.embed(TEXTS)
    assert a.shape == b.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    assert np.min(np.sum(a * b, axis=1)) > 1 - 1e-4
    # Not trivially equal: different texts get different vectors.
    assert float(a[0] @ a[1]) < 0.9
    assert embedder.max_tokens == torch_embedder.max_tokens == 256
    assert embedder.token_counts(TEXTS) == torch_embedder.token_counts(TEXTS)
    assert embedder.token_counts(TEXTS)[-1] == 256


@pytest.mark.slow
def test_the_backend_does_not_change_what_the_index_stores(embedder, torch_embedder):
    # Same name and fingerprint: an index and a vector cache built with one serve the other.
    assert embedder.name == torch_embedder.name and embedder.fingerprint == torch_embedder.fingerprint


@pytest.mark.slow
def test_a_start_with_a_saved_export_never_imports_torch(embedder):
    code = (
        "import sys, rag\n"
        "from rag.store.embeddings import Embedder\n"
        f"e = Embedder(cache_dir={str(embedder.cache_dir)!r})\n"
        "v = e.embed_query('What did Japan offer India?')\n"
        "assert e.backend == 'onnx', e.backend\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_serving_an_existing_index_loads_neither_torch_nor_llama_index(seed_pipeline):
    # What makes a start fast (README, Performance): the answer path runs on ONNX Runtime,
    # tiktoken and bm25s; torch and llama-index load only to export the model or to chunk.
    cfg = seed_pipeline.config
    code = (
        "import sys, rag\n"
        "from rag.config import Config\n"
        "from rag.pipeline import Pipeline\n"
        f"p = Pipeline(Config.from_env(seeds_dir={str(cfg.seeds_dir)!r}, index_dir={str(cfg.index_dir)!r})).warm_up()\n"
        "a = p.ask('What defence spending target has Japan set?')\n"
        "assert a.citations and not a.abstained, a.text\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers', 'llama_index.core')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_a_damaged_export_is_made_again(embedder, tmp_path, caplog):
    folder = onnx_encoder.export_dir(tmp_path, embedder.fingerprint)
    shutil.copytree(onnx_encoder.export_dir(embedder.cache_dir, embedder.fingerprint), folder)
    model = folder / "model.onnx"
    model.write_bytes(model.read_bytes()[: 1 << 20])  # a crash mid-copy, a full disk
    fresh = Embedder(cache_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        vectors = fresh.embed(TEXTS[:3])
    assert fresh.backend == "onnx"
    assert "exporting again" in caplog.text
    assert model.stat().st_size > 50_000_000
    assert np.min(np.sum(vectors * embedder.embed(TEXTS[:3]), axis=1)) > 1 - 1e-4


@pytest.mark.slow
def test_an_export_that_disagrees_with_torch_is_not_kept(embedder, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_encoder, "MAX_COSINE_GAP", -1.0)  # no graph can pass: the check must refuse it
    with pytest.raises(onnx_encoder.ExportError, match="disagrees with torch"):
        onnx_encoder.load_or_export(embedder.model_path, embedder.fingerprint, tmp_path)
    assert not any((tmp_path / "onnx").iterdir())  # neither the export nor its temporary folder


@pytest.mark.slow
def test_a_model_the_onnx_path_cannot_run_falls_back_to_torch(tmp_path, caplog):
    # Max pooling: sentence-transformers supports it, our exported graph + pooling does not.
    model = tmp_path / "model-maxpool"
    shutil.copytree(default_model_path(), model)
    pooling = model / "1_Pooling" / "config.json"
    cfg = json.loads(pooling.read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    pooling.write_text(json.dumps(cfg))
    e = Embedder(str(model), cache_dir=tmp_path / "cache")
    with caplog.at_level(logging.WARNING):
        v = e.embed(["India and Japan signed a defence pact."])
    assert e.backend == "torch" and v.shape == (1, 384)
    assert "ONNX backend is not available" in caplog.text and "pooling" in caplog.text
    assert not (tmp_path / "cache" / "onnx").exists() or not any((tmp_path / "cache" / "onnx").iterdir())


def test_an_unknown_backend_is_a_clear_error():
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="onnx or torch"):
        Embedder(backend="openvino")


@pytest.mark.slow
def test_int8_variants_are_models_of_their_own(embedder, tmp_path):
    onnx8 = Embedder(quantize=True, cache_dir=tmp_path)
    torch8 = Embedder(quantize=True, backend="torch")
    names = {embedder.name, onnx8.name, torch8.name}
    assert len(names) == 3 and len({embedder.fingerprint, onnx8.fingerprint, torch8.fingerprint}) == 3
    a, b = embedder.embed(TEXTS), onnx8.embed(TEXTS)
    assert onnx8.backend == "onnx"
    meta = json.loads((onnx_encoder.export_dir(tmp_path, onnx8.fingerprint) / "meta.json").read_text())
    assert meta["quantized"].startswith("int8")
    cos = np.sum(a * b, axis=1)
    # Close to the fp32 vectors, but not the same ones: why an int8 index is rebuilt. Per-channel
    # scales keep them within 0.98 (per-tensor ones gave 0.96 on BBC sentences, and lost answers).
    assert meta["quantized"].startswith("int8 per channel")
    assert 0.98 < float(np.mean(cos)) < 0.9999


@pytest.mark.slow
def test_two_processes_exporting_at_once_both_get_the_onnx_backend(tmp_path):
    # A fresh machine where the app and the CLI start together: each exports, one publishes first.
    code = (
        "import sys, rag\n"
        "from rag.store.embeddings import Embedder\n"
        f"e = Embedder(cache_dir={str(tmp_path)!r})\n"
        "v = e.embed_query('Japan offered to help India develop fighter jets.')\n"
        "print(e.backend, ' '.join(f'{x:.6f}' for x in v[:8]))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-1500:] for _, err in outs]
    lines = [out.strip().splitlines()[-1] for out, _ in outs]
    assert all(line.startswith("onnx ") for line in lines), lines
    assert lines[0] == lines[1]
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == [onnx_encoder.export_dir(tmp_path, Embedder().fingerprint).name]


@pytest.mark.slow
def test_query_vectors_are_cached_and_the_missing_ones_embedded_in_one_call(embedder, monkeypatch):
    words = ["holidaymakers", "tourists", "fighter jets"]
    embedder.clear_query_cache()
    one_by_one = np.stack([embedder.embed([w])[0] for w in words])
    calls: list[list[str]] = []
    real = embedder.embed
    monkeypatch.setattr(embedder, "embed", lambda texts, on_slice=None: calls.append(list(texts)) or real(texts))
    together = embedder.embed_queries([words[0], words[1], words[0], words[2]])
    assert calls == [words]  # the three missing texts, once each, in one call
    assert together.shape == (4, embedder.dimension) and np.allclose(together[[0, 1, 3]], one_by_one, atol=1e-5)
    assert (together[0] == together[2]).all()
    again = embedder.embed_queries(words[::-1])
    assert calls == [words] and (again == together[[3, 1, 0]]).all()  # from the cache, no model call
    assert (embedder.embed_query("tourists") == together[1]).all()
