"""Faults read from metric lines rather than from an error: a non-finite loss, gradients that stay
non-finite, a loss that collapses to 0 with them (or, in a Hugging Face Trainer log without gradient norms,
drops at once from a real loss to exactly 0 and stays there), a finite loss that explodes (a thousand times its
first values and more, and stays there), an fp16 loss scale halved down to its floor, every iteration skipped.

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
# Hugging Face Trainer's dict lines (``{'loss': 3.8462, 'learning_rate': ...}``) are candidates too: without a
# gradient norm, their losses alone show a collapse. Only those with a loss of exactly 0 are parsed; the one before
# is kept raw (see MetricWatch.modest), so a long healthy log costs no parsing.
_HF_LOSS = rb"\{'loss': "
_HF_ZERO_LOSS = rb"\{'loss': 0\.0[,}]"
# A loss printed as 1000 or more (plain digits, or an exponent of 3 and up): read for an explosion. A key word after
# "loss" may not start with "s", so that a loss *scale* of 65536 (on every Megatron and DeepSpeed line) is not one.
_BIG_LOSS = (
    rb"loss(?:[_/ ][a-rt-z][a-z]*)*['\"]?[ \t]*[:=][ \t]*['\"]?\+?"
    rb"(?:[0-9]{4,}|[0-9](?:\.[0-9]*)?e\+?0*[3-9]|[0-9](?:\.[0-9]*)?e\+?[1-9][0-9])"
)
BIG_LOSS = re.compile(_BIG_LOSS)
CANDIDATE = re.compile(
    rb"grad[ _]?norm|loss[ _]?scal|skipped|" + _HF_LOSS + rb"|" + _BIG_LOSS + rb"|" + _VALUE_NONFINITE
)
# A candidate line with none of these (lower-cased) only breaks a streak: no parse needed.
FAST = re.compile(
    _VALUE_NONFINITE
    + rb"|reducing|loss scale to|skipped(?: iterations)?[:=] *[1-9]|"
    + _HF_ZERO_LOSS
    + rb"|"
    + _BIG_LOSS
)
NONFINITE_STREAK = 3  # consecutive records with a non-finite gradient norm that make a divergence
LOSS_SCALE_FLOOR = 1.0  # DeepSpeed's and Megatron's minimum scale: at it with non-finite gradients it has collapsed
TINY_SCALE = 2.0**-10  # apex and fairseq may go below 1; at 2^-10 every gradient overflows at any scale
PINNED_STREAK = 3  # overflows in a row that leave the scale where it was: pinned at a configured minimum
LOW_SCALE, LOW_SCALE_HALVINGS = 16.0, 4  # halved 4 times in a row down to 16 or less: far below where fp16 settles
SKIPPED_IN_A_ROW = 64  # iterations skipped in a row: more than halving 2^32 to 1, even with hysteresis 2
# A loss that falls from at least COLLAPSE_FROM straight to exactly 0 and stays there for ZERO_STREAK records: fp16
# overflow without a gradient norm in the log. HF Trainer prints the loss rounded to 4 digits, so a loss that decays
# smoothly towards 0 passes through 0.0009 ... 0.0001 first and is no collapse.
COLLAPSE_FROM, ZERO_STREAK = 0.05, 3
# A finite loss of at least EXPLODE_FACTOR times the lowest of the log's first BASELINE_RECORDS losses (and at least
# EXPLODE_FLOOR) on EXPLODE_STREAK loss records (steps) in a row: diverged without a NaN. A spike that falls back is
# none. The lowest, so that a short excerpt whose first losses already include the explosion still has a baseline.
BASELINE_RECORDS, BASELINE_LINES = 5, 200  # losses that make the baseline; lines naming a loss read for them
EXPLODE_FACTOR, EXPLODE_FLOOR, EXPLODE_STREAK = 1000.0, 1000.0, 3


def big_loss(low: bytes) -> bool:
    """Whether a lower-cased line prints a loss (not a loss scale) of 1000 or more."""
    return BIG_LOSS.search(low) is not None


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
    last_loss: float | None = None  # the last non-zero loss of an HF Trainer dict line that was parsed
    previous: bytes | None = None  # the last HF Trainer dict line not parsed (lower-cased), read only when needed
    zeros: int = 0  # HF Trainer dict lines in a row with a loss of exactly 0 after a real one
    zero_at: tuple[int, str, float] | None = None
    baseline: list[float] = field(default_factory=list)  # the log's first finite losses
    baseline_lines: int = 0  # lines read for them
    big: int = 0  # loss records in a row far above the baseline
    big_at: tuple[int, str, float] | None = None
    big_step: int | None = None

    @property
    def baseline_open(self) -> bool:
        """Whether the first losses of the log are still being read for the baseline."""
        return len(self.baseline) < BASELINE_RECORDS and self.baseline_lines < BASELINE_LINES

    def observe(self, text: str) -> None:
        """Read one of the log's first lines that name a loss for the baseline of the explosion rule."""
        self.baseline_lines += 1
        record = parse_training_line(text)
        loss = record.get("loss") if record else None
        if loss is not None and math.isfinite(loss) and loss > 0 and len(self.baseline) < BASELINE_RECORDS:
            self.baseline.append(loss)

    def modest(self, low: bytes) -> None:
        """A candidate line (lower-cased) with every figure finite and modest: streaks end, and an HF Trainer
        line is kept as the loss a collapse to 0 may fall from."""
        self.reset()
        if b"loss" in low:
            self.loss_between()
            if b"{'loss': " in low:
                self.previous, self.last_loss, self.zeros, self.zero_at = low, None, 0, None

    def loss_between(self) -> None:
        """A loss line not read (so below 1000) lies between two read ones: a run of exploded records ends."""
        self.big, self.big_at = 0, None

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
        if record.get("format") == "hf_dict" and "grad_norm" not in record:
            self._collapse(line, text, record.get("loss"))
            if self.found is not None:
                return
        self._explode(line, text, record.get("loss"), record.get("step"))
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
        if loss is not None and loss == 0.0:  # the divergence began at the run's first non-finite gradient norm
            why = "loss 0 with a non-finite gradient norm"
            self.found = (self.streak_line or line, self.streak_text or text, {"metric": why, "grad_norm": str(grad)})
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

    def _collapse(self, line: int, text: str, loss: float | None) -> None:
        """A real loss, then exactly 0 on every record after it: the run collapsed (fp16 overflow)."""
        if loss is None or not math.isfinite(loss):
            return
        if loss != 0.0:
            self.last_loss, self.previous, self.zeros, self.zero_at = loss, None, 0, None
            return
        if self.zero_at is None:
            if self.previous is not None:  # the record before, not parsed when it was read
                record = parse_training_line(self.previous.decode("utf-8", "replace"))
                self.last_loss, self.previous = (record or {}).get("loss"), None
            before = self.last_loss
            if before is None or not math.isfinite(before) or before < COLLAPSE_FROM:
                return  # no loss before it, or one that decayed towards 0
            self.zero_at = (line, text, before)
        self.zeros += 1
        if self.zeros >= ZERO_STREAK:
            first, first_text, before = self.zero_at
            why = f"loss fell from {before:g} to exactly 0 and stayed there for {self.zeros} records"
            self.found = (first, first_text, {"metric": why, "loss_before": before})

    def _explode(self, line: int, text: str, loss: float | None, step: int | None) -> None:
        """A finite loss a thousand times its first values and more, on records (steps) in a row."""
        if loss is None or not math.isfinite(loss) or len(self.baseline) < 2:
            return
        if step is not None and step == self.big_step:
            return  # the same step printed twice (TensorFlow's logger and absl both print it)
        self.big_step = step
        base = min(self.baseline)
        if loss < max(EXPLODE_FLOOR, EXPLODE_FACTOR * base):
            self.loss_between()
            return
        self.big += 1
        self.big_at = self.big_at or (line, text, loss)
        if self.big >= EXPLODE_STREAK:
            first, first_text, value = self.big_at
            why = f"loss grew from an early {base:g} to {value:g} and stayed above {EXPLODE_FACTOR:g} times that"
            self.found = (first, first_text, {"metric": why, "loss_baseline": base, "loss": value})

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
