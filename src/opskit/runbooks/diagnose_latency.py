"""The ``diagnose_latency`` runbook: :func:`run` reads, analyses and judges a request log in one call.

``run`` takes the notebook's parameters, builds the :class:`LatencyThresholds` once, reads the GPU
metrics and the requests (paths or ``sample:`` names) and returns a :class:`DiagnoseLatencyResult`:
the verdicts, the key figures and one method per section of the notebook. Input that cannot be
read is an ERROR row; the sections then say they are unavailable instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from matplotlib.axes import Axes

from opskit.analyses.latency.analysis import analyze_latency
from opskit.analyses.latency.result import LatencyResult
from opskit.analyses.latency.thresholds import LatencyThresholds
from opskit.analyses.latency.verdicts import latency_figures, latency_verdicts
from opskit.checks import Status, Verdict, VerdictTable, error_verdict
from opskit.errors import OpskitError
from opskit.plots import latency as plots
from opskit.privacy import mask
from opskit.runbooks import diagnose_latency_sections as sections
from opskit.runbooks.display import Markdown, Outputs, unavailable
from opskit.runbooks.tables import number
from opskit.samples import resolve
from opskit.sources.gpu_metrics import read_gpu_metrics
from opskit.sources.requests import read_requests

_NOT_ANALYSED = "the requests could not be analysed"


def run(
    *,
    requests: str = "sample:requests_week",
    gpu_metrics: str | None = "sample:requests_week_gpu",
    slo_ms: float = 500.0,
    slo_quantile: float = 0.95,
    bucket: str = "5min",
    columns: dict = {},
    fmt: Literal["auto", "csv", "parquet", "jsonl", "nginx", "ingress-nginx", "envoy"] = "auto",
    latency_unit: Literal["ms", "s", "us", "ns"] | None = None,
    load_spike_ratio: float = 1.5,
    engine: Literal["auto", "duckdb", "pandas"] = "auto",
) -> DiagnoseLatencyResult:
    """Read, analyse and judge a request log (the parameters are the notebook's); never raises on bad input.

    Two checks: ``GPU metrics`` (SKIP when none are given; an ERROR row when they cannot be read, and
    the requests are then analysed without them) and ``requests`` (the verdicts of
    :func:`~opskit.analyses.latency.verdicts.latency_verdicts`, or one ERROR row for bad input).
    """
    try:
        thresholds = LatencyThresholds(
            slo_ms=slo_ms, slo_quantile=slo_quantile, bucket=bucket, load_spike_ratio=load_spike_ratio
        )
    except OpskitError as exc:  # a bad parameter is an ERROR row naming it, not a failed notebook
        return DiagnoseLatencyResult(VerdictTable([error_verdict("requests", exc)]), LatencyThresholds(), None)
    gpu, gpu_rows = _read_gpu(gpu_metrics)
    latency, request_rows = _judge_requests(
        requests, gpu, thresholds, columns=columns, fmt=fmt, latency_unit=latency_unit, engine=engine
    )
    return DiagnoseLatencyResult(VerdictTable([*gpu_rows, *request_rows]), thresholds, latency)


def _read_gpu(gpu_metrics: str | None) -> tuple[pd.DataFrame | None, list[Verdict]]:
    """The GPU samples and no row, or None and the SKIP/ERROR row that says why."""
    if not gpu_metrics:
        return None, [Verdict("GPU metrics", Status.SKIP, message="no GPU metrics given (-p gpu_metrics FILE)")]
    try:
        return read_gpu_metrics(resolve(gpu_metrics)), []
    except Exception as exc:  # an unreadable input is an ERROR row, never a failed notebook
        return None, [error_verdict("GPU metrics", exc)]


def _judge_requests(
    requests: str,
    gpu: pd.DataFrame | None,
    thresholds: LatencyThresholds,
    *,
    columns: Mapping[str, str],
    fmt: str,
    latency_unit: str | None,
    engine: str,
) -> tuple[LatencyResult | None, list[Verdict]]:
    """The analysis and its verdicts, or None and the ERROR row of the input that failed."""
    try:
        frame = read_requests(resolve(requests), columns=dict(columns or {}), fmt=fmt, latency_unit=latency_unit)
        latency = analyze_latency(frame, thresholds, gpu=gpu, engine=engine)
    except Exception as exc:
        return None, [error_verdict("requests", exc)]
    try:
        return latency, [*_other_lines_rows(frame, requests), *latency_verdicts(latency)]
    except Exception as exc:
        return latency, [error_verdict("requests", exc)]


def _other_lines_rows(frame: pd.DataFrame, requests: str) -> list[Verdict]:
    """A WARN row when a mixed log had lines that are not access lines: they were counted, not read."""
    other = frame.attrs.get("other_lines")
    if not other:
        return []
    return [
        Verdict(
            "requests input",
            Status.WARN,
            subject=str(requests),
            observed=other["count"],
            unit="lines skipped",
            evidence=f"line {other['first_line']}: {other['first_text']}",
            message=f"{other['count']} line(s) are not access-log lines (server or controller messages) and were "
            f"skipped; {len(frame)} request(s) read",
            next_step="check the skipped lines are not requests in another format; pass fmt to choose the format",
        )
    ]


@dataclass(frozen=True)
class DiagnoseLatencyResult:
    """What ``diagnose_latency`` found: verdicts, key figures and its sections, ready to show (masked).

    ``latency`` is None when the requests could not be read or analysed; every section then returns
    a note that says so.
    """

    verdicts: VerdictTable
    thresholds: LatencyThresholds
    latency: LatencyResult | None = None

    @property
    def figures(self) -> dict[str, Any]:
        """The key figures for ``summary.json`` ({} without an analysis)."""
        return {} if self.latency is None else latency_figures(self.latency)

    @property
    def headline(self) -> dict[str, Any]:
        """The report header's figures: the SLO quantile against the SLO, requests slow, budget used, top cause."""
        if self.latency is None:
            return {}
        r, th = self.latency, self.latency.thresholds
        q = f"p{100 * th.slo_quantile:g}"
        top = mask(f"{r.causes.iloc[0]['cause']}: {r.causes.iloc[0]['subject']}") if len(r.causes) else "none"
        return {
            f"{q} against SLO": f"{number(r.overall['slo_quantile_ms'])} ms vs {number(th.slo_ms)} ms",
            "requests": number(r.requests),
            "slower than SLO": f"{100 * r.overall['slow_fraction']:.2f} %",
            "error budget used": f"{number(r.budget['budget_consumed_pct'])} %",
            "top cause": top,
        }

    def overview(self) -> Markdown:
        """One sentence under the verdicts: requests, span, quantiles, share slow and failed."""
        if self.latency is None:
            return Markdown("The requests could not be analysed: see the ERROR row above.")
        return sections.overview(self.latency)

    def likely_causes(self) -> Outputs | Markdown:
        """The causes ranked by the share of slow requests each explains, with evidence and next step."""
        if self.latency is None:
            return unavailable("Likely causes", _NOT_ANALYSED)
        return sections.likely_causes(self.latency)

    def breach_periods(self, n: int = 10) -> Outputs | Markdown:
        """How many breach periods, and the ``n`` longest."""
        if self.latency is None:
            return unavailable("Breach periods", _NOT_ANALYSED)
        return sections.breach_periods(self.latency, n)

    def burn_rates(self) -> pd.DataFrame | Markdown:
        """One row per burn-rate rule: windows, factor, highest burn, fired and when."""
        if self.latency is None:
            return unavailable("Burn rates", _NOT_ANALYSED)
        return sections.burn_rates(self.latency)

    def endpoints_and_versions(self) -> Outputs | Markdown:
        """Quantiles per endpoint, then per endpoint and model version against the fastest version."""
        if self.latency is None:
            return unavailable("Endpoints and model versions", _NOT_ANALYSED)
        return sections.endpoints_and_versions(self.latency)

    def regime_changes_and_load_spikes(self) -> Outputs | Markdown:
        """The regime changes with what each lines up with, then the load spikes."""
        if self.latency is None:
            return unavailable("Regime changes and load spikes", _NOT_ANALYSED)
        return sections.regime_changes_and_load_spikes(self.latency)

    def latency_breakdown(self) -> pd.DataFrame | Markdown:
        """Queue, compute and other time in all requests and in slow ones."""
        if self.latency is None:
            return unavailable("The latency breakdown", _NOT_ANALYSED)
        return sections.latency_breakdown(self.latency)

    def load_correlations(self) -> pd.DataFrame | Markdown:
        """Rank correlation of the per-bucket p95 with load, batch size, queue and GPU."""
        if self.latency is None:
            return unavailable("Load correlations", _NOT_ANALYSED)
        return sections.load_correlations(self.latency)

    def cold_starts_and_pathological_inputs(self) -> Outputs | Markdown:
        """The figures of the cold starts and of the pathologically slow requests."""
        if self.latency is None:
            return unavailable("Cold starts and pathological inputs", _NOT_ANALYSED)
        return sections.cold_starts_and_pathological_inputs(self.latency)

    # -- plots: each draws on ``ax`` (a new Axes by default) and returns it -----------------------

    def plot_latency_timeline(self, *, ax: Axes | None = None) -> Axes | Markdown:
        """Quantiles per bucket with the SLO, breach periods, load spikes and regime changes."""
        if self.latency is None:
            return unavailable("The latency timeline", _NOT_ANALYSED)
        return plots.plot_latency_timeline(self.latency, ax=ax)

    def plot_burn_rates(self, *, ax: Axes | None = None) -> Axes | Markdown:
        """Long-window burn rate of each rule against its factor."""
        if self.latency is None:
            return unavailable("The burn-rate plot", _NOT_ANALYSED)
        return plots.plot_burn_rates(self.latency, ax=ax)

    def plot_version_latency(self, *, ax: Axes | None = None) -> Axes | Markdown:
        """p95 per bucket of each model version, rollouts marked."""
        if self.latency is None:
            return unavailable("The version plot", _NOT_ANALYSED)
        return plots.plot_version_latency(self.latency, ax=ax)

    def plot_latency_breakdown(self, *, ax: Axes | None = None) -> Axes | Markdown:
        """Where the time of all and of slow requests goes (stacked bars)."""
        if self.latency is None:
            return unavailable("The breakdown plot", _NOT_ANALYSED)
        return plots.plot_latency_breakdown(self.latency, ax=ax)

    def plot_load_vs_latency(self, *, ax: Axes | None = None) -> Axes | Markdown:
        """p95 against requests per second, one point per bucket, coloured by GPU utilisation."""
        if self.latency is None:
            return unavailable("The load plot", _NOT_ANALYSED)
        return plots.plot_load_vs_latency(self.latency, ax=ax)
