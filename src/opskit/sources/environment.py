"""The environment a model runs in: framework build, CUDA, driver and GPUs, from this machine or another's.

From this machine (:func:`detect_local_environment`: ``torch.__version__``, ``torch.version.cuda``,
``torch.cuda.get_arch_list()`` when torch is importable; the driver and GPUs from NVML or
``nvidia-smi``) or from another machine's ``pip freeze`` and ``nvidia-smi`` output
(:func:`environment_from_texts`, :func:`environment_from_path`), with any field overridden by a
parameter (:meth:`Environment.override`). Also the bundled, dated table ``opskit/data/cuda_compat.csv``
(:func:`load_compat_table`) that both the readers (the CUDA of a plain PyPI wheel) and
:mod:`opskit.analyses.model_load.compatibility` consult, and version parsing.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import pandas as pd

from opskit.bundled import CUDA_COMPAT, bundled_text
from opskit.errors import InputError

Version = tuple[int, ...]


def parse_version(text: str | None) -> Version | None:
    """``"535.129.03"`` -> ``(535, 129, 3)``; ``"2.4.1+cu121"`` -> ``(2, 4, 1)``; None when unparsable."""
    if not text:
        return None
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(text))
    return tuple(int(p) for p in m.group(1).split(".")) if m else None


def format_version(v: Version) -> str:
    """``(12, 1)`` -> ``"12.1"``."""
    return ".".join(str(p) for p in v)


@cache
def load_compat_table() -> pd.DataFrame:
    """The bundled compatibility table (all columns strings)."""
    return pd.DataFrame(list(csv.DictReader(bundled_text(CUDA_COMPAT).splitlines())), dtype=str)


def table_rows(table: pd.DataFrame, kind: str) -> dict[str, pd.Series]:
    """The rows of one ``kind`` of the compatibility table, by ``key``."""
    return {row.key: row for _, row in table[table["kind"] == kind].iterrows()}


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: str | None = None  # "8.0"


@dataclass(frozen=True)
class Environment:
    """What the checks need; ``sources`` says where each field came from (shown as evidence)."""

    torch_version: str | None = None
    cuda_version: str | None = None  # the CUDA the framework was built for ("12.1"); None for a CPU build
    driver_version: str | None = None
    driver_cuda: str | None = None  # "CUDA Version" in nvidia-smi's header: the newest CUDA the driver runs
    gpus: tuple[GpuInfo, ...] = ()
    arch_list: tuple[str, ...] = ()  # torch.cuda.get_arch_list()
    sources: dict[str, str] = field(default_factory=dict)

    def override(self, **values: str | None) -> Environment:
        """A copy with the given non-empty values replacing detected ones (``compute_capability``
        sets it on every GPU, or adds one GPU when none was found)."""
        changes, sources = {}, dict(self.sources)
        cc = values.pop("compute_capability", None)
        for key, value in values.items():
            if value not in (None, ""):
                changes[key] = str(value)
                sources[key] = "parameter"
        if "torch_version" in changes and not values.get("cuda_version"):
            derived = environment_from_pip({"torch": changes["torch_version"]}, "parameter torch_version")
            changes["cuda_version"] = derived.cuda_version
            sources["cuda_version"] = derived.sources.get("cuda_version", "parameter torch_version")
        if cc:
            gpus = tuple(replace(g, compute_capability=str(cc)) for g in self.gpus) or (GpuInfo("GPU", str(cc)),)
            changes["gpus"] = gpus
            sources["gpus"] = "parameter"
        return replace(self, **changes, sources=sources)


# ---------------------------------------------------------------------------------------- readers
def parse_pip_freeze(text: str) -> dict[str, str]:
    """Package (lower case, ``_`` as ``-``) -> version, from ``pip freeze`` or ``pip list`` output."""
    out = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-")) or " @ " in line:
            continue
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(?:==|===|\s)\s*([0-9][^\s;]*)", line)
        if m:
            out[re.sub(r"\[.*\]", "", m.group(1)).lower().replace("_", "-")] = m.group(2)
    return out


def environment_from_pip(packages: dict[str, str], where: str = "pip freeze") -> Environment:
    """torch's version and CUDA build: from a ``+cuXYZ`` local version, else the
    ``nvidia-cuda-runtime-cuXX`` wheel, else the CUDA of the plain PyPI wheel of that release."""
    torch = packages.get("torch")
    if not torch:
        return Environment(sources={"torch_version": f"{where}: no torch"})
    sources = {"torch_version": where}
    cuda = None
    local = re.search(r"\+cu(\d+)(\d)$", torch)
    runtime = next((v for k, v in packages.items() if re.fullmatch(r"nvidia-cuda-runtime-cu\d+", k)), None)
    if torch.endswith(("+cpu", "+rocm")) or "+rocm" in torch:
        sources["cuda_version"] = f"{where}: torch {torch} is not a CUDA build"
    elif local:
        cuda = f"{local.group(1)}.{local.group(2)}"
        sources["cuda_version"] = f"{where}: torch=={torch}"
    elif runtime:
        v = parse_version(runtime)
        cuda = format_version(v[:2]) if v else None
        sources["cuda_version"] = f"{where}: nvidia-cuda-runtime=={runtime}"
    else:
        v = parse_version(torch)
        default = table_rows(load_compat_table(), "torch_default_cuda").get(format_version(v[:2])) if v else None
        if default is not None:
            cuda = default.value
            sources["cuda_version"] = (
                f"table: plain PyPI wheel of torch {format_version(v[:2])} is built for CUDA {cuda}"
            )
    return Environment(torch_version=torch, cuda_version=cuda, sources=sources)


_SMI_HEADER = re.compile(r"Driver Version:\s*([0-9.]+)(?:\s+CUDA Version:\s*([0-9.]+))?")
_SMI_GPU = re.compile(r"^\|\s+(\d+)\s+(.+?)\s{2,}(?:On|Off)\s+\|")


def parse_nvidia_smi(text: str, where: str = "nvidia-smi") -> Environment:
    """Driver, driver CUDA and GPUs from ``nvidia-smi`` (its table) or from
    ``nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv`` (with or without header)."""
    header = _SMI_HEADER.search(text)
    if header:
        gpus = []
        for line in text.splitlines():
            m = _SMI_GPU.match(line)
            if m:
                name = m.group(2).strip()
                if name.endswith("..."):  # the table cuts long names to its column; say so rather than show "..."
                    name = name[:-3].rstrip() + " (name cut by nvidia-smi's table)"
                gpus.append(GpuInfo(name))
        return Environment(
            driver_version=header.group(1),
            driver_cuda=header.group(2),
            gpus=tuple(gpus),
            sources={"driver_version": where, "gpus": where},
        )
    rows = list(csv.reader(line for line in text.splitlines() if line.strip()))
    if rows and any("driver" in c.lower() for c in rows[0]):
        names = [c.strip().lower().split(" ")[0] for c in rows[0]]
        rows = rows[1:]
    else:
        names = ["name", "driver_version", "compute_cap"][: len(rows[0])] if rows else []
    records = [dict(zip(names, (c.strip() for c in r), strict=False)) for r in rows]
    driver = next((r.get("driver_version") for r in records if r.get("driver_version")), None)
    if not driver:
        raise InputError(
            "no driver version in this nvidia-smi output",
            path=where,
            hint="save the output of `nvidia-smi` or of `nvidia-smi --query-gpu=name,driver_version,"
            "compute_cap --format=csv`",
        )
    gpus = tuple(GpuInfo(r.get("name", "GPU"), r.get("compute_cap") or None) for r in records)
    return Environment(driver_version=driver, gpus=gpus, sources={"driver_version": where, "gpus": where})


def environment_from_texts(
    pip_freeze: str | None = None,
    nvidia_smi: str | None = None,
    *,
    pip_source: str = "pip freeze",
    smi_source: str = "nvidia-smi",
) -> Environment:
    """Combine a ``pip freeze`` and an ``nvidia-smi`` output of another machine (sources name them)."""
    env = Environment()
    if pip_freeze is not None:
        env = environment_from_pip(parse_pip_freeze(pip_freeze), pip_source)
    if nvidia_smi is not None:
        smi = parse_nvidia_smi(nvidia_smi, smi_source)
        env = replace(
            env,
            driver_version=smi.driver_version,
            driver_cuda=smi.driver_cuda,
            gpus=smi.gpus,
            sources={**env.sources, **smi.sources},
        )
    return env


def environment_from_path(path: str | Path) -> Environment:
    """A folder holding ``pip-freeze.txt`` (or ``requirements*.txt``) and ``nvidia-smi*.txt``, or one such file."""
    path = Path(path)
    if path.is_dir():
        freeze = next(
            (
                p
                for pat in ("pip-freeze*.txt", "pip_freeze*.txt", "requirements*.txt", "pip-list*.txt")
                for p in sorted(path.glob(pat))
            ),
            None,
        )
        smi = next(iter(sorted(path.glob("nvidia-smi*.txt")) + sorted(path.glob("nvidia_smi*.txt"))), None)
        if freeze is None and smi is None:
            raise InputError(
                "no pip-freeze.txt or nvidia-smi.txt in this folder",
                path=path,
                hint="save `pip freeze > pip-freeze.txt` and `nvidia-smi > nvidia-smi.txt` there",
            )
    elif path.is_file():
        is_smi = "Driver Version" in path.read_text(errors="replace") or "nvidia" in path.name.lower()
        freeze, smi = (None, path) if is_smi else (path, None)
    else:
        raise InputError("environment file or folder not found", path=path, hint="use 'local' for this machine")
    return environment_from_texts(
        freeze.read_text(errors="replace") if freeze else None,
        smi.read_text(errors="replace") if smi else None,
        pip_source=str(freeze) if freeze else "pip freeze",
        smi_source=str(smi) if smi else "nvidia-smi",
    )


def detect_local_environment() -> Environment:
    """This machine: torch if importable, the driver from NVML, else from ``nvidia-smi``."""
    env = Environment(sources={"torch_version": "this machine: torch not installed"})
    if importlib.util.find_spec("torch") is not None:
        import torch  # only imported to read its version; never used on the model files

        arch: tuple[str, ...] = ()
        try:
            arch = tuple(torch.cuda.get_arch_list())
        except Exception:  # a broken CUDA set-up must not stop the diagnosis
            arch = ()
        env = Environment(
            torch_version=str(torch.__version__),
            cuda_version=torch.version.cuda,
            arch_list=arch,
            sources={"torch_version": "this machine: import torch", "cuda_version": "this machine: torch.version.cuda"},
        )
    smi = _nvml_environment() or _nvidia_smi_environment()
    if smi is not None:
        env = replace(
            env,
            driver_version=smi.driver_version,
            driver_cuda=smi.driver_cuda,
            gpus=smi.gpus,
            sources={**env.sources, **smi.sources},
        )
    else:
        env.sources["driver_version"] = "this machine: no NVIDIA driver (NVML and nvidia-smi unavailable)"
    return env


def _nvml_environment() -> Environment | None:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        driver = driver.decode() if isinstance(driver, bytes) else driver
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
            gpus.append(GpuInfo(name.decode() if isinstance(name, bytes) else name, f"{major}.{minor}"))
        cuda = pynvml.nvmlSystemGetCudaDriverVersion_v2()
        return Environment(
            driver_version=driver,
            driver_cuda=f"{cuda // 1000}.{cuda % 1000 // 10}",
            gpus=tuple(gpus),
            sources={"driver_version": "this machine: NVML", "gpus": "this machine: NVML"},
        )
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def _nvidia_smi_environment() -> Environment | None:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=name,driver_version,compute_cap", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout  # fmt: skip
        return parse_nvidia_smi(out, "this machine: nvidia-smi")
    except (OSError, subprocess.SubprocessError, InputError):
        return None
