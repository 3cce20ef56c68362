"""Training progress judged from the records of :func:`opskit.sources.training_logs.read_training_logs`.

:func:`analyze_training` finds non-finite losses, loss spikes (robust z-score against a rolling
window of the preceding records), the last step per rank, the rank that stopped first, stalls and
throughput per rank; :mod:`opskit.analyses.training.verdicts` turns the result into verdicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from opskit.analyses.training.settings import DEFAULTS, TrainingSettings
from opskit.errors import InputError

RANK_COLUMNS = [
    "rank",
    "file",
    "last_line",
    "records",
    "first_step",
    "last_step",
    "last_loss",
    "last_record_at",
    "last_line_at",
]

THROUGHPUT_COLUMNS = ["rank", "unit", "records", "median", "recent_median", "vs_fleet", "vs_own", "straggler",
                      "degrading", "file", "line"]  # fmt: skip


@dataclass(frozen=True)
class TrainingResult:
    """What the logs say about a run: records, per-rank progress, non-finite losses, spikes, stalls."""

    records: pd.DataFrame
    ranks: pd.DataFrame
    nonfinite: pd.DataFrame
    spikes: pd.DataFrame
    stalls: pd.DataFrame
    first_stopped_rank: int | None
    stopped_first_reason: str
    max_step: int | None
    settings: TrainingSettings
    formats: tuple[str, ...] = field(default=())
    throughput: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=THROUGHPUT_COLUMNS))

    @property
    def first_nonfinite_step(self) -> int | None:
        """The earliest step with a NaN/inf loss on any rank, or None."""
        return None if self.nonfinite.empty else int(self.nonfinite["step"].min())

    @property
    def lagging_ranks(self) -> list[int]:
        """Ranks whose last step is below the furthest rank's."""
        if self.ranks.empty or self.max_step is None:
            return []
        return [int(r) for r in self.ranks.loc[self.ranks["last_step"] < self.max_step, "rank"]]


def find_nonfinite_loss(records: pd.DataFrame) -> pd.DataFrame:
    """Records whose logged loss is NaN or infinite (a record without a loss is not reported)."""
    loss = records["loss"].to_numpy(dtype=float)
    bad = records["loss_logged"].to_numpy(dtype=bool) & ~np.isfinite(loss)
    return records.loc[bad].reset_index(drop=True)


