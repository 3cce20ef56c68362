"""How drift is judged: one frozen :class:`DriftSettings`, built once from a run's parameters.

Every stage (profiling the reference, comparing the features, the PSI per window, accuracy per
window) reads what it needs from the same value, so a setting keeps one name from the notebook's
parameters cell down to the computation. Values are only normalised here (lists to tuples, dicts
to read-only mappings); they are checked where they are used, so a bad one is that check's ERROR
row rather than a failed run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_COMPANIONS = ("ks", "chi2", "jensen_shannon", "wasserstein")
UNTIMED_CHUNKS = 4  # windows of the current data when there is no timestamp and no number of chunks


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class DriftSettings:
    """The drift parameters of a run: columns with a role, verdict method and thresholds, binning, windows.

    ``target`` and ``timestamp`` are never compared as features, nor is anything in ``exclude``;
    ``prediction`` is judged apart as prediction drift. ``thresholds`` override the methods'
    defaults (``psi``, ``psi_watch``, ``ks``, ...); ``column_types`` override inferred types.
    ``window`` is a calendar window (hour, day, week, month) of ``timestamp`` or a number of equal
    chunks; ``chunk_rows`` bounds the rows read at a time from the current data.
    ``min_rows_per_bin``: a feature is judged only when both sides have at least this many
    rows per bin (10 by default: 100 rows for 10 bins); below that it is SKIP
    "too few rows (n)", since PSI's value under no drift alone is about ``(bins - 1) * (1/n_ref + 1/n_cur)``.
    ``psi_permutations``: 0 (default) for none; else PSI also gets a permutation p-value from that
    many seeded permutations of the bin counts, and a PSI past a level with p >= 0.05 is a PASS
    "not significant" (a small window where noise alone reaches the levels).
    ``thresholds`` also take ``psi_watch`` (0.1) and ``ks_statistic`` (0.1: KS flags only when its
    statistic D exceeds it as well as p < ``ks``).
    """

    target: str | None = None
    prediction: str | None = None
    timestamp: str | None = None
    window: str = "week"
    method: str = "psi"
    companions: tuple[str, ...] = DEFAULT_COMPANIONS
    thresholds: Mapping[str, float] = field(default_factory=dict)
    bins: int = 10
    column_types: Mapping[str, str] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()
    accuracy_tolerance: float = 0.05
    chunk_rows: int = 1_000_000
    max_categories: int = 50
    min_rows_per_bin: int = 10  # fewer rows than this times the bins, on either side: SKIP "too few rows"
    psi_permutations: int = 0  # permutations for a PSI p-value; 0: none

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "window", str(self.window))
        set_(self, "companions", tuple(str(c) for c in _iterable(self.companions)))
        set_(self, "exclude", tuple(str(c) for c in _iterable(self.exclude)))
        set_(self, "thresholds", _frozen(self.thresholds))
        set_(self, "column_types", _frozen(self.column_types))
        if int(self.psi_permutations) < 0:
            raise ValueError(f"psi_permutations must be 0 (none) or more, got {self.psi_permutations}")
        set_(self, "psi_permutations", int(self.psi_permutations))

    @property
    def not_compared(self) -> tuple[str, ...]:
        """Columns never compared as features: the label, the timestamp and ``exclude``."""
        return (*(c for c in (self.target, self.timestamp) if c), *self.exclude)

    @property
    def window_is_chunks(self) -> bool:
        """True when ``window`` is a number of equal chunks rather than a calendar window."""
        return self.window.strip().isdigit()

    def windows_for(self, timestamp: str | None) -> str:
        """The window to cut by with ``timestamp`` (None: no usable time column, so equal chunks)."""
        return self.window if timestamp or self.window_is_chunks else str(UNTIMED_CHUNKS)

    @property
    def judges_accuracy(self) -> bool:
        """True when both a label and a prediction column are named."""
        return bool(self.target and self.prediction)


def _iterable(value: Iterable[str] | str | None) -> Iterable[str]:
    """``None`` is nothing, one name is one name, anything else is iterated."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value
