"""Access logs of a model registry as request rows: who did what to which model, when, with what answer.

Formats (``fmt``): ``combined`` (nginx's ``combined`` and gunicorn's default access log, which is
what ``mlflow server`` writes: the principal is ``$remote_user`` / ``%(u)s``), ``envoy`` (Envoy's
default text log: it names no user, so rows have no principal) and ``json`` (one object per line,
keys such as ``time``/``timestamp``, ``user``/``principal``, ``method``, ``path``/``uri``,
``status``, ``bytes``). ``auto`` tells the kind from the first lines and refuses a mix.

The action and the model come from the MLflow REST path: ``get-download-uri``, ``get-artifact`` and
``mlflow-artifacts`` are downloads; ``delete`` (or the DELETE method) deletes; other POST/PATCH/PUT
requests (create, update, set-tag, alias) write; the rest read. The model is the ``name=`` query
value, the name in a search ``filter``, or the segment after ``/models/``. Lines that cannot be read
are kept as ``(line, text)`` in :attr:`RegistryAccessLog.malformed`, never silently dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pandas as pd

from opskit.errors import InputError
from opskit.sources.access_logs import access_log_kind, unwrap_line
from opskit.sources.table_files import guarded_lines, open_text

REGISTRY_LOG_FORMATS = ("auto", "combined", "envoy", "json")
COLUMNS = ("timestamp", "principal", "method", "path", "status", "bytes", "action", "model")
SNIFF = 200  # lines looked at by fmt="auto"

_COMBINED = re.compile(
    r'^(?P<addr>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" '
    r"(?P<status>\d{3}) (?P<bytes>\d+|-)"
)
_ENVOY = re.compile(
    r'^\[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) \S+'
    r'(?: \S+ \S+ "[^"]*")? (?P<rx>\d+) (?P<bytes>\d+) \d+'
)
_JSON_KEYS = {
    "time": ("timestamp", "time", "ts", "@timestamp", "start_time"),
    "user": ("principal", "user", "remote_user", "username", "user_name"),
    "method": ("method", "request_method"),
    "path": ("path", "uri", "request_uri", "url"),
    "status": ("status", "response_code", "status_code"),
    "bytes": ("bytes", "bytes_sent", "body_bytes_sent", "size"),
}
_DOWNLOAD = re.compile(r"get-download-uri|get-artifact|/mlflow-artifacts/|/artifacts/download")
_DELETE = re.compile(r"/delete\b|/delete-")
_FILTER_NAME = re.compile(r"""\bname\s*=\s*['"](?P<name>[^'"]+)['"]""")
_MODEL_SEGMENT = re.compile(r"/models/(?P<name>[^/?#]+)")


@dataclass(frozen=True)
class RegistryAccessLog:
    """The rows read (:data:`COLUMNS`, file line in the index), the lines that were not, and the format."""

    frame: pd.DataFrame
    malformed: tuple[tuple[int, str], ...]
    fmt: str
    path: str

    @property
    def lines_read(self) -> int:
        return len(self.frame)


def classify(method: str, path: str) -> tuple[str, str | None]:
    """``(action, model)`` of a registry request: read/download/write/delete and the model name (or None)."""
    parts = urlsplit(path)
    route = parts.path.lower()
    if method == "DELETE" or _DELETE.search(route):
        action = "delete"
    elif _DOWNLOAD.search(route):
        action = "download"
    elif method not in ("GET", "HEAD") and "search" not in route:
        action = "write"
    else:
        action = "read"
    query = parse_qs(parts.query)
    if query.get("name"):
        return action, query["name"][0]
    for text in query.get("filter", ()):  # search: filter=name='fraud-detector'
        found = _FILTER_NAME.search(text)
        if found:
            return action, found.group("name")
    found = _MODEL_SEGMENT.search(parts.path)
    return action, unquote(found.group("name")) if found else None


def line_kind(text: str) -> str | None:
    """``combined``, ``envoy`` or ``json`` for one (unwrapped) line, else None."""
    if _ENVOY.match(text):
        return "envoy"
    if _COMBINED.match(text):
        return "combined"
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except ValueError:
            return None
        if isinstance(record, dict) and _pick(record, "time") is not None and _pick(record, "path") is not None:
            return "json"
    return None


def _pick(record: dict, field: str):
    for key in _JSON_KEYS[field]:
        if record.get(key) not in (None, ""):
            return record[key]
    return None


def _sniff(lines: list[tuple[int, str]], path: Path) -> str:
    kinds: dict[str, int] = {}
    for number, text in lines[:SNIFF]:
        kind = line_kind(text)
        if kind is not None:
            kinds.setdefault(kind, number)
    if len(kinds) > 1:
        found = ", ".join(f"{k} (first at line {n})" for k, n in sorted(kinds.items(), key=lambda kv: kv[1]))
        raise InputError(
            f"lines of several access-log formats: {found}",
            path=path,
            hint="pass log_format ('combined', 'envoy' or 'json'): the other lines are reported as malformed",
        )
    if not kinds and any(access_log_kind(text) == "uvicorn" for _, text in lines[:SNIFF]):
        raise InputError(
            "uvicorn's access log (recent `mlflow server` default) has no time and no user: it cannot be audited",
            path=path,
            hint="audit the log of the proxy in front of the server (nginx, Envoy), or run the server with "
            "gunicorn with an access log (gunicorn's --access-logfile)",
        )
    if not kinds:
        raise InputError(
            f"no registry access-log line in the first {min(len(lines), SNIFF)} line(s)",
            path=path,
            line=lines[0][0] if lines else None,
            hint="expected nginx/gunicorn combined, Envoy's default text log or JSON lines; pass log_format",
        )
    return next(iter(kinds))


def _time(raw: str, fmt: str) -> pd.Timestamp:
    if fmt == "combined":
        stamp = pd.to_datetime(raw, format="%d/%b/%Y:%H:%M:%S %z", errors="coerce")
    else:
        stamp = pd.to_datetime(raw, errors="coerce", utc=True)
    if pd.isna(stamp):
        raise ValueError(f"unreadable time {raw!r}")
    if stamp.tzinfo is None:
        raise ValueError(f"time {raw!r} has no time zone")
    return stamp.tz_convert("UTC")


def _row(text: str, fmt: str) -> tuple:
    """The row of one line in ``fmt``; ValueError when it is not such a line."""
    if fmt == "json":
        record = json.loads(text)
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        time, path = _pick(record, "time"), _pick(record, "path")
        if time is None or path is None:
            raise ValueError("no time or path key")
        fields = {
            "time": str(time),
            "user": _pick(record, "user"),
            "method": str(_pick(record, "method") or "GET").upper(),
            "path": str(path),
            "status": _pick(record, "status"),
            "bytes": _pick(record, "bytes"),
        }
    else:
        match = (_ENVOY if fmt == "envoy" else _COMBINED).match(text)
        if match is None:
            raise ValueError(f"not a {fmt} access-log line")
        fields = match.groupdict()
    if fields["status"] is None:
        raise ValueError("no status")
    user = fields.get("user")
    principal = None if user in (None, "-", "") else unquote(str(user))
    size = fields.get("bytes")
    action, model = classify(fields["method"], fields["path"])
    return (
        _time(fields["time"], fmt),
        principal,
        fields["method"],
        fields["path"],
        int(fields["status"]),
        int(size) if size not in (None, "-", "") else 0,
        action,
        model,
    )


def read_registry_access_log(path: str | Path, fmt: str = "auto") -> RegistryAccessLog:
    """Read a registry access log in ``fmt`` (:data:`REGISTRY_LOG_FORMATS`); unreadable lines are kept aside.

    A missing file, an unknown ``fmt``, a mixed log under ``auto`` or a file with no readable line is
    an InputError; otherwise every unreadable line is in ``malformed`` with its number.
    """
    path = Path(path)
    if fmt not in REGISTRY_LOG_FORMATS:
        raise InputError(f"unknown log_format {fmt!r}", hint="one of " + ", ".join(REGISTRY_LOG_FORMATS))
    if not path.is_file():
        raise InputError("no such file", path=path, hint="pass the access log of the registry or its proxy")
    with open_text(path) as fh:
        lines = [
            (n, unwrap_line(line.rstrip("\n")))
            for n, line in enumerate(guarded_lines(fh, path), start=1)
            if line.strip()
        ]
    kind = _sniff(lines, path) if fmt == "auto" else fmt
    rows, index, malformed = [], [], []
    for number, text in lines:
        try:
            rows.append(_row(text, kind))
            index.append(number)
        except (ValueError, TypeError):
            malformed.append((number, text[:200]))
    if not rows:
        first = f" (line {malformed[0][0]}: {malformed[0][1][:80]!r})" if malformed else ""
        raise InputError(f"no {kind} access-log line{first}", path=path, hint="pass the right log_format")
    frame = pd.DataFrame(rows, columns=list(COLUMNS), index=pd.Index(index, name="line"))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return RegistryAccessLog(frame, tuple(malformed), kind, str(path))
