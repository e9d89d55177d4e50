"""Generative answers: a language model writes the answer from numbered sources, grounding keeps
only the sentences the sources support, and the extractive answer stands in whenever it cannot.

Order of work for one question:
1. The extractive answer is computed first (milliseconds). When it abstains, the model is not
   asked: small models do not abstain reliably, and the extractive check does (see eval numbers in
   the module's tests and the README).
2. The prompt numbers the retrieved passages as delimited sources, trimmed to fit the context.
3. The model's text is judged sentence by sentence as it streams (rag.grounding); supported
   sentences are yielded at once, with final citation numbers, so nothing unsupported is shown.
4. Generation stops at the sentence limit, when the model drifts (unsupported sentences in a row),
   at the token limit, or at the time limit.
5. No supported sentence, a model error or a timeout before any supported sentence: the extractive
   answer is returned, and Answer.mode_used / notes say so.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator

from rag.answer.answering import ABSTAIN_TEXT, AnswerRequest, Encoder
from rag.answer.citations import citation, with_markers
from rag.answer.extractive import Candidate, ExtractiveAnswerer
from rag.answer.grounding import Claim, Grounder, Source, SourceSentence, sources_from_passages
from rag.answer.llm import LLMClient, build_client
from rag.answer.prompts import Prompts, format_sources, load_prompts
from rag.answer.question import Question
from rag.answer.short import short_answer
from rag.config import Config
from rag.schema import Answer, Citation, Fallback
from rag.text.entities import Entity

log = logging.getLogger(__name__)

# The drift limit, the relevance ratio, the abstain gate and the context margin are
# Config.generation (rag/tunables.py, GenerationTunables).


class GenerationTimeout(RuntimeError):
    pass


class GenerativeAnswerer:
    """Answer mode "local" (in-process GGUF) or "openai" (OpenAI-compatible server)."""

    def __init__(self, config: Config, embedder: Encoder, abstain_gate: bool | None = None, condense: bool | None = None,
                 max_sources: int | None = None) -> None:
        self.config = config
        self.name = str(config.answer_mode)  # "local" or "openai": Answer.mode_used
        self.embedder = embedder
        # Loaded now, so a broken prompt file stops the app at start, not at the first question.
        self.prompts: Prompts = load_prompts(config.prompts_dir)
        self.extractive = ExtractiveAnswerer(config, embed=embedder.embed_queries)
        self.abstain_gate = config.generation.abstain_gate if abstain_gate is None else abstain_gate
        # Rewriting a follow-up needs a capable model; the tiny local ones garble it (rule-based
        # condensing in rag.followup already made request.query standalone).
        self.condense = self.name == "openai" if condense is None else condense
        self.max_sources = max_sources
        self.client: LLMClient | None = None
        self._load_lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model (local) or configure the client (openai) once."""
        self.extractive.warm_up()
        with self._load_lock:
            if self.client is None:
                self.client = build_client(self.config)

    def answer(self, request: AnswerRequest) -> Answer:
        result: Answer | None = None
        for item in self.stream(request):
            if isinstance(item, Answer):
                result = item
        if result is None:  # stream() always ends with the final Answer
            raise RuntimeError("the answer stream ended without an Answer")
        return result

    def stream(self, request: AnswerRequest) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        fallback, question, candidates = self.extractive.decide(request)
        if self.abstain_gate and fallback.abstained:
            fallback.notes.append(f"The {self.name} model was not asked: the articles hold no answer to check it against.")
            fallback.fallback = Fallback.NOT_ASKED
            fallback.timings["answer"] = time.perf_counter() - t0
            yield fallback.text
            yield fallback
            return
        if self.client is None:
            self.warm_up()
        run = _Run(self, request, t0, question, self.extractive.answering(question, candidates))
        yield from run.generate()
        answer = run.result(fallback)
        answer.timings["answer"] = time.perf_counter() - t0
        if answer.mode_used != self.name and not run.yielded:
            yield answer.text
        yield answer

    # -- prompt ----------------------------------------------------------------------------
    def build_prompt(self, request: AnswerRequest, question: str) -> tuple[str, list[Source]]:
        """The answer prompt and the sources it numbers, trimmed to fit the model's context."""
        client = self.client
        assert client is not None, "warm_up() first"
        passages = request.passages[: self.max_sources] if self.max_sources else list(request.passages)
        # The sentences with their first clause's vector (every retrieved story's: the sources
        # take those inside their passages).
        grounded = request.evidence.grounding_sentences
        rows, vectors = grounded.rows, grounded.vectors
        template = self.prompts.answer if client.chat else self.prompts.answer_base
        budget = self.config.llm_context_tokens - self.config.llm_max_tokens - self.config.generation.context_margin
        while True:
            sources = sources_from_passages(passages, rows, vectors)
            prompt = template.render(
                sources=format_sources([(s.n, s.passage.chunk.title, s.passage.chunk.text) for s in sources]),
                question=question,
            )
            if len(passages) <= 1 or client.count_tokens(prompt) <= budget:
                return prompt, sources
            passages = passages[:-1]  # the lowest-ranked passage goes first

    def standalone_question(self, request: AnswerRequest, deadline: float) -> str:
        """The question the prompt asks: a follow-up rewritten with the history when enabled."""
        if not request.history:
            return request.question
        if not self.condense:
            return request.query
        history = "\n".join(f"- {q}" for q in request.history[-4:])
        prompt = self.prompts.condense.render(history=history, question=request.question)
        text = ""
        assert self.client is not None, "warm_up() first"
        for piece in self.client.stream(prompt, stops=["\n", *self.client.stops], wait=deadline - time.perf_counter()):
            text += piece
            if time.perf_counter() > deadline or len(text) > 300:
                break
        # One line only: a model (or a server ignoring stop sequences) may keep writing after it.
        text = text.strip().split("\n")[0].strip().strip('"').strip()
        # A rewrite that is empty, rambles or answers instead of asking is not used.
        if 8 <= len(text) <= 300 and not text.lower().startswith(("i ", "sorry", "the articles")):
            return text
        return request.query


