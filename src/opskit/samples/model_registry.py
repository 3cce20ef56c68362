"""A seeded MLflow model registry (SQLite) with three versions, two aliases and an alias history.

Scenario ``model_registry`` writes, byte for byte the same each time, the model's artifacts
(``artifacts/v<N>/``: a small ``.safetensors`` file and an ``MLmodel`` file) and ``registry.json``,
the registry's description (its main file). An MLflow store holds random run ids and absolute
paths, so :func:`build_registry` turns the description into ``mlflow/registry.db`` beside it on
first use (``tracking_uri`` ``sample:model_registry`` does that):

| version | label tag ``version_label`` | checksums ``opskit.sha256`` | alias |
|---|---|---|---|
| 1 | ``churn_v1.0_20260901`` | recorded | ``champion`` (after the rollback) |
| 2 | ``churn_v1.1_20260931`` (no 31 September: violates the convention) | recorded | - |
| 3 | ``churn_v2.0_20261101`` | none recorded | ``challenger`` |

The alias history (``mlflow/model_history.jsonl`` and the registered-model tag) holds four moves
written through :class:`opskit.model_registry.Registry`: ``champion`` to 1, promoted to 2,
``challenger`` to 3, and ``champion`` rolled back to 1; their times are then set to fixed instants
of November 2026, so the answers to "which version at T" are stable.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np

from opskit.samples import scenario

MODEL = "churn"
LABELS = ("churn_v1.0_20260901", "churn_v1.1_20260931", "churn_v2.0_20261101")
MOVES = (  # alias, version, action, who, at, reason
    ("champion", "1", "promote", "alice", "2026-11-02T09:00:00.000000Z", "first release"),
    ("champion", "2", "promote", "bob", "2026-11-16T10:30:00.000000Z", "better recall on October data"),
    ("challenger", "3", "promote", "alice", "2026-11-20T08:00:00.000000Z", "shadow test of v2.0"),
    ("champion", "1", "rollback", "carol", "2026-11-24T14:05:00.000000Z", "v1.1 doubled false positives"),
)


def _safetensors(seed: int) -> bytes:
    """A tiny valid safetensors file: one float32 tensor of 4x4."""
    data = np.random.default_rng(seed).standard_normal((4, 4)).astype("<f4").tobytes()
    header = json.dumps({"weight": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


@scenario("model_registry", "MLflow registry (SQLite): 3 versions, champion/challenger, a promote and a rollback")
def write_model_registry(folder: Path) -> Path:
    from opskit.model_verify import checksums

    versions = []
    for number, label in enumerate(LABELS, start=1):
        root = folder / "artifacts" / f"v{number}"
        root.mkdir(parents=True)
        (root / "model.safetensors").write_bytes(_safetensors(number))
        (root / "MLmodel").write_text(f"artifact_path: model\nflavors: {{}}\nmodel_label: {label}\n")
        versions.append(
            {
                "version": str(number),
                "artifacts": f"artifacts/v{number}",
                "tags": {"version_label": label},
                "checksums": checksums(root) if number != 3 else None,  # version 3 was registered without
                "stage": "Production" if number == 1 else None,
            }
        )
    spec = {"model": MODEL, "tags": {"team": "growth"}, "versions": versions, "moves": [list(m) for m in MOVES]}
    main = folder / "registry.json"
    main.write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
    return main


def build_registry(spec_path: Path) -> Path:
    """The SQLite store described by ``spec_path`` (``mlflow/registry.db`` beside it), built once."""
    target = spec_path.parent / "mlflow"
    if (target / "registry.db").is_file():
        return target / "registry.db"
    tmp = Path(tempfile.mkdtemp(prefix=".mlflow-", dir=spec_path.parent))
    try:
        _build(json.loads(spec_path.read_text()), spec_path.parent.resolve(), tmp)
        os.replace(tmp, target)
    except OSError:
        if not (target / "registry.db").is_file():  # not a concurrent build that finished first
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "registry.db"


def _build(spec: dict, base: Path, folder: Path) -> None:
    from opskit.model_registry import HISTORY_TAG, Registry
    from opskit.model_verify import CHECKSUM_TAG

    uri = f"sqlite:///{(folder / 'registry.db').resolve().as_posix()}"
    reg = Registry(uri, folder / "model_history.jsonl")
    client, name = reg.client, spec["model"]
    experiment = client.create_experiment(f"{name}-training")
    client.create_registered_model(name, tags=spec["tags"], description=f"{name} classifier")
    for v in spec["versions"]:
        run = client.create_run(experiment, run_name=f"train-{v['tags']['version_label']}")
        client.set_terminated(run.info.run_id)
        source = str(base / v["artifacts"])  # where the artifacts stay: the scenario folder is final by now
        client.create_model_version(name, source, run_id=run.info.run_id, tags=v["tags"])
        if v["checksums"] is not None:
            client.set_model_version_tag(name, v["version"], CHECKSUM_TAG, json.dumps(v["checksums"], sort_keys=True))
        if v["stage"]:
            with warnings.catch_warnings():  # stages are deprecated in favour of aliases; the table still shows them
                warnings.simplefilter("ignore")
                client.transition_model_version_stage(name, v["version"], v["stage"])
    for alias, version, action, who, _at, reason in spec["moves"]:
        reg.move(name, alias, version, reason=reason, who=who, action=action)
    history = folder / "model_history.jsonl"
    records = [json.loads(line) for line in history.read_text().splitlines() if line.strip()]
    for record, move in zip(records, spec["moves"], strict=True):
        record["at"] = move[4]
    history.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(records, sort_keys=True, separators=(",", ":")))
