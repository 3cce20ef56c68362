"""The reference profile: what drift compares against.

A :class:`ReferenceProfile` holds, per feature, the bin edges (or categories), the reference counts
per bin, and a quantile sketch for the companion methods that need a distribution (KS,
Wasserstein). It is built once from the reference table (:func:`build_profile`) and kept as a
small JSON document (:meth:`ReferenceProfile.to_dict`) with the opskit version and a hash of the
data; later runs load it and read only the current data. Reading and writing the file is the
runbook's (:mod:`opskit.runbooks.analyze_drift_inputs`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from opskit import __version__
from opskit.analyses.drift.bins import (
    DISCRETE_MAX_VALUES,
    MISSING_BIN,
    TAIL_MAX,
    categorical_labels,
    category_bins,
    category_counts,
    constant_edges,
    count_categorical,
    count_numeric,
    decode_hashes,
    discrete_values,
    encode_hashes,
    hash_categories,
    numeric_labels,
    quantile_edges,
    sorted_quantiles,
)
from opskit.analyses.drift.columns import ColumnType, infer_column_types, numeric_values, time_days
from opskit.analyses.drift.settings import DriftSettings
from opskit.errors import InputError

PROFILE_FORMAT = "opskit.drift.profile/1"
SKETCH_POINTS = 501  # reference quantiles kept for KS and Wasserstein against a profile


@dataclass(frozen=True)
class FeatureProfile:
    """The reference side of one feature.

    ``counts`` follow the bin labels (:meth:`labels`); the last bin holds missing values.
    ``status``/``reason`` are set when the feature cannot be compared (``"SKIP"`` or ``"ERROR"``).
    """

    name: str
    kind: ColumnType
    n_rows: int
    counts: tuple[int, ...] = ()
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    has_other: bool = False
    bins_requested: int = 0
    n_missing: int = 0
    n_infinite: int = 0
    sketch: tuple[float, ...] = ()
    mean: float | None = None
    std: float | None = None
    status: str | None = None
    reason: str | None = None
    discrete: bool = False  # one bin per reference value (at most DISCRETE_MAX_VALUES of them)
    constant: bool = False  # one reference value: bins below, equal to and above it
    tail_hashes: str | None = None  # hashes of the categories in <other> (base64), None when not kept

    @property
    def comparable(self) -> bool:
        return self.status is None

    @property
    def binned_by_edges(self) -> bool:
        """Numeric and time features are cut at edges; categories and booleans have buckets."""
        return self.kind in (ColumnType.NUMERIC, ColumnType.DATETIME)

    @property
    def n_bins(self) -> int:
        """Bins excluding the missing bin (and, for categories, excluding ``<unseen>``)."""
        if self.binned_by_edges:
            return max(len(self.edges) - 1, 0)
        return len(self.categories) + (1 if self.has_other else 0)

    def labels(self) -> list[str]:
        if self.constant:
            c = _edge_text(self.edges[0], self.kind)
            return [f"< {c}", f"= {c}", f"> {c}", MISSING_BIN]
        if self.kind == ColumnType.DATETIME:
            return _time_labels(np.asarray(self.edges))
        if self.kind == ColumnType.NUMERIC:
            return numeric_labels(np.asarray(self.edges))
        return categorical_labels(self.categories, self.has_other)

    def tail(self) -> np.ndarray | None:
        """Sorted hashes of the reference categories in ``<other>`` (None: not kept, all of them count there)."""
        return None if self.tail_hashes is None else decode_hashes(self.tail_hashes)

    @property
    def ties_collapsed(self) -> bool:
        return self.binned_by_edges and not (self.discrete or self.constant) and 0 < self.n_bins < self.bins_requested

    def note(self) -> str:
        """What a reader should know about how this feature was binned."""
        parts = []
        if self.kind == ColumnType.DATETIME:
            parts.append("compared as time: days since 1970-01-01 UTC (an event time drifts by design)")
        if self.constant:
            parts.append(f"constant in the reference ({_edge_text(self.edges[0], self.kind)}): judged on the "
                         "current rows that differ")  # fmt: skip
        if self.discrete:
            parts.append(f"discrete: one bin per reference value ({self.n_bins} values, at most {DISCRETE_MAX_VALUES})")
        if self.ties_collapsed:
            parts.append(f"{self.bins_requested} bins requested, {self.n_bins} after tied quantiles collapsed")
        if self.has_other:
            new = "new categories count as <unseen>" if self.tail_hashes is not None else (
                f"more than {TAIL_MAX:,} of them: new categories cannot be told apart and count there too"
            )  # fmt: skip
            parts.append(f"categories beyond the {len(self.categories)} most frequent share the <other> bin; {new}")
        if self.n_infinite:
            parts.append(f"{self.n_infinite} infinite reference value(s) counted in the edge bins")
        return "; ".join(parts)


def profile_feature(
    series: pd.Series, kind: ColumnType, *, bins: int = 10, max_categories: int = 50, name: str | None = None
) -> FeatureProfile:
    """Profile one reference column; problems become a SKIP/ERROR profile, never an exception."""
    name = str(name if name is not None else series.name)
    n = len(series)
    try:
        n_missing = int(series.isna().sum())
        if n and n_missing == n:
            return FeatureProfile(
                name, kind, n, n_missing=n_missing, status="SKIP", reason="all values missing in the reference"
            )
        if kind in (ColumnType.NUMERIC, ColumnType.DATETIME):
            return _profile_numeric(series, name, bins, kind)
        cats, has_other = category_bins(series, max_categories)
        tail = None
        if has_other:
            kept = set(cats)
            rest = [c for c in category_counts(series) if c not in kept]
            tail = encode_hashes(hash_categories(rest)) if len(rest) <= TAIL_MAX else None
        counts, _ = count_categorical(series, cats, has_other)
        return FeatureProfile(
            name, kind, n, counts=tuple(int(c) for c in counts), categories=tuple(cats), has_other=has_other,
            n_missing=n_missing, tail_hashes=tail,
        )  # fmt: skip
    except InputError as exc:
        return FeatureProfile(name, kind, n, status="ERROR", reason=exc.reason)


def _edge_text(value: float, kind: ColumnType) -> str:
    if kind != ColumnType.DATETIME:
        return f"{value:.6g}"
    stamp = pd.Timestamp("1970-01-01") + pd.Timedelta(days=float(value))
    return stamp.strftime("%Y-%m-%d" if stamp == stamp.normalize() else "%Y-%m-%d %H:%M")


def _time_labels(edges: np.ndarray) -> list[str]:
    """Bin labels of a time feature: its edges as dates (``[2026-01-05, 2026-01-12)``), then missing."""
    n = len(edges) - 1
    texts = [_edge_text(e, ColumnType.DATETIME) for e in edges]
    return [f"[{texts[i]}, {texts[i + 1]}{']' if i == n - 1 else ')'}" for i in range(n)] + [MISSING_BIN]


def _profile_numeric(series: pd.Series, name: str, bins: int, kind: ColumnType = ColumnType.NUMERIC) -> FeatureProfile:
    read = time_days if kind == ColumnType.DATETIME else numeric_values
    x = read(series, column=name, side="reference")
    finite = x[np.isfinite(x)]
    n_missing = int(np.isnan(x).sum())
    n_inf = int(np.isinf(x).sum())
    if finite.size == 0:
        return FeatureProfile(name, kind, len(x), n_missing=n_missing, n_infinite=n_inf, status="ERROR",
                              reason="no finite values in the reference (only infinities or missing)")  # fmt: skip
    finite = np.sort(finite)  # one sort gives the edges and the sketch
    edges, n_bins = quantile_edges(finite, bins, presorted=True)
    constant = n_bins == 0
    if constant:
        edges = constant_edges(float(finite[0]))
    counts = count_numeric(x, edges)
    sketch = sorted_quantiles(finite, np.linspace(0.0, 1.0, SKETCH_POINTS))
    return FeatureProfile(
        name,
        kind,
        len(x),
        counts=tuple(int(c) for c in counts),
        edges=tuple(float(e) for e in edges),
        bins_requested=bins,
        n_missing=n_missing,
        n_infinite=n_inf,
        sketch=tuple(float(q) for q in sketch),
        mean=float(finite.mean()),
        std=float(finite.std()),
        discrete=not constant and discrete_values(finite) is not None,
        constant=constant,
    )


@dataclass(frozen=True)
class ReferenceProfile:
    """Per-feature reference bins and counts, saved once, compared against many current sets."""

    features: dict[str, FeatureProfile]
    n_rows: int
    bins: int
    max_categories: int
    data_hash: str
    opskit_version: str = __version__
    created_at: str = ""
    source: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def column_types(self) -> dict[str, ColumnType]:
        return {name: f.kind for name, f in self.features.items()}

    def to_dict(self) -> dict[str, Any]:
        features = {}
        for name, f in self.features.items():
            d = asdict(f)
            d["kind"] = f.kind.value
            features[name] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
        return {
            "format": PROFILE_FORMAT,
            "opskit_version": self.opskit_version,
            "created_at": self.created_at,
            "source": self.source,
            "data_hash": self.data_hash,
            "n_rows": self.n_rows,
            "bins": self.bins,
            "max_categories": self.max_categories,
            "extras": self.extras,
            "features": features,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str | None = None) -> ReferenceProfile:
        if data.get("format") != PROFILE_FORMAT:
            raise InputError(
                f"not an opskit drift profile (format {data.get('format')!r}, expected {PROFILE_FORMAT!r})",
                path=path,
                hint="build one with save_profile() or `-p save_profile PATH` in analyze_drift",
            )
        features = {}
        for name, f in data["features"].items():
            f = dict(f)
            f["kind"] = ColumnType(f["kind"])
            for key in ("counts", "edges", "categories", "sketch"):
                f[key] = tuple(f.get(key) or ())
            features[name] = FeatureProfile(**f)
        return cls(
            features=features,
            n_rows=int(data["n_rows"]),
            bins=int(data["bins"]),
            max_categories=int(data["max_categories"]),
            data_hash=str(data["data_hash"]),
            opskit_version=str(data.get("opskit_version", "")),
            created_at=str(data.get("created_at", "")),
            source=data.get("source"),
            extras=dict(data.get("extras") or {}),
        )

    def with_extras(self, **extras: Any) -> ReferenceProfile:
        return replace(self, extras={**self.extras, **extras})


def _column_digest(series: pd.Series) -> bytes:
    values = series.to_numpy() if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iufb" else None
    if values is not None:
        data = memoryview(np.ascontiguousarray(values))
    else:  # text, categories, datetimes: pandas' stable hash of each value
        data = memoryview(pd.util.hash_pandas_object(series, index=False).to_numpy())
    return hashlib.sha256(data).digest()


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 over the column names, dtypes and values, as ``sha256:<hex>``.

    Numeric columns are hashed from their bytes, others from pandas' per-value hash; columns are
    hashed in parallel (hashlib releases the GIL) and combined in column order.
    """
    h = hashlib.sha256()
    h.update(json.dumps([[str(c), str(frame[c].dtype)] for c in frame.columns]).encode())
    if len(frame):
        for digest in _threads().map(lambda c: _column_digest(frame[c]), list(frame.columns)):
            h.update(digest)
    return "sha256:" + h.hexdigest()


