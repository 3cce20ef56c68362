"""Verdicts on the files themselves: structure problems by file and line, size, and secrets in text files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opskit.analyses.data.settings import GB, DataCheckSettings
from opskit.checks import Status, Verdict
from opskit.privacy import find_sensitive, mask
from opskit.sources.dataset_files import FileProblem, FileScan, iter_text_lines

PROBLEM_STATUS = {
    "empty": Status.FAIL,
    "binary": Status.FAIL,
    "unreadable": Status.FAIL,
    "truncated": Status.FAIL,
    "encoding": Status.FAIL,
    "quoting": Status.FAIL,
    "mixed_delimiter": Status.FAIL,
    "field_count": Status.FAIL,
    "json": Status.FAIL,
    "parquet": Status.FAIL,
    "no_rows": Status.WARN,
    "bom": Status.WARN,
    "header": Status.WARN,
    "wide_encoding": Status.WARN,
    "no_line_end": Status.WARN,
}
NEXT_STEP = {
    "truncated": "copy the file again from its source and compare it with the manifest (opskit dataset manifest)",
    "empty": "copy the file again, or remove it from the dataset",
    "binary": "check the file is what its name says; re-export it as text",
    "encoding": "re-export the file as UTF-8 (iconv -f ENCODING -t UTF-8)",
    "quoting": "quote fields that hold the delimiter, quotes or line ends (RFC 4180) and re-export",
    "mixed_delimiter": "re-export with one delimiter; the lines named were written by another tool",
    "field_count": "quote the values that hold the delimiter and re-export; the lines named are left out of the checks",
    "json": "fix or drop the lines named: each line must be one JSON object",
    "parquet": "copy the file again; a Parquet file cut short has no footer",
    "unreadable": "check the file's permissions",
    "no_rows": "check the export wrote its rows",
    "wide_encoding": "re-export as UTF-8 (iconv -f UTF-16 -t UTF-8)",
    "header": "name every column once in the header; loaders drop or rename blank and repeated names",
    "bom": "re-export without a byte-order mark if a tool reads the first column's name wrongly",
    "no_line_end": "compare the file with the manifest: a file cut exactly at a field end looks complete",
}
_TEXT_KINDS = ("text",)


def _evidence(problems: Sequence[FileProblem], n: int) -> str:
    shown = [f"{p.where} {p.kind}" + (f" ({p.column})" if p.column else "") for p in problems[:n]]
    more = f" and {len(problems) - n} more" if len(problems) > n else ""
    return "; ".join(shown) + more


def structure_verdicts(scans: Sequence[FileScan], settings: DataCheckSettings) -> list[Verdict]:
    """One row per file with problems (worst kind first), or one PASS row for all files."""
    rows = []
    for scan in scans:
        if not scan.problems:
            continue
        worst = Status.worst(PROBLEM_STATUS.get(p.kind, Status.FAIL) for p in scan.problems)
        ordered = sorted(scan.problems, key=lambda p: -PROBLEM_STATUS.get(p.kind, Status.FAIL).severity)
        first = ordered[0]
        lines = {p.line for p in scan.problems}
        rows.append(
            Verdict(
                "file structure",
                worst,
                subject=scan.path,
                observed=len(lines),
                threshold=0,
                unit="problem lines" if any(p.line for p in scan.problems) else "problems",
                evidence=_evidence(scan.problems, settings.examples),
                message=f"{first.where}: {first.message}",
                next_step=NEXT_STEP.get(first.kind),
            )
        )
    if not rows:
        records = sum(s.rows or 0 for s in scans if s.is_table)
        rows.append(
            Verdict(
                "file structure",
                Status.PASS,
                subject=f"all {len(scans)} files",
                observed=records,
                unit="rows",
                message="every file reads to its end: no cut, shifted or undecodable line",
            )
        )
    return rows


def size_verdicts(scans: Sequence[FileScan], settings: DataCheckSettings) -> list[Verdict]:
    """WARN per file over the size limit, with the advice to shard it; one PASS row otherwise."""
    limit = settings.size_limit_bytes
    big = [s for s in scans if s.size > limit]
    rows = [
        Verdict(
            "file size",
            Status.WARN,
            subject=s.path,
            observed=round(s.size / GB, 2),
            threshold=round(limit / GB, 2),
            unit="GB",
            message=f"{s.path} is {s.size / GB:,.1f} GB: one file cannot be read in parallel or resumed mid-way",
            next_step=f"shard it into Parquet parts: opskit dataset convert {s.path} {Path(s.path).stem}_parquet/",
        )
        for s in big
    ]
    if not rows:
        largest = max(scans, key=lambda s: s.size)
        rows.append(
            Verdict(
                "file size",
                Status.PASS,
                subject=largest.path,
                observed=round(largest.size / GB, 3),
                threshold=round(limit / GB, 2),
                unit="GB",
                message="the largest file is under the size limit",
            )
        )
    return rows


def secret_findings(root: Path, scans: Sequence[FileScan]) -> list[tuple[str, int, list[str], str]]:
    """``(file, line, kinds, masked line)`` for each line of a text file (a log, a note) holding PII or a secret."""
    found = []
    for scan in scans:
        if scan.kind not in _TEXT_KINDS:
            continue
        for number, text in iter_text_lines(root / scan.path, scan.encoding):
            kinds = find_sensitive(text)
            if kinds:
                found.append((scan.path, number, kinds, mask(text) or ""))
    return found


def secret_verdicts(findings: Sequence[tuple[str, int, list[str], str]], scans: Sequence[FileScan]) -> list[Verdict]:
    """FAIL per text file with secrets or PII (file:line, kinds, the masked line); PASS when none."""
    texts = [s for s in scans if s.kind in _TEXT_KINDS]
    if not texts:
        return []
    by_file: dict[str, list] = {}
    for item in findings:
        by_file.setdefault(item[0], []).append(item)
    rows = []
    for path, items in by_file.items():
        kinds = sorted({k for _, _, ks, _ in items for k in ks})
        first = items[0]
        rows.append(
            Verdict(
                "secrets in files",
                Status.FAIL,
                subject=path,
                observed=len(items),
                threshold=0,
                unit="lines",
                evidence="; ".join(f"{p}:{n} {', '.join(ks)}" for p, n, ks, _ in items[:5]),
                message=f"{', '.join(kinds)} in {path}; first at line {first[1]}: {first[3][:120]}",
                next_step="revoke the secret, then remove it from the file and from every copy of the dataset",
            )
        )
    if not rows:
        rows.append(
            Verdict(
                "secrets in files",
                Status.PASS,
                subject=f"{len(texts)} text files",
                message="no token, key, password or personal data in the dataset's text files",
            )
        )
    return rows
