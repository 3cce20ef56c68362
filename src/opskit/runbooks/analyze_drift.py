"""The ``analyze_drift`` runbook in one call: :func:`run` reads, compares and judges, and returns the result.

The notebook's parameters become one :class:`~opskit.analyses.drift.settings.DriftSettings`; then
each stage returns what it found and its verdict rows: the inputs (the reference, a table or a
saved profile, and the current data counted in chunks), ``feature drift`` (one row per feature, and
the prediction), ``drift trend`` (PSI per window) and ``accuracy change`` (per window against the
reference). Input that cannot be read is one ERROR row and the checks that depend on it SKIP, so
the report still renders. Nothing here displays: the sections are the result's
(:class:`~opskit.runbooks.analyze_drift_result.AnalyzeDriftResult`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pandas as pd

from opskit.analyses.drift.accuracy import CHECK_ACCURACY, AccuracyResult, accuracy_by_window, reference_correct
from opskit.analyses.drift.features import CHECK_FEATURE, CHECK_PREDICTION, DriftResult, analyze_drift
from opskit.analyses.drift.settings import DriftSettings
from opskit.analyses.drift.windows import CHECK_TREND, psi_trend, trend_verdicts
from opskit.checks import Status, Verdict, VerdictTable, error_verdict
from opskit.runbooks.analyze_drift_inputs import DriftInputs, read_inputs
from opskit.runbooks.analyze_drift_result import AnalyzeDriftResult
from opskit.sources.datasets import iter_batches, read_table, table_columns

T = TypeVar("T")


def run(
    *,
    reference: str = "sample:drift_weekly_reference",
    current: str = "sample:drift_weekly_current",
    target: str | None = "defaulted",
    prediction: str | None = "score",
    timestamp: str | None = "application_ts",
    window: str = "week",
    method: str = "psi",
    companions: list = ["ks", "chi2", "jensen_shannon", "wasserstein"],
    thresholds: dict = {},
    bins: int = 10,
    max_categories: int = 50,
    min_rows_per_bin: int = 10,
    psi_permutations: int = 0,
    column_types: dict = {},
    exclude: list = [],
    accuracy_tolerance: float = 0.05,
    save_profile: str | None = None,
    chunk_rows: int = 1000000,
    top: int = 4,
) -> AnalyzeDriftResult:
    """Read, compare and judge the reference and current data (paths or ``sample:<scenario>`` names).

    ``reference`` is a table (.parquet, .csv, .jsonl) or a saved profile (.json); ``current`` is a
    table, read in chunks of ``chunk_rows`` rows. ``target`` and ``timestamp`` are never compared
    as features, nor is anything in ``exclude``; ``prediction`` is judged apart as prediction
    drift. Checks, in order (an exception in one is its ERROR row, the others still run):

    - ``feature drift``: every feature by ``method``; unreadable input is its ERROR row.
    - ``drift trend``: PSI per window (calendar windows of ``timestamp``, or ``window`` equal
      chunks, or 4 chunks without a timestamp); SKIP when there is no feature drift to follow.
    - ``accuracy change``: per window against the reference, flagged beyond
      ``accuracy_tolerance``; SKIP without target and prediction, or when the inputs were not read.

    ``psi_permutations`` (0: none) gives PSI a permutation p-value per feature and per window; a PSI past
    a level that is not significant is PASS "not significant" (a window, level "not significant").
    ``save_profile`` also writes the reference profile there (JSON) for later runs; ``top`` is how
    many features the sections show bin by bin. Never raises on bad input.
    """
    try:
        settings = DriftSettings(
            target=target, prediction=prediction, timestamp=timestamp, window=window, method=method,
            companions=companions, thresholds=thresholds, bins=bins, column_types=column_types, exclude=exclude,
            accuracy_tolerance=accuracy_tolerance, chunk_rows=chunk_rows, max_categories=max_categories,
            min_rows_per_bin=min_rows_per_bin, psi_permutations=psi_permutations,
        )  # fmt: skip
    except (TypeError, ValueError) as exc:  # a parameter of the wrong shape: nothing can be judged
        return AnalyzeDriftResult(verdicts=_unjudged(exc), settings=DriftSettings(), top=top)
    inputs = read_inputs(reference, current, settings, save_profile=save_profile)
    drift, feature_rows = _judged(CHECK_FEATURE, lambda: judge_features(inputs, settings))
    trend, trend_rows = _judged(CHECK_TREND, lambda: judge_trend(inputs, drift, settings))
    accuracy, accuracy_rows = _judged(CHECK_ACCURACY, lambda: judge_accuracy(inputs, settings))
    return AnalyzeDriftResult(
        verdicts=VerdictTable([*feature_rows, *trend_rows, *accuracy_rows]),
        settings=settings,
        drift=drift,
        profile=inputs.reference.profile if inputs.reference is not None else None,
        trend=trend,
        accuracy=accuracy,
        profile_path=inputs.profile_path,
        top=top,
    )


def _judged(check: str, stage: Callable[[], tuple[T | None, list[Verdict]]]) -> tuple[T | None, list[Verdict]]:
    """Run one stage; an exception is the check's ERROR row and no value, and the next stages still run."""
    try:
        return stage()
    except Exception as exc:  # every failure becomes a visible ERROR row
        return None, [error_verdict(check, exc)]


