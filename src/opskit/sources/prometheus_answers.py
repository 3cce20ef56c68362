"""What a Prometheus HTTP API answer holds: its data, or an error that says what came back.

An answer is ``{"status": "success", "data": {"resultType": ..., "result": ...}}`` or
``{"status": "error", "errorType": ..., "error": ...}``. A body that is only the ``data`` part (as pasted from
some proxies and VictoriaMetrics examples) is refused by name rather than read as a failed query without reason.
A successful answer may also carry ``warnings`` (the data may be incomplete: a Thanos store or a remote-read
endpoint down, a Mimir or Cortex limit hit) and, from Prometheus 3, ``infos`` (possible query mistakes); both
are kept as :class:`QueryWarning` values so the caller can show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from opskit.errors import OpskitError


@dataclass(frozen=True)
class QueryWarning:
    """One ``warnings`` (the data may be incomplete) or ``infos`` (a possible query mistake) entry of an answer."""

    query: str
    text: str
    level: Literal["warning", "info"] = "warning"


class PrometheusError(OpskitError):
    """A query that Prometheus could not answer.

    ``kind`` is ``"unreachable"`` (no connection, timeout), ``"bad_query"`` (HTTP 400/422, with
    the server's own error text in ``server_error``), ``"empty"`` (no series matched) or
    ``"server"`` (any other failure).
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        url: str,
        query: str | None = None,
        status_code: int | None = None,
        server_error: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, hint=hint)
        self.kind = kind
        self.url = url
        self.query = query
        self.status_code = status_code
        self.server_error = server_error


def data_of_answer(payload: Mapping, *, url: str, query: str | None = None) -> dict:
    """The ``data`` of a successful answer; a PrometheusError naming the server's ``errorType`` and ``error``,
    or the missing envelope, otherwise."""
    if not isinstance(payload, Mapping):
        raise PrometheusError(
            f"{url} answered JSON that is not a Prometheus answer object",
            kind="server",
            url=url,
            query=query,
            hint="check the URL points at Prometheus (it should answer /api/v1/query_range)",
        )
    if "status" not in payload and "resultType" in payload:
        raise PrometheusError(
            f"{url} answered a bare result (resultType {payload.get('resultType')!r}) without the status envelope",
            kind="server",
            url=url,
            query=query,
            hint="point the URL at the Prometheus API itself; a proxy that strips "
            '{"status": ..., "data": ...} cannot be read safely',
        )
    if payload.get("status") != "success":
        kind = payload.get("errorType") or "unknown"
        text = payload.get("error") or "(no error text)"
        raise PrometheusError(
            f"Prometheus at {url} failed the query ({kind}): {text}",
            kind="server",
            url=url,
            query=query,
            server_error=payload.get("error"),
            hint=error_hint(kind, str(text)),
        )
    if not isinstance(payload.get("data"), Mapping):
        raise PrometheusError(
            f"Prometheus at {url} answered success without data",
            kind="server",
            url=url,
            query=query,
            hint="check the URL points at Prometheus, not at a proxy that rewrites answers",
        )
    data = dict(payload["data"])
    for key in ("warnings", "infos"):  # partial data (Thanos, Mimir limits), Prometheus 3 query infos
        if payload.get(key):
            data[key] = [str(w) for w in payload[key]]
    return data


def error_hint(kind: str, text: str) -> str:
    """What to do about a failed query, from the server's ``errorType`` and ``error`` text."""
    if kind in ("timeout", "canceled"):
        return "a timeout or canceled query: shorten the range or raise the step"
    if "resolution" in text:  # "exceeded maximum resolution of 11,000 points", "zero or negative ... step"
        return (
            "raise the step (a positive duration such as 1h), or keep max_points at 11000 or less so the range "
            "is split: Prometheus answers at most 11,000 points per series"
        )
    return "check the PromQL and the server's log"


def warnings_of_answer(data: Mapping, query: str) -> tuple[QueryWarning, ...]:
    """The ``warnings`` and ``infos`` that :func:`data_of_answer` kept, as :class:`QueryWarning` values."""
    found = [QueryWarning(query, text, "warning") for text in data.get("warnings", ())]
    return tuple(found + [QueryWarning(query, text, "info") for text in data.get("infos", ())])


def series_of_answer(data: Mapping, *, url: str | None = None, query: str | None = None) -> list[tuple[dict, list]]:
    """(labels, [[t, value], ...]) per series of a ``matrix`` or ``vector`` answer (a vector, as from a proxy
    answering ``/api/v1/query``, is one point per series); other types are a PrometheusError naming them."""
    kind = data.get("resultType", "matrix")
    result = data.get("result") or []
    if kind == "matrix":
        return [(item.get("metric") or {}, item.get("values") or []) for item in result]
    if kind == "vector":
        return [(item.get("metric") or {}, [item["value"]] if item.get("value") else []) for item in result]
    raise PrometheusError(
        f"Prometheus answered a {kind!r} result where series were expected",
        kind="bad_query",
        url=url or "",
        query=query,
        hint="the query must select series (an instant vector such as avg by (gpu) (DCGM_FI_DEV_GPU_UTIL)), "
        "not a number or a string",
    )
