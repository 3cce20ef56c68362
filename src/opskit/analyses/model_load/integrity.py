"""Is the copy whole? Sizes and checksums of model files against what their source says; what each file is.

Expected hashes come from :mod:`opskit.sources.checksum_manifests` (a ``sha256sum``/``md5sum`` or JSON
manifest, a single expected SHA-256, or MLflow tags). Files are read once, in chunks of 8 MiB, feeding
every algorithm needed; a known size that differs fails before any hashing. Shard sets are judged in
:mod:`opskit.analyses.model_load.shard_sets`.

The equivalent by hand: ``sha256sum -c SHA256SUMS``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from opskit.checks import Status, Verdict
from opskit.sources.checksum_manifests import MANIFEST_COLUMNS

CHUNK_BYTES = 8 * 1024 * 1024
REFETCH = "fetch the file again from its source (the copy differs from what the source published)"


# ------------------------------------------------------------------------------------------- hashing
def hash_file(path: str | Path, algorithms: Iterable[str] = ("sha256",), chunk_bytes: int = CHUNK_BYTES) -> dict:
    """Hex digests of ``path`` for each algorithm, reading the file once in ``chunk_bytes`` chunks.

    Equivalent: ``sha256sum FILE`` (and ``md5sum FILE``).
    """
    hashers = {name: hashlib.new(name) for name in dict.fromkeys(algorithms)}
    buf = bytearray(max(chunk_bytes, 64 * 1024))
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            chunk = view[:n]
            for h in hashers.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashers.items()}


def hash_files(
    paths: Iterable[Path], algorithms: Mapping[Path, Iterable[str]] | Iterable[str] = ("sha256",), workers: int = 2
) -> dict[Path, dict[str, str]]:
    """:func:`hash_file` for many files, ``workers`` at a time (hashlib and reads release the GIL)."""
    paths = list(paths)

    def algos(p: Path) -> Iterable[str]:
        return algorithms.get(p, ("sha256",)) if isinstance(algorithms, Mapping) else algorithms

    if workers <= 1 or len(paths) <= 1:
        return {p: hash_file(p, algos(p)) for p in paths}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(paths, pool.map(lambda p: hash_file(p, algos(p)), paths), strict=True))


# ------------------------------------------------------------------------------------------ integrity
@dataclass(frozen=True)
class IntegrityResult:
    """One row per file in ``files``: ``file``, ``size_bytes``, ``expected_size_bytes``, ``algorithm``,
    ``expected``, ``actual``, ``sha256``, ``source`` (manifest line), ``status`` (``match``,
    ``mismatch``, ``size mismatch``, ``missing``, ``not listed``, ``no expectation``)."""

    root: Path
    files: pd.DataFrame
    sources: tuple[str, ...] = ()
    hashed_bytes: int = 0
    notes: tuple[str, ...] = field(default=())


def check_integrity(
    root: str | Path,
    files: Iterable[Path],
    expected: pd.DataFrame | None = None,
    *,
    workers: int = 2,
    chunk_bytes: int = CHUNK_BYTES,
) -> IntegrityResult:
    """Hash ``files`` (under folder ``root``, or ``root`` itself when it is a file) and compare with ``expected``.

    ``expected`` is a frame like :func:`opskit.sources.checksum_manifests.read_checksum_manifest`'s
    (several can be concatenated).
    Every file gets its SHA-256 (shown when nothing is expected, so it can be compared by hand).
    """
    root = Path(root)
    base = root if root.is_dir() else root.parent
    files = [Path(f) for f in files]
    expected = expected if expected is not None else pd.DataFrame(columns=MANIFEST_COLUMNS)
    by_name: dict[str, list[dict]] = {}
    for rec in expected.to_dict("records"):
        by_name.setdefault(os.path.normpath(str(rec["file"]).lstrip("*")), []).append(rec)
    rel = {f: os.path.normpath(os.path.relpath(f, base)) for f in files}
    for name in by_name:  # listed files that exist but were not among the model files (config.json...)
        candidate = base / name
        if candidate.is_file() and candidate not in rel:
            rel[candidate] = name
    sizes = {f: f.stat().st_size for f in rel}
    plan: dict[Path, list[str]] = {}
    for f, name in rel.items():
        recs = by_name.get(name, [])
        size_bad = any(pd.notna(r["expected_size_bytes"]) and int(r["expected_size_bytes"]) != sizes[f] for r in recs)
        plan[f] = [] if size_bad else list(dict.fromkeys(["sha256", *(r["algorithm"] for r in recs)]))
    digests = hash_files([f for f, a in plan.items() if a], {f: a for f, a in plan.items() if a}, workers=workers)
    rows = []
    for f, name in sorted(rel.items(), key=lambda kv: kv[1]):
        digest = digests.get(f, {})
        recs = by_name.get(name) or [None]
        for rec in recs:
            row = {
                "file": name,
                "size_bytes": sizes[f],
                "expected_size_bytes": None,
                "algorithm": "sha256",
                "expected": None,
                "actual": digest.get("sha256"),
                "sha256": digest.get("sha256"),
                "source": None,
            }
            if rec is None:
                row["status"] = "not listed" if by_name else "no expectation"
            else:
                row.update(
                    expected_size_bytes=rec["expected_size_bytes"],
                    algorithm=rec["algorithm"],
                    expected=rec["expected"],
                    source=rec["source"],
                    actual=digest.get(rec["algorithm"]),
                )
                if pd.notna(rec["expected_size_bytes"]) and int(rec["expected_size_bytes"]) != sizes[f]:
                    row["status"] = "size mismatch"
                else:
                    row["status"] = "match" if row["actual"] == rec["expected"] else "mismatch"
            rows.append(row)
    for name, recs in sorted(by_name.items()):
        if not (base / name).is_file():
            for rec in recs:
                rows.append(
                    {
                        "file": name,
                        "size_bytes": None,
                        "expected_size_bytes": rec["expected_size_bytes"],
                        "algorithm": rec["algorithm"],
                        "expected": rec["expected"],
                        "actual": None,
                        "sha256": None,
                        "source": rec["source"],
                        "status": "missing",
                    }
                )
    frame = pd.DataFrame(
        rows,
        columns=[
            "file",
            "size_bytes",
            "expected_size_bytes",
            "algorithm",
            "expected",
            "actual",
            "sha256",
            "source",
            "status",
        ],
    )
    for col in ("size_bytes", "expected_size_bytes"):
        frame[col] = frame[col].astype("Int64")
    sources = tuple(dict.fromkeys(str(s).rsplit(":", 1)[0] for s in expected["source"]))
    return IntegrityResult(root, frame, sources, sum(sizes[f] for f in digests))


def integrity_verdicts(result: IntegrityResult) -> list[Verdict]:
    """One ``checksum`` verdict per file: FAIL for a mismatch or a missing file, PASS for a match,
    WARN for a model file the manifest does not list, one SKIP when nothing was expected."""
    name = "checksum"
    if result.files.empty:
        return []
    if (result.files["status"] == "no expectation").all():
        listing = "\n".join(f"{r.sha256}  {r.file}" for r in result.files.head(8).itertuples())
        return [
            Verdict(
                name,
                Status.SKIP,
                message="no manifest, expected_sha256 or MLflow hash to compare with; "
                "SHA-256 of each file computed below",
                evidence=listing,
                next_step="compare these with the hashes the source publishes (model card, registry, LFS "
                "oid), or pass -p manifest SHA256SUMS / -p expected_sha256 HEX",
            )
        ]
    out = []
    for r in result.files.itertuples():
        short = lambda h: h if isinstance(h, str) else "—"  # noqa: E731  (in full: a prefix cannot be compared)
        where = f"{r.source} expects {r.algorithm} {r.expected}" if r.expected else ""
        if r.status == "match":
            out.append(
                Verdict(
                    name,
                    Status.PASS,
                    subject=r.file,
                    observed=short(r.actual),
                    threshold=short(r.expected),
                    unit=r.algorithm,
                    evidence=where,
                )
            )
        elif r.status == "mismatch":
            out.append(
                Verdict(
                    name,
                    Status.FAIL,
                    subject=r.file,
                    observed=short(r.actual),
                    threshold=short(r.expected),
                    unit=r.algorithm,
                    evidence=f"{where}\ngot {r.actual} ({r.size_bytes:,} bytes)",
                    message="checksum differs: the file is not the one the source published",
                    next_step=REFETCH,
                )
            )
        elif r.status == "size mismatch":
            out.append(
                Verdict(
                    name,
                    Status.FAIL,
                    subject=r.file,
                    observed=int(r.size_bytes),
                    threshold=int(r.expected_size_bytes),
                    unit="bytes",
                    evidence=where,
                    message="size differs from the manifest (not hashed)",
                    next_step=REFETCH,
                )
            )
        elif r.status == "missing":
            out.append(
                Verdict(
                    name,
                    Status.FAIL,
                    subject=r.file,
                    evidence=where,
                    observed="missing",
                    message="missing: listed in the manifest but not in the folder",
                    next_step="fetch the missing file (an interrupted download or an incomplete sync)",
                )
            )
        elif r.status == "not listed":
            out.append(
                Verdict(
                    name,
                    Status.WARN,
                    subject=r.file,
                    observed=short(r.sha256),
                    unit="sha256",
                    message="not in the manifest: nothing to compare with",
                    next_step="check where this file came from; add it to the manifest if it belongs",
                )
            )
    return out


# -------------------------------------------------------------------------------------------- format
def format_verdicts(infos: Iterable, names: Mapping | None = None) -> list[Verdict]:
    """One ``format`` verdict per inspected file (:class:`opskit.sources.model_formats.ModelFileInfo`):
    FAIL when the structure is damaged or the file is not a model at all (HTML, LFS pointer, empty)."""
    out = []
    for info in infos:
        subject = (names or {}).get(info.path, info.path.name)
        what = info.format.value
        if info.problem:
            out.append(
                Verdict(
                    "format",
                    Status.FAIL,
                    subject=subject,
                    observed=what,
                    threshold="a loadable model file",
                    evidence=_format_evidence(info),
                    message=info.problem,
                    next_step=info.fix,
                )
            )
        elif not info.format.is_model:
            out.append(
                Verdict(
                    "format",
                    Status.FAIL,
                    subject=subject,
                    observed=what,
                    threshold="a loadable model file",
                    message=f"{what} with a model file name",
                    next_step="fetch the real file from the source",
                )
            )
        else:
            out.append(Verdict("format", Status.PASS, subject=subject, observed=what, evidence=_format_evidence(info)))
    return out


def _format_evidence(info) -> str:
    d = info.details
    parts = [f"{info.size_bytes:,} bytes"]
    if "tensor_count" in d:
        parts.append(f"{d['tensor_count']} tensors")
    if "header_length" in d:
        parts.append(f"header {d['header_length']:,} bytes")
    if "entries" in d:
        parts.append(f"{d['entries']} zip entries")
    if d.get("storages") is not None:
        parts.append(f"{d['storages']} storages")
    if d.get("torch_legacy"):
        parts.append("legacy torch.save format")
    if "ir_version" in d:
        parts.append(
            f"ONNX ir_version {d['ir_version']}" + (f", {d['producer_name']}" if d.get("producer_name") else "")
        )
    if d.get("lfs_sha256"):
        parts.append(f"LFS oid sha256:{d['lfs_sha256']}, size {d.get('lfs_size_bytes')}")
    if d.get("title"):
        parts.append(f"<title>{d['title']}</title>")
    if "expected_size_bytes" in d and d["expected_size_bytes"] != info.size_bytes:
        parts.append(f"header implies {d['expected_size_bytes']:,} bytes")
    return "; ".join(parts)
