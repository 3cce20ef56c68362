"""Every reader given what a user might pass by mistake: another kind's real file, an empty file, binary bytes,
a cut-off file. Each either reads it or raises an :class:`~opskit.errors.OpskitError` that names the file; an
input must never surface as a bare traceback (``KeyError``, pyarrow's or pandas' own errors)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

from opskit.errors import OpskitError
from opskit.sources.access_logs import read_access_log
from opskit.sources.attribution import read_attribution
from opskit.sources.checksum_manifests import read_checksum_manifest
from opskit.sources.datasets import read_table
from opskit.sources.dcgm import read_dcgm_scrapes
from opskit.sources.gpu_metrics import read_gpu_metrics
from opskit.sources.gpu_samples import read_gpu_samples
from opskit.sources.gpu_tables import read_gpu_table
from opskit.sources.incidents import read_alertmanager_payload, read_events_csv, read_events_jsonl
from opskit.sources.job_config import read_job_config
from opskit.sources.model_files import read_expected_keys
from opskit.sources.nvidia_smi import read_nvidia_smi_file
from opskit.sources.rbac_policy import read_rbac_policy
from opskit.sources.registry_access_logs import read_registry_access_log
from opskit.sources.requests import read_requests
from opskit.sources.training_logs import read_training_logs

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real"

READERS: dict[str, Callable[[Path], object]] = {
    "read_access_log nginx": lambda p: read_access_log(p, "nginx"),
    "read_attribution": read_attribution,
    "read_checksum_manifest": read_checksum_manifest,
    "read_table": read_table,
    "read_dcgm_scrapes": read_dcgm_scrapes,
    "read_gpu_metrics": read_gpu_metrics,
    "read_gpu_samples": read_gpu_samples,
    "read_gpu_table": read_gpu_table,
    "read_events_csv": read_events_csv,
    "read_events_jsonl": read_events_jsonl,
    "read_alertmanager_payload": read_alertmanager_payload,
    "read_job_config": read_job_config,
    "read_expected_keys": read_expected_keys,
    "read_nvidia_smi_file": read_nvidia_smi_file,
    "read_rbac_policy": read_rbac_policy,
    "read_registry_access_log": read_registry_access_log,
    "read_requests": read_requests,
    "read_training_logs": read_training_logs,
}


def _real_samples() -> list[Path]:
    """Two real files of every kind (the first two by name), whatever their suffix."""
    picked = []
    for kind in sorted(p for p in REAL.iterdir() if p.is_dir()):
        files = sorted(f for f in kind.rglob("*") if f.is_file() and f.name not in ("SOURCES.md", "expected.yaml"))
        picked += files[:2]
    return picked


def _odd_files(folder: Path) -> list[Path]:
    """The shapes a wrong path or a broken copy gives: empty, binary, cut gzip, a lone header, UTF-16."""
    made = {
        "empty.csv": b"",
        "binary.log": bytes(range(256)) * 8,
        "cut.csv.gz": gzip.compress(b"timestamp,gpu,util\n" * 200)[:40],
        "header_only.csv": b"timestamp,gpu,util_pct\n",
        "utf16.csv": "timestamp,value\n2026-11-28T10:00:00Z,1\n".encode("utf-16"),
        "not_json.json": b"{ this is not json",
        "list.yaml": b"- a\n- b\n",
        "cut.parquet": b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00",
    }
    for name, data in made.items():
        (folder / name).write_bytes(data)
    return [folder / n for n in made]


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_reader_given_the_wrong_file_reads_it_or_says_which_file(reader, tmp_path):
    read = READERS[reader]
    bare = []
    for path in _real_samples() + _odd_files(tmp_path):
        try:
            read(path)
        except OpskitError as exc:
            if path.name not in str(exc):
                bare.append(f"{path.name}: OpskitError without the file's name: {exc}")
        except Exception as exc:  # the point of the test: nothing else may escape
            bare.append(f"{path.name}: {type(exc).__name__}: {str(exc)[:160]}")
    assert not bare, f"{reader}:\n" + "\n".join(bare)
