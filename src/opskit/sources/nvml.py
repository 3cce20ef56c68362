"""opskit's own GPU sampler: NVML readings (via ``nvidia-ml-py``, imported as ``pynvml``) to Parquet or CSV.

The equivalent of ``nvidia-smi --query-gpu=timestamp,name,pci.bus_id,index,uuid,utilization.gpu,
memory.used,memory.total,power.draw --format=csv -l 15`` plus ``nvidia-smi --query-compute-apps=
pid,process_name,used_memory``, written as the GPU-samples frame (readable with
:func:`opskit.sources.gpu_tables.read_gpu_table`) and a processes table beside it
(``<out>.processes.parquet``: ``timestamp``, ``host``, ``gpu``, ``uuid``, ``pid``, ``process_name``,
``kind`` (compute or graphics), ``used_mem_mib``).

A reading NVML does not support on a GPU becomes missing; a missing driver is one
:class:`~opskit.errors.OpskitError` with a hint (the CLI prints it and exits 2), not a traceback.
"""

from __future__ import annotations

import csv
import math
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from opskit.errors import MissingDependencyError, OpskitError

MIB = 1024 * 1024

GPU_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("host", pa.string()),
        ("gpu", pa.int64()),
        ("uuid", pa.string()),
        ("model", pa.string()),
        ("pci_bus_id", pa.string()),
        ("util_pct", pa.float64()),
        ("mem_util_pct", pa.float64()),
        ("mem_used_mib", pa.float64()),
        ("mem_total_mib", pa.float64()),
        ("power_w", pa.float64()),
        ("temperature_c", pa.float64()),
    ]
)
PROCESS_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("host", pa.string()),
        ("gpu", pa.int64()),
        ("uuid", pa.string()),
        ("pid", pa.int64()),
        ("process_name", pa.string()),
        ("kind", pa.string()),
        ("used_mem_mib", pa.float64()),
    ]
)
NO_DRIVER_HINT = (
    "run this on a node with an NVIDIA GPU and driver (nvidia-smi must work there); in a container, "
    "start it with the NVIDIA runtime (docker run --gpus all ...). Without one, read recorded data instead: "
    "nvidia-smi CSV, dcgm-exporter scrapes or Prometheus"
)


def load_pynvml() -> Any:
    """The ``pynvml`` module of ``nvidia-ml-py``; :class:`MissingDependencyError` when it is not installed."""
    try:
        import pynvml
    except ImportError:
        raise MissingDependencyError("nvidia-ml-py", extra="gpu", feature="sampling GPUs with NVML") from None
    return pynvml


@contextmanager
def nvml_session(nvml: Any | None = None) -> Iterator[Any]:
    """``nvmlInit()`` ... ``nvmlShutdown()``; a missing library or driver becomes one OpskitError with a hint."""
    nvml = nvml or load_pynvml()
    try:
        nvml.nvmlInit()
    except nvml.NVMLError_LibraryNotFound:
        raise OpskitError(
            "no NVIDIA driver here: the NVML library (libnvidia-ml.so.1) was not found", hint=NO_DRIVER_HINT
        ) from None
    except nvml.NVMLError_DriverNotLoaded:
        raise OpskitError(
            "the NVIDIA driver is not loaded (NVML found, kernel module absent)",
            hint="check `nvidia-smi` and `dmesg | grep -i nvidia`; load the driver (modprobe nvidia) or reboot "
            "after a driver upgrade",
        ) from None
    except nvml.NVMLError as exc:
        raise OpskitError(f"NVML could not start: {exc}", hint="check `nvidia-smi` on this node") from None
    try:
        yield nvml
    finally:
        with suppress(nvml.NVMLError):
            nvml.nvmlShutdown()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reading(nvml: Any, fn: Callable[[], Any]) -> Any:
    """A reading, or None when this GPU does not support it (degrade per metric)."""
    try:
        return fn()
    except nvml.NVMLError:
        return None


def _process_name(nvml: Any, pid: int) -> str | None:
    name = _reading(nvml, lambda: nvml.nvmlSystemGetProcessName(pid))
    if name:
        return _text(name)
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() or None
    except OSError:
        return None


