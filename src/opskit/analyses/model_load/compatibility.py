"""Can this framework build run on this driver and these GPUs? Checked against a bundled, dated table.

The table ``opskit/data/cuda_compat.csv`` (columns ``kind``, ``key``, ``value``, ``note``, ``source``,
``date``; ``date`` is when the fact was published) holds: the minimum Linux driver of each CUDA
toolkit and of each major version's minor-version compatibility, the CUDA builds of each torch
release and the CUDA of its plain PyPI wheel, compute capability to ``sm_XY``, the CUDA toolkits that
compile for each architecture, and GPU model names to compute capability.

The environment (:class:`opskit.sources.environment.Environment`) comes from this machine or from
another machine's ``pip freeze`` and ``nvidia-smi`` output: see :mod:`opskit.sources.environment`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from opskit.checks import Status, Verdict
from opskit.sources.environment import (
    Environment,
    Version,
    format_version,
    load_compat_table,
    parse_version,
    table_rows,
)


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
    for key, row in sorted(table_rows(table, "gpu_cc").items(), key=lambda kv: -len(kv[0])):
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
    full = _at_or_below(table_rows(table, "cuda_min_driver"), cuda[:2])
    minor = table_rows(table, "cuda_minor_compat_driver").get(str(cuda[0]))
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
    row = table_rows(table, "torch_cuda").get(format_version(v[:2])) if v else None
    if row is None:
        return []
    minor = table_rows(table, "cuda_minor_compat_driver")  # never above the toolkit's own minimum
    needs = {cuda: minor.get(cuda.split(".")[0]) for cuda in row.value.split(";")}
    return [cuda for cuda, need in needs.items() if need is not None and driver >= parse_version(need.value)]


def check_build(env: Environment, table: pd.DataFrame) -> Verdict | None:
    """Is this torch + CUDA pair an official build of that release? (None when there is nothing to say.)"""
    v = parse_version(env.torch_version)
    if v is None or env.cuda_version is None:
        return None
    row = table_rows(table, "torch_cuda").get(format_version(v[:2]))
    subject = f"torch {env.torch_version}"
    if row is None:
        return Verdict(
            "framework build",
            Status.SKIP,
            subject=subject,
            message=f"torch {format_version(v[:2])} is newer than the compatibility table (dated "
            f"{table['date'].max()}); driver and architecture checks still apply",
        )
    builds = row.value.split(";")
    cuda = format_version(parse_version(env.cuda_version)[:2])
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
    cc_arch = table_rows(table, "cc_arch")
    amin, amax = table_rows(table, "arch_cuda_min"), table_rows(table, "arch_cuda_max")
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
