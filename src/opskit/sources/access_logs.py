"""Web-server access logs as raw request rows: nginx ``combined`` + request time, and Envoy/Istio text logs.

nginx: the ``combined`` format followed by ``$request_time`` (seconds; gunicorn's ``%(D)s``
microseconds when the number has no decimal point), or key=value logs with ``rt=``. Envoy/Istio:
the default text access log, ``%DURATION%`` in ms. Rows keep their file line in the index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from opskit.errors import InputError
from opskit.sources.table_files import open_text

ACCESS_LOG_KINDS = ("nginx", "envoy")  # the kinds read_access_log reads

_NGINX = re.compile(
    r'^(?P<addr>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) \S+'
    r'(?: "[^"]*" "[^"]*")?(?P<rest>.*)$'
)
_NGINX_RT = re.compile(r"(?:^|\s)(?:rt|request_time)=\"?(?P<rt>[\d.]+)")
_NGINX_TAIL = re.compile(r"^\s+(?P<rt>\d+(?:\.\d+)?)(?:\s|$)")
_ENVOY = re.compile(
    r'^\[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<flags>\S+)'
    r'(?: \S+ \S+ "[^"]*")? (?P<rx>\d+) (?P<tx>\d+) (?P<duration>\d+) (?P<upstream>\S+)'
)
_UVICORN = re.compile(r'^(?:INFO:\s+)?\S+:\d+ - "[A-Z]+ \S+ [^"]*" \d{3}')


def access_log_kind(line: str) -> str | None:
    """``envoy``, ``nginx`` or ``uvicorn`` when ``line`` is such an access-log line, else None.

    Only the kinds in :data:`ACCESS_LOG_KINDS` can be read: uvicorn's default log has no request time.
    """
    if _ENVOY.match(line):
        return "envoy"
    if _NGINX.match(line):
        return "nginx"
    if _UVICORN.match(line):
        return "uvicorn"
    return None


def _iter_access_rows(path: Path, kind: str) -> Iterator[tuple[int, dict]]:
    pattern = _ENVOY if kind == "envoy" else _NGINX
    with open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            text = line.rstrip("\n")
            if not text.strip():
                continue
            match = pattern.match(text)
            if not match:
                raise InputError(
                    f"not a {kind} access-log line",
                    path=path,
                    line=number,
                    hint=f"pass fmt explicitly, or check the log format ({kind} expected from the first line)",
                )
            yield number, match.groupdict()


def read_access_log(path: Path, kind: str) -> pd.DataFrame:
    """Rows ``timestamp``, ``endpoint`` (the raw path), ``latency_ms``, ``status`` of an ``nginx`` or ``envoy`` log."""
    rows, lines = [], []
    for number, fields in _iter_access_rows(path, kind):
        if kind == "envoy":
            latency, time = fields["duration"], fields["time"]
        else:
            rest = fields["rest"] or ""
            found = _NGINX_RT.search(rest) or _NGINX_TAIL.match(rest)
            if not found:
                raise InputError(
                    "no request time on this line",
                    path=path,
                    line=number,
                    column="request_time",
                    hint="add $request_time after the combined format (log_format ... '$request_time')",
                )
            raw = found.group("rt")
            # nginx logs seconds with a decimal point; gunicorn's %(D)s logs integer microseconds
            latency = float(raw) * 1000.0 if "." in raw else float(raw) / 1000.0
            time = pd.to_datetime(fields["time"], format="%d/%b/%Y:%H:%M:%S %z", errors="coerce")
            if pd.isna(time):
                raise InputError(f"bad time {fields['time']!r}", path=path, line=number, column="time_local")
        rows.append((time, fields["path"], latency, int(fields["status"])))
        lines.append(number)
    frame = pd.DataFrame(rows, columns=["timestamp", "endpoint", "latency_ms", "status"])
    frame.index = pd.Index(lines, dtype="int64") - 1
    return frame
