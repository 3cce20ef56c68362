"""Latency analysis: quantiles, burn rates, breaches, load spikes, regime changes and causes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.latency import (
    BurnRule,
    LatencyThresholds,
    analyze_latency,
    binary_segmentation,
    breach_periods,
    burn_rates,
    epoch_ns,
    have_duckdb,
    latency_breakdown,
    latency_quantiles,
    latency_verdicts,
)
from opskit.checks import Status, VerdictTable
from opskit.errors import InputError

T0 = pd.Timestamp("2026-11-23 00:00", tz="UTC")
needs_duckdb = pytest.mark.skipif(not have_duckdb(), reason="duckdb not installed")


def make_requests(
    hours: float = 72,
    rps: float = 2.0,
    *,
    seed: int = 1,
    rollout_at: float | None = None,  # hours: version v2 takes all traffic, GPU time x2.5
    spike: tuple[float, float] | None = None,  # hours: traffic x4 and queueing
) -> pd.DataFrame:
    """Requests at a steady rate: v1 about 200 ms, optional slow v2 rollout and load spike."""
    rng = np.random.default_rng(seed)
    seconds = np.arange(0, hours * 3600, 1.0 / rps)
    if spike:
        extra = np.arange(spike[0] * 3600, spike[1] * 3600, 1.0 / (3 * rps))
        seconds = np.sort(np.concatenate([seconds, extra]))
    n = len(seconds)
    in_spike = (seconds >= spike[0] * 3600) & (seconds < spike[1] * 3600) if spike else np.zeros(n, bool)
    new = seconds >= rollout_at * 3600 if rollout_at is not None else np.zeros(n, bool)
    gpu = np.where(new, 400.0, 160.0) * rng.lognormal(0, 0.1, n)
    queue = 10.0 + np.where(in_spike, rng.exponential(1500.0, n), 0.0)
    other = np.full(n, 30.0)
    return pd.DataFrame(
        {
            "timestamp": T0 + pd.to_timedelta(seconds, unit="s"),
            "endpoint": pd.Categorical(["/v1/rank"] * n),
            "model_version": pd.Categorical(np.where(new, "v2", "v1")),
            "latency_ms": queue + gpu + other,
            "status": np.full(n, 200, dtype="int16"),
            "queue_ms": queue,
            "gpu_ms": gpu,
        }
    )


# -- quantiles --------------------------------------------------------------------------------


def test_pandas_quantiles_are_numpy_linear_quantiles():
    frame = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 4, "latency_ms": [1, 2, 3, 4, 100, 10, 20, 30, 40]})
    table = latency_quantiles(frame, ["g"], engine="pandas")
    a = table[table["g"] == "a"].iloc[0]
    assert a["requests"] == 5
    assert a["p50_ms"] == 3.0
    assert a["p95_ms"] == pytest.approx(np.quantile([1, 2, 3, 4, 100], 0.95))  # 80.8
    assert table[table["g"] == "b"].iloc[0]["p99_ms"] == pytest.approx(39.7)


@needs_duckdb
def test_duckdb_and_pandas_quantiles_agree():
    frame = make_requests(hours=6, rps=3, spike=(2, 3))
    frame["bucket"] = (epoch_ns(frame["timestamp"]) // (300 * 10**9)).astype("int32")
    for by in (["bucket"], ["endpoint", "model_version"], []):
        fast = latency_quantiles(frame, by, engine="duckdb")
        plain = latency_quantiles(frame, by, engine="pandas")
        pd.testing.assert_frame_equal(fast, plain, check_exact=False, rtol=1e-9, check_categorical=False)


@needs_duckdb
def test_full_analysis_is_the_same_with_either_engine():
    frame = make_requests(hours=30, rps=1, rollout_at=20, spike=(10, 11.5))
    fast = analyze_latency(frame, engine="duckdb")
    plain = analyze_latency(frame, engine="pandas")
    assert (fast.engine, plain.engine) == ("duckdb", "pandas")
    pd.testing.assert_frame_equal(fast.by_bucket, plain.by_bucket, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(fast.changes, plain.changes)
    pd.testing.assert_frame_equal(fast.causes, plain.causes)


def test_unknown_engine_is_an_input_error():
    with pytest.raises(InputError):
        latency_quantiles(make_requests(hours=1), [], engine="spark")


# -- error budget -----------------------------------------------------------------------------


def test_page_rule_fires_when_both_windows_burn_fast_enough():
    # 10 requests a minute for 3 hours; every request slow from minute 60 to 129
    minutes = np.repeat(np.arange(180), 10)
    ts_ns = (T0.value + minutes * 60 * 10**9).astype("int64")
    slow = (minutes >= 60) & (minutes < 130)
    th = LatencyThresholds(burn_rules=(BurnRule("page 1h/5m", "page", "1h", "5min", 14.4),))
    table, series = burn_rates(ts_ns, slow, th)
    rule = table.iloc[0]
    # the 1-hour window reaches 14.4 x 5 % = 72 % slow after 44 slow minutes (44/60 = 73 %): minute 103
    assert rule["fired"]
    assert rule["first_fired"] == T0 + pd.Timedelta(minutes=103)
    assert rule["max_long_burn"] == pytest.approx(20.0)  # a full hour slow: 100 % / 5 %
    assert series["page 1h/5m short"].iloc[100] == pytest.approx(20.0)
    # at minute 130 the 5-minute window is still 4/5 slow (16x); at 131 it is 3/5 (12x): the page stops
    assert rule["minutes_firing"] == 131 - 103


def test_rule_longer_than_the_data_is_not_judged():
    minutes = np.repeat(np.arange(120), 5)
    ts_ns = (T0.value + minutes * 60 * 10**9).astype("int64")
    th = LatencyThresholds(burn_rules=(BurnRule("ticket 1d/2h", "ticket", "1D", "2h", 3.0),))
    table, _ = burn_rates(ts_ns, np.ones(len(minutes), bool), th)
    assert not table.iloc[0]["covered"]
    assert not table.iloc[0]["fired"]


def test_error_budget_and_burn_verdicts():
    result = analyze_latency(make_requests(hours=30, rps=1, rollout_at=20))
    verdicts = VerdictTable(latency_verdicts(result))
    budget = verdicts.find("error budget")[0]
    # v2 (p95 ~ 500+ ms) serves the last 10 of 30 hours
    assert budget.observed == pytest.approx(100 * result.budget["slow_fraction"] / 0.05, rel=1e-3)
    three_day = verdicts.find("burn-rate alert", "ticket 3d/6h")[0]
    assert three_day.status == Status.SKIP  # 30 hours of data cannot fill a 3-day window


# -- breaches, load, regime changes -----------------------------------------------------------


def test_breach_periods_are_runs_of_buckets_over_the_slo():
    start = pd.date_range(T0, periods=8, freq="5min")
    by_bucket = pd.DataFrame(
        {
            "start": start,
            "requests": [100, 100, 100, 100, 5, 100, 100, 100],
            "slo_q_ms": [300, 600, 700, 300, 900, 550, 560, 200],
            "slow": [0, 10, 20, 0, 5, 8, 9, 0],
        }
    )
    periods = breach_periods(by_bucket, 500, pd.Timedelta("5min"), min_requests=20)
    assert periods["start"].tolist() == [start[1], start[5]]
    assert periods["duration_min"].tolist() == [10.0, 10.0]
    assert periods["end"].tolist() == [start[3], start[7]]
    assert periods["peak_ms"].tolist() == [700, 560]


def test_binary_segmentation_finds_steps_and_nothing_in_noise():
    rng = np.random.default_rng(0)
    y = np.concatenate([np.zeros(100), np.ones(60) * 2, np.zeros(80)]) + rng.normal(0, 0.3, 240)
    splits = binary_segmentation(y, min_size=6, penalty=6 * 0.09 * np.log(240))
    assert len(splits) == 2
    assert abs(splits[0] - 100) <= 2 and abs(splits[1] - 160) <= 2
    assert binary_segmentation(rng.normal(0, 0.3, 240), min_size=6, penalty=6 * 0.09 * np.log(240)) == []


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


# -- breakdown, cold starts, pathological inputs ----------------------------------------------


def test_breakdown_shares_add_up_and_other_is_the_rest():
    frame = pd.DataFrame({"latency_ms": [100.0, 1000.0], "queue_ms": [10.0, 700.0], "gpu_ms": [60.0, 200.0]})
    table = latency_breakdown(frame, np.array([False, True])).set_index("component")
    assert table["share_all"].sum() == pytest.approx(1.0)
    assert table.loc["queue", "share_slow"] == pytest.approx(0.7)
    assert table.loc["other", "mean_all_ms"] == pytest.approx(65.0)


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


def test_many_endpoints_are_judged_busiest_first_with_the_rest_in_one_row():
    frame = make_requests(hours=3, rps=2)
    n = len(frame)
    names = np.where(np.arange(n) % 2 == 0, "/big", np.char.add("/tiny/", (np.arange(n) % 60).astype(str)))
    frame["endpoint"] = pd.Categorical(names)
    frame.loc[frame["endpoint"] == "/tiny/7", "latency_ms"] = 900.0
    verdicts = VerdictTable(latency_verdicts(analyze_latency(frame, LatencyThresholds(max_subjects=5))))
    rows = verdicts.find("latency SLO (p95)")
    assert len(rows) == 6
    assert verdicts.find("latency SLO (p95)", "/big")[0].status == Status.PASS
    (rest,) = verdicts.find("latency SLO (p95)", f"{31 - 5} smaller endpoints")
    assert rest.status == Status.FAIL and rest.observed == 1 and "/tiny/7" in rest.evidence
