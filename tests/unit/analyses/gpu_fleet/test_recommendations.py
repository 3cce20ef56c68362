"""Recommendations with money attached, availability kept for serving, and week over week."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.gpu_fleet.cost import compute_costs
from opskit.analyses.gpu_fleet.recommendations import (
    RecommendationSettings,
    _hour_window,
    compare_weeks,
    recommend,
    workload_of,
)
from opskit.analyses.gpu_fleet.rollup import rollup_hourly
from opskit.analyses.gpu_fleet.usage import analyze_gpu_usage
from opskit.samples.fleet import gpu_samples
from opskit.sources.gpu_prices import load_prices

A100 = "NVIDIA A100-SXM4-80GB"


def week_of(util=50.0, **kw) -> pd.DataFrame:
    return gpu_samples(start="2026-11-23", hours=168, util=util, model=A100, **kw)


def run(frame, week=None, pricing="on_demand"):
    r = rollup_hourly(frame)
    u = analyze_gpu_usage(r.frame, interval_s=r.interval_s, week=week)
    c = compute_costs(u, load_prices(), pricing=pricing)
    return u, c, recommend(u, c)


def price(kind="on_demand"):
    return load_prices().set_index("model").loc["A100 80GB", kind]


def test_workload_from_names():
    rows = pd.DataFrame({"job": ["ranker-serving", "pretrain-x", "notebook"], "namespace": [None, None, "dev"]})
    assert workload_of(rows, RecommendationSettings()).tolist() == ["serving", "training", "other"]


def test_idle_gpus_are_released_with_their_cost():
    frame = pd.concat([week_of(0.0, host="resv", gpu=g, team="nlp") for g in range(2)], ignore_index=True)
    _, _, rec = run(frame)
    release = [r for r in rec.items if r.kind == "release"]
    assert len(release) == 1 and release[0].subject == "resv" and release[0].gpus == 2
    assert release[0].savings_per_week == pytest.approx(2 * 168 * price())
    assert not [r for r in rec.items if r.kind == "reserve"]  # idle GPUs are never reserved


def test_consolidation_never_goes_below_the_serving_peak():
    # four serving GPUs: 5 % most of the time, one busy hour where together they carry 1.6 GPUs of work
    frames = []
    for g in range(4):
        util = np.full(168 * 12, 5.0)
        util[12 * 40 : 12 * 41] = 40.0
        frames.append(week_of(util, host="inf", gpu=g, team="recsys", job="ranker-serving"))
    _, _, rec = run(pd.concat(frames, ignore_index=True))
    cons = [r for r in rec.items if r.kind == "consolidate"]
    assert len(cons) == 1
    # peak 1.6 GPU-equivalents at 60 % target -> keep 3, release 1
    assert cons[0].gpus == 1
    assert cons[0].savings_per_week == pytest.approx(168 * price())


def test_no_consolidation_when_peak_needs_all_gpus():
    frames = []
    for g in range(2):
        util = np.full(168 * 12, 5.0)
        util[12 * 40 : 12 * 44] = 95.0
        frames.append(week_of(util, host="inf", gpu=g, team="recsys", job="ranker-serving"))
    _, _, rec = run(pd.concat(frames, ignore_index=True))
    assert not [r for r in rec.items if r.kind == "consolidate"]


def test_reserve_when_steady_use_beats_break_even():
    frame = pd.concat([week_of(90.0, host="t", gpu=g, team="llm", job="pretrain") for g in range(2)])
    _, _, rec = run(frame.reset_index(drop=True))
    reserve = [r for r in rec.items if r.kind == "reserve"]
    assert len(reserve) == 1 and reserve[0].gpus == 2
    assert reserve[0].savings_per_week == pytest.approx(2 * 168 * (price() - price("reserved_1y")))
    assert not [r for r in rec.items if r.kind == "spot"]  # steady training is reserved, not spot


def test_bursty_training_goes_to_spot_not_reserved():
    util = np.zeros(168 * 12)
    for i in range(0, len(util), 60):  # 2 hours on, 3 off: 40 % of the week, below the ~70 % break-even
        util[i : i + 24] = 90.0
    hours_on = int((util.reshape(168, 12).max(axis=1) > 0).sum())
    _, _, rec = run(week_of(util, host="t", team="vision", job="sweep-train"))
    kinds = {r.kind for r in rec.items}
    assert "reserve" not in kinds and "spot" in kinds and "release" not in kinds
    spot = next(r for r in rec.items if r.kind == "spot")
    assert spot.savings_per_week == pytest.approx(hours_on * (price() - price("spot") * 1.15))


def test_no_reserve_or_spot_when_already_reserved():
    frame = week_of(90.0, host="t", team="llm", job="pretrain")
    _, _, rec = run(frame, pricing="reserved_1y")
    assert not [r for r in rec.items if r.kind in ("reserve", "spot")]


def test_unknown_price_gives_unknown_savings_not_zero():
    frame = pd.concat([week_of(0.0, host="x", gpu=g, team="t") for g in range(2)], ignore_index=True)
    frame["model"] = "Mystery GPU"
    _, _, rec = run(frame)
    release = [r for r in rec.items if r.kind == "release"]
    assert release and math.isnan(release[0].savings_per_week)


def test_hour_window_wraps_midnight():
    assert _hour_window([0, 1, 2, 22, 23]) == "22:00-03:00"
    assert _hour_window([3, 4, 5]) == "03:00-06:00"


def test_week_over_week_change():
    frame = pd.concat(
        [
            gpu_samples(start="2026-11-16", hours=168, util=40.0, model=A100, team="a"),
            gpu_samples(start="2026-11-23", hours=168, util=60.0, model=A100, team="a"),
        ],
        ignore_index=True,
    )
    r = rollup_hourly(frame)
    now = analyze_gpu_usage(r.frame, interval_s=r.interval_s, week="2026-W48")
    before = analyze_gpu_usage(r.frame, interval_s=r.interval_s, week="2026-W47")
    prices = load_prices()
    wow = compare_weeks(compute_costs(now, prices), compute_costs(before, prices))
    assert wow.loc["a", "util_mean_pct_change"] == pytest.approx(20.0)
    assert wow.loc["all", "busy_gpu_hours_change"] == pytest.approx(0.2 * 168)
    assert wow.loc["a", "cost_change"] == pytest.approx(0.0)
    only = compare_weeks(compute_costs(now, prices), None)
    assert "cost_now" in only.columns and "cost_change" not in only.columns


def test_fleet_recommendations():
    from opskit.samples import fleet

    r = rollup_hourly(fleet.generate_fleet())
    u = analyze_gpu_usage(r.frame, interval_s=r.interval_s)
    rec = recommend(u, compute_costs(u, load_prices()))
    by_kind = {}
    for item in rec.items:
        by_kind.setdefault(item.kind, []).append(item.subject)
    assert by_kind["release"] == [fleet.IDLE_HOST]
    assert fleet.UNDERUSED_TEAM in by_kind["consolidate"]
    assert "vision" in by_kind["spot"]
    assert set(by_kind) == {"release", "consolidate", "reserve", "spot", "off_peak"}
    savings = [i.savings_per_week for i in rec.items]
    assert savings == sorted(savings, reverse=True)
