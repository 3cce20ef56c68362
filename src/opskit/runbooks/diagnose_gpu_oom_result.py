"""What ``diagnose_gpu_oom`` found, and the sections the runbook shows from it, ready to display.

:class:`DiagnoseGpuOomResult` holds the first CUDA OOM message of the logs (None when there is none
or the logs could not be read) and the job's memory judgement (None without a readable job config);
its section methods return masked Markdown, tables and plots (:mod:`opskit.runbooks.display`) and say
what is unavailable, and why, instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from opskit.analyses.faults.cuda_oom import CudaOom
from opskit.analyses.memory.oom_figures import OomFigures
from opskit.analyses.memory.remedies import remedies_frame
from opskit.analyses.memory.verdicts import JobMemoryResult
from opskit.checks import VerdictTable
from opskit.plots.training import plot_memory_breakdown
from opskit.runbooks.display import Markdown, Outputs, table, unavailable

# the faults area points triage's readers here; inside this runbook that pointer says nothing
SELF_REFERENCE = " (open diagnose_gpu_oom)"


def _gib(mib: float | None) -> float | None:
    return mib / 1024.0 if mib is not None else None


@dataclass(frozen=True)
class OomMessage:
    """The first CUDA OOM message of the logs: where it was logged, its text and what it says."""

    where: str
    text: str
    parsed: CudaOom

    @property
    def suggestion(self) -> str:
        """What the message's class calls for, without the pointer to this very runbook."""
        return self.parsed.suggestion.replace(SELF_REFERENCE, "")

    @property
    def figures(self) -> OomFigures:
        """The message's figures in GiB, as the memory area takes them."""
        oom = self.parsed
        return OomFigures(
            capacity_gib=_gib(oom.total_mib) if oom.total_mib else None,
            requested_gib=_gib(oom.requested_mib),
            in_use_gib=_gib(oom.process_in_use_mib),
            allocated_gib=_gib(oom.allocated_mib),
            reserved_unallocated_gib=_gib(oom.reserved_unallocated_mib),
            expandable_segments_set=oom.expandable_segments_set,
        )


