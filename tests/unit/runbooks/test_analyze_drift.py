"""run: the runbook's three checks in one call, its sections and tables, and bad input as rows."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.drift.accuracy import CHECK_ACCURACY
from opskit.analyses.drift.features import CHECK_FEATURE, CHECK_PREDICTION
from opskit.analyses.drift.methods import psi_from_counts
from opskit.analyses.drift.windows import CHECK_TREND
from opskit.checks import Status
from opskit.runbooks.analyze_drift import run
from opskit.runbooks.analyze_drift_result import AnalyzeDriftResult
from opskit.runbooks.display import Markdown, Outputs

WEEK_ROWS = 800
WEEKS = 4
DROP_WEEKS = (2, 3)  # zero-based current weeks where the model is wrong far more often


def _frame(rng, n, *, x_shift=0.0, wrong=0.1, start="2026-10-05"):
    y = rng.integers(0, 2, n)
    right = rng.random(n) >= wrong
    score = np.where(right == (y == 1), rng.uniform(0.55, 1.0, n), rng.uniform(0.0, 0.45, n))
    return pd.DataFrame(
        {
            "x": rng.normal(x_shift, 1.0, n),
            "stable": rng.normal(0.0, 1.0, n),
            "city": rng.choice(["berlin", "paris", "rome"], n),
            "label": y,
            "score": score,
            "ts": pd.Timestamp(start, tz="UTC") + pd.to_timedelta(rng.integers(0, 7 * 24 * 3600, n), unit="s"),
        }
    )


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """Reference (two weeks) and current (four weeks): ``x`` shifted by 1, accuracy down in DROP_WEEKS."""
    folder = tmp_path_factory.mktemp("drift_report")
    rng = np.random.default_rng(7)
    ref = pd.concat([_frame(rng, WEEK_ROWS, start="2026-09-21"), _frame(rng, WEEK_ROWS, start="2026-09-28")])
    weeks = [
        _frame(rng, WEEK_ROWS, x_shift=1.0, wrong=0.45 if w in DROP_WEEKS else 0.1,
               start=str(pd.Timestamp("2026-10-05") + pd.Timedelta(weeks=w)))
        for w in range(WEEKS)
    ]  # fmt: skip
    cur = pd.concat(weeks, ignore_index=True)
    ref.to_parquet(folder / "reference.parquet", index=False)
    cur.to_csv(folder / "current.csv", index=False)
    return folder


MODEL = {"target": "label", "prediction": "score", "timestamp": "ts"}


def _run(reference, current, **parameters) -> AnalyzeDriftResult:
    """``run`` on two paths; the model columns are None unless given (the notebook's defaults name the sample's)."""
    model = {"target": None, "prediction": None, "timestamp": None}
    return run(**{**model, **parameters}, reference=str(reference), current=str(current))


@pytest.fixture(scope="module")
def report(tables) -> AnalyzeDriftResult:
    return _run(
        tables / "reference.parquet", tables / "current.csv", **MODEL, save_profile=str(tables / "profile.json"), top=2
    )


def _rows(report, check, subject=None):
    return [v for v in report.verdicts if v.name == check and (subject is None or v.subject == subject)]


def test_judges_features_prediction_trend_and_accuracy(report):
    statuses = {v.subject: v.status for v in _rows(report, CHECK_FEATURE)}
    assert statuses == {"x": Status.FAIL, "stable": Status.PASS, "city": Status.PASS}  # label and ts not compared
    (pred,) = _rows(report, CHECK_PREDICTION)
    assert pred.subject == "score"
    weeks = sorted(
        (v for v in _rows(report, CHECK_ACCURACY) if v.subject.startswith("window ")), key=lambda v: v.subject
    )
    assert len(weeks) == WEEKS
    assert [i for i, v in enumerate(weeks) if v.status == Status.FAIL] == list(DROP_WEEKS)
    (overall,) = _rows(report, CHECK_ACCURACY, "all current rows")
    assert overall.status == Status.FAIL
    assert not [v for v in report.verdicts if v.status == Status.ERROR]
    assert report.trend["window"].nunique() == WEEKS


def test_figures_agree_with_the_verdicts(report):
    figures = report.figures
    assert figures["features_in_drift"] == 1 and figures["features_to_watch"] == 0
    assert figures["features_compared"] == 3
    (overall,) = _rows(report, CHECK_ACCURACY, "all current rows")
    assert figures["accuracy_change_pp"] == pytest.approx(overall.observed)
    assert figures["windows_accuracy_drop"] == len(DROP_WEEKS)
    assert figures["prediction_psi"] == report.drift.prediction.psi
    assert figures["current_accuracy"] - figures["reference_accuracy"] == pytest.approx(
        figures["accuracy_change_pp"] / 100, abs=1e-3
    )


def test_section_tables_and_sentences(report):
    table = report.feature_table()
    assert report.top_features() == list(table["feature"][:2])  # top=2, ranked by PSI
    assert table["feature"].iloc[0] == "x" and {"psi", "status", "ks"} <= set(table.columns)
    assert report.has_psi
    bins = report.bin_table("x")
    psi = report.drift.feature("x").psi
    assert bins["contribution"].sum() == pytest.approx(psi, abs=1e-3)  # the contributions add up to the PSI
    expected = psi_from_counts(bins["ref_count"].to_numpy(), bins["cur_count"].to_numpy())
    assert psi == pytest.approx(expected)
    assert report.feature_note("x").startswith("**x**: ")
    assert "1,600 reference rows" in report.overview() and f"{WEEKS * WEEK_ROWS:,} current rows" in report.overview()
    pivot = report.trend_table()
    assert pivot.shape == (WEEKS, 3 + 1)  # three features and the prediction per window
    assert report.trend_features()[0] == "x"
    frame, title = report.prediction_bins()
    assert title == "prediction score" and frame["cur_count"].sum() == WEEKS * WEEK_ROWS
    assert list(report.accuracy_table()["window"])[-1] == "all"
    assert str(report.profile_path) in report.profile_note() and "1,600 rows" in report.profile_note()


def test_saved_profile_gives_the_same_psi_and_accuracy(report, tables):
    again = _run(tables / "profile.json", tables / "current.csv", **MODEL, chunk_rows=500)
    assert again.drift.profile.data_hash == report.drift.profile.data_hash
    for name in ("x", "stable", "city", "score"):
        assert again.drift.feature(name).psi == report.drift.feature(name).psi
    assert again.figures["accuracy_change_pp"] == report.figures["accuracy_change_pp"]


def test_missing_reference_is_one_error_row_and_the_rest_skip(tables):
    missing = tables / "no_such_reference.parquet"
    rep = _run(missing, tables / "current.csv", **MODEL)
    errors = [v for v in rep.verdicts if v.status == Status.ERROR]
    assert len(errors) == 1 and errors[0].name == CHECK_FEATURE
    assert "no_such_reference" in (errors[0].message or "") + (errors[0].subject or "")
    assert [v.status for v in _rows(rep, CHECK_TREND)] == [Status.SKIP]
    assert [v.status for v in _rows(rep, CHECK_ACCURACY)] == [Status.SKIP]
    assert rep.verdicts.worst == Status.ERROR and rep.verdicts.rows[0] is errors[0]
    assert rep.drift is None and rep.profile is None
    assert rep.figures == {} and rep.top_features() == [] and not rep.has_psi and not rep.has_trend
    assert "ERROR" in rep.overview() and rep.prediction_bins() is None
    assert rep.feature_table().empty


def test_missing_current_keeps_the_profile_and_skips_the_rest(tables):
    rep = _run(tables / "reference.parquet", tables / "gone.csv", **MODEL)
    errors = [v for v in rep.verdicts if v.status == Status.ERROR]
    assert [e.name for e in errors] == [CHECK_FEATURE]
    assert [v.status for v in _rows(rep, CHECK_TREND)] == [Status.SKIP]
    assert [v.status for v in _rows(rep, CHECK_ACCURACY)] == [Status.SKIP]
    assert rep.profile is not None and rep.profile.n_rows == 2 * WEEK_ROWS
    assert "1,600 rows" in rep.profile_note()


def test_text_in_a_numeric_column_is_that_features_error_row(fixtures):
    folder = fixtures / "drift"
    rep = _run(folder / "reference_small.csv", folder / "current_text_in_numeric.csv", window="2")
    first = rep.verdicts.rows[0]
    assert first.status == Status.ERROR and first.subject == "amount" and "timeout" in first.message
    assert {v.subject: v.status for v in _rows(rep, CHECK_FEATURE)}["city"] != Status.ERROR
    (acc,) = _rows(rep, CHECK_ACCURACY)
    assert acc.status == Status.SKIP


def test_unknown_method_errors_the_feature_check_only(tables):
    rep = _run(tables / "reference.parquet", tables / "current.csv", **MODEL, method="kullback")
    (error,) = _rows(rep, CHECK_FEATURE)
    assert error.status == Status.ERROR and "kullback" in error.message
    assert [v.status for v in _rows(rep, CHECK_TREND)] == [Status.SKIP]
    assert any(v.status == Status.FAIL for v in _rows(rep, CHECK_ACCURACY))  # accuracy does not need the method


def test_missing_model_columns_skip_with_the_reason(tables):
    rep = _run(tables / "reference.parquet", tables / "current.csv", target=None, prediction="logit", timestamp="when")
    (pred,) = _rows(rep, CHECK_PREDICTION)
    assert pred.status == Status.SKIP and pred.subject == "logit"
    (trend,) = _rows(rep, CHECK_TREND)
    assert trend.status == Status.SKIP and trend.subject == "when"
    (acc,) = _rows(rep, CHECK_ACCURACY)
    assert acc.status == Status.SKIP and "no target" in acc.message
    assert rep.accuracy is None and rep.trend is None


def test_windows_without_timestamp_and_as_chunks_of_a_timestamp(tables):
    untimed = _run(tables / "reference.parquet", tables / "current.csv", target="label", prediction="score")
    assert untimed.trend["window"].nunique() == 4  # no timestamp: four equal chunks
    assert len([v for v in _rows(untimed, CHECK_ACCURACY) if v.subject.startswith("window ")]) == 4
    chunks = _run(tables / "reference.parquet", tables / "current.csv", **{**MODEL, "timestamp": "ts"}, window="3")
    assert not [v for v in chunks.verdicts if v.status == Status.ERROR]
    assert chunks.trend["window"].nunique() == 3


def test_imports_no_rendering():
    code = (
        "import sys, opskit.runbooks.analyze_drift; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'IPython', 'ipywidgets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


SECTIONS = ("feature_section", "top_features_section", "trend_section", "model_section", "profile_section")


def _displayable(item) -> bool:
    from matplotlib.figure import Figure

    if isinstance(item, Outputs):
        return len(item) > 0 and all(_displayable(i) for i in item)
    return isinstance(item, Markdown | pd.DataFrame | Figure)


def test_sections_show_tables_and_figures_and_leave_no_figure_open(report):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    shown = {name: getattr(report, name)() for name in SECTIONS}
    assert all(_displayable(out) for out in shown.values())
    figures = [i for out in shown.values() if isinstance(out, Outputs) for i in out if isinstance(i, Figure)]
    assert len(figures) == 1 + report.top + 1 + 2  # PSI bars, the top features' bins, trend, prediction, accuracy
    assert not plt.get_fignums()  # shown where the section puts them, not again at the end of the cell
    assert "1,600 reference rows" in shown["feature_section"][0]
    assert str(report.profile_path) in shown["profile_section"]


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        ("no_such_reference.parquet", "current.csv"),
        ("reference.parquet", "gone.csv"),
        ("garbage.parquet", "current.csv"),
    ],
)
def test_unreadable_input_is_an_error_row_and_every_section_still_shows(tables, tmp_path, reference, current):
    (tmp_path / "garbage.parquet").write_bytes(b"not a parquet file")
    folder = tmp_path if reference == "garbage.parquet" else tables
    rep = _run(folder / reference, tables / current, **MODEL)
    (error,) = [v for v in rep.verdicts if v.status == Status.ERROR]
    assert error.name == CHECK_FEATURE and rep.verdicts.rows[0] is error
    for name in SECTIONS:
        assert _displayable(getattr(rep, name)()), name
    assert "not available" in rep.trend_section()
    assert rep.figures == {}


def test_a_parameter_of_the_wrong_shape_is_an_error_row_not_an_exception(tables):
    rep = _run(tables / "reference.parquet", tables / "current.csv", **MODEL, thresholds=3)
    assert [(v.name, v.status) for v in rep.verdicts] == [
        (CHECK_FEATURE, Status.ERROR),
        (CHECK_TREND, Status.SKIP),
        (CHECK_ACCURACY, Status.SKIP),
    ]
    assert all(_displayable(getattr(rep, name)()) for name in SECTIONS)


def test_settings_are_built_once_from_the_parameters(report):
    s = report.settings
    assert (s.target, s.prediction, s.timestamp, s.window) == ("label", "score", "ts", "week")
    assert s.companions == ("ks", "chi2", "jensen_shannon", "wasserstein") and s.not_compared == ("label", "ts")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.bins = 5
