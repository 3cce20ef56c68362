"""Counting: edge rules, and the numba and NumPy paths giving identical counts."""

from __future__ import annotations

import numpy as np
import pytest

from opskit.analyses.drift import bins as drift_bins
from opskit.analyses.drift.bins import count_numeric, count_numeric_full, quantile_edges

needs_numba = pytest.mark.skipif(not drift_bins.HAS_NUMBA, reason="numba not installed")


def _reference_counts(x, edges):
    """Per-value loop, written from the rules in the module docstring."""
    n_bins = len(edges) - 1
    counts = [0] * (n_bins + 1)
    for v in x:
        if np.isnan(v):
            counts[-1] += 1
            continue
        b = 0
        while b < n_bins - 1 and v >= edges[b + 1]:
            b += 1
        counts[b] += 1
    return counts


@pytest.mark.parametrize("engine", ["numpy", pytest.param("numba", marks=needs_numba)])
def test_edges_out_of_range_and_missing(engine):
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    x = np.array([-np.inf, -1.0, 0.0, 0.5, 1.0, 2.0, 2.999, 3.0, 7.0, np.inf, np.nan])
    counts, n_inf = count_numeric_full(x, edges, engine=engine)
    # [0,1): -inf, -1, 0, 0.5 | [1,2): 1 | [2,3]: 2, 2.999, 3, 7, inf | missing
    assert counts.tolist() == [4, 1, 5, 1]
    assert counts.tolist() == _reference_counts(x, edges)
    assert n_inf == 2


@needs_numba
@pytest.mark.parametrize("n", [1, 17, 4097, 250_003])  # below and above the parallel threshold, odd sizes
def test_numba_and_numpy_counts_are_identical(n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.05] = np.nan
    x[rng.random(n) < 0.01] = np.inf
    edges, _ = quantile_edges(rng.normal(size=1000), 10)
    x[: min(n, 5)] = edges[:5][: min(n, 5)]  # values exactly on edges
    a, inf_a = count_numeric_full(x, edges, engine="numba")
    b, inf_b = count_numeric_full(x, edges, engine="numpy")
    assert a.tolist() == b.tolist()
    assert inf_a == inf_b
    assert int(a.sum()) == n


@needs_numba
def test_integer_and_strided_inputs_match():
    rng = np.random.default_rng(5)
    ints = rng.integers(0, 20, size=300_000)
    edges, _ = quantile_edges(ints, 10)
    assert count_numeric(ints, edges, engine="numba").tolist() == count_numeric(ints, edges, engine="numpy").tolist()
    strided = rng.normal(size=(1000, 4))[:, 1]
    edges, _ = quantile_edges(strided, 5)
    assert count_numeric(strided, edges, engine="numba").tolist() == _reference_counts(strided, edges)


def test_engine_env_switch(monkeypatch):
    monkeypatch.setenv("OPSKIT_DRIFT_ENGINE", "numpy")
    assert drift_bins.default_engine() == "numpy"
    with pytest.raises(ValueError):
        count_numeric(np.ones(3), np.array([0.0, 1.0]), engine="cuda")


def test_ties_collapse_to_unique_edges():
    x = np.r_[np.zeros(700), np.arange(1, 301)]
    edges, n_bins = quantile_edges(x, 10)
    assert n_bins < 10
    assert len(np.unique(edges)) == len(edges)
    assert quantile_edges(np.full(10, 3.0), 10)[1] == 0
    assert quantile_edges(np.array([np.inf, np.nan]), 10)[1] == 0


@needs_numba
@pytest.mark.parametrize("n_edges", [2, 3, 6, 11, 17])  # kernels for 0, 1, 4, 9 and 15 interior edges
def test_every_kernel_size_matches_numpy(n_edges):
    rng = np.random.default_rng(n_edges)
    x = rng.normal(size=300_001)
    x[::97] = np.nan
    x[::1001] = -np.inf
    edges = np.sort(rng.normal(size=n_edges))
    a, inf_a = count_numeric_full(x, edges, engine="numba")
    b, inf_b = count_numeric_full(x, edges, engine="numpy")
    assert a.tolist() == b.tolist() and inf_a == inf_b
    assert len(a) == n_edges  # n_edges - 1 bins, then missing


@pytest.mark.parametrize("n", [1, 2, 3, 10, 1001, 100_000])
def test_sorted_quantiles_equal_numpy_bit_for_bit(n):
    from opskit.analyses.drift.bins import sorted_quantiles

    rng = np.random.default_rng(n)
    x = np.round(rng.normal(size=n), 2)  # ties included
    probs = np.r_[np.linspace(0.0, 1.0, 11), np.linspace(0.0, 1.0, 501), 0.123456789]
    assert sorted_quantiles(np.sort(x), probs).tolist() == np.quantile(x, probs).tolist()