@dataclass(frozen=True)
class DiagnoseGpuOomResult:
    """The verdicts, the OOM message (None without one) and the job's memory (None without a config)."""

    verdicts: VerdictTable
    message: OomMessage | None = None
    memory: JobMemoryResult | None = None

    @property
    def held_gib(self) -> float | None:
        """What the process held when it failed (GiB), from the OOM message; None without the figure."""
        in_use = self.message.parsed.process_in_use_mib if self.message is not None else None
        return in_use / 1024 if in_use else None

    @property
    def figures(self) -> dict[str, Any]:
        """The key figures for ``summary.json``: the OOM's class and request, the estimate, the top remedy."""
        oom = self.message.parsed if self.message is not None else None
        estimate = self.memory.estimate if self.memory is not None else None
        remedies = self.memory.remedies if self.memory is not None else ()
        plan = self.memory.plan if self.memory is not None else ()
        return {
            "oom_class": oom.classification if oom is not None else None,
            "requested_gib": round(oom.requested_mib / 1024, 2) if oom is not None and oom.requested_mib else None,
            "capacity_gib": round(estimate.capacity_gib, 2) if estimate is not None else None,
            "estimate_total_gib": round(estimate.total_gib, 2) if estimate is not None else None,
            "estimate_activations_gib": round(estimate.activations_gib, 2) if estimate is not None else None,
            "fits": estimate.fits if estimate is not None else None,
            "top_remedy": remedies[0].name if remedies else None,
            "top_remedy_saving_gib": round(remedies[0].saving_gib, 2) if remedies and remedies[0].saving_gib else None,
            "plan_to_fit": [r.name for r in plan],
        }

    @property
    def headline(self) -> dict[str, Any]:
        """The report header's figures: the OOM's class and request, the estimate against capacity, what fits."""
        out: dict[str, Any] = {}
        if self.message is not None:
            oom = self.message.parsed
            out["OOM class"] = oom.classification
            if oom.requested_mib:
                out["requested"] = f"{oom.requested_mib / 1024:.2f} GiB"
        if self.memory is not None:
            estimate, plan = self.memory.estimate, self.memory.plan
            capacity = f"{estimate.capacity_gib:.1f} GiB" if estimate.capacity_gib else "an unknown capacity"
            out["estimate per GPU"] = f"{estimate.total_gib:.1f} GiB of {capacity}"
            out["fits as configured"] = "not known" if estimate.fits is None else "yes" if estimate.fits else "no"
            if plan:
                fits = "fits" if plan[-1].fits_after else "still does not fit"
                out["to fit"] = f"{', '.join(r.name for r in plan)} ({fits})"
        return out

    # ------------------------------------------------------------------------------------ sections
    def _why(self, check: str) -> str:
        """The message of the row that left a section empty (an ERROR, a SKIP, or no OOM found)."""
        for v in self.verdicts.find(check):
            if v.message:
                return f"{v.status.value} {check}: {v.message}"
        return f"the {check} check did not run"

    def oom_headline(self) -> Markdown:
        """Where the OOM was logged, its class and what to do."""
        if self.message is None:
            return unavailable("The CUDA OOM message", self._why("cuda oom"))
        return Markdown(f"`{self.message.where}` — **{self.message.parsed.classification}**: {self.message.suggestion}")

    def oom_excerpt(self) -> Markdown:
        """The OOM message as it was logged (masked)."""
        if self.message is None:
            return unavailable("The OOM message excerpt", self._why("cuda oom"))
        return Markdown(f"```\n{self.message.text.strip()}\n```")

    def oom_figures(self) -> pd.DataFrame | Markdown:
        """The sizes the message gives (requested, total, free, allocated, ...) in GiB, one row each."""
        if self.message is None:
            return unavailable("The OOM figures", self._why("cuda oom"))
        sizes = {k: v for k, v in self.message.parsed.to_dict().items() if k.endswith("_mib") and v is not None}
        rows = [{"figure": k.replace("_mib", "_gib"), "gib": round(v / 1024, 2)} for k, v in sizes.items()]
        return table(pd.DataFrame(rows, columns=["figure", "gib"]), empty="The message gives no sizes.")

    def oom_message(self) -> Outputs:
        """The OOM section: headline, excerpt and figures."""
        return Outputs([self.oom_headline(), self.oom_excerpt(), self.oom_figures()])

    def memory_breakdown(self, ax: Axes | None = None) -> Axes | Markdown:
        """Stacked bar of the estimate by component against the capacity and what the process held."""
        if self.memory is None:
            return unavailable("The memory estimate", self._why("memory estimate"))
        return plot_memory_breakdown(self.memory.estimate, ax=ax, observed_gib=self.held_gib)

    def estimate_table(self) -> pd.DataFrame | Markdown:
        """The estimate's components: GiB per GPU and share of the total."""
        if self.memory is None:
            return unavailable("The memory estimate", self._why("memory estimate"))
        return table(self.memory.estimate.to_frame().round(2))

    def remedies_table(self) -> pd.DataFrame | Markdown:
        """The remedies ranked by saving per GPU, largest first."""
        if self.memory is None:
            return unavailable("The remedies", self._why("memory estimate"))
        return table(remedies_frame(list(self.memory.remedies)).round(2), empty="No change lowers the estimate.")

    def plan_summary(self) -> Markdown:
        """One sentence on the plan: what the combined changes reach, or why there is nothing to combine."""
        if self.memory is None:
            return unavailable("The plan to fit", self._why("memory estimate"))
        estimate, plan = self.memory.estimate, self.memory.plan
        if not plan:
            return Markdown("nothing to combine: the estimate fits, or the GPU capacity is unknown")
        last = plan[-1]
        verdict = "fits" if last.fits_after else "still does not fit"
        return Markdown(
            f"{len(plan)} change(s) take the estimate from {estimate.total_gib:.1f} to "
            f"{last.total_after_gib:.1f} GiB per GPU ({verdict} in {estimate.capacity_gib:.1f} GiB)"
        )

    def plan_table(self) -> pd.DataFrame | Markdown:
        """The changes combined until the job fits, each saving on top of the rows above it."""
        if self.memory is None:
            return unavailable("The plan to fit", self._why("memory estimate"))
        return table(remedies_frame(list(self.memory.plan)).round(2), empty="No change to combine.")

    def plan(self) -> Outputs:
        """The plan section: its summary sentence and its table."""
        return Outputs([self.plan_summary(), self.plan_table()])
