"""Calendar windows through the whole runbook: month and quarter trend and accuracy, no ERROR rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.drift.accuracy import CHECK_ACCURACY
from opskit.analyses.drift.windows import CHECK_TREND
from opskit.checks import Status
from opskit.runbooks.analyze_drift import run


def _frame(rng, n, start, days):
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < 0.1
    return pd.DataFrame(
        {
            "ts": pd.Timestamp(start) + pd.to_timedelta(rng.uniform(0, days, n), unit="D"),
            "x": rng.normal(size=n),
            "label": label,
            "score": np.where(wrong, 1 - label, label).astype(float),
        }
    )


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift_months")
    rng = np.random.default_rng(11)
    _frame(rng, 3000, "2026-01-01", 90).to_parquet(folder / "reference.parquet", index=False)
    _frame(rng, 3000, "2026-04-01", 180).to_csv(folder / "current.csv", index=False)
    return folder


@pytest.mark.parametrize(("window", "n_windows"), [("month", 6), ("quarter", 2), ("MS", 6)])
def test_month_and_quarter_windows_work(paths, window, n_windows):
    result = run(
        reference=str(paths / "reference.parquet"), current=str(paths / "current.csv"),
        target="label", prediction="score", timestamp="ts", window=window,
    )  # fmt: skip
    assert not [v for v in result.verdicts if v.status == Status.ERROR]
    assert result.trend["window"].nunique() == n_windows
    assert result.trend["window"].min() == "2026-04-01"
    windows = [v for v in result.verdicts if v.name == CHECK_ACCURACY and v.subject.startswith("window ")]
    assert len(windows) == n_windows
    assert [v.status for v in result.verdicts if v.name == CHECK_TREND] == [Status.PASS]


def test_max_categories_and_min_rows_are_runbook_parameters(paths):
    result = run(
        reference=str(paths / "reference.parquet"), current=str(paths / "current.csv"),
        target=None, prediction=None, timestamp="ts", window="month", max_categories=7, min_rows_per_bin=400,
    )  # fmt: skip
    assert result.settings.max_categories == 7
    (x,) = [v for v in result.verdicts if v.subject == "x"]
    assert x.status == Status.SKIP and "too few rows" in x.message  # 3,000 rows < 400 x 10 bins
    assert set(result.trend["level"]) == {"too few rows"}  # each month too: not judged
