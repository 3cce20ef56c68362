"""The one table style: each formatting rule of opskit.runbooks.tables on a small frame."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from opskit.runbooks.display import table
from opskit.runbooks.tables import DASH, Table, frame_html, header, load_ipython_extension, number


class _Cells(HTMLParser):
    """Header and body cells of the outer table, as text (nested tables counted inside their cell)."""

    def __init__(self):
        super().__init__()
        self.heads: list[str] = []
        self.rows: list[list[str]] = []
        self._depth, self._cell, self._tag = 0, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._depth += 1
        elif self._depth == 1 and tag == "tr":
            self.rows.append([])
        elif self._depth == 1 and tag in ("td", "th"):
            self._cell, self._tag = [], tag

    def handle_endtag(self, tag):
        if tag == "table":
            self._depth -= 1
        elif self._depth == 1 and tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            (self.heads if self._tag == "th" else self.rows[-1]).append(text)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def cells(frame: pd.DataFrame) -> _Cells:
    parser = _Cells()
    parser.feed(frame_html(frame))
    parser.rows = [r for r in parser.rows if r]
    return parser


def test_a_plain_index_is_dropped_and_a_named_one_kept_as_the_first_column():
    plain = pd.DataFrame({"rank": [3, 1]}, index=[7, 9])
    assert cells(plain).heads == ["Rank"] and cells(plain).rows == [["3"], ["1"]]
    named = pd.DataFrame({"gib": [1.5]}, index=pd.Index(["weights"], name="component"))
    assert cells(named).heads == ["Component", "Gib"] and cells(named).rows == [["weights", "1.5"]]
    labelled = pd.DataFrame({"n": [1, 2]}, index=["a", "b"])
    assert [r[0] for r in cells(labelled).rows] == ["a", "b"]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("mem_used_mib", "Memory used (MiB)"),
        ("gpu_util_pct", "GPU utilization (%)"),
        ("p95_ms", "p95 (ms)"),
        ("cost_per_busy_gpu_hour", "Cost per busy GPU hour"),
        ("duration_s", "Duration (s)"),
        ("hash_MBps", "Hash (MB/s)"),
        ("GPU-hours", "GPU-hours"),
        ("first keys", "first keys"),
    ],
)
def test_headers_are_words_with_their_unit(name, words):
    assert header(name) == words


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (9247.0, "9,247"),
        (1234567, "1,234,567"),
        (1234.567, "1,235"),
        (412.53, "412.5"),
        (599.02, "599"),
        (11.034, "11.03"),
        (99.5, "99.5"),
        (0.107282, "0.107"),
        (0.000123456, "0.000123"),
        (np.float64(2.5), "2.5"),
        (np.int64(12000), "12,000"),
        (float("inf"), "∞"),
    ],
)
def test_numbers_get_separators_and_rounding_by_size(value, text):
    assert number(value) == text


def test_missing_values_are_an_em_dash_and_booleans_yes_or_no():
    frame = pd.DataFrame(
        {
            "a": [1.0, np.nan],
            "b": pd.array([1, None], dtype="Int64"),
            "c": [None, "x"],
            "when": pd.to_datetime(["2026-11-23", None], utc=True),
            "ok": [True, False],
        }
    )
    rows = cells(frame).rows
    assert rows[0] == ["1", "1", DASH, "2026-11-23 00:00", "yes"]
    assert rows[1] == [DASH, DASH, "x", DASH, "no"]
    html = frame_html(frame)
    assert "NaN" not in html and "NaT" not in html and "&lt;NA&gt;" not in html and "None" not in html


def test_utc_times_to_the_minute_with_utc_once_in_the_header():
    frame = pd.DataFrame({"started_at": pd.to_datetime(["2026-11-23T10:15:33.123+01:00"], utc=True), "n": [1]})
    parsed = cells(frame)
    assert parsed.heads[0] == "Started at (UTC)"
    assert parsed.rows == [["2026-11-23 09:15", "1"]]
    assert "+00:00" not in frame_html(frame) and "UTC" not in "".join(parsed.rows[0])
    assert header("time_utc", utc=True) == "Time UTC"  # said once, not twice


def test_long_text_is_wrapped_whole_and_wide_tables_scroll():
    path = "/data/checkpoints/run-8812/" + "very-long-segment/" * 8 + "step_001000.pt"
    frame = pd.DataFrame({f"column_{i}": [path] for i in range(12)})
    html = frame_html(frame)
    assert html.count(path) == 12  # never cut to "..."
    assert "overflow-wrap:anywhere" in html and "overflow-x:auto" in html
    assert "..." not in html and "…" not in html


def test_nested_details_are_small_tables_not_reprs():
    frame = pd.DataFrame({"fault": ["cuda_oom"], "details": [{"requested_mib": 8192.0, "oom": {"gpu": 3}}]})
    html = frame_html(frame)
    assert "{" not in html and "'requested_mib'" not in html
    assert "Requested (MiB)" in html and "8,192" in html and 'class="opskit-details"' in html
    listed = frame_html(pd.DataFrame({"items": [[{"rank": 1, "step": 20}, {"rank": 2, "step": 19}]]}))
    assert "[{" not in listed and listed.count("<tr>") == 5  # header and row, nested header and two rows


def test_text_is_escaped_and_masked():
    html = frame_html(pd.DataFrame({"who": ["<b>alice@example.com</b>"]}))
    assert "<b>" not in html and "alice@example.com" not in html


def test_table_is_still_a_dataframe_and_renders_in_the_style():
    shown = table(pd.DataFrame({"util_pct": [12.345]}))
    assert isinstance(shown, Table) and isinstance(shown, pd.DataFrame)
    assert shown["util_pct"].iloc[0] == pytest.approx(12.345)  # the values stay as they are
    assert "Utilization (%)" in shown._repr_html_() and "12.35" in shown._repr_html_()
    assert type(shown[["util_pct"]]) is pd.DataFrame  # what is derived is a plain frame


def test_very_long_tables_say_how_many_rows_are_shown():
    html = frame_html(pd.DataFrame({"n": range(30)}), max_rows=10)
    assert html.count("<tr>") == 11 and "The first 10 of 30 rows" in html


def test_the_ipython_extension_formats_every_dataframe():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    load_ipython_extension(shell)
    data, _ = shell.display_formatter.format(pd.DataFrame({"mem_used_mib": [1024.0]}))
    assert "Memory used (MiB)" in data["text/html"] and "opskit-table" in data["text/html"]
