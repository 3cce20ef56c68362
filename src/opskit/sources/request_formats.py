"""Which format a request log is in: by its suffix, then by the structure of its lines.

Access logs are told by structure, not position: the first :data:`~opskit.sources.access_logs.SNIFF_LINES`
lines are classified one by one (wrappers such as ``kubectl logs --timestamps`` removed), so a log
whose first lines are controller or server messages is still recognised. Where lines could be two
formats, or two formats are mixed, the reader refuses and names the ``fmt`` value that settles it.
"""

from __future__ import annotations

import json
from pathlib import Path

from opskit.errors import InputError
from opskit.sources.access_logs import ACCESS_LOG_KINDS, access_log_kind, sniff_access_kinds, unwrap_line
from opskit.sources.log_encoding import check_utf8_text
from opskit.sources.table_files import open_text

REQUEST_FORMATS = ("csv", "parquet", "jsonl", *ACCESS_LOG_KINDS)
_FMT_HINT = "pass fmt (" + ", ".join(REQUEST_FORMATS) + ")"


def detect_format(path: Path) -> str:
    """One of :data:`REQUEST_FORMATS` for ``path`` (``.gz`` looked through); an InputError when it cannot tell."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last in (".parquet", ".pq"):
        return "parquet"
    if path.is_file():  # empty, binary, cut .gz or not UTF-8: refused naming the file and the encoding found
        check_utf8_text(path, "request logs are read as UTF-8", whole=False)
    if last in (".csv", ".tsv"):
        return "csv"
    with open_text(path) as fh:
        first = next((line.strip() for line in fh if line.strip()), "")
    if first.startswith("{") and not _wraps_access_line(first):
        return "jsonl"
    if last in (".jsonl", ".ndjson") and not _wraps_access_line(first):
        return "jsonl"
    kinds, other, first_lines = sniff_access_kinds(path)
    readable = {k: n for k, n in kinds.items() if k in ACCESS_LOG_KINDS}
    if kinds.get("ambiguous"):
        raise InputError(
            "two numbers follow the combined fields and nothing tells which is the request time",
            path=path,
            line=first_lines["ambiguous"],
            column="request_time",
            hint="pass fmt='ingress-nginx' when they are $request_length $request_time, "
            "or fmt='nginx' when $request_time comes first",
        )
    if len(readable) > 1:
        named = ", ".join(f"{k} ({n} lines)" for k, n in sorted(readable.items()))
        raise InputError(
            f"lines of more than one access-log format: {named}",
            path=path,
            hint=f"{_FMT_HINT}: the lines of the other format are then counted and skipped",
        )
    if readable:
        return next(iter(readable))
    if kinds.get("uvicorn"):
        raise InputError(
            f"{kinds['uvicorn']} uvicorn access line(s) and {other} other line(s), none with a request time: "
            "uvicorn's default access log (vLLM's API server uses it) has no duration",
            path=path,
            line=first_lines["uvicorn"],
            hint="log the request duration (gunicorn --access-logformat with %(D)s, a timing middleware, "
            "or the ingress/Envoy access log in front of the server) and pass that file",
        )
    if "," in first or "\t" in first:
        return "csv"
    raise InputError(
        f"cannot tell the format of this file (no access-log line in its first {other} line(s))",
        path=path,
        line=1,
        hint=f"{_FMT_HINT}, or convert it to CSV with a header; a model server's own log (Triton, vLLM, TGI) "
        "has no per-request latency: use the access log of the ingress or Envoy in front of it",
    )


def _wraps_access_line(first: str) -> bool:
    """Whether a JSON first line is a Docker/OTel record whose logged line is an access line."""
    if not first.startswith("{"):
        return False
    try:
        record = json.loads(first)
    except ValueError:
        return False
    inner = unwrap_line(first)
    return isinstance(record, dict) and inner != first and access_log_kind(inner) is not None
