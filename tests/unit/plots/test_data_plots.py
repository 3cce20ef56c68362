"""Data-check plots draw on the Axes they are given: current against reference, outlier bounds, schema range."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from opskit.analyses.data.analysis import check_data
from opskit.analyses.data.columns import MAD_SCALE
from opskit.analyses.data.settings import DataCheckSettings
from opskit.plots.data import plot_column_histogram, plot_column_histograms
from opskit.sources.dataset_files import scan_dataset
from opskit.sources.dataset_schema import ExpectedField, ExpectedSchema


@pytest.fixture
def checked(tmp_path):
    rng = np.random.default_rng(3)
    current, reference = tmp_path / "current", tmp_path / "reference"
    current.mkdir()
    reference.mkdir()
    ages = [*rng.integers(20, 60, 400), 150, 160]  # two beyond the schema's maximum
    (current / "a.csv").write_text(
        "age,score\n" + "".join(f"{a},{s:.3f}\n" for a, s in zip(ages, rng.random(402), strict=True))
    )
    (reference / "a.csv").write_text(
        "age,score\n"
        + "".join(f"{a},{s:.3f}\n" for a, s in zip(rng.integers(20, 60, 300), rng.random(300), strict=True))
    )
    schema = ExpectedSchema((ExpectedField("age", "integer", minimum=0, maximum=120), ExpectedField("score", "number")))
    return check_data(
        current, scan_dataset(current), DataCheckSettings(), schema=schema, reference=scan_dataset(reference)
    )


def test_histogram_draws_current_reference_bounds_and_range_on_the_given_axes(checked):
    fig, ax = plt.subplots()
    assert plot_column_histogram(checked, "age", ax=ax) is ax
    check = next(c for c in checked.columns if c.column == "age")
    bound = checked.settings.outlier_z * MAD_SCALE * check.mad
    lines = sorted(line.get_xdata()[0] for line in ax.get_lines())
    assert lines == pytest.approx(sorted([check.median - bound, check.median + bound, 0, 120]))
    counts = [round(sum(p.get_height() for p in c)) for c in ax.containers]
    assert counts == [402]  # the filled bars are the current rows
    assert [p.get_label() for p in ax.patches if p.get_label() == "reference"] == ["reference"]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "age (value)" and ax.get_ylabel() == "rows (log)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["current", "reference"]
    plt.close(fig)


def test_histograms_side_by_side_with_one_legend(checked):
    axes = plot_column_histograms(checked, ["age", "score"])
    assert [ax.get_title() for ax in axes] == ["age", "score"]
    assert axes[0].get_legend() is not None and axes[1].get_legend() is None
    assert axes[0].figure is axes[1].figure
    plt.close(axes[0].figure)


def test_a_column_that_was_not_checked_is_named(checked):
    with pytest.raises(KeyError, match="'height' is not a checked column"):
        plot_column_histogram(checked, "height")
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="2 columns to plot on 1 Axes"):
        plot_column_histograms(checked, ["age", "score"], axes=[ax])
    plt.close(fig)
