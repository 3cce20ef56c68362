"""Read ``nvidia-smi --query-gpu ... --format=csv`` output into the GPU-samples frame.

The files this reads are what a loop like this writes on each node::

    nvidia-smi --query-gpu=timestamp,name,pci.bus_id,index,uuid,utilization.gpu,memory.used,\\
memory.total,power.draw --format=csv -l 15 > $(hostname).csv

with or without ``noheader`` and ``nounits``. ``nvidia-smi -l`` repeats the header now and then;
each header starts a block with its own field order, so a file whose query changed midway still
reads. Values such as ``[N/A]`` or ``[Not Supported]`` become missing readings, not errors.
Timestamps (``2026/11/16 00:00:05.123``) are the node's local time: pass ``timezone`` when the
node does not run in UTC. The host is the ``host`` argument, or else the file name (see
:func:`host_from_path`). Fields other than those listed in :data:`FIELDS` are ignored. A MIG-enabled
GPU answers ``utilization.gpu`` with ``[N/A]``: read as unknown, with ``mig.mode.current`` kept as ``mig_mode``.

nvidia-smi's other outputs are refused by name at their first line, with the command to record instead:
the table (``nvidia-smi``, its ``MIG devices`` section included), ``nvidia-smi -q``, ``dmon``/``pmon``, and
the per-process ``--query-compute-apps`` CSV (no utilization; ``[N/A]`` memory under Windows WDDM).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.errors import InputError
from opskit.sources.encodings import read_text
from opskit.sources.files import expand_paths
from opskit.sources.gpu_frame import validate_gpu_frame

DEFAULT_QUERY: tuple[str, ...] = (
    "timestamp",
    "name",
    "pci.bus_id",
    "index",
    "uuid",
    "utilization.gpu",
    "memory.used",
    "memory.total",
    "power.draw",
)
"""The query opskit documents, in order: the field order assumed for ``noheader`` files."""

QUERY_COMMAND = (
    "nvidia-smi --query-gpu=" + ",".join(DEFAULT_QUERY) + " --format=csv -l 15"
)  # the command to record what this module reads

FIELDS: dict[str, str] = {
    "timestamp": "timestamp",
    "name": "model",
    "gpu_name": "model",
    "pci.bus_id": "pci_bus_id",
    "gpu_bus_id": "pci_bus_id",
    "index": "gpu",
    "uuid": "uuid",
    "gpu_uuid": "uuid",
    "utilization.gpu": "util_pct",
    "memory.used": "mem_used_mib",
    "memory.total": "mem_total_mib",
    "memory.free": "mem_free_mib",
    "power.draw": "power_w",
    "power.draw.instant": "power_w_instant",
    "power.draw.average": "power_w_average",
    "temperature.gpu": "temperature_c",
    "clocks.sm": "sm_clock_mhz",
    "clocks.current.sm": "sm_clock_mhz",
    "mig.mode.current": "mig_mode",
}
"""nvidia-smi query field -> frame column. Other fields are read past."""

NUMERIC = (
    "gpu",
    "util_pct",
    "mem_used_mib",
    "mem_total_mib",
    "mem_free_mib",
    "power_w",
    "power_w_instant",
    "power_w_average",
    "temperature_c",
    "sm_clock_mhz",
)
INDEX_FROM_BUS = (
    "pci.bus_id order: the capture has no index field, and nvidia-smi numbers GPUs by PCI bus id "
    "(a capture limited with -i numbers its GPUs from 0)"
)
"""Stated in ``frame.attrs['gpu_index_from']`` when the GPU index was taken from the bus ids."""
PROCESS_FIELDS = ("pid", "process_name", "used_gpu_memory", "used_memory", "gpu_serial")
"""Fields of ``nvidia-smi --query-compute-apps`` (one row per process, no utilization): refused by name."""
_NOT_CSV = (
    (re.compile(r"^\+[-+=]{5,}$|^\|\s*(NVIDIA-SMI|MIG devices:|GPU\s+Name\b)"), "the nvidia-smi table"),
    (re.compile(r"^=+NVSMI LOG=+$|^[A-Za-z][\w .()/+-]*?\s+: \S"), "nvidia-smi -q (the key : value report)"),
    (re.compile(r"^#\s*gpu\b", re.IGNORECASE), "nvidia-smi dmon or pmon (space-aligned columns)"),
)
_DOTTED = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")  # an nvidia-smi query field opskit does not read
_REQUIRED_FIELDS = ("timestamp", "index", "utilization.gpu", "memory.used", "memory.total")
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:%|MiB|W|C|MHz)?\s*$")
_UNIT = re.compile(r"\s*\[[^\]]*\]\s*$")
_TIME_FORMAT = "%Y/%m/%d %H:%M:%S.%f"


_ZONED = r"(?:Z|[+-]\d\d:?\d\d)$"  # an ISO timestamp that carries its own offset


def _field_name(header_cell: str) -> str:
    """``'utilization.gpu [%]'`` -> ``'utilization.gpu'``."""
    return _UNIT.sub("", header_cell.strip()).strip().lower()


def _is_header(cells: list[str]) -> bool:
    """A --query-gpu (or --query-compute-apps) header: field names, maybe with units, never values."""
    if not cells or _NUMBER.match(cells[0]):
        return False
    first = _field_name(cells[0])
    if first in FIELDS or first in PROCESS_FIELDS:
        return True
    bare = [_UNIT.sub("", c.strip()).strip() for c in cells]  # case kept: values such as "Enabled" are not names
    return all(_DOTTED.match(b) for b in bare)


def _refuse_other_output(text: str, path: Path) -> None:
    """Refuse nvidia-smi's human outputs (the table, ``-q``, ``dmon``/``pmon``) by name, at their first line."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        for pattern, what in _NOT_CSV:
            if "," not in stripped and pattern.search(stripped):
                extra = ""
                if "MIG devices:" in text or "MIG M." in text:
                    extra = (
                        "; a MIG-enabled GPU reports no utilization there nor in --query-gpu ([N/A]): read "
                        "per-MIG-instance activity from dcgm-exporter (source_format='dcgm' or 'prometheus')"
                    )
                elif "WDDM" in text:
                    extra = (
                        "; per-process memory is not available in the Windows WDDM driver model, but the GPU's "
                        "memory.used in --query-gpu is"
                    )
                raise InputError(
                    f"this is {what}, not --query-gpu CSV{extra}",
                    path=path,
                    line=lineno,
                    hint=f"record with: {QUERY_COMMAND}",
                )
        return


