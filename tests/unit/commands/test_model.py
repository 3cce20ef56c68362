"""`opskit model ...` against a real MLflow registry in a local SQLite store."""

import json
import struct

import pytest

from opskit.cli import main

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is installed by `make test`")


def _safetensors(path, values=(1.0, 2.0)):
    header = json.dumps({"w": {"dtype": "F32", "shape": [len(values)], "data_offsets": [0, 4 * len(values)]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + struct.pack(f"<{len(values)}f", *values))


@pytest.fixture
def registry(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("fraud")
    for version in (1, 2, 3):
        folder = tmp_path / f"v{version}"
        folder.mkdir()
        _safetensors(folder / "model.safetensors", (float(version), 0.5))
        (folder / "MLmodel").write_text(f"flavors: {{}}\nversion: {version}\n")
        client.create_model_version("fraud", str(folder))
    monkeypatch.setenv("OPSKIT_MLFLOW_URI", uri)
    monkeypatch.setenv("OPSKIT_MODEL_HISTORY", str(tmp_path / "history.jsonl"))
    monkeypatch.setenv("OPSKIT_USER", "ana")
    return client, tmp_path


def test_promote_rollback_and_which_version_held_the_alias(registry, capsys):
    client, tmp = registry
    for v in ("1", "2", "3"):
        assert main(["model", "verify", "fraud", v, "--record"]) == 0
    assert json.loads(client.get_model_version("fraud", "2").tags["opskit.sha256"]).keys() == {
        "MLmodel",
        "model.safetensors",
    }
    times = []
    for v in ("1", "2", "3"):
        assert main(["model", "promote", "fraud", v, "--reason", f"release {v}"]) == 0
        times.append(json.loads((tmp / "history.jsonl").read_text().splitlines()[-1])["at"])
    assert main(["model", "rollback", "fraud", "--reason", "v3 regressed"]) == 0
    assert str(client.get_model_version_by_alias("fraud", "champion").version) == "2"
    capsys.readouterr()
    for at, want in zip(times, ("1", "2", "3"), strict=True):
        assert main(["model", "at", "fraud", "--time", at]) == 0
        assert f"version {want} " in capsys.readouterr().out
    assert main(["model", "at", "fraud", "--time", "2000-01-01T00:00:00Z"]) == 1
    (tmp / "history.jsonl").unlink()  # the tag still holds the history
    capsys.readouterr()
    assert main(["model", "history", "fraud"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and out[-1].endswith("rollback by ana: v3 regressed") and "3 -> 2" in out[-1]


def test_rollback_to_a_damaged_version_is_refused_with_the_reason(registry, capsys):
    client, tmp = registry
    assert main(["model", "verify", "fraud", "1", "--record"]) == 0
    main(["model", "promote", "fraud", "1", "--reason", "first"])
    main(["model", "promote", "fraud", "2", "--reason", "second"])
    _safetensors(tmp / "v1" / "model.safetensors", (9.0, 0.5))  # same size, other bytes
    capsys.readouterr()
    assert main(["model", "rollback", "fraud", "--reason", "back"]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "model.safetensors" in err and "changed" in err
    assert str(client.get_model_version_by_alias("fraud", "champion").version) == "2"


def test_unverified_target_needs_force_and_unsafe_pickle_is_refused_even_with_it(registry, capsys):
    client, tmp = registry
    main(["model", "promote", "fraud", "3", "--reason", "x"])
    assert main(["model", "rollback", "fraud", "--to", "2", "--reason", "back"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["model", "rollback", "fraud", "--to", "2", "--force", "--reason", "back"]) == 0
    assert str(client.get_model_version_by_alias("fraud", "champion").version) == "2"
    # a pickle that calls os.system: protocol 2, GLOBAL os system, a string, TUPLE1, REDUCE, STOP
    (tmp / "v1" / "extra.pkl").write_bytes(b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.")
    capsys.readouterr()
    assert main(["model", "rollback", "fraud", "--to", "1", "--force", "--reason", "back"]) == 2
    assert "pickle safety" in capsys.readouterr().err
    assert str(client.get_model_version_by_alias("fraud", "champion").version) == "2"


def test_unknown_model_and_alias_list_the_known_ones(registry, capsys):
    assert main(["model", "history", "frod"]) == 2
    assert "fraud" in capsys.readouterr().err
    assert main(["model", "rollback", "fraud", "--alias", "prod", "--reason", "x"]) == 2
    assert "prod" in capsys.readouterr().err


def test_list_shows_versions_checksums_and_naming_warnings(registry, capsys):
    client, _ = registry
    client.set_model_version_tag("fraud", "1", "version_label", "fraud_v1.0_20261101")
    client.set_model_version_tag("fraud", "2", "version_label", "fraud-new")
    main(["model", "verify", "fraud", "1", "--record"])
    main(["model", "promote", "fraud", "1", "--reason", "first"])
    capsys.readouterr()
    assert main(["model", "list", "fraud"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("fraud v1 aliases=champion") and "checksums recorded" in out[0]
    assert "no checksums" in out[1]
    assert [line.split(":")[0] for line in out[3:]] == ["WARN naming fraud v2", "WARN naming fraud v3"]
