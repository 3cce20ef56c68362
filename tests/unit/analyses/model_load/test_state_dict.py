"""Keys and shapes of a checkpoint: read statically (or with torch), compared with expected keys or a second one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.model_load import state_dict as sd
from opskit.checks import Status
from opskit.errors import InputError
from opskit.samples.models import (
    classifier_tensors,
    safetensors_bytes,
    state_dict_pickle,
    torch_zip_bytes,
)
from opskit.sources.model_files import inspect_model_file

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "models"


@pytest.fixture
def tensors() -> dict[str, np.ndarray]:
    return classifier_tensors(np.random.default_rng(7))


def listing(pairs: dict[str, tuple]) -> pd.DataFrame:
    return pd.DataFrame([(k, "float32", s) for k, s in pairs.items()], columns=sd.TENSOR_COLUMNS)


# ---------------------------------------------------------------------------------------- listings
def test_static_listing_of_torch_zip_matches_the_arrays(tmp_path, tensors):
    path = tmp_path / "c.pt"
    path.write_bytes(torch_zip_bytes(tensors))
    frame = sd.static_listing(inspect_model_file(path))
    assert frame["key"].tolist() == list(tensors)
    assert frame["shape"].tolist() == [a.shape for a in tensors.values()]
    assert set(frame["dtype"]) == {"float32"}


def test_static_listing_of_safetensors(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors_bytes({"a": np.zeros((2, 3), np.float16), "b": np.zeros(4, np.int64)}))
    frame = sd.static_listing(inspect_model_file(path))
    assert frame.values.tolist() == [["a", "float16", (2, 3)], ["b", "int64", (4,)]]


def test_nested_state_dict_is_unwrapped(tmp_path, tensors):
    inner = state_dict_pickle(tensors)[2:-1]  # the OrderedDict, without PROTO and STOP
    data = b"\x80\x02}(X\x0a\x00\x00\x00state_dict" + inner + b"X\x05\x00\x00\x00epochK\x03u."
    path = tmp_path / "ckpt.pt"
    path.write_bytes(torch_zip_bytes(tensors, pickle=data))
    assert sd.static_listing(inspect_model_file(path))["key"].tolist() == list(tensors)


# -------------------------------------------------------------------------------------- comparison
def test_identical_listings_match():
    a = listing({"w": (2, 2), "b": (2,)})
    assert sd.compare_keys(a, a).ok


def test_module_prefix_is_detected_not_reported_as_all_unexpected():
    actual = listing({"module.w": (2, 2), "module.b": (2,)})
    cmp = sd.compare_keys(actual, listing({"w": (2, 2), "b": (2,)}))
    assert cmp.prefix == "module." and not cmp.missing and not cmp.unexpected and not cmp.ok


def test_expected_prefix_the_checkpoint_lacks():
    cmp = sd.compare_keys(listing({"w": (2, 2)}), listing({"module.w": (2, 2)}))
    assert cmp.prefix == "-module." and not cmp.missing


def test_missing_unexpected_and_shape_mismatch():
    actual = listing({"w": (3, 2), "b": (2,), "extra": (1,)})
    cmp = sd.compare_keys(actual, listing({"w": (2, 2), "b": (2,), "head": (5,)}))
    assert cmp.missing == ("head",) and cmp.unexpected == ("extra",)
    assert cmp.shape_mismatch == (("w", (3, 2), (2, 2)),)


def test_unknown_expected_shapes_are_not_mismatches():
    expected = pd.DataFrame([("w", None, None)], columns=sd.TENSOR_COLUMNS)
    assert sd.compare_keys(listing({"w": (3, 2)}), expected).ok


# --------------------------------------------------------------------------------- expected keys
def test_expected_keys_from_text_with_shapes():
    frame = sd.read_expected_keys(FIXTURES / "expected_keys_with_shapes.txt")
    assert frame.set_index("key")["shape"].to_dict() == {
        "encoder.weight": (64, 32), "encoder.bias": (64,), "head.weight": (10, 64), "head.bias": (10,)
    }  # fmt: skip


def test_expected_keys_from_json_forms(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(["x", "y"]))
    (tmp_path / "b.json").write_text(json.dumps({"x": [1, 2]}))
    (tmp_path / "c.json").write_text(json.dumps({"keys": ["z"]}))
    assert sd.read_expected_keys(tmp_path / "a.json")["key"].tolist() == ["x", "y"]
    assert sd.read_expected_keys(tmp_path / "b.json")["shape"].tolist() == [(1, 2)]
    assert sd.read_expected_keys(tmp_path / "c.json")["key"].tolist() == ["z"]


def test_expected_keys_from_a_second_checkpoint(tmp_path, tensors):
    (tmp_path / "ref.pt").write_bytes(torch_zip_bytes(tensors))
    assert sd.read_expected_keys(tmp_path / "ref.pt")["key"].tolist() == list(tensors)
    (tmp_path / "bad.pt").write_bytes(torch_zip_bytes(tensors)[:300])
    with pytest.raises(InputError) as err:
        sd.read_expected_keys(tmp_path / "bad.pt")
    assert err.value.path.endswith("bad.pt") and err.value.hint


def test_expected_keys_errors(tmp_path):
    with pytest.raises(InputError):
        sd.read_expected_keys(tmp_path / "none.txt")
    (tmp_path / "bad.txt").write_text("w 2,abc\n")
    with pytest.raises(InputError) as err:
        sd.read_expected_keys(tmp_path / "bad.txt")
    assert err.value.line == 1


# ----------------------------------------------------------------------------------------- verdicts
def test_keys_verdict_without_reference_warns_on_module_prefix():
    verdict = sd.keys_verdict("ddp.pt", listing({"module.w": (1,), "module.b": (1,)}), "static", None)
    assert verdict.status is Status.WARN and "removeprefix('module.')" in verdict.next_step
    assert sd.keys_verdict("ok.pt", listing({"w": (1,)}), "static", None).status is Status.PASS


def test_keys_verdict_with_reference_fails_with_the_fix():
    expected = listing({"w": (2, 2), "b": (2,)})
    verdict = sd.keys_verdict("ddp.pt", listing({"module.w": (2, 2), "module.b": (2,)}), "static", expected)
    assert verdict.status is Status.FAIL and "'module.'" in verdict.message and "removeprefix" in verdict.next_step
    shape = sd.keys_verdict("x.pt", listing({"w": (3, 2), "b": (2,)}), "static", expected)
    assert shape.status is Status.FAIL and "shape mismatch" in shape.message and "w [3, 2] vs [2, 2]" in shape.message


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
    from opskit.analyses.model_load.pickle_safety import Risk, scan_model_file

    info = inspect_model_file(FIXTURES / name)
    assert info.ok and scan_model_file(info).risk is Risk.SAFE
    frame = sd.static_listing(info)
    assert {k: (d, s) for k, d, s in frame.itertuples(index=False)} == SEQUENTIAL


def test_full_module_pickle_is_not_a_state_dict():
    from opskit.analyses.model_load.pickle_safety import Risk, scan_model_file

    info = inspect_model_file(FIXTURES / "torch_zip_full_module.pt")
    scan = scan_model_file(info)
    assert scan.risk is Risk.UNKNOWN
    assert "torch.nn.modules.linear.Linear" in set(scan.imports["global"])
