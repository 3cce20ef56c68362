"""Prometheus alerting and recording rules generated from opskit's own thresholds.

One source of truth: the defaults are the analyses' settings (``UsageThresholds``, ``LatencyThresholds``
and its SRE burn rules, the PSI drift level, the accuracy tolerance), overridable by a YAML file of the
same names. Every alert carries ``severity`` (P1/P2/P3), the response time, a runbook annotation and
the exact ``opskit run ...`` command with parameters templated from the alert's labels.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from opskit.analyses.drift.methods import PSI_DRIFT
from opskit.analyses.drift.settings import DriftSettings
from opskit.analyses.gpu_fleet.usage import UsageThresholds
from opskit.analyses.latency.thresholds import SRE_BURN_RULES, LatencyThresholds
from opskit.errors import InputError

RESPONSE = {"P1": "5m", "P2": "30m", "P3": "next working day"}
DOCS = "https://opskit.invalid/runbooks/"  # replaced by ``runbook_base_url`` in the settings file


@dataclasses.dataclass(frozen=True)
class RuleSettings:
    """What the generated rules use; defaults are taken from the analyses, a YAML file overrides them."""

    hot_pct: float = UsageThresholds.hot_pct
    hot_for: str = "15m"
    underused_pct: float = UsageThresholds.underused_pct
    underused_window: str = "1d"
    stall_util_pct: float = UsageThresholds.stall_util_pct
    stall_sm_pct: float = UsageThresholds.stall_sm_pct
    stall_for: str = "1h"
    slo_ms: float = LatencyThresholds.slo_ms
    slo_quantile: float = LatencyThresholds.slo_quantile
    psi_drift: float = PSI_DRIFT
    accuracy_tolerance: float = DriftSettings.accuracy_tolerance
    rule_interval: str = "1m"
    runbook_base_url: str = DOCS
    latency_metric: str = "http_request_duration_seconds"


def load_settings(path: str | Path | None = None, **overrides: Any) -> RuleSettings:
    """Settings from defaults, then the YAML file at ``path``, then ``overrides``; unknown keys refused."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read rule settings: {exc}", path=str(p), hint="a YAML mapping") from exc
        if not isinstance(loaded, dict):
            raise InputError("rule settings must be a mapping", path=str(p), hint="e.g. hot_pct: 90")
        values.update(loaded)
    values.update(overrides)
    known = {f.name: f for f in dataclasses.fields(RuleSettings)}
    for key, value in values.items():
        if key not in known:
            raise InputError(
                f"unknown rule setting {key!r}", path=str(path) if path else None, hint="known: " + ", ".join(known)
            )
        want = type(known[key].default)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = float(value)
        elif not isinstance(values[key], want):
            raise InputError(f"rule setting {key!r} expects {want.__name__}, got {value!r}", path=str(path))
    return RuleSettings(**values)


def _duration(text: str) -> str:
    """A pandas-style window ('1D', '5min') as a Prometheus duration ('1d', '5m')."""
    seconds = int(pd.Timedelta(text).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _alert(name, expr, severity, summary, runbook, command, for_="0m", labels=None) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "opskit_runbook": runbook, **(labels or {})},
        "annotations": {
            "summary": summary,
            "response_time": RESPONSE[severity],
            "runbook": runbook,
            "opskit_command": command,
        },
    }


def _gpu_group(s: RuleSettings) -> dict[str, Any]:
    util = "DCGM_FI_DEV_GPU_UTIL"
    gpu_cost = "opskit run report_gpu_cost -p samples {{ $labels.Hostname }}"
    triage = "opskit run triage_job -p log_path LOG_OF_{{ $labels.Hostname }}"
    return {
        "name": "opskit-gpu",
        "interval": s.rule_interval,
        "rules": [
            {
                "record": "opskit:gpu_util:avg_" + s.underused_window,
                "expr": f"avg_over_time({util}[{s.underused_window}])",
            },
            _alert(
                "OpskitGpuHot",
                f"{util} > {s.hot_pct:g}",
                "P2",
                f"GPU {{{{ $labels.gpu }}}} on {{{{ $labels.Hostname }}}} above {s.hot_pct:g} % for {s.hot_for}",
                "report_gpu_cost",
                gpu_cost,
                s.hot_for,
            ),
            _alert(
                "OpskitGpuUnderused",
                f"avg_over_time({util}[{s.underused_window}]) < {s.underused_pct:g}",
                "P3",
                f"GPU {{{{ $labels.gpu }}}} on {{{{ $labels.Hostname }}}} averaged below {s.underused_pct:g} % "
                f"over {s.underused_window}",
                "report_gpu_cost",
                gpu_cost,
                "1h",
            ),
            _alert(
                "OpskitGpuXid",
                "DCGM_FI_DEV_XID_ERRORS > 0",
                "P1",
                "Xid {{ $value }} on GPU {{ $labels.gpu }} of {{ $labels.Hostname }}",
                "triage_job",
                triage,
            ),
            _alert(
                "OpskitGpuEccUncorrectable",
                "increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL[10m]) > 0",
                "P1",
                "uncorrectable ECC errors on GPU {{ $labels.gpu }} of {{ $labels.Hostname }}",
                "triage_job",
                triage,
            ),
            _alert(
                "OpskitTrainingStalled",
                f"{util} >= {s.stall_util_pct:g} and on(Hostname, gpu) "
                f"(DCGM_FI_PROF_SM_ACTIVE * 100) < {s.stall_sm_pct:g}",
                "P2",
                f"GPU {{{{ $labels.gpu }}}} on {{{{ $labels.Hostname }}}} busy but SMs idle for {s.stall_for}",
                "diagnose_training_interruption",
                "opskit run diagnose_training_interruption",
                s.stall_for,
            ),
        ],
    }