def _refuse_process_query(names: list[str], path: Path, lineno: int) -> None:
    """A --query-compute-apps header: per-process rows without utilization cannot be GPU samples."""
    found = [n for n in names if n in PROCESS_FIELDS]
    if found:
        raise InputError(
            f"this is per-process output of nvidia-smi --query-compute-apps ({', '.join(names)}): it has "
            "no GPU utilization ([N/A] memory per process under Windows WDDM is a driver limit)",
            path=path,
            line=lineno,
            column=found[0],
            hint=f"record the GPUs instead: {QUERY_COMMAND}",
        )


def _is_missing(values: pd.Series) -> pd.Series:
    text = values.fillna("").str.strip()
    return (text == "") | text.str.startswith("[") | text.isin(["N/A", "Not Supported"])


def host_from_path(path: str | Path) -> str:
    """The host a file is named after: ``gpu-node-07.csv``, ``gpu-node-07.nvidia-smi.csv`` and
    ``nvidia-smi-gpu-node-07.csv`` all give ``gpu-node-07``."""
    name = Path(path).name
    for suffix in (".gz", ".csv", ".log", ".txt"):
        name = name.removesuffix(suffix)
    for suffix in (".nvidia-smi", "-nvidia-smi", "_nvidia-smi", ".smi"):
        name = name.removesuffix(suffix)
    for prefix in ("nvidia-smi-", "nvidia-smi_", "nvidia-smi."):
        name = name.removeprefix(prefix)
    return name


