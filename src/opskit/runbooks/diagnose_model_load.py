"""Why will the model not load? The ``diagnose_model_load`` runbook's layers, cheap and safe first.

:func:`diagnose_model_load` runs integrity (:mod:`opskit.analyses.model_load.integrity`,
:mod:`opskit.sources.checksum_manifests`, :mod:`opskit.analyses.model_load.shard_sets`), format and pickle safety
(:mod:`opskit.sources.model_files`, :mod:`opskit.analyses.model_load.pickle_safety`), compatibility
(:mod:`opskit.analyses.model_load.compatibility`) and keys (:mod:`opskit.analyses.model_load.state_dict`)
on a model file or folder; each layer's failure is an ERROR row and the others still run. The functions after
it turn the result into what the runbook shows: the fixes in order, shard sets, risky pickles, key listings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.analyses.model_load.state_dict import (
    TENSOR_COLUMNS,
    keys_verdict,
    load_verdict,
    read_expected_keys,
    static_listing,
    torch_available,
)
from opskit.checks import Status, Verdict
from opskit.errors import InputError
from opskit.privacy import mask
from opskit.sources.model_files import inspect_model_file
from opskit.sources.model_formats import ModelFormat

# ---------------------------------------------------------------------------------- the whole runbook
SAMPLE_ENVIRONMENT = "sample:model_env_old_driver"


@dataclass(frozen=True)
class ModelLoadResult:
    """Everything ``diagnose_model_load`` found, layer by layer (cheap and safe first).

    ``verdicts``: the :class:`~opskit.checks.VerdictTable`. ``files``: one row per file (``file``,
    ``size_bytes``, ``format``, ``ok``, ``problem``, ``fix``, ``checksum``, ``pickle_risk``).
    ``integrity``: :class:`~opskit.analyses.model_load.integrity.IntegrityResult`; ``shards``: shard sets;
    ``pickle_scans``: file -> :class:`~opskit.analyses.model_load.pickle_safety.PickleSafetyResult`;
    ``compatibility``: :class:`~opskit.analyses.model_load.compatibility.CompatibilityResult`; ``listings``:
    tensors per checkpoint or shard set; ``figures``: the key numbers for the summary.
    """

    root: Path
    verdicts: Any
    files: pd.DataFrame
    integrity: Any = None
    shards: tuple = ()
    pickle_scans: dict[str, Any] = field(default_factory=dict)
    compatibility: Any = None
    listings: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


def resolve_environment(environment: str, model_path: str) -> tuple[Any, str]:
    """``local``, ``auto`` (the sample environment for sample data, else local), or a path."""
    from opskit import samples
    from opskit.sources.environment import detect_local_environment, environment_from_path

    value = (environment or "local").strip()
    if value == "auto":
        value = SAMPLE_ENVIRONMENT if str(model_path).startswith(samples.SAMPLE_PREFIX) else "local"
    if value == "local":
        return detect_local_environment(), "this machine"
    return environment_from_path(samples.resolve(value)), value


def diagnose_model_load(
    model_path: str | Path,
    *,
    manifest: str | None = "auto",
    expected_sha256: str | None = None,
    mlflow_model: str | None = None,
    environment: str = "auto",
    overrides: Mapping[str, str | None] | None = None,
    reference: str | None = None,
    load_with_torch: bool = True,
    workers: int = 2,
) -> ModelLoadResult:
    """Run the four layers on a model file or folder: integrity, format (+ pickle safety),
    compatibility, load/keys. Each layer's failure becomes an ERROR row; the others still run.

    ``manifest="auto"`` looks for a manifest beside the files; None (or "") uses none. ``environment``
    is ``local``, ``auto`` or a path (see :func:`resolve_environment`). ``overrides`` replaces
    ``torch_version``, ``cuda_version``, ``driver_version``, ``compute_capability`` where given.
    """
    manifest, expected_sha256 = (manifest or "").strip(), (expected_sha256 or "").strip()
    mlflow_model, reference = (mlflow_model or "").strip(), (reference or "").strip()
    import time

    from opskit import samples
    from opskit.analyses.model_load import integrity as mi
    from opskit.analyses.model_load import shard_sets as ss
    from opskit.analyses.model_load.compatibility import check_compatibility
    from opskit.analyses.model_load.pickle_safety import Risk, pickle_safety_verdict, scan_model_file
    from opskit.checks import VerdictTable, error_verdict
    from opskit.sources import checksum_manifests as cm
    from opskit.sources.model_files import inspections_frame, list_model_files
    from opskit.sources.model_formats import PICKLE_FORMATS

    original = str(model_path)
    root = samples.resolve(original)
    state: dict[str, Any] = {"scans": {}, "listings": {}, "shards": (), "figures": {}}
    rows: list[Verdict] = []

    def layer(name: str, fn) -> None:
        try:
            rows.extend(fn())
        except Exception as exc:  # becomes a visible ERROR row; the other layers still run
            rows.append(error_verdict(name, exc))

    def inspect() -> list[Verdict]:
        files = list_model_files(root)
        base = root if root.is_dir() else root.parent
        state["names"] = {p: str(p.relative_to(base)) for p in files}
        state["infos"] = [inspect_model_file(p) for p in files]
        return []

    def integrity() -> list[Verdict]:
        frames = []
        if manifest and manifest != "auto":
            frames.append(cm.read_checksum_manifest(samples.resolve(manifest)))
        elif manifest == "auto" and (found := cm.find_manifest(root if root.is_dir() else root.parent)):
            frames.append(cm.read_checksum_manifest(found))
        if expected_sha256.strip():
            if root.is_dir():
                raise InputError(
                    "expected_sha256 applies to one file, but model_path is a folder",
                    column="expected_sha256",
                    hint="pass -p manifest SHA256SUMS for a folder",
                )
            frames.append(
                pd.DataFrame(
                    [(root.name, "sha256", expected_sha256.strip().lower(), None, "expected_sha256 parameter", None)],
                    columns=cm.MANIFEST_COLUMNS,
                )
            )
        extra: list[Verdict] = []
        if mlflow_model.strip():
            try:
                recorded = cm.expected_from_mlflow(mlflow_model, list(state["names"].values()))
            except Exception as exc:  # MissingDependencyError included: a SKIP, not an error
                from opskit.errors import MissingDependencyError

                status = Status.SKIP if isinstance(exc, MissingDependencyError) else Status.ERROR
                extra.append(
                    Verdict(
                        "checksum (MLflow)",
                        status,
                        subject=mlflow_model,
                        message=str(exc),
                        next_step=getattr(exc, "hint", None) or "check the MLflow tracking URI",
                    )
                )
            else:
                if recorded.empty:
                    extra.append(
                        Verdict(
                            "checksum (MLflow)",
                            Status.WARN,
                            subject=mlflow_model,
                            message="no sha256/md5 tag recorded for this model version",
                            next_step="record one at registration: tag sha256:<file> = <hex>",
                        )
                    )
                frames.append(recorded)
        expected = pd.concat(frames, ignore_index=True) if frames else None
        start = time.perf_counter()
        result = mi.check_integrity(root, state["names"], expected, workers=workers)
        elapsed = time.perf_counter() - start
        state["integrity"] = result
        state["figures"]["bytes_hashed"] = result.hashed_bytes
        state["figures"]["hash_MBps"] = round(result.hashed_bytes / 1e6 / elapsed, 1) if elapsed > 0 else None
        return [*mi.integrity_verdicts(result), *extra]

    def shards() -> list[Verdict]:
        found = ss.check_shard_sets(root) if root.is_dir() else []
        state["shards"] = tuple(found)
        return ss.shard_verdicts(found)

    def formats() -> list[Verdict]:
        out = mi.format_verdicts(state["infos"], state["names"])
        for info in state["infos"]:
            scan = scan_model_file(info, state["names"][info.path])
            if scan is not None:
                state["scans"][state["names"][info.path]] = scan
                out.append(pickle_safety_verdict(scan))
        return out

    def compatibility() -> list[Verdict]:
        env, where = resolve_environment(environment, original)
        env = env.override(**{k: v for k, v in (overrides or {}).items() if v})
        result = check_compatibility(env)
        state["compatibility"] = result
        state["figures"]["environment"] = where
        return list(result.verdicts)

    def loads() -> list[Verdict]:
        expected = read_expected_keys(samples.resolve(reference)) if reference.strip() else None
        use_torch = load_with_torch and torch_available()
        out: list[Verdict] = []
        shard_files = {f for s in state["shards"] for f in s.present}
        for info in state["infos"]:
            name = state["names"][info.path]
            if info.path.name in shard_files or not info.ok:
                continue
            if info.format not in PICKLE_FORMATS and info.format is not ModelFormat.SAFETENSORS:
                continue
            scan = state["scans"].get(name)
            if scan is not None and scan.risk is not Risk.SAFE:
                continue  # never load a pickle that imports anything outside the allow-list
            method = "safetensors header" if info.format is ModelFormat.SAFETENSORS else "pickle opcodes (static)"
            listing = None
            if use_torch and info.format in PICKLE_FORMATS:
                verdict, listing = load_verdict(name, info.path)
                out.append(verdict)
                method = "torch.load(weights_only=True)"
            if listing is None:
                listing = static_listing(info)
            state["listings"][name] = listing
            out.append(keys_verdict(name, listing, method, expected))
        base = root if root.is_dir() else root.parent
        for s in state["shards"]:
            parts = [static_listing(inspect_model_file(base / f)) for f in s.present]
            listing = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TENSOR_COLUMNS)
            state["listings"][s.name] = listing
            out.append(keys_verdict(s.name, listing, f"safetensors headers of {len(s.present)} shards", expected))
        if not use_torch:
            why = "torch is not installed" if load_with_torch else "load_with_torch is false"
            out.append(
                Verdict(
                    "load",
                    Status.SKIP,
                    message=f"{why}: nothing was loaded; keys and shapes were read "
                    "from safetensors headers and pickle opcodes instead",
                    next_step="run this runbook where torch is installed to try the load itself",
                )
            )
        return out

    layer("model files", inspect)
    if "infos" in state:
        layer("checksum", integrity)
        layer("shard set", shards)
        layer("format", formats)
    layer("compatibility", compatibility)
    if "infos" in state:
        layer("state-dict keys", loads)

    table = VerdictTable(rows)
    infos = state.get("infos", [])
    files = inspections_frame(infos, root)
    if infos:
        files["file"] = [state["names"][i.path] for i in infos]
        integ = state.get("integrity")
        if integ is not None:
            status = integ.files.drop_duplicates("file").set_index("file")["status"]
            files["checksum"] = files["file"].map(status)
        files["pickle_risk"] = files["file"].map({k: v.risk.value for k, v in state["scans"].items()})
    failed = {v.subject for v in table.rows if v.status is Status.FAIL and v.subject in set(files.get("file", []))}
    figures = {
        "files_checked": len(infos),
        "files_failed": len(failed),
        "dangerous_files": sum(1 for s in state["scans"].values() if s.risk is Risk.DANGEROUS),
        "missing_shards": sum(len(s.missing) for s in state["shards"]),
        "torch_available": torch_available(),
        **state["figures"],
    }
    return ModelLoadResult(
        root,
        table,
        files,
        state.get("integrity"),
        state["shards"],
        state["scans"],
        state.get("compatibility"),
        state["listings"],
        figures,
    )


# ------------------------------------------------------------------------------- what the runbook shows
# The most specific fix first: what a file really is says more than its checksum does.
FIX_ORDER = (
    "model files",
    "format",
    "pickle safety",
    "shard set",
    "checksum",
    "checksum (MLflow)",
    "driver supports CUDA build",
    "GPU architecture in build",
    "framework build",
    "state-dict keys",
    "load",
)


def next_steps(verdicts: Iterable[Verdict]) -> list[tuple[str, str]]:
    """One ``(subject, step)`` per file or subject that failed (FAIL or ERROR), in the order to work
    through them (:data:`FIX_ORDER`: get a good copy first, then fix the environment, then the keys);
    a subject's first step wins. Subjects are masked."""
    rank = {name: i for i, name in enumerate(FIX_ORDER)}
    todo = sorted(
        (v for v in verdicts if v.status in (Status.FAIL, Status.ERROR)),
        key=lambda v: rank.get(v.name, len(FIX_ORDER)),
    )
    steps: dict[str, str] = {}
    for v in todo:
        if v.next_step:
            steps.setdefault(mask(v.subject or v.name), f"({v.name}) {v.next_step}")
    return list(steps.items())


