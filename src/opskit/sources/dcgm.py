"""Read dcgm-exporter scrapes (Prometheus text exposition saved to files) into the GPU-samples frame.

OpenMetrics files (ending with ``# EOF``, timestamps in seconds, as for ``promtool`` backfill) read too.
Save scrapes with e.g. ``curl -s node:9400/metrics > dcgm-$(date -u +%Y%m%dT%H%M%SZ).prom``; a file
holds one scrape (its time taken from the file name, or given) or many scrapes whose samples carry
the exposition format's own millisecond timestamps. ``.gz`` files are read as they are.

Metrics read (others are skipped): ``DCGM_FI_DEV_GPU_UTIL`` (%), ``DCGM_FI_DEV_FB_USED`` and
``DCGM_FI_DEV_FB_FREE`` (MiB; total = used + free + ``DCGM_FI_DEV_FB_RESERVED`` when present, or
``DCGM_FI_DEV_FB_TOTAL``), ``DCGM_FI_DEV_POWER_USAGE`` (W), ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` and
``DCGM_FI_PROF_SM_ACTIVE`` (ratios 0-1, turned into percent). Labels, across exporter versions:
``gpu``, ``UUID``/``uuid``, ``modelName``, ``Hostname``/``hostname`` (else the host part of
``instance``), ``namespace``/``pod``/``container`` and their ``exported_``/``pod_name`` variants,
``hpc_job`` (the job, from ``--hpc-job-mapping-dir``) and ``GPU_I_ID`` (a MIG instance, kept in
``mig_instance``; DCGM reports no utilization for MIG slices). Prometheus' own ``job`` label names
a scrape job, not a workload, and is ignored.
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.errors import InputError
from opskit.sources.files import expand_paths
from opskit.sources.gpu_frame import validate_gpu_frame
from opskit.sources.table_files import guarded_lines

METRICS: dict[str, tuple[str, float]] = {
    "DCGM_FI_DEV_GPU_UTIL": ("util_pct", 1.0),
    "DCGM_FI_DEV_FB_USED": ("mem_used_mib", 1.0),
    "DCGM_FI_DEV_FB_FREE": ("mem_free_mib", 1.0),
    "DCGM_FI_DEV_FB_RESERVED": ("mem_reserved_mib", 1.0),
    "DCGM_FI_DEV_FB_TOTAL": ("mem_total_mib", 1.0),
    "DCGM_FI_DEV_POWER_USAGE": ("power_w", 1.0),
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": ("gr_engine_active_pct", 100.0),
    "DCGM_FI_PROF_SM_ACTIVE": ("sm_active_pct", 100.0),
}
"""dcgm-exporter metric -> (frame column, factor to the column's unit)."""

LABELS: dict[str, tuple[str, ...]] = {
    "host": ("Hostname", "hostname"),
    "gpu": ("gpu",),
    "uuid": ("UUID", "uuid"),
    "model": ("modelName", "modelname"),
    "namespace": ("namespace", "exported_namespace", "pod_namespace"),
    "pod": ("pod", "exported_pod", "pod_name"),
    "container": ("container", "exported_container", "container_name"),
    "job": ("hpc_job",),
    "mig_instance": ("GPU_I_ID",),
}
"""frame column -> exporter labels holding it, first found wins."""

KEY = tuple(LABELS)

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+(?:\.\d+)?))?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return re.sub(r'\\[\\"n]', lambda m: _ESCAPES[m.group(0)], value)


