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


@pytest.fixture(scope="module")
def daily(tmp_path_factory):
    """120 daily windows: ``x`` shifted on the last 10 days only, ``y`` stable throughout."""
    folder = tmp_path_factory.mktemp("drift_days")
    rng = np.random.default_rng(12)
    n_ref, per_day, days = 20_000, 400, 120
    pd.DataFrame({"x": rng.normal(size=n_ref), "y": rng.normal(size=n_ref)}).to_parquet(folder / "ref.parquet")
    day = np.repeat(np.arange(days), per_day)
    current = pd.DataFrame(
        {
            "ts": pd.Timestamp("2026-06-01", tz="UTC") + pd.to_timedelta(day * 24 + 12, unit="h"),
            "x": rng.normal(size=day.size) + np.where(day >= days - 10, 1.0, 0.0),
            "y": rng.normal(size=day.size),
        }
    )
    current.to_parquet(folder / "cur.parquet", index=False)
    return folder


def test_many_windows_give_a_heatmap_and_a_table_of_the_windows_that_are_not_pass(daily):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    result = run(
        reference=str(daily / "ref.parquet"), current=str(daily / "cur.parquet"),
        target=None, prediction=None, timestamp="ts", window="day", psi_permutations=200,
    )  # fmt: skip
    assert result.trend["window"].nunique() == 120
    flagged, calm = result.trend_flagged_table()
    assert len(flagged) + calm == 120
    assert list(flagged.index[-10:]) == [f"2026-09-{d:02d}" for d in range(19, 29)]  # the shifted days are listed
    assert len(flagged) <= 14  # the 10 shifted days, and at most a few noisy ones
    assert set(result.trend.columns) >= {"p_value", "level"}
    out = result.trend_section()
    (figure,) = [i for i in out if isinstance(i, Figure)]
    ax = figure.axes[0]
    assert ax.get_title().startswith("PSI level per feature and window")
    assert len(ax.get_xticklabels()) <= 12 and ax.get_xticklabels()[-1].get_text() == "2026-09-28"
    assert f"the other {calm} (every feature stable" in str(out[1])
    plt.close("all")


def test_headline_names_drift_the_worst_feature_accuracy_and_rows(paths, daily):
    shifted = run(
        reference=str(daily / "ref.parquet"), current=str(daily / "cur.parquet"),
        target=None, prediction=None, timestamp="ts", window="month",
    )  # fmt: skip
    headline = shifted.headline
    assert list(headline) == ["features in drift", "worst feature", "rows compared"]  # no labels: no accuracy
    assert headline["features in drift"] == f"{len(shifted.drift.by_status(Status.FAIL))} of 2"
    assert headline["worst feature"].startswith(f"x (PSI {shifted.drift.feature('x').psi:.3f}, ")
    assert headline["rows compared"] == "20,000 reference, 48,000 current"
    model = run(
        reference=str(paths / "reference.parquet"), current=str(paths / "current.csv"),
        target="label", prediction="score", timestamp="ts", window="month",
    )  # fmt: skip
    change = model.figures["accuracy_change_pp"]
    assert model.headline["accuracy change"].startswith(f"{change:+.1f} points (")
    assert len(model.headline) <= 5
    missing = run(reference=str(paths / "none.parquet"), current=str(paths / "current.csv"))
    assert missing.headline == {"features in drift": "not compared (see the ERROR row)"}
