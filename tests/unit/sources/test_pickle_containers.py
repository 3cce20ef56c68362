"""Pickles found inside containers the way loaders find them, and limits that make a file unproven."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import zipfile

import pytest

from opskit.analyses.model_load.pickle_safety import Risk, scan_model_file, scan_pickles
from opskit.sources import pickle_containers as pc
from opskit.sources.model_files import inspect_model_file, list_model_files
from opskit.sources.pickle_containers import find_pickles, looks_like_pickle, split_streams

EVIL = b"cos\nsystem\n(S'true'\ntR."  # protocol 0, no PROTO: built by hand, never loaded here


def test_protocol_0_without_proto_is_a_pickle_and_text_is_not():
    assert looks_like_pickle(EVIL, truncated=False)
    assert not looks_like_pickle(b"Image classifier, trained 2026-01-02\n", truncated=False)
    assert not looks_like_pickle(b'{"architectures": ["Bert"]}', truncated=False)


def test_every_stream_after_the_first_is_read():
    data = pickle.dumps([1], protocol=2) + pickle.dumps({"a": 1}, protocol=2) + b"\x80\x02" + EVIL
    streams, problems = split_streams(data, "")
    assert [n for n, _ in streams] == ["pickle 1", "pickle 2", "pickle 3"] and not problems
    assert scan_pickles("f.pkl", streams).risk is Risk.DANGEROUS


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buf.getvalue()


def test_every_pickle_member_of_a_zip_is_scanned_but_not_storages():
    data = _zip({"archive/data.pkl": pickle.dumps({}, protocol=2), "archive/data/0": b"\x80\x02garbage",
                 "extra/state.pkl": EVIL, "notes.txt": b"hello"})  # fmt: skip
    streams, problems = find_pickles(data, "m.pt")
    assert {n for n, _ in streams} == {"archive/data.pkl", "extra/state.pkl"} and not problems


def test_a_member_zipfile_refuses_for_its_crc_is_read_raw_as_torch_does(tmp_path):
    data = bytearray(_zip({"archive/data.pkl": EVIL}))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0]
    struct.pack_into("<I", data, info.header_offset + 14, info.CRC ^ 1)  # break the local CRC
    central = bytes(data).rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 16, info.CRC ^ 1)
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bytes(data))).read("archive/data.pkl")
    path = tmp_path / "m.pt"
    path.write_bytes(bytes(data))
    assert scan_model_file(inspect_model_file(path)).risk is Risk.DANGEROUS


def test_gzip_wrapped_pickle_is_unwrapped(tmp_path):
    path = tmp_path / "state.dat"
    path.write_bytes(gzip.compress(EVIL))
    assert path in list_model_files(tmp_path)  # chosen by content, not suffix
    assert scan_model_file(inspect_model_file(path)).risk is Risk.DANGEROUS


def test_decompression_limit_is_stated_and_the_file_is_unproven(tmp_path, monkeypatch):
    monkeypatch.setattr(pc, "MAX_DECOMPRESSED_BYTES", 1000)
    path = tmp_path / "bomb.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(b"\x00" * 5000, protocol=2)))
    scan = scan_model_file(inspect_model_file(path))
    assert scan.risk is Risk.UNPROVEN and any("limit" in e for e in scan.errors)


def test_member_count_limit(monkeypatch):
    monkeypatch.setattr(pc, "MAX_MEMBERS", 2)
    _, problems = find_pickles(_zip({f"{i}.pkl": pickle.dumps(i) for i in range(3)}), "many.zip")
    assert problems and "limit" in problems[0]


def test_7z_is_never_judged_safe(tmp_path):
    path = tmp_path / "model.7z"
    path.write_bytes(b"7z\xbc\xaf\x27\x1c\x00\x04" + os.urandom(64))
    assert path in list_model_files(tmp_path)
    assert scan_model_file(inspect_model_file(path)).risk is Risk.UNPROVEN


def test_truncated_pickle_is_unproven_never_safe(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"a": list(range(100))}, protocol=4)[:-20])
    scan = scan_model_file(inspect_model_file(path))
    assert scan.risk is Risk.UNPROVEN and scan.errors


def test_user_allowlist_extends_the_bundled_one_with_reasons(tmp_path):
    from opskit.analyses.model_load.pickle_allowlist import load_allowlist
    from opskit.errors import InputError

    extra = tmp_path / "allow.csv"
    extra.write_text("global,reason\nmylib.layers.Dense,our own layer, reviewed 2026-11\n")
    table = load_allowlist(extra)
    data = b"\x80\x02cmylib.layers\nDense\n)\x81}b."
    scan = scan_pickles("m.pkl", [("data.pkl", data)], table)
    assert scan.risk is Risk.SAFE and scan.imports["reason"][0] == "our own layer, reviewed 2026-11"
    assert scan_pickles("m.pkl", [("data.pkl", data)]).risk is Risk.MODEL_CODE
    extra.write_text("mylib.layers.Dense\n")
    with pytest.raises(InputError) as err:
        load_allowlist(extra)
    assert err.value.line == 1
