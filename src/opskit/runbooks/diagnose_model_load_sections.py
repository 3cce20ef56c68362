"""What the ``diagnose_model_load`` runbook shows, built from plain values: the fixes in order, shard-set
sentences, the imports of risky pickles, the key listings. Text is masked where it is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from opskit.analyses.model_load.pickle_safety import PickleSafetyResult, Risk
from opskit.analyses.model_load.shard_sets import ShardSetResult
from opskit.checks import Status, Verdict
from opskit.privacy import mask
from opskit.runbooks.display import Markdown

# The most specific fix first: what a file really is says more than its checksum does.
FIX_ORDER = (
    "model files",
    "format",
    "pickle safety",
    "shard set",
    "checksum",
    "checksum (MLflow)",
    "driver supports CUDA build",
    "GPU architecture in build",
    "framework build",
    "state-dict keys",
    "load",
)
LISTING_COLUMNS = ["checkpoint", "tensors", "first keys", "dtypes"]


def next_steps(verdicts: Iterable[Verdict]) -> list[tuple[str, str]]:
    """One ``(subject, step)`` per file or subject that failed (FAIL or ERROR), in the order to work
    through them (:data:`FIX_ORDER`: get a good copy first, then fix the environment, then the keys);
    a subject's first step wins. Subjects are masked."""
    rank = {name: i for i, name in enumerate(FIX_ORDER)}
    todo = sorted(
        (v for v in verdicts if v.status in (Status.FAIL, Status.ERROR)),
        key=lambda v: rank.get(v.name, len(FIX_ORDER)),
    )
    steps: dict[str, str] = {}
    for v in todo:
        if v.next_step:
            steps.setdefault(mask(v.subject or v.name), f"({v.name}) {v.next_step}")
    return list(steps.items())


def next_steps_markdown(verdicts: Iterable[Verdict]) -> Markdown:
    """:func:`next_steps` as a Markdown list, or a sentence saying there is nothing to fix."""
    lines = [f"- **{subject}** {step}" for subject, step in next_steps(verdicts)]
    return Markdown("\n".join(lines) if lines else "Nothing to fix: every check passed or was skipped.")


def shard_set_sentences(shard_sets: Iterable[ShardSetResult]) -> list[Markdown]:
    """One Markdown sentence per shard set: how many shards are present, missing, extra, unindexed."""
    return [
        Markdown(
            f"Shard set `{s.name}` (index `{s.index_file}`): {len(s.present)} of {s.total} present; "
            f"missing {list(s.missing) or 'none'}; extra {list(s.extra) or 'none'}; "
            f"named by the index but absent {list(s.absent_in_index) or 'none'}."
        )
        for s in shard_sets
    ]


def risky_pickles(scans: Mapping[str, PickleSafetyResult]) -> list[tuple[Markdown, pd.DataFrame]]:
    """For each pickle that is not safe: a Markdown headline (file, risk, calls) and its non-safe imports."""
    out = []
    for file, scan in scans.items():
        if scan.risk is not Risk.SAFE:
            why = "".join(f"\n- {mask(e)}" for e in scan.errors[:5])
            headline = Markdown(
                f"**{file}**: pickle risk **{scan.risk.value}**, {scan.calls} calls in its opcodes"
                + (f"; not proven safe because:{why}" if why else "")
            )
            out.append((headline, scan.imports[scan.imports["risk"] != Risk.SAFE.value]))
    return out


def listings_table(listings: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per readable checkpoint (a shard set counts as one): tensors, its first keys, its dtypes."""
    rows = [
        {
            "checkpoint": name,
            "tensors": len(frame),
            "first keys": ", ".join(frame["key"].head(3)),
            "dtypes": ", ".join(sorted(set(map(str, frame["dtype"])))),
        }
        for name, frame in listings.items()
    ]
    return pd.DataFrame(rows, columns=LISTING_COLUMNS)
