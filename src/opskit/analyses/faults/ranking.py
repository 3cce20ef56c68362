"""Rank findings so the root cause comes first: the catalogue's tier, then the first failure in time across ranks."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from opskit.analyses.faults.findings import Finding

_MAX_TS = pd.Timestamp.max.tz_localize("UTC")


def _order_key(f: Finding, source_index: dict[str, int]) -> tuple:
    inferred = 1 if "inferred" in f.details else 0  # a line that states the fault before one it was inferred from
    entry = 1 if "torchrun_entry" in f.details else 0  # the launcher's own line before its report's repeats
    generic = 0 if "torchrun" in f.details else 1  # a report's "Root Cause" before its generic ChildFailedError
    ts = f.timestamp if f.timestamp is not None else _MAX_TS
    return (f.tier, inferred, entry, generic, ts, source_index.get(f.file, 0), f.line)


def rank_findings(findings: Iterable[Finding], source_order: Iterable[str] = ()) -> tuple[list[Finding], str]:
    """Order findings root cause first and say why in one sentence.

    Order: the catalogue's tier (hardware, then host resources and the software stack, then a
    rank-local failure such as an OOM, then kills, NCCL errors, NCCL timeouts, launcher reports),
    then direct evidence before evidence inferred from another line (an OOM-kill record before the
    SIGKILL it explains), the launcher's failure line before the entries of its report that repeat it,
    the report's "Root Cause" before the generic ChildFailedError, then time (the first failure across
    ranks), then file order and line.
    """
    index = {name: i for i, name in enumerate(source_order)}
    ranked = sorted(findings, key=lambda f: _order_key(f, index))
    return ranked, _reason(ranked)


_TIER_WHY = {
    1: "a GPU hardware fault breaks every job on that GPU, so it explains the failures that follow",
    2: "host resources and the software stack come first (system first, then model)",
    3: "a failure on one rank makes the other ranks wait for it",
    4: "a killed worker leaves the other ranks waiting on their collectives",
    5: "an NCCL error on one rank surfaces as timeouts on the others",
    6: "a timeout is a consequence, and no fault that could cause it was found",
    7: "only the launcher's report of a failed worker was found",
}


def _reason(ranked: list[Finding]) -> str:
    if not ranked:
        return "No known fault signature was found."
    first = ranked[0]
    when = f" at {first.timestamp:%Y-%m-%d %H:%M:%S}" if first.timestamp is not None else ""
    head = f"{first.fault} in {first.where}{when} is ranked first"
    later = [f for f in ranked[1:] if f.fault != first.fault or f.rank != first.rank]
    consequences = list(dict.fromkeys(f.fault for f in ranked if f.tier > first.tier))
    if consequences:
        why = _TIER_WHY.get(first.tier, "it ranks as a cause")
        return f"{head}: {why}; the later {', '.join(consequences)} findings are most likely its consequences."
    if later:
        n = len(ranked)
        return f"{head}: it is the first failure in time across ranks among {n} findings of the same kind of cause."
    return f"{head}: it is the only fault found."
