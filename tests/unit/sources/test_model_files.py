"""Format inspection of model files: each format identified from its bytes, each kind of damage named."""

from __future__ import annotations

import json
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from opskit.errors import InputError
from opskit.samples.models import classifier_tensors, safetensors_bytes, state_dict_pickle, torch_zip_bytes
from opskit.sources.model_files import (
    inspect_model_file,
    inspections_frame,
    list_model_files,
    read_expected_keys,
    static_listing,
)
from opskit.sources.model_formats import ModelFormat
from opskit.sources.pickle_program import PickleCall, PickleGlobal, interpret_pickle

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"


@pytest.fixture
def tensors() -> dict[str, np.ndarray]:
    return classifier_tensors(np.random.default_rng(0))


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------ safetensors
def test_safetensors_header_lists_every_tensor(tmp_path, tensors):
    info = inspect_model_file(write(tmp_path / "m.safetensors", safetensors_bytes(tensors, {"format": "pt"})))
    assert info.format is ModelFormat.SAFETENSORS and info.ok
    assert info.details["tensor_count"] == len(tensors)
    assert info.details["metadata"] == {"format": "pt"}
    by_name = info.tensors.set_index("name")
    for name, array in tensors.items():
        assert by_name.loc[name, "shape"] == array.shape
        assert by_name.loc[name, "nbytes"] == array.nbytes
        assert by_name.loc[name, "dtype"] == "F32"


def test_safetensors_truncated_data_is_named_with_missing_bytes(tmp_path, tensors):
    data = safetensors_bytes(tensors)
    info = inspect_model_file(write(tmp_path / "m.safetensors", data[:-1000]))
    assert not info.ok and "truncated" in info.problem
    assert "1,000 bytes missing" in info.problem
    assert info.details["expected_size_bytes"] == len(data)


def test_safetensors_header_length_larger_than_file(tmp_path, tensors):
    data = bytearray(safetensors_bytes(tensors))
    data[:8] = struct.pack("<Q", len(data) * 2)
    info = inspect_model_file(write(tmp_path / "m.safetensors", bytes(data)))
    assert info.format is ModelFormat.SAFETENSORS
    assert "header length" in info.problem


def test_safetensors_absurd_header_length_means_corrupt_first_bytes(tmp_path, tensors):
    data = bytearray(safetensors_bytes(tensors))
    data[:8] = b"\xff" * 8
    info = inspect_model_file(write(tmp_path / "weights.safetensors", bytes(data)))
    assert info.format is ModelFormat.SAFETENSORS and "corrupt" in info.problem


def test_safetensors_invalid_json_header(tmp_path, tensors):
    data = bytearray(safetensors_bytes(tensors))
    data[12:16] = b"\x00\x01]}"
    info = inspect_model_file(write(tmp_path / "m.safetensors", bytes(data)))
    assert "not valid JSON" in info.problem
    assert info.fix


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}, "unknown dtype"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}, "needs 8"),
        ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, "shape"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}, "data_offsets"),
        ({"dtype": "F32", "shape": [2]}, "lacks"),
    ],
)
def test_safetensors_bad_tensor_entries(tmp_path, entry, words):
    header = json.dumps({"w": entry}).encode()
    data = struct.pack("<Q", len(header)) + header + b"\x00" * 16
    info = inspect_model_file(write(tmp_path / "m.safetensors", data))
    assert info.problem and words in info.problem


def test_safetensors_overlapping_tensors(tmp_path):
    header = json.dumps(
        {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}
    ).encode()  # fmt: skip
    info = inspect_model_file(write(tmp_path / "m.safetensors", struct.pack("<Q", len(header)) + header + bytes(12)))
    assert "overlap" in info.problem


# ---------------------------------------------------------------------------------------- torch zip
def test_torch_zip_checkpoint_lists_entries_and_pickle(tmp_path, tensors):
    info = inspect_model_file(write(tmp_path / "c.pt", torch_zip_bytes(tensors)))
    assert info.format is ModelFormat.TORCH_ZIP and info.ok
    assert info.details["archive"] == "archive"
    assert info.details["storages"] == len(tensors)
    assert info.details["byteorder"] == "little"
    assert [name for name, _ in info.pickles] == ["archive/data.pkl"]


