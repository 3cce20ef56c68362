"""What the ``analyze_drift`` runbook shows: inputs read and judged in one call, and its section tables.

:func:`judge_drift` reads the reference (a table or a saved profile) and the current data, and runs
three checks: ``feature drift`` (one row per feature, and the prediction), ``drift trend`` (PSI per
window) and ``accuracy change`` (per window against the reference). Input that cannot be read is
one ERROR row and the checks that depend on it SKIP, so the report still renders. The returned
:class:`DriftReport` holds the verdict table and every intermediate result, with small methods for
the sentences and tables of the runbook's sections and its summary figures. Nothing here displays.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from opskit.analyses.drift.accuracy import CHECK_ACCURACY, AccuracyResult, accuracy_by_window
from opskit.analyses.drift.features import CHECK_FEATURE, CHECK_PREDICTION, DriftResult, analyze_drift
from opskit.analyses.drift.methods import DEFAULT_COMPANIONS
from opskit.analyses.drift.pipeline import count_current_file, load_reference, reference_correct
from opskit.analyses.drift.profile import ReferenceProfile
from opskit.analyses.drift.windows import CHECK_TREND, psi_trend, trend_verdicts
from opskit.checks import Status, Verdict, VerdictTable, run_checks
from opskit.privacy import mask_frame
from opskit.samples import resolve
from opskit.sources.datasets import iter_batches, read_table, table_columns

UNTIMED_CHUNKS = 4  # windows of the current data when there is no timestamp and no number of chunks


@dataclass
class _Loaded:
    """What the checks read and computed so far (the next check builds on it)."""

    profile: ReferenceProfile | None = None
    reference_frame: pd.DataFrame | None = None
    profile_path: Path | None = None
    current_path: Path | None = None  # set once the current data was read
    result: DriftResult | None = None
    trend: pd.DataFrame | None = None
    accuracy: AccuracyResult | None = None


@dataclass(frozen=True)
class DriftReport:
    """The verdicts of :func:`judge_drift` and what is behind them (None where a check could not run)."""

    verdicts: VerdictTable
    result: DriftResult | None = None
    profile: ReferenceProfile | None = None
    trend: pd.DataFrame | None = None
    accuracy: AccuracyResult | None = None
    profile_path: Path | None = None
    top: int = 4

    # -- feature drift -------------------------------------------------------------------------
    def overview(self) -> str:
        """One Markdown sentence: rows on each side, the verdict method and threshold, the profile."""
        r = self.result
        if r is None:
            return "The features could not be compared: see the ERROR row above."
        return (
            f"{r.n_reference:,} reference rows, {r.n_current:,} current rows; verdict method "
            f"**{r.method}** (threshold {r.thresholds[r.method]}); profile opskit "
            f"{r.profile.opskit_version}, data {r.profile.data_hash[:19]}…"
        )

    def feature_table(self) -> pd.DataFrame:
        """Features ranked by PSI with type, level, verdict method and companions (empty without a result)."""
        return self.result.table().round(4) if self.result is not None else pd.DataFrame()

    @property
    def has_psi(self) -> bool:
        """True when at least one feature has a PSI (there is something to plot)."""
        return self.result is not None and any(f.psi is not None for f in self.result.features)

    def top_features(self, n: int | None = None) -> list[str]:
        """The ``n`` (default ``top``) features with the highest PSI."""
        return self.result.top(self.top if n is None else n) if self.result is not None else []

    def bin_table(self, name: str) -> pd.DataFrame:
        """The PSI bin table of one feature, text masked and rounded for display."""
        return mask_frame(self.result.bin_tables[name]).round(4)

    def feature_note(self, name: str) -> str:
        """Markdown: the feature's name and how it was binned (ties collapsed, missing values, ...)."""
        return f"**{name}**: {self.result.feature(name).note or 'binning as stated above'}"

    # -- trend -----------------------------------------------------------------------------------
    @property
    def has_trend(self) -> bool:
        return self.trend is not None and len(self.trend) > 0

    def trend_features(self, n: int = 6) -> list[str]:
        """Among the ``n`` features with the highest PSI, those with a PSI per window."""
        if not self.has_trend:
            return []
        present = set(self.trend["feature"])
        return [name for name in self.top_features(n) if name in present]

    def trend_table(self) -> pd.DataFrame:
        """PSI per window (rows) and feature (columns)."""
        return self.trend.pivot(index="window", columns="feature", values="psi").round(3)

    # -- the model ---------------------------------------------------------------------------------
    def prediction_bins(self) -> tuple[pd.DataFrame, str] | None:
        """The prediction's bin table and a plot title, or None when prediction drift was not computed."""
        r = self.result
        if r is None or r.prediction is None or r.prediction.name not in r.bin_tables:
            return None
        return r.bin_tables[r.prediction.name], f"prediction {r.prediction.name}"

    def accuracy_table(self) -> pd.DataFrame:
        """Accuracy, change and its interval per window (and ``all``), rounded for display."""
        return self.accuracy.windows.round({"accuracy": 4, "change": 4, "ci_low": 4, "ci_high": 4})

    # -- profile and summary -------------------------------------------------------------------------
    def profile_note(self) -> str:
        """Markdown: the reference profile's size, bins, origin and where it was saved."""
        p = self.profile
        if p is None:
            return "No reference profile: the reference could not be read (see the verdict table)."
        return (
            f"profile of {p.n_rows:,} rows, {len(p.features)} columns, {p.bins} bins, "
            f"created {p.created_at} by opskit {p.opskit_version}, data `{p.data_hash}`"
            + (f"; saved to `{self.profile_path}`" if self.profile_path else "")
        )

    def figures(self) -> dict[str, object]:
        """Key figures for ``publish_summary``: feature counts and PSI, accuracy change, prediction PSI."""
        figures = dict(self.result.figures()) if self.result is not None else {}
        acc = self.accuracy
        if acc is not None:
            overall = acc.overall()
            figures.update(
                reference_accuracy=round(acc.reference_accuracy, 4),
                current_accuracy=round(float(overall["accuracy"]), 4),
                accuracy_change_pp=round(float(overall["change"]) * 100, 2),
                windows_accuracy_drop=int((acc.windows["status"].iloc[:-1] == "FAIL").sum()),
            )
        if self.result is not None and self.result.prediction is not None:
            figures["prediction_psi"] = self.result.prediction.psi
        return figures


