"""Bins for drift: reference-quantile edges, categorical buckets, and fast counting.

The binning rules (the ones every PSI in opskit uses, stated once so a reader can audit them):

* **Numeric** features are cut at the reference's quantiles ``i / bins`` for ``i = 0..bins``
  (NumPy's default linear interpolation) over its finite values. Tied quantiles collapse to unique
  edges, so a feature may get fewer bins than asked; the result says so. Bin ``i`` holds
  ``edges[i] <= x < edges[i + 1]``; the last bin also holds its right edge. Values outside the
  reference range (and ``±inf``) fall into the first or last bin. Missing values (NaN, None) have
  their own bin, always last.
* **Discrete** numeric features (at most ``DISCRETE_MAX_VALUES`` = 20 distinct finite values in
  the reference) get one bin per reference value instead: the edges are the smallest value, the
  midpoints between neighbouring values and the largest value, so no two reference values share a
  bin (a 0/1 flag gets two bins, a 1-5 rating five). Current values between reference values fall
  into the bin of the nearest one; values beyond the range into the edge bins.
* **Categorical** features (and booleans) get one bin per reference category (the
  ``max_categories`` most frequent; any others of the reference share one ``<other>`` bin), one
  ``<unseen>`` bin for categories the reference never had, and the ``<missing>`` bin. The reference's
  other categories are remembered as 64-bit hashes (up to ``TAIL_MAX`` = 200,000 of them), so a
  current category the reference never had counts as ``<unseen>`` whatever the cardinality, not as
  ``<other>``.
* **Constant** numeric features (one distinct reference value ``c``) get three bins, ``< c``,
  ``= c`` and ``> c``, so they are judged on the current share that differs from the constant.

Counting a numeric column is ``bincount(searchsorted(edges[1:-1], x, side="right"))`` in plain
NumPy. The numba kernels (:mod:`opskit.analyses.drift.kernels`) avoid the per-value scatter: they
count the values at or above each interior edge in one vectorised pass and take differences.
:func:`count_numeric` falls back to NumPy when numba is not importable; both give identical
counts (tested).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

MISSING_BIN = "<missing>"
UNSEEN_BIN = "<unseen>"
OTHER_BIN = "<other>"

try:  # numba is the `fast` extra; NumPy is the fallback
    from opskit.analyses.drift import kernels as _kernels
except ImportError:  # pragma: no cover - exercised where numba is absent
    _kernels = None

HAS_NUMBA = _kernels is not None
DISCRETE_MAX_VALUES = 20  # at most this many distinct reference values: one bin per value
TAIL_MAX = 200_000  # reference categories beyond the kept ones remembered (as hashes) to tell new ones apart


def constant_edges(value: float) -> np.ndarray:
    """Edges of the three bins of a constant ``value``: below it, equal to it, above it."""
    above = np.nextafter(value, np.inf)
    return np.array([value, value, above, above], dtype=np.float64)


def hash_categories(names: Sequence[str]) -> np.ndarray:
    """Sorted unique 64-bit hashes of category names (pandas' stable SipHash of the UTF-8 text)."""
    if not len(names):
        return np.empty(0, dtype=np.uint64)
    return np.unique(pd.util.hash_array(np.asarray(list(names), dtype=object)))


def encode_hashes(hashes: np.ndarray) -> str:
    """Hashes as base64 of their little-endian bytes (how a profile keeps them in JSON)."""
    return base64.b64encode(np.asarray(hashes, dtype="<u8").tobytes()).decode("ascii")


def decode_hashes(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u8").astype(np.uint64)


def sorted_quantiles(sorted_values: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """``np.quantile(x, probabilities)`` (linear method) from ``x`` already sorted, bit for bit.

    Sorting once (NumPy's vectorised sort) and reading all quantiles off the sorted array is
    several times faster than ``np.quantile``'s repeated partitioning when many are needed.
    """
    s = np.asarray(sorted_values, dtype=np.float64)
    n = s.shape[0]
    q = np.asarray(probabilities, dtype=np.float64)
    virtual = q * (n - 1)
    below = np.floor(virtual)
    gamma = virtual - below
    lo = below.astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    a, b = s[lo], s[hi]
    diff = b - a
    out = a + diff * gamma
    upper = gamma >= 0.5
    out[upper] = b[upper] - diff[upper] * (1 - gamma[upper])  # NumPy's _lerp, for the same rounding
    return out


def quantile_edges(values: np.ndarray, bins: int, *, presorted: bool = False) -> tuple[np.ndarray, int]:
    """Unique reference-quantile edges for ``bins`` bins over the finite values.

    Returns ``(edges, n_bins)``; ``n_bins = len(edges) - 1`` is smaller than ``bins`` when tied
    quantiles collapsed, and 0 when the finite values are constant (or there are none).
    ``presorted``: ``values`` are finite and sorted already.
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    x = np.asarray(values, dtype=np.float64)
    if not presorted:
        x = np.sort(x[np.isfinite(x)])
    if x.size == 0:
        return np.empty(0), 0
    distinct = discrete_values(x)
    if distinct is not None and distinct.size >= 2:
        edges = np.concatenate([distinct[:1], (distinct[:-1] + distinct[1:]) / 2.0, distinct[-1:]])
        return edges, len(edges) - 1
    edges = np.unique(sorted_quantiles(x, np.linspace(0.0, 1.0, bins + 1)))
    return edges, len(edges) - 1


def discrete_values(sorted_finite: np.ndarray) -> np.ndarray | None:
    """The distinct values of sorted finite ``sorted_finite`` when there are at most
    :data:`DISCRETE_MAX_VALUES` of them, else None (the feature is binned by quantiles)."""
    x = np.asarray(sorted_finite, dtype=np.float64)
    if x.size == 0:
        return None
    starts = np.flatnonzero(np.diff(x)) + 1
    if starts.size + 1 > DISCRETE_MAX_VALUES:
        return None
    return x[np.concatenate([[0], starts])]


def _count_numpy(values: np.ndarray, interior: np.ndarray) -> np.ndarray:
    k = interior.shape[0]
    idx = np.searchsorted(interior, values, side="right")
    n_inf = 0
    if values.dtype.kind == "f":
        idx[np.isnan(values)] = k + 1
        n_inf = int(np.isinf(values).sum())
    return np.append(np.bincount(idx, minlength=k + 2), n_inf).astype(np.int64)


def default_engine() -> str:
    """``"numba"`` when importable and not disabled by ``OPSKIT_DRIFT_ENGINE=numpy``, else ``"numpy"``."""
    wanted = os.environ.get("OPSKIT_DRIFT_ENGINE", "").strip().lower()
    if wanted == "numpy" or not HAS_NUMBA:
        return "numpy"
    return "numba"


def count_numeric(values: np.ndarray, edges: np.ndarray, *, engine: str | None = None) -> np.ndarray:
    """Counts per bin for ``values`` cut at ``edges``: ``len(edges) - 1`` bins, then the missing bin.

    ``values`` may be any numeric NumPy array (it is not copied when it is contiguous and numeric).
    ``engine`` is ``"numba"`` or ``"numpy"`` (default: :func:`default_engine`).
    """
    return count_numeric_full(values, edges, engine=engine)[0]


def count_numeric_full(values: np.ndarray, edges: np.ndarray, *, engine: str | None = None) -> tuple[np.ndarray, int]:
    """:func:`count_numeric` and the number of infinite values (counted in the edge bins), in one pass."""
    edges = np.asarray(edges, dtype=np.float64)
    if edges.size < 2:
        raise ValueError("need at least two edges (one bin)")
    interior = np.ascontiguousarray(edges[1:-1])
    x = np.asarray(values)
    if x.dtype.kind == "b":
        x = x.astype(np.int8)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"count_numeric needs a numeric array, got dtype {x.dtype}")
    if x.ndim != 1:
        x = x.ravel()
    engine = engine or default_engine()
    if engine not in ("numba", "numpy"):
        raise ValueError(f"unknown counting engine {engine!r}: use 'numba' or 'numpy'")
    if engine == "numba" and HAS_NUMBA:
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        out = _kernels.count_bins(x, interior)
    else:
        out = _count_numpy(x, interior)
    return out[:-1], int(out[-1])


def category_bins(values: pd.Series, max_categories: int = 50) -> tuple[list[str], bool]:
    """Reference categories, most frequent first (ties by name), at most ``max_categories``.

    Returns ``(categories, has_other)``: ``has_other`` is True when some categories were folded
    into the ``<other>`` bin.
    """
    counts = category_counts(values)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    cats = [c for c, _ in ordered[:max_categories]]
    return cats, len(ordered) > max_categories


def category_counts(values: pd.Series) -> dict[str, int]:
    """Counts of each non-missing category, as strings (``True``/``False`` for booleans)."""
    s = values.dropna()
    if s.empty:
        return {}
    vc = s.astype(str).value_counts(sort=False)
    return {str(k): int(v) for k, v in vc.items()}


def count_categorical(
    values: pd.Series, categories: Sequence[str], has_other: bool, tail: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, int]]:
    """Counts over ``categories`` (+ ``<other>`` when ``has_other``), ``<unseen>``, ``<missing>``.

    Returns ``(counts, unseen)`` where ``unseen`` maps each category absent from the reference to
    its count. With ``has_other``, ``tail`` holds the hashes of the reference's other categories
    (:func:`hash_categories`): those count as ``<other>``, the rest as unseen. Without ``tail`` (a
    tail too long to remember) every category outside the top list counts as ``<other>``.
    """
    found = category_counts(values)
    n_missing = int(values.isna().sum())
    return counts_from_category_counts(found, n_missing, categories, has_other, tail)


def counts_from_category_counts(
    found: dict[str, int],
    n_missing: int,
    categories: Sequence[str],
    has_other: bool,
    tail: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Like :func:`count_categorical`, from already-counted categories (chunked reading)."""
    index = {c: i for i, c in enumerate(categories)}
    k = len(categories)
    counts = np.zeros(k + (1 if has_other else 0) + 2, dtype=np.int64)
    unseen: dict[str, int] = {}
    rest = [c for c in found if c not in index]
    in_tail = np.zeros(len(rest), dtype=bool)
    if has_other and tail is not None and rest:
        hashes = pd.util.hash_array(np.asarray(rest, dtype=object))
        at = np.minimum(np.searchsorted(tail, hashes), max(tail.size - 1, 0))
        in_tail = tail[at] == hashes if tail.size else in_tail
    elif has_other:
        in_tail[:] = True  # the tail is not known by name: all of it is <other>
    for cat, n in found.items():
        i = index.get(cat)
        if i is not None:
            counts[i] += n
    for cat, known in zip(rest, in_tail, strict=True):
        n = found[cat]
        if known:
            counts[k] += n
        else:
            unseen[cat] = unseen.get(cat, 0) + n
    counts[-2] = sum(unseen.values())
    counts[-1] = n_missing
    return counts, unseen


def categorical_labels(categories: Sequence[str], has_other: bool) -> list[str]:
    """Bin labels matching :func:`count_categorical`'s counts."""
    return [*categories, *([OTHER_BIN] if has_other else []), UNSEEN_BIN, MISSING_BIN]


def numeric_labels(edges: np.ndarray) -> list[str]:
    """Bin labels matching :func:`count_numeric`'s counts: ``[lo, hi)``, the last closed, then missing."""
    labels = []
    n = len(edges) - 1
    for i in range(n):
        close = "]" if i == n - 1 else ")"
        labels.append(f"[{edges[i]:.6g}, {edges[i + 1]:.6g}{close}")
    return [*labels, MISSING_BIN]
