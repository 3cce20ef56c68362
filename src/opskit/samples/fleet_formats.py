"""The sample fleet's week 2026-W48 in every format a GPU reader takes.

The same samples as :func:`opskit.samples.fleet.generate_fleet` (restricted to ISO week 2026-W48,
Monday 2026-11-23 to Monday 2026-11-30 UTC), written as:

- ``fleet_week_nvidia_smi``: one ``nvidia-smi --query-gpu=... --format=csv`` file per host, as a
  ``nvidia-smi -l 300`` logger restarted each day writes it (a header at each restart);
- ``fleet_week_dcgm``: one file per host of dcgm-exporter ``/metrics`` scrapes appended every
  5 minutes, each sample with its scrape time (ms), gzip-compressed; labels as dcgm-exporter in
  Kubernetes writes them (``namespace``/``pod``/``container`` while a pod holds the GPU, and
  ``hpc_job``);
- ``fleet_week_openmetrics``: one OpenMetrics file for ``promtool tsdb create-blocks-from
  openmetrics`` (series in order, timestamps in seconds, ``# EOF`` at the end), with the labels a
  Prometheus scrape of dcgm-exporter stores (``instance``, ``job="dcgm-exporter"``).

Each folder also holds ``attribution.csv`` (namespaces -> teams, from the fleet module) and
``attribution_by_host.csv`` (hosts -> teams, for sources that know no namespaces, like nvidia-smi).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.samples import scenario
from opskit.samples.fleet import NODES, generate_fleet, write_attribution

WEEK_START = pd.Timestamp("2026-11-23", tz="UTC")
WEEK_END = WEEK_START + pd.Timedelta("7D")
DRIVER_VERSION = "550.54.15"
SCRAPE_JOB = "dcgm-exporter"
EXPORTER_PORT = 9400
NVIDIA_SMI_HEADER = (
    "timestamp, name, pci.bus_id, index, uuid, utilization.gpu [%], memory.used [MiB], memory.total [MiB], "
    "power.draw [W]"
)
DCGM_HELP = {
    "DCGM_FI_DEV_GPU_UTIL": "GPU utilization (in %).",
    "DCGM_FI_DEV_FB_FREE": "Framebuffer memory free (in MiB).",
    "DCGM_FI_DEV_FB_USED": "Framebuffer memory used (in MiB).",
    "DCGM_FI_DEV_POWER_USAGE": "Power draw (in W).",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "Ratio of time the graphics engine is active.",
    "DCGM_FI_PROF_SM_ACTIVE": "The ratio of cycles an SM has at least 1 warp assigned.",
}


def fleet_week(start: pd.Timestamp = WEEK_START, end: pd.Timestamp = WEEK_END) -> pd.DataFrame:
    """The fleet's samples in ``[start, end)`` (default 2026-W48), as generate_fleet makes them."""
    fleet = generate_fleet()
    return fleet[(fleet["timestamp"] >= start) & (fleet["timestamp"] < end)].reset_index(drop=True)


def write_host_attribution(path: str | Path) -> Path:
    """``host,gpu,namespace,team,project`` with one row per host of the fleet (every host serves one team)."""
    path = Path(path)
    rows = [(n.host, "", "", n.team, n.project) for n in NODES]
    pd.DataFrame(rows, columns=["host", "gpu", "namespace", "team", "project"]).to_csv(path, index=False)
    return path


def _attribution(folder: Path) -> None:
    write_attribution(folder / "attribution.csv")
    write_host_attribution(folder / "attribution_by_host.csv")


def _with_unit(values: pd.Series, decimals: int, unit: str) -> pd.Series:
    """``97 %``, ``652.31 W``; ``[N/A]`` for a missing reading, as nvidia-smi writes it."""
    return values.map(lambda v: f"{v:.{decimals}f} {unit}" if pd.notna(v) else "[N/A]")


