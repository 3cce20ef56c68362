"""Drift methods, registered by name, each with its default threshold and the direction that means drift.

* ``psi``: population stability index over the reference bins (see :mod:`opskit.analyses.drift.bins`)::

      PSI = sum over bins of (a - e) * ln(a / e)

  with ``e`` the reference share and ``a`` the current share of each bin (shares of all rows, the
  missing bin included). **Smoothing**: a share of exactly 0 (an empty bin) is replaced by
  ``PSI_EPSILON = 1e-4`` before the formula; other shares are used as they are (no
  renormalisation), so any bin that is not empty contributes exactly the textbook term.
  Levels: below 0.1 stable, 0.1 to 0.2 watch, above 0.2 drift.
* ``ks``: two-sample Kolmogorov-Smirnov on the finite values (numeric only); drift when p < 0.05.
  Against a saved profile the reference distribution is its 501-quantile sketch and the p-value
  uses the true row counts.
* ``chi2``: chi-squared test of homogeneity on the bin counts (bins empty on both sides dropped);
  drift when p < 0.05.
* ``jensen_shannon``: Jensen-Shannon distance (base 2, between 0 and 1) of the bin shares; drift above 0.1.
* ``wasserstein``: first Wasserstein distance divided by the reference standard deviation (numeric
  only); drift above 0.1 *and* a seeded permutation test (200 permutations of at most 2,000 rows a
  side) gives p < 0.05, since the distance alone exceeds 0.1 by chance on small or heavy-tailed
  samples (with infinite variance the std scale itself is noisy).

The p-value tests flag tiny differences on large data: they are companions, PSI is the default verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from opskit.analyses.drift.columns import ColumnType
from opskit.analyses.drift.profile import FeatureProfile
from opskit.errors import ParameterError

PSI_EPSILON = 1e-4
PSI_WATCH = 0.1
PSI_DRIFT = 0.2


@dataclass(frozen=True)
class FeaturePair:
    """What a method compares for one feature: the reference profile and the current counts.

    ``ref_values``/``cur_values`` are the finite values when they are at hand (raw reference,
    in-memory current, or a bounded sample of a chunked current); methods that need values fall
    back to the profile's quantile sketch for the reference.
    """

    profile: FeatureProfile
    cur_counts: np.ndarray
    ref_values: np.ndarray | None = None
    cur_values: np.ndarray | None = None

    @property
    def ref_counts(self) -> np.ndarray:
        return np.asarray(self.profile.counts, dtype=np.int64)

    @property
    def n_ref(self) -> int:
        return int(self.ref_counts.sum())

    @property
    def n_cur(self) -> int:
        return int(self.cur_counts.sum())


@dataclass(frozen=True)
class MethodValue:
    """One method's result for one feature."""

    value: float
    drifted: bool
    note: str = ""


@dataclass(frozen=True)
class DriftMethod:
    """A registered method: ``compute(pair) -> (value, note)``; drift when value is past ``threshold``."""

    name: str
    statistic: str
    threshold: float
    drift_when: str  # "above" or "below"
    kinds: frozenset[ColumnType]
    compute: Callable[[FeaturePair], tuple[float, str]]
    description: str
    confirm: Callable[[FeaturePair, float], tuple[bool, str]] | None = None  # second test when past the threshold

    def applies_to(self, kind: ColumnType) -> bool:
        return kind in self.kinds

    def evaluate(self, pair: FeaturePair, threshold: float | None = None) -> MethodValue:
        limit = self.threshold if threshold is None else float(threshold)
        value, note = self.compute(pair)
        drifted = bool(value > limit) if self.drift_when == "above" else bool(value < limit)
        if drifted and self.confirm is not None:
            drifted, extra = self.confirm(pair, float(value))
            note = "; ".join(n for n in (note, extra) if n)
        return MethodValue(float(value), drifted, note)


METHODS: dict[str, DriftMethod] = {}

ALL_KINDS = frozenset({ColumnType.NUMERIC, ColumnType.CATEGORICAL, ColumnType.BOOLEAN})
NUMERIC_ONLY = frozenset({ColumnType.NUMERIC})


def register_method(method: DriftMethod) -> DriftMethod:
    METHODS[method.name] = method
    return method


def get_method(name: str) -> DriftMethod:
    """The method registered as ``name``; an unknown name is a :class:`ParameterError` listing the known ones."""
    key = str(name).strip().lower()
    if key not in METHODS:
        raise ParameterError(
            f"unknown drift method {name!r}",
            name=str(name),
            hint="known methods: " + ", ".join(sorted(METHODS)),
        )
    return METHODS[key]


