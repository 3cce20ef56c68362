"""Reports: the HTML rendering, ``summary.json``, atomic writes and the index of runs.

A report folder holds ``<runbook>.ipynb``, ``<runbook>.html`` and ``summary.json``. Everything is
written into a hidden staging folder first and moved into place with one rename, so a report is
either complete or absent, and an earlier report is never touched.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from opskit.checks import SUMMARY_MIMETYPE, Status

STAGING_PREFIX = ".staging-"
# the page template: JupyterLab's, with every script that would come from a CDN left out
_TEMPLATE_DIR = Path(__file__).parent / "data" / "report_template"


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
    """The first screen of the HTML: status, what failed, when, with which parameters."""
    status = Status(summary["status"])
    esc = html.escape
    parts = [
        f'<div style="font-family:system-ui,sans-serif;border-left:6px solid {status.colour};'
        f'padding:6px 12px;margin-bottom:8px">',
        f'<div style="font-size:20px;font-weight:600">{esc(title)} '
        f'<span style="color:#fff;background:{status.colour};padding:2px 8px;border-radius:3px;'
        f'font-size:14px">{status.value}</span></div>',
    ]
    error = summary.get("error")
    if error:
        where = f"cell {error['execution_count']}" if error.get("execution_count") else "execution"
        parts.append(
            f'<div style="color:{Status.ERROR.colour};font-weight:600;margin:6px 0">This run did not complete: '
            f"{esc(where)} raised <code>{esc(str(error.get('ename')))}: {esc(str(error.get('evalue')))}</code>. "
            f'<a href="#papermill-error-cell">Go to the failing cell</a>.</div>'
        )
    failing = [c for c in summary.get("checks", []) if c["status"] in ("FAIL", "ERROR")]
    if failing:
        items = "".join(
            f"<li><b>{esc(c['status'])}</b> {esc(c['name'])}"
            + (f" [{esc(str(c['subject']))}]" if c.get("subject") else "")
            + (f": {esc(str(c['message']))}" if c.get("message") else "")
            + "</li>"
            for c in failing[:8]
        )
        more = f"<li>… and {len(failing) - 8} more</li>" if len(failing) > 8 else ""
        parts.append(f'<ul style="margin:4px 0">{items}{more}</ul>')
    params = summary.get("parameters") or {}
    rows = "".join(
        f"<tr><td style='padding:0 8px 0 0'><code>{esc(k)}</code></td><td><code>{esc(json.dumps(v))}</code></td></tr>"
        for k, v in params.items()
    )
    parts.append(
        f'<div style="color:#444;font-size:12px">Run {esc(summary["started_at"])} · '
        f"{summary['duration_s']:.1f} s · opskit {esc(summary['opskit_version'])}</div>"
    )
    if rows:
        parts.append(f'<table style="font-size:12px;margin:4px 0 0 0">{rows}</table>')
    parts.append(masking_note(summary.get("masking")))
    parts.append("</div>")
    cell = nbformat.v4.new_markdown_cell("".join(parts))
    cell.metadata["tags"] = ["opskit-header"]
    return cell


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
    return body


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
