"""Counting the current data against a reference profile, in one pass or chunk by chunk.

:class:`CurrentCounts` takes DataFrames or Arrow record batches (:meth:`CurrentCounts.add`) and
keeps, per feature, the counts per reference bin, and, only when a method needs values (KS,
Wasserstein), a uniform sample of at most ``sample_size`` finite values (:class:`ValueSample`:
bottom-k of random keys drawn from a stream of the feature's own, so the sample does not depend
on how the data was chunked, by rows or by columns). Memory is bounded by the bins and
the sample, not by the data. A problem with one feature (text in a numeric column, a type that
does not match the reference) is recorded for that feature; the others go on.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from opskit.analyses.drift.bins import category_counts, count_numeric_full, counts_from_category_counts
from opskit.analyses.drift.columns import ColumnType, arrow_time_days, infer_column_type, numeric_values, time_days
from opskit.analyses.drift.profile import FeatureProfile, ReferenceProfile
from opskit.errors import InputError


@dataclass
class FeatureCounts:
    """Current-side counts of one feature (``counts`` aligned with the profile's bin labels)."""

    counts: np.ndarray
    n_infinite: int = 0
    unseen: dict[str, int] | None = None
    error: str | None = None
    sample: ValueSample | None = None

    @property
    def values(self) -> np.ndarray | None:
        """The sampled finite values (None when values were not kept)."""
        return None if self.sample is None else self.sample.values()


class ValueSample:
    """A uniform sample of at most ``size`` values offered in order (all of them when ``size`` is None).

    Each value has a uniform random key; the sample is the ``size`` values with the smallest keys.
    Drawing a key per value costs more than the counting, so keys are drawn segment by segment of
    the value stream (``16 * size`` values each): a segment that starts when the sample is full
    can only contribute keys below the sample's largest key ``t`` at that point, so only those are
    drawn: their number (binomial), their places (uniform without replacement) and their keys
    (uniform below ``t``). That is the distribution of a key for every value; and since segments
    are fixed in the value stream, the sample does not depend on how the values were chunked.
    Candidates are merged into the sample in batches (bottom-k merges in any order agree).
    """

    SEGMENT = 16

    def __init__(self, size: int | None, rng: np.random.Generator):
        self.size = size
        self.rng = rng
        self.seen = 0
        self.segment_end = 0
        self.pending: tuple[np.ndarray, np.ndarray] | None = None  # places and keys drawn for this segment
        self._values = np.empty(0)
        self._keys = np.empty(0)
        self._parts: list[tuple[np.ndarray, np.ndarray | None]] = []
        self._parted = 0

    def offer(self, finite: np.ndarray) -> None:
        finite = np.asarray(finite, dtype=np.float64)
        if self.size is None:
            self._add(finite, None)
            return
        if self.size < 1:
            return
        chunk_start, end = self.seen, self.seen + finite.size
        pos = chunk_start
        while pos < end:
            if pos == self.segment_end:
                self._start_segment()
            stop = min(end, self.segment_end)
            if self.pending is None:  # the segment started before the sample was full: every value has a key
                values = finite[pos - chunk_start : stop - chunk_start]
                keys = self.rng.random(values.size)
            else:
                places, keys = self.pending
                cut = int(np.searchsorted(places, stop))
                values, keys = finite[places[:cut] - chunk_start], keys[:cut]
                self.pending = (places[cut:], self.pending[1][cut:])
            if self._keys.size >= self.size:  # only keys below the sample's largest can enter
                below = keys < self._keys.max()
                values, keys = values[below], keys[below]
            self._add(values, keys)
            pos = stop
        self.seen = end

    def values(self) -> np.ndarray:
        self._flush()
        return self._values

    def _add(self, values: np.ndarray, keys: np.ndarray | None) -> None:
        if values.size:
            self._parts.append((values.copy() if values.base is not None else values, keys))
            self._parted += values.size
        if self.size is not None and self._parted >= max(self.size, 1 << 16):
            self._flush()

    def _flush(self) -> None:
        if not self._parts:
            return
        values = np.concatenate([self._values, *(v for v, _ in self._parts)])
        if self.size is None:
            self._values = values
        else:
            keys = np.concatenate([self._keys, *(k for _, k in self._parts)])
            if values.size > self.size:
                keep = np.argpartition(keys, self.size)[: self.size]
                values, keys = values[keep], keys[keep]
            self._values, self._keys = values, keys
        self._parts, self._parted = [], 0

    def _start_segment(self) -> None:
        length = self.SEGMENT * self.size
        start, self.segment_end = self.segment_end, self.segment_end + length
        self._flush()
        if self._keys.size < self.size:
            self.pending = None
            return
        below = float(self._keys.max())
        m = int(self.rng.binomial(length, below))
        places = np.sort(self.rng.choice(length, size=m, replace=False, shuffle=False)) + start
        self.pending = (places, self.rng.random(m) * below)


def _column_array(column: pa.Array | pd.Series) -> np.ndarray | None:
    """Zero-copy float/int NumPy view of an Arrow numeric column without nulls; None otherwise."""
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks != 1:
            return None
        column = column.chunk(0)
    if isinstance(column, pa.Array) and (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        if column.null_count == 0:
            return column.to_numpy(zero_copy_only=True)
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return None


def _series_array(series: pd.Series) -> np.ndarray | None:
    """The NumPy values of a plain float/int Series without copying; None for other dtypes."""
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iuf":
        return series.to_numpy(copy=False)
    return None


class CurrentCounts:
    """Accumulate current counts for every comparable feature of ``profile``."""

    def __init__(
        self,
        profile: ReferenceProfile,
        *,
        keep_values: bool = False,
        sample_size: int | None = 100_000,
        seed: int = 0,
        engine: str | None = None,
    ):
        self.profile = profile
        self.keep_values = keep_values
        self.sample_size = sample_size
        self.engine = engine
        self.seed = seed
        self.n_rows = 0
        self.columns_seen: set[str] = set()
        self.features: dict[str, FeatureCounts] = {}
        self._tails: dict[str, np.ndarray | None] = {}  # decoded once per feature
        for name, fp in profile.features.items():
            if fp.comparable:
                self.features[name] = FeatureCounts(counts=np.zeros(len(fp.counts), dtype=np.int64))

    def add_all(self, chunks: Iterable[pd.DataFrame | pa.RecordBatch]) -> CurrentCounts:
        for chunk in chunks:
            self.add(chunk)
        return self

    def add(self, chunk: pd.DataFrame | pa.RecordBatch | pa.Table, *, new_rows: bool = True) -> None:
        """Count ``chunk``'s columns. ``new_rows=False``: more columns of rows already added (a
        table read in column pieces), so the row count stays as it is."""
        names = [str(c) for c in (chunk.columns if isinstance(chunk, pd.DataFrame) else chunk.schema.names)]
        self.columns_seen.update(names)
        if new_rows:
            self.n_rows += len(chunk) if isinstance(chunk, pd.DataFrame) else chunk.num_rows
        position = {n: i for i, n in enumerate(names)}
        for name, fc in self.features.items():
            if fc.error is not None or name not in position:
                continue
            column = chunk[name] if isinstance(chunk, pd.DataFrame) else chunk.column(position[name])
            try:
                self._add_column(self.profile.features[name], fc, column)
            except InputError as exc:
                fc.error = exc.reason

    def _add_column(self, fp: FeatureProfile, fc: FeatureCounts, column: pa.Array | pd.Series) -> None:
        if fp.binned_by_edges:
            x = _time_array(fp, column) if fp.kind == ColumnType.DATETIME else _numeric_array(fp, column)
            counts, n_inf = count_numeric_full(x, np.asarray(fp.edges), engine=self.engine)
            fc.counts += counts
            fc.n_infinite += n_inf
            if self.keep_values:
                all_finite = n_inf == 0 and counts[-1] == 0  # the last bin counts NaN
                self._sample(fp, fc, x if all_finite else x[np.isfinite(x)])
            return
        series = column if isinstance(column, pd.Series) else column.to_pandas()
        cur_kind = infer_column_type(series)
        mismatch = cur_kind == ColumnType.DATETIME or (cur_kind == ColumnType.NUMERIC and not _categories_numeric(fp))
        if fp.kind == ColumnType.BOOLEAN:
            mismatch = cur_kind != ColumnType.BOOLEAN and not series.dropna().astype(str).isin(["True", "False"]).all()
        if mismatch:
            raise InputError(
                f"type mismatch: {fp.kind.value} in the reference, {cur_kind.value} ({series.dtype}) in the current",
                column=fp.name,
                hint="check the current data's schema, or set the column's type with column_types",
            )
        found = category_counts(series)
        if fp.has_other and fp.name not in self._tails:
            self._tails[fp.name] = fp.tail()
        tail = self._tails.get(fp.name)
        counts, unseen = counts_from_category_counts(found, int(series.isna().sum()), fp.categories, fp.has_other, tail)
        fc.counts += counts
        fc.unseen = dict(fc.unseen or {})
        for cat, n in unseen.items():
            fc.unseen[cat] = fc.unseen.get(cat, 0) + n

    def _sample(self, fp: FeatureProfile, fc: FeatureCounts, finite: np.ndarray) -> None:
        if fc.sample is None:  # one key stream per feature (by name): its sample follows its values only
            rng = np.random.default_rng([self.seed, zlib.crc32(fp.name.encode("utf-8"))])
            fc.sample = ValueSample(self.sample_size, rng)
        fc.sample.offer(finite)


def _numeric_array(fp: FeatureProfile, column: pa.Array | pd.Series) -> np.ndarray:
    x = _series_array(column) if isinstance(column, pd.Series) else _column_array(column)
    if x is None:
        series = column if isinstance(column, pd.Series) else column.to_pandas()
        x = numeric_values(series, column=fp.name, side="current")
    return x


def _time_array(fp: FeatureProfile, column: pa.Array | pd.Series) -> np.ndarray:
    """Days since the epoch of a current time column (Arrow dates and timestamps without a detour)."""
    if not isinstance(column, pd.Series):
        days = arrow_time_days(column)
        if days is not None:
            return days
        column = column.to_pandas()
    return time_days(column, column=fp.name, side="current")


def _categories_numeric(fp: FeatureProfile) -> bool:
    """True when the reference's categories all read as numbers (then numeric current values may match)."""
    if fp.kind == ColumnType.BOOLEAN:
        return False
    return bool(fp.categories) and pd.to_numeric(pd.Series(list(fp.categories)), errors="coerce").notna().all()
