"""Training progress from the logs frameworks print: step, loss, learning rate, throughput per rank.

Recognised line formats (one record per line that carries a loss or a step):

- Hugging Face Trainer / PyTorch dict lines: ``{'loss': 2.31, 'learning_rate': 1e-4, 'epoch': 0.5}``
- PyTorch Lightning progress bars: ``Epoch 3:  45%|####5 | 450/1000 [01:23<01:42, 5.38it/s, train_loss=2.31]``
- DeepSpeed: ``steps: 100 loss: 2.3456 iter time (s): 0.512 samples/sec: 62.5`` and
  ``[Rank 0] step=100, skipped=0, lr=[0.0001], ...``
- Megatron-LM: ``iteration      100/    1000 | ... | learning rate: 1.000E-04 | ... | lm loss: 2.300000E+00 |``
- NeMo progress bars (``reduced_train_loss=2.31, global_step=99.0``), Composer (``[batch=100/1000]: Train
  loss/train/total: 2.31``), torchtitan (``step: 10  loss: 9.54  tps: 1,015``, colours stripped), nanoGPT
  (``iter 100: loss 2.3456``)
- plain key/value: ``step=100 loss=2.3 lr=1e-4 tokens_per_s=41000`` or ``step: 100, loss: 2.3``

The rank comes from the line (``[rank5]:``, ``[default5]:``, ``[Rank 5]``, Slurm's ``5: `` label)
or else from the file name (``rank5.log``, ``node0-rank-5.log``). The records frame has the columns
``file, line, rank, format, step, loss, loss_logged, lr, epoch, tokens_per_s, samples_per_s, timestamp``
(UTC); ``loss_logged`` tells a NaN loss the log printed from a record that carried no loss. HF Trainer
dict lines carry no step: they are numbered 1, 2, ... per rank in the order they were logged.

:func:`analyze_training` finds non-finite losses, loss spikes (robust z-score against a rolling
window of the preceding records), the last step per rank, the rank that stopped first and stalls.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.analyses.fault_details import parse_timestamp as parse_log_timestamp
from opskit.checks import Status, Verdict
from opskit.errors import InputError
from opskit.sources.logs import decode_line, discover, iter_regions

RECORD_COLUMNS = [
    "file",
    "line",
    "rank",
    "format",
    "step",
    "loss",
    "loss_logged",
    "lr",
    "epoch",
    "tokens_per_s",
    "samples_per_s",
    "timestamp",
]
RANK_COLUMNS = [
    "rank",
    "file",
    "last_line",
    "records",
    "first_step",
    "last_step",
    "last_loss",
    "last_record_at",
    "last_line_at",
]

THROUGHPUT_COLUMNS = ["rank", "unit", "records", "median", "recent_median", "vs_fleet", "vs_own", "straggler",
                      "degrading", "file", "line"]  # fmt: skip

_NUM = r"[-+]?(?:nan|inf(?:inity)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,6}))?(Z|[+-]\d{2}:?\d{2})?")
_LINE_RANK_PREFIX = re.compile(r"\s*(?:\[(?:rank|default)(\d+)\]:|(\d+): )", re.IGNORECASE)
_RANK_TAG = re.compile(r"\[Rank (\d+)\]")
_FILE_RANK = re.compile(r"(?:^|[^a-z])(?:rank|local_rank|proc)[-_]?(\d+)(?:\D|$)", re.IGNORECASE)

_HF_DICT = re.compile(r"\{\s*'(?:loss|train_loss|eval_loss|learning_rate|grad_norm|epoch)'\s*:[^{}]*\}")
_HF_PAIR = re.compile(r"'(\w+)'\s*:\s*(" + _NUM + r")", re.IGNORECASE)
_LIGHTNING = re.compile(
    r"Epoch (\d+):\s*(?::\s*)?\d+%\|[^|]*\|\s*(\d+)/(\d+)\s*\[[^\]]*?(?:,\s*([\d.]+)it/s)?(?:,\s*(.*))?\]"
)
_MEGATRON = re.compile(r"iteration\s+(\d+)/\s*(\d+)\s*\|")
_MEGATRON_FIELD = re.compile(r"\|\s*([a-zA-Z][\w /()-]*?):\s*(" + _NUM + r")\s*(?=\||$)", re.IGNORECASE)
_DEEPSPEED_STEPS = re.compile(r"\bsteps:\s*(\d+)\s+loss:\s*(" + _NUM + r")", re.IGNORECASE)
_KV = re.compile(r"\b([a-zA-Z][\w/.-]*?)\s*(?:=|:)\s*\[?(" + _NUM + r")\]?(?=[\s,|;)\]}]|$)", re.IGNORECASE)

_LOOSE_STEP = re.compile(r"\b(?:global[_ ])?(?:step|iter(?:ation)?)\s*[:=#]?\s*(\d+)(?:\s*/\s*\d+)?\b", re.IGNORECASE)
_LOOSE_LOSS = re.compile(r"\b(?:train[_ ])?loss\s*[:=]?\s*(" + _NUM + r")(?![\w.])", re.IGNORECASE)
_STEP_KEYS = {"step", "steps", "global_step", "iter", "iteration", "it"}
_LOSS_KEYS = {
    "loss",
    "train_loss",
    "train/loss",
    "lm_loss",
    "lm loss",
    "train_loss_step",
    "training_loss",
    "reduced_train_loss",
    "loss/train/total",
}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BATCH_STEP = re.compile(r"\[batch=(\d+)/\d+\]")
_LR_KEYS = {"lr", "learning_rate", "learning rate", "train/learning_rate"}
_TOKENS_KEYS = {"tokens_per_s", "tokens_per_sec", "tokens/s", "tokens/sec", "tok/s", "tps", "throughput_tokens"}
_SAMPLES_KEYS = {"samples_per_s", "samples/sec", "samples/s", "samples_per_second", "train_samples_per_second"}


def _to_float(text: str) -> float:
    low = text.lower().lstrip("+").replace(",", "")
    if low in ("nan", "-nan"):
        return math.nan
    if low in ("inf", "infinity"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    return float(low)


def timestamp_text(text: str) -> str | None:
    """The first ISO-like timestamp in ``text`` as an ISO 8601 string (cheap: no parsing into a Timestamp)."""
    m = _TIMESTAMP.search(text)
    if not m:
        return None
    date, clock, frac, tz = m.groups()
    return f"{date}T{clock}" + (f".{frac}" if frac else "") + ("+00:00" if not tz or tz == "Z" else tz)


def rank_from_line(text: str) -> int | None:
    """Rank named by a line prefix: ``[rank5]:`` (torchrun), ``[default5]:``, ``5: `` (srun --label), ``[Rank 5]``."""
    m = _LINE_RANK_PREFIX.match(text)
    if m:
        return int(m.group(1) or m.group(2))
    if "[Rank " in text and (m := _RANK_TAG.search(text)):
        return int(m.group(1))
    return None


def rank_from_path(path: str | os.PathLike[str]) -> int | None:
    """Rank named by a file name: ``rank5.log``, ``node0-rank-5.log``, ``local_rank_3.txt``."""
    m = _FILE_RANK.search(Path(path).name)
    return int(m.group(1)) if m else None


_FIELD_OF_KEY = {
    **{k: "step" for k in _STEP_KEYS},
    **{k: "loss" for k in _LOSS_KEYS},
    **{k: "lr" for k in _LR_KEYS},
    "epoch": "epoch",
    **{k: "tokens_per_s" for k in _TOKENS_KEYS},
    **{k: "samples_per_s" for k in _SAMPLES_KEYS},
}


def _assign(record: dict, key: str, value: str) -> None:
    """Store ``value`` under the record field ``key`` names (first one wins); other keys are ignored."""
    name = _FIELD_OF_KEY.get(key.lower().strip())
    if name is None or name in record:
        return
    number = _to_float(value)
    if name == "step":
        if not math.isnan(number):
            record["step"] = int(number)
    else:
        record[name] = number


def parse_training_line(text: str) -> dict | None:
    """One training record from a log line, or None when the line holds neither a step nor a loss.

    Returns a dict with ``format`` and any of ``step, loss, lr, epoch, tokens_per_s, samples_per_s``.
    """
    low = text.lower()
    if "loss" not in low and "step" not in low and "iteration" not in low:
        return None
    if "\x1b" in text:  # coloured logs (torchtitan, rich): drop the escape sequences
        text = _ANSI.sub("", text)
        low = text.lower()
    record: dict = {}
    if "{'" in text and (m := _HF_DICT.search(text)):
        record["format"] = "hf_dict"
        for key, value in _HF_PAIR.findall(m.group(0)):
            _assign(record, key, value)
    elif "iteration" in text and (m := _MEGATRON.search(text)):
        record["format"] = "megatron"
        record["step"] = int(m.group(1))
        for key, value in _MEGATRON_FIELD.findall(text[m.end() - 1 :]):
            _assign(record, key, value)
            if key.strip().lower().startswith("tokens per") or "tokens/s" in key.lower():
                record.setdefault("tokens_per_s", _to_float(value))
    elif "Epoch " in text and (m := _LIGHTNING.search(text)):
        record["format"] = "lightning"
        for key, value in _KV.findall(m.group(5) or ""):  # global_step (NeMo) wins over the bar's count
            _assign(record, key, value)
        epoch, done, total = int(m.group(1)), int(m.group(2)), int(m.group(3))
        record.setdefault("step", epoch * total + done)
        record.setdefault("epoch", epoch + done / total if total else float(epoch))
        if m.group(4):
            record.setdefault("samples_per_s", float(m.group(4)))  # batches per second: the bar counts batches
    elif "steps:" in low and (m := _DEEPSPEED_STEPS.search(text)):
        record["format"] = "deepspeed"
        record["step"] = int(m.group(1))
        record["loss"] = _to_float(m.group(2))
        for key, value in _KV.findall(text[m.end() :]):
            _assign(record, key, value)
    else:
        for key, value in _KV.findall(text):
            _assign(record, key, value)
        if "step" not in record and (m := _BATCH_STEP.search(text) or _LOOSE_STEP.search(text)):
            record["step"] = int(m.group(1))
        if "loss" not in record and (m := _LOOSE_LOSS.search(text)):
            record["loss"] = _to_float(m.group(1))
        if "step" not in record and "loss" not in record:
            return None
        record["format"] = "deepspeed" if "skipped=" in text and "[Rank" in text else "key_value"
    if "step" not in record and "loss" not in record and record["format"] != "hf_dict":
        return None
    if record["format"] == "hf_dict" and "loss" not in record and "lr" not in record:
        return None
    return record


_CANDIDATE = re.compile(rb"loss|step|iteration")  # searched in lower-cased blocks
_TAIL_BYTES = 8192


def _candidate_lines(chunk: bytes) -> Iterator[tuple[int, bytes]]:
    """``(index of the line in chunk, raw line)`` for the lines that mention a loss, a step or an iteration.

    The search runs over the lower-cased block in C; only candidate lines reach Python.
    """
    low = chunk.lower()
    index, counted_to, end = 0, 0, -1
    for m in _CANDIDATE.finditer(low):
        if m.start() <= end:
            continue  # another keyword of a line already taken
        start = low.rfind(b"\n", 0, m.start()) + 1
        end = low.find(b"\n", m.start())
        end = len(low) if end < 0 else end
        index += chunk.count(b"\n", counted_to, start)
        counted_to = start
        yield index, chunk[start:end]


def _tail_stamps(chunk: bytes, file_rank: int, seen: dict[int, pd.Timestamp]) -> None:
    """The last timestamp per rank among the last lines of ``chunk`` (later blocks overwrite earlier ones).

    ISO, glog (``E1127 01:50:48.123``, PyTorch's C++ logs) and syslog stamps are read; a stamp without a
    year takes the year of an ISO stamp in the same lines.
    """
    lines = [decode_line(raw[:512]) for raw in chunk[-_TAIL_BYTES:].split(b"\n")[1:]]
    iso = next((stamp for text in reversed(lines) if (stamp := timestamp_text(text[:120]))), None)
    year = int(iso[:4]) if iso else None
    found: dict[int, pd.Timestamp] = {}
    for text in reversed(lines):
        if not text:
            continue
        stamp, _ = parse_log_timestamp(text, default_year=year)
        if stamp is None:
            continue
        line_rank = rank_from_line(text)
        found.setdefault(line_rank if line_rank is not None else file_rank, stamp)
    seen.update(found)


def read_training_logs(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """Training records from one or many logs (a folder of per-rank logs, gzip, ``-`` for stdin), one row each.

    Columns: see :data:`RECORD_COLUMNS`. ``rank`` is -1 when neither the line nor the file names it.
    The frame's ``attrs["last_line_at"]`` maps each (file, rank) to the last timestamp near the end of the
    file, which tells when a rank went silent even when its last lines were not training records.
    Logs are read in blocks (:mod:`opskit.sources.logs`): memory holds the records, not the log.
    """
    sources, skipped = discover(paths)
    if not sources:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped[:5])
        raise InputError(f"no readable log ({reasons})", path=skipped[0].name if skipped else None,
                         hint="pass the job's text logs (plain or .gz)")  # fmt: skip
    columns: dict[str, list] = {c: [] for c in RECORD_COLUMNS}
    last_line_at: dict[tuple[str, int], pd.Timestamp] = {}
    for source in sources:
        file_rank = source.rank if source.rank is not None else rank_from_path(source.name)
        file_rank = -1 if file_rank is None else file_rank
        tails: dict[int, pd.Timestamp] = {}
        hf_counter: dict[int, int] = {}
        number = 1
        stream = source.open()
        try:
            for region in iter_regions(stream):
                chunk = region.data[region.start : region.end]
                for index, raw in _candidate_lines(chunk):
                    text = decode_line(raw[:65536].rstrip(b"\r"))
                    for part in text.split("\r") if "\r" in text else (text,):
                        _add_record(columns, part, source.name, number + index, file_rank, hf_counter)
                _tail_stamps(chunk, file_rank, tails)
                if not region.continued:
                    number += chunk.count(b"\n")
        finally:
            if source.path is not None:
                stream.close()
        last_line_at.update({(source.name, rank): stamp for rank, stamp in tails.items()})
    frame = pd.DataFrame(columns)
    for col in ("loss", "lr", "epoch", "tokens_per_s", "samples_per_s"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["step"] = pd.to_numeric(frame["step"], errors="coerce").astype("Int64")
    frame["rank"] = frame["rank"].astype(int)
    frame["loss_logged"] = frame["loss_logged"].astype(bool)
    frame["line"] = frame["line"].astype(int)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601", errors="coerce")
    frame.attrs["last_line_at"] = last_line_at
    return frame


def _add_record(columns: dict[str, list], text: str, file: str, line: int, file_rank: int, counter: dict) -> None:
    record = parse_training_line(text)
    if record is None:
        return
    line_rank = rank_from_line(text)
    rank = line_rank if line_rank is not None else file_rank
    if "step" not in record:  # HF dict lines carry no step: number them per rank in order
        counter[rank] = counter.get(rank, 0) + 1
        record["step"] = counter[rank]
    record["loss_logged"] = "loss" in record
    record.update(file=file, line=line, rank=rank, timestamp=timestamp_text(text[:120]))
    for name, values in columns.items():
        values.append(record.get(name))


@dataclass(frozen=True)
class TrainingResult:
    """What the logs say about a run: records, per-rank progress, non-finite losses, spikes, stalls."""

    records: pd.DataFrame
    ranks: pd.DataFrame
    nonfinite: pd.DataFrame
    spikes: pd.DataFrame
    stalls: pd.DataFrame
    first_stopped_rank: int | None
    stopped_first_reason: str
    max_step: int | None
    spike_window: int
    spike_z: float
    stall_factor: float
    formats: tuple[str, ...] = field(default=())
    throughput: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=THROUGHPUT_COLUMNS))
    throughput_tolerance: float = 0.2

    @property
    def first_nonfinite_step(self) -> int | None:
        """The earliest step with a NaN/inf loss on any rank, or None."""
        return None if self.nonfinite.empty else int(self.nonfinite["step"].min())

    @property
    def lagging_ranks(self) -> list[int]:
        """Ranks whose last step is below the furthest rank's."""
        if self.ranks.empty or self.max_step is None:
            return []
        return [int(r) for r in self.ranks.loc[self.ranks["last_step"] < self.max_step, "rank"]]


def find_nonfinite_loss(records: pd.DataFrame) -> pd.DataFrame:
    """Records whose logged loss is NaN or infinite (a record without a loss is not reported)."""
    loss = records["loss"].to_numpy(dtype=float)
    bad = records["loss_logged"].to_numpy(dtype=bool) & ~np.isfinite(loss)
    return records.loc[bad].reset_index(drop=True)


def robust_z_scores(values: np.ndarray, *, window: int, min_periods: int) -> tuple[np.ndarray, np.ndarray]:
    """For each value, the median of the previous ``window`` values and the robust z-score against them.

    ``z = (x - median) / (1.4826 * MAD)`` with the MAD of the same window; NaN where fewer than
    ``min_periods`` earlier values exist. Vectorised over full windows.
    """
    n = len(values)
    medians = np.full(n, np.nan)
    mads = np.full(n, np.nan)
    for i in range(min(min_periods, n), min(window, n)):  # the first, partial windows
        past = values[:i]
        medians[i] = np.median(past)
        mads[i] = np.median(np.abs(past - medians[i]))
    if n > window:
        windows = np.lib.stride_tricks.sliding_window_view(values[:-1], window)
        med = np.median(windows, axis=1)
        medians[window:] = med
        mads[window:] = np.median(np.abs(windows - med[:, None]), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (values - medians) / (1.4826 * np.maximum(mads, 1e-12))
    return medians, z


def find_loss_spikes(records: pd.DataFrame, *, window: int = 50, z_threshold: float = 6.0) -> pd.DataFrame:
    """Loss spikes per rank: robust z = (loss - median) / (1.4826 * MAD) over the previous ``window`` losses.

    Only finite losses take part; a spike needs at least ``window // 4`` (and 5) earlier losses and must also
    exceed the median by 10 %, so that a perfectly flat curve (MAD 0) does not flag noise.
    Adds columns ``median``, ``robust_z``.
    """
    out = []
    min_periods = max(5, window // 4)
    finite = records.loc[np.isfinite(records["loss"].to_numpy(dtype=float))]
    for _, group in finite.groupby("rank", sort=True):
        group = group.sort_values(["step", "line"])
        loss = group["loss"].to_numpy(dtype=float)
        median, z = robust_z_scores(loss, window=window, min_periods=min_periods)
        hit = (z > z_threshold) & (loss > median * 1.10)
        out.append(group.loc[hit].assign(median=median[hit], robust_z=z[hit]))
    if not out:
        return records.iloc[0:0].assign(median=pd.Series(dtype=float), robust_z=pd.Series(dtype=float))
    return pd.concat(out).reset_index(drop=True)


def summarize_ranks(records: pd.DataFrame) -> pd.DataFrame:
    """One row per rank: records, first/last step, last loss, time of the last record and of the last line."""
    last_line_at = records.attrs.get("last_line_at", {})
    rows = []
    for rank, group in records.groupby("rank", sort=True):
        group = group.sort_values(["step", "line"])
        last = group.iloc[-1]
        seen = [ts for (f, r), ts in last_line_at.items() if r == rank]
        rows.append(
            {
                "rank": int(rank),
                "file": last["file"],
                "last_line": int(last["line"]),
                "records": len(group),
                "first_step": int(group["step"].min()),
                "last_step": int(group["step"].max()),
                "last_loss": float(last["loss"]),
                "last_record_at": group["timestamp"].max(),
                "last_line_at": max(seen) if seen else group["timestamp"].max(),
            }
        )
    return pd.DataFrame(rows, columns=RANK_COLUMNS)


def find_first_stopped(ranks: pd.DataFrame) -> tuple[int | None, str]:
    """The rank that stopped first and why: the lowest last step, ties broken by the earliest last record.

    Returns ``(None, reason)`` when there is a single rank or every rank reached the same step at about
    the same time (within one second).
    """
    if len(ranks) < 2:
        return None, "a single rank: nothing to compare"
    low = int(ranks["last_step"].min())
    high = int(ranks["last_step"].max())
    if low < high:
        behind = ranks.loc[ranks["last_step"] == low]
        if len(behind) == 1 or behind["last_record_at"].isna().all():
            rank = int(behind.iloc[0]["rank"])
        else:
            rank = int(behind.sort_values("last_record_at").iloc[0]["rank"])
        return rank, f"rank {rank} reached step {low} while the furthest rank reached step {high}"
    times = ranks["last_line_at"].dropna()
    if len(times) == len(ranks) and (times.max() - times.min()) > pd.Timedelta(seconds=1):
        order = ranks.sort_values("last_line_at")
        first, second = order.iloc[0], order.iloc[1]
        if second["last_line_at"] - first["last_line_at"] > pd.Timedelta(seconds=1):
            rank = int(first["rank"])
            gap = (second["last_line_at"] - first["last_line_at"]).total_seconds()
            return rank, f"every rank reached step {high}; rank {rank} went silent {gap:.0f} s before the others"
    return None, f"every rank reached step {high}"


def find_stalls(records: pd.DataFrame, *, factor: float = 5.0, min_gap_s: float = 60.0) -> pd.DataFrame:
    """Gaps between consecutive records of a rank longer than ``factor`` x its median interval and ``min_gap_s``.

    Columns: ``rank, file, line, after_step, gap_s, median_s``.
    """
    rows = []
    timed = records.dropna(subset=["timestamp"])
    for rank, group in timed.groupby("rank", sort=True):
        group = group.sort_values("line")
        gaps = group["timestamp"].diff().dt.total_seconds()
        median = float(gaps.median()) if gaps.notna().any() else math.nan
        if math.isnan(median):
            continue
        limit = max(factor * median, min_gap_s)
        for idx in gaps.index[gaps > limit]:
            pos = group.index.get_loc(idx)
            rows.append(
                {
                    "rank": int(rank),
                    "file": group.loc[idx, "file"],
                    "line": int(group.loc[idx, "line"]),
                    "after_step": int(group.iloc[pos - 1]["step"]),
                    "gap_s": float(gaps[idx]),
                    "median_s": median,
                }
            )
    return pd.DataFrame(rows, columns=["rank", "file", "line", "after_step", "gap_s", "median_s"])


def summarize_throughput(records: pd.DataFrame, *, recent: int = 20, tolerance: float = 0.2) -> pd.DataFrame:
    """Throughput per rank (tokens/s, else samples/s): median, median of the last ``recent`` records.

    ``straggler``: the rank's median is more than ``tolerance`` below the median of all ranks (a slow GPU or
    link holds every rank back in synchronous training); ``degrading``: its recent median fell more than
    ``tolerance`` below its own (throttling, a failing GPU, a slowing data loader). Columns:
    :data:`THROUGHPUT_COLUMNS`; empty when the logs print no throughput.
    """
    unit = next((c for c in ("tokens_per_s", "samples_per_s") if records[c].notna().any()), None)
    if unit is None:
        return pd.DataFrame(columns=THROUGHPUT_COLUMNS)
    rows = []
    for rank, group in records.dropna(subset=[unit]).groupby("rank", sort=True):
        group = group.sort_values(["step", "line"])
        last = group.iloc[-1]
        rows.append({"rank": int(rank), "unit": unit, "records": len(group), "median": float(group[unit].median()),
                     "recent_median": float(group[unit].tail(recent).median()), "file": last["file"],
                     "line": int(last["line"])})  # fmt: skip
    frame = pd.DataFrame(rows)
    fleet = float(frame["median"].median())
    frame["vs_fleet"] = frame["median"] / fleet if fleet > 0 else np.nan
    frame["vs_own"] = frame["recent_median"] / frame["median"].where(frame["median"] > 0)
    frame["straggler"] = (len(frame) > 1) & (frame["vs_fleet"] < 1 - tolerance)
    frame["degrading"] = (frame["records"] >= 2 * recent) & (frame["vs_own"] < 1 - tolerance)
    return frame[THROUGHPUT_COLUMNS]


def analyze_training(
    records: pd.DataFrame,
    *,
    spike_window: int = 50,
    spike_z: float = 6.0,
    stall_factor: float = 5.0,
    stall_min_gap_s: float = 60.0,
    throughput_tolerance: float = 0.2,
) -> TrainingResult:
    """Judge the training records of a run (see :func:`read_training_logs`)."""
    if records.empty:
        raise InputError(
            "no training progress lines (step/loss) found in the logs",
            hint="opskit reads HF Trainer dicts, Lightning bars, DeepSpeed, Megatron and step=/loss= lines",
        )
    ranks = summarize_ranks(records)
    first, reason = find_first_stopped(ranks)
    return TrainingResult(
        records=records,
        ranks=ranks,
        nonfinite=find_nonfinite_loss(records),
        spikes=find_loss_spikes(records, window=spike_window, z_threshold=spike_z),
        stalls=find_stalls(records, factor=stall_factor, min_gap_s=stall_min_gap_s),
        first_stopped_rank=first,
        stopped_first_reason=reason,
        max_step=int(ranks["last_step"].max()),
        spike_window=spike_window,
        spike_z=spike_z,
        stall_factor=stall_factor,
        formats=tuple(sorted(records["format"].dropna().unique())),
        throughput=summarize_throughput(records, tolerance=throughput_tolerance),
        throughput_tolerance=throughput_tolerance,
    )


def rank_label(rank: int) -> str:
    """``rank 5``; ``log`` for records whose rank neither the line nor the file name gave (-1)."""
    return f"rank {rank}" if rank >= 0 else "log"


def _evidence(row: pd.Series) -> str:
    return f"{row['file']}:{row['line']} step {row['step']} loss {row['loss']}"


def judge_training(result: TrainingResult) -> list[Verdict]:
    """Verdicts, one per rank where ranks differ: progress, finite loss, spikes, stalls."""
    out: list[Verdict] = []
    lagging = set(result.lagging_ranks)
    for row in result.ranks.itertuples(index=False):
        rank = int(row.rank)
        where = f"{row.file}:{row.last_line} (last record)"
        if rank == result.first_stopped_rank:
            status, message = Status.FAIL, f"stopped first: {result.stopped_first_reason}"
            step = "read this rank's log around its last lines (and dmesg/host logs of its node): the others waited"
        elif rank in lagging:
            status, message, step = Status.WARN, "behind the furthest rank", "check whether this rank also stalled"
        else:
            status, message, step = Status.PASS, None, None
        out.append(
            Verdict("rank progress", status, subject=rank_label(rank), observed=int(row.last_step),
                    threshold=result.max_step, unit="step", evidence=where, next_step=step, message=message)
        )  # fmt: skip
    if result.nonfinite.empty:
        out.append(Verdict("loss finite", Status.PASS, subject="all ranks", observed=0, threshold=0, unit="records"))
    for rank, group in result.nonfinite.groupby("rank", sort=True):
        first = group.sort_values(["step", "line"]).iloc[0]
        out.append(
            Verdict(
                "loss finite",
                Status.FAIL,
                subject=rank_label(rank),
                observed=len(group),
                threshold=0,
                unit="NaN/inf records",
                evidence=_evidence(first),
                message=f"first non-finite loss at step {first['step']}",
                next_step="inspect the batch at that step and the learning rate; lower the LR or enable gradient "
                "clipping; resume from a checkpoint before the first NaN",
            )
        )
    if result.spikes.empty:
        out.append(Verdict("loss spikes", Status.PASS, subject="all ranks", observed=0, threshold=result.spike_z,
                           unit="robust z"))  # fmt: skip
    for rank, group in result.spikes.groupby("rank", sort=True):
        worst = group.sort_values("robust_z").iloc[-1]
        out.append(
            Verdict(
                "loss spikes",
                Status.WARN,
                subject=rank_label(rank),
                observed=round(float(worst["robust_z"]), 1),
                threshold=result.spike_z,
                unit="robust z",
                evidence=_evidence(worst),
                message=f"{len(group)} spike(s); worst at step {worst['step']} against a median of "
                f"{worst['median']:.4g}",
                next_step="look at the data of that step; recurring spikes call for a lower LR or gradient clipping",
            )
        )
    out.extend(_judge_throughput(result))
    if result.stalls.empty:
        out.append(Verdict("stalls", Status.PASS, subject="all ranks", observed=0, threshold=result.stall_factor,
                           unit="x median interval"))  # fmt: skip
    for rank, group in result.stalls.groupby("rank", sort=True):
        worst = group.sort_values("gap_s").iloc[-1]
        out.append(
            Verdict(
                "stalls",
                Status.WARN,
                subject=rank_label(rank),
                observed=round(float(worst["gap_s"]), 1),
                threshold=round(result.stall_factor * float(worst["median_s"]), 1),
                unit="s",
                evidence=f"{worst['file']}:{worst['line']} after step {worst['after_step']}",
                message=f"{len(group)} gap(s) between records; the median interval is {worst['median_s']:.3g} s",
                next_step="check the data loader, checkpoint saving and the host around that time",
            )
        )
    return out


def _judge_throughput(result: TrainingResult) -> list[Verdict]:
    frame = result.throughput
    if frame.empty:
        return []
    unit = str(frame["unit"].iloc[0]).replace("_per_s", "/s")
    floor = 1 - result.throughput_tolerance
    fleet = float(frame["median"].median())
    flagged = frame[frame["straggler"] | frame["degrading"]]
    if flagged.empty:
        return [Verdict("throughput", Status.PASS, subject="all ranks", observed=round(fleet, 1),
                        unit=unit, message="no straggler, no rank slowing down")]  # fmt: skip
    if len(frame) > 1 and frame["degrading"].all():
        worst = frame.sort_values("vs_own").iloc[0]
        return [
            Verdict(
                "throughput",
                Status.WARN,
                subject="all ranks",
                observed=round(float(frame["recent_median"].median()), 1),
                threshold=round(fleet * floor, 1),
                unit=unit,
                evidence=f"{worst['file']}:{worst['line']} (last record)",
                message=f"every rank slowed down together (to {frame['vs_own'].median():.0%} of its median): in "
                "synchronous training one slow GPU or link slows them all",
                next_step="look for the rank that stopped first and check its GPU's clocks, temperature and Xid "
                "errors (nvidia-smi -q -d PERFORMANCE,TEMPERATURE)",
            )
        ]
    out = []
    for row in flagged.itertuples(index=False):
        if row.degrading:
            observed, reference = row.recent_median, row.median
            message = f"its last records run at {row.vs_own:.0%} of its own median"
        else:
            observed, reference = row.median, fleet
            message = f"runs at {row.vs_fleet:.0%} of the median rank: every rank waits for it"
        out.append(
            Verdict(
                "throughput",
                Status.WARN,
                subject=rank_label(row.rank),
                observed=round(float(observed), 1),
                threshold=round(float(reference) * floor, 1),
                unit=unit,
                evidence=f"{row.file}:{row.line} (last record)",
                message=message,
                next_step="check that GPU's clocks, temperature and Xid errors (nvidia-smi -q -d PERFORMANCE,"
                "TEMPERATURE) and the node's data loading",
            )
        )
    return out


def judge_torchrun_report(
    report: dict, *, where: str, cause_rank: int | None, hint: str | None = None
) -> Verdict | None:
    """torchrun's "Root Cause (first observed failure)" against the rank the evidence points at.

    ``report`` is the ``torchrun`` details of a ``worker_failed`` finding (``root_cause`` with rank, exitcode,
    signal). torchrun names the first process *it saw* exit: after a watchdog abort that is a waiting rank,
    not the one that stopped. WARN when they differ, PASS when they agree; None without a root-cause block.
    """
    root = report.get("root_cause") or {}
    if root.get("rank") is None:
        return None
    named = int(root["rank"])
    how = f"exit code {root.get('exitcode')}" + (f" ({root['signal']})" if root.get("signal") else "")
    observed = f"rank {named}, {how}"
    if cause_rank is None or named == cause_rank:
        return Verdict("torchrun first observed failure", Status.PASS, subject=f"rank {named}", observed=observed,
                       evidence=where, next_step=hint)  # fmt: skip
    return Verdict(
        "torchrun first observed failure",
        Status.WARN,
        subject=f"rank {named}",
        observed=observed,
        threshold=f"rank {cause_rank}",
        evidence=where,
        message=f"torchrun names rank {named}, but rank {cause_rank} stopped first: rank {named}'s exit is a "
        "consequence (the watchdog aborted it while it waited)",
        next_step=hint or f"read rank {cause_rank}'s log, not rank {named}'s traceback",
    )
