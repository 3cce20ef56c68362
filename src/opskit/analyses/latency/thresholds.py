"""Thresholds of the latency analysis, and the SRE workbook's multi-window burn-rate alert rules."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from opskit.errors import InputError


@dataclass(frozen=True)
class BurnRule:
    """Alert when both windows burn error budget faster than ``factor`` times the sustainable rate."""

    name: str
    severity: str  # "page" or "ticket"
    long_window: str
    short_window: str
    factor: float


# Google SRE workbook, "Alerting on SLOs", table 5-8 (for a 30-day SLO window).
SRE_BURN_RULES = (
    BurnRule("page 1h/5m", "page", "1h", "5min", 14.4),
    BurnRule("page 6h/30m", "page", "6h", "30min", 6.0),
    BurnRule("ticket 1d/2h", "ticket", "1D", "2h", 3.0),
    BurnRule("ticket 3d/6h", "ticket", "3D", "6h", 1.0),
)


@dataclass(frozen=True)
class LatencyThresholds:
    """Every threshold the analysis uses; the result records the ones it ran with."""

    slo_ms: float = 500.0
    slo_quantile: float = 0.95
    bucket: str = "5min"
    burn_rules: tuple[BurnRule, ...] = SRE_BURN_RULES
    load_spike_ratio: float = 1.5  # requests per second against the usual rate at that time of day
    slow_version_ratio: float = 1.2  # p95 against the fastest version of the same endpoint
    min_change_ratio: float = 1.15  # smallest latency regime change reported
    gpu_busy_pct: float = 85.0
    queue_share: float = 0.5  # queue time over latency, in slow requests
    cold_requests: int = 10  # first requests of each instance and version counted as cold
    cold_ratio: float = 2.0
    pathological_factor: float = 10.0  # a request slower than 10x the median
    min_bucket_requests: int = 20
    min_cause_share: float = 0.0005  # causes explaining less of the slow requests are not listed
    max_subjects: int = 20  # endpoints and versions judged one by one (the busiest); the rest in one row

    def __post_init__(self) -> None:
        """Refuse values the analysis cannot use, naming the parameter (the runbook shows it as an ERROR row)."""
        try:
            span = pd.to_timedelta(pd.tseries.frequencies.to_offset(self.bucket))
        except (ValueError, TypeError):
            span = None
        if span is None or span <= pd.Timedelta(0):
            raise InputError(
                f"parameter bucket: {self.bucket!r} is not a time span",
                column="bucket",
                hint="pass a pandas frequency such as bucket='1min', '5min', '15min' or '1h'",
            )
        if not (isinstance(self.slo_ms, int | float) and math.isfinite(self.slo_ms) and self.slo_ms > 0):
            raise InputError(
                f"parameter slo_ms: {self.slo_ms!r} is not a positive number of milliseconds",
                column="slo_ms",
                hint="pass e.g. slo_ms=500",
            )
        if not (isinstance(self.slo_quantile, int | float) and 0 < self.slo_quantile < 1):
            raise InputError(
                f"parameter slo_quantile: {self.slo_quantile!r} is not between 0 and 1",
                column="slo_quantile",
                hint="pass e.g. slo_quantile=0.95 (p95) or 0.99",
            )

    @property
    def budget(self) -> float:
        return 1.0 - self.slo_quantile
