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

:func:`read_training_logs` reads them in blocks; :mod:`opskit.analyses.training.progress` judges the records.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator

import pandas as pd

from opskit.errors import InputError
from opskit.sources.log_encoding import UntilDamage
from opskit.sources.logs import decode_line, discover, iter_regions, rank_from_line
from opskit.sources.logs import rank_from_name as rank_from_path
from opskit.sources.timestamps import parse_timestamp as parse_log_timestamp

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

_NUM = r"[-+]?(?:nan|inf(?:inity)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,6}))?(Z|[+-]\d{2}:?\d{2})?")

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


_FIELD_OF_KEY = {
    **{k: "step" for k in _STEP_KEYS},
    **{k: "loss" for k in _LOSS_KEYS},
    **{k: "lr" for k in _LR_KEYS},
    "epoch": "epoch",
    **{k: "tokens_per_s" for k in _TOKENS_KEYS},
    **{k: "samples_per_s" for k in _SAMPLES_KEYS},
    **{k: "grad_norm" for k in ("grad_norm", "grad norm", "gradient_norm", "total_grad_norm")},
    **{k: "loss_scale" for k in ("loss_scale", "loss scale")},
    **{k: "skipped" for k in ("skipped", "number of skipped iterations")},  # Megatron per interval, DeepSpeed total
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

    Returns a dict with ``format`` and any of ``step, loss, lr, epoch, tokens_per_s, samples_per_s``,
    plus ``grad_norm``, ``loss_scale`` and ``skipped`` (iterations skipped: per logging interval in Megatron,
    since the start in DeepSpeed) where the line prints them (read by the triage's metric rules).
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
        reader = UntilDamage(stream)
        try:
            for region in iter_regions(reader):  # type: ignore[arg-type]
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
        if reader.damage is not None:  # a cut .gz: progress judged on part of a log would look like a stop
            raise InputError(f"not read in full: cut after line {number - 1:,} ({reader.damage})", path=source.name,
                             hint="copy the log again (a .gz cut short is re-fetched whole) and rerun")  # fmt: skip
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
