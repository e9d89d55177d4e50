"""The sentence-transformers model run by ONNX Runtime: same vectors, a tenth of the start-up.

Why: importing sentence-transformers (and with it torch and transformers) took 4.5 of the 6.6 s a
start with an existing index spent before the first answer (`python -X importtime`, 2-core box);
onnxruntime and tokenizers import in 0.3 s. On the same 2 cores ONNX Runtime also embeds our
sentence pieces 1.1-1.4x faster than torch. sentence-transformers' own `backend="onnx"` needs
`optimum`, whose huggingface-hub pin conflicts with gradio 6 (../shared/NOTES.md), so the graph is
exported here instead, with torch's exporter, once per model, and checked against torch.

The exported folder (`<cache_dir>/onnx/<model fingerprint>/`) holds `model.onnx` and `meta.json`.
It is written to a temporary folder and renamed into place only after the check passed, so a
crash leaves either nothing or a complete export.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 1  # of the exported folder; a change makes every saved export stale
# Texts the export is checked on: short and long, punctuation, digits, non-ASCII, and one longer
# than the model reads (truncation must match too).
PROBES = [
    "What did Japan offer India?",
    "H.D. Kumaraswamy said Tesla was 'more interested' in showrooms, not manufacturing.",
    "The ₹1,200-crore deal (signed 22 April 2025) covers 26 Rafale-M jets — and more.",
    "Tokyo und Neu-Delhi vereinbarten eine engere Zusammenarbeit im Verteidigungsbereich.",
    " ".join(["India and Japan agreed to deepen defence cooperation in the Indo-Pacific."] * 40),
]
MAX_COSINE_GAP = 1e-4  # largest 1 - cos(onnx, torch) accepted on the probes (measured: ~1e-7)


class ExportError(RuntimeError):
    """The model cannot be run by ONNX Runtime here (unsupported layout, missing exporter, or the
    exported graph disagrees with torch): the caller falls back to torch."""


def export_dir(cache_dir: Path, fingerprint: str) -> Path:
    return Path(cache_dir) / "onnx" / re.sub(r"[^A-Za-z0-9._-]+", "-", fingerprint)


def _pooling(model_path: Path) -> str:
    """The model's pooling ("mean" or "cls"), or ExportError when its modules are other than
    Transformer → Pooling (→ Normalize): a Dense layer, say, is not in the exported graph."""
    try:
        modules = json.loads((model_path / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{model_path}: no readable modules.json ({exc})") from exc
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ExportError(f"{model_path}: modules {kinds} are not Transformer → Pooling (→ Normalize)")
    pool_path = next(model_path / m["path"] for m in modules if m["type"].endswith("Pooling"))
    cfg = json.loads((pool_path / "config.json").read_text(encoding="utf-8"))
    modes = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v]
    if modes == ["pooling_mode_mean_tokens"]:
        return "mean"
    if modes == ["pooling_mode_cls_token"]:
        return "cls"
    raise ExportError(f"{model_path}: pooling {modes} is not supported by the ONNX path")


class OnnxEncoder:
    """Tokenise with the model's own tokenizer.json, run the graph, pool, normalise."""

    def __init__(self, folder: Path, model_path: Path, threads: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if self.meta.get("format") != FORMAT:
            raise ExportError(f"{folder}: export format {self.meta.get('format')} is not {FORMAT}")
        self.max_tokens = int(self.meta["max_seq_length"])
        self.dimension = int(self.meta["dimension"])
        self.pooling = self.meta["pooling"]
        tok = Tokenizer.from_file(str(Path(model_path) / "tokenizer.json"))
        # tokenizer.json pads and truncates every text to a fixed 128 pieces: that made batches
        # 4-5x slower and cut texts that sentence-transformers reads to max_seq_length (256).
        tok.no_padding()
        tok.enable_truncation(self.max_tokens)
        self._tokenizer = tok
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads  # else ONNX Runtime's default: one per physical core
        opts.inter_op_num_threads = 1
        # Spinning workers starve each other on a shared 2-core machine (as torch's OpenMP did).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(folder / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]

    def token_counts(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch([t.strip() for t in texts])]

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Normalised float32 vectors; batches are padded to their longest text only."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for lo in range(0, len(texts), batch_size):
            # sentence-transformers strips each text before tokenising; so do we (same vectors).
            encs = self._tokenizer.encode_batch([t.strip() for t in texts[lo : lo + batch_size]])
            width = max(len(e.ids) for e in encs)
            feeds = {name: np.zeros((len(encs), width), dtype=np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")}
            for i, e in enumerate(encs):
                n = len(e.ids)
                feeds["input_ids"][i, :n] = e.ids
                feeds["attention_mask"][i, :n] = e.attention_mask
                feeds["token_type_ids"][i, :n] = e.type_ids
            hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = feeds["attention_mask"][..., None].astype(np.float32)
                pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            out[lo : lo + len(encs)] = pooled
        return out


def load_or_export(model_path: str, fingerprint: str, cache_dir: Path, threads: int = 0,
                   quantize: bool = False) -> OnnxEncoder:
    """The encoder for this model (int8 weights with `quantize`), exporting it first when no
    valid export is saved.

    Raises ExportError when the model cannot run on ONNX Runtime here.
    """
    folder = export_dir(cache_dir, fingerprint)
    if (folder / "meta.json").is_file():
        try:
            enc = OnnxEncoder(folder, Path(model_path), threads)
            if enc.meta.get("fingerprint") == fingerprint:
                return enc
        except Exception as exc:  # unreadable or truncated export: make it again
            log.warning("saved ONNX export %s is unusable (%s); exporting again", folder, exc)
    shutil.rmtree(folder, ignore_errors=True)  # whatever is there cannot be used
    export(model_path, fingerprint, folder, quantize)
    return OnnxEncoder(folder, Path(model_path), threads)


def export(model_path: str, fingerprint: str, folder: Path, quantize: bool = False) -> Path:
    """Export the model's transformer to `folder`, after checking it against torch on PROBES;
    with `quantize`, the checked graph then gets ONNX Runtime's dynamic int8 weights."""
    pooling = _pooling(Path(model_path))
    try:
        import onnx  # noqa: F401  (torch's exporter needs it; say so clearly when it is missing)
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ExportError(f"exporting to ONNX needs torch, sentence-transformers and onnx ({exc})") from exc

    log.info("exporting %s to ONNX (once per model) under %s", model_path, folder)
    st = SentenceTransformer(model_path, device="cpu", local_files_only=True)
    transformer = st[0]
    model = transformer.auto_model.eval()  # type: ignore[union-attr]
    sample = st.tokenizer(["a short sample sentence"], return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class _Hidden(torch.nn.Module):
        # Positional inputs in `names` order, one output: what the exporter can trace.
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *args):
            return self.inner(**dict(zip(names, args))).last_hidden_state

    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(folder.name + ".tmp*"):  # left by an export that crashed
        with contextlib.suppress(OSError):  # (or just removed by another process)
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
    # A private temporary folder: two processes (the app and the CLI on a fresh machine) may export at once.
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".tmp"))
    tmp.chmod(0o755)  # mkdtemp's 0700 would hide the published export from other users
    try:
        axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
        # The tracer warns about data-dependent branches in transformers' mask code; the probe
        # check below is what tells whether the graph is right, at every length it tests.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Hidden(model), tuple(sample[n] for n in names), str(tmp / "model.onnx"),
                              input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                              opset_version=17, dynamo=False)
        expected = st.encode(PROBES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        meta = {"format": FORMAT, "fingerprint": fingerprint, "max_seq_length": int(st.max_seq_length),  # type: ignore[arg-type]
                "dimension": int(expected.shape[1]), "pooling": pooling, "inputs": names,
                "torch": torch.__version__}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        got = OnnxEncoder(tmp, Path(model_path)).encode(PROBES)
        gap = float(1 - np.min(np.sum(got * expected, axis=1)))
        if gap > MAX_COSINE_GAP:
            raise ExportError(f"the ONNX graph disagrees with torch (1 - cos = {gap:.2e} on a probe)")
        meta["probe_cosine_gap"] = gap
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # One scale per output channel, not one per weight matrix: the same speed here, and the
            # vectors stay close to fp32 (mean cosine 0.992, lowest 0.971, on 1,400 BBC sentences)
            # where per-tensor scales gave 0.959 (lowest 0.868) and lost answers on the BBC sets.
            quantize_dynamic(tmp / "model.onnx", tmp / "model-int8.onnx", weight_type=QuantType.QInt8,
                             per_channel=True)
            os.replace(tmp / "model-int8.onnx", tmp / "model.onnx")
            meta["quantized"] = "int8 per channel (onnxruntime dynamic)"
            # Informational: int8 vectors are another model's, measured here against fp32 torch.
            got = OnnxEncoder(tmp, Path(model_path)).encode(PROBES)
            meta["int8_mean_cosine_to_fp32"] = float(np.mean(np.sum(got * expected, axis=1)))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process published its export first: use that
    except ExportError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
    return folder
