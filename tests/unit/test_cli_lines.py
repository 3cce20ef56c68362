"""The terminal's last lines: what could not be judged first, observed against threshold."""

from opskit.cli import _observed_vs_threshold


def test_numbers_get_their_unit_and_text_thresholds_keep_their_own():
    row = {"observed": 11.0, "threshold": ">= 30 %", "unit": "%", "message": "under the floor"}
    assert _observed_vs_threshold(row) == "observed 11.0 %; threshold >= 30 %; under the floor"
    row = {"observed": 412, "threshold": 300, "unit": "ms", "message": None, "next_step": "see p95"}
    assert _observed_vs_threshold(row) == "observed 412 ms; threshold 300 ms; see p95"
    assert _observed_vs_threshold({"message": "cannot read the log"}) == "cannot read the log"
