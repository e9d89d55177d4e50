"""Decode a text file's bytes: UTF-8 when it is, else the encoding charset-normalizer detects."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from rag.errors import CorpusError

# Single-byte code pages often tie in charset-normalizer (same chaos, same coherence: "café" reads
# as well in cp1250 as in cp1252), and it then returns the first one it tried, cp1250, which turns
# "où" into "oů". News archives outside Central Europe are overwhelmingly Windows-1252 / Latin-1,
# so a tie is broken in this order.
_PREFERRED = ("cp1252", "iso8859_1", "iso8859_15")
_C1 = bytes(range(0x80, 0xA0))  # where cp1252 and Latin-1 differ
# More control characters than this share of the text: a binary file, not text in some encoding.
_MAX_CONTROL_SHARE = 0.01  # hand-set: real text has none besides tabs and newlines


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # Python's canonical codec name ("utf-8", "cp1252", "iso8859-1", ...)


def decode_text(source: Path | str, data: bytes) -> Decoded:
    """The file's text and the encoding it was read with; CorpusError naming the file when no
    text encoding fits (a binary file saved as .txt)."""
    try:
        return Decoded(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if matches:
        best = matches[0]
        tied = {enc for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)
                for enc in m.could_be_from_charset}
        encoding = next((e for e in _PREFERRED if e in tied), best.encoding)
        if encoding == "cp1252" and not any(b in _C1 for b in data):
            encoding = "iso8859_1"  # the same characters either way; Latin-1 is the plainer name
        text = data.decode(encoding)
        controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
        if controls <= _MAX_CONTROL_SHARE * len(text):
            return Decoded(text.lstrip("\ufeff"), codecs.lookup(encoding).name)
    raise CorpusError(
        f"{source}: not valid UTF-8 (byte 0x{data[first_bad]:02x} at position {first_bad}) and no other text "
        "encoding fits; is it a text file? Re-save it as UTF-8"
    )
