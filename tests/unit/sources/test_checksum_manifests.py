"""Checksum manifests (GNU, BSD, JSON) and expected hashes recorded in a real MLflow store."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from opskit.errors import InputError, MissingDependencyError
from opskit.sources import checksum_manifests as cm

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------------------- manifests
def test_gnu_manifest_text_and_binary_markers(tmp_path):
    path = tmp_path / "SHA256SUMS"
    path.write_text(f"{'a' * 64}  model.safetensors\n# comment\n\n{'B' * 64} *sub/dir/w.bin\n{'c' * 32}  cfg.json\n")
    frame = cm.read_checksum_manifest(path)
    assert list(frame["file"]) == ["model.safetensors", "sub/dir/w.bin", "cfg.json"]
    assert list(frame["algorithm"]) == ["sha256", "sha256", "md5"]
    assert frame.loc[1, "expected"] == "b" * 64
    assert list(frame["source"]) == ["SHA256SUMS:1", "SHA256SUMS:4", "SHA256SUMS:5"]


def test_bsd_style_manifest():
    frame = cm.read_checksum_manifest(FIXTURES / "sha256sums_bsd_style.txt")
    assert frame[["file", "algorithm"]].values.tolist() == [["weights.bin", "sha256"], ["config.json", "md5"]]


def test_json_manifest_with_sizes():
    frame = cm.read_checksum_manifest(FIXTURES / "manifest_files_list.json")
    assert frame.set_index("file")["expected_size_bytes"].to_dict() == {"weights.bin": 3, "config.json": 99}
    assert frame.set_index("file")["algorithm"].to_dict() == {"weights.bin": "sha256", "config.json": "md5"}


def test_json_manifest_as_plain_mapping(tmp_path):
    path = tmp_path / "checksums.json"
    path.write_text(json.dumps({"a.bin": "f" * 64, "b.bin": {"sha256": "e" * 64, "size": 10}}))
    frame = cm.read_checksum_manifest(path)
    assert frame.set_index("file")["expected"].to_dict() == {"a.bin": "f" * 64, "b.bin": "e" * 64}


def test_bad_manifest_line_names_the_line():
    with pytest.raises(InputError) as err:
        cm.read_checksum_manifest(FIXTURES / "sha256sums_bad_line.txt")
    assert err.value.line == 2 and err.value.path.endswith("sha256sums_bad_line.txt") and err.value.hint


def test_empty_and_missing_manifest(tmp_path):
    (tmp_path / "SHA256SUMS").write_text("\n# nothing\n")
    with pytest.raises(InputError):
        cm.read_checksum_manifest(tmp_path / "SHA256SUMS")
    with pytest.raises(InputError):
        cm.read_checksum_manifest(tmp_path / "absent")


def test_find_manifest_by_usual_names(tmp_path):
    assert cm.find_manifest(tmp_path) is None
    (tmp_path / "model.sha256").write_text("x")
    assert cm.find_manifest(tmp_path).name == "model.sha256"
    (tmp_path / "SHA256SUMS").write_text("x")
    assert cm.find_manifest(tmp_path).name == "SHA256SUMS"


# ------------------------------------------------------------------------------------------ MLflow
@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory) -> str:
    """A real MLflow tracking store (SQLite) with a registered model ``classifier`` holding hash tags.

    Version 1 records a per-file SHA-256 as a version tag and an MD5 as a tag of its training run;
    version 2 has one bare ``sha256`` tag and no run. Artifacts stay in the temporary folder.
    """
    mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is installed by `make test`")
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder}/mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("training", artifact_location=(folder / "artifacts").as_uri())
    run = client.create_run(experiment, tags={"md5:tok.json": "b" * 32, "team": "ml"})
    client.log_param(run.info.run_id, "sha256:config.json", "d" * 64)
    client.set_terminated(run.info.run_id)
    client.create_registered_model("classifier")
    source = (folder / "artifacts" / "model").as_uri()
    tags = {"sha256:model.safetensors": "A" * 64, "owner": "ml", "sha256:notes.txt": "not a hash"}
    client.create_model_version("classifier", source, run_id=run.info.run_id, tags=tags)
    client.create_model_version("classifier", source, tags={"sha256": "c" * 64})
    assert client.get_run(run.info.run_id).info.artifact_uri.startswith(folder.as_uri())  # never ./mlruns
    return uri


def test_expected_hash_from_mlflow_version_and_run_tags(mlflow_store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store)
    frame = cm.expected_from_mlflow("models:/classifier/1")
    assert frame.set_index("file")["expected"].to_dict() == {
        "model.safetensors": "a" * 64,  # version tag, lower-cased
        "tok.json": "b" * 32,  # tag of the run that produced the version
        "config.json": "d" * 64,  # param of that run
    }
    assert frame.set_index("file")["algorithm"].to_dict() == {
        "model.safetensors": "sha256",
        "tok.json": "md5",
        "config.json": "sha256",
    }
    assert frame["source"].str.contains("models:/classifier/1").all()


def test_bare_sha256_tag_applies_to_the_single_file(mlflow_store):
    frame = cm.expected_from_mlflow("models:/classifier/2", ["w.pt"], tracking_uri=mlflow_store)
    assert frame["file"].tolist() == ["w.pt"] and frame["expected"].tolist() == ["c" * 64]
    assert cm.expected_from_mlflow("models:/classifier/2", ["a.pt", "b.pt"], tracking_uri=mlflow_store).empty


def test_mlflow_uri_must_name_a_registered_model_version(mlflow_store):
    with pytest.raises(InputError) as err:
        cm.expected_from_mlflow("runs:/abc/model", tracking_uri=mlflow_store)
    assert err.value.column == "mlflow_model"


def test_mlflow_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if the extra were not installed
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(MissingDependencyError) as err:
        cm.expected_from_mlflow("models:/classifier/1")
    assert err.value.extra == "mlflow"
