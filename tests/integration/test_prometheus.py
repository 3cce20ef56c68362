"""The same fleet week read four ways (nvidia-smi CSV, dcgm-exporter scrapes, Parquet, a real Prometheus).

Prometheus is Debian's server, backfilled from the sample's OpenMetrics file by promtool (see
conftest.py); opskit asks it for hourly aggregates per GPU through query_range. Every path must give
the same per-GPU GPU-hours and mean utilisation, and, through the report's analysis, the same
per-team GPU-hours and cost.
"""

from __future__ import annotations

import pandas as pd
import pytest

from opskit.samples import resolve
from opskit.samples.fleet_formats import WEEK_END, WEEK_START, fleet_week
from opskit.sources.attribution import attribute
from opskit.sources.dcgm import read_dcgm_scrapes
from opskit.sources.gpu_tables import read_gpu_table
from opskit.sources.nvidia_smi import read_nvidia_smi_csv
from opskit.sources.prometheus import PrometheusError, count_raw_samples, query_range, read_prometheus_gpus

pytestmark = pytest.mark.integration
WEEK = "2026-W48"
SCRAPE_S = 300.0


def per_gpu(frame: pd.DataFrame) -> pd.DataFrame:
    """GPU-hours (each row stands for its interval_s, else the 5-minute scrape) and time-weighted mean util."""
    w = frame["interval_s"] if "interval_s" in frame.columns else pd.Series(SCRAPE_S, index=frame.index)
    g = frame.assign(_w=w, _u=frame["util_pct"] * w).groupby(["host", "gpu"])
    out = pd.DataFrame({"gpu_hours": g["_w"].sum() / 3600, "util_mean_pct": g["_u"].sum() / g["_w"].sum()})
    return out.sort_index()


@pytest.fixture(scope="module")
def rules():
    return resolve("sample:fleet_week_nvidia_smi").parent / "attribution_by_host.csv"


@pytest.fixture(scope="module")
def sources(prometheus_server):
    parquet = read_gpu_table(resolve("sample:fleet_week"))
    parquet = parquet[(parquet["timestamp"] >= WEEK_START) & (parquet["timestamp"] < WEEK_END)]
    prom = read_prometheus_gpus(prometheus_server.url, WEEK_START, WEEK_END, step="1h")
    return {
        "nvidia-smi": read_nvidia_smi_csv(resolve("sample:fleet_week_nvidia_smi")),
        "dcgm": read_dcgm_scrapes(resolve("sample:fleet_week_dcgm")),
        "parquet": parquet.reset_index(drop=True),
        "prometheus": prom,
    }


def test_prometheus_transfers_aggregates_not_raw_samples(prometheus_server, sources):
    prom = sources["prometheus"]
    info = prom.attrs["prometheus"]
    raw = count_raw_samples(prometheus_server.url, WEEK_START, WEEK_END)
    assert raw == len(fleet_week())  # every generated sample reached the server
    # hourly means: per metric about 12 times fewer points than the 5-minute samples a raw pull would move
    assert info.points / len(info.queries) < raw / 10
    assert not prom.duplicated(["host", "gpu", "timestamp"]).any()
    assert info.queries[0] == "avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h])"


def test_every_source_gives_the_same_gpu_hours_and_mean_utilisation(sources):
    truth = per_gpu(fleet_week())
    assert len(truth) == 44
    for name, frame in sources.items():
        got = per_gpu(frame)
        assert list(got.index) == list(truth.index), name
        pd.testing.assert_series_equal(got["gpu_hours"], truth["gpu_hours"], rtol=1e-9, obj=name)
        pd.testing.assert_series_equal(got["util_mean_pct"], truth["util_mean_pct"], rtol=1e-9, obj=name)


def test_every_source_gives_the_same_team_hours_and_cost(sources, rules):
    analysis = pytest.importorskip("opskit.analyses.gpu_fleet.usage")
    from opskit.analyses.gpu_fleet.cost import compute_costs
    from opskit.analyses.gpu_fleet.rollup import rollup_hourly
    from opskit.sources.gpu_prices import load_prices

    results = {}
    for name, frame in sources.items():
        rollup = rollup_hourly(attribute(frame, rules, keep_existing=False))
        usage = analysis.analyze_gpu_usage(rollup.frame, interval_s=rollup.interval_s, week=WEEK)
        cost = compute_costs(usage, load_prices())
        results[name] = (usage.teams["gpu_hours"].sort_index(), cost.teams["cost"].sort_index())
    hours, cost = results["parquet"]
    assert set(hours.index) == {"llm", "vision", "search", "recsys", "nlp"}
    for name, (h, c) in results.items():
        pd.testing.assert_series_equal(h, hours, rtol=1e-6, obj=f"{name} team GPU-hours")
        pd.testing.assert_series_equal(c, cost, rtol=1e-6, obj=f"{name} team cost")


def test_gap_in_the_data_is_no_window_at_all(sources):
    prom = sources["prometheus"]
    l4 = prom[(prom["host"] == "infer-l4-02") & (prom["gpu"] == 0)]
    hours = set(l4["timestamp"])
    assert pd.Timestamp("2026-11-25 08:00", tz="UTC") in hours
    assert not {pd.Timestamp(f"2026-11-25 {h:02d}:00", tz="UTC") for h in range(9, 15)} & hours


def test_real_server_errors(prometheus_server):
    with pytest.raises(PrometheusError) as err:
        query_range(prometheus_server.url, "avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h]", WEEK_START, WEEK_END, "1h")
    assert err.value.kind == "bad_query" and err.value.status_code == 400
    assert "parse error" in err.value.server_error
    with pytest.raises(PrometheusError) as err:
        read_prometheus_gpus(prometheus_server.url, "2025-01-06", "2025-01-13")
    assert err.value.kind == "empty"


def test_fine_steps_are_split_under_the_server_limit(prometheus_server):
    # one GPU at the raw 5-minute step over the week is 2,016 points; 1-minute steps are 10,081 per
    # series, and 30 s steps (20,161) would be refused by the server in one request
    result = query_range(
        prometheus_server.url,
        'DCGM_FI_DEV_GPU_UTIL{Hostname="infer-l4-01",gpu="0"}',
        WEEK_START,
        WEEK_END - pd.Timedelta(seconds=30),
        "30s",
    )
    assert result.requests == 2
    ts = sorted(t for _, tss, _ in result.series for t in tss)
    assert len(ts) == len(set(ts))  # no step asked twice at the chunk boundary


def test_the_report_reads_every_format_to_the_same_team_cost(prometheus_server, rules):
    report = pytest.importorskip("opskit.runbooks.report_gpu_cost_inputs")
    from opskit.analyses.gpu_fleet.week import analyze_week

    inputs = {
        "parquet": (resolve("sample:fleet_week"), "parquet"),
        "nvidia-smi": (resolve("sample:fleet_week_nvidia_smi"), "nvidia-smi"),
        "dcgm": (resolve("sample:fleet_week_dcgm"), "dcgm"),
        "prometheus": (prometheus_server.url, "prometheus"),
    }
    teams = {}
    for name, (source, fmt) in inputs.items():
        rollup, _ = report.load_rollup(source, attribution=rules, source_format=fmt, week=WEEK)
        built = analyze_week(rollup, week=WEEK)
        teams[name] = built.cost.teams[["gpu_hours", "cost"]].sort_index()
    for name, frame in teams.items():
        pd.testing.assert_frame_equal(frame, teams["parquet"], rtol=1e-6, obj=name)
