"""A model folder with the faults that stop a model from loading, and an environment that cannot run it.

Scenario ``model_dir_faults`` (a folder, manifest ``SHA256SUMS`` beside the files):

| file | what it is |
|---|---|
| ``classifier.pt`` | a good PyTorch zip checkpoint (built by hand: zipfile + protocol-2 pickle opcodes) |
| ``classifier_truncated.pt`` | the same checkpoint cut off at 60 % (a copy that did not finish) |
| ``classifier_download.bin`` | an HTML sign-in page saved in place of the weights |
| ``adapter.safetensors`` | a Git LFS pointer file (cloned without ``git lfs``) |
| ``model-0000{1,2,4}-of-00004.safetensors`` | a shard set with shard 3 missing, and its index |
| ``encoder_bad_header.safetensors`` | a safetensors file whose JSON header is corrupt |
| ``classifier_ddp.pt`` | a good checkpoint saved from ``DataParallel``: every key starts with ``module.`` |
| ``classifier_malicious.pt`` | a checkpoint whose pickle would call ``os.system`` when unpickled |

The manifest lists the hashes of the intended files, so the damaged copies fail their checksum; the
malicious checkpoint matches its manifest line (a checksum proves the copy, not the content).

Scenario ``model_env_old_driver``: ``pip-freeze.txt`` and ``nvidia-smi.txt`` of a machine with
torch 2.4.1 (CUDA 12.1 wheels) on driver 470 (CUDA 11.4 at most): the framework cannot start on the GPU.

Nothing here needs torch; the writers are reused by the tests and the benchmark.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from opskit.samples import scenario

_ZIP_DATE = (2026, 11, 2, 9, 30, 0)
_TORCH_STORAGE = {"float32": "FloatStorage", "float16": "HalfStorage", "float64": "DoubleStorage",
                  "int64": "LongStorage", "int32": "IntStorage", "int8": "CharStorage", "uint8": "ByteStorage",
                  "bool": "BoolStorage"}  # fmt: skip
_SAFETENSORS_DTYPE = {"float32": "F32", "float16": "F16", "float64": "F64", "int64": "I64", "int32": "I32",
                      "int8": "I8", "uint8": "U8", "bool": "BOOL"}  # fmt: skip
PAYLOAD_MARKER = "opskit-pickle-payload-ran"


# ------------------------------------------------------------------------------------- file writers
def _unicode(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(n: int) -> bytes:
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    return b"J" + struct.pack("<i", n)


def _int_tuple(values: tuple[int, ...]) -> bytes:
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def os_system_payload(command: str) -> bytes:
    """Pickle opcodes that would import ``os.system`` and call it with ``command`` when unpickled."""
    return b"cos\nsystem\n(" + _unicode(command) + b"tR"


def state_dict_pickle(tensors: Mapping[str, np.ndarray], extra: Mapping[str, bytes] | None = None) -> bytes:
    """The ``data.pkl`` torch writes for a state dict (protocol 2), storage ``i`` for the i-th tensor.

    ``extra`` maps keys to raw pickle opcodes pushing one value (used to plant a payload).
    """
    out = bytearray(b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(")
    for index, (key, array) in enumerate(tensors.items()):
        shape = tuple(int(d) for d in array.shape)
        stride = tuple(int(s // array.itemsize) for s in array.strides) if array.ndim else ()
        storage = _TORCH_STORAGE[str(array.dtype)]
        out += _unicode(key) + b"ctorch._utils\n_rebuild_tensor_v2\n("
        out += b"(" + _unicode("storage") + f"ctorch\n{storage}\n".encode() + _unicode(str(index))
        out += _unicode("cpu") + _int(int(array.size)) + b"tQ"
        out += _int(0) + _int_tuple(shape) + _int_tuple(stride) + b"\x89ccollections\nOrderedDict\n)RtR"
    for key, opcodes in (extra or {}).items():
        out += _unicode(key) + opcodes
    out += b"u."
    return bytes(out)


def torch_zip_bytes(
    tensors: Mapping[str, np.ndarray], *, archive: str = "archive", pickle: bytes | None = None
) -> bytes:
    """A PyTorch zip checkpoint (``torch.save`` layout) holding ``tensors``, written without torch."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:

        def put(name: str, data: bytes) -> None:
            zf.writestr(zipfile.ZipInfo(f"{archive}/{name}", date_time=_ZIP_DATE), data)

        put("data.pkl", pickle if pickle is not None else state_dict_pickle(tensors))
        put("byteorder", b"little")
        for index, array in enumerate(tensors.values()):
            put(f"data/{index}", np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
        put("version", b"3\n")
    return buf.getvalue()


def safetensors_bytes(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> bytes:
    """A safetensors file holding ``tensors`` (header padded with spaces to 8 bytes, as the format does)."""
    header: dict[str, object] = {"__metadata__": dict(metadata)} if metadata else {}
    blobs, offset = [], 0
    for key, array in tensors.items():
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        header[key] = {"dtype": _SAFETENSORS_DTYPE[str(array.dtype)], "shape": list(array.shape),
                       "data_offsets": [offset, offset + len(data)]}  # fmt: skip
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(blobs)


def classifier_tensors(rng: np.random.Generator, hidden: int = 64) -> dict[str, np.ndarray]:
    """A small two-layer classifier's state dict."""
    return {
        "encoder.weight": rng.standard_normal((hidden, 32), dtype=np.float32),
        "encoder.bias": np.zeros(hidden, dtype=np.float32),
        "head.weight": rng.standard_normal((10, hidden), dtype=np.float32),
        "head.bias": np.zeros(10, dtype=np.float32),
    }


def _html_page() -> bytes:
    return (
        b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Sign in - Model Hub</title>\n'
        b"</head>\n<body>\n<main><h1>Sign in to continue</h1>\n<p>You need to be signed in to download "
        b'<code>acme/classifier</code>.</p>\n<form method="post" action="/login"><input name="username">'
        b'<input name="password" type="password"><button>Sign in</button></form></main>\n</body>\n</html>\n'
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_model_dir(folder: Path, *, payload_command: str | None = None) -> Path:
    """Write the faulty model folder into ``folder/models``; return that folder.

    ``payload_command`` is what the malicious pickle would run (default: create the file
    :data:`PAYLOAD_MARKER` in the working directory). It never runs unless something unpickles it.
    """
    rng = np.random.default_rng(20261128)
    root = Path(folder) / "models"
    root.mkdir(parents=True, exist_ok=True)
    intended: dict[str, bytes] = {}  # what each file should hold: the manifest's truth

    classifier = classifier_tensors(rng)
    good = torch_zip_bytes(classifier)
    (root / "classifier.pt").write_bytes(good)
    intended["classifier.pt"] = good

    (root / "classifier_truncated.pt").write_bytes(good[: int(len(good) * 0.6)])
    intended["classifier_truncated.pt"] = good

    (root / "classifier_download.bin").write_bytes(_html_page())
    intended["classifier_download.bin"] = good

    adapter = safetensors_bytes({"lora_A.weight": rng.standard_normal((8, 64), dtype=np.float32),
                                 "lora_B.weight": np.zeros((64, 8), dtype=np.float32)})  # fmt: skip
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{_sha256(adapter)}\nsize {len(adapter)}\n"
    (root / "adapter.safetensors").write_text(pointer)
    intended["adapter.safetensors"] = adapter

    weight_map: dict[str, str] = {}
    for shard in range(1, 5):
        name = f"model-{shard:05d}-of-00004.safetensors"
        tensors = {f"layers.{shard - 1}.{part}": rng.standard_normal((128, 128), dtype=np.float32).astype(np.float16)
                   for part in ("attn.weight", "mlp.weight")}  # fmt: skip
        data = safetensors_bytes(tensors, {"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, name))
        intended[name] = data
        if shard != 3:  # shard 3 never arrived
            (root / name).write_bytes(data)
    index = {"metadata": {"total_size": sum(128 * 128 * 2 * 2 for _ in range(4))}, "weight_map": weight_map}
    (root / "model.safetensors.index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")

    encoder = safetensors_bytes(classifier_tensors(rng, hidden=48), {"format": "pt"})
    corrupt = bytearray(encoder)
    corrupt[8 + 20 : 8 + 26] = b'\x00\x17"}:]'  # bytes flipped inside the JSON header
    (root / "encoder_bad_header.safetensors").write_bytes(bytes(corrupt))
    intended["encoder_bad_header.safetensors"] = encoder

    ddp = torch_zip_bytes({f"module.{k}": v for k, v in classifier.items()})
    (root / "classifier_ddp.pt").write_bytes(ddp)
    intended["classifier_ddp.pt"] = ddp

    command = payload_command or f"touch {PAYLOAD_MARKER}"
    malicious = torch_zip_bytes(
        classifier, pickle=state_dict_pickle(classifier, {"_hooks": os_system_payload(command)})
    )
    (root / "classifier_malicious.pt").write_bytes(malicious)
    intended["classifier_malicious.pt"] = malicious

    (root / "config.json").write_text(json.dumps({"model_type": "classifier", "hidden_size": 64, "num_labels": 10},
                                                 indent=2) + "\n")  # fmt: skip
    lines = [f"{_sha256(data)}  {name}\n" for name, data in sorted(intended.items())]
    (root / "SHA256SUMS").write_text("".join(lines))
    return root


@scenario(
    "model_dir_faults",
    "model folder: truncated, HTML page, LFS pointer, missing shard, bad header, module. keys, malicious pickle",
)
def write_model_dir_faults(folder: Path) -> Path:
    return write_model_dir(folder)


NVIDIA_SMI_470 = """\
Thu Nov 26 08:14:03 2026
+-----------------------------------------------------------------------------+
| NVIDIA-SMI 470.182.03   Driver Version: 470.182.03   CUDA Version: 11.4     |
|-------------------------------+----------------------+----------------------+
| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |
| Fan  Temp  Perf  Pwr:Usage/Cap|         Memory-Usage | GPU-Util  Compute M. |
|                               |                      |               MIG M. |
|===============================+======================+======================|
|   0  NVIDIA A100-SXM...  On   | 00000000:07:00.0 Off |                    0 |
| N/A   31C    P0    61W / 400W |      0MiB / 81251MiB |      0%      Default |
|                               |                      |             Disabled |
+-------------------------------+----------------------+----------------------+
|   1  NVIDIA A100-SXM...  On   | 00000000:0F:00.0 Off |                    0 |
| N/A   30C    P0    60W / 400W |      0MiB / 81251MiB |      0%      Default |
|                               |                      |             Disabled |
+-------------------------------+----------------------+----------------------+
"""

PIP_FREEZE_TORCH_24 = """\
filelock==3.16.1
fsspec==2024.10.0
Jinja2==3.1.4
networkx==3.4.2
numpy==1.26.4
nvidia-cublas-cu12==12.1.3.1
nvidia-cuda-cupti-cu12==12.1.105
nvidia-cuda-nvrtc-cu12==12.1.105
nvidia-cuda-runtime-cu12==12.1.105
nvidia-cudnn-cu12==9.1.0.70
nvidia-nccl-cu12==2.20.5
safetensors==0.4.5
sympy==1.13.3
torch==2.4.1
transformers==4.46.3
triton==3.0.0
typing_extensions==4.12.2
"""


@scenario("model_env_old_driver", "pip freeze and nvidia-smi of a node: torch 2.4.1 (CUDA 12.1) on driver 470")
def write_model_env_old_driver(folder: Path) -> Path:
    env = Path(folder)
    (env / "pip-freeze.txt").write_text(PIP_FREEZE_TORCH_24)
    (env / "nvidia-smi.txt").write_text(NVIDIA_SMI_470)
    return env
