"""Is the copy whole? Sizes and checksums of model files against what their source says, and shard sets.

Expected hashes come from a ``sha256sum``/``md5sum`` manifest (also the BSD ``SHA256 (file) = ...``
form), a JSON manifest, a single expected SHA-256, or the tags of a registered model version in
MLflow (``sha256`` or ``sha256:<file>``; optional, needs ``mlflow``). Files are read once, in chunks
of 8 MiB, feeding every algorithm needed; a known size that differs fails before any hashing.

A shard set (``model-00001-of-00004.safetensors`` ... with ``model.safetensors.index.json``) is
judged as a whole: shards missing from the numbered set, extra shards, shards the index names that
are absent, and shards present that the index never names.

The equivalent by hand: ``sha256sum -c SHA256SUMS`` and ``ls model-*-of-*.safetensors``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from opskit.checks import Status, Verdict
from opskit.errors import InputError, MissingDependencyError

CHUNK_BYTES = 8 * 1024 * 1024
HEX_ALGORITHMS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
MANIFEST_NAMES = (
    "SHA256SUMS",
    "SHA256SUMS.txt",
    "sha256sums.txt",
    "sha256sum.txt",
    "checksums.sha256",
    "MD5SUMS",
    "md5sums.txt",
    "checksums.md5",
    "checksums.txt",
    "manifest.json",
    "checksums.json",
)
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


# ----------------------------------------------------------------------------------------- manifests
MANIFEST_COLUMNS = ["file", "algorithm", "expected", "expected_size_bytes", "source", "line"]
_GNU = re.compile(r"^\\?(?P<hex>[0-9a-fA-F]{32,128}) [ *](?P<file>.+)$")
_BSD = re.compile(r"^(?P<algo>[A-Za-z0-9-]+) ?\((?P<file>.+)\) ?= ?(?P<hex>[0-9a-fA-F]{32,128})$")


def read_checksum_manifest(path: str | Path) -> pd.DataFrame:
    """Read a ``sha256sum``/``md5sum`` (GNU or BSD style) or JSON manifest.

    Columns: ``file`` (as written, relative to the manifest's folder), ``algorithm``, ``expected``
    (lower-case hex), ``expected_size_bytes`` (JSON manifests only, else missing), ``source``
    (``name:line``), ``line``. JSON forms: ``{"files": [{"path", "sha256"|"md5", "size"}]}``,
    ``{file: hex}`` or ``{file: {"sha256": hex, "size": n}}``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("manifest not found", path=path, hint="pass the sha256sum file or JSON manifest, or ''")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".json" or text.lstrip().startswith(("{", "[")):
        rows = _json_manifest(path, text)
    else:
        rows = []
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = _GNU.match(line) or _BSD.match(line)
            if not m or len(m["hex"]) not in HEX_ALGORITHMS:
                raise InputError(
                    "not a checksum line: expected '<hex>  <file>' (sha256sum) or 'SHA256 (file) = <hex>'",
                    path=path,
                    line=number,
                    hint="regenerate it with: sha256sum FILES > SHA256SUMS",
                )
            algo = m.groupdict().get("algo")
            algorithm = algo.lower().replace("-", "") if algo else HEX_ALGORITHMS[len(m["hex"])]
            rows.append((m["file"].strip(), algorithm, m["hex"].lower(), None, f"{path.name}:{number}", number))
    if not rows:
        raise InputError("manifest lists no files", path=path, hint="regenerate it with: sha256sum FILES > SHA256SUMS")
    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    frame["expected_size_bytes"] = frame["expected_size_bytes"].astype("Int64")
    return frame


def _json_manifest(path: Path, text: str) -> list[tuple]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"manifest is not valid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
    entries: list[tuple[str, object]]
    if isinstance(data, dict) and isinstance(data.get("files"), list):
        entries = [(e.get("path") or e.get("file") or e.get("name"), e) for e in data["files"] if isinstance(e, dict)]
    elif isinstance(data, dict):
        entries = list(data.items())
    else:
        raise InputError("JSON manifest must be an object", path=path, hint='{"files": [{"path": ..., "sha256": ...}]}')
    rows = []
    for index, (name, entry) in enumerate(entries, 1):
        where = f"{path.name}:{name}"
        if isinstance(entry, str):
            entry = {HEX_ALGORITHMS.get(len(entry), "sha256"): entry}
        if not name or not isinstance(entry, dict):
            raise InputError(f"entry {index} has no file name or no hash", path=path, column=str(name))
        size = entry.get("size", entry.get("size_bytes"))
        found = [(a, str(entry[a]).lower()) for a in ("sha256", "md5", "sha512", "sha1") if entry.get(a)]
        if not found:
            raise InputError(f"entry for {name!r} has no sha256 or md5", path=path, column=str(name))
        for algorithm, hexdigest in found[:1]:
            rows.append((str(name), algorithm, hexdigest, int(size) if size is not None else None, where, None))
    return rows


def find_manifest(folder: str | Path) -> Path | None:
    """The checksum manifest beside the model files, by its usual names; None when there is none."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    for name in MANIFEST_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("*.sha256")) + sorted(folder.glob("*.md5"))
    return found[0] if found else None


def expected_from_mlflow(model_uri: str, files: Iterable[str] = (), tracking_uri: str | None = None) -> pd.DataFrame:
    """Expected hashes recorded for a registered model version: ``models:/NAME/VERSION``.

    Reads the version's tags (and its run's tags and params): ``sha256`` (the single model file)
    or ``sha256:<file>`` per file; likewise ``md5``. Needs the ``mlflow`` package (extra ``mlflow``).
    """
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise MissingDependencyError("mlflow", extra="mlflow", feature="hashes recorded in MLflow") from exc
    m = re.fullmatch(r"models:/(?P<name>[^/]+)/(?P<version>\d+)", model_uri.strip())
    if not m:
        raise InputError(
            f"not a registered model version URI: {model_uri!r}", column="mlflow_model", hint="use models:/NAME/VERSION"
        )
    client = MlflowClient(tracking_uri=tracking_uri) if tracking_uri else MlflowClient()
    version = client.get_model_version(m["name"], m["version"])
    recorded: dict[str, str] = {}
    if getattr(version, "run_id", None):
        run = client.get_run(version.run_id)
        recorded.update(run.data.params or {})
        recorded.update(run.data.tags or {})
    recorded.update(version.tags or {})
    files = list(files)
    rows = []
    for key, value in recorded.items():
        algorithm, _, file = key.partition(":")
        if algorithm.lower() not in ("sha256", "md5") or not re.fullmatch(r"[0-9a-fA-F]{32,64}", str(value)):
            continue
        if not file:
            if len(files) != 1:
                continue
            file = files[0]
        rows.append((file, algorithm.lower(), str(value).lower(), None, f"{model_uri} tag {key}", None))
    frame = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    frame["expected_size_bytes"] = frame["expected_size_bytes"].astype("Int64")
    return frame


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

    ``expected`` is a frame like :func:`read_checksum_manifest`'s (several can be concatenated).
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
        short = lambda h: f"{h[:12]}…" if isinstance(h, str) else "—"  # noqa: E731
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


# ----------------------------------------------------------------------------------------- shard sets
_SHARD = re.compile(r"^(?P<stem>.+)-(?P<index>\d{5})-of-(?P<total>\d{5})(?P<ext>\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class ShardSetResult:
    """One shard set: ``name`` (e.g. ``model-*-of-00004.safetensors``), its index file when there is
    one, and the shard file names that are ``missing``, ``extra`` (numbered outside the set, or of
    another total), ``absent_in_index`` (named by the index, not on disk) and ``not_in_index``."""

    name: str
    total: int
    index_file: str | None
    present: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    absent_in_index: tuple[str, ...]
    not_in_index: tuple[str, ...]
    tensors_in_missing: int = 0
    not_in_shard: tuple[str, ...] = ()  # tensors the index places in a present shard whose header lacks them

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.absent_in_index or self.not_in_index or self.not_in_shard)


def check_shard_sets(folder: str | Path) -> list[ShardSetResult]:
    """Find the shard sets in ``folder`` (by file name and by ``*.index.json``) and check each."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    shards: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for p in folder.iterdir():
        m = _SHARD.match(p.name)
        if m and p.is_file():
            shards.setdefault((m["stem"], m["ext"]), []).append((int(m["index"]), int(m["total"]), p.name))
    indexes: dict[tuple[str, str], tuple[str, dict]] = {}
    for p in sorted(folder.glob("*.index.json")):
        try:
            weight_map = json.loads(p.read_text(encoding="utf-8")).get("weight_map", {})
        except (json.JSONDecodeError, AttributeError) as exc:
            raise InputError(f"shard index is not a JSON object with a weight_map: {exc}", path=p) from exc
        for file in set(weight_map.values()):
            m = _SHARD.match(str(file))
            if m:
                indexes[(m["stem"], m["ext"])] = (p.name, weight_map)
                break
    results = []
    for key in sorted(set(shards) | set(indexes)):
        stem, ext = key
        found = sorted(shards.get(key, []))
        index_name, weight_map = indexes.get(key, (None, {}))
        named = set(map(str, weight_map.values()))
        totals = [t for _, t, _ in found] + [int(_SHARD.match(n)["total"]) for n in named if _SHARD.match(n)]
        total = max(set(totals), key=totals.count) if totals else 0
        expected = {f"{stem}-{i:05d}-of-{total:05d}{ext}" for i in range(1, total + 1)}
        present = {n for _, _, n in found}
        absent = sorted(n for n in named if n not in present)
        not_in_shard = _tensors_not_in_shard(folder, weight_map, present) if ext == ".safetensors" else []
        results.append(
            ShardSetResult(
                name=f"{stem}-*-of-{total:05d}{ext}",
                total=total,
                index_file=index_name,
                present=tuple(sorted(present)),
                missing=tuple(sorted(expected - present)),
                extra=tuple(sorted(present - expected)),
                absent_in_index=tuple(absent),
                not_in_index=tuple(sorted(present - named)) if index_name else (),
                tensors_in_missing=sum(1 for f in weight_map.values() if f in set(absent)),
                not_in_shard=tuple(not_in_shard),
            )
        )
    return results


