"""Streaming masking for big files: lines batched into ~1 MiB blocks, memory bounded.

Masking a block at once lets each rule's prefilter and regex run once per block instead of
once per line. A private-key block is never split between batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from opskit.privacy import MaskingPolicy, mask

BATCH_CHARS = 1 << 20
MAX_KEY_LINES = 200  # a PEM block longer than this is closed by force (masked to the end of the batch)


def mask_lines(lines: Iterable[str], *, policy: MaskingPolicy | None = None) -> Iterator[str]:
    """Yield masked text for ``lines`` (each ending in its newline), in batches."""
    batch: list[str] = []
    size = 0
    open_key = 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if "PRIVATE KEY-----" in line:
            open_key = 0 if "-----END" in line and "-----BEGIN" not in line else 1
        elif open_key:
            open_key += 1
        if size >= BATCH_CHARS and (not open_key or open_key > MAX_KEY_LINES):
            yield mask("".join(batch), policy=policy)
            batch, size, open_key = [], 0, 0
    if batch:
        yield mask("".join(batch), policy=policy)
