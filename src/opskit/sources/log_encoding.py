"""Logs written in UTF-16 or UTF-32 (PowerShell's ``>``, some Windows services), read as UTF-8 bytes.

The log scanners work on bytes split at ``\\n``; a UTF-16 file has a NUL after every ASCII byte, so it
is transcoded on the fly: :class:`TranscodedStream` decodes the file with the encoding found by
:func:`opskit.sources.encodings.detect_encoding` and yields UTF-8. Offsets are positions in that UTF-8
stream, and ``seek`` (forward from the start, as excerpts need) re-reads up to them.

A ``.gz`` cut short is read up to the cut (:func:`gzip_head`, :func:`read_until_damage`): gzip's
``read(n)`` drops the whole piece in which the damage falls, ``read1`` keeps what came before it
(:class:`UntilDamage`). :func:`check_utf8_text` refuses, naming the file, a table or request log that
is empty, binary, a cut ``.gz`` or text in another encoding (named, with the command that converts it).
"""

from __future__ import annotations

import codecs
import gzip
import io
from pathlib import Path
from typing import BinaryIO

from opskit.errors import InputError
from opskit.sources.encodings import detect_encoding

WIDE = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")


def wide_encoding(head: bytes) -> str | None:
    """The UTF-16/UTF-32 encoding of a file's first bytes, or None for a byte-wide text (or binary)."""
    found = detect_encoding(head)
    if found is None or found[0].lower().replace("_", "-") not in WIDE:
        return None
    if found[1] == "bom":
        return found[0]
    # guessed from where the NULs fall: believe it only if the text is mostly ASCII (binary data has NULs too)
    text = head[: len(head) - len(head) % 4].decode(found[0], errors="replace")
    ascii_text = sum(1 for c in text if " " <= c < "\x7f" or c in "\t\r\n")
    return found[0] if text and ascii_text >= 0.8 * len(text) else None


class TranscodedStream(io.RawIOBase):
    """A binary stream of UTF-8 bytes over a binary stream in ``encoding``."""

    def __init__(self, raw: BinaryIO, encoding: str):
        self.raw = raw
        self.decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self.buffer = b""
        self.pos = 0
        self.done = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while not self.done and (n < 0 or len(self.buffer) < n):
            chunk = self.raw.read(1 << 16)
            text = self.decoder.decode(chunk, final=not chunk)
            self.buffer += text.lstrip("\ufeff").encode("utf-8") if self.pos == 0 else text.encode("utf-8")
            self.done = not chunk
        out, self.buffer = (self.buffer, b"") if n < 0 else (self.buffer[:n], self.buffer[n:])
        self.pos += len(out)
        return out

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence != io.SEEK_SET or offset < self.pos:
            raise io.UnsupportedOperation("a transcoded log seeks forward from the start only")
        while self.pos < offset and self.read(min(offset - self.pos, 1 << 16)):
            pass
        return self.pos

    def close(self) -> None:
        self.raw.close()
        super().close()


def gzip_head(path: Path, limit: int) -> bytes:
    """The first decompressed bytes of a gzip file, as many as precede any damage (a cut ``.gz``)."""
    parts: list[bytes] = []
    with gzip.open(path, "rb") as fh:
        got = 0
        while got < limit:
            try:
                piece = fh.read1(limit - got)
            except (EOFError, gzip.BadGzipFile, OSError):
                break  # the scan reads up to the damage and says so
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
    return b"".join(parts)


def read_until_damage(fh: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes, stopping without an error where a cut ``.gz`` ends (the scan reports the cut)."""
    return UntilDamage(fh).read(n)


class UntilDamage:
    """A stream that ends, instead of raising, where a cut ``.gz`` ends; ``damage`` then says why."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.damage: str | None = None

    def read(self, n: int = -1) -> bytes:
        if self.damage is not None:
            return b""
        read = getattr(self.stream, "read1", self.stream.read)
        parts: list[bytes] = []
        want = n if n is not None and n >= 0 else 1 << 62
        while want > 0:
            try:
                piece = read(min(want, 1 << 16))
            except (EOFError, OSError) as exc:
                self.damage = str(exc) or type(exc).__name__
                break
            if not piece:
                break
            parts.append(piece)
            want -= len(piece)
        return b"".join(parts)


def check_utf8_text(p: Path, what: str, *, whole: bool = True) -> None:
    """Refuse a text file (``.gz`` ok) that cannot be read in full as UTF-8, naming it and what is wrong.

    ``what`` says what the file should be ("GPU tables are CSV ..., read as UTF-8"). ``whole`` False
    checks only the start (for readers that report a cut ``.gz`` themselves, with the lines read)."""
    if p.stat().st_size == 0:
        raise InputError("the file is empty", path=p, hint="check the export wrote the table")
    with open(p, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    opened = gzip.open(p, "rb") if compressed else open(p, "rb")  # noqa: SIM115
    with opened as fh:
        reader = UntilDamage(fh)
        head = reader.read(1 << 16)
        while whole and compressed and reader.read(1 << 20):  # a cut .gz is found only at its end
            pass
    if reader.damage is not None and whole:
        raise InputError(f"the compressed file is damaged ({reader.damage})", path=p,
                         hint="copy the file again (a .gz cut short is re-fetched whole) and rerun")  # fmt: skip
    found = detect_encoding(head, complete=len(head) < 1 << 16 and reader.damage is None)
    if found is None:
        raise InputError(f"not text (a binary file?): {what}", path=p, hint="pass the text export itself")
    if found[0] not in ("utf-8", "utf-8-sig"):
        how = {"bom": "its byte-order mark", "nul pattern": "where its NUL bytes fall"}.get(found[1], "the fallback")
        name = found[0].upper()
        raise InputError(f"{name} text (told by {how}): {what}", path=p,
                         hint=f"convert it: iconv -f {name} -t UTF-8 FILE > FILE.utf8, and pass that")  # fmt: skip
