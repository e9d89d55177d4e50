"""Chunks: exact offsets into the cleaned text, token-bounded, sentence-respecting, overlapping."""

from pathlib import Path

import pytest
from llama_index.core.utils import get_tokenizer

from rag.config import Config
from rag.ingest.chunking import Chunker
from rag.ingest.loaders import load_file
from rag.text.sentences import sentence_spans

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
DOCS = [d for p in sorted(SEEDS.glob("*.txt")) for d in load_file(p, SEEDS)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.doc_id)
def test_chunk_offsets_point_at_the_chunk_text(doc):
    cfg = Config()
    chunks = Chunker(cfg.chunk_tokens, cfg.chunk_overlap).split(doc)
    assert chunks
    tokenizer = get_tokenizer()
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.doc_id == doc.doc_id and c.title == doc.title
        assert len(tokenizer(c.text)) <= cfg.chunk_tokens
    # Together the chunks cover the whole document.
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())


def test_long_documents_get_overlapping_chunks():
    doc = max(DOCS, key=lambda d: len(d.text))
    chunks = Chunker(170, 30).split(doc)
    assert len(chunks) > 5
    overlaps = [a.end > b.start for a, b in zip(chunks, chunks[1:])]
    assert any(overlaps)


def test_sentence_spans_survive_initials_and_abbreviations():
    text = "India's Minister H.D. Kumaraswamy told reporters on Monday. The U.S. Navy agreed. It was done."
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["India's Minister H.D. Kumaraswamy told reporters on Monday.", "The U.S. Navy agreed.", "It was done."]