_POOL: ThreadPoolExecutor | None = None


def _threads() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="opskit-profile")
    return _POOL


def build_profile(
    reference: pd.DataFrame, settings: DriftSettings | None = None, *, source: str | None = None
) -> ReferenceProfile:
    """Profile every column of ``reference`` but ``settings.not_compared`` (bins, counts, sketch, types).

    ``settings`` gives the bins, the type overrides and the most categories kept per column
    (default :class:`DriftSettings`); ``source`` names where the reference came from.
    """
    settings = settings or DriftSettings()
    bins, max_categories = settings.bins, settings.max_categories
    if bins < 2:
        raise InputError(f"bins must be at least 2, got {bins}", hint="the default is 10")
    skip = set(settings.not_compared)
    frame = reference[[c for c in reference.columns if str(c) not in skip]]
    types = infer_column_types(frame, {k: v for k, v in settings.column_types.items() if k in frame.columns})
    columns = list(frame.columns)  # profiled in parallel: sorting and counting release the GIL
    profiles = _threads().map(
        lambda c: profile_feature(frame[c], types[str(c)], bins=bins, max_categories=max_categories, name=str(c)),
        columns,
    )
    features = {str(c): fp for c, fp in zip(columns, profiles, strict=True)}
    return ReferenceProfile(
        features=features,
        n_rows=len(reference),
        bins=bins,
        max_categories=max_categories,
        data_hash=data_hash(frame),
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        source=source,
    )
