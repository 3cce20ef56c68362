"""What ``analyze_drift`` found, and the notebook's sections, ready to show and masked.

:class:`AnalyzeDriftResult` holds the verdicts and the parts they were judged from; a part is None
when its input could not be read (its check is an ERROR row) or could not be computed (a SKIP),
and the section that needs it says so instead of failing. The small helpers (``feature_table``,
``bin_table``, ``trend_table``, ...) are the tables and sentences the sections are made of.
Plots are drawn only when a section is asked for (matplotlib is not imported before).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from opskit.analyses.drift.accuracy import CHECK_ACCURACY, AccuracyResult
from opskit.analyses.drift.features import CHECK_FEATURE, DriftResult
from opskit.analyses.drift.methods import PSI_DRIFT, PSI_WATCH
from opskit.analyses.drift.profile import ReferenceProfile
from opskit.analyses.drift.settings import DriftSettings
from opskit.analyses.drift.windows import CHECK_TREND
from opskit.checks import Status, VerdictTable
from opskit.privacy import mask, mask_frame
from opskit.runbooks.display import Markdown, Outputs, shown_once, table, unavailable

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class AnalyzeDriftResult:
    """The verdicts of an ``analyze_drift`` run and what is behind them (None where a check could not run)."""

    verdicts: VerdictTable
    settings: DriftSettings
    drift: DriftResult | None = None
    profile: ReferenceProfile | None = None
    trend: pd.DataFrame | None = None
    accuracy: AccuracyResult | None = None
    profile_path: Path | None = None
    top: int = 4

    @property
    def figures(self) -> dict[str, Any]:
        """Key figures for ``publish_summary``: feature counts and PSI, accuracy change, prediction PSI."""
        figures = dict(self.drift.figures()) if self.drift is not None else {}
        acc = self.accuracy
        if acc is not None:
            overall = acc.overall()
            figures.update(
                reference_accuracy=round(acc.reference_accuracy, 4),
                current_accuracy=round(float(overall["accuracy"]), 4),
                accuracy_change_pp=round(float(overall["change"]) * 100, 2),
                windows_accuracy_drop=int((acc.windows["status"].iloc[:-1] == "FAIL").sum()),
            )
        if self.drift is not None and self.drift.prediction is not None:
            figures["prediction_psi"] = self.drift.prediction.psi
        return figures

    @property
    def headline(self) -> dict[str, Any]:
        """The report header's figures: features in drift, the worst feature's PSI, accuracy change, rows compared."""
        r = self.drift
        if r is None:
            return {"features in drift": "not compared (see the ERROR row)"}
        compared = sum(f.psi is not None for f in r.features)
        out: dict[str, Any] = {"features in drift": f"{len(r.by_status(Status.FAIL))} of {compared}"}
        worst = next((f for f in r.features if f.psi is not None), None)
        if worst is not None:
            out["worst feature"] = f"{mask(worst.name)} (PSI {worst.psi:.3f}, {worst.status.value})"
        figures = self.figures
        if "accuracy_change_pp" in figures:
            out["accuracy change"] = (
                f"{figures['accuracy_change_pp']:+.1f} points ({figures['reference_accuracy']:.1%} -> "
                f"{figures['current_accuracy']:.1%})"
            )
        out["rows compared"] = f"{r.n_reference:,} reference, {r.n_current:,} current"
        return out

    def _why(self, check: str) -> str | None:
        """The message of ``check``'s first ERROR or SKIP row: why a part is missing."""
        for row in self.verdicts.find(check):
            if row.status in (Status.ERROR, Status.SKIP):
                return row.message
        return None

    # -- sections ------------------------------------------------------------------------------
    def feature_section(self) -> Outputs | Markdown:
        """Rows, verdict method and profile in a sentence; the features ranked by PSI; their PSI as bars."""
        if self.drift is None:
            return unavailable("The feature comparison", self._why(CHECK_FEATURE))
        from opskit.plots.drift import plot_psi_by_feature

        ranked = mask_frame(self.feature_table())
        plot = shown_once(plot_psi_by_feature(ranked)) if self.has_psi else None
        return Outputs([self.overview(), table(ranked, empty="No feature to compare."), plot])

    def top_features_section(self) -> Outputs | Markdown:
        """For each of the ``top`` features: reference against current share per bin, how it was binned, its bins."""
        if self.drift is None:
            return unavailable("The bins of the top features", self._why(CHECK_FEATURE))
        names = self.top_features()
        if not names:
            return Markdown("No feature has a PSI: nothing to compare bin by bin.")
        from opskit.plots.drift import plot_bin_shares

        items: list[object] = []
        for name in names:
            bins = self.bin_table(name)
            items += [shown_once(plot_bin_shares(bins, mask(name))), self.feature_note(name), table(bins)]
        return Outputs(items)

    def trend_section(self) -> Outputs | Markdown:
        """The PSI per window of the features with the highest PSI, as lines and as a table."""
        if not self.has_trend:
            return unavailable("The PSI per window", self._why(CHECK_TREND) or "no trend: see the verdict table")
        from opskit.plots.drift import MAX_TICKS, plot_psi_heatmap, plot_psi_trend

        trend = mask_frame(self.trend)
        if trend["window"].nunique() > MAX_TICKS:  # lines of many windows overlap: one cell per feature and window
            th = self.drift.thresholds if self.drift is not None else {}
            features = [mask(name) for name in self.trend_features(30)]
            watch, drift = th.get("psi_watch", PSI_WATCH), th.get("psi", PSI_DRIFT)
            plot = shown_once(plot_psi_heatmap(trend, features=features, watch=watch, drift=drift))
        else:
            plot = shown_once(plot_psi_trend(trend, features=[mask(name) for name in self.trend_features()]))
        flagged, calm = self.trend_flagged_table()
        return Outputs([plot, self.trend_note(calm), table(flagged.rename(columns=mask))])  # features are the columns

    def model_section(self) -> Outputs:
        """Prediction drift (the prediction's bins) and accuracy per window against the reference."""
        from opskit.plots.drift import plot_accuracy_by_window, plot_bin_shares

        prediction = self.prediction_bins()
        if prediction is not None:
            bins, title = prediction
            shown: object = shown_once(plot_bin_shares(mask_frame(bins), mask(title)))
        else:
            shown = unavailable("Prediction drift", self._prediction_why())
        acc = self.accuracy
        if acc is None:
            return Outputs([shown, unavailable("Accuracy per window", self._why(CHECK_ACCURACY))])
        plot = shown_once(plot_accuracy_by_window(acc.windows, acc.reference_accuracy, tolerance=acc.tolerance))
        return Outputs([shown, plot, table(self.accuracy_table())])

    def profile_section(self) -> Markdown:
        """The reference profile: its size, bins, origin and where it was saved."""
        return self.profile_note()

    # -- the tables and sentences the sections are made of --------------------------------------
    def overview(self) -> Markdown:
        """One Markdown sentence: rows on each side, the verdict method and threshold, the profile."""
        r = self.drift
        if r is None:
            return Markdown("The features could not be compared: see the ERROR row above.")
        return Markdown(
            f"{r.n_reference:,} reference rows, {r.n_current:,} current rows; verdict method "
            f"**{r.method}** (threshold {r.thresholds[r.method]}); profile opskit "
            f"{r.profile.opskit_version}, data {r.profile.data_hash[:19]}…"
        )

    def feature_table(self) -> pd.DataFrame:
        """Features ranked by PSI with type, level, verdict method and companions (empty without a result)."""
        return self.drift.table().round(4) if self.drift is not None else pd.DataFrame()

    @property
    def has_psi(self) -> bool:
        """True when at least one feature has a PSI (there is something to plot)."""
        return self.drift is not None and any(f.psi is not None for f in self.drift.features)

    def top_features(self, n: int | None = None) -> list[str]:
        """The ``n`` (default ``top``) features with the highest PSI."""
        return self.drift.top(self.top if n is None else n) if self.drift is not None else []

    def bin_table(self, name: str) -> pd.DataFrame:
        """The PSI bin table of one feature, text masked and rounded for display."""
        return mask_frame(self.drift.bin_tables[name]).round(4)

    def feature_note(self, name: str) -> Markdown:
        """Markdown: the feature's name and how it was binned (ties collapsed, missing values, ...)."""
        return Markdown(f"**{name}**: {self.drift.feature(name).note or 'binning as stated above'}")

    @property
    def has_trend(self) -> bool:
        return self.trend is not None and len(self.trend) > 0

    def trend_features(self, n: int = 6) -> list[str]:
        """Among the ``n`` features with the highest PSI, those with a PSI per window."""
        if not self.has_trend:
            return []
        present = set(self.trend["feature"])
        return [name for name in self.top_features(n) if name in present]

    def trend_table(self) -> pd.DataFrame:
        """PSI per window (rows) and feature (columns)."""
        return self.trend.pivot(index="window", columns="feature", values="psi").round(3)

    def trend_flagged_table(self) -> tuple[pd.DataFrame, int]:
        """``(PSI per window and feature for the windows where a feature is at watch or drift, windows left out)``.

        A window where every feature is stable (or too small or not significant to judge) is a PASS
        window: it is counted, not listed, so 50-200 windows stay a short table.
        """
        flagged = self.trend.groupby("window", sort=False)["level"].agg(lambda s: s.isin(["watch", "drift"]).any())
        order = list(dict.fromkeys(self.trend["window"]))
        keep = [w for w in order if flagged.get(w, False)]
        pivot = self.trend_table().reindex(keep)
        return pivot, len(order) - len(keep)

    def trend_note(self, calm: int) -> Markdown:
        """Markdown: how many windows the table leaves out because every feature was stable in them."""
        total = self.trend["window"].nunique()
        if not calm:
            return Markdown(f"All {total} windows have a feature at the watch or drift level.")
        return Markdown(
            f"{total - calm} of {total} windows have a feature at the watch or drift level; the other {calm} "
            "(every feature stable, or too few rows to judge) are not listed."
        )

    def prediction_bins(self) -> tuple[pd.DataFrame, str] | None:
        """The prediction's bin table and a plot title, or None when prediction drift was not computed."""
        r = self.drift
        if r is None or r.prediction is None or r.prediction.name not in r.bin_tables:
            return None
        return r.bin_tables[r.prediction.name], f"prediction {r.prediction.name}"

    def _prediction_why(self) -> str:
        if self.drift is None:
            return self._why(CHECK_FEATURE) or "the features could not be compared"
        if not self.settings.prediction:
            return "no prediction column given"
        found = self.drift.prediction
        if found is None:
            return f"column {self.settings.prediction!r} not in the reference"
        return found.reason or "the prediction column could not be compared"

    def accuracy_table(self) -> pd.DataFrame:
        """Accuracy, change and its interval per window (and ``all``), rounded for display."""
        return self.accuracy.windows.round({"accuracy": 4, "change": 4, "ci_low": 4, "ci_high": 4})

    def profile_note(self) -> Markdown:
        """Markdown: the reference profile's size, bins, origin and where it was saved."""
        p = self.profile
        if p is None:
            return Markdown("No reference profile: the reference could not be read (see the verdict table).")
        return Markdown(
            f"profile of {p.n_rows:,} rows, {len(p.features)} columns, {p.bins} bins, "
            f"created {p.created_at} by opskit {p.opskit_version}, data `{p.data_hash}`"
            + (f"; saved to `{self.profile_path}`" if self.profile_path else "")
        )
