"""Child-process script: load each named file with the real loader a user would use (proves payloads run).

Usage: ``python loaders.py FOLDER loader:file ...``; prints one line per file: ``file<TAB>ok|error``.
Only ever run in a child process on the generated corpus, whose payloads touch marker files only.
"""

from __future__ import annotations

import sys
from pathlib import Path


def load(loader: str, path: Path) -> None:
    if loader == "pickle":
        import pickle

        with path.open("rb") as fh:
            pickle.load(fh)
    elif loader == "torch":
        import torch

        torch.load(path, weights_only=False, map_location="cpu")
    elif loader == "numpy":
        import numpy as np

        loaded = np.load(path, allow_pickle=True)
        if hasattr(loaded, "files"):
            for key in loaded.files:
                loaded[key]
    elif loader == "joblib":
        import joblib

        joblib.load(path)
    elif loader == "dill":
        import dill

        with path.open("rb") as fh:
            dill.load(fh)
    else:
        import bz2
        import gzip
        import lzma
        import pickle

        opener = {"gzip": gzip.open, "bz2": bz2.open, "lzma": lzma.open}[loader]
        with opener(path, "rb") as fh:
            pickle.load(fh)


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    for spec in sys.argv[2:]:
        loader, _, name = spec.partition(":")
        try:
            load(loader, folder / name)
            print(f"{name}\tok", flush=True)
        except BaseException as exc:
            print(f"{name}\terror {type(exc).__name__}", flush=True)
