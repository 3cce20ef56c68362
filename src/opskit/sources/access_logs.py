"""Web-server access logs as raw request rows: nginx, ingress-nginx ``upstreaminfo``, Envoy/Istio text logs.

nginx: the ``combined`` format followed by ``$request_time`` (seconds; gunicorn's ``%(D)s``
microseconds when the number has no decimal point), or key=value logs with ``rt=``.
ingress-nginx: its default ``upstreaminfo`` format, told by structure: after the combined fields
come ``$request_length`` (bytes, an integer) then ``$request_time`` (seconds) then the bracketed
upstream name. Envoy/Istio: the default text access log, ``%DURATION%`` in ms.

Lines may be wrapped (``kubectl logs --timestamps/--prefix``, CRI container logs, Docker/OTel JSON
with the line under ``log``/``body``/``message``); the wrapper is removed first. Lines that are not
access lines (controller or server messages in the same stream) are counted, not read:
``frame.attrs["other_lines"]`` holds their count and the first one. Rows keep their file line in the index.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from opskit.errors import InputError
from opskit.sources.table_files import guarded_lines, open_text

ACCESS_LOG_KINDS = ("nginx", "ingress-nginx", "envoy")  # the kinds read_access_log reads

_NGINX = re.compile(
    r'^(?P<addr>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) \S+'
    r'(?: "[^"]*" "[^"]*")?(?P<rest>.*)$'
)
_NGINX_RT = re.compile(r"(?:^|\s)(?:rt|request_time)=\"?(?P<rt>[\d.]+)")
_NGINX_TAIL = re.compile(r"^\s+(?P<rt>\d+(?:\.\d+)?)(?:\s|$)")
# upstreaminfo: $request_length $request_time [$proxy_upstream_name] ...
_INGRESS_TAIL = re.compile(r"^\s+(?P<length>\d+) (?P<rt>\d+\.\d+) \[")
# two bare numbers with nothing telling which is the time: $request_length $request_time, or the reverse
_TWO_NUMBERS = re.compile(r"^\s+\d+ \d+\.\d+(?:\s|$)")
_ENVOY = re.compile(
    r'^\[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<flags>\S+)'
    r'(?: \S+ \S+ "[^"]*")? (?P<rx>\d+) (?P<tx>\d+) (?P<duration>\d+) (?P<upstream>\S+)'
)
# uvicorn's access line, alone or after a logger prefix (``uvicorn.access INFO:``), pid optional
_UVICORN = re.compile(r'(?:^|INFO:\s+)\S+:\d+(?: \d+)? - "[A-Z]+ \S+ [^"]*" \d{3}')
# wrappers: kubectl --prefix, CRI (containerd) lines, kubectl --timestamps
_PREFIX = re.compile(r"^(?:\[pod/[^\]\s]+\] |\([A-Za-z]+ pid=\d+\) )")
_CRI = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d) (?:stdout|stderr) [FP] ")
# syslog/journalctl: "Feb 07 18:15:55 host bash[4184]: "
_SYSLOG = re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [^\s:\[]+(?:\[\d+\])?: ")
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d) (?=\S)")
_JSON_KEYS = ("log", "body", "Body", "message", "msg")
SNIFF_LINES = 2000  # lines looked at to tell the kind of a mixed log


def unwrap_line(text: str) -> str:
    """``text`` without a kubectl/CRI/syslog prefix, or the logged line inside a Docker/OTel JSON record."""
    text = _PREFIX.sub("", text, count=1)
    text = _CRI.sub("", text, count=1)
    text = _STAMP.sub("", text, count=1)
    text = _SYSLOG.sub("", text, count=1)
    if text.startswith("{") and text.rstrip().endswith("}"):
        try:
            record = json.loads(text)
        except ValueError:
            return text
        if isinstance(record, dict):
            for key in _JSON_KEYS:
                inner = record.get(key)
                if isinstance(inner, dict):  # OTel: {"body": {"stringValue": "..."}}
                    inner = inner.get("stringValue")
                if isinstance(inner, str):
                    return inner.rstrip("\n")
    return text


def access_log_kind(line: str) -> str | None:
    """``envoy``, ``ingress-nginx``, ``nginx``, ``uvicorn`` or ``ambiguous`` for an access-log line, else None.

    Only the kinds in :data:`ACCESS_LOG_KINDS` can be read: uvicorn's default log has no request
    time. ``ambiguous`` is a combined line followed by two bare numbers (``512 0.034``) that could
    be ``$request_length $request_time`` or ``$request_time`` then something else.
    """
    line = unwrap_line(line)
    if _ENVOY.match(line):
        return "envoy"
    match = _NGINX.match(line)
    if match:
        rest = match.group("rest") or ""
        if _INGRESS_TAIL.match(rest):
            return "ingress-nginx"
        if _TWO_NUMBERS.match(rest) and not _NGINX_RT.search(rest):
            return "ambiguous"
        return "nginx"
    if _UVICORN.search(line):
        return "uvicorn"
    return None


def sniff_access_kinds(path: Path, limit: int = SNIFF_LINES) -> tuple[Counter, int, dict[str, int]]:
    """Counts of each access kind in the first ``limit`` lines, the other lines, and each kind's first line."""
    kinds: Counter = Counter()
    other, first = 0, {}
    with open_text(path) as fh:
        for number, line in enumerate(guarded_lines(fh, path), start=1):
            if number > limit:
                break
            if not line.strip():
                continue
            kind = access_log_kind(line.rstrip("\n"))
            if kind is None:
                other += 1
            else:
                kinds[kind] += 1
                first.setdefault(kind, number)
    return kinds, other, first


