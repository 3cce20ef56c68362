"""Reports: the HTML rendering, ``summary.json``, atomic writes and the index of runs.

A report folder holds ``<runbook>.ipynb``, ``<runbook>.html`` and ``summary.json``. Everything is
written into a hidden staging folder first and moved into place with one rename, so a report is
either complete or absent, and an earlier report is never touched.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbconvert.preprocessors import TagRemovePreprocessor

from opskit.checks import SUMMARY_MIMETYPE, Status, Verdict, VerdictTable, render_verdict_html
from opskit.runbooks.tables import DASH, frame_html, number

STAGING_PREFIX = ".staging-"
# the page template: JupyterLab's, with every script that would come from a CDN left out
_TEMPLATE_DIR = Path(__file__).parent / "data" / "report_template"


PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"


def utc_stamp(moment: datetime) -> str:
    """``20261128T101500Z``: sortable, safe in file names on every OS."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is as readable as any file
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def extract_summary(nb: nbformat.NotebookNode) -> dict[str, Any] | None:
    """The last summary a runbook published with ``publish_summary``, or None."""
    found = None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if SUMMARY_MIMETYPE in data:
                found = data[SUMMARY_MIMETYPE]
    return dict(found) if found is not None else None


def find_error(nb: nbformat.NotebookNode) -> dict[str, Any] | None:
    """The first cell whose output is an error: its index, execution count, exception and message."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return {
                    "cell": index,
                    "execution_count": cell.get("execution_count"),
                    "ename": output.get("ename"),
                    "evalue": output.get("evalue"),
                    "source": cell.get("source", "")[:500],
                }
    return None


def header_cell(summary: Mapping[str, Any], title: str) -> nbformat.NotebookNode:
    """The first screen of the HTML: runbook and status, when, the headline figures, what failed (observed
    against threshold), and the table of contents (filled in by :func:`render_html`)."""
    status = Status(summary["status"])
    esc = html.escape
    parts = [
        f'<div class="opskit-header" style="font-family:system-ui,sans-serif;border-left:6px solid {status.colour};'
        f'padding:6px 12px;margin-bottom:8px">',
        f'<div style="font-size:20px;font-weight:600">{esc(title)} '
        f'<span style="color:#fff;background:{status.colour};padding:2px 8px;border-radius:3px;'
        f'font-size:14px">{status.value}</span></div>',
        f'<div style="color:#444;font-size:12px">{esc(summary["runbook"])} · run {esc(_when(summary["started_at"]))}'
        f" · {summary['duration_s']:.1f} s · opskit {esc(summary['opskit_version'])}</div>",
        headline_html(ordered_headline(summary)),
    ]
    error = summary.get("error")
    if error:
        where = f"cell {error['execution_count']}" if error.get("execution_count") else "execution"
        parts.append(
            f'<div style="color:{Status.ERROR.colour};font-weight:600;margin:6px 0">This run did not complete: '
            f"{esc(where)} raised <code>{esc(str(error.get('ename')))}: {esc(str(error.get('evalue')))}</code>. "
            f'<a href="#papermill-error-cell">Go to the failing cell</a>.</div>'
        )
    failing = [c for c in summary.get("checks", []) if c["status"] in ("ERROR", "FAIL")]
    failing.sort(key=lambda c: -Status(c["status"]).severity)  # ERROR first: it is why the exit code is 2
    if failing:
        items = "".join(
            f"<li><b>{esc(c['status'])}</b> {esc(c['name'])}"
            + (f" [{esc(str(c['subject']))}]" if c.get("subject") else "")
            + f": {esc(observed_vs_threshold(c))}</li>"
            for c in failing[:_LISTED]
        )
        more = f"<li>… and {len(failing) - _LISTED} more in the verdict table</li>" if len(failing) > _LISTED else ""
        parts.append(f'<ul style="margin:4px 0">{items}{more}</ul>')
    parts.append(masking_note(summary.get("masking")))
    parts.append(TOC_MARK)
    parts.append("</div>")
    return page_cell("".join(parts), "opskit-header")


_LISTED = 8  # FAIL and ERROR rows listed in the header; the verdict table below has them all
TOC_MARK = "<!--opskit-toc-->"
PAGE_TAG = "opskit-page"  # a markdown cell whose source is HTML the template writes as it is


def page_cell(source: str, tag: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata["tags"] = [PAGE_TAG, tag]
    return cell


def _when(started_at: str) -> str:
    """``2026-11-28 10:15 UTC`` from the summary's ISO time (as it is when it does not parse)."""
    try:
        return datetime.fromisoformat(started_at).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return started_at


def _figure(value: Any) -> str:
    if isinstance(value, bool | int | float):
        return number(value)
    if value is None:
        return DASH
    return str(value)