def next_steps_markdown(verdicts: Iterable[Verdict]) -> str:
    """:func:`next_steps` as a Markdown list, or a sentence saying there is nothing to fix."""
    lines = [f"- **{subject}** {step}" for subject, step in next_steps(verdicts)]
    return "\n".join(lines) if lines else "Nothing to fix: every check passed or was skipped."


def shard_set_sentences(result: ModelLoadResult) -> list[str]:
    """One Markdown sentence per shard set: how many shards are present, missing, extra, unindexed."""
    return [
        f"Shard set `{s.name}` (index `{s.index_file}`): {len(s.present)} of {s.total} present; "
        f"missing {list(s.missing) or 'none'}; extra {list(s.extra) or 'none'}; "
        f"named by the index but absent {list(s.absent_in_index) or 'none'}."
        for s in result.shards
    ]


def risky_pickles(result: ModelLoadResult) -> list[tuple[str, pd.DataFrame]]:
    """For each pickle that is not safe: a Markdown headline (file, risk, calls) and its non-safe imports."""
    out = []
    for file, scan in result.pickle_scans.items():
        if scan.risk.value != "safe":
            headline = f"**{mask(file)}**: pickle risk **{scan.risk.value}**, {scan.calls} calls in its opcodes"
            out.append((headline, scan.imports[scan.imports["risk"] != "safe"]))
    return out


