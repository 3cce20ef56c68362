"""Latency analysis end to end: slow version, load spike, GPU metrics, cold starts, engines, the sample week."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.latency.analysis import analyze_latency
from opskit.analyses.latency.quantiles import have_duckdb
from opskit.analyses.latency.verdicts import latency_verdicts
from opskit.checks import Status, VerdictTable
from opskit.errors import InputError
from opskit.samples.latency import steady_requests as make_requests

T0 = pd.Timestamp("2026-11-23 00:00", tz="UTC")
needs_duckdb = pytest.mark.skipif(not have_duckdb(), reason="duckdb not installed")


@needs_duckdb
def test_full_analysis_is_the_same_with_either_engine():
    frame = make_requests(hours=30, rps=1, rollout_at=20, spike=(10, 11.5))
    fast = analyze_latency(frame, engine="duckdb")
    plain = analyze_latency(frame, engine="pandas")
    assert (fast.engine, plain.engine) == ("duckdb", "pandas")
    pd.testing.assert_frame_equal(fast.by_bucket, plain.by_bucket, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(fast.changes, plain.changes)
    pd.testing.assert_frame_equal(fast.causes, plain.causes)


def test_slow_version_is_named_with_its_rollout_and_the_change_lines_up():
    result = analyze_latency(make_requests(hours=48, rps=1, rollout_at=30))
    rollout = T0 + pd.Timedelta(hours=30)
    versions = result.by_version.set_index("model_version")
    assert versions.loc["v2", "slow_version"] and not versions.loc["v1", "slow_version"]
    assert versions.loc["v2", "rollout_at"] == rollout
    assert versions.loc["v1", "last_seen"] < rollout <= versions.loc["v2", "first_seen"]
    assert versions.loc["v2", "last_seen"] == T0 + pd.Timedelta(hours=48) - pd.Timedelta(seconds=1)
    change = result.changes.iloc[0]
    assert abs(change["at"] - rollout) <= pd.Timedelta("5min")
    assert change["cause_kind"] == "model rollout"
    top = result.causes.iloc[0]
    assert (top["cause"], top["subject"], top["began"]) == ("slow model version", "v2", rollout)
    verdict = VerdictTable(latency_verdicts(result)).find("model version", "/v1/rank v2")[0]
    assert verdict.status == Status.FAIL


def test_load_spike_is_found_and_explains_its_slow_requests():
    frame = make_requests(hours=72, rps=1, spike=(50, 51.5))
    result = analyze_latency(frame.sample(frac=1.0, random_state=3))  # rows need not be in time order
    assert len(result.spikes) == 1
    spike = result.spikes.iloc[0]
    assert spike["start"] == T0 + pd.Timedelta(hours=50)
    assert spike["duration_min"] == 90
    assert spike["peak_ratio"] == pytest.approx(4.0, rel=0.05)
    assert result.changes["cause_kind"].tolist() == ["load increase", "load decrease"]
    assert result.causes.iloc[0]["cause"] == "saturation"
    assert result.by_version["slow_version"].sum() == 0  # the spike does not blame the version


def test_steady_service_passes():
    result = analyze_latency(make_requests(hours=30, rps=1))
    verdicts = VerdictTable(latency_verdicts(result))
    assert verdicts.worst in (Status.PASS, Status.SKIP)
    assert result.spikes.empty and result.changes.empty and result.causes.empty


def test_gpu_metrics_are_joined_and_correlated():
    frame = make_requests(hours=72, rps=1, spike=(50, 51.5))
    stamps = pd.date_range(T0, T0 + pd.Timedelta(hours=72), freq="30s", inclusive="left")
    busy = (stamps >= T0 + pd.Timedelta(hours=50)) & (stamps < T0 + pd.Timedelta(hours=51.5))
    gpu = pd.DataFrame({"timestamp": stamps, "util_pct": np.where(busy, 98.0, 40.0) + (stamps.minute % 7)})
    result = analyze_latency(frame, gpu=gpu)
    assert "gpu_util_pct" in result.by_bucket
    assert "GPU utilisation (%)" in result.correlations["driver"].tolist()
    saturation = VerdictTable(latency_verdicts(result)).find("GPU saturation")[0]
    assert saturation.status == Status.WARN
    assert "busy" in result.causes.iloc[0]["evidence"]


def test_cold_starts_and_pathological_inputs_are_found():
    frame = make_requests(hours=30, rps=1)
    frame["instance"] = pd.Categorical(np.where(np.arange(len(frame)) % 2, "pod-a", "pod-b"))
    frame.loc[frame.index[:10], "latency_ms"] += 3000  # first requests of both pods
    frame["input_tokens"] = 100
    odd = frame.index[5000::20000]
    frame.loc[odd, "latency_ms"] += 8000
    frame.loc[odd, "input_tokens"] = 4000
    result = analyze_latency(frame)
    assert result.cold_starts["keyed_by"] == "instance"
    assert result.cold_starts["ratio"] > 5
    assert result.pathological["requests"] == len(odd)
    assert result.pathological["extreme_median_size"] == 4000
    assert set(result.causes["cause"]) == {"cold starts", "pathological inputs"}


def test_frame_without_required_columns_is_an_input_error():
    with pytest.raises(InputError) as info:
        analyze_latency(pd.DataFrame({"timestamp": [T0], "latency_ms": [1.0]}))
    assert info.value.column == "endpoint"


def test_sample_week_is_seeded_and_plants_its_faults(tmp_path):
    from opskit.samples import latency as sample

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = sample.write_requests_week(tmp_path / "a")
    second = sample.write_requests_week(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    frame = pd.read_parquet(first)
    assert 250_000 < len(frame) < 400_000
    assert frame.loc[frame["model_version"] == sample.SLOW_VERSION, "timestamp"].min() >= sample.ROLLOUT_AT
    gpu = pd.read_parquet(sample.write_requests_week_gpu(tmp_path))
    assert {"timestamp", "host", "gpu", "uuid", "model", "util_pct", "mem_used_mib", "mem_total_mib"} <= set(gpu)


def test_auto_engine_falls_back_to_pandas_without_duckdb(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_duckdb(name, *args, **kwargs):
        if name == "duckdb":
            raise ImportError("no duckdb here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_duckdb)
    result = analyze_latency(make_requests(hours=3, rps=1))
    assert result.engine == "pandas"
    from opskit.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError) as info:
        analyze_latency(make_requests(hours=1), engine="duckdb")
    assert info.value.extra == "fast"