def _tensors_not_in_shard(folder: Path, weight_map: Mapping[str, str], present: set[str]) -> list[str]:
    """Tensors the index assigns to a present safetensors shard whose header does not list them."""
    from opskit.sources.model_headers import inspect_safetensors

    held: dict[str, set[str]] = {}
    for name in present:
        info = inspect_safetensors(folder / name)
        held[name] = set(info.tensors["name"]) if info.tensors is not None else set()
    return sorted(t for t, f in weight_map.items() if f in held and held[f] and t not in held[f])


def shard_verdicts(results: Iterable[ShardSetResult]) -> list[Verdict]:
    """One ``shard set`` verdict per set: FAIL when a shard is missing, extra or unindexed."""
    out = []
    for r in results:
        problems = []
        if r.missing:
            problems.append(f"missing {len(r.missing)} of {r.total}: {', '.join(r.missing)}")
        if r.absent_in_index:
            problems.append(
                f"{r.index_file} names absent files: {', '.join(r.absent_in_index)}"
                + (f" ({r.tensors_in_missing} tensors)" if r.tensors_in_missing else "")
            )
        if r.extra:
            problems.append(f"extra shards outside the set of {r.total}: {', '.join(r.extra)}")
        if r.not_in_index:
            problems.append(f"present but not named by {r.index_file}: {', '.join(r.not_in_index)}")
        if r.not_in_shard:
            more = f" (+{len(r.not_in_shard) - 3})" if len(r.not_in_shard) > 3 else ""
            problems.append(
                f"{r.index_file} places {len(r.not_in_shard)} tensors in shards that do not hold them: "
                f"{', '.join(r.not_in_shard[:3])}{more}"
            )
        evidence = f"present: {', '.join(r.present) or 'none'}; index: {r.index_file or 'none'}"
        if problems:
            fix = (
                "fetch the missing shards (e.g. huggingface-cli download REPO --include 'model-*'); "
                if r.missing or r.absent_in_index
                else ""
            )
            if r.extra or r.not_in_index or r.not_in_shard:
                fix += "remove stray shards from another revision, or fetch the index and shards of one revision"
            out.append(
                Verdict(
                    "shard set",
                    Status.FAIL,
                    subject=r.name,
                    observed=len(r.present),
                    threshold=r.total,
                    unit="shards",
                    evidence=evidence,
                    message="; ".join(problems),
                    next_step=fix.rstrip("; "),
                )
            )
        elif r.index_file is None:
            out.append(
                Verdict(
                    "shard set",
                    Status.WARN,
                    subject=r.name,
                    observed=len(r.present),
                    threshold=r.total,
                    unit="shards",
                    evidence=evidence,
                    message="all shards present but no *.index.json",
                    next_step="fetch the index file too: loaders need it to find tensors",
                )
            )
        else:
            out.append(
                Verdict(
                    "shard set",
                    Status.PASS,
                    subject=r.name,
                    observed=len(r.present),
                    threshold=r.total,
                    unit="shards",
                    evidence=evidence,
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
