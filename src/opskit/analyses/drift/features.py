"""Feature drift between a reference and a current data set: PSI you can audit, plus companions.

Entry point: :func:`analyze_drift` takes a reference (DataFrame or saved :class:`ReferenceProfile`),
a current data set (DataFrame, or :class:`CurrentCounts` filled chunk by chunk) and the run's
:class:`~opskit.analyses.drift.settings.DriftSettings`, and returns a
:class:`DriftResult`: one :class:`FeatureDrift` per column (ranked by PSI), the bin table behind
every PSI, and :meth:`DriftResult.verdicts` for the runbook's verdict table.

Binning and smoothing rules: :mod:`opskit.analyses.drift.bins` and :mod:`opskit.analyses.drift.methods`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from opskit.analyses.drift.columns import ColumnType, numeric_values, time_days
from opskit.analyses.drift.counts import CurrentCounts
from opskit.analyses.drift.judge import BinCounts, FeatureDrift, judge_feature
from opskit.analyses.drift.methods import PSI_WATCH, get_method, resolve_thresholds
from opskit.analyses.drift.profile import FeatureProfile, ReferenceProfile, build_profile
from opskit.analyses.drift.settings import DriftSettings
from opskit.analyses.drift.verdicts import CHECK_FEATURE, CHECK_PREDICTION, feature_verdict
from opskit.checks import Status, Verdict

__all__ = [
    "CHECK_FEATURE",
    "CHECK_PREDICTION",
    "BinCounts",
    "BinTables",
    "DriftResult",
    "FeatureDrift",
    "analyze_drift",
]


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
                "psi_expected": f.psi_expected,
            }
            if any(x.psi_p_value is not None for x in self.features):
                row["psi_p_value"] = f.psi_p_value
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
        out.extend(feature_verdict(f, CHECK_FEATURE, self.bin_tables.get(f.name), watch) for f in self.features)
        if self.prediction is not None:
            table = self.bin_tables.get(self.prediction.name)
            out.append(feature_verdict(self.prediction, CHECK_PREDICTION, table, watch))
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


def _finite(values: np.ndarray | None) -> np.ndarray | None:
    return None if values is None else values[np.isfinite(values)]


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
    limits = resolve_thresholds(thresholds)
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
            if ref_frame is not None and fp.kind in (ColumnType.NUMERIC, ColumnType.DATETIME) and needs_values:
                read = time_days if fp.kind == ColumnType.DATETIME else numeric_values
                ref_values = _finite(read(ref_frame[name], column=name, side="reference"))
            drift, table = judge_feature(
                fp, counted.features[name], method, companions, limits, ref_values, settings.min_rows_per_bin,
                settings.psi_permutations,
            )  # fmt: skip
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