def robust_z_scores(values: np.ndarray, *, window: int, min_periods: int) -> tuple[np.ndarray, np.ndarray]:
    """For each value, the median of the previous ``window`` values and the robust z-score against them.

    ``z = (x - median) / (1.4826 * MAD)`` with the MAD of the same window; NaN where fewer than
    ``min_periods`` earlier values exist. Vectorised over full windows.
    """
    n = len(values)
    medians = np.full(n, np.nan)
    mads = np.full(n, np.nan)
    for i in range(min(min_periods, n), min(window, n)):  # the first, partial windows
        past = values[:i]
        medians[i] = np.median(past)
        mads[i] = np.median(np.abs(past - medians[i]))
    if n > window:
        windows = np.lib.stride_tricks.sliding_window_view(values[:-1], window)
        med = np.median(windows, axis=1)
        medians[window:] = med
        mads[window:] = np.median(np.abs(windows - med[:, None]), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (values - medians) / (1.4826 * np.maximum(mads, 1e-12))
    return medians, z


def find_loss_spikes(records: pd.DataFrame, *, window: int = 50, z_threshold: float = 6.0) -> pd.DataFrame:
    """Loss spikes per rank: robust z = (loss - median) / (1.4826 * MAD) over the previous ``window`` losses.

    Only finite losses take part; a spike needs at least ``window // 4`` (and 5) earlier losses and must also
    exceed the median by 10 %, so that a perfectly flat curve (MAD 0) does not flag noise.
    Adds columns ``median``, ``robust_z``.
    """
    out = []
    min_periods = max(5, window // 4)
    finite = records.loc[np.isfinite(records["loss"].to_numpy(dtype=float))]
    for _, group in finite.groupby("rank", sort=True):
        group = group.sort_values(["step", "line"])
        loss = group["loss"].to_numpy(dtype=float)
        median, z = robust_z_scores(loss, window=window, min_periods=min_periods)
        hit = (z > z_threshold) & (loss > median * 1.10)
        out.append(group.loc[hit].assign(median=median[hit], robust_z=z[hit]))
    if not out:
        return records.iloc[0:0].assign(median=pd.Series(dtype=float), robust_z=pd.Series(dtype=float))
    return pd.concat(out).reset_index(drop=True)


def summarize_ranks(records: pd.DataFrame) -> pd.DataFrame:
    """One row per rank: records, first/last step, last loss, time of the last record and of the last line."""
    last_line_at = records.attrs.get("last_line_at", {})
    rows = []
    for rank, group in records.groupby("rank", sort=True):
        group = group.sort_values(["step", "line"])
        last = group.iloc[-1]
        seen = [ts for (f, r), ts in last_line_at.items() if r == rank]
        rows.append(
            {
                "rank": int(rank),
                "file": last["file"],
                "last_line": int(last["line"]),
                "records": len(group),
                "first_step": int(group["step"].min()),
                "last_step": int(group["step"].max()),
                "last_loss": float(last["loss"]),
                "last_record_at": group["timestamp"].max(),
                "last_line_at": max(seen) if seen else group["timestamp"].max(),
            }
        )
    return pd.DataFrame(rows, columns=RANK_COLUMNS)


def find_first_stopped(ranks: pd.DataFrame) -> tuple[int | None, str]:
    """The rank that stopped first and why: the lowest last step, ties broken by the earliest last record.

    Returns ``(None, reason)`` when there is a single rank or every rank reached the same step at about
    the same time (within one second).
    """
    if len(ranks) < 2:
        return None, "a single rank: nothing to compare"
    low = int(ranks["last_step"].min())
    high = int(ranks["last_step"].max())
    if low < high:
        behind = ranks.loc[ranks["last_step"] == low]
        if len(behind) == 1 or behind["last_record_at"].isna().all():
            rank = int(behind.iloc[0]["rank"])
        else:
            rank = int(behind.sort_values("last_record_at").iloc[0]["rank"])
        return rank, f"rank {rank} reached step {low} while the furthest rank reached step {high}"
    times = ranks["last_line_at"].dropna()
    if len(times) == len(ranks) and (times.max() - times.min()) > pd.Timedelta(seconds=1):
        order = ranks.sort_values("last_line_at")
        first, second = order.iloc[0], order.iloc[1]
        if second["last_line_at"] - first["last_line_at"] > pd.Timedelta(seconds=1):
            rank = int(first["rank"])
            gap = (second["last_line_at"] - first["last_line_at"]).total_seconds()
            return rank, f"every rank reached step {high}; rank {rank} went silent {gap:.0f} s before the others"
    return None, f"every rank reached step {high}"


def find_stalls(records: pd.DataFrame, *, factor: float = 5.0, min_gap_s: float = 60.0) -> pd.DataFrame:
    """Gaps between consecutive records of a rank longer than ``factor`` x its median interval and ``min_gap_s``.

    Columns: ``rank, file, line, after_step, gap_s, median_s``.
    """
    rows = []
    timed = records.dropna(subset=["timestamp"])
    for rank, group in timed.groupby("rank", sort=True):
        group = group.sort_values("line")
        gaps = group["timestamp"].diff().dt.total_seconds()
        median = float(gaps.median()) if gaps.notna().any() else math.nan
        if math.isnan(median):
            continue
        limit = max(factor * median, min_gap_s)
        for idx in gaps.index[gaps > limit]:
            pos = group.index.get_loc(idx)
            rows.append(
                {
                    "rank": int(rank),
                    "file": group.loc[idx, "file"],
                    "line": int(group.loc[idx, "line"]),
                    "after_step": int(group.iloc[pos - 1]["step"]),
                    "gap_s": float(gaps[idx]),
                    "median_s": median,
                }
            )
    return pd.DataFrame(rows, columns=["rank", "file", "line", "after_step", "gap_s", "median_s"])


def summarize_throughput(records: pd.DataFrame, *, recent: int = 20, tolerance: float = 0.2) -> pd.DataFrame:
    """Throughput per rank (tokens/s, else samples/s): median, median of the last ``recent`` records.

    ``straggler``: the rank's median is more than ``tolerance`` below the median of all ranks (a slow GPU or
    link holds every rank back in synchronous training); ``degrading``: its recent median fell more than
    ``tolerance`` below its own (throttling, a failing GPU, a slowing data loader). Columns:
    :data:`THROUGHPUT_COLUMNS`; empty when the logs print no throughput.
    """
    unit = next((c for c in ("tokens_per_s", "samples_per_s") if records[c].notna().any()), None)
    if unit is None:
        return pd.DataFrame(columns=THROUGHPUT_COLUMNS)
    rows = []
    for rank, group in records.dropna(subset=[unit]).groupby("rank", sort=True):
        group = group.sort_values(["step", "line"])
        last = group.iloc[-1]
        rows.append({"rank": int(rank), "unit": unit, "records": len(group), "median": float(group[unit].median()),
                     "recent_median": float(group[unit].tail(recent).median()), "file": last["file"],
                     "line": int(last["line"])})  # fmt: skip
    frame = pd.DataFrame(rows)
    fleet = float(frame["median"].median())
    frame["vs_fleet"] = frame["median"] / fleet if fleet > 0 else np.nan
    frame["vs_own"] = frame["recent_median"] / frame["median"].where(frame["median"] > 0)
    frame["straggler"] = (len(frame) > 1) & (frame["vs_fleet"] < 1 - tolerance)
    frame["degrading"] = (frame["records"] >= 2 * recent) & (frame["vs_own"] < 1 - tolerance)
    return frame[THROUGHPUT_COLUMNS]


def analyze_training(records: pd.DataFrame, settings: TrainingSettings = DEFAULTS) -> TrainingResult:
    """Judge the training records of a run (see :func:`opskit.sources.training_logs.read_training_logs`)."""
    if records.empty:
        raise InputError(
            "no training progress lines (step/loss) found in the logs",
            hint="opskit reads HF Trainer dicts, Lightning bars, DeepSpeed, Megatron and step=/loss= lines",
        )
    ranks = summarize_ranks(records)
    first, reason = find_first_stopped(ranks)
    return TrainingResult(
        records=records,
        ranks=ranks,
        nonfinite=find_nonfinite_loss(records),
        spikes=find_loss_spikes(records, window=settings.spike_window, z_threshold=settings.spike_z),
        stalls=find_stalls(records, factor=settings.stall_factor, min_gap_s=settings.stall_min_gap_s),
        first_stopped_rank=first,
        stopped_first_reason=reason,
        max_step=int(ranks["last_step"].max()),
        settings=settings,
        formats=tuple(sorted(records["format"].dropna().unique())),
        throughput=summarize_throughput(records, tolerance=settings.throughput_tolerance),
    )
