"""Drift methods, registered by name, each with its default threshold and the direction that means drift.

* ``psi``: population stability index over the reference bins (see :mod:`opskit.analyses.drift.bins`)::

      PSI = sum over bins of (a - e) * ln(a / e)

  with ``e`` the reference share and ``a`` the current share of each bin (shares of all rows, the
  missing bin included). **Smoothing**: a share of exactly 0 (an empty bin) is replaced by
  ``PSI_EPSILON = 1e-4`` before the formula; other shares are used as they are (no
  renormalisation), so any bin that is not empty contributes exactly the textbook term.
  Levels: below 0.1 stable, 0.1 to 0.2 watch, above 0.2 drift.

The companions, and what each threshold means (each pairs its size with a test, so neither
sampling noise on small data nor a tiny but "significant" shift on big data reads as drift):

* ``ks``: two-sample Kolmogorov-Smirnov on the finite values (numeric and time columns). Drift when
  p < 0.05 **and** the statistic D (the largest gap between the two cumulative distributions: the
  share of rows that moved across some value) exceeds ``ks_statistic`` (0.1 by default; a shift of
  the mean by a quarter of a standard deviation of a normal feature gives about 0.1). The p-value
  alone flags 5 % of identical samples by construction and any shift at all on big data; the floor
  keeps it to differences worth acting on, the p-value keeps small samples from flagging by chance.
  Against a saved profile the reference distribution is its 501-quantile sketch and the p-value
  uses the true row counts.
* ``chi2``: chi-squared test of homogeneity on the bin counts (bins empty on both sides dropped);
  drift when p < 0.05. A pure significance test: on big data it flags shifts too small to act on.
* ``jensen_shannon``: Jensen-Shannon distance (base 2, between 0 and 1) of the bin shares. Drift
  above 0.1 (for small shifts a distance ``d`` is about a PSI of ``5.5 d²``: 0.1 is a PSI of about
  0.055) **and** a permutation p-value of the same distance below 0.05 (exact permutations of the bin
  counts, :func:`opskit.analyses.drift.significance.permutation_p`), since with ``k`` bins noise
  alone gives a distance of about ``sqrt((k - 1)(1/n_ref + 1/n_cur) / 5.5)`` (0.18 at 100 rows a side).
* ``wasserstein``: first Wasserstein distance divided by the reference standard deviation (numeric
  and time columns). 0.1 means the values moved by a tenth of the reference's spread on average
  (for a pure shift the distance is the shift). Drift above 0.1 *and* a seeded permutation test
  (200 permutations of at most 2,000 rows a side) gives p < 0.05, since the distance alone exceeds
  0.1 by chance on small or heavy-tailed samples (with infinite variance the std scale itself is noisy).

PSI may be paired the same way (``psi_permutations`` in the settings): see :mod:`opskit.analyses.drift.features`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from opskit.analyses.drift.columns import ColumnType
from opskit.analyses.drift.profile import FeatureProfile
from opskit.analyses.drift.significance import ALPHA, PERMUTATIONS, jensen_shannon_rows, permutation_p
from opskit.errors import ParameterError

PSI_EPSILON = 1e-4
PSI_WATCH = 0.1
PSI_DRIFT = 0.2
KS_STATISTIC = 0.1  # KS flags only when its statistic D also exceeds this (the share of rows that moved)
# thresholds that are not a method's own, with their defaults (keys of ``thresholds`` beside the method names)
SECONDARY_THRESHOLDS = {"psi_watch": PSI_WATCH, "ks_statistic": KS_STATISTIC}


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


class Computed(NamedTuple):
    """What a method's ``compute`` returns: its value, a note, and an effect size when it has one (KS: D)."""

    value: float
    note: str = ""
    effect: float | None = None


@dataclass(frozen=True)
class MethodValue:
    """One method's result for one feature; ``note`` says why a value past the threshold is not drift."""

    value: float
    drifted: bool
    note: str = ""
    effect: float | None = None  # KS: the statistic D


@dataclass(frozen=True)
class DriftMethod:
    """A registered method: ``compute(pair) -> Computed``; drift when value is past ``threshold``.

    ``confirm(pair, computed, limits) -> (drifted, note)`` is the second test a value past the
    threshold must also pass (an effect-size floor, a permutation p-value); ``limits`` are the run's
    resolved thresholds.
    """

    name: str
    statistic: str
    threshold: float
    drift_when: str  # "above" or "below"
    kinds: frozenset[ColumnType]
    compute: Callable[[FeaturePair], Computed]
    description: str
    confirm: Callable[[FeaturePair, Computed, Mapping[str, float]], tuple[bool, str]] | None = None

    def applies_to(self, kind: ColumnType) -> bool:
        return kind in self.kinds

    def evaluate(
        self, pair: FeaturePair, threshold: float | None = None, limits: Mapping[str, float] | None = None
    ) -> MethodValue:
        limit = self.threshold if threshold is None else float(threshold)
        computed = self.compute(pair)
        value, note = computed.value, computed.note
        drifted = bool(value > limit) if self.drift_when == "above" else bool(value < limit)
        if drifted and self.confirm is not None:
            drifted, extra = self.confirm(pair, computed, limits or resolve_thresholds(None))
            note = "; ".join(n for n in (note, extra) if n)
        return MethodValue(float(value), drifted, note, computed.effect)


METHODS: dict[str, DriftMethod] = {}