def parse_labels(text: str) -> dict[str, str] | None:
    """``gpu="0",UUID="GPU-..."`` -> ``{"gpu": "0", "UUID": "GPU-..."}``; None when malformed."""
    labels: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            return None
        labels[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
    return labels


def parse_value(text: str) -> float:
    """A sample value: a float, ``NaN``, ``+Inf`` or ``-Inf``."""
    return float(text)


def iter_samples(
    lines: Iterable[str], names: tuple[str, ...] | None = None
) -> Iterator[tuple[int, str, str, str, str | None]]:
    """Yield ``(line number, metric name, label text, value text, timestamp text or None)``.

    Comments and blank lines are skipped; with ``names``, only those metrics are yielded (others
    are skipped before parsing). A line that is not a sample yields name ``""`` so the caller can
    name it in an error.
    """
    for lineno, line in enumerate(lines, start=1):
        if not line or line[0] == "#" or line.isspace():
            continue
        if names is not None and not line.startswith(names):
            continue
        m = _LINE.match(line.rstrip("\n"))
        if m is None:
            yield lineno, "", line.strip(), "", None
            continue
        name, labels, value, stamp = m.groups()
        if names is not None and name not in names:
            continue
        yield lineno, name, labels or "", value, stamp


_STAMP = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})T(\d{2})[:\-]?(\d{2})[:\-]?(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
_NAMES = tuple(METRICS)
_LOWER_NAMES = tuple(n.lower() for n in METRICS)  # some relabelling pipelines lower-case metric names


def timestamp_from_name(path: str | Path) -> pd.Timestamp | None:
    """``dcgm-20261116T000500Z.prom`` -> 2026-11-16 00:05:00 UTC; None when the name holds no time."""
    m = _STAMP.search(Path(path).name)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    text = f"{y}-{mo}-{d}T{h}:{mi}:{s}{frac or ''}{tz or 'Z'}"
    return pd.Timestamp(text).tz_convert("UTC")


def _open_lines(path: Path) -> list[str]:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
                return list(guarded_lines(fh, path))
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readlines()
    except FileNotFoundError:
        raise InputError("file not found", path=path, hint="check the path to the saved dcgm-exporter scrape") from None


def host_from_scrape_name(path: str | Path) -> str | None:
    """``node1_20261116T000500Z.prom`` -> ``node1``: the name before its scrape time; None without one."""
    name = Path(path).name
    m = _STAMP.search(name)
    if not m:
        return None
    head = name[: m.start()].rstrip("_-. ")
    head = re.sub(r"(?i)^(?:dcgm(?:-exporter)?|metrics|scrape)[_-]?", "", head).rstrip("_-. ")
    head = re.sub(r"(?i)[_-](?:dcgm(?:-exporter)?|metrics|scrape)$", "", head)
    return head or None


def key_from_labels(labels: Mapping[str, str], host: str | None = None) -> tuple:
    """The values of :data:`KEY` (host, gpu, uuid, ...) from an exporter's labels; ``host`` overrides."""
    values = [next((labels[n] for n in names if labels.get(n)), None) for names in LABELS.values()]
    if values[0] is None:
        instance = labels.get("instance", "")
        values[0] = host or (instance.rsplit(":", 1)[0] if instance else None)
    elif host:
        values[0] = host
    return tuple(values)


def _read_one(path: Path, stamp: pd.Timestamp | None, host: str | None) -> pd.DataFrame | None:
    lines = _open_lines(path)
    if not any(line.strip() for line in lines):
        raise InputError("the file is empty", path=path, hint="save a scrape with curl -s NODE:9400/metrics > FILE")
    cache: dict[str, tuple] = {}
    keys: list[tuple] = []
    metrics: list[str] = []
    values: list[float] = []
    times: list[float] = []
    file_ms = stamp.value / 1e6 if stamp is not None else math.nan
    # OpenMetrics (ends with "# EOF") stamps samples in seconds; the Prometheus text format in milliseconds
    stamp_factor = 1000.0 if any(line.strip() == "# EOF" for line in lines[-3:]) else 1.0
    for lineno, name, label_text, value_text, ts_text in iter_samples(lines, _NAMES + _LOWER_NAMES):
        name = name.upper()
        if not name:
            raise InputError(
                f"not a Prometheus sample line: {label_text[:80]!r}",
                path=path,
                line=lineno,
                hint="files must hold dcgm-exporter's /metrics output (Prometheus text exposition)",
            )
        key = cache.get(label_text)
        if key is None:
            labels = parse_labels(label_text)
            if labels is None:
                raise InputError("malformed labels", path=path, line=lineno, hint='labels look like name="value"')
            key = key_from_labels(labels, host)
            if key[0] is None and host_from_scrape_name(path):  # no Hostname, no instance: the file's name
                key = (host_from_scrape_name(path), *key[1:])
            cache[label_text] = key
            if key[0] is None:
                raise InputError(
                    "no Hostname label (dcgm-exporter 2.x), no instance label and no host in the file name",
                    path=path,
                    line=lineno,
                    hint="name each scrape <host>_<UTC time>.prom (e.g. node1_20261116T000500Z.prom: the host "
                    "is read from it), save scrapes through Prometheus (its instance label), or enable the "
                    "exporter's Hostname label",
                )
        try:
            value = float(value_text)
        except ValueError:
            raise InputError(f"not a number: {value_text!r}", path=path, line=lineno, column=name) from None
        if ts_text is not None:
            t = float(ts_text) * stamp_factor
        elif stamp is not None:
            t = file_ms
        else:
            raise InputError(
                "samples carry no timestamp and the file name holds no scrape time",
                path=path,
                line=lineno,
                hint="name scrape files like dcgm-20261116T000500Z.prom, or pass timestamps={file: time}",
            )
        keys.append(key)
        metrics.append(name)
        values.append(value)
        times.append(t)
    if not keys:
        return None
    long = pd.DataFrame(keys, columns=list(KEY))
    long["timestamp_ms"] = np.asarray(times, dtype="float64")
    long["metric"] = metrics
    long["value"] = np.asarray(values, dtype="float64")
    return long


def wide_from_long(long: pd.DataFrame) -> pd.DataFrame:
    """Long rows (``timestamp_ms``, the label key columns, ``metric``, ``value``) -> the GPU-samples frame."""
    index = ["timestamp_ms", *KEY]
    wide = long.groupby([*index, "metric"], sort=False, dropna=False)["value"].last().unstack("metric").reset_index()
    out = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(wide["timestamp_ms"].round().astype("int64"), unit="ms", utc=True),
            **{c: wide[c] for c in KEY},
        }
    )
    for metric, (column, factor) in METRICS.items():
        if metric in wide.columns:
            out[column] = wide[metric].astype("float64") * factor
    for extra in wide.columns:  # metrics other than DCGM's (e.g. "samples" from Prometheus) keep their name
        if extra not in METRICS and extra not in index and extra not in out.columns:
            out[extra] = wide[extra].astype("float64")
    # per series: FB_TOTAL where the exporter sends it, else used + free (+ reserved) of that same series
    total = out["mem_total_mib"] if "mem_total_mib" in out.columns else pd.Series(np.nan, index=out.index)
    if "mem_used_mib" in out.columns and "mem_free_mib" in out.columns:
        reserved = out["mem_reserved_mib"].fillna(0.0) if "mem_reserved_mib" in out.columns else 0.0
        total = total.fillna(out["mem_used_mib"] + out["mem_free_mib"] + reserved)
    out["mem_total_mib"] = total.astype("float64")
    for column in ("util_pct", "mem_used_mib", "power_w"):
        if column not in out.columns:
            out[column] = np.nan
    extras = [c for c in ("mig_instance", "container", "namespace", "pod", "job") if out[c].isna().all()]
    return out.drop(columns=extras)


