"""Why will the model not load? The ``diagnose_model_load`` runbook's layers, cheap and safe first.

:func:`run` reads the model file or folder (:mod:`opskit.sources.model_files`), then judges integrity
(:mod:`opskit.analyses.model_load.integrity`, :mod:`opskit.sources.checksum_manifests`,
:mod:`opskit.analyses.model_load.shard_sets`), format and pickle safety
(:mod:`opskit.analyses.model_load.pickle_safety`), compatibility
(:mod:`opskit.analyses.model_load.compatibility`) and keys (:mod:`opskit.analyses.model_load.state_dict`).
Each layer returns its values and verdicts; a layer that raises becomes an ERROR row and the others
still run. Nothing from the files is executed: pickles are read opcode by opcode, and only a pickle whose
imports are all on the allow-list is loaded, with ``torch.load(weights_only=True)`` on the CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import pandas as pd

from opskit import samples
from opskit.analyses.model_load import integrity as mi
from opskit.analyses.model_load import shard_sets as ss
from opskit.analyses.model_load.compatibility import CompatibilityResult, check_compatibility
from opskit.analyses.model_load.pickle_allowlist import load_allowlist
from opskit.analyses.model_load.pickle_safety import PickleSafetyResult, Risk, pickle_safety_verdict, scan_model_file
from opskit.analyses.model_load.settings import ModelLoadSettings
from opskit.analyses.model_load.state_dict import keys_verdict, load_verdict, torch_available
from opskit.checks import Status, Verdict, VerdictTable, error_verdict
from opskit.errors import InputError, MissingDependencyError
from opskit.privacy import mask
from opskit.runbooks.diagnose_model_load_result import DiagnoseModelLoadResult
from opskit.sources import checksum_manifests as cm
from opskit.sources.environment import Environment, detect_local_environment, environment_from_path
from opskit.sources.model_files import (
    TENSOR_COLUMNS,
    inspect_model_file,
    inspections_frame,
    list_model_files,
    read_expected_keys,
    static_listing,
)
from opskit.sources.model_formats import PICKLE_FORMATS, ModelFileInfo, ModelFormat

SAMPLE_ENVIRONMENT = "sample:model_env_old_driver"
T = TypeVar("T")


@dataclass(frozen=True)
class ModelFiles:
    """The files that were inspected: ``root`` (a file or a folder), each file's inspection and its
    name relative to the folder (what every verdict calls it)."""

    root: Path
    infos: tuple[ModelFileInfo, ...]
    names: dict[Path, str]

    @property
    def base(self) -> Path:
        return self.root if self.root.is_dir() else self.root.parent


def run(
    *,
    model_path: str = "sample:model_dir_faults",
    manifest: str | None = "auto",
    expected_sha256: str | None = None,
    mlflow_model: str | None = None,
    environment: str = "auto",
    torch_version: str | None = None,
    cuda_version: str | None = None,
    driver_version: str | None = None,
    compute_capability: str | None = None,
    reference: str | None = None,
    load_with_torch: bool = True,
    pickle_allowlist: str | None = None,
) -> DiagnoseModelLoadResult:
    """Diagnose a model file or folder: integrity, format (+ pickle safety), compatibility, load/keys.

    Never raises on bad input: a layer that cannot be evaluated is an ERROR row and the others still
    run (compatibility runs even when the model files cannot be read).
    """
    settings = ModelLoadSettings.from_parameters(
        manifest=manifest,
        expected_sha256=expected_sha256,
        mlflow_model=mlflow_model,
        environment=environment,
        torch_version=torch_version,
        cuda_version=cuda_version,
        driver_version=driver_version,
        compute_capability=compute_capability,
        reference=reference,
        load_with_torch=load_with_torch,
    )
    rows: list[Verdict] = []

    def attempt(name: str, stage: Callable[[], tuple[T, list[Verdict]]]) -> T | None:
        try:
            value, verdicts = stage()
        except Exception as exc:  # becomes a visible ERROR row; the other layers still run
            rows.append(error_verdict(name, exc))
            return None
        rows.extend(verdicts)
        return value

    files = attempt("model files", lambda: (read_model_files(str(model_path)), []))
    integrity = shards = scans = None
    if files is not None:
        integrity = attempt("checksum", lambda: judge_integrity(files, settings))
        shards = attempt("shard set", lambda: judge_shard_sets(files))
        scans = attempt("format", lambda: judge_formats(files, load_allowlist(pickle_allowlist)))
    judged = attempt("compatibility", lambda: judge_compatibility(settings, str(model_path)))
    listings = None
    if files is not None:
        listings = attempt("state-dict keys", lambda: judge_keys(files, shards or (), scans, settings))

    # a pickle that can run code is the most serious finding: it heads its status (the sort below is stable)
    table = VerdictTable(sorted(map(_shown, rows), key=lambda v: v.name != "pickle safety"))
    return DiagnoseModelLoadResult(
        root=files.root if files is not None else Path(str(model_path)),
        verdicts=table,
        files=files_frame(files, integrity[0] if integrity else None, scans or {}),
        integrity=integrity[0] if integrity else None,
        shard_sets=shards or (),
        pickle_scans=scans or {},
        compatibility=judged[0] if judged else None,
        listings=listings or {},
        hash_MBps=integrity[1] if integrity else None,
        torch_available=torch_available(),
        environment=judged[1] if judged else None,
    )


def _shown(verdict: Verdict) -> Verdict:
    """``verdict`` with its subject and next step masked: they name files, and a folder's names are the
    user's text (a run under a user's e-mail, a host's address); its message and evidence already are."""
    return replace(verdict, subject=mask(verdict.subject), next_step=mask(verdict.next_step))


