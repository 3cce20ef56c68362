"""What ``diagnose_model_load`` found, and the sections the runbook shows from it, ready to display.

:class:`DiagnoseModelLoadResult` holds every layer's outcome (an empty value where a layer could not
run); its section methods return masked Markdown and tables (:mod:`opskit.runbooks.display`) and say
what is unavailable, and why, instead of failing when the model files could not be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.analyses.model_load.compatibility import CompatibilityResult
from opskit.analyses.model_load.integrity import IntegrityResult
from opskit.analyses.model_load.pickle_safety import PickleSafetyResult, Risk
from opskit.analyses.model_load.shard_sets import ShardSetResult
from opskit.checks import Status, VerdictTable
from opskit.runbooks.diagnose_model_load_sections import (
    listings_table,
    next_steps_markdown,
    risky_pickles,
    shard_set_sentences,
)
from opskit.runbooks.display import Markdown, Outputs, table, unavailable

SUMMARY_FIGURES = (
    "files_checked",
    "files_failed",
    "dangerous_files",
    "missing_shards",
    "bytes_hashed",
    "hash_MBps",
    "torch_available",
    "environment",
)
CHECKSUM_COLUMNS = ["file", "size_bytes", "expected_size_bytes", "algorithm", "status", "source", "actual", "expected"]
NOTHING_LOADED = "No checkpoint could be read (see the verdicts above)."
NO_RISKY_PICKLE = "No risky pickle: no file imports anything outside the tensor-rebuild allow-list."


@dataclass(frozen=True)
class DiagnoseModelLoadResult:
    """Everything ``diagnose_model_load`` found, layer by layer (cheap and safe first).

    ``files``: one row per file (``file``, ``size_bytes``, ``format``, ``ok``, ``problem``, ``fix``,
    ``checksum``, ``pickle_risk``; empty when the files could not be read). ``integrity`` and
    ``compatibility`` are None where that layer could not run; ``shard_sets``, ``pickle_scans`` (file ->
    scan) and ``listings`` (tensors per checkpoint or shard set) are empty then. ``hash_MBps``,
    ``torch_available`` and ``environment`` (which environment was judged) feed :attr:`figures`.
    """

    root: Path
    verdicts: VerdictTable
    files: pd.DataFrame
    integrity: IntegrityResult | None = None
    shard_sets: tuple[ShardSetResult, ...] = ()
    pickle_scans: dict[str, PickleSafetyResult] = field(default_factory=dict)
    compatibility: CompatibilityResult | None = None
    listings: dict[str, pd.DataFrame] = field(default_factory=dict)
    hash_MBps: float | None = None
    torch_available: bool = False
    environment: str | None = None

    @property
    def figures(self) -> dict[str, Any]:
        """The key figures for ``summary.json`` (:data:`SUMMARY_FIGURES`; None where a layer did not run)."""
        names = set(self.files["file"])
        failed = {v.subject for v in self.verdicts if v.status is Status.FAIL and v.subject in names}
        return {
            "files_checked": len(self.files),
            "files_failed": len(failed),
            "dangerous_files": sum(1 for s in self.pickle_scans.values() if s.risk is Risk.DANGEROUS),
            "missing_shards": sum(len(s.missing) for s in self.shard_sets),
            "bytes_hashed": self.integrity.hashed_bytes if self.integrity is not None else None,
            "hash_MBps": self.hash_MBps,
            "torch_available": self.torch_available,
            "environment": self.environment,
        }

    @property
    def headline(self) -> dict[str, Any]:
        """The report header's figures: files checked and failed, dangerous pickles, the most serious finding."""
        figures = self.figures
        worst = next((v for v in self.verdicts if v.status in (Status.ERROR, Status.FAIL)), None)
        return {
            "files checked": figures["files_checked"],
            "files failed": figures["files_failed"],
            "pickles that can run code": figures["dangerous_files"],
            "missing shards": figures["missing_shards"],
            "most serious": f"{worst.subject or worst.name}: {worst.message}" if worst else "none",
        }

    # ------------------------------------------------------------------------------------ sections
    def _failed(self, layer: str) -> bool:
        return any(v.status is Status.ERROR for v in self.verdicts.find(layer))

    def _why(self, *layers: str) -> str:
        """The message of the ERROR row that kept a section empty (the model files first)."""
        for name in ("model files", *layers):
            for v in self.verdicts.find(name):
                if v.status is Status.ERROR:
                    return f"the {name} check could not run ({v.message})"
        return "that layer did not run"

    def fixes(self) -> Markdown:
        """What to do: one next step per failed file or subject, in the order to work through them."""
        return next_steps_markdown(self.verdicts)

    def checksum_table(self) -> pd.DataFrame | Markdown:
        """Size and checksum of each file against the manifest, expected hash or MLflow tag."""
        if self.integrity is None:
            return unavailable("The checksum table", self._why("checksum"))
        return table(self.integrity.files[CHECKSUM_COLUMNS], empty="No file to hash.")

    def shard_set_notes(self) -> Outputs:
        """One sentence per shard set (present, missing, extra, unindexed shards); nothing for single files."""
        if self._failed("shard set"):
            return Outputs([unavailable("The shard sets", self._why("shard set"))])
        return Outputs(shard_set_sentences(self.shard_sets))

    def file_table(self) -> pd.DataFrame | Markdown:
        """What each file really is, what is wrong with it, its checksum status and pickle risk."""
        if self.files.empty:
            return unavailable("The file table", self._why())
        return table(self.files)

    def risky_pickles(self) -> Outputs:
        """For each pickle that is not safe: a headline and the imports outside the allow-list."""
        if self.files.empty or self._failed("format"):
            return Outputs([unavailable("The pickle scan", self._why("format"))])
        found = risky_pickles(self.pickle_scans)
        if not found:
            return Outputs([Markdown(NO_RISKY_PICKLE)])
        return Outputs(item for headline, imports in found for item in (headline, table(imports)))

    def environment_note(self) -> Markdown:
        """Which environment was judged, and the date of the compatibility table."""
        if self.compatibility is None:
            return unavailable("The environment", self._why("compatibility"))
        return Markdown(
            f"Environment: **{self.environment}**; compatibility table dated up to "
            f"{self.compatibility.table_date} (`opskit/data/cuda_compat.csv`, one source per row)."
        )

    def compatibility_table(self) -> pd.DataFrame | Markdown:
        """The environment's framework, CUDA build, driver and GPUs, with where each fact came from."""
        if self.compatibility is None:
            return unavailable("The compatibility table", self._why("compatibility"))
        return table(self.compatibility.frame())

    def key_listings(self) -> pd.DataFrame | Markdown:
        """One row per readable, safe checkpoint (a shard set counts as one): tensors, first keys, dtypes."""
        return table(listings_table(self.listings), empty=NOTHING_LOADED)