def _unjudged(exc: Exception) -> VerdictTable:
    skipped = "the parameters could not be read: see the feature drift ERROR row"
    return VerdictTable(
        [
            error_verdict(CHECK_FEATURE, exc),
            Verdict(CHECK_TREND, Status.SKIP, message=skipped),
            Verdict(CHECK_ACCURACY, Status.SKIP, message=skipped),
        ]
    )


def judge_features(inputs: DriftInputs, settings: DriftSettings) -> tuple[DriftResult | None, list[Verdict]]:
    """Every feature (and the prediction) compared with the reference; the inputs' ERROR row when unread."""
    if inputs.error is not None:
        return None, [inputs.error]
    profile = inputs.reference.profile
    drift = analyze_drift(profile, inputs.counted, settings, reference_table=inputs.reference.frame)
    verdicts = drift.verdicts()
    prediction = settings.prediction
    if prediction and prediction not in profile.features:
        verdicts.append(
            Verdict(
                CHECK_PREDICTION,
                Status.SKIP,
                subject=prediction,
                message=f"column {prediction!r} not in the reference: prediction drift not computed",
            )
        )
    return drift, verdicts


def judge_trend(
    inputs: DriftInputs, drift: DriftResult | None, settings: DriftSettings
) -> tuple[pd.DataFrame | None, list[Verdict]]:
    """PSI per window; WARN for a feature rising toward the drift level, else one PASS row."""
    if drift is None or drift.n_current == 0:
        return None, [Verdict(CHECK_TREND, Status.SKIP, message="no feature drift to follow over time")]
    timestamp, path = settings.timestamp, inputs.current_path
    if timestamp and timestamp not in table_columns(path):
        return None, [
            Verdict(
                CHECK_TREND,
                Status.SKIP,
                subject=timestamp,
                message=f"timestamp column {timestamp!r} not in the current data: no trend",
            )
        ]
    if timestamp and not settings.window_is_chunks:
        chunks = iter_batches(path, batch_rows=settings.chunk_rows)  # calendar windows: bounded memory
    else:
        chunks = read_table(path)  # equal chunks by row order need the rows in memory
    watch, level = drift.thresholds["psi_watch"], drift.thresholds["psi"]
    trend = psi_trend(
        inputs.reference.profile, chunks, timestamp=timestamp, window=settings.windows_for(timestamp),
        watch=watch, drift=level, min_rows_per_bin=settings.min_rows_per_bin, permutations=settings.psi_permutations,
    )  # fmt: skip
    overall = {f.name: f.status for f in drift.features}
    if drift.prediction is not None:
        overall[drift.prediction.name] = drift.prediction.status
    rising = trend_verdicts(trend[trend["feature"] != settings.prediction], overall_status=overall, watch=watch)
    return trend, rising or [
        Verdict(
            CHECK_TREND,
            Status.PASS,
            observed=trend["window"].nunique(),
            unit="windows",
            message="no feature below the drift level is rising toward it",
        )
    ]


def judge_accuracy(inputs: DriftInputs, settings: DriftSettings) -> tuple[AccuracyResult | None, list[Verdict]]:
    """Accuracy per window against the reference's (from the table, or counts saved in the profile)."""
    target, prediction = settings.target, settings.prediction
    if not settings.judges_accuracy:
        return None, [Verdict(CHECK_ACCURACY, Status.SKIP, message="no target or prediction column given")]
    if inputs.reference is None or inputs.current_path is None:
        message = "the reference or current data could not be read: see the feature drift ERROR row"
        return None, [Verdict(CHECK_ACCURACY, Status.SKIP, message=message)]
    columns = table_columns(inputs.current_path)
    missing = [c for c in (target, prediction) if c not in columns]
    if missing:
        return None, [
            Verdict(
                CHECK_ACCURACY,
                Status.SKIP,
                subject=", ".join(missing),
                message="not in the current data: accuracy not computed (set -p target / -p prediction)",
            )
        ]
    ref = inputs.reference
    ref_correct = reference_correct(ref.profile, ref.frame, target=target, prediction=prediction)
    if ref_correct.size == 0:
        message = "the reference has no labels and predictions: nothing to compare against"
        return None, [Verdict(CHECK_ACCURACY, Status.SKIP, subject=target, message=message)]
    timestamp = settings.timestamp if settings.timestamp in columns else None
    frame = read_table(inputs.current_path, columns=[c for c in (timestamp, target, prediction) if c])
    accuracy = accuracy_by_window(
        ref_correct,
        frame,
        target=target,
        prediction=prediction,
        timestamp=timestamp,
        window=settings.windows_for(timestamp),
        tolerance=settings.accuracy_tolerance,
    )
    return accuracy, accuracy.verdicts()