def environment_note(result: ModelLoadResult) -> str | None:
    """A Markdown sentence naming the environment judged and the date of the compatibility table."""
    compat = result.compatibility
    if compat is None:
        return None
    return (
        f"Environment: **{mask(str(result.figures.get('environment')))}**; compatibility table dated "
        f"up to {compat.table_date} (`opskit/data/cuda_compat.csv`, one source per row)."
    )


def listings_table(result: ModelLoadResult) -> pd.DataFrame:
    """One row per readable checkpoint (a shard set counts as one): tensors, its first keys, its dtypes."""
    rows = [
        {
            "checkpoint": name,
            "tensors": len(frame),
            "first keys": ", ".join(frame["key"].head(3)),
            "dtypes": ", ".join(sorted(set(map(str, frame["dtype"])))),
        }
        for name, frame in result.listings.items()
    ]
    return pd.DataFrame(rows, columns=["checkpoint", "tensors", "first keys", "dtypes"])


SUMMARY_FIGURES = (
    "files_checked",
    "files_failed",
    "dangerous_files",
    "missing_shards",
    "bytes_hashed",
    "hash_MBps",
    "torch_available",
    "environment",
)


def summary_figures(result: ModelLoadResult) -> dict[str, Any]:
    """The key figures for ``summary.json`` (:data:`SUMMARY_FIGURES`; None where a layer did not run)."""
    return {name: result.figures.get(name) for name in SUMMARY_FIGURES}
