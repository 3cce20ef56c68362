"""The inputs of ``analyze_drift``: the reference (a table or a saved profile) and the current data in chunks.

Reading stays bounded: the reference is profiled once (or its saved profile loaded), the current
table is read in record batches of ``chunk_rows`` and counted against the profile, and only the
few columns the model checks need (timestamp, label, prediction) are read whole, later.
:func:`read_inputs` reads both sides for a run and says, as an ERROR row, which one failed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.analyses.drift.accuracy import with_reference_accuracy
from opskit.analyses.drift.columns import ColumnType
from opskit.analyses.drift.counts import CurrentCounts
from opskit.analyses.drift.features import CHECK_FEATURE
from opskit.analyses.drift.profile import PROFILE_FORMAT, ReferenceProfile, build_profile
from opskit.analyses.drift.settings import DriftSettings
from opskit.checks import Verdict, error_verdict
from opskit.errors import InputError
from opskit.samples import resolve
from opskit.sources.datasets import iter_batches, prefetch, read_table, table_columns, table_format


@dataclass(frozen=True)
class ReferenceInput:
    """The reference profile, and the reference table when it was read from one (None for a saved profile)."""

    profile: ReferenceProfile
    frame: pd.DataFrame | None = None


@dataclass(frozen=True)
class DriftInputs:
    """What a run read, as far as it got: ``error`` is the feature check's ERROR row when a side failed."""

    reference: ReferenceInput | None = None
    profile_path: Path | None = None  # where the profile was saved, when asked to
    current_path: Path | None = None  # set once the current data was read and counted
    counted: CurrentCounts | None = None
    error: Verdict | None = None


def read_inputs(
    reference: str | os.PathLike[str],
    current: str | os.PathLike[str],
    settings: DriftSettings,
    *,
    save_profile: str | os.PathLike[str] | None = None,
) -> DriftInputs:
    """Read the reference, save its profile when asked, count the current data; stop at the first failure."""
    try:
        ref = read_reference(resolve(reference), settings)
    except Exception as exc:  # the feature check's ERROR row; the checks after it skip
        return DriftInputs(error=error_verdict(CHECK_FEATURE, exc))
    try:
        saved = write_profile(ref.profile, save_profile) if save_profile else None
    except Exception as exc:
        return DriftInputs(reference=ref, error=error_verdict(CHECK_FEATURE, exc))
    try:
        current_path = resolve(current)
        counted = count_current_file(ref.profile, current_path, chunk_rows=settings.chunk_rows)
    except Exception as exc:
        return DriftInputs(reference=ref, profile_path=saved, error=error_verdict(CHECK_FEATURE, exc))
    return DriftInputs(reference=ref, profile_path=saved, current_path=current_path, counted=counted)


def is_profile_path(path: str | os.PathLike[str]) -> bool:
    """A saved profile is a ``.json`` file (tables in JSON lines use ``.jsonl``)."""
    return Path(path).suffix.lower() == ".json" and Path(path).is_file() and _looks_like_profile(Path(path))


def _looks_like_profile(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(200)
    return b'"format"' in head and PROFILE_FORMAT.split("/")[0].encode() in head


def read_profile(path: str | os.PathLike[str]) -> ReferenceProfile:
    """A profile saved by :func:`write_profile`; a missing or foreign file is an :class:`InputError`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("profile file not found", path=path, hint="check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"profile is not valid JSON: {exc}", path=path) from None
    return ReferenceProfile.from_dict(data, path=str(path))


def write_profile(profile: ReferenceProfile, path: str | os.PathLike[str]) -> Path:
    """Write ``profile`` as JSON (atomically: a reader never sees half a file); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(profile.to_dict(), indent=1, allow_nan=False, default=_json_default))
    os.replace(tmp, path)
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_reference(path: str | os.PathLike[str], settings: DriftSettings) -> ReferenceInput:
    """The reference profile (and table, when ``path`` is one) profiled as ``settings`` say.

    A table is profiled without the columns ``settings`` leave out (label, timestamp, ``exclude``);
    when it has both the label and the prediction, the profile also records how many reference
    predictions were right, so later runs against the saved profile can still judge accuracy.
    """
    if is_profile_path(path):
        return ReferenceInput(read_profile(path))
    frame = read_table(path)
    profile = build_profile(frame, settings, source=str(path))
    profile = with_reference_accuracy(profile, frame, target=settings.target, prediction=settings.prediction)
    return ReferenceInput(profile, frame)


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
    chunks, with less in memory. ``engine``: the counting engine (default: ``OPSKIT_DRIFT_ENGINE``).
    """
    available = table_columns(path)
    wanted = [c for c in available if c in profile.features]
    counted = CurrentCounts(profile, keep_values=keep_values, sample_size=sample_size, engine=engine)
    # CSV types come from the first block: read numeric and time features as text there, parsed per feature,
    # so a stray word far down a column is that feature's ERROR row, not a failed read
    binned = (ColumnType.NUMERIC, ColumnType.DATETIME)
    text = [c for c in wanted if profile.features[c].kind in binned] if table_format(path) == "csv" else []
    batches = iter_batches(
        path, columns=wanted, batch_rows=chunk_rows, text_columns=text, block_bytes=block_bytes, piece_bytes=piece_bytes
    )
    first = wanted[0] if wanted else None
    for batch in prefetch(batches):  # read the next piece while this one is counted
        # a piece without the first column holds more columns of rows already counted
        counted.add(batch, new_rows=first is None or first in batch.schema.names)
    counted.columns_seen.update(available)
    return counted
