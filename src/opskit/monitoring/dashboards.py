"""Grafana dashboards from opskit's thresholds, built with grafana-foundation-sdk (no hand-written JSON).

Three dashboards: the GPU fleet (utilization, memory, power per team and node, hot/underused lines),
inference latency against the SLO with the error budget burn, and model drift with opskit's runs.
Thresholds come from :class:`opskit.monitoring.rules.RuleSettings`, the same ones the alerts use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.builders import prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import GraphTresholdsStyleMode
from grafana_foundation_sdk.models.dashboard import DataSourceRef, Threshold, ThresholdsMode

from opskit.monitoring.rules import RuleSettings

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")


def _panel(title: str, unit: str, queries: list[tuple[str, str]], lines: list[tuple[float, str]] = ()):
    """A time series panel; ``lines`` are (value, colour) thresholds drawn as dashed lines."""
    steps = [Threshold(None, "green")] + [Threshold(v, c) for v, c in lines]
    p = (
        timeseries.Panel()
        .title(title)
        .unit(unit)
        .datasource(DATASOURCE)
        .thresholds(dash_b.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
        .thresholds_style(common_b.GraphThresholdsStyleConfig().mode(GraphTresholdsStyleMode.DASHED))
        .span(12)
        .height(8)
    )
    for i, (expr, legend) in enumerate(queries):
        p = p.with_target(prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(65 + i)))
    return p


def _dashboard(uid: str, title: str, panels) -> dict[str, Any]:
    d = dash_b.Dashboard(title).uid(uid).tags(["opskit"]).refresh("1m").time("now-24h", "now")
    d = d.with_variable(dash_b.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    for p in panels:
        d = d.with_panel(p)
    return json.loads(JSONEncoder(sort_keys=True).encode(d.build()))


def gpu_dashboard(s: RuleSettings) -> dict[str, Any]:
    util = "DCGM_FI_DEV_GPU_UTIL"
    return _dashboard(
        "opskit-gpu",
        "opskit / GPU fleet",
        [
            _panel(
                "GPU utilization per node",
                "percent",
                [(f"avg by (Hostname) ({util})", "{{Hostname}}")],
                [(s.underused_pct, "blue"), (s.hot_pct, "red")],
            ),
            _panel(
                "GPU utilization per team",
                "percent",
                [(f"avg by (team) ({util})", "{{team}}")],
                [(s.underused_pct, "blue"), (s.hot_pct, "red")],
            ),
            _panel(
                "GPU memory used per node", "decmbytes", [("sum by (Hostname) (DCGM_FI_DEV_FB_USED)", "{{Hostname}}")]
            ),
            _panel("GPU power per node", "watt", [("sum by (Hostname) (DCGM_FI_DEV_POWER_USAGE)", "{{Hostname}}")]),
            _panel(
                f"average utilization over {s.underused_window}",
                "percent",
                [(f"opskit:gpu_util:avg_{s.underused_window}", "{{Hostname}} gpu {{gpu}}")],
                [(s.underused_pct, "blue")],
            ),
            _panel(
                "Xid and uncorrectable ECC errors",
                "short",
                [
                    ("DCGM_FI_DEV_XID_ERRORS > 0", "Xid {{Hostname}} gpu {{gpu}}"),
                    ("increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL[1h])", "ECC {{Hostname}} gpu {{gpu}}"),
                ],
            ),
        ],
    )


def latency_dashboard(s: RuleSettings) -> dict[str, Any]:
    m = s.latency_metric
    q = s.slo_quantile
    return _dashboard(
        "opskit-latency",
        "opskit / inference latency",
        [
            _panel(
                f"latency p50 / p{q * 100:g} / p99 against the {s.slo_ms:g} ms SLO",
                "s",
                [
                    (
                        f"histogram_quantile({x}, sum by (le, endpoint) (rate({m}_bucket[5m])))",
                        f"p{x * 100:g} {{{{endpoint}}}}",
                    )
                    for x in (0.5, q, 0.99)
                ],
                [(s.slo_ms / 1000, "red")],
            ),
            _panel(
                "error budget burn rate (1 = the budget lasts the SLO window)",
                "short",
                [
                    (f"opskit:latency_slow_ratio:rate{w} / {1 - q:g}", f"{w} {{{{endpoint}}}}")
                    for w in ("5m", "1h", "6h", "1d")
                ],
                [(1.0, "orange"), (14.4, "red")],
            ),
        ],
    )


def model_dashboard(s: RuleSettings) -> dict[str, Any]:
    return _dashboard(
        "opskit-model",
        "opskit / models and runs",
        [
            _panel(
                "PSI per feature and model version",
                "short",
                [("opskit_drift_psi", "{{feature}} {{model_version}}")],
                [(0.1, "yellow"), (s.psi_drift, "red")],
            ),
            _panel(
                "accuracy change per model version",
                "percentunit",
                [("opskit_accuracy_change", "{{model_version}}")],
                [(s.accuracy_tolerance, "red")],
            ),
            _panel(
                "opskit runs: status (1 PASS, 2 WARN, 3 FAIL, 4 ERROR)",
                "short",
                [("opskit_run_status", "{{runbook}}")],
                [(2, "yellow"), (3, "red")],
            ),
            _panel("opskit figures", "short", [("opskit_figure", "{{runbook}} {{name}}")]),
        ],
    )


def build_dashboards(settings: RuleSettings | None = None) -> dict[str, dict[str, Any]]:
    s = settings or RuleSettings()
    return {
        "opskit-gpu.json": gpu_dashboard(s),
        "opskit-latency.json": latency_dashboard(s),
        "opskit-model.json": model_dashboard(s),
    }


def panel_queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard.get("panels", []) for t in p.get("targets", [])]


def write_dashboards(out_dir: str | Path, settings: RuleSettings | None = None) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, board in build_dashboards(settings).items():
        tmp = out / (name + ".tmp")
        tmp.write_text(json.dumps(board, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(out / name)
        paths.append(out / name)
    return paths
