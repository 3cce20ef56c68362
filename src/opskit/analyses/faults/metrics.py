"""Faults read from metric lines rather than from an error: a non-finite loss, gradients that stay
non-finite, a loss that collapses to 0 with them, an fp16 loss scale halved down to its floor, every
iteration skipped.

Most diverged runs print no exception at all: the trainer keeps logging ``grad_norm: nan`` (Hugging Face
Trainer, mmengine) or ``| grad norm: nan |`` with ``loss scale: 1.0`` (Megatron, DeepSpeed), or the loss
scaler keeps halving (``Attempted loss scale: 2, reducing to 1``, apex's ``reducing loss scale to 1.5e-05``)
until someone looks. The records come from the one metric-line parser,
:func:`opskit.sources.training_logs.parse_training_line`, the same one ``diagnose_training_interruption`` uses;
the loss scaler's messages are read here. What is normal is not a fault: fp16 training skips a step with a
non-finite gradient and halves its scale, many times in a row at warm-up (2^32 down to 2^16 is usual), so a
run must persist or the scale must reach its floor.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from opskit.sources.training_logs import parse_training_line

# Lines worth reading, searched in lower-cased blocks: gradient norms, loss scales, skipped steps, values
# printed as NaN or infinite (after a ':', '=' or ']', so words like "info" or "nan iterations" are not).
_VALUE_NONFINITE = rb"[:=\]][\s'\"]*[-+]?(?:nan|inf)"
CANDIDATE = re.compile(rb"grad[ _]?norm|loss[ _]?scal|skipped|" + _VALUE_NONFINITE)
# A candidate line with none of these (lower-cased) only breaks a streak: no parse needed.
FAST = re.compile(_VALUE_NONFINITE + rb"|reducing|loss scale to|skipped(?: iterations)?[:=] *[1-9]")
NONFINITE_STREAK = 3  # consecutive records with a non-finite gradient norm that make a divergence
LOSS_SCALE_FLOOR = 1.0  # DeepSpeed's and Megatron's minimum scale: at it with non-finite gradients it has collapsed
TINY_SCALE = 2.0**-10  # apex and fairseq may go below 1; at 2^-10 every gradient overflows at any scale
PINNED_STREAK = 3  # overflows in a row that leave the scale where it was: pinned at a configured minimum
LOW_SCALE, LOW_SCALE_HALVINGS = 16.0, 4  # halved 4 times in a row down to 16 or less: far below where fp16 settles
SKIPPED_IN_A_ROW = 64  # iterations skipped in a row: more than halving 2^32 to 1, even with hysteresis 2

_NUM = r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
# The loss scaler halving its scale: DeepSpeed (groups 1-2), apex and fused optimizers (3-4), fairseq (5).
_SCALE_CHANGE = re.compile(
    r"attempted loss scale:?\s*(" + _NUM + r"),?\s*reducing to\s*(" + _NUM + r")"
    r"|reducing (?:dynamic )?loss scale (?:from\s*(" + _NUM + r")\s*)?to\s*(" + _NUM + r")"
    r"|setting loss scale to:?\s*(" + _NUM + r")",
    re.IGNORECASE,
)
# A key naming a loss, then its non-finite value: 'loss': nan, loss: nan, [Loss] nan, loss_net: nan, lm loss: inf
_KEYED_NONFINITE = re.compile(
    r"([A-Za-z][\w./-]*(?: [A-Za-z][\w./-]*)?)['\"\]]*[ \t]*[:=]?[ \t]*['\"]?[-+]?(?:nan|inf(?:inity)?)(?![\w.])",
    re.IGNORECASE,
)

_NOT_A_LOSS = re.compile(r"best|min|lowest|prev|from")  # a best-so-far starting at inf, "improved from inf"


def _nonfinite(value: float | None) -> bool:
    return value is not None and not math.isfinite(value)


def nonfinite_loss_key(text: str) -> str | None:
    """The name of the first loss the line prints as NaN or infinite (not a loss *scale*), or None."""
    for m in _KEYED_NONFINITE.finditer(text):
        key = m.group(1).lower()
        if "loss" in key and "scal" not in key and not _NOT_A_LOSS.search(key):
            return m.group(1)
    return None


@dataclass
class MetricWatch:
    """Follows the metric lines of one log, line by line, and keeps the first divergence it proves."""

    streak: int = 0
    streak_line: int | None = None
    streak_text: str = ""
    found: tuple[int, str, dict] | None = None
    records: int = field(default=0)
    halvings: int = 0  # loss-scale reductions in a row
    last_scale: float | None = None  # the scale the last reduction left (ranks print the same reduction each)
    pinned: int = 0  # reductions in a row that left the scale unchanged
    pinned_at: tuple[int, str] | None = None
    skipped_run: int = 0  # iterations skipped in a row (each of them)
    skipped_records: int = 0
    skipped_at: tuple[int, str] | None = None
    last_step: int | None = None
    last_skipped: int | None = None  # DeepSpeed's count is cumulative

    def reset(self) -> None:
        """A metric line whose figures are all finite: a run of non-finite gradient norms ends."""
        self.streak, self.streak_line = 0, None
        self.halvings = self.pinned = 0
        self.last_scale = None

    def feed(self, line: int, text: str) -> None:
        """Read one log line; lines that carry neither a metric record nor a loss-scale change are ignored."""
        if self.found is not None:
            return
        if (m := _SCALE_CHANGE.search(text)) is not None:
            self._scale_change(line, text, m)
            return
        if (key := nonfinite_loss_key(text)) is not None:
            self.found = (line, text, {"metric": f"{key} is not finite"})
            return
        record = parse_training_line(text)
        if record is None:
            return
        if "skipped" in record:
            self._skipped(line, text, record)
            if self.found is not None:
                return
        if "grad_norm" not in record and "loss_scale" not in record:
            return
        self.records += 1
        self.halvings = self.pinned = 0
        self.last_scale = None
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

    def _scale_change(self, line: int, text: str, m: re.Match) -> None:
        """An overflow that halves the loss scale: collapsed at the floor, or pinned at a configured minimum."""
        before = float(m.group(1) or m.group(3) or "nan")
        after = float(m.group(2) or m.group(4) or m.group(5))
        if before != after and self.last_scale is not None and after >= self.last_scale and self.halvings:
            return  # the same reduction printed by another rank (or a scale that grew back: not a halving)
        self.halvings += 1
        self.last_scale = after
        floor = LOSS_SCALE_FLOOR if m.group(1) is not None else TINY_SCALE  # DeepSpeed's minimum is 1
        if after <= floor:
            why = f"loss scale reduced to {after:g}, at or below its floor of {floor:g}"
            self.found = (line, text, {"metric": why, "loss_scale": after, "halvings_in_a_row": self.halvings})
            return
        if after <= LOW_SCALE and self.halvings >= LOW_SCALE_HALVINGS:
            why = f"loss scale halved {self.halvings} times in a row, down to {after:g}"
            self.found = (line, text, {"metric": why, "loss_scale": after, "halvings_in_a_row": self.halvings})
            return
        if before == after:
            self.pinned += 1
            self.pinned_at = self.pinned_at if self.pinned > 1 and self.pinned_at else (line, text)
            if self.pinned >= PINNED_STREAK:
                why = f"loss scale stuck at its minimum {after:g}: {self.pinned} overflows in a row"
                self.found = (*self.pinned_at, {"metric": why, "loss_scale": after})
        else:
            self.pinned, self.pinned_at = 0, None

    def _skipped(self, line: int, text: str, record: dict) -> None:
        """Iterations skipped (Megatron per interval, DeepSpeed cumulative): every one skipped, for too long."""
        step, skipped = record.get("step"), int(record["skipped"])
        if step is None:
            return
        if record.get("format") == "deepspeed" and self.last_skipped is not None:
            skipped, self.last_skipped = skipped - self.last_skipped, skipped
        elif record.get("format") == "deepspeed":
            self.last_skipped = skipped
        interval = step - self.last_step if self.last_step is not None and step > self.last_step else step
        self.last_step = step
        if interval <= 0 or skipped < interval:
            self.skipped_run, self.skipped_records, self.skipped_at = 0, 0, None
            return
        self.skipped_run += interval
        self.skipped_records += 1
        self.skipped_at = self.skipped_at or (line, text)
        if self.skipped_records >= 2 and self.skipped_run >= SKIPPED_IN_A_ROW:
            why = f"every iteration skipped for {self.skipped_run} iterations in a row (non-finite gradients)"
            self.found = (*self.skipped_at, {"metric": why, "skipped_in_a_row": self.skipped_run})