def _blocks(text: str, path: Path, fields: tuple[str, ...]) -> tuple[list[tuple[list[str], list[int], list]], int]:
    """Split a file into (field names, line numbers, rows) blocks, one per header; count skipped lines."""
    blocks: list[tuple[list[str], list[int], list]] = []
    current: tuple[list[str], list[int], list] | None = None
    lines = text.splitlines()
    truncated_tail = bool(text) and not text.endswith("\n")
    skipped = 0
    for lineno, cells in enumerate(csv.reader(io.StringIO(text), skipinitialspace=True), start=1):
        if not cells or all(not c.strip() for c in cells):
            continue
        if _is_header(cells):
            _refuse_process_query([_field_name(c) for c in cells], path, lineno)
            current = ([_field_name(c) for c in cells], [], [])
            blocks.append(current)
            continue
        if current is None:  # noheader output: the documented query order
            current = (list(fields), [], [])
            blocks.append(current)
        names, numbers, rows = current
        if len(cells) != len(names):
            if truncated_tail and lineno == len(lines):  # the writer was still writing this line
                skipped += 1
                continue
            raise InputError(
                f"expected {len(names)} comma-separated fields ({', '.join(names)}), found {len(cells)}",
                path=path,
                line=lineno,
                hint="each line is one GPU reading; a file without a header is read in the documented order "
                f"({QUERY_COMMAND}): put your --query-gpu header line first (record without noheader), "
                "or in Python pass fields= in the order of --query-gpu",
            )
        numbers.append(lineno)
        rows.append(cells)
    return blocks, skipped


def _parse_block(names: list[str], numbers: list[int], rows: list, path: Path) -> pd.DataFrame:
    by_bus = "index" not in names and "pci.bus_id" in names  # nvidia-smi numbers GPUs in PCI bus order
    missing = [f for f in _REQUIRED_FIELDS if f not in names and not (f == "index" and by_bus)]
    if missing:
        raise InputError(
            f"the nvidia-smi query lacks {missing}; expected fields {list(DEFAULT_QUERY)}, found {names}",
            path=path,
            line=numbers[0] if numbers else None,
            column=missing[0],
            hint=f"record with: {QUERY_COMMAND}",
        )
    raw = pd.DataFrame(rows, columns=names, dtype=object)
    lines = np.asarray(numbers)
    out = pd.DataFrame(index=raw.index)
    for field, column in FIELDS.items():
        if field in raw.columns and column not in out.columns:
            out[column] = raw[field].str.strip()
    for column in NUMERIC:
        if column not in out.columns:
            continue
        values = out[column]
        missing_mask = _is_missing(values)
        number = pd.to_numeric(values.str.extract(_NUMBER, expand=False), errors="coerce")
        bad = number.isna() & ~missing_mask
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"not a number: {values.iloc[i]!r}",
                path=path,
                line=int(lines[i]),
                column=column,
                hint="nvidia-smi writes numbers with an optional unit, or [N/A] when a value is unknown",
            )
        out[column] = number.astype("float64")
    stamps = out["timestamp"]
    zoned = stamps.astype(str).str.contains(_ZONED, regex=True)
    if zoned.any() and not zoned.all():
        i, j = int(np.flatnonzero(zoned.to_numpy())[0]), int(np.flatnonzero(~zoned.to_numpy())[0])
        raise InputError(
            f"timestamps mix time zones: line {int(lines[i])} has one ({stamps.iloc[i]!r}), "
            f"line {int(lines[j])} has none ({stamps.iloc[j]!r})",
            path=path,
            line=int(lines[max(i, j)]),
            column="timestamp",
            hint="write every timestamp in one form; timestamps without a zone are read in the timezone parameter",
        )
    if zoned.all():  # offsets may differ (a DST change): each is converted to UTC
        ts = pd.to_datetime(stamps, format="ISO8601", errors="coerce", utc=True)
    else:
        ts = pd.to_datetime(stamps, format=_TIME_FORMAT, errors="coerce")
        retry = ts.isna()
        if retry.any():
            ts[retry] = pd.to_datetime(stamps[retry], format="ISO8601", errors="coerce")
    if ts.isna().any():
        i = int(np.flatnonzero(ts.isna().to_numpy())[0])
        raise InputError(
            f"not a timestamp: {stamps.iloc[i]!r}",
            path=path,
            line=int(lines[i]),
            column="timestamp",
            hint="nvidia-smi writes timestamps like 2026/11/16 00:00:05.123",
        )
    out["timestamp"] = ts
    if by_bus:  # the index is the rank of the bus id among the GPUs of this capture
        buses = out["pci_bus_id"].str.upper()
        out["gpu"] = buses.map({bus: i for i, bus in enumerate(sorted(buses.unique()))}).astype("float64")
    if out["gpu"].isna().any():
        i = int(np.flatnonzero(out["gpu"].isna().to_numpy())[0])
        raise InputError("the GPU index is missing", path=path, line=int(lines[i]), column="index")
    if "power_w" not in out.columns:
        for alt in ("power_w_instant", "power_w_average"):
            if alt in out.columns:
                out["power_w"] = out[alt]
                break
    return out


