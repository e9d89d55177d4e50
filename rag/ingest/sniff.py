"""Tell a binary file from text before it is decoded: a picture or an archive renamed `.txt` is
refused as binary, not as "not valid UTF-8; re-save the file as UTF-8", which misleads."""

from __future__ import annotations

# Signatures of formats people drop into a folder by mistake (first bytes of the file).
_MAGIC = {
    b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image", b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or a .docx/.xlsx)", b"\x1f\x8b": "a gzip archive", b"\x7fELF": "a program",
    b"\xd0\xcf\x11\xe0": "an old Office document", b"SQLite format 3\x00": "a SQLite database",
}  # (others, Windows programs and media included, hold NUL bytes: caught below)
# UTF-16/32 text has NUL bytes by design; its byte-order mark says so (decoding is another step's).
_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")
_SAMPLE = 8192  # bytes looked at: enough to see a header, cheap on a 5 MB file
# Share of control bytes (other than tab, newline, carriage return, form feed) above which the
# sample is not text: hand-set; prose in any 8-bit encoding has next to none, binaries ~10-30%.
MAX_CONTROL_SHARE = 0.05


def binary_kind(data: bytes) -> str:
    """What `data` looks like when it is not text ("a PNG image", "binary data"), else ""."""
    head = data[:_SAMPLE]
    if head.startswith(_BOMS):
        return ""
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "binary data"
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if head and controls / len(head) > MAX_CONTROL_SHARE:
        return "binary data"
    return ""
