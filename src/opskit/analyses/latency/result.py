"""What the latency analysis found: :class:`LatencyResult`, below everything that builds or reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from opskit.analyses.latency.thresholds import LatencyThresholds


@dataclass(frozen=True)
class LatencyResult:
    """Everything :func:`~opskit.analyses.latency.analysis.analyze_latency` found.

    DataFrames are tidy and carry units in column names; ``thresholds`` are the ones it ran with.
    """

    thresholds: LatencyThresholds
    engine: str
    requests: int
    start: pd.Timestamp
    end: pd.Timestamp
    overall: dict[str, float]  # requests, p50_ms, p95_ms, p99_ms, slow_fraction, error_fraction
    budget: dict[str, float]  # target, slow_fraction, burn_rate, budget_consumed_pct
    by_bucket: pd.DataFrame
    by_endpoint: pd.DataFrame
    by_version: pd.DataFrame
    by_bucket_version: pd.DataFrame
    burn: pd.DataFrame  # one row per rule
    burn_series: pd.DataFrame  # per minute: long/short burn rate per rule
    breaches: pd.DataFrame
    spikes: pd.DataFrame
    changes: pd.DataFrame
    breakdown: pd.DataFrame
    correlations: pd.DataFrame
    cold_starts: dict[str, Any]
    pathological: dict[str, Any]
    attribution: dict[str, Any] = field(default_factory=dict)  # slow requests by what explains them
    causes: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def slo_label(self) -> str:
        """The SLO as people say it: ``p95 <= 500 ms``."""
        return f"p{self.thresholds.slo_quantile * 100:g} <= {self.thresholds.slo_ms:g} ms"
