"""Counting the current data against a reference profile, in one pass or chunk by chunk.

:class:`CurrentCounts` takes DataFrames or Arrow record batches (:meth:`CurrentCounts.add`) and
keeps, per feature, the counts per reference bin, and, only when a method needs values (KS,
Wasserstein), a uniform sample of at most ``sample_size`` finite values (bottom-k of random keys
drawn from a stream of the feature's own, so the sample does not depend on how the data was
chunked, by rows or by columns). Memory is bounded by the bins and
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

from opskit.analyses.drift_bins import category_counts, count_numeric_full, counts_from_category_counts
from opskit.analyses.drift_profile import (
    ColumnType,
    FeatureProfile,
    ReferenceProfile,
    infer_column_type,
    numeric_values,
)
from opskit.errors import InputError


@dataclass
class FeatureCounts:
    """Current-side counts of one feature (``counts`` aligned with the profile's bin labels)."""

    counts: np.ndarray
    n_infinite: int = 0
    unseen: dict[str, int] | None = None
    values: np.ndarray | None = None
    keys: np.ndarray | None = None
    error: str | None = None
    rng: np.random.Generator | None = None


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
        if fp.kind == ColumnType.NUMERIC:
            x = _series_array(column) if isinstance(column, pd.Series) else _column_array(column)
            if x is None:
                series = column if isinstance(column, pd.Series) else column.to_pandas()
                x = numeric_values(series, column=fp.name, side="current")
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
        counts, unseen = counts_from_category_counts(found, int(series.isna().sum()), fp.categories, fp.has_other)
        fc.counts += counts
        fc.unseen = dict(fc.unseen or {})
        for cat, n in unseen.items():
            fc.unseen[cat] = fc.unseen.get(cat, 0) + n

    def _sample(self, fp: FeatureProfile, fc: FeatureCounts, finite: np.ndarray) -> None:
        finite = np.asarray(finite, dtype=np.float64)
        if self.sample_size is None:
            fc.values = finite.copy() if fc.values is None else np.concatenate([fc.values, finite])
            return
        if fc.rng is None:  # one stream per feature (by name): keys follow the feature's rows only
            fc.rng = np.random.default_rng([self.seed, zlib.crc32(fp.name.encode("utf-8"))])
        keys = fc.rng.random(finite.size)
        if fc.keys is not None and fc.keys.size >= self.sample_size:
            # a full sample keeps its k smallest keys: only a new key below its largest can enter
            take = np.flatnonzero(keys < fc.keys.max())
            keys, finite = keys[take], finite[take]
        values = finite if fc.values is None else np.concatenate([fc.values, finite])
        keys = keys if fc.keys is None else np.concatenate([fc.keys, keys])
        if values.size > self.sample_size:
            keep = np.argpartition(keys, self.sample_size)[: self.sample_size]
            values, keys = values[keep], keys[keep]
        elif values is finite:
            values = values.copy()  # not a view of the caller's batch
        fc.values, fc.keys = values, keys


def _categories_numeric(fp: FeatureProfile) -> bool:
    """True when the reference's categories all read as numbers (then numeric current values may match)."""
    if fp.kind == ColumnType.BOOLEAN:
        return False
    return bool(fp.categories) and pd.to_numeric(pd.Series(list(fp.categories)), errors="coerce").notna().all()
