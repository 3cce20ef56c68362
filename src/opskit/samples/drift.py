"""Sample data for analyze_drift: a credit-default model, one reference month and six current weeks.

Planted, by construction (see :data:`PLANTED`):

* ``age``, ``tenure_months``, ``num_accounts``, ``region``, ``has_mortgage``: stable (same generator).
* ``income``: a slow drift, the log-income mean rising week by week (+0.05 a week), watch
  level overall and a rising PSI trend.
* ``credit_utilization``: an abrupt shift from the third current week on (+0.3, a changed
  upstream definition), drift.
* ``channel``: a new category ``partner_api`` (12 % of current rows) that the reference never had, drift.
* ``debt_ratio``: missing values appear (10 % of current rows, none in the reference), drift.
* ``application_ts``: the timestamp (datetime, not compared).
* ``score``: the model's default probability, moved by the utilization shift: prediction drift.
* ``defaulted``: labels. From the third current week on defaults rise for reasons the model does
  not see (concept drift) while the shifted utilization inflates the scores, so accuracy drops
  well beyond 5 points in those weeks and overall; the first two weeks stay within tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from opskit.samples import scenario

SEED = 20261128
REFERENCE_ROWS = 20_000
WEEK_ROWS = 2_500
WEEKS = 6
REFERENCE_START = pd.Timestamp("2026-08-31T00:00:00Z")  # a Monday; four reference weeks
CURRENT_START = pd.Timestamp("2026-10-05T00:00:00Z")  # a Monday

PLANTED = {
    "income": "WARN",
    "credit_utilization": "FAIL",
    "channel": "FAIL",
    "debt_ratio": "FAIL",
    "age": "PASS",
    "tenure_months": "PASS",
    "num_accounts": "PASS",
    "region": "PASS",
    "has_mortgage": "PASS",
}
PLANTED_PREDICTION = "FAIL"
PLANTED_TREND = ["income"]
PLANTED_ACCURACY_DROP_WEEKS = [2, 3, 4, 5]  # zero-based current weeks whose accuracy drops

_WEIGHTS = {"credit_utilization": 3.2, "debt_ratio": 2.0, "income": -0.9, "num_accounts": 0.12, "age": -0.015}


def _features(rng: np.random.Generator, n: int, week: int | None) -> pd.DataFrame:
    """``week`` None is the reference; 0..WEEKS-1 the current weeks."""
    current = week is not None
    income_shift = 0.05 * (week + 1) if current else 0.0
    util_shift = 0.3 if current and week >= 2 else 0.0
    frame = pd.DataFrame(
        {
            "age": np.clip(rng.normal(41, 12, n), 18, 90).round().astype("int64"),
            "tenure_months": np.clip(rng.gamma(2.0, 18.0, n), 0, 480).round().astype("int64"),
            "num_accounts": rng.poisson(3.0, n).astype("int64"),
            "income": np.exp(rng.normal(10.9 + income_shift, 0.45, n)).round(2),
            "credit_utilization": np.clip(rng.beta(2.0, 5.0, n) + util_shift, 0, 1.2).round(4),
            "debt_ratio": rng.gamma(2.5, 0.12, n).round(4),
            "region": rng.choice(["north", "south", "east", "west", "central"], n, p=[0.22, 0.2, 0.18, 0.25, 0.15]),
            "has_mortgage": rng.random(n) < 0.37,
        }
    )
    channels, probs = ["branch", "web", "phone"], [0.38, 0.47, 0.15]
    if current:
        channels, probs = [*channels, "partner_api"], [0.33, 0.42, 0.13, 0.12]
    frame["channel"] = rng.choice(channels, n, p=probs)
    if current:
        frame.loc[rng.random(n) < 0.10, "debt_ratio"] = np.nan
    return frame


def _logit(frame: pd.DataFrame) -> np.ndarray:
    debt = frame["debt_ratio"].fillna(frame["debt_ratio"].median())
    z = (
        -1.0
        + _WEIGHTS["credit_utilization"] * (frame["credit_utilization"] - 0.29)
        + _WEIGHTS["debt_ratio"] * (debt - 0.3)
        + _WEIGHTS["income"] * (np.log(frame["income"]) - 10.9)
        + _WEIGHTS["num_accounts"] * (frame["num_accounts"] - 3)
        + _WEIGHTS["age"] * (frame["age"] - 41)
    )
    return 2.2 * z.to_numpy()


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _labelled(rng: np.random.Generator, frame: pd.DataFrame, concept_shift: float) -> pd.DataFrame:
    z = _logit(frame)
    frame["score"] = _sigmoid(z).round(4)
    frame["defaulted"] = (rng.random(len(frame)) < _sigmoid(z + concept_shift)).astype("int64")
    return frame


def _timestamps(rng: np.random.Generator, start: pd.Timestamp, days: int, n: int) -> pd.Series:
    seconds = np.sort(rng.integers(0, days * 86_400, n))
    return pd.Series(start + pd.to_timedelta(seconds, unit="s"), name="application_ts")


def make_drift_frames(seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference and current DataFrames of the scenario (same values every time for a seed)."""
    rng = np.random.default_rng(seed)
    ref = _labelled(rng, _features(rng, REFERENCE_ROWS, None), 0.0)
    ref.insert(0, "application_ts", _timestamps(rng, REFERENCE_START, 28, REFERENCE_ROWS))
    weeks = []
    for week in range(WEEKS):
        part = _labelled(rng, _features(rng, WEEK_ROWS, week), 1.2 if week in PLANTED_ACCURACY_DROP_WEEKS else 0.0)
        part.insert(0, "application_ts", _timestamps(rng, CURRENT_START + pd.Timedelta(weeks=week), 7, WEEK_ROWS))
        weeks.append(part)
    return ref, pd.concat(weeks, ignore_index=True)


@scenario("drift_weekly_reference", "credit model, reference month (labels and scores)")
def write_drift_reference(folder: Path) -> Path:
    ref, _ = make_drift_frames()
    path = Path(folder) / "reference.parquet"
    ref.to_parquet(path, index=False)
    return path


@scenario(
    "drift_weekly_current",
    "credit model, six current weeks: slow, abrupt, new-category and missing-value drift, accuracy drop",
)
def write_drift_current(folder: Path) -> Path:
    _, cur = make_drift_frames()
    path = Path(folder) / "current.parquet"
    cur.to_parquet(path, index=False)
    return path