def _latency_group(s: RuleSettings) -> dict[str, Any]:
    budget = 1.0 - s.slo_quantile
    le = f"{s.slo_ms / 1000:g}"
    m = s.latency_metric
    windows = sorted({_duration(w) for r in SRE_BURN_RULES for w in (r.long_window, r.short_window)})
    rules: list[dict[str, Any]] = [
        {
            "record": f"opskit:latency_slow_ratio:rate{w}",
            "expr": f'1 - (sum by (endpoint) (rate({m}_bucket{{le="{le}"}}[{w}])) '
            f"/ sum by (endpoint) (rate({m}_count[{w}])))",
        }
        for w in windows
    ]
    for rule in SRE_BURN_RULES:
        long_w, short_w = _duration(rule.long_window), _duration(rule.short_window)
        severity = "P1" if rule.severity == "page" else "P2"
        rules.append(
            _alert(
                f"OpskitLatencyBurn{long_w}{short_w}".replace("d", "D"),
                f"opskit:latency_slow_ratio:rate{long_w} > ({rule.factor:g} * {budget:g}) and "
                f"opskit:latency_slow_ratio:rate{short_w} > ({rule.factor:g} * {budget:g})",
                severity,
                f"{{{{ $labels.endpoint }}}} burns the {s.slo_ms:g} ms p{s.slo_quantile * 100:g} error budget "
                f"{rule.factor:g}x ({long_w}/{short_w})",
                "diagnose_latency",
                f"opskit run diagnose_latency -p slo_ms {s.slo_ms:g}",
                labels={"burn_rule": rule.name},
            )
        )
    return {"name": "opskit-latency", "interval": s.rule_interval, "rules": rules}


def _model_group(s: RuleSettings) -> dict[str, Any]:
    drift = "opskit run analyze_drift"
    return {
        "name": "opskit-model",
        "interval": s.rule_interval,
        "rules": [
            _alert(
                "OpskitFeatureDrift",
                f"opskit_drift_psi > {s.psi_drift:g}",
                "P2",
                f"PSI of {{{{ $labels.feature }}}} ({{{{ $labels.model_version }}}}) above {s.psi_drift:g}",
                "analyze_drift",
                drift,
            ),
            _alert(
                "OpskitAccuracyChange",
                f"abs(opskit_accuracy_change) > {s.accuracy_tolerance:g}",
                "P2",
                f"accuracy of {{{{ $labels.model_version }}}} moved beyond ±{s.accuracy_tolerance:.0%}",
                "analyze_drift",
                drift,
            ),
            _alert(
                "OpskitRunFailed",
                "opskit_run_status >= 3",
                "P3",
                "opskit {{ $labels.runbook }} ended in status {{ $value }} (3 FAIL, 4 ERROR)",
                "{{ $labels.runbook }}",
                "opskit run {{ $labels.runbook }}",
            ),
        ],
    }


def build_rules(settings: RuleSettings | None = None) -> dict[str, Any]:
    """The rule file as a mapping (``groups: [...]``), ready for ``yaml.safe_dump``."""
    s = settings or RuleSettings()
    groups = [_gpu_group(s), _latency_group(s), _model_group(s)]
    for group in groups:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["annotations"]["runbook_url"] = s.runbook_base_url + rule["annotations"]["runbook"]
    return {"groups": groups}


def alert_names(rules: dict[str, Any]) -> list[str]:
    return [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]


def write_rules(out_dir: str | Path, settings: RuleSettings | None = None) -> Path:
    """Write ``opskit-rules.yml`` into ``out_dir`` (created) and return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "opskit-rules.yml"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(build_rules(settings), sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)
    return path
