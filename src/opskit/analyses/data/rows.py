"""Verdicts on whole rows: exact duplicates, duplicate keys, and the label distribution against the reference."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from opskit.analyses.data.settings import DataCheckSettings
from opskit.checks import Status, Verdict
from opskit.sources.dataset_files import FILE_COLUMN, LINE_COLUMN


def _data_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in (FILE_COLUMN, LINE_COLUMN)]


def _pairs(frame: pd.DataFrame, duplicated: pd.Series, subset: list[str], n: int) -> str:
    """``file:line = file:line`` for the first ``n`` repeats and the row each repeats."""
    firsts = frame.drop_duplicates(subset=subset, keep="first")
    key = firsts.set_index(subset)
    shown = []
    for _, row in frame[duplicated].head(n).iterrows():
        original = key.loc[tuple(row[c] for c in subset) if len(subset) > 1 else row[subset[0]]]
        shown.append(f"{row[FILE_COLUMN]}:{row[LINE_COLUMN]} repeats {original[FILE_COLUMN]}:{original[LINE_COLUMN]}")
    return "; ".join(shown)


def duplicate_verdicts(frame: pd.DataFrame, key_columns: Sequence[str], settings: DataCheckSettings) -> list[Verdict]:
    """WARN for exact duplicate rows, FAIL for rows that repeat a key (a key must be unique)."""
    columns = _data_columns(frame)
    rows = []
    exact = frame.duplicated(subset=columns, keep="first")
    count = int(exact.sum())
    rows.append(
        Verdict(
            "duplicate rows",
            Status.WARN if count else Status.PASS,
            subject="all columns",
            observed=count,
            threshold=0,
            unit="rows",
            evidence=_pairs(frame, exact, columns, settings.examples) if count else None,
            message=f"{count} row(s) repeat an earlier row exactly ({count / max(len(frame), 1):.2%})"
            if count
            else "no row repeats another",
            next_step="drop the repeats (a copy appended twice?) before training" if count else None,
        )
    )
    key = [c for c in key_columns if c in frame.columns]
    missing = [c for c in key_columns if c not in frame.columns]
    if missing:
        rows.append(
            Verdict(
                "duplicate keys",
                Status.ERROR,
                subject=", ".join(key_columns),
                message=f"key column(s) {missing} are not in the data",
                next_step="name key columns the data has (key_columns)",
            )
        )
    elif key:
        repeats = frame.duplicated(subset=key, keep="first") & ~exact
        count = int(repeats.sum())
        rows.append(
            Verdict(
                "duplicate keys",
                Status.FAIL if count else Status.PASS,
                subject=", ".join(key),
                observed=count,
                threshold=0,
                unit="rows",
                evidence=_pairs(frame, repeats, key, settings.examples) if count else None,
                message=f"{count} row(s) repeat the key of an earlier row with other values"
                if count
                else "every key is unique",
                next_step="find which copy is right; two records for one key train on contradicting data"
                if count
                else None,
            )
        )
    return rows


def label_verdicts(frame: pd.DataFrame, reference: pd.DataFrame | None, settings: DataCheckSettings) -> list[Verdict]:
    """Classes of the reference missing (FAIL), new classes (WARN), distribution moved (WARN, total variation)."""
    label = settings.label_column
    if not label:
        return []
    if label not in frame.columns:
        names = ", ".join(_data_columns(frame)[:12])
        return [
            Verdict(
                "label classes",
                Status.SKIP,
                subject=label,
                message=f"no column {label!r} in the data: label checks not run (columns: {names})",
                next_step="name the label column the data has (label_column), or None when it has none",
            )
        ]
    current = frame[label].dropna().astype(str).value_counts(normalize=True)
    if reference is None or label not in reference.columns:
        top = ", ".join(f"{k} {v:.1%}" for k, v in current.head(6).items())
        status = Status.FAIL if len(current) < 2 else Status.PASS
        return [
            Verdict(
                "label classes",
                status,
                subject=label,
                observed=len(current),
                unit="classes",
                evidence=top,
                message="one class only: nothing to learn from" if status == Status.FAIL else "no reference to compare",
            )
        ]
    ref = reference[label].dropna().astype(str).value_counts(normalize=True)
    gone = sorted(set(ref.index) - set(current.index))
    new = sorted(set(current.index) - set(ref.index))
    rows = [
        Verdict(
            "label classes",
            Status.FAIL if gone else Status.WARN if new else Status.PASS,
            subject=label,
            observed=len(current),
            threshold=len(ref),
            unit="classes",
            evidence=(f"missing: {', '.join(gone)}" if gone else "")
            + ("; " if gone and new else "")
            + (f"new: {', '.join(new)}" if new else ""),
            message=f"class(es) {', '.join(gone)} of the reference ({', '.join(f'{ref[g]:.1%}' for g in gone)}) "
            "have no row"
            if gone
            else f"class(es) {', '.join(new)} are not in the reference"
            if new
            else "every class of the reference is present",
            next_step="check the filter or the join that dropped them before training" if gone else None,
        )
    ]
    both = ref.index.union(current.index)
    tvd = float(0.5 * (ref.reindex(both, fill_value=0) - current.reindex(both, fill_value=0)).abs().sum())
    rows.append(
        Verdict(
            "label distribution",
            Status.WARN if tvd > settings.label_tvd else Status.PASS,
            subject=label,
            observed=round(tvd, 3),
            threshold=settings.label_tvd,
            unit="total variation",
            evidence=", ".join(f"{k} {ref.get(k, 0):.1%} -> {current.get(k, 0):.1%}" for k in both[:6]),
            message="share of each class against the reference",
        )
    )
    return rows
