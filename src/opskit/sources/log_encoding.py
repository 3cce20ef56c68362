"""Logs written in UTF-16 or UTF-32 (PowerShell's ``>``, some Windows services), read as UTF-8 bytes.

The log scanners work on bytes split at ``\\n``; a UTF-16 file has a NUL after every ASCII byte, so it
is transcoded on the fly: :class:`TranscodedStream` decodes the file with the encoding found by
:func:`opskit.sources.encodings.detect_encoding` and yields UTF-8. Offsets are positions in that UTF-8
stream, and ``seek`` (forward from the start, as excerpts need) re-reads up to them.
"""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO

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
