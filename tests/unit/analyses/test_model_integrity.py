"""Checksums against manifests, expected hashes and MLflow tags; shard sets judged as a whole."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from opskit.analyses import checksum_manifests as cm
from opskit.analyses import model_integrity as mi
from opskit.analyses import shard_sets as ss
from opskit.checks import Status
from opskit.errors import InputError, MissingDependencyError
from opskit.sources.model_files import inspect_model_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------- hashing
def test_hash_file_matches_hashlib_across_many_chunks(tmp_path):
    data = bytes(range(256)) * 3000  # 768,000 bytes: twelve 64 KiB chunks
    path = tmp_path / "w.bin"
    path.write_bytes(data)
    got = mi.hash_file(path, ("sha256", "md5"), chunk_bytes=1)
    assert got == {"sha256": sha(data), "md5": hashlib.md5(data).hexdigest()}


def test_hash_files_in_parallel_equals_serial(tmp_path):
    paths = []
    for i in range(4):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(bytes([i]) * (100_000 + i))
        paths.append(p)
    assert mi.hash_files(paths, workers=2) == mi.hash_files(paths, workers=1)
    assert mi.hash_files(paths)[paths[3]]["sha256"] == sha(bytes([3]) * 100_003)


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


# ---------------------------------------------------------------------------------------- integrity
@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "good.bin").write_bytes(b"good weights")
    (tmp_path / "bad.bin").write_bytes(b"truncat")
    (tmp_path / "stray.bin").write_bytes(b"who put this here")
    (tmp_path / "config.json").write_text("{}")
    lines = [
        f"{sha(b'good weights')}  good.bin",
        f"{sha(b'truncated weights')}  bad.bin",
        f"{sha(b'gone')}  gone.bin",
        f"{hashlib.md5(b'{}').hexdigest()}  config.json",
    ]
    (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_check_integrity_statuses(folder):
    files = [folder / "good.bin", folder / "bad.bin", folder / "stray.bin"]
    result = mi.check_integrity(folder, files, cm.read_checksum_manifest(folder / "SHA256SUMS"))
    status = result.files.set_index("file")["status"].to_dict()
    assert status == {"good.bin": "match", "bad.bin": "mismatch", "stray.bin": "not listed", "gone.bin": "missing",
                      "config.json": "match"}  # fmt: skip
    assert result.files.set_index("file").loc["bad.bin", "actual"] == sha(b"truncat")
    verdicts = {v.subject: v for v in mi.integrity_verdicts(result)}
    assert verdicts["bad.bin"].status is Status.FAIL and "fetch the file again" in verdicts["bad.bin"].next_step
    assert verdicts["gone.bin"].status is Status.FAIL and "missing" in verdicts["gone.bin"].message
    assert verdicts["stray.bin"].status is Status.WARN
    assert verdicts["good.bin"].status is Status.PASS
    assert result.sources == ("SHA256SUMS",)


def test_size_mismatch_fails_before_hashing(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"fo")  # the manifest says 3 bytes
    result = mi.check_integrity(tmp_path, [tmp_path / "weights.bin"],
                                cm.read_checksum_manifest(FIXTURES / "manifest_files_list.json"))  # fmt: skip
    row = result.files.set_index("file").loc["weights.bin"]
    assert row["status"] == "size mismatch" and pd.isna(row["actual"]) and result.hashed_bytes == 0
    verdict = next(v for v in mi.integrity_verdicts(result) if v.subject == "weights.bin")
    assert verdict.status is Status.FAIL and (verdict.observed, verdict.threshold) == (2, 3)


def test_nothing_expected_is_one_skip_with_the_hashes(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"abc")
    verdicts = mi.integrity_verdicts(mi.check_integrity(tmp_path, [tmp_path / "w.bin"]))
    assert [v.status for v in verdicts] == [Status.SKIP]
    assert sha(b"abc") in verdicts[0].evidence


def test_single_file_root(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"abc")
    expected = pd.DataFrame([("w.bin", "sha256", sha(b"abc"), None, "expected_sha256 parameter", None)],
                            columns=cm.MANIFEST_COLUMNS)  # fmt: skip
    result = mi.check_integrity(tmp_path / "w.bin", [tmp_path / "w.bin"], expected)
    assert result.files["status"].tolist() == ["match"]


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


# ---------------------------------------------------------------------------------------- shard sets
def shards(folder: Path, names: list[str], index: list[str] | None = None) -> None:
    for name in names:
        (folder / name).write_bytes(b"x")
    if index is not None:
        weight_map = {f"t{i}": name for i, name in enumerate(index)}
        (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


def shard(i: int, n: int = 4) -> str:
    return f"model-{i:05d}-of-{n:05d}.safetensors"


def test_complete_shard_set_passes(tmp_path):
    shards(tmp_path, [shard(i) for i in range(1, 5)], [shard(i) for i in range(1, 5)])
    (result,) = ss.check_shard_sets(tmp_path)
    assert result.ok and result.total == 4 and result.index_file == "model.safetensors.index.json"
    assert [v.status for v in ss.shard_verdicts([result])] == [Status.PASS]


def test_missing_shard_named_by_index(tmp_path):
    shards(tmp_path, [shard(1), shard(2), shard(4)], [shard(i) for i in (1, 2, 3, 3, 4)])
    (result,) = ss.check_shard_sets(tmp_path)
    assert result.missing == (shard(3),) and result.absent_in_index == (shard(3),)
    assert result.tensors_in_missing == 2
    (verdict,) = ss.shard_verdicts([result])
    assert verdict.status is Status.FAIL and (verdict.observed, verdict.threshold) == (3, 4)
    assert shard(3) in verdict.message


def test_extra_and_unindexed_shards(tmp_path):
    shards(tmp_path, [shard(1, 2), shard(2, 2), shard(3, 2), shard(1, 3)], [shard(1, 2), shard(2, 2)])
    (result,) = ss.check_shard_sets(tmp_path)
    assert result.total == 2 and not result.missing
    assert set(result.extra) == {shard(3, 2), shard(1, 3)}
    assert set(result.not_in_index) == {shard(3, 2), shard(1, 3)}
    assert "stray" in ss.shard_verdicts([result])[0].next_step


def test_shards_without_index_warn(tmp_path):
    shards(tmp_path, [shard(1, 2), shard(2, 2)])
    assert [v.status for v in ss.shard_verdicts(ss.check_shard_sets(tmp_path))] == [Status.WARN]


def test_broken_index_is_an_input_error(tmp_path):
    (tmp_path / "model.safetensors.index.json").write_text("{not json")
    with pytest.raises(InputError) as err:
        ss.check_shard_sets(tmp_path)
    assert err.value.path.endswith("model.safetensors.index.json")


# -------------------------------------------------------------------------------------------- format
def test_format_verdicts(tmp_path):
    (tmp_path / "page.bin").write_text("<html><title>Login</title></html>")
    (tmp_path / "cfg.bin").write_text('{"a": 1}')
    infos = [inspect_model_file(tmp_path / "page.bin"), inspect_model_file(tmp_path / "cfg.bin")]
    verdicts = {v.subject: v for v in mi.format_verdicts(infos)}
    assert verdicts["page.bin"].status is Status.FAIL and verdicts["page.bin"].observed == "html"
    assert "<title>Login</title>" in verdicts["page.bin"].evidence
    assert verdicts["cfg.bin"].status is Status.FAIL and "json" in verdicts["cfg.bin"].message


def test_index_placing_tensors_in_the_wrong_shard(tmp_path):
    import numpy as np

    from opskit.samples.models import safetensors_bytes

    one = {"a": np.zeros(2, np.float32)}
    two = {"b": np.zeros(2, np.float32)}
    (tmp_path / shard(1, 2)).write_bytes(safetensors_bytes(one))
    (tmp_path / shard(2, 2)).write_bytes(safetensors_bytes(two))
    index = {"weight_map": {"a": shard(1, 2), "b": shard(1, 2)}}  # "b" is in shard 2, not 1
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (result,) = ss.check_shard_sets(tmp_path)
    assert result.not_in_shard == ("b",) and result.not_in_index == (shard(2, 2),)
    (verdict,) = ss.shard_verdicts([result])
    assert verdict.status is Status.FAIL and "do not hold them: b" in verdict.message


def test_sample_model_folder_is_the_same_bytes_each_time(tmp_path):
    from opskit.samples.models import write_model_dir

    first, second = write_model_dir(tmp_path / "a"), write_model_dir(tmp_path / "b")
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert all((first / n).read_bytes() == (second / n).read_bytes() for n in names)
