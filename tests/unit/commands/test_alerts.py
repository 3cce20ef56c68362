"""``opskit alerts export``, ``dashboards export``, ``metrics publish`` and ``serve --check`` from the CLI."""

from __future__ import annotations

import json

import yaml

from opskit.cli import main


def test_alerts_export_writes_rules_with_overrides(tmp_path, capsys):
    (tmp_path / "t.yml").write_text("hot_pct: 90\n")
    assert main(["alerts", "export", "--out", str(tmp_path / "out"), "--settings", str(tmp_path / "t.yml")]) == 0
    rules = yaml.safe_load((tmp_path / "out" / "opskit-rules.yml").read_text())
    hot = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "OpskitGpuHot")
    assert hot["expr"].endswith("> 90")
    assert "alerts to" in capsys.readouterr().out


def test_alerts_export_bad_settings_exit_2(tmp_path, capsys):
    (tmp_path / "t.yml").write_text("hot: 90\n")
    assert main(["alerts", "export", "--out", str(tmp_path), "--settings", str(tmp_path / "t.yml")]) == 2
    assert "hot_pct" in capsys.readouterr().err


def test_dashboards_export(tmp_path):
    assert main(["dashboards", "export", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("opskit-*.json"))) == 3


def test_metrics_publish_textfile(tmp_path):
    summary = {"runbook": "report_gpu_cost", "status": "WARN", "checks": [], "figures": {"gpus": 16}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "tf" / "opskit.prom"
    assert main(["metrics", "publish", str(tmp_path), "--textfile", str(out)]) == 0
    text = out.read_text()
    assert 'opskit_run_status{runbook="report_gpu_cost"} 2.0' in text
    assert 'opskit_figure{name="gpus",runbook="report_gpu_cost"} 16.0' in text


def test_metrics_publish_without_target_exit_2(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"runbook": "x", "status": "PASS"}))
    assert main(["metrics", "publish", str(tmp_path)]) == 2


def test_serve_check_refuses_unknown_runbook(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPSKIT_SERVE_TOKEN", "a-token-of-enough-length")
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("routes:\n  - alert: A\n    runbook: triage_job\n")
    assert main(["serve", "--config", str(cfg), "--check"]) == 0
    cfg.write_text("routes:\n  - alert: A\n    runbook: no_such_book\n")
    assert main(["serve", "--config", str(cfg), "--check"]) == 2
    assert "serve.yaml:3" in capsys.readouterr().err