def _iter_access_rows(path: Path, kind: str) -> Iterator[tuple[int, dict, str]]:
    """(line number, fields, rest) of each line of ``kind``; other lines are counted in ``skipped``."""
    pattern = _ENVOY if kind == "envoy" else _NGINX
    with open_text(path) as fh:
        for number, line in enumerate(guarded_lines(fh, path), start=1):
            text = unwrap_line(line.rstrip("\n"))
            if not text.strip():
                continue
            match = pattern.match(text)
            yield number, (match.groupdict() if match else None), text


def _nginx_latency(kind: str, rest: str, path: Path, number: int) -> float:
    """Milliseconds from what follows the combined fields, by the layout of ``kind``."""
    if kind == "ingress-nginx":
        found = _INGRESS_TAIL.match(rest) or re.match(r"^\s+\d+ (?P<rt>\d+(?:\.\d+)?)(?:\s|$)", rest)
    else:
        # the upstreaminfo layout is unmistakable (a bracket after two numbers): never read its length as time
        found = _INGRESS_TAIL.match(rest) or _NGINX_RT.search(rest) or _NGINX_TAIL.match(rest)
        if found is not None and "length" in found.groupdict():
            kind = "ingress-nginx"
    if not found:
        raise InputError(
            "no request time on this line",
            path=path,
            line=number,
            column="request_time",
            hint="add $request_time after the combined format (log_format ... '$request_time'), "
            "or pass fmt='ingress-nginx' for ingress-nginx's upstreaminfo format",
        )
    raw = found.group("rt")
    # nginx logs seconds with a decimal point; gunicorn's %(D)s logs integer microseconds
    return float(raw) * 1000.0 if "." in raw or kind == "ingress-nginx" else float(raw) / 1000.0


def read_access_log(path: Path, kind: str) -> pd.DataFrame:
    """Rows ``timestamp``, ``endpoint`` (the raw path), ``latency_ms``, ``status`` of an access log of ``kind``.

    Lines that are not of ``kind`` are skipped and counted in ``attrs["other_lines"]``
    (``{"count", "first_line", "first_text"}``); a file with no line of ``kind`` is an InputError.
    """
    rows, lines = [], []
    skipped, first_skipped = 0, None
    for number, fields, text in _iter_access_rows(path, kind):
        if fields is None:
            skipped += 1
            if first_skipped is None:
                first_skipped = (number, text[:120])
            continue
        if kind == "envoy":
            latency, time = fields["duration"], fields["time"]
        else:
            latency = _nginx_latency(kind, fields["rest"] or "", path, number)
            time = pd.to_datetime(fields["time"], format="%d/%b/%Y:%H:%M:%S %z", errors="coerce")
            if pd.isna(time):
                raise InputError(f"bad time {fields['time']!r}", path=path, line=number, column="time_local")
        rows.append((time, fields["path"], latency, int(fields["status"])))
        lines.append(number)
    if not rows:
        where = f" (first other line {first_skipped[0]}: {first_skipped[1]!r})" if first_skipped else ""
        raise InputError(
            f"no {kind} access-log line in {skipped} line(s){where}",
            path=path,
            line=first_skipped[0] if first_skipped else None,
            hint="pass fmt (" + ", ".join(ACCESS_LOG_KINDS) + ") matching the log, or check the log format",
        )
    frame = pd.DataFrame(rows, columns=["timestamp", "endpoint", "latency_ms", "status"])
    frame.index = pd.Index(lines, dtype="int64") - 1
    if skipped:
        frame.attrs["other_lines"] = {
            "count": skipped,
            "first_line": first_skipped[0],
            "first_text": first_skipped[1],
        }
    return frame
