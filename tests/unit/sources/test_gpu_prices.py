"""The GPU price tables: the bundled one dated and sourced, a user's table overriding it, bad cells named."""

from __future__ import annotations

import math

import pytest

from opskit.analyses.gpu_fleet.cost import match_prices
from opskit.errors import InputError
from opskit.sources.gpu_prices import load_prices

H100 = "NVIDIA H100 80GB HBM3"
A100 = "NVIDIA A100-SXM4-80GB"


def test_bundled_table_is_dated_and_sourced():
    prices = load_prices()
    assert len(prices) >= 5
    assert prices["as_of"].str.match(r"\d{4}-\d{2}-\d{2}").all()
    assert prices["source"].str.len().gt(10).all()
    # reserved is cheaper than on-demand, 3-year cheaper than 1-year, for every model
    assert (prices["reserved_1y"] < prices["on_demand"]).all()
    assert (prices["reserved_3y"] < prices["reserved_1y"]).all()


def test_user_table_overrides_bundled_row(fixtures):
    prices = load_prices(fixtures / "gpu_cost" / "prices_override_h100.csv")
    m = match_prices([H100, A100], prices)
    assert m.loc[H100, "price_per_gpu_hour"] == 2.50 and m.loc[H100, "source"] == "negotiated on-prem chargeback"
    assert m.loc[A100, "table"] == "bundled"
    # no spot price in the override: spot pricing of the H100 is unknown, not the bundled one
    assert math.isnan(match_prices([H100], prices, pricing="spot").iloc[0]["price_per_gpu_hour"])


def test_bad_price_names_line_and_column(fixtures):
    with pytest.raises(InputError) as err:
        load_prices(fixtures / "gpu_cost" / "prices_bad_number.csv")
    assert (err.value.line, err.value.column) == (3, "on_demand")


def test_table_without_model_column(fixtures):
    with pytest.raises(InputError) as err:
        load_prices(fixtures / "gpu_cost" / "prices_no_model_column.csv")
    assert err.value.column == "model"
