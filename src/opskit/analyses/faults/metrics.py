"""Faults read from metric lines rather than from an error: gradients that stay non-finite, a loss that
collapses to 0 with them, an fp16 loss scale driven down to its floor.

Most diverged runs print no exception at all: the trainer keeps logging ``grad_norm: nan`` (Hugging Face
Trainer, mmengine) or ``| grad norm: nan |`` with ``loss scale: 1.0`` (Megatron, DeepSpeed) until someone
looks. The records come from the one metric-line parser, :func:`opskit.sources.training_logs.parse_training_line`,
the same one ``diagnose_training_interruption`` uses. One non-finite gradient norm alone is not a fault: fp16
training skips such a step and lowers its loss scale (usual at warm-up), so a run must persist.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from opskit.sources.training_logs import parse_training_line

CANDIDATE = re.compile(rb"grad[ _]?norm|loss[ _]scale", re.IGNORECASE)  # searched in raw blocks
NONFINITE_STREAK = 3  # consecutive records with a non-finite gradient norm that make a divergence
LOSS_SCALE_FLOOR = 1.0  # dynamic loss scaling's minimum: a scale at it with non-finite gradients has collapsed


def _nonfinite(value: float | None) -> bool:
    return value is not None and not math.isfinite(value)


@dataclass
class MetricWatch:
    """Follows the metric records of one log, line by line, and keeps the first divergence it proves."""

    streak: int = 0
    streak_line: int | None = None
    streak_text: str = ""
    found: tuple[int, str, dict] | None = None
    records: int = field(default=0)

    def reset(self) -> None:
        """A metric line whose figures are all finite: a run of non-finite gradient norms ends."""
        self.streak, self.streak_line = 0, None

    def feed(self, line: int, text: str) -> None:
        """Read one log line; lines that carry no metric record are ignored."""
        if self.found is not None:
            return
        record = parse_training_line(text)
        if record is None or ("grad_norm" not in record and "loss_scale" not in record):
            return
        self.records += 1
        grad = record.get("grad_norm")
        if not _nonfinite(grad):
            self.streak, self.streak_line = 0, None
            return
        loss, scale = record.get("loss"), record.get("loss_scale")
        if self.streak == 0:
            self.streak_line, self.streak_text = line, text
        self.streak += 1
        if loss is not None and loss == 0.0:
            self.found = (line, text, {"metric": "loss 0 with a non-finite gradient norm", "grad_norm": str(grad)})
        elif scale is not None and scale <= LOSS_SCALE_FLOOR:
            why = f"loss scale at its floor ({scale:g}) with a non-finite gradient norm"
            self.found = (line, text, {"metric": why, "loss_scale": scale})
        elif self.streak >= NONFINITE_STREAK:
            why = f"gradient norm non-finite on {self.streak} records in a row"
            self.found = (self.streak_line or line, self.streak_text or text, {"metric": why})
