"""Model side of drift: accuracy per window against the reference, with a bootstrap interval.

A prediction is correct when it equals the label; a score in [0, 1] against 0/1 labels is first
turned into a class at ``score_threshold`` (0.5). Accuracy change is in percentage points
(current minus reference). A window is flagged when the change is beyond ``tolerance`` (5 points)
**and** the bootstrap interval of the change excludes zero; beyond the tolerance but with an
interval that includes zero (a small window) it is a WARN, not an alarm. Resampling n rows with
replacement from a window with k correct predictions gives Binomial(n, k/n) correct ones, so the
bootstrap draws from that distribution directly (exact, and fast for any window size).

A saved reference profile keeps how many reference predictions were right
(:func:`with_reference_accuracy`), so a later run against the profile alone still has the
reference accuracy (:func:`reference_correct`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from opskit.analyses.drift.profile import ReferenceProfile
from opskit.analyses.drift.windows import split_windows
from opskit.checks import Status, Verdict
from opskit.errors import InputError

CHECK_ACCURACY = "accuracy change"
ACCURACY_KEY = "accuracy"  # the profile's extras entry with the reference's right predictions


def correct_predictions(
    frame: pd.DataFrame, *, target: str, prediction: str, score_threshold: float = 0.5, side: str = "data"
) -> np.ndarray:
    """Boolean array: is each row's prediction right? Rows without a label or prediction are dropped."""
    for col in (target, prediction):
        if col not in frame.columns:
            raise InputError(f"column not in the {side}", column=col,
                             hint="columns: " + ", ".join(map(str, frame.columns[:30])))  # fmt: skip
    part = frame[[target, prediction]].dropna()
    y, p = part[target], part[prediction]
    if pd.api.types.is_float_dtype(p.dtype) and set(pd.unique(y)) <= {0, 1}:
        if ((p < 0) | (p > 1)).any():
            raise InputError("scores outside [0, 1] against 0/1 labels", column=prediction,
                             hint="pass class predictions, or probabilities")  # fmt: skip
        return (p.to_numpy() >= score_threshold).astype(int) == y.to_numpy().astype(int)
    return (p.astype(str) == y.astype(str)).to_numpy()


def with_reference_accuracy(
    profile: ReferenceProfile, frame: pd.DataFrame, *, target: str | None, prediction: str | None
) -> ReferenceProfile:
    """``profile`` with the count of right reference predictions, when the table has both columns."""
    if not (target and prediction and target in frame.columns and prediction in frame.columns):
        return profile
    correct = correct_predictions(frame, target=target, prediction=prediction, side="reference")
    saved = {"target": target, "prediction": prediction, "correct": int(correct.sum()), "rows": int(correct.size)}
    return profile.with_extras(**{ACCURACY_KEY: saved})


def reference_correct(
    profile: ReferenceProfile, frame: pd.DataFrame | None, *, target: str, prediction: str
) -> np.ndarray:
    """Right/wrong per reference row, from the table or from the counts saved in the profile."""
    if frame is not None:
        return correct_predictions(frame, target=target, prediction=prediction, side="reference")
    saved = profile.extras.get(ACCURACY_KEY)
    if not saved:
        return np.zeros(0, dtype=bool)
    return np.r_[np.ones(saved["correct"], dtype=bool), np.zeros(saved["rows"] - saved["correct"], dtype=bool)]


