"""Across incidents: recurring root-cause classes, mean times by class and severity, overdue action items."""

from __future__ import annotations

import pandas as pd

INDEX_COLUMNS = [
    "id",
    "title",
    "severity",
    "status",
    "root_cause_class",
    "time_to_detect_min",
    "time_to_resolve_min",
    "open_actions",
    "overdue_actions",
]


def recurring_classes(index: pd.DataFrame) -> pd.DataFrame:
    """Incidents per root-cause class, most frequent first."""
    known = index.dropna(subset=["root_cause_class"])
    return known.groupby("root_cause_class").size().rename("incidents").sort_values(ascending=False).reset_index()


def mean_times(index: pd.DataFrame) -> pd.DataFrame:
    """Mean time to detect and to resolve (minutes) by root-cause class and severity."""
    known = index.fillna({"root_cause_class": "unknown", "severity": "unknown"})
    grouped = known.groupby(["root_cause_class", "severity"])
    return (
        grouped.agg(
            incidents=("id", "size"),
            mean_time_to_detect_min=("time_to_detect_min", "mean"),
            mean_time_to_resolve_min=("time_to_resolve_min", "mean"),
        )
        .round(1)
        .reset_index()
    )