def nvidia_smi_lines(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Rows of one host as nvidia-smi CSV lines (with units) and their times, in time then GPU order."""
    f = frame.sort_values(["timestamp", "gpu"], kind="stable")
    # nvidia-smi queries the GPUs one after the other: a few milliseconds apart
    stamp = (f["timestamp"] + pd.to_timedelta(f["gpu"] * 3 + 1, unit="ms")).dt.strftime("%Y/%m/%d %H:%M:%S.%f")
    bus = f["gpu"].map(lambda i: f"00000000:{0x18 + 0x11 * int(i):02X}:00.0")
    lines = (
        stamp.str[:-3]
        + ", "
        + f["model"]
        + ", "
        + bus
        + ", "
        + f["gpu"].astype(str)
        + ", "
        + f["uuid"]
        + ", "
        + _with_unit(f["util_pct"], 0, "%")
        + ", "
        + _with_unit(f["mem_used_mib"], 0, "MiB")
        + ", "
        + _with_unit(f["mem_total_mib"], 0, "MiB")
        + ", "
        + _with_unit(f["power_w"], 2, "W")
    )
    return lines, f["timestamp"]


def write_nvidia_smi_files(frame: pd.DataFrame, folder: Path) -> Path:
    """One ``<host>.csv`` per host; a header at the start of each UTC day (the logger restarts daily)."""
    folder.mkdir(parents=True, exist_ok=True)
    for host, part in frame.groupby("host", sort=True):
        lines, stamps = nvidia_smi_lines(part)
        day = stamps.dt.floor("D").to_numpy()
        new_day = np.r_[True, day[1:] != day[:-1]]
        out = []
        for is_new, line in zip(new_day, lines.tolist(), strict=True):
            if is_new:
                out.append(NVIDIA_SMI_HEADER)
            out.append(line)
        (folder / f"{host}.csv").write_text("\n".join(out) + "\n")
    return folder


def _label_text(frame: pd.DataFrame, *, scrape_labels: bool) -> pd.Series:
    text = (
        'gpu="'
        + frame["gpu"].astype(str)
        + '",UUID="'
        + frame["uuid"]
        + '",device="nvidia'
        + frame["gpu"].astype(str)
        + '",modelName="'
        + frame["model"]
        + '",Hostname="'
        + frame["host"]
        + f'",DCGM_FI_DRIVER_VERSION="{DRIVER_VERSION}"'
    )
    running = frame["pod"].notna()
    pod_labels = (
        ',container="main",namespace="'
        + frame["namespace"].fillna("")
        + '",pod="'
        + frame["pod"].fillna("")
        + '",hpc_job="'
        + frame["job"].fillna("")
        + '"'
    )
    text = text.where(~running, text + pod_labels)
    if scrape_labels:
        text = text + ',instance="' + frame["host"] + f':{EXPORTER_PORT}",job="{SCRAPE_JOB}"'
    return text


def _metric_values(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {
        "DCGM_FI_DEV_GPU_UTIL": frame["util_pct"].round().astype("int64").astype(str),
        "DCGM_FI_DEV_FB_FREE": (frame["mem_total_mib"] - frame["mem_used_mib"]).round().astype("int64").astype(str),
        "DCGM_FI_DEV_FB_USED": frame["mem_used_mib"].round().astype("int64").astype(str),
        "DCGM_FI_DEV_POWER_USAGE": frame["power_w"].map(lambda v: f"{v:.3f}"),
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE": (frame["gr_engine_active_pct"] / 100).map(lambda v: f"{v:.6f}"),
        "DCGM_FI_PROF_SM_ACTIVE": (frame["sm_active_pct"] / 100).map(lambda v: f"{v:.6f}"),
    }


def write_dcgm_files(frame: pd.DataFrame, folder: Path) -> Path:
    """``<host>.prom.gz`` per host: a full scrape every interval, each sample stamped with its scrape time (ms)."""
    folder.mkdir(parents=True, exist_ok=True)
    for host, part in frame.groupby("host", sort=True):
        part = part.sort_values(["timestamp", "gpu"], kind="stable").reset_index(drop=True)
        labels = _label_text(part, scrape_labels=False)
        ms = part["timestamp"].dt.as_unit("ms").astype("int64").astype(str)
        values = _metric_values(part)
        # one line per (scrape, metric, gpu): order by scrape, then metric family, then GPU
        blocks = []
        for j, (metric, vals) in enumerate(values.items()):
            lines = metric + "{" + labels + "} " + vals + " " + ms
            blocks.append(pd.DataFrame({"t": part["timestamp"], "m": j, "g": part["gpu"], "line": lines}))
        heads = []
        for j, metric in enumerate(values):
            head = f"# HELP {metric} {DCGM_HELP[metric]}\n# TYPE {metric} gauge"
            heads.append(pd.DataFrame({"t": part["timestamp"].unique(), "m": j, "g": -1, "line": head}))
        allrows = pd.concat([*heads, *blocks], ignore_index=True).sort_values(["t", "m", "g"], kind="stable")
        text = "\n".join(allrows["line"].tolist()) + "\n"
        # mtime 0 and no name in the gzip header: the same bytes every run
        with (
            open(folder / f"{host}.prom.gz", "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as fh,
        ):
            fh.write(text.encode())
    return folder


def write_openmetrics(frame: pd.DataFrame, path: Path) -> Path:
    """One OpenMetrics file for promtool backfill: families, then series, then time; seconds; ``# EOF``."""
    f = frame.sort_values(["host", "gpu", "timestamp"], kind="stable").reset_index(drop=True)
    labels = _label_text(f, scrape_labels=True)
    seconds = f["timestamp"].dt.as_unit("s").astype("int64").astype(str)
    with open(path, "w") as fh:
        for metric, vals in _metric_values(f).items():
            fh.write(f"# HELP {metric} {DCGM_HELP[metric]}\n# TYPE {metric} gauge\n")
            series = metric + "{" + labels + "} " + vals + " " + seconds
            # group each series' samples together, in time order (stable: rows are time-sorted per GPU)
            order = pd.DataFrame({"s": labels, "i": np.arange(len(f))}).sort_values(["s", "i"], kind="stable")
            fh.write("\n".join(series.to_numpy()[order["i"].to_numpy()].tolist()))
            fh.write("\n")
        fh.write("# EOF\n")
    return path


@scenario("fleet_week_nvidia_smi", "the sample fleet's week 2026-W48 as nvidia-smi CSV files, one per host")
def write_fleet_week_nvidia_smi(folder: Path) -> Path:
    """Folder ``nvidia-smi/`` of per-host CSVs (returned), plus the attribution files."""
    folder = Path(folder)
    _attribution(folder)
    return write_nvidia_smi_files(fleet_week(), folder / "nvidia-smi")


@scenario("fleet_week_dcgm", "the sample fleet's week 2026-W48 as saved dcgm-exporter scrapes, one file per host")
def write_fleet_week_dcgm(folder: Path) -> Path:
    """Folder ``dcgm/`` of per-host scrape files (returned), plus the attribution files."""
    folder = Path(folder)
    _attribution(folder)
    return write_dcgm_files(fleet_week(), folder / "dcgm")


@scenario("fleet_week_openmetrics", "the sample fleet's week 2026-W48 as OpenMetrics for promtool tsdb backfill")
def write_fleet_week_openmetrics(folder: Path) -> Path:
    """``fleet.om.txt`` (returned), plus the attribution files."""
    folder = Path(folder)
    _attribution(folder)
    return write_openmetrics(fleet_week(), folder / "fleet.om.txt")
