"""Sample size and drift: PSI's value under no drift, the minimum rows a verdict needs, permutation p-values.

PSI grows with sampling noise alone: with ``k`` bins and ``n_ref``, ``n_cur`` rows drawn from one
distribution its mean is about ``(k - 1) * (1/n_ref + 1/n_cur)`` (PSI is a symmetrised
chi-squared divergence, and each side's noise adds about ``(k - 1) / n``). At 30 rows and 10 bins
that is 0.3 or more, above the drift threshold with no drift at all, so a feature is judged only
when both sides hold at least ``min_rows_per_bin`` (default 10) rows per bin (missing values
count: they have a bin of their own).

A statistic of the bin counts (PSI, the Jensen-Shannon distance) also gets an exact permutation
p-value without touching the rows again: shuffling which rows are "reference" and which "current"
deals the pooled count of each bin out again, so one permutation is a multivariate hypergeometric
draw of the reference's counts from the pooled counts (seeded, :data:`PERMUTATIONS` of them).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from opskit.analyses.drift.profile import FeatureProfile

PERMUTATIONS = 200  # seeded permutations behind every permutation p-value
ALPHA = 0.05  # a permutation p-value below this says the difference is unlikely under no drift
_HYPERGEOMETRIC_MAX = 10**9 - 1  # NumPy's limit on the pooled rows; beyond it both sides are drawn multinomially


def psi_expected(n_bins: int, n_reference: int, n_current: int) -> float:
    """PSI's approximate mean with no drift: ``(bins - 1)(1/n_ref + 1/n_cur)``; inf when a side is empty."""
    if n_reference <= 0 or n_current <= 0:
        return float("inf")
    return (max(n_bins, 1) - 1) * (1.0 / n_reference + 1.0 / n_current)


def size_guard(
    fp: FeatureProfile, current_counts: np.ndarray, psi: float, min_rows_per_bin: int
) -> tuple[float, str | None]:
    """``(expected PSI with no drift, reason to SKIP or None)`` for one feature's counts.

    Counts are the bins then the missing bin (last), on both sides; missing values count as rows
    (the missing bin is one of PSI's bins, so a column that goes all missing is still judged).
    """
    n_ref = int(sum(fp.counts))
    n_cur = int(np.sum(current_counts))
    bins = max(fp.n_bins, 1)
    expected = psi_expected(bins, n_ref, n_cur)
    needed = int(min_rows_per_bin) * bins
    if min(n_ref, n_cur) >= needed:
        return expected, None
    side, n = ("reference", n_ref) if n_ref < needed else ("current", n_cur)
    return expected, (
        f"too few rows ({n} in the {side}): at least {needed} needed ({min_rows_per_bin} per bin x {bins} bins); "
        f"PSI {psi:.3f}, about {expected:.3f} expected with no drift at these sizes"
    )


def psi_rows(ref: np.ndarray, cur: np.ndarray, epsilon: float = 1e-4) -> np.ndarray:
    """PSI of each row pair of two count matrices (same smoothing as ``methods.psi_from_counts``)."""
    e = ref / ref.sum(axis=-1, keepdims=True)
    a = cur / cur.sum(axis=-1, keepdims=True)
    e = np.where(e == 0, epsilon, e)
    a = np.where(a == 0, epsilon, a)
    return np.sum((a - e) * np.log(a / e), axis=-1)


def jensen_shannon_rows(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (base 2) of each row pair of two count matrices (as scipy's ``jensenshannon``)."""
    p = ref / ref.sum(axis=-1, keepdims=True)
    q = cur / cur.sum(axis=-1, keepdims=True)
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=-1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=-1)
    return np.sqrt(np.maximum((kl_p + kl_q) / 2.0, 0.0))


def permutation_p(
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> float:
    """Share of row permutations whose ``statistic`` of the bin counts reaches the observed one, ``(hits+1)/(P+1)``.

    ``statistic`` takes two count matrices (one row per draw) and returns one value per row. With
    ``permutations`` P the smallest p-value is ``1/(P+1)`` (0.005 for 200).
    """
    ref = np.asarray(ref_counts, dtype=np.int64)
    cur = np.asarray(cur_counts, dtype=np.int64)
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    if ref.size < 2 or ref.sum() == 0 or cur.sum() == 0:
        return 1.0
    observed = float(statistic(ref[None, :].astype(np.float64), cur[None, :].astype(np.float64))[0])
    pooled, n_ref = ref + cur, int(ref.sum())
    rng = np.random.default_rng(seed)
    if int(pooled.sum()) <= _HYPERGEOMETRIC_MAX:
        drawn = rng.multivariate_hypergeometric(pooled, n_ref, size=permutations, method="marginals")
        other = pooled[None, :] - drawn
    else:  # both sides drawn from the pooled shares (the same null, without NumPy's size limit)
        shares = pooled / pooled.sum()
        drawn = rng.multinomial(n_ref, shares, size=permutations)
        other = rng.multinomial(int(cur.sum()), shares, size=permutations)
    values = statistic(drawn.astype(np.float64), other.astype(np.float64))
    hits = int(np.sum(values >= observed - 1e-12 * max(abs(observed), 1.0)))
    return (hits + 1) / (permutations + 1)
