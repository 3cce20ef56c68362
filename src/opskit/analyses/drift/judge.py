"""Judging one feature: its PSI and level, the verdict method, the companions, the size guard.

:func:`judge_feature` compares the reference profile of one feature with its current counts and
returns a :class:`FeatureDrift` (status, values, notes) and the counts behind its bin table
(:class:`BinCounts`). With ``psi_permutations`` set, PSI also gets a permutation p-value on the
bin counts, and a PSI past a level that is not significant (p >= 0.05) is a PASS that says so:
on a small window noise alone reaches the levels (see :mod:`opskit.analyses.drift.significance`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from opskit.analyses.drift.columns import ColumnType
from opskit.analyses.drift.methods import (
    PSI_WATCH,
    FeaturePair,
    MethodValue,
    classify_psi,
    get_method,
    psi_from_counts,
    psi_table,
)
from opskit.analyses.drift.profile import FeatureProfile
from opskit.analyses.drift.significance import ALPHA, permutation_p, psi_rows, size_guard
from opskit.checks import Status

LEVEL_STATUS = {"drift": Status.FAIL, "watch": Status.WARN, "stable": Status.PASS}


@dataclass(frozen=True)
class BinCounts:
    """Reference and current counts of one feature over its bins (the table is built on demand)."""

    profile: FeatureProfile
    current: np.ndarray

    def table(self) -> pd.DataFrame:
        return psi_table(self.profile.labels(), np.asarray(self.profile.counts), self.current)


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature: status, the verdict method's value and threshold, PSI, companions."""

    name: str
    kind: ColumnType | None
    status: Status
    method: str
    threshold: float | None = None
    value: float | None = None
    psi: float | None = None
    level: str | None = None  # stable / watch / drift (PSI levels)
    n_bins: int = 0
    companions: dict[str, MethodValue] = field(default_factory=dict)
    note: str = ""
    reason: str | None = None
    unseen: dict[str, int] = field(default_factory=dict)
    n_current: int = 0
    psi_expected: float | None = None  # PSI's approximate value under no drift at these sizes
    psi_p_value: float | None = None  # permutation p-value of the PSI (only with psi_permutations)


def share_text(count: int, total: int) -> str:
    """``"12 of 50,000 current rows (0.024 %)"``: the count and a share that never rounds to 0.0 %."""
    share = 100.0 * count / total if total else 0.0
    pct = f"{share:.1f}" if share == 0 or share >= 1 else f"{share:.2g}"
    return f"{count:,} of {total:,} current rows ({pct} %)"


def _missing_note(fp: FeatureProfile, cur: np.ndarray) -> str | None:
    n_cur, missing = int(cur.sum()), int(cur[-1])
    if n_cur and missing == n_cur:
        return "all current values missing"
    if missing and not fp.counts[-1]:
        return f"missing values appear: {share_text(missing, n_cur)} (none in the reference)"
    return None


def judge_feature(
    fp: FeatureProfile,
    counts,
    method: str,
    companions: Sequence[str],
    thresholds: Mapping[str, float],
    ref_values: np.ndarray | None,
    min_rows_per_bin: int = 10,
    psi_permutations: int = 0,
) -> tuple[FeatureDrift, BinCounts]:
    """Compare one feature; returns its drift and the counts behind its PSI bin table.

    Fewer than ``min_rows_per_bin`` rows per bin on either side: SKIP "too few rows".
    ``thresholds`` are the resolved ones (``methods.resolve_thresholds`` and ``psi_watch``).
    """
    n_cur = int(counts.counts.sum())
    pair = FeaturePair(fp, counts.counts, ref_values=ref_values, cur_values=counts.values)
    table = BinCounts(fp, counts.counts)
    psi = psi_from_counts(pair.ref_counts, counts.counts)
    level = classify_psi(psi, thresholds.get("psi_watch", PSI_WATCH), thresholds["psi"])
    notes = [fp.note()] if fp.note() else []
    if counts.n_infinite:
        notes.append(f"{counts.n_infinite} infinite current value(s) counted in the edge bins")
    if fp.constant and n_cur:
        differ = n_cur - int(counts.counts[1]) - int(counts.counts[-1])
        notes.append(f"differ from the reference's constant: {share_text(differ, n_cur)}")
    missing = _missing_note(fp, counts.counts)
    if missing:
        notes.append(missing)
    results: dict[str, MethodValue] = {}
    for name in companions:
        m = get_method(name)
        if m.name == method or not m.applies_to(fp.kind):
            continue
        try:
            results[m.name] = m.evaluate(pair, thresholds[m.name], thresholds)
        except ValueError as exc:
            notes.append(f"{m.name} not computed: {exc}")
    verdict_method = get_method(method)
    psi_status = LEVEL_STATUS[level]
    if verdict_method.name == "psi":
        status, value, threshold = psi_status, psi, thresholds["psi"]
    elif not verdict_method.applies_to(fp.kind):
        notes.append(f"{method} does not apply to {fp.kind.value} columns: judged by PSI")
        status, value, threshold, method = psi_status, psi, thresholds["psi"], "psi"
    else:
        try:
            mv = verdict_method.evaluate(pair, thresholds[verdict_method.name], thresholds)
            status = Status.FAIL if mv.drifted else Status.PASS
            value, threshold = mv.value, thresholds[verdict_method.name]
            if mv.note:
                notes.append(f"{method}: {mv.note}")
        except ValueError as exc:
            notes.append(f"{method} not computed ({exc}): judged by PSI")
            status, value, threshold, method = psi_status, psi, thresholds["psi"], "psi"
    p_value = None
    if psi_permutations > 0:
        p_value = permutation_p(pair.ref_counts, counts.counts, psi_rows, permutations=int(psi_permutations))
        if method == "psi" and status != Status.PASS and p_value >= ALPHA:
            notes.append(
                f"PSI {psi:.3f} is at the {level} level but not significant: permutation p {p_value:.3f} >= {ALPHA} "
                f"({psi_permutations} permutations of the bin counts): PASS"
            )
            status = Status.PASS
    expected, reason = size_guard(fp, counts.counts, psi, min_rows_per_bin)
    if reason:
        status = Status.SKIP
    drift = FeatureDrift(
        name=fp.name,
        kind=fp.kind,
        status=status,
        method=method,
        threshold=threshold,
        value=value,
        psi=psi,
        level=level,
        n_bins=fp.n_bins,
        companions=results,
        note="; ".join(notes),
        unseen=dict(counts.unseen or {}),
        n_current=n_cur,
        psi_expected=expected,
        reason=reason,
        psi_p_value=p_value,
    )
    return drift, table
