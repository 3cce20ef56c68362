"""Which format a request log is in: by its suffix, then by sniffing its first line."""

from __future__ import annotations

from pathlib import Path

from opskit.errors import InputError
from opskit.sources.access_logs import access_log_kind
from opskit.sources.table_files import open_text

REQUEST_FORMATS = ("csv", "parquet", "jsonl", "nginx", "envoy")


def detect_format(path: Path) -> str:
    """One of :data:`REQUEST_FORMATS` for ``path`` (``.gz`` looked through); an InputError when it cannot tell."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last in (".parquet", ".pq"):
        return "parquet"
    if last in (".jsonl", ".ndjson"):
        return "jsonl"
    if last in (".csv", ".tsv"):
        return "csv"
    with open_text(path) as fh:
        first = next((line.strip() for line in fh if line.strip()), "")
    if first.startswith("{"):
        return "jsonl"
    kind = access_log_kind(first)
    if kind == "uvicorn":
        raise InputError(
            "uvicorn's default access log has no request time",
            path=path,
            line=1,
            hint="log the request duration (gunicorn --access-logformat with %(D)s, or a timing middleware)",
        )
    if kind is not None:
        return kind
    if "," in first or "\t" in first:
        return "csv"
    raise InputError(
        "cannot tell the format of this file",
        path=path,
        line=1,
        hint="pass fmt (csv, parquet, jsonl, nginx, envoy), or convert it to CSV with a header",
    )
