"""From files to drift inputs: the reference (a table or a saved profile) and the current data in chunks.

The runbook calls these so that reading stays bounded: the reference is profiled once (or its
saved profile loaded), the current table is read in record batches of ``chunk_rows`` and counted
against the profile, and only the few columns the model checks need (timestamp, label,
prediction) are read whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.analyses.drift.accuracy import correct_predictions
from opskit.analyses.drift.counts import CurrentCounts
from opskit.analyses.drift.profile import ColumnType, ReferenceProfile, build_profile
from opskit.sources.datasets import iter_batches, prefetch, read_table, table_columns, table_format

ACCURACY_KEY = "accuracy"


def is_profile_path(path: str | os.PathLike[str]) -> bool:
    """A saved profile is a ``.json`` file (tables in JSON lines use ``.jsonl``)."""
    return Path(path).suffix.lower() == ".json" and Path(path).is_file() and _looks_like_profile(Path(path))


def _looks_like_profile(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(200)
    return b'"format"' in head and b"opskit.drift.profile" in head


def load_reference(
    path: str | os.PathLike[str],
    *,
    bins: int = 10,
    column_types: Mapping[str, str] | None = None,
    exclude: Iterable[str] = (),
    target: str | None = None,
    prediction: str | None = None,
) -> tuple[ReferenceProfile, pd.DataFrame | None]:
    """The reference profile, and the reference table when ``path`` is a table (None for a profile).

    A table is profiled without ``exclude`` (label, timestamp, ids); when it has both ``target`` and
    ``prediction`` the profile also records how many reference predictions were right, so later
    runs against the saved profile can still judge accuracy.
    """
    if is_profile_path(path):
        return ReferenceProfile.load(path), None
    frame = read_table(path)
    profile = build_profile(frame, bins=bins, column_types=column_types, exclude=exclude, source=str(path))
    if target and prediction and target in frame.columns and prediction in frame.columns:
        correct = correct_predictions(frame, target=target, prediction=prediction, side="reference")
        profile = profile.with_extras(
            **{ACCURACY_KEY: {"target": target, "prediction": prediction, "correct": int(correct.sum()),
                              "rows": int(correct.size)}}
        )  # fmt: skip
    return profile, frame


def reference_correct(profile: ReferenceProfile, frame: pd.DataFrame | None, *, target: str, prediction: str):
    """Right/wrong per reference row, from the table or from the counts saved in the profile."""
    if frame is not None:
        return correct_predictions(frame, target=target, prediction=prediction, side="reference")
    saved = profile.extras.get(ACCURACY_KEY)
    if not saved:
        return np.zeros(0, dtype=bool)
    return np.r_[np.ones(saved["correct"], dtype=bool), np.zeros(saved["rows"] - saved["correct"], dtype=bool)]


def count_current_file(
    profile: ReferenceProfile,
    path: str | os.PathLike[str],
    *,
    chunk_rows: int = 1_000_000,
    keep_values: bool = True,
    sample_size: int = 100_000,
    engine: str | None = None,
    block_bytes: int = 64 << 20,
    piece_bytes: int | None = 64 << 20,
) -> CurrentCounts:
    """Count the current table against ``profile`` chunk by chunk (only the profiled columns are read).

    A Parquet file is read row group by row group in pieces of a few columns (about
    ``piece_bytes`` each; None: whole row groups), the next piece read on a thread while this one
    is counted. Counting is per column, so the pieces give the same counts and samples as whole
    chunks, with less in memory.
    """
    available = table_columns(path)
    wanted = [c for c in available if c in profile.features]
    counted = CurrentCounts(profile, keep_values=keep_values, sample_size=sample_size, engine=engine)
    # CSV types come from the first block: read numeric features as text there, parsed per feature,
    # so a stray word far down a column is that feature's ERROR row, not a failed read
    text = [c for c in wanted if profile.features[c].kind == ColumnType.NUMERIC] if table_format(path) == "csv" else []
    batches = iter_batches(
        path, columns=wanted, batch_rows=chunk_rows, text_columns=text, block_bytes=block_bytes, piece_bytes=piece_bytes
    )
    first = wanted[0] if wanted else None
    for batch in prefetch(batches):  # read the next piece while this one is counted
        # a piece without the first column holds more columns of rows already counted
        counted.add(batch, new_rows=first is None or first in batch.schema.names)
    counted.columns_seen.update(available)
    return counted
