"""What the source says a model file should be: checksum manifests, and hashes recorded in MLflow.

``sha256sum``/``md5sum`` manifests (also the BSD ``SHA256 (file) = ...`` form), JSON manifests, found
beside the files by their usual names, and the tags of a registered model version in MLflow
(``sha256`` or ``sha256:<file>``; optional, needs ``mlflow``). All become one frame of expectations
with :data:`MANIFEST_COLUMNS` for :func:`opskit.analyses.model_load.integrity.check_integrity`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from opskit.errors import InputError, MissingDependencyError

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
