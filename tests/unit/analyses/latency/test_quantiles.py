"""Exact latency quantiles: pandas and DuckDB give numpy's linear quantiles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.latency.quantiles import epoch_ns, have_duckdb, latency_quantiles
from opskit.errors import InputError
from opskit.samples.latency import steady_requests as make_requests

T0 = pd.Timestamp("2026-11-23 00:00", tz="UTC")
needs_duckdb = pytest.mark.skipif(not have_duckdb(), reason="duckdb not installed")


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


def test_unknown_engine_is_an_input_error():
    with pytest.raises(InputError):
        latency_quantiles(make_requests(hours=1), [], engine="spark")
