"""The named constants of the answer, grounding, generation, cleaning, retrieval and indexing steps.

Each group is a frozen dataclass reachable from `Config` (`config.answer.min_words`), so the eval
can sweep them without code edits: `RAG_ANSWER__MIN_WORDS=8` in the environment, or
`python -m rag.eval --config wider:answer.min_words=8`. Each field's note says what it does and
how it was set (hand-set or measured, on which data, in which commit). The fitted weights of the
answer model are data, not tunables: rag/data/answer_model.json (scripts/fit_answer_model.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerTunables:
    """The extractive answer step (rag.answer.extractive, rag.answer.evidence). Hand-set, not fitted:
    the fit weighs the features these shape (see rag/data/answer_model.json)."""

    min_words: int = 6  # sentences shorter than this many words are headings or fragments, never an answer; hand-set 2026-11 (499ad89)
    voters: int = 8  # eligible sentences whose values vote for the short answer (= the passages retrieved, top_k); hand-set 2026-12 (4a32a2c)
    rare_terms: int = 3  # how many of the question's rarest known terms the rare_terms feature looks for; the earlier FOCUS_TERMS, set on eval/dev_qa.jsonl 2026-11-23
    focus_window: int = 5  # words after a value in which the noun asked about must stand ("173 of the 299 votes"); hand-set 2026-12 (f4456f8)
    short_near_words: int = 6  # words either side of a value in which the short answer looks for the question's words; set on the dev questions 2026-12-04 (windows 3-15 tried: 6 best, 89-93 of 116 right for 3-10, 86 with the earlier order)
    near_words: int = 10  # an answer value within this many words of a question word stands beside it; threshold from eval/dev_qa.jsonl 2026-11-23 (ebda7ee)
    order_window: int = 4  # words within which two question terms count as in the question's order (the "order" feature); hand-set 2026-11-23 (77d5ef0)


@dataclass(frozen=True)
class GroundingTunables:
    """Whether a generated sentence is supported by the sources (rag.answer.grounding)."""

    min_coverage: float = 0.7  # a claim is supported when a source sentence holds this IDF-weighted share of its words; hand-set 2026-11-23 (5d4f68a)
    min_paraphrase_coverage: float = 0.5  # ...or a paraphrase: this lower share, when also close in meaning; hand-set 2026-11-23 (5d4f68a)
    min_paraphrase_cosine: float = 0.7  # ...the MiniLM cosine a paraphrase needs; hand-set 2026-11-23 (5d4f68a)
    min_claim_terms: int = 2  # claims with fewer content words say nothing checkable ("Yes.", "In 2025 [1]."); hand-set 2026-11-23 (5d4f68a)
    cosine_weight: float = 0.5  # weight of the cosine beside the coverage when ranking support candidates; hand-set 2026-11-23 (5d4f68a)
    pair_penalty: float = 0.1  # score taken from a pair of consecutive sentences, so a pair wins only when it covers clearly more; hand-set 2026-11-23 (5d4f68a)


@dataclass(frozen=True)
class GenerationTunables:
    """The generative answer modes (rag.answer.generative)."""

    drift_limit: int = 2  # stop once this many sentences in a row were unsupported: the model drifted (or never started); hand-set 2026-11-23 (5d4f68a)
    relevance_ratio: float = 0.7  # a later sentence must be this relevant (cosine to the question) relative to the first kept one; hand-set 2026-11-23 (824d2c6)
    abstain_gate: bool = True  # ask the model only when the extractive check finds an answer; measured, see the README's table (5d4f68a)
    context_margin: int = 48  # tokens kept free in the context for the template's own wrapping (chat markers, BOS); hand-set 2026-11-23 (5d4f68a)


@dataclass(frozen=True)
class CleaningTunables:
    """Finding the story in a saved web page (rag.ingest.cleaning). A change rebuilds the index."""

    body_min_words: int = 12  # a line of at least this many words may be prose; hand-set 2026-11-23 (499ad89)
    body_baseline: int = 10  # prose lines earn their word count above this; hand-set 2026-11-23 (499ad89)
    short_line_cost: int = 3  # what a short line (menu, byline, caption) costs the run of prose around it; hand-set 2026-11-23 (499ad89)
    repeated_keep_min_words: int = 20  # a line repeated on the page is kept in the story only from this many words; hand-set 2026-11-23 (499ad89)
    body_unpunctuated_words: int = 20  # a body-length line this long is prose even without closing punctuation; hand-set 2026-11-23 (499ad89)
    headline_min_words: int = 3  # a related story's headline has at least this many words...; hand-set 2026-11-23 (499ad89)
    headline_max_words: int = 24  # ...and at most this many; hand-set 2026-11-23 (499ad89)
    section_heading_max_words: int = 12  # a short line inside the body of at most this many words may head the prose after it; hand-set 2026-11-23 (499ad89)
    title_lookback_lines: int = 8  # lines above the body searched for its headline; hand-set 2026-11-23 (499ad89)
    note_sentence_min_words: int = 3  # a page of short lines is a story when a line ending like a sentence has this many words...; hand-set 2026-11-23 (499ad89)
    note_line_min_words: int = 10  # ...or any line has this many (a menu is not a story); hand-set 2026-11-23 (499ad89)
    related_min_words: int = 50  # a related story needs this many words (a repeated line this long is a real, duplicated paragraph); hand-set 2026-11-23 (499ad89)


@dataclass(frozen=True)
class RetrievalTunables:
    """The retrieval step's corpus statistics (rag.retrieve). Config.retrieval names the retriever."""

    common_share: float = 0.3  # a term in at least this share of passages locates nothing ("india" in an India-Japan corpus); hand-set 2026-11-23 (602b785)
    followup_max_terms: int = 2  # a question with at most this many content terms is read as a follow-up of the previous one; hand-set 2026-11-23 (499ad89)


@dataclass(frozen=True)
class IndexingTunables:
    """Which sentences are embedded, and in what pieces (rag.store.indexer, rag.text.sentences).
    A change rebuilds the index."""

    min_sentence_chars: int = 20  # sentences shorter than this carry no answer and are not embedded (headings, "Then there's Russia."); hand-set 2026-11-23 (499ad89)
    max_segment_words: int = 24  # sentences longer than this are embedded clause by clause (one vector for two or three facts matches none well); hand-set 2026-11-23 (77d5ef0)
    min_segment_words: int = 8  # a clause shorter than this is merged into its neighbour (a two-word vector matches every question naming the country); hand-set 2026-11-23 (3bed65e)


# Config field name → group class. The names differ from every other Config field
# (Config.retrieval is the retriever's mode, so its tunables are `retrieve`).
GROUPS: dict[str, type] = {
    "answer": AnswerTunables,
    "grounding": GroundingTunables,
    "generation": GenerationTunables,
    "cleaning": CleaningTunables,
    "retrieve": RetrievalTunables,
    "indexing": IndexingTunables,
}