class _Run:
    """One generation: streams grounded sentences and collects the verdicts."""

    def __init__(self, owner: GenerativeAnswerer, request: AnswerRequest, t0: float, question: Question,
                 answering: list[Candidate]) -> None:
        self.owner = owner
        self.request = request
        self.question = question
        # The sentences that answer the question by the extractive checks, by (document, start).
        self.answering = {(c.row.doc_id, c.row.start): c for c in answering}
        self.deadline = t0 + owner.config.llm_timeout
        self.kept: list[Claim] = []
        self.dropped: list[Claim] = []
        self.judged: list[Claim] = []  # every verdict, in order
        self.model_abstained = False
        self.failure = ""
        self.yielded = False
        self.citations: list[Citation] = []
        # The value the first kept sentence states, in the source sentence backing it: the direct answer.
        self.stated: tuple[Candidate, Entity] | None = None
        self._cite_no: dict[tuple[str, int, int], int] = {}
        self.parts: list[str] = []
        self.sources: list[Source] = []

    def generate(self) -> Iterator[str]:
        owner, request = self.owner, self.request
        client = owner.client
        limit = owner.config.max_answer_sentences
        try:
            assert client is not None, "warm_up() first"
            question = owner.standalone_question(request, self.deadline)
            prompt, self.sources = owner.build_prompt(request, question)
            grounder = Grounder(self.sources, embed=owner.embedder.embed, idf=request.evidence.stats.idf, question=question,
                                tunables=owner.config.grounding)
            pieces = client.stream(prompt, wait=self.deadline - time.perf_counter())
            try:
                for piece in pieces:
                    for claim in grounder.feed(piece):
                        text = self._take(claim)
                        if text:
                            self.yielded = True
                            yield text
                    if self._should_stop(limit):
                        break
                    if time.perf_counter() > self.deadline:
                        raise GenerationTimeout(f"no complete answer within {owner.config.llm_timeout:g} s")
                else:
                    for claim in grounder.finish():
                        text = self._take(claim)
                        if text:
                            self.yielded = True
                            yield text
            finally:
                pieces.close()
        except GenerationTimeout as exc:
            self.failure = f"timed out: {exc}"
        except Exception as exc:  # any model or server failure ends in the extractive answer
            self.failure = _describe(exc, owner.config)
            log.warning("%s model failed: %s", owner.name, self.failure)

    def _should_stop(self, limit: int) -> bool:
        """Enough sentences, an explicit "not in the articles", or drift: the last drift_limit
        sentences all unsupported (a small model rarely recovers; stopping saves seconds)."""
        if len(self.kept) >= limit or self.model_abstained:
            return True
        drift_limit = self.owner.config.generation.drift_limit
        tail = self.judged[-drift_limit:]
        return len(tail) == drift_limit and not any(c in self.kept for c in tail)

    def _take(self, claim: Claim) -> str:
        """Record a verdict; return the text to show for a kept sentence ("" otherwise)."""
        self.judged.append(claim)
        if claim.abstains and not self.kept:
            self.model_abstained = True
        if (not claim.kept or len(self.kept) >= self.owner.config.max_answer_sentences or self._repeats(claim)
                or self._off_topic(claim) or not self._carries_answer(claim)):
            self.dropped.append(claim)
            return ""
        self.kept.append(claim)
        numbers = []
        for ev in claim.support:
            key = (ev.row.doc_id, ev.row.start, ev.row.end)
            if key not in self._cite_no:
                self._cite_no[key] = len(self.citations) + 1
                self.citations.append(self._citation(ev, self._cite_no[key]))
            numbers.append(self._cite_no[key])
        sentence = with_markers(claim.text, list(dict.fromkeys(numbers)))
        piece = sentence if not self.parts else " " + sentence
        self.parts.append(piece)
        return piece

    def _carries_answer(self, claim: Claim) -> bool:
        """Grounded is not enough: the sentence must rest on a source sentence that answers the
        question (rag.extractive's checks), and state the value asked for when one is ("An
        economic partnership [1]." is true of the sources and answers nothing)."""
        backing = [self.answering[(e.row.doc_id, e.row.start)] for e in claim.support
                   if (e.row.doc_id, e.row.start) in self.answering]
        if not backing:
            claim.reason = "supported, but its sources do not answer the question"
            return False
        if self.question.expects:
            said = claim.text.lower()
            stated = [(c, v) for c in backing for v in c.values
                      if (text := c.row.text[v.start - c.row.start : v.end - c.row.start].lower()) and text in said]
            if not stated:
                claim.reason = "supported, but it does not state the value the question asks for"
                return False
            self.stated = self.stated or stated[0]
        return True

    def _off_topic(self, claim: Claim) -> bool:
        if not self.kept or claim.vector is None or self.kept[0].vector is None:
            return False
        query = self.request.query_vector
        first = float(self.kept[0].vector @ query)
        if float(claim.vector @ query) < self.owner.config.generation.relevance_ratio * first:
            claim.reason = "supported, but not about the question"
            return True
        return False

    def _repeats(self, claim: Claim) -> bool:
        """Small models repeat themselves: a sentence backed by the same text as a kept one adds nothing."""
        keys = {(e.row.doc_id, e.row.start) for e in claim.support}
        words = set(claim.text.lower().split())
        for other in self.kept:
            if keys == {(e.row.doc_id, e.row.start) for e in other.support}:
                theirs = set(other.text.lower().split())
                if len(words & theirs) / max(1, len(words | theirs)) >= 0.5:
                    claim.reason = "repeats an earlier sentence"
                    return True
        return False

    def _citation(self, ev: SourceSentence, n: int) -> Citation:
        source = next(s for s in self.sources if s.n == ev.n)
        return citation(n, ev.row, source.passage, self.request.evidence.document(ev.row.doc_id), source.passage.score)

    def result(self, fallback: Answer) -> Answer:
        owner, request = self.owner, self.request
        label = f"{owner.name} model {owner.client.name if owner.client else ''}".strip()
        if self.kept:
            answer = Answer(
                text="".join(self.parts), citations=self.citations, abstained=False, question=request.question,
                query=request.query, passages=request.passages, mode_used=owner.name,
            )
            if self.stated is not None:
                # As in the extractive answer: the value as the cited article writes it, with its offsets.
                answer.short = short_answer(self.stated, self.citations, request.evidence)
            answer.notes.append(f"Written by the {label}; every sentence was checked against the cited articles.")
            unsupported = [c for c in self.dropped if not c.kept and not c.abstains]
            if unsupported:
                answer.notes.append(f"{len(unsupported)} sentence(s) the articles do not support were removed.")
            fixed = sum(c.realigned for c in self.kept)
            if fixed:
                answer.notes.append(f"{fixed} citation(s) were missing or wrong and were set by matching the article text.")
            invalid = sorted({n for c in self.kept + self.dropped for n in c.invalid})
            if invalid:
                answer.notes.append("Citation(s) " + ", ".join(f"[{n}]" for n in invalid) + " pointed at no source and were removed.")
            if self.failure:
                answer.notes.append(f"Generation stopped early ({self.failure}); the answer may be incomplete.")
            return answer
        if self.model_abstained and not owner.abstain_gate:
            return Answer(
                text=ABSTAIN_TEXT, citations=[], abstained=True, question=request.question, query=request.query,
                passages=request.passages, mode_used=owner.name,
                notes=[f"The {label} found no answer in the articles."],
            )
        if self.failure:
            why, fallback.fallback = f"the {label} failed ({self.failure})", Fallback.BACKEND_FAILED
        elif self.model_abstained:
            why = f"the {label} said the articles do not answer, but they hold a matching passage"
            fallback.fallback = Fallback.MODEL_ABSTAINED
        else:
            why, fallback.fallback = f"none of the {label}'s sentences was supported by the articles", Fallback.UNSUPPORTED
        fallback.notes.insert(0, f"Showing the extractive answer: {why}.")
        fallback.mode_used = "extractive"
        return fallback


def _describe(exc: Exception, config: Config) -> str:
    """A one-line, actionable reason for a model failure, without secrets: it is logged and shown
    in the answer, and a server may echo the key it was sent ("Incorrect API key provided: sk-…")."""
    return config.redact(_reason(exc, config))


def _reason(exc: Exception, config: Config) -> str:
    name = type(exc).__name__
    if "Timeout" in name:
        return f"timed out after {config.llm_timeout:g} s (RAG_LLM_TIMEOUT)"
    if "Connection" in name:
        return f"cannot reach {config.openai_base_url} (is the server running? RAG_OPENAI_BASE_URL)"
    message = re.sub(r"\s+", " ", str(exc))[:200]
    return f"{name}: {message}" if message else name
