"""Drift plots draw on the Axes they are given, with units and the PSI levels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from opskit.analyses.drift.accuracy import accuracy_by_window
from opskit.analyses.drift.features import analyze_drift
from opskit.analyses.drift.profile import build_profile
from opskit.analyses.drift.settings import DriftSettings
from opskit.analyses.drift.windows import psi_trend
from opskit.plots.drift import plot_accuracy_by_window, plot_bin_shares, plot_psi_by_feature, plot_psi_trend


def test_plots_draw_on_the_given_axes():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.normal(size=2000), "label": rng.integers(0, 2, 2000)})
    cur = pd.DataFrame({"x": rng.normal(0.5, size=2000), "y": rng.normal(size=2000), "label": rng.integers(0, 2, 2000)})
    result = analyze_drift(ref, cur, DriftSettings(companions=(), exclude=["label"]))
    fig, axes = plt.subplots(2, 2)
    assert plot_psi_by_feature(result.table(), ax=axes[0, 0]) is axes[0, 0]
    assert axes[0, 0].get_xlabel().startswith("PSI")
    assert [line.get_xdata()[0] for line in axes[0, 0].get_lines()] == [0.1, 0.2]
    assert plot_bin_shares(result.bin_tables["x"], "x", ax=axes[0, 1]) is axes[0, 1]
    assert "%" in axes[0, 1].get_ylabel()
    trend = psi_trend(build_profile(ref), cur, window=4)
    assert plot_psi_trend(trend, ax=axes[1, 0]) is axes[1, 0]
    acc = accuracy_by_window(
        np.ones(100, bool), cur.assign(pred=cur["label"]), target="label", prediction="pred", window=2
    )
    assert plot_accuracy_by_window(acc.windows, acc.reference_accuracy, ax=axes[1, 1]) is axes[1, 1]
    plt.close(fig)


def test_heatmap_and_trend_keep_at_most_twelve_window_labels():
    from opskit.plots.drift import plot_psi_heatmap

    rows = [
        {"window": f"w{i:03d}", "feature": f, "psi": 0.01 * i, "level": "stable" if i < 10 else "drift"}
        for i in range(150)
        for f in ("a", "b")
    ]
    trend = pd.DataFrame(rows)
    ax = plot_psi_heatmap(trend, watch=0.1, drift=0.2)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) <= 12 and labels[0] == "w000" and labels[-1] == "w149"
    image = ax.get_images()[0].get_array()
    assert image.shape == (2, 150)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    lines = plot_psi_trend(trend)
    assert len(lines.get_xticklabels()) <= 12 and "150 windows" in lines.get_xlabel()
    plt.close("all")
