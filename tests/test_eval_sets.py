"""The BBC question files are well formed: every evidence span is in a story it names, every fact is
in the reference answer, and no story has questions on both sides of the dev/test split.

The stories themselves cannot ship in the repository (eval/README.md), so the checks that read
them skip where RAG_BBC_ARTICLES is not set (.ci/run sets it).
"""

from __future__ import annotations

import json

import pytest

from rag.eval import haystack

SETS = haystack.QUESTIONS  # the files the eval and the fit read
TYPES = {"who", "organisation", "where", "when", "number", "money", "percent", "why", "multi_sentence", "unanswerable"}


def _records(split: str) -> list[dict]:
    return [json.loads(line) for line in SETS[split].read_text(encoding="utf-8").splitlines() if line.strip()]


def _stories(record: dict) -> set[str]:
    return set(record["doc_ids"]) | set(record.get("about", []))


@pytest.mark.parametrize("split", sorted(SETS))
def test_records_are_well_formed(split):
    records = _records(split)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for r in records:
        assert r["type"] in TYPES, (r["id"], r["type"])
        assert r["answerable"] == (r["type"] != "unanswerable"), r["id"]
        if r["answerable"]:
            assert r["doc_ids"] and r["evidence"] and r["facts"], r["id"]
            for alternatives in r["facts"]:
                assert any(a.lower() in r["answer"].lower() for a in alternatives), (r["id"], alternatives)
        else:
            assert not r["doc_ids"] and not r["facts"] and r["about"] and r["near_miss"], r["id"]


def test_no_story_is_on_both_sides_of_the_split():
    dev = set().union(*(_stories(r) for r in _records("dev")))
    test = set().union(*(_stories(r) for r in _records("test")))
    assert not dev & test, sorted(dev & test)[:10]


@pytest.fixture(scope="module")
def articles() -> dict[str, str]:
    path = haystack.default_articles()
    if not path.is_file():
        pytest.skip(f"BBC articles not found at {path} (set RAG_BBC_ARTICLES); they cannot ship in the repository")
    return {a["id"]: a["text"] for a in haystack.read_articles(path)}


@pytest.mark.parametrize("split", sorted(SETS))
def test_evidence_is_verbatim_in_the_named_stories(split, articles):
    for r in _records(split):
        assert _stories(r) <= articles.keys(), (r["id"], _stories(r) - articles.keys())
        for span in r["evidence"]:
            assert any(span in articles[d] for d in r["doc_ids"]), (r["id"], span)
        for alternatives in r["facts"]:
            # One alternative is the story's own wording, so an answer that quotes it matches.
            assert any(a.lower() in articles[d].lower() for a in alternatives for d in r["doc_ids"]), (r["id"], alternatives)