def test_torch_zip_cut_short_has_no_central_directory(tmp_path, tensors):
    data = torch_zip_bytes(tensors)
    info = inspect_model_file(write(tmp_path / "c.pt", data[: len(data) // 2]))
    assert info.format is ModelFormat.TORCH_ZIP
    assert "central directory" in info.problem
    assert "fetch the file again" in info.fix


def test_torch_zip_with_garbled_pickle(tmp_path, tensors):
    data = torch_zip_bytes(tensors, pickle=state_dict_pickle(tensors)[:40])
    info = inspect_model_file(write(tmp_path / "c.pt", data))
    assert info.format is ModelFormat.TORCH_ZIP
    assert "data.pkl" in info.problem


def test_zip_without_pickle_is_a_plain_zip(tmp_path):
    path = tmp_path / "bundle.bin"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    info = inspect_model_file(path)
    assert info.format is ModelFormat.ZIP and info.ok


# ------------------------------------------------------------------------------------- pickle files
def legacy_torch_bytes(tensors) -> bytes:
    """The pre-1.6 torch.save layout: magic, protocol, sys info, the object, storage keys, raw data."""
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    proto = pickle.dumps(1001, protocol=2)
    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
    keys = pickle.dumps([str(i) for i in range(len(tensors))], protocol=2)
    raw = b"".join(a.tobytes() for a in tensors.values())
    return magic + proto + sys_info + state_dict_pickle(tensors) + keys + raw


def test_legacy_torch_save_file_is_recognised(tmp_path, tensors):
    info = inspect_model_file(write(tmp_path / "old.pt", legacy_torch_bytes(tensors)))
    assert info.format is ModelFormat.PICKLE and info.ok
    assert info.details["torch_legacy"] is True
    assert info.details["pickle_streams"] == 5


def test_plain_pickle_and_truncated_pickle(tmp_path):
    good = inspect_model_file(write(tmp_path / "a.pkl", pickle.dumps({"a": [1, 2, 3]}, protocol=4)))
    assert good.format is ModelFormat.PICKLE and good.ok and good.details["torch_legacy"] is False
    bad = inspect_model_file(write(tmp_path / "b.pkl", pickle.dumps(list(range(500)), protocol=4)[:-30]))
    assert bad.format is ModelFormat.PICKLE and "truncated" in bad.problem


# ------------------------------------------------------------------------------------------- others
def onnx_bytes(graph: bytes = b"\x0a\x04Relu" * 8) -> bytes:
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    opset = b"\x10\x11"  # version 17
    return b"\x08\x08" + field(2, b"pytorch") + field(3, b"2.4.1") + field(7, graph) + field(8, opset)


def test_onnx_top_level_fields_read_without_onnx(tmp_path):
    info = inspect_model_file(write(tmp_path / "m.onnx", onnx_bytes()))
    assert info.format is ModelFormat.ONNX and info.ok
    assert info.details["ir_version"] == 8
    assert info.details["producer_name"] == "pytorch"
    assert "onnx" not in sys.modules


def test_onnx_truncated_graph(tmp_path):
    data = onnx_bytes()
    info = inspect_model_file(write(tmp_path / "m.onnx", data[:-10]))
    assert info.format is ModelFormat.ONNX and "truncated" in info.problem


def test_gguf_header(tmp_path):
    data = b"GGUF" + struct.pack("<IQQ", 3, 291, 24) + bytes(64)
    info = inspect_model_file(write(tmp_path / "m.gguf", data))
    assert info.format is ModelFormat.GGUF and info.details == {"gguf_version": 3, "tensor_count": 291,
                                                                 "metadata_kv_count": 24}  # fmt: skip


def test_html_page_saved_as_weights():
    info = inspect_model_file(FIXTURES / "html_access_denied.bin")
    assert info.format is ModelFormat.HTML and not info.ok
    assert info.details["title"] == "403 Forbidden"
    assert "HTML page" in info.problem and "download" in info.fix


def test_git_lfs_pointer_names_the_real_size_and_oid():
    info = inspect_model_file(FIXTURES / "lfs_pointer_adapter.safetensors")
    assert info.format is ModelFormat.LFS_POINTER and not info.ok
    assert info.details["lfs_size_bytes"] == 548105171
    assert info.details["lfs_sha256"].startswith("4d7a2146")
    assert "git lfs pull" in info.fix


def test_empty_text_json_and_unknown(tmp_path):
    assert inspect_model_file(write(tmp_path / "e.bin", b"")).format is ModelFormat.EMPTY
    text = inspect_model_file(write(tmp_path / "t.bin", b"Internal Server Error\n"))
    assert text.format is ModelFormat.TEXT and text.details["first_line"] == "Internal Server Error"
    assert inspect_model_file(write(tmp_path / "j.bin", b'{"error": "quota"}')).format is ModelFormat.JSON
    unknown = inspect_model_file(write(tmp_path / "u.bin", bytes(range(1, 200)) * 3))
    assert unknown.format is ModelFormat.UNKNOWN and not unknown.ok


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as err:
        inspect_model_file(tmp_path / "nope.pt")
    assert err.value.path == str(tmp_path / "nope.pt")


# ------------------------------------------------------------------------------------------ folders
def test_list_model_files_skips_hidden_and_non_model_files(tmp_path, tensors):
    write(tmp_path / "a.safetensors", safetensors_bytes(tensors))
    write(tmp_path / "config.json", b"{}")
    (tmp_path / ".cache").mkdir()
    write(tmp_path / ".cache" / "b.bin", b"x")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "c.pt", torch_zip_bytes(tensors))
    assert [p.relative_to(tmp_path).as_posix() for p in list_model_files(tmp_path)] == ["a.safetensors", "sub/c.pt"]
    frame = inspections_frame([inspect_model_file(p) for p in list_model_files(tmp_path)], tmp_path)
    assert list(frame["file"]) == ["a.safetensors", "sub/c.pt"]
    assert frame["ok"].all()


def test_folder_without_model_files_and_missing_path(tmp_path):
    write(tmp_path / "notes.txt", b"hi")
    with pytest.raises(InputError) as err:
        list_model_files(tmp_path)
    assert err.value.path == str(tmp_path) and err.value.hint
    with pytest.raises(InputError):
        list_model_files(tmp_path / "missing")


# ------------------------------------------------------------------------------ symbolic interpreter
def test_interpreter_rebuilds_structure_without_importing(tensors):
    program = interpret_pickle(state_dict_pickle(tensors))
    assert program.error is None
    assert isinstance(program.value, PickleCall) and program.value.func.qualname == "collections.OrderedDict"
    assert list(program.value.items) == list(tensors)
    rebuild = program.value.items["head.weight"]
    assert rebuild.func.qualname == "torch._utils._rebuild_tensor_v2"
    assert rebuild.args[2] == (10, 64)


def test_interpreter_resolves_stack_global_through_memo():
    data = pickle.dumps(OrderedDict(a=1), protocol=4)
    program = interpret_pickle(data)
    assert [(g.module, g.name, g.opcode) for g in program.globals] == [("collections", "OrderedDict", "STACK_GLOBAL")]


def test_interpreter_never_imports_the_modules_it_reads():
    data = b"\x80\x02copskit_never_imported_module\nboom\nq\x00)R."
    program = interpret_pickle(data)
    assert program.globals[0].qualname == "opskit_never_imported_module.boom"
    assert isinstance(program.value, PickleCall) and isinstance(program.value.func, PickleGlobal)
    assert "opskit_never_imported_module" not in sys.modules


def test_interpreter_reports_where_a_damaged_stream_stops():
    program = interpret_pickle(b"\x80\x02(K\x01K\x02")
    assert program.error and "stopped" in program.error


# ---------------------------------------------------------------------------------------- listings
def test_static_listing_of_torch_zip_matches_the_arrays(tmp_path, tensors):
    path = tmp_path / "c.pt"
    path.write_bytes(torch_zip_bytes(tensors))
    frame = static_listing(inspect_model_file(path))
    assert frame["key"].tolist() == list(tensors)
    assert frame["shape"].tolist() == [a.shape for a in tensors.values()]
    assert set(frame["dtype"]) == {"float32"}


def test_static_listing_of_safetensors(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(safetensors_bytes({"a": np.zeros((2, 3), np.float16), "b": np.zeros(4, np.int64)}))
    frame = static_listing(inspect_model_file(path))
    assert frame.values.tolist() == [["a", "float16", (2, 3)], ["b", "int64", (4,)]]


def test_nested_state_dict_is_unwrapped(tmp_path, tensors):
    inner = state_dict_pickle(tensors)[2:-1]  # the OrderedDict, without PROTO and STOP
    data = b"\x80\x02}(X\x0a\x00\x00\x00state_dict" + inner + b"X\x05\x00\x00\x00epochK\x03u."
    path = tmp_path / "ckpt.pt"
    path.write_bytes(torch_zip_bytes(tensors, pickle=data))
    assert static_listing(inspect_model_file(path))["key"].tolist() == list(tensors)


# --------------------------------------------------------------------------------- expected keys
def test_expected_keys_from_text_with_shapes():
    frame = read_expected_keys(FIXTURES / "expected_keys_with_shapes.txt")
    assert frame.set_index("key")["shape"].to_dict() == {
        "encoder.weight": (64, 32), "encoder.bias": (64,), "head.weight": (10, 64), "head.bias": (10,)
    }  # fmt: skip


def test_expected_keys_from_json_forms(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(["x", "y"]))
    (tmp_path / "b.json").write_text(json.dumps({"x": [1, 2]}))
    (tmp_path / "c.json").write_text(json.dumps({"keys": ["z"]}))
    assert read_expected_keys(tmp_path / "a.json")["key"].tolist() == ["x", "y"]
    assert read_expected_keys(tmp_path / "b.json")["shape"].tolist() == [(1, 2)]
    assert read_expected_keys(tmp_path / "c.json")["key"].tolist() == ["z"]


def test_expected_keys_from_a_second_checkpoint(tmp_path, tensors):
    (tmp_path / "ref.pt").write_bytes(torch_zip_bytes(tensors))
    assert read_expected_keys(tmp_path / "ref.pt")["key"].tolist() == list(tensors)
    (tmp_path / "bad.pt").write_bytes(torch_zip_bytes(tensors)[:300])
    with pytest.raises(InputError) as err:
        read_expected_keys(tmp_path / "bad.pt")
    assert err.value.path.endswith("bad.pt") and err.value.hint


def test_expected_keys_errors(tmp_path):
    with pytest.raises(InputError):
        read_expected_keys(tmp_path / "none.txt")
    (tmp_path / "bad.txt").write_text("w 2,abc\n")
    with pytest.raises(InputError) as err:
        read_expected_keys(tmp_path / "bad.txt")
    assert err.value.line == 1


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
    frame = static_listing(info)
    assert {k: (d, s) for k, d, s in frame.itertuples(index=False)} == SEQUENTIAL