def judge_drift(
    reference: str | os.PathLike[str],
    current: str | os.PathLike[str],
    *,
    target: str | None = None,
    prediction: str | None = None,
    timestamp: str | None = None,
    window: str | int = "week",
    method: str = "psi",
    companions: Iterable[str] = DEFAULT_COMPANIONS,
    thresholds: Mapping[str, float] | None = None,
    bins: int = 10,
    column_types: Mapping[str, str] | None = None,
    exclude: Iterable[str] = (),
    accuracy_tolerance: float = 0.05,
    save_profile: str | os.PathLike[str] | None = None,
    chunk_rows: int = 1_000_000,
    top: int = 4,
) -> DriftReport:
    """Read, compare and judge the reference and current data (paths or ``sample:<scenario>`` names).

    ``reference`` is a table (.parquet, .csv, .jsonl) or a saved profile (.json); ``current`` is a
    table, read in chunks of ``chunk_rows`` rows. ``target`` and ``timestamp`` are never compared
    as features, nor is anything in ``exclude``; ``prediction`` is judged apart as prediction
    drift. Checks, in order (an exception in one is its ERROR row, the others still run):

    - ``feature drift``: :func:`~opskit.analyses.drift.features.analyze_drift` by ``method``; unreadable
      input is its ERROR row.
    - ``drift trend``: PSI per window (calendar windows of ``timestamp``, or ``window`` equal
      chunks, or 4 chunks without a timestamp); SKIP when there is no feature drift to follow.
    - ``accuracy change``: per window against the reference, flagged beyond
      ``accuracy_tolerance``; SKIP without target and prediction, or when the inputs were not read.

    ``save_profile`` also writes the reference profile there (JSON) for later runs.
    """
    window = str(window)
    skip = [*(c for c in (target, timestamp) if c), *exclude]
    loaded = _Loaded()

    def check_features():
        return _check_features(
            loaded, reference, current, bins=bins, column_types=column_types, exclude=skip, target=target,
            prediction=prediction, save_profile=save_profile, chunk_rows=chunk_rows, method=method,
            companions=companions, thresholds=thresholds,
        )  # fmt: skip

    def check_trend():
        return _check_trend(loaded, timestamp=timestamp, window=window, chunk_rows=chunk_rows, prediction=prediction)

    def check_accuracy():
        return _check_accuracy(
            loaded, target=target, prediction=prediction, timestamp=timestamp, window=window,
            tolerance=accuracy_tolerance,
        )  # fmt: skip

    verdicts = run_checks([(CHECK_FEATURE, check_features), (CHECK_TREND, check_trend),
                           (CHECK_ACCURACY, check_accuracy)])  # fmt: skip
    return DriftReport(
        verdicts=verdicts,
        result=loaded.result,
        profile=loaded.profile,
        trend=loaded.trend,
        accuracy=loaded.accuracy,
        profile_path=loaded.profile_path,
        top=top,
    )


