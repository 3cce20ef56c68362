"""The exported rules pass promtool, and promtool's rule tests show which alert fires when."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from opskit.errors import InputError
from opskit.monitoring.rules import alert_names, build_rules, load_settings, write_rules

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: run ./scripts/ensure-prometheus")

GPU = {"Hostname": "node1", "gpu": "0"}


def _render(text, labels, value):
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
    return text.replace("{{ $value }}", str(value))


def _labels(rules, name, series_labels, value=None, **extra):
    """The alert promtool should report: labels and annotations with the templates filled in."""
    rule = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == name)
    labels = {**series_labels, **extra}
    labels = {**labels, "alertname": name, **{k: _render(v, labels, value) for k, v in rule["labels"].items()}}
    notes = {k: _render(v, labels, value) for k, v in rule["annotations"].items()}
    return {"exp_labels": labels, "exp_annotations": notes}


def _series(name, labels, values):
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _cases(rules):
    """promtool test cases: (interval, input series, [(eval_time, alert, expected label sets)])."""
    gpu1 = {"Hostname": "node1", "gpu": "1"}
    ep = {"endpoint": "/v1/chat"}
    hist = "http_request_duration_seconds"
    # 20 % slower than 500 ms: burn 4x the 5 % budget -> tickets (3x, 1x) fire, pages (14.4x, 6x) do not
    slow20 = [_series(f"{hist}_bucket", {**ep, "le": "0.5"}, "0+80x400"), _series(f"{hist}_count", ep, "0+100x400")]
    return [
        (
            "1m",
            [_series("DCGM_FI_DEV_GPU_UTIL", GPU, "92x40"), _series("DCGM_FI_DEV_GPU_UTIL", gpu1, "50x40")],
            [
                ("10m", "OpskitGpuHot", []),  # above 85 % but not yet for 15m
                ("20m", "OpskitGpuHot", [_labels(rules, "OpskitGpuHot", GPU)]),
            ],
        ),
        (
            "10m",
            [_series("DCGM_FI_DEV_GPU_UTIL", GPU, "10x200"), _series("DCGM_FI_DEV_GPU_UTIL", gpu1, "60x200")],
            [
                ("30m", "OpskitGpuUnderused", []),
                ("1d", "OpskitGpuUnderused", [_labels(rules, "OpskitGpuUnderused", GPU)]),
            ],
        ),
        (
            "1m",
            [_series("DCGM_FI_DEV_XID_ERRORS", GPU, "0 0 79 79")],
            [
                ("1m", "OpskitGpuXid", []),
                ("3m", "OpskitGpuXid", [_labels(rules, "OpskitGpuXid", GPU, 79)]),
            ],
        ),
        (
            "1m",
            [_series("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", GPU, "0 0 0 1 1 1")],
            [
                ("2m", "OpskitGpuEccUncorrectable", []),
                ("4m", "OpskitGpuEccUncorrectable", [_labels(rules, "OpskitGpuEccUncorrectable", GPU)]),
            ],
        ),
        (
            "5m",
            [
                _series("DCGM_FI_DEV_GPU_UTIL", GPU, "97x20"),
                _series("DCGM_FI_PROF_SM_ACTIVE", GPU, "0.03x20"),
                _series("DCGM_FI_DEV_GPU_UTIL", gpu1, "97x20"),
                _series("DCGM_FI_PROF_SM_ACTIVE", gpu1, "0.80x20"),
            ],
            [
                ("30m", "OpskitTrainingStalled", []),
                ("70m", "OpskitTrainingStalled", [_labels(rules, "OpskitTrainingStalled", GPU)]),
            ],
        ),
        (
            "1m",
            slow20,
            [
                ("3h", "OpskitLatencyBurn1h5m", []),
                ("3h", "OpskitLatencyBurn6h30m", []),
                (
                    "3h",
                    "OpskitLatencyBurn1D2h",
                    [_labels(rules, "OpskitLatencyBurn1D2h", ep, burn_rule="ticket 1d/2h")],
                ),
                (
                    "3h",
                    "OpskitLatencyBurn3D6h",
                    [_labels(rules, "OpskitLatencyBurn3D6h", ep, burn_rule="ticket 3d/6h")],
                ),
            ],
        ),
        (
            "1m",
            [_series(f"{hist}_bucket", {**ep, "le": "0.5"}, "0+10x100"), _series(f"{hist}_count", ep, "0+100x100")],
            [
                ("90m", "OpskitLatencyBurn1h5m", [_labels(rules, "OpskitLatencyBurn1h5m", ep, burn_rule="page 1h/5m")]),
            ],
        ),
        # 35 % slow: burn 7x -> the 6h/30m page (6x) fires, the 1h/5m page (14.4x) does not
        (
            "1m",
            [_series(f"{hist}_bucket", {**ep, "le": "0.5"}, "0+65x500"), _series(f"{hist}_count", ep, "0+100x500")],
            [
                ("7h", "OpskitLatencyBurn1h5m", []),
                (
                    "7h",
                    "OpskitLatencyBurn6h30m",
                    [_labels(rules, "OpskitLatencyBurn6h30m", ep, burn_rule="page 6h/30m")],
                ),
            ],
        ),
        (
            "1m",
            [
                _series(
                    "opskit_drift_psi",
                    {"runbook": "analyze_drift", "feature": "income", "model_version": "v2"},
                    "0.31x5",
                ),
                _series(
                    "opskit_drift_psi", {"runbook": "analyze_drift", "feature": "age", "model_version": "v2"}, "0.15x5"
                ),
                _series("opskit_accuracy_change", {"runbook": "analyze_drift", "model_version": "v2"}, "-0.08x5"),
                _series("opskit_run_status", {"runbook": "report_gpu_cost"}, "3x5"),
            ],
            [
                (
                    "2m",
                    "OpskitFeatureDrift",
                    [
                        _labels(
                            rules,
                            "OpskitFeatureDrift",
                            {"runbook": "analyze_drift", "feature": "income", "model_version": "v2"},
                        )
                    ],
                ),
                (
                    "2m",
                    "OpskitAccuracyChange",
                    [_labels(rules, "OpskitAccuracyChange", {"runbook": "analyze_drift", "model_version": "v2"})],
                ),
                ("2m", "OpskitRunFailed", [_labels(rules, "OpskitRunFailed", {"runbook": "report_gpu_cost"}, 3)]),
            ],
        ),
    ]


def _write_tests(tmp_path, rules):
    tests = []
    for interval, series, evals in _cases(rules):
        tests.append(
            {
                "interval": interval,
                "input_series": series,
                "alert_rule_test": [{"eval_time": t, "alertname": a, "exp_alerts": list(labs)} for t, a, labs in evals],
            }
        )
    path = tmp_path / "opskit-rules.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": ["opskit-rules.yml"], "evaluation_interval": "1m", "tests": tests}))
    return path


def test_every_alert_is_covered_by_a_firing_case():
    rules = build_rules()
    fired = {a for _, _, evals in _cases(rules) for _, a, labs in evals if labs}
    assert fired == set(alert_names(rules))


def test_every_alert_has_severity_response_time_and_command():
    for group in build_rules()["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                assert rule["labels"]["severity"] in ("P1", "P2", "P3")
                assert rule["annotations"]["opskit_command"].startswith("opskit run " + rule["annotations"]["runbook"])
                assert rule["annotations"]["runbook_url"].endswith(rule["annotations"]["runbook"])
    p1 = next(r for r in build_rules()["groups"][0]["rules"] if r.get("alert") == "OpskitGpuXid")
    assert p1["annotations"]["response_time"] == "5m"


def test_thresholds_come_from_the_analyses_and_yaml_overrides_them(tmp_path):
    hot = next(r for r in build_rules()["groups"][0]["rules"] if r.get("alert") == "OpskitGpuHot")
    assert hot["expr"] == "DCGM_FI_DEV_GPU_UTIL > 85"
    (tmp_path / "t.yml").write_text("hot_pct: 90\nhot_for: 5m\n")
    s = load_settings(tmp_path / "t.yml")
    hot = next(r for r in build_rules(s)["groups"][0]["rules"] if r.get("alert") == "OpskitGpuHot")
    assert (hot["expr"], hot["for"]) == ("DCGM_FI_DEV_GPU_UTIL > 90", "5m")


def test_unknown_or_mistyped_setting_is_refused(tmp_path):
    (tmp_path / "t.yml").write_text("hot_pc: 90\n")
    with pytest.raises(InputError) as e:
        load_settings(tmp_path / "t.yml")
    assert "hot_pct" in e.value.hint
    with pytest.raises(InputError):
        load_settings(hot_pct="high")


@needs_promtool
def test_promtool_checks_and_tests_the_exported_rules(tmp_path):
    rules_path = write_rules(tmp_path)
    check = subprocess.run([PROMTOOL, "check", "rules", str(rules_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    test_path = _write_tests(tmp_path, build_rules())
    run = subprocess.run([PROMTOOL, "test", "rules", str(test_path)], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


@needs_promtool
def test_promtool_test_fails_when_the_threshold_moves(tmp_path):
    """The rule tests can fail: with hot_pct 95 the 92 % GPU no longer fires."""
    write_rules(tmp_path, load_settings(hot_pct=95.0))
    test_path = _write_tests(tmp_path, build_rules())
    run = subprocess.run([PROMTOOL, "test", "rules", str(test_path)], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode != 0 and "OpskitGpuHot" in run.stdout + run.stderr