def read_nvidia_smi_file(
    path: str | Path,
    *,
    host: str | None = None,
    timezone: str = "UTC",
    fields: Iterable[str] = DEFAULT_QUERY,
) -> pd.DataFrame:
    """Read one file of ``nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]`` output.

    Returns the GPU-samples frame plus ``pci_bus_id`` and any other known fields. ``fields`` is the
    query order for files without a header. ``df.attrs["skipped_lines"]`` counts a last line cut
    short by a writer that was still running.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path, hint="check the path to the nvidia-smi CSV")
    text = read_text(path).text  # UTF-8, UTF-16/32 (a PowerShell redirect) or GB18030; binary is refused
    if not text.strip():
        raise InputError("the file is empty", path=path, hint=f"record with: {QUERY_COMMAND}")
    _refuse_other_output(text, path)
    blocks, skipped = _blocks(text, path, tuple(_field_name(f) for f in fields))
    frames = [_parse_block(names, numbers, rows, path) for names, numbers, rows in blocks if rows]
    if not frames:
        raise InputError("only headers, no GPU readings", path=path, hint="let nvidia-smi -l run for a while")
    df = pd.concat(frames, ignore_index=True)
    df.insert(1, "host", host or host_from_path(path))
    if "model" not in df.columns:
        df["model"] = None
    if "uuid" not in df.columns:
        df["uuid"] = None
    if "power_w" not in df.columns:
        df["power_w"] = np.nan
    out = validate_gpu_frame(df, path, timezone=timezone)
    out.attrs["skipped_lines"] = skipped
    if any("index" not in names for names, _, rows in blocks if rows):
        out.attrs["gpu_index_from"] = INDEX_FROM_BUS
    return out


def read_nvidia_smi_csv(
    paths: str | Path | Iterable[str | Path],
    *,
    host: str | None = None,
    timezone: str = "UTC",
    fields: Iterable[str] = DEFAULT_QUERY,
) -> pd.DataFrame:
    """Read one or many nvidia-smi CSV files (or folders of ``*.csv``, one file per host) as one frame.

    ``host`` applies to every file; leave it out to take each host from its file name.
    """
    files = expand_paths(paths, pattern="*.csv", what="*.csv files", hint="point at nvidia-smi CSV files")
    if not files:
        raise InputError("no nvidia-smi files given", hint="pass a file, a list of files or a folder")
    fields = tuple(fields)
    frames = [read_nvidia_smi_file(f, host=host, timezone=timezone, fields=fields) for f in files]
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    skipped = sum(f.attrs.get("skipped_lines", 0) for f in frames)
    out = validate_gpu_frame(out, files[0] if len(files) == 1 else files[0].parent) if len(frames) > 1 else out
    out.attrs["skipped_lines"] = skipped
    if any("gpu_index_from" in f.attrs for f in frames):
        out.attrs["gpu_index_from"] = INDEX_FROM_BUS
    return out
