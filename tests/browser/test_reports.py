"""Every runbook's sample report, and the report of a run that could not finish, as chromium shows it:
no console errors, nothing fetched from the network, the verdict table first and on the first screen
with the headline figures, every image drawn, no widget or figure reprs, no traceback, no cut cells."""

from __future__ import annotations

import re

import pytest

from opskit.catalog import find_runbooks

# every runbook's sample report, then one run that could not finish (conftest.py plants its failure)
REPORTS = [*sorted(find_runbooks()), "error:triage_job"]
SAMPLE_RUNS = [name for name in REPORTS if not name.startswith("error:")]
RAW_TEXT = ("HBox(", "<Figure size")  # anywhere on the page
TRACEBACK = "Traceback (most recent call last)"  # outside the log lines a report quotes as evidence

# every test here shares one browser and the rendered reports: one xdist worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("browser")


def _local(url: str) -> bool:
    """Embedded (data:, blob:), a fragment, or relative to the report (no scheme, not //host)."""
    if url.startswith(("data:", "blob:", "#")):
        return True
    return not url.startswith("//") and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url) is None


@pytest.mark.parametrize("name", REPORTS)
def test_loads_without_console_errors(seen, name):
    page = seen(name)
    assert "scriptError" not in page.page, page.page.get("scriptError")
    errors = [f"{e['level']}: {e['message']}" for e in page.console if e["level"] == "SEVERE"]
    assert errors == [], f"{page.html_path}: {errors}"


@pytest.mark.parametrize("name", REPORTS)
def test_fetches_nothing_from_the_network(seen, name):
    page = seen(name)
    assert page.requests == [], f"{page.html_path} asked the network for {page.requests}"
    outside = [f"<{r['tag']}> {r['url'][:120]}" for r in page.page["resources"] if not _local(r["url"])]
    assert outside == [], f"{page.html_path} links resources outside itself: {outside}"


@pytest.mark.parametrize("name", REPORTS)
def test_the_verdict_table_is_the_first_table(seen, name):
    first = seen(name).page["firstTable"]
    assert first is not None, "no table at all: the verdict table is missing"
    headers = " | ".join(first["headers"]).lower()
    assert all(word in headers for word in ("status", "observed", "threshold")), first["headers"]
    assert first["rows"] >= 1


@pytest.mark.parametrize("name", REPORTS)
def test_the_first_screen_shows_the_verdict(seen, name):
    page = seen(name).page
    first = page["firstTable"]
    assert first is not None and first["firstRowBottom"] is not None
    assert first["firstRowBottom"] <= page["screenHeight"], (
        f"the verdict's first row ends at {first['firstRowBottom']:.0f} px, below the first screen "
        f"({page['screenHeight']} px)"
    )


@pytest.mark.parametrize("name", SAMPLE_RUNS)
def test_the_first_screen_shows_the_headline_figures(seen, name):
    page = seen(name).page
    assert page["headline"] is not None, "the runbook declares no headline figures (result.headline)"
    assert page["headline"]["text"], "the headline is empty"
    assert page["headline"]["bottom"] <= page["screenHeight"], "the headline ends below the first screen"


@pytest.mark.parametrize("name", REPORTS)
def test_every_image_is_drawn(seen, name):
    images = seen(name).page["images"]
    broken = [img for img in images if not img["complete"] or img["width"] == 0 or img["height"] == 0]
    assert broken == [], f"{len(broken)} of {len(images)} images are missing or empty: {broken}"


@pytest.mark.parametrize("name", REPORTS)
def test_no_widget_figure_or_traceback_text(seen, name):
    page = seen(name).page
    found = {raw: _around(page["text"], raw) for raw in RAW_TEXT if raw in page["text"]}
    if TRACEBACK in page["textOutsideQuotes"]:
        found[TRACEBACK] = _around(page["textOutsideQuotes"], TRACEBACK)
    assert found == {}, f"raw text on the page: {found}"


def _around(text: str, needle: str) -> str:
    at = text.find(needle)
    return re.sub(r"\s+", " ", text[max(0, at - 100) : at + 100])


@pytest.mark.parametrize("name", REPORTS)
def test_no_table_cell_is_cut(seen, name):
    cut = seen(name).page["cutCells"]
    assert cut == [], f"{len(cut)} table cells end in an ellipsis (text cut, not wrapped): {cut[:5]}"


def test_every_report_left_a_first_screen_screenshot(seen, artifacts_dir):
    for name in REPORTS:
        shot = seen(name).screenshot
        assert shot.parent == artifacts_dir and shot.stat().st_size > 10_000, shot  # a real PNG, not blank
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