def _check_features(
    loaded: _Loaded,
    reference,
    current,
    *,
    bins: int,
    column_types,
    exclude: list[str],
    target: str | None,
    prediction: str | None,
    save_profile,
    chunk_rows: int,
    method: str,
    companions: Iterable[str],
    thresholds,
) -> list[Verdict]:
    """Profile the reference (or load its profile), count the current data, judge every feature."""
    profile, frame = load_reference(
        resolve(reference), bins=bins, column_types=column_types, exclude=exclude, target=target, prediction=prediction
    )
    loaded.profile, loaded.reference_frame = profile, frame
    if save_profile:
        loaded.profile_path = profile.save(save_profile)
    current_path = resolve(current)
    counted = count_current_file(profile, current_path, chunk_rows=chunk_rows)
    loaded.current_path = current_path
    has_prediction = bool(prediction) and prediction in profile.features
    result = loaded.result = analyze_drift(
        profile,
        counted,
        method=method,
        companions=companions,
        thresholds=thresholds or {},
        exclude=exclude,
        prediction=prediction if has_prediction else None,
    )
    verdicts = result.verdicts()
    if prediction and not has_prediction:
        verdicts.append(
            Verdict(
                CHECK_PREDICTION,
                Status.SKIP,
                subject=prediction,
                message=f"column {prediction!r} not in the reference: prediction drift not computed",
            )
        )
    return verdicts


def _is_chunks(window: str) -> bool:
    return window.strip().isdigit()


def _check_trend(
    loaded: _Loaded, *, timestamp: str | None, window: str, chunk_rows: int, prediction: str | None
) -> Verdict | list[Verdict]:
    """PSI per window; WARN for a feature rising toward the drift level, else one PASS row."""
    result = loaded.result
    if result is None or result.n_current == 0:
        return Verdict(CHECK_TREND, Status.SKIP, message="no feature drift to follow over time")
    if timestamp and timestamp not in table_columns(loaded.current_path):
        return Verdict(
            CHECK_TREND,
            Status.SKIP,
            subject=timestamp,
            message=f"timestamp column {timestamp!r} not in the current data: no trend",
        )
    if timestamp and not _is_chunks(window):
        chunks = iter_batches(loaded.current_path, batch_rows=chunk_rows)  # calendar windows: bounded memory
    else:
        chunks = read_table(loaded.current_path)  # equal chunks by row order need the rows in memory
    windows = window if timestamp or _is_chunks(window) else str(UNTIMED_CHUNKS)
    trend = loaded.trend = psi_trend(loaded.profile, chunks, timestamp=timestamp, window=windows)
    overall = {f.name: f.status for f in result.features}
    if result.prediction is not None:
        overall[result.prediction.name] = result.prediction.status
    rising = trend_verdicts(trend[trend["feature"] != prediction], overall_status=overall)
    return rising or Verdict(
        CHECK_TREND,
        Status.PASS,
        observed=trend["window"].nunique(),
        unit="windows",
        message="no feature below the drift level is rising toward it",
    )


def _check_accuracy(
    loaded: _Loaded,
    *,
    target: str | None,
    prediction: str | None,
    timestamp: str | None,
    window: str,
    tolerance: float,
) -> Verdict | list[Verdict]:
    """Accuracy per window against the reference's (from the table, or counts saved in the profile)."""
    if not (target and prediction):
        return Verdict(CHECK_ACCURACY, Status.SKIP, message="no target or prediction column given")
    if loaded.profile is None or loaded.current_path is None:
        return Verdict(
            CHECK_ACCURACY,
            Status.SKIP,
            message="the reference or current data could not be read: see the feature drift ERROR row",
        )
    columns = table_columns(loaded.current_path)
    missing = [c for c in (target, prediction) if c not in columns]
    if missing:
        return Verdict(
            CHECK_ACCURACY,
            Status.SKIP,
            subject=", ".join(missing),
            message="not in the current data: accuracy not computed (set -p target / -p prediction)",
        )
    ref_correct = reference_correct(loaded.profile, loaded.reference_frame, target=target, prediction=prediction)
    if ref_correct.size == 0:
        return Verdict(
            CHECK_ACCURACY,
            Status.SKIP,
            subject=target,
            message="the reference has no labels and predictions: nothing to compare against",
        )
    use_ts = timestamp if timestamp and timestamp in columns else None
    frame = read_table(loaded.current_path, columns=[c for c in (use_ts, target, prediction) if c])
    acc = loaded.accuracy = accuracy_by_window(
        ref_correct,
        frame,
        target=target,
        prediction=prediction,
        timestamp=use_ts,
        window=window if use_ts or _is_chunks(window) else UNTIMED_CHUNKS,
        tolerance=tolerance,
    )
    return acc.verdicts()
