"""Bulk import: another folder of articles, or a JSONL or CSV export with one article per record.

Imported articles are written under `<seeds>/imported/<name>/` (one file per article, its title,
date, publisher and url in a front-matter header the cleaner reads), so the seeds folder stays
the one source of truth: `python -m rag index` keeps them, re-importing an unchanged export
rewrites nothing, and only new or changed articles are embedded. A re-import mirrors its source:
articles no longer in it are removed from the import's folder (and so from the index).

Everything is checked before anything is written: a record without its text, or a named field
that a record lacks, is refused with the record's line and the field's name, and the seeds
folder is left as it was.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError
from rag.ingest.loaders import SUPPORTED_SUFFIXES, corpus_files, read_bytes

IMPORTED = "imported"  # <seeds>/imported/<name>/: one folder per import
PARTS = ("text", "title", "date", "url", "publisher", "id")  # the parts of an article a record may hold
RECORD_SUFFIXES = {".jsonl", ".ndjson", ".csv"}
_MAX_ID_CHARS = 100
# An export is read whole: up to this many articles' worth of the per-article limit (250 MB by default).
EXPORT_LIMIT_ARTICLES = 50


@dataclass(frozen=True)
class Fields:
    """Which field (JSONL) or column (CSV) holds each part of an article. `text` must be in
    every record; a field named explicitly (`required`) must be too; the others are used when
    present."""

    text: str = "text"
    title: str = "title"
    date: str = "date"
    url: str = "url"
    publisher: str = "publisher"
    id: str = "id"
    required: frozenset[str] = frozenset()  # names of parts the user named: missing is an error

    @classmethod
    def named(cls, **names: str | None) -> Fields:
        """The parts given a field name (None: the default), each then required in every record."""
        given = {part: name for part, name in names.items() if name}
        return cls(**given, required=frozenset(given))


@dataclass(frozen=True)
class ImportResult:
    folder: Path  # where the articles were written, inside the seeds folder
    written: int  # new or changed files
    unchanged: int
    removed: int = 0  # files of an earlier import of this source that it no longer holds


def import_path(path: Path, seeds_dir: Path, fields: Fields = Fields(), max_bytes: int = 5_000_000,
                name: str | None = None) -> ImportResult:
    """Copy a folder's articles, or split an export's records into articles, under the seeds folder."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    seeds = Path(seeds_dir).resolve()
    if path.resolve() == seeds or path.resolve().is_relative_to(seeds):
        raise CorpusError(f"{path} is already inside the seeds folder {seeds_dir}; run `python -m rag index`")
    target = seeds / IMPORTED / _safe_name(name or path.stem)
    if path.is_dir():
        files = {str(p.relative_to(path)): read_bytes(p, max_bytes) for p in corpus_files(path)}
    elif path.suffix.lower() in RECORD_SUFFIXES:
        limit = EXPORT_LIMIT_ARTICLES * max_bytes
        if path.stat().st_size > limit:
            raise CorpusError(f"{path}: {path.stat().st_size:,} bytes is over the {limit:,}-byte limit for one export; split it")
        files = records_to_files(path, read_bytes(path, limit), fields, max_bytes)
    else:
        kinds = ", ".join(sorted(RECORD_SUFFIXES))
        hint = "; to add one article file, use `python -m rag add FILE`" if path.suffix.lower() in SUPPORTED_SUFFIXES else ""
        raise CorpusError(f"{path}: cannot import a {path.suffix or 'suffix-less'} file; import a folder or an export "
                          f"({kinds}){hint}")
    written = 0
    for rel, data in files.items():
        out = target / rel
        if out.is_file() and out.read_bytes() == data:
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")  # a crash mid-write leaves no half article
        tmp.write_bytes(data)
        tmp.replace(out)
        written += 1
    stale = [p for p in target.rglob("*") if p.is_file() and str(p.relative_to(target)) not in files] if target.exists() else []
    for p in stale:
        p.unlink()
    return ImportResult(target, written, len(files) - written, len(stale))


def records_to_files(path: Path, data: bytes, fields: Fields, max_bytes: int) -> dict[str, bytes]:
    """One `.md` article per record (file name from the id field, or the record's number)."""
    records = _read_records(path, data)
    if not records:
        raise CorpusError(f"{path}: holds no records")
    out: dict[str, bytes] = {}
    for line, record in records:
        where = f"{path.name}, record on line {line}"
        for part in sorted(fields.required | {"text"}):
            field_name = getattr(fields, part)
            if field_name not in record:
                have = ", ".join(sorted(record)) or "none"
                raise CorpusError(f"{where}: no {field_name!r} field for the article's {part} (fields: {have})")
        text = _value(record, fields.text)
        if not text.strip():
            raise CorpusError(f"{where}: the {fields.text!r} field is empty")
        ident = _value(record, fields.id) or str(line)
        name = _safe_name(ident)[:_MAX_ID_CHARS] + ".md"
        if name in out:
            raise CorpusError(f"{where}: the id {ident!r} is used by an earlier record; ids must be unique")
        header = {k: " ".join(_value(record, getattr(fields, k)).split())
                  for k in ("title", "date", "publisher", "url")}
        front = "".join(f"{k}: {v}\n" for k, v in header.items() if v)
        body = f"---\n{front}---\n\n{text.strip()}\n".encode() if front else f"{text.strip()}\n".encode()
        if len(body) > max_bytes:
            raise CorpusError(f"{where}: {len(body):,} bytes is over the {max_bytes:,}-byte limit for one article")
        out[name] = body
    return out


def _read_records(path: Path, data: bytes) -> list[tuple[int, dict]]:
    """(line number, record) pairs; a record that is not an object is refused with its line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not valid UTF-8 (at byte {exc.start}); re-save the export as UTF-8") from exc
    if path.suffix.lower() == ".csv":
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            # A CSV row's line is the line it ends on (quoted fields may span lines).
            rows = []
            for row in reader:
                rows.append((reader.line_num, {k: v for k, v in row.items() if k is not None}))
            return rows
        except csv.Error as exc:
            raise CorpusError(f"{path}: not a readable CSV file ({exc})") from exc
    records = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path.name}, line {i}: not a JSON record ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise CorpusError(f"{path.name}, line {i}: a record must be a JSON object, not {type(record).__name__}")
        records.append((i, record))
    return records


def _value(record: dict, name: str) -> str:
    v = record.get(name)
    return "" if v is None else str(v)


def _safe_name(name: str) -> str:
    """A file or folder name from an id: no separators, no traversal, no hidden names."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return cleaned or "import"