def read_dcgm_scrapes(
    paths: str | Path | Iterable[str | Path],
    *,
    host: str | None = None,
    timestamps: pd.Timestamp | str | Mapping[str | Path, pd.Timestamp | str] | None = None,
    timezone: str = "UTC",
) -> pd.DataFrame:
    """Read one or many saved dcgm-exporter scrapes (files or folders of them) as one GPU-samples frame.

    Each sample's time is, first found: its own exposition timestamp (ms), ``timestamps`` (one
    time for all files, or a mapping file -> time), the time in the file name. ``host`` overrides
    the exporter's ``Hostname`` label. Extra columns: ``mem_free_mib``, and ``container``,
    ``mig_instance`` when the scrapes hold them.
    """
    files = expand_paths(paths, recursive=True, what="scrape files", hint="point at saved /metrics scrapes")
    if not files:
        raise InputError("no dcgm-exporter scrape files given", hint="pass a file, a list of files or a folder")
    frames = []
    for f in files:
        given = timestamps.get(f, timestamps.get(str(f))) if isinstance(timestamps, Mapping) else timestamps
        stamp = pd.Timestamp(given) if given is not None else timestamp_from_name(f)
        if stamp is not None and stamp.tzinfo is None:
            stamp = stamp.tz_localize(timezone)
        long = _read_one(f, stamp, host)
        if long is not None:
            frames.append(long)
    where = files[0] if len(files) == 1 else files[0].parent
    if not frames:
        raise InputError(
            f"no DCGM GPU metrics found (looked for {', '.join(_NAMES)})",
            path=where,
            hint="is this dcgm-exporter's /metrics output? the default counters include DCGM_FI_DEV_GPU_UTIL",
        )
    df = wide_from_long(pd.concat(frames, ignore_index=True))
    return validate_gpu_frame(df, where)
