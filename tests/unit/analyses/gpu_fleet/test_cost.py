"""GPU cost: the dated price table, overrides, unknown models, allocation vs utilization-weighted cost."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.gpu_fleet.cost import compute_costs, match_prices
from opskit.analyses.gpu_fleet.rollup import rollup_hourly
from opskit.analyses.gpu_fleet.usage import analyze_gpu_usage
from opskit.errors import InputError
from opskit.samples.fleet import gpu_samples as samples
from opskit.sources.gpu_prices import PRICING, load_prices

H100 = "NVIDIA H100 80GB HBM3"
A100 = "NVIDIA A100-SXM4-80GB"


def usage(frame):
    r = rollup_hourly(frame)
    return analyze_gpu_usage(r.frame, interval_s=r.interval_s)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", "H100 80GB"),
        ("NVIDIA A100-SXM4-80GB", "A100 80GB"),
        ("NVIDIA A100-SXM4-40GB", "A100 40GB"),
        ("NVIDIA L4", "L4"),
        ("NVIDIA L40S", "L40S"),
        ("Tesla T4", "T4"),
    ],
)
def test_model_names_match_their_row(name, expected):
    assert match_prices([name], load_prices()).loc[name, "price_model"] == expected


def test_unknown_model_has_unknown_price_not_zero():
    m = match_prices(["NVIDIA GeForce RTX 4090"], load_prices())
    assert math.isnan(m.iloc[0]["price_per_gpu_hour"])


def test_currency_is_never_converted(fixtures):
    prices = load_prices(fixtures / "gpu_cost" / "prices_override_eur.csv")
    eur = match_prices([A100, H100], prices, currency="eur")
    assert eur.loc[A100, "price_per_gpu_hour"] == 3.00
    assert math.isnan(eur.loc[H100, "price_per_gpu_hour"])


def test_unknown_pricing_is_an_error():
    with pytest.raises(InputError) as err:
        match_prices([H100], load_prices(), pricing="hourly")
    assert err.value.column == "pricing" and all(p in err.value.hint for p in PRICING)


def test_allocation_and_utilization_weighted_cost():
    frame = pd.concat(
        [week_of(25.0, host="a", model=H100, team="t1"), week_of(0.0, host="b", model=H100, team="t2")],
        ignore_index=True,
    )
    c = compute_costs(usage(frame), load_prices(), pricing="on_demand")
    price = match_prices([H100], load_prices()).iloc[0]["on_demand"]
    t1 = c.teams.loc["t1"]
    assert t1["cost"] == pytest.approx(168 * price)
    assert t1["used_cost"] == pytest.approx(0.25 * 168 * price)
    assert t1["unused_cost"] == pytest.approx(0.75 * 168 * price)
    assert t1["underused_cost"] == pytest.approx(168 * price)
    assert c.teams.loc["t2", "idle_cost"] == pytest.approx(168 * price)
    assert c.totals["cost"] == pytest.approx(2 * 168 * price)


def test_mixed_fleet_with_unpriced_model_reports_it():
    frame = pd.concat(
        [week_of(50.0, host="a", model=H100, team="t"), week_of(50.0, host="b", model="Mystery GPU X", team="t")],
        ignore_index=True,
    )
    c = compute_costs(usage(frame), load_prices())
    assert c.unpriced["model"].tolist() == ["Mystery GPU X"] and c.unpriced["gpu_hours"].iloc[0] == pytest.approx(168)
    gpu_b = c.gpus.loc[("b", 0)]
    assert np.isnan(gpu_b["cost"])
    assert c.teams.loc["t", "unpriced_gpu_hours"] == pytest.approx(168)
    assert c.totals["unpriced_gpus"] == 1


def test_stalled_hours_are_waste_even_when_busy():
    util = np.full(168 * 12, 95.0)
    sm = np.full(168 * 12, 70.0)
    sm[: 12 * 10] = 1.0
    c = compute_costs(usage(week_of(util, sm=sm, model=H100, job="j")), load_prices())
    price = c.prices.iloc[0]["price_per_gpu_hour"]
    assert c.jobs.loc["j", "stalled_cost"] == pytest.approx(10 * price)
    assert c.jobs.loc["j", "waste_cost"] == pytest.approx(168 * 0.05 * price + 10 * 0.95 * price)


def week_of(util=50.0, **kw) -> pd.DataFrame:
    """One GPU for the whole of ISO week 2026-W48."""
    return samples(start="2026-11-23", hours=168, util=util, **kw)
