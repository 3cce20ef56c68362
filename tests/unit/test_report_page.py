"""The report page: header (runbook, status, when, headline, what failed), verdict first, details collapsed, TOC."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nbformat
import pytest

from opskit.checks import SUMMARY_MIMETYPE, Status, Verdict, VerdictTable
from opskit.report import extract_summary, header_cell, observed_vs_threshold, ordered_headline, render_html


def _summary(**extra):
    return {
        "runbook": "report_demo",
        "status": "FAIL",
        "started_at": "2026-11-30T06:00:07Z",
        "duration_s": 3.2,
        "opskit_version": "0.1.0",
        "parameters": {"week": "2026-W48", "underused_pct": 30.0},
        "checks": [],
        "headline": {"week": "2026-W48", "GPU cost": "$12,340", "waste": "$2,100 (17 %)"},
        **extra,
    }


def _notebook(headline=None) -> nbformat.NotebookNode:
    verdicts = VerdictTable([Verdict("team utilization", Status.FAIL, "nlp", 11.0, ">= 30 %", "%")])
    run = nbformat.v4.new_code_cell("result = run(week=week)\nresult.verdicts")
    run.outputs = [nbformat.v4.new_output("execute_result", {"text/html": verdicts._repr_html_()}, execution_count=2)]
    params = nbformat.v4.new_code_cell('week: str = "2026-W48"  # the week')
    params.metadata["tags"] = ["parameters"]
    section = nbformat.v4.new_code_cell("result.nodes()")
    section.outputs = [nbformat.v4.new_output("execute_result", {"text/html": "<table><tr><td>node</td></tr></table>"})]
    last = nbformat.v4.new_code_cell("publish_summary(result)")
    published = {"status": "FAIL", "checks": [], "headline": headline or {}}
    last.outputs = [nbformat.v4.new_output("display_data", {SUMMARY_MIMETYPE: published, "text/plain": "x"})]
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Demo report\nWhat it is for: **the demo intro**."),
            params,
            run,
            nbformat.v4.new_markdown_cell("## The nodes\nOne row per node."),
            section,
            nbformat.v4.new_markdown_cell("## Thresholds used"),
            last,
        ]
    )


class _Order(HTMLParser):
    """Where the first table, the details block and the headline figures are."""

    def __init__(self):
        super().__init__()
        self.events: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        if tag in ("table", "details", "nav") or "opskit-headline" in classes:
            self.events.append(f"{tag}.{classes}")


def test_the_header_shows_runbook_status_when_and_the_headline_before_the_verdict():
    page = render_html(_notebook(), _summary(), "Demo report", show_code=False)
    main = page.split("<main>", 1)[1]
    first_table = main.index("<table")
    assert main.index('class="opskit-verdict"') < first_table  # the verdict's is the first table
    header = main[:first_table]
    for text in ("Demo report", "FAIL", "report_demo", "2026-11-30 06:00 UTC", "GPU cost", "$12,340", "$2,100 (17 %)"):
        assert text in header, text


def test_intro_and_parameters_are_in_a_collapsed_block_below_the_verdict():
    page = render_html(_notebook(), _summary(), "Demo report", show_code=False)
    main = page.split("<main>", 1)[1]
    details = re.search(r"<details[^>]*>(.*?)</details>", main, flags=re.S)
    assert details and " open" not in details.group(0)[:40]
    assert main.index('class="opskit-verdict"') < details.start() < main.index('id="The-nodes"')
    inside = details.group(1)
    assert "<strong>the demo intro</strong>" in inside  # the introduction, rendered from its Markdown
    assert "Underused (%)" not in inside and "underused_pct" in inside and "30.0" in inside
    assert main.count("the demo intro") == 1  # moved, not copied
    assert "result = run(week=week)" not in page and 'week: str = "2026-W48"' not in page  # no input code


def test_the_table_of_contents_links_every_section_heading():
    page = render_html(_notebook(), _summary(), "Demo report", show_code=False)
    toc = re.search(r'<nav class="opskit-toc".*?</nav>', page, flags=re.S).group(0)
    targets = re.findall(r'href="#([^"]+)"', toc)
    assert [re.sub(r"<[^>]+>", "", t) for t in re.findall(r">([^<]+)</a>", toc)] == ["The nodes", "Thresholds used"]
    for target in targets:
        assert f'id="{target}"' in page
    assert "<!--opskit-toc-->" not in page


def test_a_summary_without_headline_takes_it_from_the_notebook():
    summary = _summary()
    del summary["headline"]
    page = render_html(_notebook({"p95 against SLO": "599 ms vs 500 ms"}), summary, "Demo", show_code=False)
    assert page.index("599 ms vs 500 ms") < page.index('class="opskit-verdict"')


def test_failed_rows_in_the_header_show_observed_against_threshold_error_first():
    checks = [
        {
            "name": "latency SLO",
            "subject": "/v1/rank",
            "status": "FAIL",
            "observed": 599.0,
            "threshold": 500.0,
            "unit": "ms",
            "message": "p95 over the SLO",
        },
        {
            "name": "requests",
            "subject": None,
            "status": "ERROR",
            "observed": None,
            "threshold": None,
            "unit": None,
            "message": "cannot read x.csv",
        },
        {"name": "psi", "subject": "income", "status": "WARN", "observed": 0.15, "threshold": 0.1, "unit": "PSI"},
    ]
    html = header_cell(_summary(checks=checks), "Demo").source
    items = re.findall(r"<li>(.*?)</li>", html)
    assert items[0].startswith("<b>ERROR</b> requests") and "cannot read x.csv" in items[0]
    assert "observed 599 ms, threshold 500 ms: p95 over the SLO" in items[1]
    assert len(items) == 2  # WARN rows stay in the verdict table


def test_more_than_eight_failed_rows_say_where_the_rest_are():
    checks = [{"name": f"c{i}", "status": "FAIL", "observed": i, "threshold": 0} for i in range(11)]
    html = header_cell(_summary(checks=checks), "Demo").source
    assert html.count("<li>") == 9 and "and 3 more in the verdict table" in html


@pytest.mark.parametrize(
    ("check", "text"),
    [
        (
            {"observed": 0.41, "threshold": 0.2, "unit": "PSI", "message": "drift"},
            "observed 0.41 PSI, threshold 0.2 PSI: drift",
        ),
        ({"observed": 11.0, "threshold": ">= 30 %", "unit": "%"}, "observed 11 %, threshold >= 30 %"),
        ({"message": "cannot read"}, "cannot read"),
    ],
)
def test_observed_vs_threshold(check, text):
    assert observed_vs_threshold(check) == text


def test_the_page_parses_with_one_header_and_one_details_block():
    parser = _Order()
    parser.feed(render_html(_notebook(), _summary(), "Demo", show_code=False))
    assert sum(e.startswith("details") for e in parser.events) == 1
    assert sum("opskit-headline " in e + " " for e in parser.events) == 1
    assert parser.events.index(next(e for e in parser.events if "opskit-headline" in e)) < parser.events.index(
        next(e for e in parser.events if e.startswith("table"))
    )


def test_a_real_sample_report_opens_with_the_headline_then_the_verdict_table(tmp_path):
    from opskit.runner import run_runbook

    result = run_runbook("report_gpu_cost", reports_dir=tmp_path, fail_on="never")
    headline = result.summary.get("headline") or {}
    if not headline:  # summary.json written by a runner that does not copy the headline yet
        headline = ordered_headline(extract_summary(nbformat.read(result.notebook_path, as_version=4)))
    assert list(headline) == ["week", "GPU cost", "waste", "savings if acted on"]
    main = result.html_path.read_text().split("<main>", 1)[1]
    first_table = main.index("<table")
    assert main.rfind('class="opskit-verdict"', 0, first_table) != -1  # the first table is the verdict's
    for label, value in headline.items():
        assert main.index(label) < first_table and main.index(str(value)) < first_table
    assert "FAIL</b> idle GPUs [resv-h100-03]: observed 1,344 GPU-hours, threshold 4 h below 2 %" in main[:first_table]


def test_the_headline_keeps_the_declared_order_through_a_sorted_notebook():
    published = {"headline": {"week": "W48", "GPU cost": "$1"}, "headline_order": ["week", "GPU cost"]}
    stored = nbformat.reads(nbformat.writes(_with_summary(published)), as_version=4)  # sort_keys=True
    assert list(extract_summary(stored)["headline"]) == ["GPU cost", "week"]
    assert list(ordered_headline(extract_summary(stored))) == ["week", "GPU cost"]
    page = render_html(
        stored,
        {**_summary(), "headline": extract_summary(stored)["headline"], "headline_order": ["week", "GPU cost"]},
        "Demo",
        show_code=False,
    )
    assert page.index(">week<") < page.index(">GPU cost<")


def _with_summary(published):
    nb = _notebook()
    nb.cells[-1].outputs[0]["data"][SUMMARY_MIMETYPE] = published
    return nb