ALL_KINDS = frozenset({ColumnType.NUMERIC, ColumnType.DATETIME, ColumnType.CATEGORICAL, ColumnType.BOOLEAN})
NUMERIC_ONLY = frozenset({ColumnType.NUMERIC, ColumnType.DATETIME})  # time columns compare as days


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
    """Default thresholds with ``thresholds`` applied: the methods' and :data:`SECONDARY_THRESHOLDS`.

    An unknown name is a :class:`ParameterError` listing the known ones.
    """
    out = {name: m.threshold for name, m in METHODS.items()}
    out.update(SECONDARY_THRESHOLDS)
    for name, value in (thresholds or {}).items():
        key = str(name).strip().lower()
        if key in SECONDARY_THRESHOLDS:
            out[key] = float(value)
            continue
        try:
            out[get_method(name).name] = float(value)
        except ParameterError as exc:
            raise ParameterError(
                f"unknown threshold {name!r}",
                name=str(name),
                hint="known thresholds: " + ", ".join(sorted([*METHODS, *SECONDARY_THRESHOLDS])),
            ) from exc
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


def _psi(pair: FeaturePair) -> Computed:
    return Computed(psi_from_counts(pair.ref_counts, pair.cur_counts))


# --- companions --------------------------------------------------------------------------------


def _reference_sample(pair: FeaturePair) -> tuple[np.ndarray, str]:
    if pair.ref_values is not None:
        return pair.ref_values, ""
    return np.asarray(pair.profile.sketch, dtype=np.float64), "reference from the profile's quantile sketch"


def _current_values(pair: FeaturePair) -> np.ndarray:
    if pair.cur_values is None or pair.cur_values.size == 0:
        raise ValueError("no finite current values to compare")
    return pair.cur_values


def _ks(pair: FeaturePair) -> Computed:
    ref, note = _reference_sample(pair)
    cur = _current_values(pair)
    found = stats.ks_2samp(ref, cur)
    statistic = float(found.statistic)
    if pair.ref_values is not None:
        return Computed(float(found.pvalue), "", statistic)
    n, m = pair.n_ref - pair.profile.n_missing, cur.size
    p = float(stats.kstwobign.sf(statistic * np.sqrt(n * m / (n + m)))) if n and m else 1.0
    return Computed(p, note, statistic)


def _ks_floor(pair: FeaturePair, computed: Computed, limits: Mapping[str, float]) -> tuple[bool, str]:
    """KS flags only when D also exceeds ``ks_statistic``: significant *and* large enough to act on."""
    floor = float(limits.get("ks_statistic", KS_STATISTIC))
    d = computed.effect if computed.effect is not None else 0.0
    if d > floor:
        return True, f"D {d:.3f} > {floor:g}"
    return False, f"p below the level but D {d:.3f} <= {floor:g}: a difference too small to act on"


def _chi2(pair: FeaturePair) -> Computed:
    table = np.vstack([pair.ref_counts, pair.cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return Computed(1.0, "one non-empty bin: nothing to test")
    return Computed(float(stats.chi2_contingency(table, correction=False).pvalue))


def _jensen_shannon(pair: FeaturePair) -> Computed:
    p = pair.ref_counts / pair.n_ref
    q = pair.cur_counts / pair.n_cur
    return Computed(float(jensenshannon(p, q, base=2)))


def _jensen_shannon_permutation(pair: FeaturePair, computed: Computed, limits: Mapping[str, float]) -> tuple[bool, str]:
    """Drift only when the distance is also unlikely under no drift: exact bin permutations, p < 0.05."""
    p = permutation_p(pair.ref_counts, pair.cur_counts, jensen_shannon_rows)
    return p < ALPHA, _permutation_note(p)


def _permutation_note(p: float) -> str:
    verdict = "drift" if p < ALPHA else "not significant"
    return f"permutation p {p:.3f} ({PERMUTATIONS} permutations, seed 0): {verdict}"


def _wasserstein(pair: FeaturePair) -> Computed:
    ref, note = _reference_sample(pair)
    cur = _current_values(pair)
    scale = pair.profile.std or 0.0
    if scale <= 0:
        return Computed(0.0, "reference standard deviation is 0")
    return Computed(float(stats.wasserstein_distance(ref, cur) / scale), note)


register_method(DriftMethod("psi", "PSI", PSI_DRIFT, "above", ALL_KINDS, _psi, "population stability index"))
register_method(
    DriftMethod(
        "ks", "p-value", 0.05, "below", NUMERIC_ONLY, _ks, "Kolmogorov-Smirnov two-sample test", confirm=_ks_floor
    )
)
register_method(DriftMethod("chi2", "p-value", 0.05, "below", ALL_KINDS, _chi2, "chi-squared test on the bins"))
register_method(
    DriftMethod(
        "jensen_shannon", "distance", 0.1, "above", ALL_KINDS, _jensen_shannon, "Jensen-Shannon distance",
        confirm=_jensen_shannon_permutation,
    )
)  # fmt: skip
PERMUTATION_ROWS = 2000  # rows per side the Wasserstein permutation test draws from (seeded): cheap on big data


def _wasserstein_permutation(pair: FeaturePair, computed: Computed, limits: Mapping[str, float]) -> tuple[bool, str]:
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
    return p < ALPHA, _permutation_note(p)


register_method(
    DriftMethod(
        "wasserstein", "distance (std)", 0.1, "above", NUMERIC_ONLY, _wasserstein, "Wasserstein-1 / reference std",
        confirm=_wasserstein_permutation,
    )
)  # fmt: skip
