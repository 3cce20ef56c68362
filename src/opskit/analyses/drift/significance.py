"""Sample size and drift: PSI's value under no drift, and the minimum rows a verdict needs.

PSI grows with sampling noise alone: with ``k`` bins and ``n_ref``, ``n_cur`` rows drawn from one
distribution its mean is about ``(k - 1) * (1/n_ref + 1/n_cur)`` (PSI is a symmetrised
chi-squared divergence, and each side's noise adds about ``(k - 1) / n``). At 30 rows and 10 bins
that is 0.3 or more, above the drift threshold with no drift at all, so a feature is judged only
when both sides hold at least ``min_rows_per_bin`` (default 10) rows per bin (missing values
count: they have a bin of their own).
"""

from __future__ import annotations

import numpy as np

from opskit.analyses.drift.profile import FeatureProfile


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
