"""Drift over time: the current data cut into windows (day, week, month, or N equal chunks).

:func:`psi_trend` gives the PSI of every feature per window against the same reference bins, so a
slow drift shows as a rising line well before the overall PSI crosses 0.2.
:func:`trend_verdicts` flags a feature whose PSI is rising and whose latest window is already at
the watch level while the whole current set is not yet in drift.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from opskit.analyses.drift.counts import CurrentCounts
from opskit.analyses.drift.methods import PSI_WATCH, classify_psi, psi_from_counts
from opskit.analyses.drift.profile import ReferenceProfile
from opskit.analyses.drift.significance import ALPHA, permutation_p, psi_rows
from opskit.checks import Status, Verdict
from opskit.errors import InputError

CHECK_TREND = "drift trend"
TOO_FEW_ROWS = "too few rows"  # the level of a window too small to judge
NOT_SIGNIFICANT = "not significant"  # past a level, but its permutation p-value >= 0.05 (with permutations)
# Period aliases (not offset aliases: "MS"/"ME" are offsets and `to_period` refuses them).
_FREQ = {"hour": "h", "day": "D", "week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}
_OFFSET_TO_PERIOD = {"MS": "M", "ME": "M", "QS": "Q", "QE": "Q", "YS": "Y", "YE": "Y", "AS": "Y", "A": "Y", "H": "h"}


def split_windows(
    frame: pd.DataFrame, *, timestamp: str | None = None, window: str | int = "week"
) -> list[tuple[str, pd.Timestamp | None, pd.DataFrame]]:
    """``(label, start, rows)`` per window, in time order.

    ``window`` is ``"hour"``, ``"day"``, ``"week"`` (weeks run Monday to Sunday), ``"month"``, or a
    number N of equal chunks by row order (after sorting by ``timestamp`` when given). Calendar
    windows need ``timestamp``.
    """
    chunks = _as_chunks(window)
    if timestamp is not None:
        if timestamp not in frame.columns:
            raise InputError("timestamp column not in the current data", column=timestamp,
                             hint="columns: " + ", ".join(map(str, frame.columns[:30])))  # fmt: skip
        ts = pd.to_datetime(frame[timestamp], errors="coerce", utc=True)
        if ts.isna().all():
            raise InputError("timestamp column has no readable times", column=timestamp,
                             hint="use ISO 8601 text or a datetime column")  # fmt: skip
        frame = frame.assign(**{timestamp: ts}).sort_values(timestamp, kind="stable")
    if chunks is not None:
        out = []
        for i, idx in enumerate(np.array_split(np.arange(len(frame)), chunks)):
            part = frame.iloc[idx]
            start = part[timestamp].iloc[0] if timestamp is not None and len(part) else None
            out.append((f"chunk {i + 1}", start, part))
        return out
    if timestamp is None:
        raise InputError(f"window {window!r} needs a timestamp column", hint="set timestamp, or use a number of chunks")
    labels, starts = window_labels(frame[timestamp], str(window))
    out = []
    for label, idx in frame.groupby(labels.to_numpy(), sort=False).indices.items():
        out.append((label, starts.iloc[idx[0]], frame.iloc[idx]))
    return sorted(out, key=lambda w: w[1])


def _as_chunks(window: str | int) -> int | None:
    if isinstance(window, int) or str(window).strip().isdigit():
        n = int(window)
        if n < 1:
            raise InputError(f"number of chunks must be at least 1, got {n}")
        return n
    return None


def _period_alias(window: str) -> str:
    """The pandas period alias for ``window``: a name (hour ... year) or a pandas alias ("MS", "W-MON", "10D").

    A multiple of a fixed length ("10D", "6h") cuts windows aligned on 1970-01-01 (pandas `floor`).
    """
    name = window.strip()
    freq = _FREQ.get(name.lower()) or _OFFSET_TO_PERIOD.get(name.lstrip("0123456789"))
    if freq is not None and name.lower() not in _FREQ:
        freq = name[: len(name) - len(name.lstrip("0123456789"))] + freq  # keep a multiple ("2MS" -> "2M")
    freq = freq or name
    try:
        pd.Period("2026-01-01", freq=freq)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"unknown window {window!r}",
            hint="use hour, day, week, month, quarter, year, a number of chunks, or a pandas period alias such as 2D",
        ) from exc
    return freq


def window_labels(ts: pd.Series, window: str) -> tuple[pd.Series, pd.Series]:
    """``(labels, starts)`` of the calendar window of each timestamp (UTC)."""
    freq = _period_alias(str(window))
    times = pd.to_datetime(ts, errors="coerce", utc=True)
    naive = times.dt.tz_localize(None)
    if freq[:1].isdigit():  # a multiple ("10D", "6h"): periods do not group by it, flooring does
        try:
            starts = naive.dt.floor(freq)
        except ValueError as exc:
            raise InputError(
                f"window {window!r}: a multiple works for fixed lengths only (days, hours, minutes)",
                hint="use for example 10D or 6h, or month, quarter, year",
            ) from exc
    else:
        starts = naive.dt.to_period(freq).dt.start_time
    fmt = "%Y-%m-%d" if starts.dropna().eq(starts.dropna().dt.normalize()).all() else "%Y-%m-%d %H:%M"
    return starts.dt.strftime(fmt), starts


def psi_trend(
    profile: ReferenceProfile,
    current: pd.DataFrame | Iterable[pd.DataFrame | pa.RecordBatch],
    *,
    timestamp: str | None = None,
    window: str | int = "week",
    features: Iterable[str] | None = None,
    watch: float = PSI_WATCH,
    drift: float = 0.2,
    min_rows_per_bin: int = 10,
    permutations: int = 0,
) -> pd.DataFrame:
    """PSI per feature per window: columns ``window``, ``start``, ``rows``, ``feature``, ``psi``, ``level``.

    ``level`` follows the user's ``watch`` and ``drift`` thresholds; a window with fewer than
    ``min_rows_per_bin`` rows per bin of the feature has level ``"too few rows"`` (its PSI is
    mostly noise) and is left out of the trend verdict. With ``permutations`` (> 0) a ``p_value``
    column holds PSI's permutation p-value, and a window past the watch level with p >= 0.05 has
    level ``"not significant"`` (also left out of the verdict).

    ``current`` is a DataFrame, or an iterable of chunks (DataFrames or Arrow record batches) read
    one at a time: then windows must be calendar windows of ``timestamp``, and memory stays
    bounded by the windows' counts.
    """
    names = list(features) if features is not None else [n for n, f in profile.features.items() if f.comparable]
    windows: dict[str, tuple[pd.Timestamp | None, CurrentCounts]] = {}
    if isinstance(current, pd.DataFrame):
        for label, start, part in split_windows(current, timestamp=timestamp, window=window):
            counted = windows.setdefault(label, (start, CurrentCounts(profile)))[1]
            counted.add(part[[c for c in names if c in part.columns]])
    else:
        if _as_chunks(window) is not None or timestamp is None:
            raise InputError(
                "a number of chunks as windows needs the current data in memory",
                hint="with chunked reading use calendar windows (day, week, ...) of a timestamp column",
            )
        for chunk in current:
            frame = chunk if isinstance(chunk, pd.DataFrame) else chunk.to_pandas()
            if timestamp not in frame.columns:
                raise InputError("timestamp column not in the current data", column=timestamp)
            labels, starts = window_labels(frame[timestamp], str(window))
            for label, idx in frame.groupby(labels.to_numpy(), sort=False).indices.items():
                start = starts.iloc[idx[0]]
                counted = windows.setdefault(label, (start, CurrentCounts(profile)))[1]
                counted.add(frame.iloc[idx][[c for c in names if c in frame.columns]])
    rows = []
    for label in sorted(windows, key=lambda k: (windows[k][0] is None, windows[k][0] or pd.Timestamp(0), k)):
        start, counted = windows[label]
        for name in names:
            fc = counted.features.get(name)
            if fc is None or fc.error or name not in counted.columns_seen or not counted.n_rows:
                continue
            fp = profile.features[name]
            psi = psi_from_counts(np.asarray(fp.counts), fc.counts)
            enough = counted.n_rows >= min_rows_per_bin * max(fp.n_bins, 1)
            level = classify_psi(psi, watch, drift) if enough else TOO_FEW_ROWS
            row = {"window": label, "start": start, "rows": counted.n_rows, "feature": name, "psi": psi, "level": level}
            if permutations > 0:
                row["p_value"] = permutation_p(np.asarray(fp.counts), fc.counts, psi_rows, permutations=permutations)
                if level in ("watch", "drift") and row["p_value"] >= ALPHA:
                    row["level"] = NOT_SIGNIFICANT
            rows.append(row)
    columns = ["window", "start", "rows", "feature", "psi", "level", *(["p_value"] if permutations > 0 else [])]
    return pd.DataFrame(rows, columns=columns)


def trend_verdicts(
    trend: pd.DataFrame, *, overall_status: dict[str, Status], min_windows: int = 3, watch: float = PSI_WATCH
) -> list[Verdict]:
    """WARN for a feature not already in drift whose PSI rises across windows and reached the ``watch`` level.

    Windows with too few rows (level ``"too few rows"``) or not significant are left out.

    Rising: the least-squares slope of PSI over window index is positive and the last window's PSI
    is the highest of the first half's by more than half the watch level.
    """
    out = []
    for name, part in trend[~trend["level"].isin([TOO_FEW_ROWS, NOT_SIGNIFICANT])].groupby("feature", sort=True):
        if len(part) < min_windows or overall_status.get(name) == Status.FAIL:
            continue
        psi = part["psi"].to_numpy()
        slope = float(np.polyfit(np.arange(len(psi)), psi, 1)[0])
        first_half = psi[: max(1, len(psi) // 2)].max()
        if slope > 0 and psi[-1] >= watch and psi[-1] - first_half > watch / 2:
            out.append(
                Verdict(
                    CHECK_TREND,
                    Status.WARN,
                    subject=str(name),
                    observed=round(float(psi[-1]), 4),
                    threshold=watch,
                    unit="PSI",
                    evidence="PSI per window: "
                    + ", ".join(f"{w} {p:.3f}" for w, p in zip(part["window"], psi, strict=True)),
                    message=f"rising by {slope:.3f} PSI per window; latest window {part['level'].iloc[-1]}",
                    next_step="a slow drift: find what changes upstream before the whole set crosses the drift level",
                )
            )
    return out
