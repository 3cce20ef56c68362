"""Dashboards carry opskit's thresholds and a query on every panel, and use the series the rules record."""

from __future__ import annotations

import json

from opskit.monitoring.dashboards import build_dashboards, panel_queries, write_dashboards
from opskit.monitoring.rules import build_rules, load_settings


def _steps(board, title_part):
    panel = next(p for p in board["panels"] if title_part in p["title"])
    return [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_every_panel_has_a_query_and_unique_ref_ids():
    for board in build_dashboards().values():
        assert board["panels"]
        for p in board["panels"]:
            refs = [t["refId"] for t in p["targets"]]
            assert refs and len(refs) == len(set(refs))
            assert all(t["expr"].strip() and t["expr"].count("(") == t["expr"].count(")") for t in p["targets"])


def test_thresholds_drawn_follow_the_settings():
    board = build_dashboards()["opskit-gpu.json"]
    assert _steps(board, "per node") == [None, 30.0, 85.0]
    board = build_dashboards(load_settings(hot_pct=90.0))["opskit-gpu.json"]
    assert _steps(board, "per node") == [None, 30.0, 90.0]
    assert _steps(build_dashboards()["opskit-latency.json"], "SLO") == [None, 0.5]


def test_recorded_series_used_by_panels_exist_in_the_rules():
    recorded = {r["record"] for g in build_rules()["groups"] for r in g["rules"] if "record" in r}
    used = {
        w for b in build_dashboards().values() for q in panel_queries(b) for w in q.split() if w.startswith("opskit:")
    }
    assert used and used <= recorded


def test_files_written_are_json(tmp_path):
    paths = write_dashboards(tmp_path)
    assert sorted(p.name for p in paths) == ["opskit-gpu.json", "opskit-latency.json", "opskit-model.json"]
    assert json.loads(paths[0].read_text())["uid"].startswith("opskit-")