def ordered_headline(summary: Mapping[str, Any]) -> dict[str, Any]:
    """``summary["headline"]`` in the order the runbook declared it (``headline_order``): a notebook stores
    its outputs as JSON with sorted keys, so the published dict alone has lost that order."""
    headline = dict(summary.get("headline") or {})
    order = [k for k in summary.get("headline_order") or [] if k in headline]
    return {**{k: headline[k] for k in order}, **headline}


def headline_html(headline: Mapping[str, Any]) -> str:
    """The headline figures side by side: the label small, the value large."""
    if not headline:
        return ""
    esc = html.escape
    cards = "".join(
        f'<div class="opskit-headline-figure" style="margin:0 24px 0 0"><div style="font-size:12px;color:#444">'
        f'{esc(str(label))}</div><div style="font-size:18px;font-weight:600">{esc(_figure(value))}</div></div>'
        for label, value in headline.items()
    )
    return f'<div class="opskit-headline" style="display:flex;flex-wrap:wrap;margin:8px 0">{cards}</div>'


def observed_vs_threshold(check: Mapping[str, Any]) -> str:
    """``observed 412 ms, threshold 300 ms: message``; the message alone when the row has no figures."""
    unit = f" {check['unit']}" if check.get("unit") else ""
    parts = [
        f"{key} {_figure(check[key])}{unit if isinstance(check[key], int | float) else ''}"
        for key in ("observed", "threshold")
        if check.get(key) is not None
    ]
    text = ", ".join(parts)
    message = check.get("message")
    return f"{text}: {message}" if text and message else text or message or ""


def details_cell(parameters: Mapping[str, Any], intro: str | None) -> nbformat.NotebookNode:
    """The collapsed block under the verdict: the runbook's introduction and the parameters of this run."""
    rows = pd.DataFrame({"parameter": list(parameters), "value": [json.dumps(v) for v in parameters.values()]})
    params = frame_html(rows) if len(rows) else "<p>No parameters.</p>"
    intro_html = markdown2html_mistune(intro) if intro else ""
    return page_cell(
        '<details class="opskit-details-block" style="font-family:system-ui,sans-serif;margin:8px 0">'
        '<summary style="cursor:pointer;font-weight:600">About this runbook, and the parameters of this run'
        f"</summary>{intro_html}<h3>Parameters</h3>{params}</details>",
        "opskit-details",
    )


def table_of_contents(body: str) -> str:
    """Links to the page's section headings (``h2`` with an id, as nbconvert writes them)."""
    body = re.sub(r'<details class="opskit-details-block".*?</details>', "", body, flags=re.S)  # not the intro's
    found = re.findall(r'<h2 id="([^"]+)"[^>]*>(.*?)<a class="anchor-link"', body, flags=re.S)
    if not found:
        return ""
    links = " · ".join(
        f'<a href="#{anchor}" style="color:#1565c0">{re.sub(r"<[^>]+>", "", text).strip()}</a>'
        for anchor, text in found
    )
    return f'<nav class="opskit-toc" style="font-size:13px;margin:6px 0 0 0"><b>Sections:</b> {links}</nav>'


def _drop_error_banner(nb: nbformat.NotebookNode) -> None:
    """Papermill's banner cell at the top of a failed run: the header already says what failed and links to it."""
    while (
        nb.cells
        and PAPERMILL_ERROR_TAG in nb.cells[0].metadata.get("tags", [])
        and 'id="papermill-error-cell"' not in nb.cells[0].source
    ):
        nb.cells.pop(0)


def _short_tracebacks(nb: nbformat.NotebookNode, report_name: str) -> None:
    """An error output shows its exception and message; the full traceback stays in the stored notebook."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [
                    f"{output.get('ename')}: {output.get('evalue')}",
                    f"(the full traceback is in {report_name}.ipynb beside this page)",
                ]


def _intro(nb: nbformat.NotebookNode) -> str | None:
    """Take the runbook's introduction (a first markdown cell without tags) out of the page's flow."""
    if nb.cells and nb.cells[0].cell_type == "markdown" and not nb.cells[0].metadata.get("tags"):
        return nb.cells.pop(0).source
    return None


def _after_verdict(nb: nbformat.NotebookNode) -> int:
    """The index just after the first cell that shows a verdict table; 0 when none does."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if 'class="opskit-verdict"' in str(output.get("data", {}).get("text/html", "")):
                return index + 1
    return 0


def verdicts_of(summary: Mapping[str, Any]) -> VerdictTable:
    """The summary's ``checks`` as a verdict table again (keys it does not know are dropped)."""
    keys = Verdict.__dataclass_fields__.keys()
    return VerdictTable([Verdict(**{k: v for k, v in c.items() if k in keys}) for c in summary.get("checks", [])])


