"""Keep every library off the network. Imported first by the package, before any model code."""

import importlib.util
import os
from functools import lru_cache
from pathlib import Path


def enforce_offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # Chroma's posthog
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        # llama-index-core ships cl100k_base; without this tiktoken would download it.
        static = bundled_static()
        if static is not None:
            os.environ["TIKTOKEN_CACHE_DIR"] = str(static / "tiktoken_cache")


@lru_cache(maxsize=1)
def bundled_static() -> Path | None:
    """llama-index-core's folder of bundled data (tiktoken's cl100k_base, NLTK's punkt), found
    without importing llama-index: that import took ~1 s of a 2 s start."""
    spec = importlib.util.find_spec("llama_index.core")
    return Path(spec.origin).parent / "_static" if spec and spec.origin else None


@lru_cache(maxsize=1)
def cl100k():
    """tiktoken's cl100k_base encoder (what llama-index's get_tokenizer() returns), from the
    bundled file."""
    import tiktoken

    return tiktoken.get_encoding("cl100k_base").encode


@lru_cache(maxsize=1)
def use_bundled_nltk_data() -> None:
    """Let NLTK find the punkt data bundled with llama-index-core, so it never tries to download it."""
    import nltk

    bundled = str(bundled_static() / "nltk_cache")  # type: ignore[operator]  # llama-index-core is a requirement
    if bundled not in nltk.data.path:
        nltk.data.path.append(bundled)
