"""Feature drift between a reference and a current data set: PSI you can audit, plus companions.

Entry point: :func:`analyze_drift` takes a reference (DataFrame or saved :class:`ReferenceProfile`),
a current data set (DataFrame, or :class:`CurrentCounts` filled chunk by chunk) and the run's
:class:`~opskit.analyses.drift.settings.DriftSettings`, and returns a
:class:`DriftResult`: one :class:`FeatureDrift` per column (ranked by PSI), the bin table behind
every PSI, and :meth:`DriftResult.verdicts` for the runbook's verdict table.

Binning and smoothing rules: :mod:`opskit.analyses.drift.bins` and :mod:`opskit.analyses.drift.methods`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from opskit.analyses.drift.columns import ColumnType, numeric_values
from opskit.analyses.drift.counts import CurrentCounts
from opskit.analyses.drift.methods import (
    METHODS,
    PSI_WATCH,
    FeaturePair,
    MethodValue,
    classify_psi,
    get_method,
    psi_from_counts,
    psi_table,
    resolve_thresholds,
)
from opskit.analyses.drift.profile import FeatureProfile, ReferenceProfile, build_profile
from opskit.analyses.drift.settings import DriftSettings
from opskit.analyses.drift.significance import size_guard
from opskit.checks import Status, Verdict

CHECK_FEATURE = "feature drift"
CHECK_PREDICTION = "prediction drift"

_LEVEL_STATUS = {"drift": Status.FAIL, "watch": Status.WARN, "stable": Status.PASS}


@dataclass(frozen=True)
class BinCounts:
    """Reference and current counts of one feature over its bins (the table is built on demand)."""

    profile: FeatureProfile
    current: np.ndarray

    def table(self) -> pd.DataFrame:
        return psi_table(self.profile.labels(), np.asarray(self.profile.counts), self.current)


class BinTables(Mapping[str, pd.DataFrame]):
    """The PSI bin table of each compared feature, built when first asked for (then kept)."""

    def __init__(self, counts: Mapping[str, BinCounts]):
        self._counts = dict(counts)
        self._tables: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._tables:
            self._tables[name] = self._counts[name].table()
        return self._tables[name]

    def __iter__(self):
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)


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


@dataclass(frozen=True)
class DriftResult:
    """Everything :func:`analyze_drift` found; ``features`` are ranked, worst PSI first."""

    features: list[FeatureDrift]
    bin_tables: BinTables
    method: str
    thresholds: dict[str, float]
    profile: ReferenceProfile
    n_reference: int
    n_current: int
    prediction: FeatureDrift | None = None
    problems: list[Verdict] = field(default_factory=list)

    def feature(self, name: str) -> FeatureDrift:
        for f in [*self.features, *([self.prediction] if self.prediction else [])]:
            if f.name == name:
                return f
        raise KeyError(name)

    def by_status(self, status: Status | str) -> list[str]:
        return [f.name for f in self.features if f.status == Status(status)]

    def table(self) -> pd.DataFrame:
        """The ranked table: one row per feature with PSI, the verdict method and each companion."""
        rows = []
        for f in self.features:
            row = {
                "feature": f.name,
                "type": f.kind.value if f.kind else None,
                "status": f.status.value,
                "psi": f.psi,
                "level": f.level,
                "method": f.method,
                "value": f.value,
                "threshold": f.threshold,
                "bins": f.n_bins,
            }
            for name in self._companion_names():
                c = f.companions.get(name)
                row[name] = c.value if c else None
            row["note"] = "; ".join(x for x in (f.reason, f.note) if x)
            rows.append(row)
        return pd.DataFrame(rows)

    def _companion_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for f in self.features:
            seen.update(dict.fromkeys(f.companions))
        return list(seen)

    def top(self, n: int = 3) -> list[str]:
        """Names of the ``n`` features with the highest PSI."""
        return [f.name for f in self.features if f.psi is not None][:n]

    def verdicts(self) -> list[Verdict]:
        """One verdict per feature (and the prediction), worst first once in a VerdictTable."""
        out = list(self.problems)
        watch = self.thresholds.get("psi_watch", PSI_WATCH)
        out.extend(_verdict(f, CHECK_FEATURE, self.bin_tables.get(f.name), watch) for f in self.features)
        if self.prediction is not None:
            table = self.bin_tables.get(self.prediction.name)
            out.append(_verdict(self.prediction, CHECK_PREDICTION, table, watch))
        return out

    def figures(self) -> dict[str, object]:
        psis = [f.psi for f in self.features if f.psi is not None]
        return {
            "features_compared": len(psis),
            "features_in_drift": len(self.by_status(Status.FAIL)),
            "features_to_watch": len(self.by_status(Status.WARN)),
            "features_skipped": len(self.by_status(Status.SKIP)),
            "features_in_error": len(self.by_status(Status.ERROR)),
            "max_psi": max(psis) if psis else None,
            "method": self.method,
            "rows_reference": self.n_reference,
            "rows_current": self.n_current,
        }


def _next_step(f: FeatureDrift, check: str) -> str:
    if f.status == Status.FAIL:
        what = "the model's scores" if check == CHECK_PREDICTION else f"'{f.name}'"
        return (
            f"compare the histograms of {what} below; check the upstream data for a pipeline or "
            "population change, then retrain or recalibrate if the shift is real"
        )
    if f.status == Status.WARN:
        return "watch the PSI trend per window; it is moving toward the 0.2 drift level"
    if f.status == Status.ERROR:
        return "fix the column in the named data set (or set its type with column_types) and rerun"
    return ""


def _evidence(f: FeatureDrift, table: pd.DataFrame | None) -> str:
    parts = []
    if table is not None and len(table):
        top = table.loc[table["contribution"].idxmax()]
        parts.append(
            f"largest bin {top['bin']}: reference {top['ref_share']:.1%} -> current {top['cur_share']:.1%} "
            f"(contribution {top['contribution']:.3f})"
        )
    if f.unseen:
        cats = sorted(f.unseen.items(), key=lambda kv: -kv[1])[:3]
        parts.append("unseen categories: " + ", ".join(f"{k!r} x{v}" for k, v in cats))
    for name, c in f.companions.items():
        parts.append(f"{name} {c.value:.3g}{' (drift)' if c.drifted else ''}")
    return "; ".join(parts)


def _verdict(f: FeatureDrift, check: str, table: pd.DataFrame | None, watch: float = PSI_WATCH) -> Verdict:
    if f.status in (Status.SKIP, Status.ERROR):
        return Verdict(check, f.status, subject=f.name, message=f.reason, next_step=_next_step(f, check) or None)
    threshold = f.threshold
    if f.method == "psi" and f.status != Status.FAIL:
        threshold = watch  # the level a WARN reached, or a PASS stays under
    unit = "PSI" if f.method == "psi" else METHODS[f.method].statistic
    message = f"{f.method}: {f.level}" if f.method == "psi" else f"{f.method} (PSI {f.psi:.3f}, {f.level})"
    if f.note:
        message += f"; {f.note}"
    return Verdict(
        check,
        f.status,
        subject=f.name,
        observed=round(float(f.value), 4) if f.value is not None else None,
        threshold=threshold,
        unit=unit,
        evidence=_evidence(f, table),
        next_step=_next_step(f, check) or None,
        message=message,
    )


def _finite(values: np.ndarray | None) -> np.ndarray | None:
    return None if values is None else values[np.isfinite(values)]


def _judge(
    fp: FeatureProfile,
    counts,
    method: str,
    companions: Sequence[str],
    thresholds: Mapping[str, float],
    ref_values: np.ndarray | None,
    min_rows_per_bin: int = 10,
) -> tuple[FeatureDrift, BinCounts]:
    """Compare one feature; returns its drift and the counts behind its PSI bin table.

    Fewer than ``min_rows_per_bin`` non-missing rows per bin on either side: SKIP "too few rows".
    """
    n_cur = int(counts.counts.sum())
    pair = FeaturePair(fp, counts.counts, ref_values=ref_values, cur_values=counts.values)
    table = BinCounts(fp, counts.counts)
    psi = psi_from_counts(pair.ref_counts, counts.counts)
    level = classify_psi(psi, thresholds.get("psi_watch", PSI_WATCH), thresholds["psi"])
    notes = [fp.note()] if fp.note() else []
    if counts.n_infinite:
        notes.append(f"{counts.n_infinite} infinite current value(s) counted in the edge bins")
    if n_cur and counts.counts[-1] == n_cur:
        notes.append("all current values missing")
    elif counts.counts[-1] and not fp.counts[-1]:
        notes.append(f"missing values appear: {counts.counts[-1] / n_cur:.1%} of current rows")
    results: dict[str, MethodValue] = {}
    for name in companions:
        m = get_method(name)
        if m.name == method or not m.applies_to(fp.kind):
            continue
        try:
            results[m.name] = m.evaluate(pair, thresholds[m.name])
        except ValueError as exc:
            notes.append(f"{m.name} not computed: {exc}")
    verdict_method = get_method(method)
    if verdict_method.name == "psi":
        status, value, threshold = _LEVEL_STATUS[level], psi, thresholds["psi"]
    elif not verdict_method.applies_to(fp.kind):
        notes.append(f"{method} does not apply to {fp.kind.value} columns: judged by PSI")
        status, value, threshold = _LEVEL_STATUS[level], psi, thresholds["psi"]
        method = "psi"
    else:
        try:
            mv = verdict_method.evaluate(pair, thresholds[verdict_method.name])
            status = Status.FAIL if mv.drifted else Status.PASS
            value, threshold = mv.value, thresholds[verdict_method.name]
        except ValueError as exc:
            notes.append(f"{method} not computed ({exc}): judged by PSI")
            status, value, threshold = _LEVEL_STATUS[level], psi, thresholds["psi"]
            method = "psi"
    expected, reason = size_guard(fp, counts.counts, psi, min_rows_per_bin)
    if reason:
        status = Status.SKIP
    elif expected >= 0.01:
        notes.append(f"PSI expected with no drift at these sizes: about {expected:.3f}")
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
    )
    return drift, table


def _not_compared(fp: FeatureProfile, method: str) -> FeatureDrift:
    return FeatureDrift(fp.name, fp.kind, Status(fp.status), method, reason=fp.reason)


def analyze_drift(
    reference: pd.DataFrame | ReferenceProfile,
    current: pd.DataFrame | CurrentCounts,
    settings: DriftSettings | None = None,
    *,
    reference_table: pd.DataFrame | None = None,
) -> DriftResult:
    """Compare every reference column with the current data, as ``settings`` say (default: the defaults).

    ``settings.method`` decides each feature's status (PSI by default: above ``thresholds["psi"]``
    (0.2) FAIL, from ``thresholds["psi_watch"]`` (0.1) WARN); ``settings.companions`` are computed
    and shown beside it. The label, the timestamp and ``exclude`` are not compared;
    ``settings.prediction`` names the model-output column, judged apart as prediction drift.
    A reference table is profiled first; with a profile, ``reference_table`` (its table) gives KS and
    Wasserstein exact reference values, not the sketch. An unknown method is a ``ParameterError``.
    """
    settings = settings or DriftSettings()
    method = get_method(settings.method).name
    companions = [get_method(c).name for c in settings.companions]
    thresholds = settings.thresholds
    limits = resolve_thresholds({k: v for k, v in thresholds.items() if k != "psi_watch"})
    limits["psi_watch"] = float(thresholds.get("psi_watch", PSI_WATCH))
    skip = set(settings.not_compared)
    prediction = settings.prediction
    ref_frame = reference_table
    if isinstance(reference, pd.DataFrame):
        ref_frame = reference
        profile = build_profile(reference, settings)
    else:
        profile = reference
    needs_values = any(get_method(m).name in ("ks", "wasserstein") for m in [*companions, method])
    if isinstance(current, CurrentCounts):
        counted = current
    else:
        counted = CurrentCounts(profile, keep_values=needs_values, sample_size=None)
        counted.add(current)  # columns outside the profile are not read; no copy of the frame
    problems: list[Verdict] = []
    features: list[FeatureDrift] = []
    tables: dict[str, BinCounts] = {}
    pred: FeatureDrift | None = None
    if counted.n_rows == 0:
        problems.append(
            Verdict(
                CHECK_FEATURE,
                Status.ERROR,
                subject="(all features)",
                message="the current data set has no rows",
                next_step="check the current data's path, filter or time range",
            )
        )
    for name, fp in profile.features.items():
        if name in skip and name != prediction:
            continue
        if not fp.comparable:
            drift, table = _not_compared(fp, method), None
        elif counted.n_rows == 0:
            continue
        elif name not in counted.columns_seen:
            drift = FeatureDrift(name, fp.kind, Status.ERROR, method, reason="column missing from the current data")
            table = None
        elif counted.features[name].error:
            drift = FeatureDrift(name, fp.kind, Status.ERROR, method, reason=counted.features[name].error)
            table = None
        else:
            ref_values = None
            if ref_frame is not None and fp.kind == ColumnType.NUMERIC and needs_values:
                ref_values = _finite(numeric_values(ref_frame[name], column=name, side="reference"))
            drift, table = _judge(
                fp, counted.features[name], method, companions, limits, ref_values, settings.min_rows_per_bin
            )
        if table is not None:
            tables[name] = table
        if name == prediction:
            pred = drift
        else:
            features.append(drift)
    for name in sorted(counted.columns_seen - set(profile.features) - skip):
        features.append(FeatureDrift(name, None, Status.SKIP, method, reason="not in the reference: not compared"))
    features.sort(key=lambda f: (f.psi is None, -(f.psi or 0.0), -f.status.severity, f.name))
    return DriftResult(
        features=features,
        bin_tables=BinTables(tables),
        method=get_method(method).name,
        thresholds=limits,
        profile=profile,
        n_reference=profile.n_rows,
        n_current=counted.n_rows,
        prediction=pred,
        problems=problems,
    )
