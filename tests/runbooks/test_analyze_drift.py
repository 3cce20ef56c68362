"""analyze_drift on its sample data (planted drift and accuracy drop), via a saved profile, and on bad input."""

from __future__ import annotations

import pytest

from opskit.runner import run_runbook
from opskit.samples import drift as sample

RUNBOOK = "analyze_drift"
SECTION = 'id="Features-ranked-by-PSI"'  # the section heading itself, not its entry in the header's list of sections


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def sample_run(reports, tmp_path_factory):
    profile = tmp_path_factory.mktemp("profile") / "reference_profile.json"
    return run_runbook(RUNBOOK, {"save_profile": str(profile)}, reports_dir=reports), profile


def _feature_statuses(run):
    return {c["subject"]: c["status"] for c in run.checks("feature drift")}


def test_flags_exactly_the_planted_features_at_their_severities(sample_run):
    run, _ = sample_run
    assert run.summary["error"] is None
    assert run.exit_code == 1
    assert _feature_statuses(run) == sample.PLANTED
    (pred,) = run.checks("prediction drift")
    assert pred["subject"] == "score" and pred["status"] == sample.PLANTED_PREDICTION
    assert run.summary["figures"]["prediction_psi"] == pytest.approx(pred["observed"], abs=1e-4)
    assert [c["subject"] for c in run.checks("drift trend") if c["status"] == "WARN"] == sample.PLANTED_TREND
    channel = run.checks("feature drift", "channel")[0]
    assert "partner_api" in channel["evidence"]
    debt = run.checks("feature drift", "debt_ratio")[0]
    assert "missing values appear" in debt["message"]
    assert run.checks("feature drift", "income")[0]["threshold"] == 0.1


def test_accuracy_drop_in_the_planted_weeks_only(sample_run):
    run, _ = sample_run
    weeks = sorted(
        (c for c in run.checks("accuracy change") if c["subject"].startswith("window ")), key=lambda c: c["subject"]
    )
    assert len(weeks) == sample.WEEKS
    failed = [i for i, c in enumerate(weeks) if c["status"] == "FAIL"]
    assert failed == sample.PLANTED_ACCURACY_DROP_WEEKS
    assert all(c["status"] == "PASS" for i, c in enumerate(weeks) if i not in failed)
    (overall,) = run.checks("accuracy change", "all current rows")
    assert overall["status"] == "FAIL" and overall["observed"] < -5
    figures = run.summary["figures"]
    assert figures["features_in_drift"] == 3 and figures["features_to_watch"] == 1
    assert figures["accuracy_change_pp"] == pytest.approx(overall["observed"])


def test_report_shows_verdicts_first_then_tables_and_plots(sample_run):
    run, _ = sample_run
    html = run.html_path.read_text(encoding="utf-8")
    assert html.index("opskit-verdict") < html.index(SECTION)
    assert "contribution" in html and "&lt;unseen&gt;" in html
    assert html.count("data:image/png;base64") >= 5


def test_saved_profile_gives_the_same_verdicts(sample_run, reports):
    first, profile = sample_run
    assert profile.exists() and profile.stat().st_size < 200_000
    again = run_runbook(RUNBOOK, {"reference": str(profile), "chunk_rows": 4000}, reports_dir=reports)
    assert again.summary["error"] is None
    assert _feature_statuses(again) == _feature_statuses(first)
    for subject in sample.PLANTED:
        psi_a = first.checks("feature drift", subject)[0]["observed"]
        psi_b = again.checks("feature drift", subject)[0]["observed"]
        assert psi_a == psi_b
    assert again.summary["figures"]["accuracy_change_pp"] == first.summary["figures"]["accuracy_change_pp"]


def test_bad_input_renders_the_error_first(fixtures, reports):
    run = run_runbook(
        RUNBOOK,
        {
            "reference": str(fixtures / "drift" / "reference_small.csv"),
            "current": str(fixtures / "drift" / "current_text_in_numeric.csv"),
            "target": None,
            "prediction": None,
            "timestamp": None,
            "window": "2",
        },
        reports_dir=reports,
    )
    assert run.summary["error"] is None
    first = run.summary["checks"][0]
    assert first["status"] == "ERROR" and first["subject"] == "amount"
    assert "timeout" in first["message"]
    assert run.summary["status"] == "ERROR"
    html = run.html_path.read_text(encoding="utf-8")
    table = html[html.index("opskit-verdict") :]
    first_row = table[table.index("<tbody>") : table.index("</tr>", table.index("<tbody>"))]
    assert "ERROR" in first_row and "amount" in first_row


def test_unknown_method_is_an_error_listing_the_known_ones(reports):
    run = run_runbook(RUNBOOK, {"method": "kullback"}, reports_dir=reports)
    (error,) = run.checks("feature drift")
    assert error["status"] == "ERROR"
    assert "kullback" in error["message"]
    assert "jensen_shannon" in error["next_step"]
    (trend,) = run.checks("drift trend")
    assert trend["status"] == "SKIP"  # nothing to follow when the feature check could not run


def test_missing_reference_is_one_error_row_the_other_checks_skip(reports, tmp_path):
    missing = tmp_path / "no_such_reference.parquet"
    run = run_runbook(RUNBOOK, {"reference": str(missing)}, reports_dir=reports)
    assert run.summary["error"] is None and run.exit_code == 2
    statuses = [(c["name"], c["status"]) for c in run.summary["checks"]]
    assert statuses == [("feature drift", "ERROR"), ("drift trend", "SKIP"), ("accuracy change", "SKIP")]
    assert "no_such_reference.parquet" in run.summary["checks"][0]["message"]
    assert run.summary["figures"] == {}
    html = run.html_path.read_text(encoding="utf-8")
    assert html.index("opskit-verdict") < html.index(SECTION)
    assert "no_such_reference" in html
