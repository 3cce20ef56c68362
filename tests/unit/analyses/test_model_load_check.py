"""Keys and shapes: read statically, compared with an expected list or a second checkpoint; the whole diagnosis."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opskit.analyses import load_check as lc
from opskit.checks import Status
from opskit.errors import InputError
from opskit.samples.models import (
    classifier_tensors,
    safetensors_bytes,
    state_dict_pickle,
    torch_zip_bytes,
    write_model_dir,
)
from opskit.sources.model_files import inspect_model_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"


@pytest.fixture
def tensors() -> dict[str, np.ndarray]:
    return classifier_tensors(np.random.default_rng(7))


def listing(pairs: dict[str, tuple]) -> pd.DataFrame:
    return pd.DataFrame([(k, "float32", s) for k, s in pairs.items()], columns=lc.TENSOR_COLUMNS)


# ---------------------------------------------------------------------------------------- listings
def test_static_listing_of_torch_zip_matches_the_arrays(tmp_path, tensors):
    path = tmp_path / "c.pt"
    path.write_bytes(torch_zip_bytes(tensors))
    frame = lc.static_listing(inspect_model_file(path))
    assert frame["key"].tolist() == list(tensors)
    assert frame["shape"].tolist() == [a.shape for a in tensors.values()]
    assert set(frame["dtype"]) == {"float32"}


def test_static_listing_of_safetensors(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors_bytes({"a": np.zeros((2, 3), np.float16), "b": np.zeros(4, np.int64)}))
    frame = lc.static_listing(inspect_model_file(path))
    assert frame.values.tolist() == [["a", "float16", (2, 3)], ["b", "int64", (4,)]]


def test_nested_state_dict_is_unwrapped(tmp_path, tensors):
    inner = state_dict_pickle(tensors)[2:-1]  # the OrderedDict, without PROTO and STOP
    data = b"\x80\x02}(X\x0a\x00\x00\x00state_dict" + inner + b"X\x05\x00\x00\x00epochK\x03u."
    path = tmp_path / "ckpt.pt"
    path.write_bytes(torch_zip_bytes(tensors, pickle=data))
    assert lc.static_listing(inspect_model_file(path))["key"].tolist() == list(tensors)


# -------------------------------------------------------------------------------------- comparison
def test_identical_listings_match():
    a = listing({"w": (2, 2), "b": (2,)})
    assert lc.compare_keys(a, a).ok


def test_module_prefix_is_detected_not_reported_as_all_unexpected():
    actual = listing({"module.w": (2, 2), "module.b": (2,)})
    cmp = lc.compare_keys(actual, listing({"w": (2, 2), "b": (2,)}))
    assert cmp.prefix == "module." and not cmp.missing and not cmp.unexpected and not cmp.ok


def test_expected_prefix_the_checkpoint_lacks():
    cmp = lc.compare_keys(listing({"w": (2, 2)}), listing({"module.w": (2, 2)}))
    assert cmp.prefix == "-module." and not cmp.missing


def test_missing_unexpected_and_shape_mismatch():
    actual = listing({"w": (3, 2), "b": (2,), "extra": (1,)})
    cmp = lc.compare_keys(actual, listing({"w": (2, 2), "b": (2,), "head": (5,)}))
    assert cmp.missing == ("head",) and cmp.unexpected == ("extra",)
    assert cmp.shape_mismatch == (("w", (3, 2), (2, 2)),)


def test_unknown_expected_shapes_are_not_mismatches():
    expected = pd.DataFrame([("w", None, None)], columns=lc.TENSOR_COLUMNS)
    assert lc.compare_keys(listing({"w": (3, 2)}), expected).ok


# --------------------------------------------------------------------------------- expected keys
def test_expected_keys_from_text_with_shapes():
    frame = lc.read_expected_keys(FIXTURES / "expected_keys_with_shapes.txt")
    assert frame.set_index("key")["shape"].to_dict() == {
        "encoder.weight": (64, 32), "encoder.bias": (64,), "head.weight": (10, 64), "head.bias": (10,)
    }  # fmt: skip


def test_expected_keys_from_json_forms(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(["x", "y"]))
    (tmp_path / "b.json").write_text(json.dumps({"x": [1, 2]}))
    (tmp_path / "c.json").write_text(json.dumps({"keys": ["z"]}))
    assert lc.read_expected_keys(tmp_path / "a.json")["key"].tolist() == ["x", "y"]
    assert lc.read_expected_keys(tmp_path / "b.json")["shape"].tolist() == [(1, 2)]
    assert lc.read_expected_keys(tmp_path / "c.json")["key"].tolist() == ["z"]


def test_expected_keys_from_a_second_checkpoint(tmp_path, tensors):
    (tmp_path / "ref.pt").write_bytes(torch_zip_bytes(tensors))
    assert lc.read_expected_keys(tmp_path / "ref.pt")["key"].tolist() == list(tensors)
    (tmp_path / "bad.pt").write_bytes(torch_zip_bytes(tensors)[:300])
    with pytest.raises(InputError) as err:
        lc.read_expected_keys(tmp_path / "bad.pt")
    assert err.value.path.endswith("bad.pt") and err.value.hint


def test_expected_keys_errors(tmp_path):
    with pytest.raises(InputError):
        lc.read_expected_keys(tmp_path / "none.txt")
    (tmp_path / "bad.txt").write_text("w 2,abc\n")
    with pytest.raises(InputError) as err:
        lc.read_expected_keys(tmp_path / "bad.txt")
    assert err.value.line == 1


# ----------------------------------------------------------------------------------------- verdicts
def test_keys_verdict_without_reference_warns_on_module_prefix():
    verdict = lc.keys_verdict("ddp.pt", listing({"module.w": (1,), "module.b": (1,)}), "static", None)
    assert verdict.status is Status.WARN and "removeprefix('module.')" in verdict.next_step
    assert lc.keys_verdict("ok.pt", listing({"w": (1,)}), "static", None).status is Status.PASS


def test_keys_verdict_with_reference_fails_with_the_fix():
    expected = listing({"w": (2, 2), "b": (2,)})
    verdict = lc.keys_verdict("ddp.pt", listing({"module.w": (2, 2), "module.b": (2,)}), "static", expected)
    assert verdict.status is Status.FAIL and "'module.'" in verdict.message and "removeprefix" in verdict.next_step
    shape = lc.keys_verdict("x.pt", listing({"w": (3, 2), "b": (2,)}), "static", expected)
    assert shape.status is Status.FAIL and "shape mismatch" in shape.message and "w [3, 2] vs [2, 2]" in shape.message


# ------------------------------------------------------------------------------------ whole diagnosis
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return write_model_dir(tmp_path_factory.mktemp("models"))


def test_diagnose_names_every_planted_fault(model_dir):
    result = lc.diagnose_model_load(model_dir, environment="local", load_with_torch=False)
    fails = {(v.name, v.subject) for v in result.verdicts.by_status(Status.FAIL)}
    assert {
        ("format", "classifier_truncated.pt"),
        ("format", "classifier_download.bin"),
        ("format", "adapter.safetensors"),
        ("format", "encoder_bad_header.safetensors"),
        ("shard set", "model-*-of-00004.safetensors"),
        ("checksum", "model-00003-of-00004.safetensors"),
        ("pickle safety", "classifier_malicious.pt"),
    } <= fails
    assert ("checksum", "classifier.pt") not in fails
    warn = result.verdicts.find("state-dict keys", "classifier_ddp.pt")
    assert warn[0].status is Status.WARN
    assert result.figures["dangerous_files"] == 1 and result.figures["missing_shards"] == 1
    assert "classifier_malicious.pt" not in result.listings  # a dangerous pickle is never loaded
    assert result.files.set_index("file").loc["classifier_truncated.pt", "checksum"] == "mismatch"


def test_diagnose_with_reference_checkpoint(model_dir):
    result = lc.diagnose_model_load(
        model_dir, environment="local", reference=str(model_dir / "classifier.pt"), load_with_torch=False
    )
    (ddp,) = result.verdicts.find("state-dict keys", "classifier_ddp.pt")
    assert ddp.status is Status.FAIL and "module." in ddp.message
    assert result.verdicts.find("state-dict keys", "classifier.pt")[0].status is Status.PASS


def test_expected_sha256_for_one_file_and_refused_for_a_folder(model_dir):
    import hashlib

    good = model_dir / "classifier.pt"
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    ok = lc.diagnose_model_load(good, expected_sha256=digest, manifest="", environment="local")
    assert ok.verdicts.find("checksum", "classifier.pt")[0].status is Status.PASS
    bad = lc.diagnose_model_load(good, expected_sha256="0" * 64, manifest="", environment="local")
    assert bad.verdicts.find("checksum", "classifier.pt")[0].status is Status.FAIL
    folder = lc.diagnose_model_load(model_dir, expected_sha256=digest, environment="local")
    (error,) = folder.verdicts.find("checksum")[:1]
    assert error.status is Status.ERROR and "folder" in error.message


def test_missing_model_path_is_an_error_row_and_other_layers_still_run(tmp_path):
    result = lc.diagnose_model_load(tmp_path / "nope", environment="local")
    assert result.verdicts.rows[0].status is Status.ERROR and result.verdicts.rows[0].name == "model files"
    assert result.verdicts.find("driver supports CUDA build")


def test_environment_overrides(model_dir):
    result = lc.diagnose_model_load(
        model_dir / "classifier.pt", manifest="", environment="local",
        overrides={"torch_version": "2.5.1+cu124", "driver_version": "470.57.02"},
    )  # fmt: skip
    (driver,) = result.verdicts.find("driver supports CUDA build")
    assert driver.status is Status.FAIL and driver.observed == "470.57.02"


# ------------------------------------------------------------------------------------------- torch
def test_torch_load_agrees_with_static_listing(model_dir):
    torch = pytest.importorskip("torch", reason="torch not installed: the real load is not exercised")
    static = lc.static_listing(inspect_model_file(model_dir / "classifier.pt"))
    loaded = lc.torch_listing(model_dir / "classifier.pt")
    pd.testing.assert_frame_equal(static, loaded)
    state = torch.load(model_dir / "classifier.pt", weights_only=True, map_location="cpu")
    expected = classifier_tensors(np.random.default_rng(20261128))
    np.testing.assert_array_equal(state["encoder.weight"].numpy(), expected["encoder.weight"])
    verdict, _ = lc.load_verdict("classifier_truncated.pt", model_dir / "classifier_truncated.pt")
    assert verdict.status is Status.FAIL


def test_diagnose_loads_safe_checkpoints_with_torch(model_dir):
    pytest.importorskip("torch", reason="torch not installed: the real load is not exercised")
    result = lc.diagnose_model_load(model_dir, environment="local")
    loads = {v.subject: v.status for v in result.verdicts.find("load")}
    assert loads == {"classifier.pt": Status.PASS, "classifier_ddp.pt": Status.PASS}


# ------------------------------------------------- files written by torch itself (torch 2.13, committed fixtures)
SEQUENTIAL = {  # nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)) in bfloat16
    "0.weight": ("bfloat16", (3, 4)), "0.bias": ("bfloat16", (3,)), "1.weight": ("bfloat16", (3,)),
    "1.bias": ("bfloat16", (3,)), "1.running_mean": ("bfloat16", (3,)), "1.running_var": ("bfloat16", (3,)),
    "1.num_batches_tracked": ("int64", ()),
}  # fmt: skip


@pytest.mark.parametrize(
    "name", ["torch_zip_sequential_bf16.pt", "torch_legacy_sequential_bf16.pt", "torch_zip_nested_checkpoint.pt"]
)
def test_static_listing_of_files_torch_wrote(name):
    from opskit.analyses.pickle_safety import Risk, scan_model_file

    info = inspect_model_file(FIXTURES / name)
    assert info.ok and scan_model_file(info).risk is Risk.SAFE
    frame = lc.static_listing(info)
    assert {k: (d, s) for k, d, s in frame.itertuples(index=False)} == SEQUENTIAL


def test_full_module_pickle_is_not_a_state_dict():
    from opskit.analyses.pickle_safety import Risk, scan_model_file

    info = inspect_model_file(FIXTURES / "torch_zip_full_module.pt")
    scan = scan_model_file(info)
    assert scan.risk is Risk.UNKNOWN
    assert "torch.nn.modules.linear.Linear" in set(scan.imports["global"])