def read_gpus(nvml: Any, host: str, now: datetime | None = None) -> tuple[list[dict], list[dict]]:
    """One reading of every GPU: (GPU rows, process rows) with the columns of the two schemas."""
    now = now or datetime.now(UTC)
    gpus: list[dict] = []
    procs: list[dict] = []
    for index in range(nvml.nvmlDeviceGetCount()):
        h = nvml.nvmlDeviceGetHandleByIndex(index)
        uuid = _reading(nvml, lambda h=h: _text(nvml.nvmlDeviceGetUUID(h)))
        util = _reading(nvml, lambda h=h: nvml.nvmlDeviceGetUtilizationRates(h))
        mem = _reading(nvml, lambda h=h: nvml.nvmlDeviceGetMemoryInfo(h))
        power_mw = _reading(nvml, lambda h=h: nvml.nvmlDeviceGetPowerUsage(h))
        temp = _reading(nvml, lambda h=h: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU))
        pci = _reading(nvml, lambda h=h: nvml.nvmlDeviceGetPciInfo(h))
        gpus.append(
            {
                "timestamp": now,
                "host": host,
                "gpu": index,
                "uuid": uuid,
                "model": _reading(nvml, lambda h=h: _text(nvml.nvmlDeviceGetName(h))),
                "pci_bus_id": _text(pci.busId) if pci is not None else None,
                "util_pct": float(util.gpu) if util is not None else math.nan,
                "mem_util_pct": float(util.memory) if util is not None else math.nan,
                "mem_used_mib": mem.used / MIB if mem is not None else math.nan,
                "mem_total_mib": mem.total / MIB if mem is not None else math.nan,
                "power_w": power_mw / 1000.0 if power_mw is not None else math.nan,
                "temperature_c": float(temp) if temp is not None else math.nan,
            }
        )
        for kind, fn in (
            ("compute", nvml.nvmlDeviceGetComputeRunningProcesses),
            ("graphics", nvml.nvmlDeviceGetGraphicsRunningProcesses),
        ):
            for p in _reading(nvml, lambda fn=fn, h=h: fn(h)) or []:
                used = getattr(p, "usedGpuMemory", None)
                procs.append(
                    {
                        "timestamp": now,
                        "host": host,
                        "gpu": index,
                        "uuid": uuid,
                        "pid": int(p.pid),
                        "process_name": _process_name(nvml, int(p.pid)),
                        "kind": kind,
                        "used_mem_mib": used / MIB if isinstance(used, int) else math.nan,
                    }
                )
    return gpus, procs


def processes_path(out: str | Path) -> Path:
    """``gpus.parquet`` -> ``gpus.processes.parquet`` (same format as the samples file)."""
    out = Path(out)
    return out.with_name(f"{out.stem}.processes{out.suffix}")


class _TableWriter:
    """Appends rows to a Parquet (one row group per flush) or CSV file with a fixed schema."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema = path, schema
        self.kind = "csv" if path.suffix.lower() == ".csv" else "parquet"
        self._parquet: pq.ParquetWriter | None = None
        self._csv_started = False
        self.rows = 0

    def write(self, rows: list[dict]) -> None:
        if self.kind == "parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, self.schema, compression="zstd")
            self._parquet.write_table(pa.Table.from_pylist(rows, schema=self.schema))
        else:
            names = self.schema.names
            with open(self.path, "a" if self._csv_started else "w", newline="") as fh:
                w = csv.writer(fh)
                if not self._csv_started:
                    w.writerow(names)
                for r in rows:
                    w.writerow([_csv_cell(r.get(n)) for n in names])
            self._csv_started = True
        self.rows += len(rows)

    def close(self) -> None:
        if self.kind == "parquet":
            if self._parquet is None:  # nothing recorded: still leave a valid, empty table
                self._parquet = pq.ParquetWriter(self.path, self.schema, compression="zstd")
            self._parquet.close()
        elif not self._csv_started:
            self.write([])


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value


@dataclass(frozen=True)
class RecordResult:
    """What :func:`record` wrote."""

    path: Path
    processes_path: Path
    rounds: int
    gpus: int
    readings: int
    process_rows: int
    interrupted: bool


def record(
    out: str | Path,
    *,
    interval_s: float = 15.0,
    count: int | None = None,
    duration_s: float | None = None,
    host: str | None = None,
    nvml: Any | None = None,
    flush_every: int = 20,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_round: Callable[[int, int], None] | None = None,
) -> RecordResult:
    """Read every GPU each ``interval_s`` until ``count`` rounds or ``duration_s`` seconds (or Ctrl-C).

    ``out`` ends in ``.parquet`` or ``.csv``; processes go to :func:`processes_path`. Rows are
    flushed every ``flush_every`` rounds, so a killed recorder leaves what it had. ``nvml`` replaces
    the ``pynvml`` module (tests pass a fake).
    """
    out = Path(out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise OpskitError(f"cannot write {out.name}: use a .parquet or .csv file", hint="--out gpus.parquet")
    if interval_s <= 0:
        raise OpskitError(f"the interval must be positive, not {interval_s}", hint="--interval 15")
    if count is not None and count < 1:
        raise OpskitError(f"the count must be at least 1, not {count}", hint="--count 4")
    host = host or socket.gethostname()
    proc_out = processes_path(out)
    rounds = n_gpus = 0
    interrupted = False
    with nvml_session(nvml) as lib:
        if out.parent and not out.parent.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
        gpus_w, procs_w = _TableWriter(out, GPU_SCHEMA), _TableWriter(proc_out, PROCESS_SCHEMA)
        pending_g: list[dict] = []
        pending_p: list[dict] = []
        started = clock()
        try:
            while True:
                tick = clock()
                g, p = read_gpus(lib, host)
                n_gpus = max(n_gpus, len(g))
                pending_g.extend(g)
                pending_p.extend(p)
                rounds += 1
                if on_round:
                    on_round(rounds, len(g))
                if rounds % flush_every == 0:
                    gpus_w.write(pending_g)
                    procs_w.write(pending_p)
                    pending_g, pending_p = [], []
                if count is not None and rounds >= count:
                    break
                next_tick = tick + interval_s
                if duration_s is not None and next_tick - started >= duration_s:
                    break
                sleep(max(0.0, next_tick - clock()))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if pending_g:
                gpus_w.write(pending_g)
            if pending_p:
                procs_w.write(pending_p)
            gpus_w.close()
            procs_w.close()
    return RecordResult(out, proc_out, rounds, n_gpus, gpus_w.rows, procs_w.rows, interrupted)