@dataclass(frozen=True)
class AccuracyResult:
    """Reference accuracy and, per window (and ``"all"``), accuracy, change and its interval."""

    reference_accuracy: float
    reference_rows: int
    windows: pd.DataFrame  # window, start, rows, accuracy, change, ci_low, ci_high, status
    tolerance: float
    confidence: float

    def overall(self) -> pd.Series:
        return self.windows.iloc[-1]

    def verdicts(self) -> list[Verdict]:
        out = []
        for row in self.windows.itertuples(index=False):
            subject = "all current rows" if row.window == "all" else f"window {row.window}"
            status = Status(row.status)
            out.append(
                Verdict(
                    CHECK_ACCURACY,
                    status,
                    subject=subject,
                    observed=round(float(row.change) * 100, 2),
                    threshold=round(self.tolerance * 100, 2),
                    unit="pp",
                    evidence=(
                        f"accuracy {row.accuracy:.1%} on {row.rows:,} rows vs reference "
                        f"{self.reference_accuracy:.1%} on {self.reference_rows:,}; "
                        f"{self.confidence:.0%} bootstrap interval of the change "
                        f"[{row.ci_low * 100:+.1f}, {row.ci_high * 100:+.1f}] pp"
                    ),
                    message=_message(status, row.change),
                    next_step=_next(status, row.change),
                )
            )
        return out


def _message(status: Status, change: float) -> str:
    if status == Status.PASS:
        return "within tolerance"
    direction = "dropped" if change < 0 else "rose"
    if status == Status.WARN and abs(change) > 0:
        return f"accuracy {direction} beyond tolerance" + (
            "" if change > 0 else ", but the interval includes no change"
        )
    return f"accuracy {direction} beyond tolerance"


def _next(status: Status, change: float) -> str | None:
    if status == Status.FAIL:
        return "find the drifting features above that the model relies on; retrain on recent data or roll back"
    if status == Status.WARN and change < 0:
        return "too few rows to be sure: wait for more labels or use longer windows"
    if status == Status.WARN:
        return "an accuracy jump is suspicious: check for label leakage or a changed label definition"
    return None


def _bootstrap_change(k_cur: int, n_cur: int, k_ref: int, n_ref: int, rng: np.random.Generator, n_boot: int):
    cur = rng.binomial(n_cur, k_cur / n_cur, size=n_boot) / n_cur
    ref = rng.binomial(n_ref, k_ref / n_ref, size=n_boot) / n_ref
    return cur - ref


def accuracy_by_window(
    reference_correct: np.ndarray,
    current: pd.DataFrame,
    *,
    target: str,
    prediction: str,
    timestamp: str | None = None,
    window: str | int = "week",
    tolerance: float = 0.05,
    confidence: float = 0.95,
    n_boot: int = 2000,
    score_threshold: float = 0.5,
    seed: int = 0,
) -> AccuracyResult:
    """Accuracy per window of ``current`` against the reference's correct/incorrect array."""
    ref = np.asarray(reference_correct, dtype=bool)
    if ref.size == 0:
        raise InputError("no reference rows with both a label and a prediction", column=target)
    rng = np.random.default_rng(seed)
    k_ref, n_ref = int(ref.sum()), int(ref.size)
    acc_ref = k_ref / n_ref
    alpha = (1 - confidence) / 2
    rows = []
    parts = [*split_windows(current, timestamp=timestamp, window=window), ("all", None, current)]
    for label, start, part in parts:
        correct = correct_predictions(part, target=target, prediction=prediction, score_threshold=score_threshold,
                                      side="current")  # fmt: skip
        n = int(correct.size)
        if n == 0:
            continue
        k = int(correct.sum())
        change = k / n - acc_ref
        diffs = _bootstrap_change(k, n, k_ref, n_ref, rng, n_boot)
        lo, hi = np.quantile(diffs, [alpha, 1 - alpha])
        beyond = abs(change) > tolerance
        significant = lo > 0 or hi < 0
        if beyond and change < 0:
            status = Status.FAIL if significant else Status.WARN
        elif beyond:
            status = Status.WARN
        else:
            status = Status.PASS
        rows.append({"window": label, "start": start, "rows": n, "accuracy": k / n, "change": change,
                     "ci_low": float(lo), "ci_high": float(hi), "status": status.value})  # fmt: skip
    cols = ["window", "start", "rows", "accuracy", "change", "ci_low", "ci_high", "status"]
    return AccuracyResult(acc_ref, n_ref, pd.DataFrame(rows, columns=cols), tolerance, confidence)
