"""Text encodings of input files: one rule for logs, CSV, YAML and JSON.

The order is stated so a report can say which one was used: a byte-order mark (UTF-8, UTF-16 or
UTF-32) first; then the pattern of NUL bytes that UTF-16/32 text without a mark leaves (ASCII text
in UTF-16-LE has a NUL at every odd offset); then strict UTF-8; then the fallback chain
``FALLBACKS`` (GB18030, a superset of GBK and GB2312, common on Chinese systems). Bytes that none of
them decodes are binary, and the caller is told so with the file named.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from pathlib import Path

from opskit.errors import InputError

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
FALLBACKS: tuple[str, ...] = ("gb18030",)
SNIFF_BYTES = 64 * 1024
ENCODING_HINT = "pass the file as UTF-8 (iconv -f ENCODING -t UTF-8 FILE), or name its encoding with `encoding`"


@dataclass(frozen=True)
class DecodedText:
    """A file's text and the encoding it was read with (``how`` says why that one)."""

    text: str
    encoding: str
    how: str  # "bom", "nul pattern", "utf-8", "fallback"


def bom_length(encoding: str) -> int:
    """Bytes of byte-order mark the named encoding starts with (0 when it has none)."""
    return next((len(bom) for bom, name in BOMS if name == encoding), 0)


def _nul_pattern(sample: bytes) -> str | None:
    """UTF-16/32 without a mark, told by where the NULs of mostly-ASCII text fall."""
    n = len(sample) - len(sample) % 4
    if n < 8:
        return None
    sample = sample[:n]
    nuls = [sample[i::4].count(0) / (n // 4) for i in range(4)]
    if nuls[1] > 0.9 and nuls[2] > 0.9 and nuls[3] > 0.9 and nuls[0] < 0.1:
        return "utf-32-le"
    if nuls[0] > 0.9 and nuls[1] > 0.9 and nuls[2] > 0.9 and nuls[3] < 0.1:
        return "utf-32-be"
    odd = (nuls[1] + nuls[3]) / 2
    even = (nuls[0] + nuls[2]) / 2
    if odd > 0.6 and even < 0.1:
        return "utf-16-le"
    if even > 0.6 and odd < 0.1:
        return "utf-16-be"
    return None


def _decodes(sample: bytes, encoding: str, *, final: bool) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        decoder.decode(sample, final=final)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(raw: bytes, *, complete: bool = False) -> tuple[str, str] | None:
    """``(encoding, how)`` for the start of a file, or None when it reads as binary.

    ``complete`` says ``raw`` is the whole file (so a multi-byte character cut at the end of a
    sample is not held against UTF-8)."""
    for bom, name in BOMS:
        if raw.startswith(bom):
            return name, "bom"
    guessed = _nul_pattern(raw[:SNIFF_BYTES])
    if guessed:
        return guessed, "nul pattern"
    sample = raw if complete else raw[:SNIFF_BYTES]
    if b"\x00" in sample:
        return None
    if _decodes(sample, "utf-8", final=complete or len(raw) <= SNIFF_BYTES):
        return "utf-8", "utf-8"
    for name in FALLBACKS:
        if _decodes(sample, name, final=complete or len(raw) <= SNIFF_BYTES):
            return name, "fallback"
    return None


def decode(raw: bytes, *, path: str | Path | None = None, encoding: str | None = None) -> DecodedText:
    """The text of ``raw`` (a whole file), detected as above unless ``encoding`` names one.

    Raises InputError naming the file, the byte offset and the encoding tried when it cannot be
    decoded in full: a text that is only partly readable is never returned as if complete."""
    how = "given"
    if encoding is None:
        found = detect_encoding(raw, complete=True)
        if found is None:
            raise InputError(
                "not text: it decodes as none of UTF-8/16/32 or " + ", ".join(FALLBACKS) + " (a binary file?)",
                path=path,
                hint=ENCODING_HINT,
            )
        encoding, how = found
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        at = f" at byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else ""
        raise InputError(f"cannot be decoded as {encoding}{at}", path=path, hint=ENCODING_HINT) from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    return DecodedText(text, encoding, how)


def read_text(path: str | Path, *, encoding: str | None = None) -> DecodedText:
    """The whole text of the file at ``path``, with the encoding it was read in."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except IsADirectoryError as exc:
        raise InputError("is a folder, not a file", path=p, hint="name a file inside it") from exc
    except OSError as exc:
        raise InputError(f"cannot be read: {exc.strerror or exc}", path=p) from exc
    return decode(raw, path=p, encoding=encoding)


def open_text(path: str | Path, *, encoding: str | None = None) -> tuple[io.TextIOBase, str]:
    """A text stream over the file (for readers that stream large inputs) and its encoding.

    The encoding is detected from the first 64 KiB; a later byte that does not decode raises
    UnicodeDecodeError from the stream, which the caller reports with the file and line."""
    p = Path(path)
    if encoding is None:
        with open(p, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
        found = detect_encoding(head, complete=len(head) < SNIFF_BYTES)
        if found is None:
            raise InputError("not text (a binary file?)", path=p, hint=ENCODING_HINT)
        encoding = found[0]
    return open(p, encoding=encoding, newline=""), encoding