def masking_note(masking: Mapping[str, Any] | None) -> str:
    """One line on what the privacy policy hid (``summary["masking"]``), loud when masking was off."""
    if not masking:
        return ""
    esc = html.escape
    if not masking.get("enabled", True):
        return (
            f'<div style="color:{Status.ERROR.colour};font-weight:600">Masking was OFF for this run: '
            "personal data and secrets may appear in clear. Do not share this report.</div>"
        )
    counts = masking.get("counts") or {}
    found = ", ".join(f"{esc(str(k))} {int(v)}" for k, v in sorted(counts.items())) or "nothing found"
    return f'<div style="color:#444;font-size:12px">Masked ({esc(str(masking.get("operator", "mask")))}): {found}</div>'


def render_html(nb: nbformat.NotebookNode, summary: Mapping[str, Any], title: str, *, show_code: bool) -> str:
    """The notebook as one HTML page with a run header first; code hidden unless ``show_code``."""
    nb = nbformat.from_dict(nb)  # copy: the stored notebook stays as executed
    if "headline" not in summary:  # a summary that did not copy the headline: take it from the notebook
        summary = {**summary, "headline": ordered_headline(extract_summary(nb) or {})}
    _drop_error_banner(nb)
    _short_tracebacks(nb, str(summary.get("runbook", "the report")))
    intro = _intro(nb)
    after = _after_verdict(nb)
    if not after and summary.get("checks"):  # the run stopped before showing its verdict: show the summary's
        nb.cells.insert(0, page_cell(render_verdict_html(verdicts_of(summary)), "opskit-verdict"))
        after = 1
    nb.cells.insert(after, details_cell(summary.get("parameters") or {}, intro))
    nb.cells.insert(0, header_cell(summary, title))
    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(_TEMPLATE_DIR)],
        template_file="opskit_report.html.j2",
        exclude_input=not show_code,
        exclude_input_prompt=not show_code,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(
            remove_cell_tags={"remove-cell"},
            remove_input_tags={"remove-input"},
            remove_all_outputs_tags={"remove-output"},
            enabled=True,
        ),
        enabled=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": f"{summary['runbook']} report"}})
    return body.replace(TOC_MARK, table_of_contents(body), 1)


def read_summaries(reports_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every complete report under ``reports_dir`` with its summary, newest first."""
    runs = []
    for path in reports_dir.glob("*/*/summary.json"):
        if path.parent.name.startswith("."):
            continue
        try:
            runs.append((path.parent, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, json.JSONDecodeError):
            continue
    runs.sort(key=lambda r: (r[1].get("started_at", ""), r[0].name), reverse=True)
    return runs


def write_index(reports_dir: Path) -> Path:
    """Rewrite ``reports_dir/index.html``: all runs, newest first, with their status."""
    esc = html.escape
    rows = []
    for folder, s in read_summaries(reports_dir):
        status = Status(s.get("status", "ERROR"))
        rel = folder.relative_to(reports_dir).as_posix()
        counts: dict[str, int] = {}
        for c in s.get("checks", []):
            counts[c["status"]] = counts.get(c["status"], 0) + 1
        detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -Status(kv[0]).severity))
        if s.get("error"):
            detail = f"error: {s['error'].get('ename')}: {s['error'].get('evalue')}"
        rows.append(
            "<tr>"
            f"<td>{esc(s.get('started_at', ''))}</td><td>{esc(s.get('runbook', ''))}</td>"
            f"<td>{esc(s.get('label') or '')}</td>"
            f'<td><span style="color:#fff;background:{status.colour};padding:1px 6px;border-radius:3px">'
            f"{status.value}</span></td><td>{esc(detail)}</td>"
            f"<td>{s.get('duration_s', 0):.1f} s</td>"
            f'<td><a href="{esc(rel)}/{esc(s.get("runbook", ""))}.html">report</a> · '
            f'<a href="{esc(rel)}/summary.json">summary.json</a></td></tr>'
        )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>opskit reports</title></head>"
        "<body style='font-family:system-ui,sans-serif;font-size:14px;margin:24px'>"
        f"<h1>opskit reports</h1><p>{len(rows)} runs, newest first. Generated {esc(iso(datetime.now(UTC)))}.</p>"
        "<table style='border-collapse:collapse' cellpadding='4'>"
        "<thead><tr><th align=left>Started (UTC)</th><th align=left>Runbook</th><th align=left>Label</th>"
        "<th align=left>Status</th><th align=left>Checks</th><th align=left>Duration</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></body></html>"
    )
    index = reports_dir / "index.html"
    write_atomic(index, page)
    return index