# ------------------------------------------------------------------------------------------- layers
def read_model_files(model_path: str) -> ModelFiles:
    """Resolve ``model_path`` (``sample:`` names included) and inspect each model file it holds."""
    root = samples.resolve(model_path)
    paths = list_model_files(root)
    base = root if root.is_dir() else root.parent
    return ModelFiles(root, tuple(inspect_model_file(p) for p in paths), {p: str(p.relative_to(base)) for p in paths})


def expected_checksums(files: ModelFiles, settings: ModelLoadSettings) -> tuple[pd.DataFrame | None, list[Verdict]]:
    """The expected hashes (a manifest, the ``expected_sha256`` parameter, MLflow tags), concatenated,
    and the verdicts about MLflow's (SKIP without mlflow, WARN when it records no hash)."""
    frames, notes = [], []
    if settings.manifest and settings.manifest != "auto":
        frames.append(cm.read_checksum_manifest(samples.resolve(settings.manifest)))
    elif settings.manifest == "auto" and (found := cm.find_manifest(files.base)):
        frames.append(cm.read_checksum_manifest(found))
    if settings.expected_sha256:
        if files.root.is_dir():
            raise InputError(
                "expected_sha256 applies to one file, but model_path is a folder",
                column="expected_sha256",
                hint="pass -p manifest SHA256SUMS for a folder",
            )
        row = (files.root.name, "sha256", settings.expected_sha256, None, "expected_sha256 parameter", None)
        frames.append(pd.DataFrame([row], columns=cm.MANIFEST_COLUMNS))
    if settings.mlflow_model:
        name, subject = "checksum (MLflow)", settings.mlflow_model
        try:
            recorded = cm.expected_from_mlflow(settings.mlflow_model, list(files.names.values()))
        except Exception as exc:  # MissingDependencyError included: a SKIP, not an error
            status = Status.SKIP if isinstance(exc, MissingDependencyError) else Status.ERROR
            step = getattr(exc, "hint", None) or "check the MLflow tracking URI"
            notes.append(Verdict(name, status, subject=subject, message=str(exc), next_step=step))
        else:
            if recorded.empty:
                notes.append(
                    Verdict(
                        name,
                        Status.WARN,
                        subject=subject,
                        message="no sha256/md5 tag recorded for this model version",
                        next_step="record one at registration: tag sha256:<file> = <hex>",
                    )
                )
            frames.append(recorded)
    return (pd.concat(frames, ignore_index=True) if frames else None), notes


def judge_integrity(
    files: ModelFiles, settings: ModelLoadSettings
) -> tuple[tuple[mi.IntegrityResult, float | None], list[Verdict]]:
    """Hash the files against what is expected: the result with its hashing speed (MB/s), and the verdicts."""
    expected, notes = expected_checksums(files, settings)
    start = time.perf_counter()
    result = mi.check_integrity(files.root, list(files.names), expected, workers=settings.workers)
    elapsed = time.perf_counter() - start
    speed = round(result.hashed_bytes / 1e6 / elapsed, 1) if elapsed > 0 else None
    return (result, speed), [*mi.integrity_verdicts(result), *notes]


def judge_shard_sets(files: ModelFiles) -> tuple[tuple[ss.ShardSetResult, ...], list[Verdict]]:
    """The shard sets of a folder, each judged as a whole (none for a single file)."""
    found = tuple(ss.check_shard_sets(files.root)) if files.root.is_dir() else ()
    return found, ss.shard_verdicts(found)