def resolve_thresholds(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    """Default thresholds with ``thresholds`` applied; unknown method names are errors."""
    out = {name: m.threshold for name, m in METHODS.items()}
    for name, value in (thresholds or {}).items():
        out[get_method(name).name] = float(value)
    return out


# --- PSI ---------------------------------------------------------------------------------------


def psi_table(labels: list[str], ref_counts: np.ndarray, cur_counts: np.ndarray) -> pd.DataFrame:
    """The bin table behind a PSI value: counts, shares, smoothed shares and each bin's contribution.

    ``PSI = table["contribution"].sum()``.
    """
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    if len(labels) != len(ref) or len(ref) != len(cur):
        raise ValueError("labels, reference and current counts must have one entry per bin")
    ref_total, cur_total = ref.sum(), cur.sum()
    if ref_total == 0 or cur_total == 0:
        raise ValueError("PSI needs rows on both sides")
    e = ref / ref_total
    a = cur / cur_total
    e_used = np.where(e == 0, PSI_EPSILON, e)
    a_used = np.where(a == 0, PSI_EPSILON, a)
    contribution = (a_used - e_used) * np.log(a_used / e_used)
    return pd.DataFrame(
        {
            "bin": labels,
            "ref_count": ref_counts,
            "cur_count": cur_counts,
            "ref_share": e,
            "cur_share": a,
            "ref_share_used": e_used,
            "cur_share_used": a_used,
            "contribution": contribution,
        }
    )


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """PSI of two count vectors over the same bins (smoothing as in :func:`psi_table`)."""
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    e = ref / ref.sum()
    a = cur / cur.sum()
    e = np.where(e == 0, PSI_EPSILON, e)
    a = np.where(a == 0, PSI_EPSILON, a)
    return float(np.sum((a - e) * np.log(a / e)))


def classify_psi(value: float, watch: float = PSI_WATCH, drift: float = PSI_DRIFT) -> str:
    """``"drift"`` above ``drift``, ``"watch"`` from ``watch`` up to ``drift``, else ``"stable"``."""
    if value > drift:
        return "drift"
    if value >= watch:
        return "watch"
    return "stable"


def _psi(pair: FeaturePair) -> tuple[float, str]:
    return psi_from_counts(pair.ref_counts, pair.cur_counts), ""


# --- companions --------------------------------------------------------------------------------


def _reference_sample(pair: FeaturePair) -> tuple[np.ndarray, str]:
    if pair.ref_values is not None:
        return pair.ref_values, ""
    return np.asarray(pair.profile.sketch, dtype=np.float64), "reference from the profile's quantile sketch"


def _current_values(pair: FeaturePair) -> np.ndarray:
    if pair.cur_values is None or pair.cur_values.size == 0:
        raise ValueError("no finite current values to compare")
    return pair.cur_values


def _ks(pair: FeaturePair) -> tuple[float, str]:
    ref, note = _reference_sample(pair)
    cur = _current_values(pair)
    if pair.ref_values is not None:
        return float(stats.ks_2samp(ref, cur).pvalue), ""
    statistic = stats.ks_2samp(ref, cur).statistic
    n, m = pair.n_ref - pair.profile.n_missing, cur.size
    p = float(stats.kstwobign.sf(statistic * np.sqrt(n * m / (n + m)))) if n and m else 1.0
    return p, note


def _chi2(pair: FeaturePair) -> tuple[float, str]:
    table = np.vstack([pair.ref_counts, pair.cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0, "one non-empty bin: nothing to test"
    return float(stats.chi2_contingency(table, correction=False).pvalue), ""


def _jensen_shannon(pair: FeaturePair) -> tuple[float, str]:
    p = pair.ref_counts / pair.n_ref
    q = pair.cur_counts / pair.n_cur
    return float(jensenshannon(p, q, base=2)), ""


def _wasserstein(pair: FeaturePair) -> tuple[float, str]:
    ref, note = _reference_sample(pair)
    cur = _current_values(pair)
    scale = pair.profile.std or 0.0
    if scale <= 0:
        return 0.0, "reference standard deviation is 0"
    return float(stats.wasserstein_distance(ref, cur) / scale), note


register_method(DriftMethod("psi", "PSI", PSI_DRIFT, "above", ALL_KINDS, _psi, "population stability index"))
register_method(DriftMethod("ks", "p-value", 0.05, "below", NUMERIC_ONLY, _ks, "Kolmogorov-Smirnov two-sample test"))
register_method(DriftMethod("chi2", "p-value", 0.05, "below", ALL_KINDS, _chi2, "chi-squared test on the bins"))
register_method(
    DriftMethod("jensen_shannon", "distance", 0.1, "above", ALL_KINDS, _jensen_shannon, "Jensen-Shannon distance")
)
PERMUTATIONS = 200  # seeded permutation test that confirms a Wasserstein distance past its threshold
PERMUTATION_ROWS = 2000  # rows per side it draws from (seeded), so it stays cheap on big data


def _wasserstein_permutation(pair: FeaturePair, observed: float) -> tuple[bool, str]:
    """Drift only when the distance is also unlikely under no drift: seeded permutation p-value < 0.05."""
    ref, _ = _reference_sample(pair)
    cur = _current_values(pair)
    rng = np.random.default_rng(0)
    ref = rng.choice(ref, PERMUTATION_ROWS, replace=False) if ref.size > PERMUTATION_ROWS else ref
    cur = rng.choice(cur, PERMUTATION_ROWS, replace=False) if cur.size > PERMUTATION_ROWS else cur
    pooled, n = np.concatenate([ref, cur]), ref.size
    scale = pair.profile.std or 1.0
    seen = stats.wasserstein_distance(ref, cur) / scale
    hits = 0
    for _ in range(PERMUTATIONS):
        perm = rng.permutation(pooled)
        hits += stats.wasserstein_distance(perm[:n], perm[n:]) / scale >= seen
    p = (hits + 1) / (PERMUTATIONS + 1)
    verdict = "drift" if p < 0.05 else "not significant"
    return p < 0.05, f"permutation p {p:.3f} ({PERMUTATIONS} permutations, seed 0): {verdict}"


register_method(
    DriftMethod(
        "wasserstein", "distance (std)", 0.1, "above", NUMERIC_ONLY, _wasserstein, "Wasserstein-1 / reference std",
        confirm=_wasserstein_permutation,
    )
)  # fmt: skip
