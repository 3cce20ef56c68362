"""Can this framework build run on this driver and these GPUs? Checked against a bundled, dated table.

The table ``opskit/data/cuda_compat.csv`` (columns ``kind``, ``key``, ``value``, ``note``, ``source``,
``date``; ``date`` is when the fact was published) holds: the minimum Linux driver of each CUDA
toolkit and of each major version's minor-version compatibility, the CUDA builds of each torch
release and the CUDA of its plain PyPI wheel, compute capability to ``sm_XY``, the CUDA toolkits that
compile for each architecture, and GPU model names to compute capability.

The environment comes from this machine (:func:`detect_local_environment`: ``torch.__version__``,
``torch.version.cuda``, ``torch.cuda.get_arch_list()`` when torch is importable; the driver and GPUs
from NVML or ``nvidia-smi``) or from another machine's ``pip freeze`` and ``nvidia-smi`` output
(:func:`environment_from_texts`), with any field overridden by a parameter.
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

from opskit.checks import Status, Verdict
from opskit.errors import InputError

Version = tuple[int, ...]


def parse_version(text: str | None) -> Version | None:
    """``"535.129.03"`` -> ``(535, 129, 3)``; ``"2.4.1+cu121"`` -> ``(2, 4, 1)``; None when unparsable."""
    if not text:
        return None
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(text))
    return tuple(int(p) for p in m.group(1).split(".")) if m else None


def _fmt(v: Version) -> str:
    return ".".join(str(p) for p in v)


@cache
def load_compat_table() -> pd.DataFrame:
    """The bundled compatibility table (all columns strings)."""
    with (Path(__file__).resolve().parents[1] / "data" / "cuda_compat.csv").open(encoding="utf-8") as fh:
        return pd.DataFrame(list(csv.DictReader(fh)), dtype=str)


def _lookup(table: pd.DataFrame, kind: str) -> dict[str, pd.Series]:
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
        cuda = _fmt(v[:2]) if v else None
        sources["cuda_version"] = f"{where}: nvidia-cuda-runtime=={runtime}"
    else:
        v = parse_version(torch)
        default = _lookup(load_compat_table(), "torch_default_cuda").get(_fmt(v[:2])) if v else None
        if default is not None:
            cuda = default.value
            sources["cuda_version"] = f"table: plain PyPI wheel of torch {_fmt(v[:2])} is built for CUDA {cuda}"
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
                gpus.append(GpuInfo(m.group(2).strip()))
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


# ----------------------------------------------------------------------------------------- checks
@dataclass(frozen=True)
class CompatibilityResult:
    """The environment judged, and one verdict per concern (driver, framework build, each GPU)."""

    environment: Environment
    verdicts: tuple[Verdict, ...]
    table_date: str

    def frame(self) -> pd.DataFrame:
        """The environment as ``field``, ``value``, ``source`` rows (for the report)."""
        env = self.environment
        gpus = ", ".join(f"{g.name} (cc {g.compute_capability or '?'})" for g in env.gpus) or None
        rows = [
            ("torch", env.torch_version, "torch_version"),
            ("torch CUDA build", env.cuda_version, "cuda_version"),
            ("NVIDIA driver", env.driver_version, "driver_version"),
            ("driver's newest CUDA", env.driver_cuda, "driver_version"),
            ("GPUs", gpus, "gpus"),
            ("torch arch list", " ".join(env.arch_list) or None, "cuda_version"),
        ]
        return pd.DataFrame([(f, v, env.sources.get(k, "")) for f, v, k in rows], columns=["field", "value", "source"])


def _at_or_below(rows: dict[str, pd.Series], version: Version) -> pd.Series | None:
    """The row whose key is the highest version not above ``version`` within the same major."""
    best = None
    for key, row in rows.items():
        k = parse_version(key)
        if k and k[0] == version[0] and k[: len(version)] <= version and (best is None or k > best[0]):
            best = (k, row)
    return best[1] if best else None


def _cc_for(name: str, table: pd.DataFrame) -> str | None:
    for key, row in sorted(_lookup(table, "gpu_cc").items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(key)}(?![0-9])", name, re.IGNORECASE):
            return row.value
    return None


def check_driver(env: Environment, table: pd.DataFrame) -> Verdict:
    """The driver must be new enough for the CUDA the framework was built for."""
    name = "driver supports CUDA build"
    evidence = (
        f"torch {env.torch_version} ({env.sources.get('cuda_version', '?')}); "
        f"driver {env.driver_version} ({env.sources.get('driver_version', '?')})"
    )  # fmt: skip
    if env.torch_version is None:
        return Verdict(
            name,
            Status.SKIP,
            message="torch not found: no framework build to check",
            evidence=env.sources.get("torch_version"),
            next_step="pass torch_version/cuda_version or a pip freeze to check another machine",
        )
    if env.cuda_version is None:
        if env.gpus:
            return Verdict(
                name,
                Status.WARN,
                subject=f"torch {env.torch_version}",
                evidence=evidence,
                message="a CPU-only torch build on a machine with NVIDIA GPUs: the model loads on the CPU",
                next_step="install a CUDA build, e.g. pip install torch --index-url "
                "https://download.pytorch.org/whl/cu126",
            )
        return Verdict(
            name,
            Status.SKIP,
            subject=f"torch {env.torch_version}",
            evidence=evidence,
            message="CPU build (or CUDA build unknown): no driver needed",
        )
    driver, cuda = parse_version(env.driver_version), parse_version(env.cuda_version)
    if driver is None:
        return Verdict(
            name,
            Status.SKIP,
            subject=f"torch {env.torch_version}",
            evidence=evidence,
            message="no NVIDIA driver found (no GPU here?): cannot check",
            next_step="pass driver_version, or an nvidia-smi output of the machine that fails",
        )
    assert cuda is not None
    full = _at_or_below(_lookup(table, "cuda_min_driver"), cuda[:2])
    minor = _lookup(table, "cuda_minor_compat_driver").get(str(cuda[0]))
    if full is None or minor is None:
        return Verdict(
            name,
            Status.SKIP,
            subject=f"CUDA {env.cuda_version}",
            evidence=evidence,
            message=f"CUDA {env.cuda_version} is not in the compatibility table (dated {table['date'].max()})",
            next_step="check NVIDIA's CUDA release notes by hand",
        )
    need_full, need_minor = parse_version(full.value), parse_version(minor.value)
    subject = f"torch {env.torch_version} (CUDA {env.cuda_version})"
    evidence += (
        f"\nCUDA {full.key} needs driver >= {full.value} ({full.source}); "
        f"any CUDA {cuda[0]}.x needs >= {minor.value} (minor version compatibility)"
    )  # fmt: skip
    if driver >= need_full:
        return Verdict(
            name,
            Status.PASS,
            subject=subject,
            observed=env.driver_version,
            threshold=f">= {full.value}",
            evidence=evidence,
        )
    if driver >= need_minor:
        return Verdict(
            name,
            Status.WARN,
            subject=subject,
            observed=env.driver_version,
            threshold=f">= {full.value}",
            evidence=evidence,
            message=f"runs through CUDA {cuda[0]}.x minor version compatibility only: PTX JIT and "
            "some newer features fail on this driver",
            next_step=f"upgrade the driver to {full.value} or newer when convenient",
        )
    alternatives = _builds_for_driver(env, table, driver)
    fix = f"upgrade the NVIDIA driver to >= {minor.value} (>= {full.value} for full CUDA {full.key} support)"
    if alternatives:
        tag = alternatives[-1].replace(".", "")
        release = env.torch_version.split("+")[0]
        fix += (
            f", or install torch built for CUDA {alternatives[-1]}: "
            f"pip install torch=={release} --index-url https://download.pytorch.org/whl/cu{tag}"
        )  # fmt: skip
    return Verdict(
        name,
        Status.FAIL,
        subject=subject,
        observed=env.driver_version,
        threshold=f">= {minor.value}",
        evidence=evidence,
        message=f"driver too old for CUDA {cuda[0]}: torch cannot use the GPU (torch.cuda.is_available() "
        "is False; 'The NVIDIA driver on your system is too old')",
        next_step=fix,
    )


def _builds_for_driver(env: Environment, table: pd.DataFrame, driver: Version) -> list[str]:
    """CUDA builds of this torch release that ``driver`` runs (in full or by minor version compatibility)."""
    v = parse_version(env.torch_version)
    row = _lookup(table, "torch_cuda").get(_fmt(v[:2])) if v else None
    if row is None:
        return []
    minor = _lookup(table, "cuda_minor_compat_driver")  # never above the toolkit's own minimum
    needs = {cuda: minor.get(cuda.split(".")[0]) for cuda in row.value.split(";")}
    return [cuda for cuda, need in needs.items() if need is not None and driver >= parse_version(need.value)]


def check_build(env: Environment, table: pd.DataFrame) -> Verdict | None:
    """Is this torch + CUDA pair an official build of that release? (None when there is nothing to say.)"""
    v = parse_version(env.torch_version)
    if v is None or env.cuda_version is None:
        return None
    row = _lookup(table, "torch_cuda").get(_fmt(v[:2]))
    subject = f"torch {env.torch_version}"
    if row is None:
        return Verdict(
            "framework build",
            Status.SKIP,
            subject=subject,
            message=f"torch {_fmt(v[:2])} is newer than the compatibility table (dated "
            f"{table['date'].max()}); driver and architecture checks still apply",
        )
    builds = row.value.split(";")
    cuda = _fmt(parse_version(env.cuda_version)[:2])
    if cuda in builds:
        return Verdict(
            "framework build",
            Status.PASS,
            subject=subject,
            observed=f"CUDA {cuda}",
            threshold=" / ".join(builds),
            evidence=f"{row.note} ({row.source})",
        )
    return Verdict(
        "framework build",
        Status.WARN,
        subject=subject,
        observed=f"CUDA {cuda}",
        threshold=" / ".join(builds),
        evidence=f"{row.note} ({row.source})",
        message="not an official wheel build of this release (a conda or source build?)",
        next_step="check where this torch came from (pip show torch; conda list torch)",
    )


def check_gpu_arch(env: Environment, table: pd.DataFrame) -> list[Verdict]:
    """Each GPU's architecture must be compiled into the build (else: 'no kernel image is available')."""
    out, seen = [], set()
    cc_arch = _lookup(table, "cc_arch")
    amin, amax = _lookup(table, "arch_cuda_min"), _lookup(table, "arch_cuda_max")
    for gpu in env.gpus:
        cc = gpu.compute_capability or _cc_for(gpu.name, table)
        if (gpu.name, cc) in seen:
            continue
        seen.add((gpu.name, cc))
        name, subject = "GPU architecture in build", gpu.name
        if cc is None or cc not in cc_arch:
            out.append(
                Verdict(
                    name,
                    Status.SKIP,
                    subject=subject,
                    message=f"compute capability of {gpu.name!r} unknown",
                    next_step="pass compute_capability (nvidia-smi --query-gpu=compute_cap --format=csv)",
                )
            )
            continue
        arch = cc_arch[cc].value
        if env.cuda_version is None:
            continue
        if env.arch_list:
            ptx = [a for a in env.arch_list if a.startswith("compute_") and int(a[8:]) <= int(arch[3:])]
            if arch in env.arch_list:
                out.append(
                    Verdict(
                        name,
                        Status.PASS,
                        subject=subject,
                        observed=arch,
                        threshold=" ".join(env.arch_list),
                        evidence="torch.cuda.get_arch_list()",
                    )
                )
            elif ptx:
                out.append(
                    Verdict(
                        name,
                        Status.WARN,
                        subject=subject,
                        observed=arch,
                        threshold=" ".join(env.arch_list),
                        evidence="torch.cuda.get_arch_list()",
                        message=f"no {arch} kernels: PTX {ptx[-1]} is JIT-compiled at start (slow start)",
                        next_step=f"install a torch build that includes {arch}",
                    )
                )
            else:
                out.append(
                    Verdict(
                        name,
                        Status.FAIL,
                        subject=subject,
                        observed=arch,
                        threshold=" ".join(env.arch_list),
                        evidence="torch.cuda.get_arch_list()",
                        message=f"build has no {arch} kernels: 'no kernel image is available for execution'",
                        next_step=f"install a torch build compiled for {arch}",
                    )
                )
            continue
        cuda = parse_version(env.cuda_version)
        low, high = amin.get(arch), amax.get(arch)
        evidence = f"{arch} needs CUDA >= {low.value if low is not None else '?'}"
        evidence += f" and <= {high.value}" if high is not None else ""
        evidence += f" ({cc_arch[cc].note}); build: CUDA {env.cuda_version}"  # fmt: skip
        if low is not None and cuda[:2] < parse_version(low.value):
            out.append(
                Verdict(
                    name,
                    Status.FAIL,
                    subject=subject,
                    observed=f"CUDA {env.cuda_version}",
                    threshold=f">= {low.value}",
                    evidence=evidence,
                    message=f"CUDA {env.cuda_version} cannot compile for {arch}: 'no kernel image is "
                    "available for execution on the device'",
                    next_step=f"install a torch build for CUDA {low.value} or newer",
                )
            )
        elif high is not None and cuda[:2] > parse_version(high.value):
            out.append(
                Verdict(
                    name,
                    Status.FAIL,
                    subject=subject,
                    observed=f"CUDA {env.cuda_version}",
                    threshold=f"<= {high.value}",
                    evidence=evidence,
                    message=f"CUDA {env.cuda_version} dropped {arch}",
                    next_step=f"install a torch build for CUDA {high.value} or older",
                )
            )
        else:
            out.append(Verdict(name, Status.PASS, subject=subject, observed=arch, evidence=evidence))
    return out


def check_compatibility(env: Environment, table: pd.DataFrame | None = None) -> CompatibilityResult:
    """Judge ``env`` against the bundled table: driver vs CUDA build, official build, each GPU's architecture."""
    table = load_compat_table() if table is None else table
    verdicts = [check_driver(env, table)]
    build = check_build(env, table)
    if build is not None:
        verdicts.append(build)
    verdicts.extend(check_gpu_arch(env, table))
    return CompatibilityResult(env, tuple(verdicts), str(table["date"].max()))