def judge_formats(
    files: ModelFiles, allowlist: dict[str, str] | None = None
) -> tuple[dict[str, PickleSafetyResult], list[Verdict]]:
    """What each file is (``format`` rows), and the pickle scan of each file holding pickles (against the
    bundled allow-list, extended by the user's ``pickle_allowlist`` file)."""
    verdicts = mi.format_verdicts(files.infos, files.names)
    scans: dict[str, PickleSafetyResult] = {}
    for info in files.infos:
        scan = scan_model_file(info, files.names[info.path], allowlist)
        if scan is not None:
            scans[files.names[info.path]] = scan
            verdicts.append(pickle_safety_verdict(scan))
    return scans, verdicts


def resolve_environment(environment: str, model_path: str) -> tuple[Environment, str]:
    """``local``, ``auto`` (the sample environment for sample data, else local), or a path."""
    value = environment
    if value == "auto":
        value = SAMPLE_ENVIRONMENT if model_path.startswith(samples.SAMPLE_PREFIX) else "local"
    if value == "local":
        return detect_local_environment(), "this machine"
    return environment_from_path(samples.resolve(value)), value


def judge_compatibility(
    settings: ModelLoadSettings, model_path: str
) -> tuple[tuple[CompatibilityResult, str], list[Verdict]]:
    """The environment (with the overrides) against the bundled table, and which environment it was."""
    env, where = resolve_environment(settings.environment, model_path)
    result = check_compatibility(env.override(**settings.overrides))
    return (result, where), list(result.verdicts)


def judge_keys(
    files: ModelFiles,
    shards: tuple[ss.ShardSetResult, ...],
    scans: dict[str, PickleSafetyResult] | None,
    settings: ModelLoadSettings,
) -> tuple[dict[str, pd.DataFrame], list[Verdict]]:
    """Keys and shapes of each readable, safe checkpoint and of each shard set, against the reference.

    A pickle is listed only when its scan found nothing outside the allow-list (no scan, because the
    format layer failed, means no listing: the safety check fails closed); it is loaded with torch only
    where torch is installed and ``load_with_torch`` is set.
    """
    expected = read_expected_keys(samples.resolve(settings.reference)) if settings.reference else None
    use_torch = settings.load_with_torch and torch_available()
    verdicts: list[Verdict] = []
    listings: dict[str, pd.DataFrame] = {}
    shard_files = {f for s in shards for f in s.present}
    for info in files.infos:
        name = files.names[info.path]
        if info.path.name in shard_files or not info.ok:
            continue
        if info.format not in PICKLE_FORMATS and info.format is not ModelFormat.SAFETENSORS:
            continue
        if info.format in PICKLE_FORMATS:
            scan = scans.get(name) if scans is not None else None
            if scans is None or (scan is not None and scan.risk is not Risk.SAFE):
                continue  # never load a pickle that imports anything outside the allow-list
        method = "safetensors header" if info.format is ModelFormat.SAFETENSORS else "pickle opcodes (static)"
        listing = None
        if use_torch and info.format in PICKLE_FORMATS:
            verdict, listing = load_verdict(name, info.path)
            verdicts.append(verdict)
            method = "torch.load(weights_only=True)"
        if listing is None:
            listing = static_listing(info)
        listings[name] = listing
        verdicts.append(keys_verdict(name, listing, method, expected))
    for s in shards:
        parts = [static_listing(inspect_model_file(files.base / f)) for f in s.present]
        listing = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TENSOR_COLUMNS)
        listings[s.name] = listing
        verdicts.append(keys_verdict(s.name, listing, f"safetensors headers of {len(s.present)} shards", expected))
    if not use_torch:
        why = "torch is not installed" if settings.load_with_torch else "load_with_torch is false"
        verdicts.append(
            Verdict(
                "load",
                Status.SKIP,
                message=f"{why}: nothing was loaded; keys and shapes were read "
                "from safetensors headers and pickle opcodes instead",
                next_step="run this runbook where torch is installed to try the load itself",
            )
        )
    return listings, verdicts


# -------------------------------------------------------------------------------------- the file table
def files_frame(
    files: ModelFiles | None, integrity: mi.IntegrityResult | None, scans: dict[str, PickleSafetyResult]
) -> pd.DataFrame:
    """One row per inspected file (its name masked, as the verdicts name it), with its checksum status and
    pickle risk (empty when none was read)."""
    if files is None:
        return inspections_frame([])
    frame = inspections_frame(list(files.infos), files.root)
    if files.infos:
        frame["file"] = [files.names[i.path] for i in files.infos]
        if integrity is not None:
            status = integrity.files.drop_duplicates("file").set_index("file")["status"]
            frame["checksum"] = frame["file"].map(status)
        frame["pickle_risk"] = frame["file"].map({k: v.risk.value for k, v in scans.items()})
        frame["file"] = frame["file"].map(mask)  # as the verdicts' subjects name them (figures join the two)
    return frame
