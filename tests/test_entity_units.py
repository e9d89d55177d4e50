"""Entity tagging paragraph by paragraph: offsets in the whole text, and an edit re-tags only
the paragraphs it touched (the real spaCy model; only its inputs are counted)."""

from __future__ import annotations

from rag.text import entities
from rag.text.entities import EntityTagger, ner_pipeline, paragraphs

STORY = (
    "Tony Blair visited Paris on Monday.\n\n"
    "The Quillon harbour authority approved two berths at a cost of 12 million euros.\n  \n"
    "Angela Merkel spoke in Berlin.\nShe met Siemens."
)


def test_paragraphs_are_the_runs_between_blank_lines_with_their_offsets():
    parts = paragraphs(STORY)
    assert [p for _, p in parts] == [
        "Tony Blair visited Paris on Monday.",
        "The Quillon harbour authority approved two berths at a cost of 12 million euros.",
        "Angela Merkel spoke in Berlin.\nShe met Siemens.",  # one line break does not split
    ]
    assert all(STORY[o : o + len(p)] == p for o, p in parts)
    assert paragraphs("") == [] and paragraphs("\n\nx\n\n") == [(2, "x")]


def _counting(monkeypatch) -> list[str]:
    seen: list[str] = []
    nlp = ner_pipeline()

    class Counting:
        def pipe(self, texts, batch_size=32):
            texts = list(texts)
            seen.extend(texts)
            return nlp.pipe(texts, batch_size=batch_size)

    monkeypatch.setattr(entities, "ner_pipeline", lambda: Counting())
    return seen


def test_spans_point_into_the_whole_text_and_an_edit_retags_only_its_paragraph(tmp_path, monkeypatch):
    seen = _counting(monkeypatch)
    tagger = EntityTagger(tmp_path / "entities.sqlite")
    [spans] = tagger.tag([STORY])
    found = {(STORY[e.start : e.end], e.label) for e in spans}
    assert {("Tony Blair", "PERSON"), ("Paris", "GPE"), ("Berlin", "GPE")} <= found
    assert [e.start for e in spans] == sorted(e.start for e in spans)
    assert len(seen) == 3

    seen.clear()
    edited = STORY.replace("on Monday", "on Tuesday")
    [again] = EntityTagger(tmp_path / "entities.sqlite").tag([edited])
    assert seen == ["Tony Blair visited Paris on Tuesday."]  # the other two came from the cache
    assert ("Tuesday", "DATE") in {(edited[e.start : e.end], e.label) for e in again}
    assert ("Berlin", "GPE") in {(edited[e.start : e.end], e.label) for e in again}


def test_a_paragraph_repeated_across_stories_is_tagged_once(monkeypatch):
    seen = _counting(monkeypatch)
    boiler = "Follow BBC News on Twitter for updates from London."
    texts = [f"Story {n} opened in Leeds.\n\n{boiler}" for n in ("one", "two")]
    first, second = EntityTagger(None).tag(texts)
    assert seen.count(boiler) == 1 and len(seen) == 3
    assert [texts[0][e.start : e.end] for e in first][-1] == [texts[1][e.start : e.end] for e in second][-1] == "London"
