"""Compiled counting kernels for numeric bins (numba, the ``fast`` extra).

The strategy: no per-value scatter into a histogram. For each interior edge ``e_j`` the kernel
counts the values at or above it; bin counts are differences of those counts. The kernel for
``k`` edges is generated with the edges in local variables and one accumulator each, so the
compiler keeps them in registers and vectorises the loop over values (``k`` compares and adds
per value, one read of the data). NaN is at or above no edge and is counted apart, as are
infinities (for the report). Large arrays are split into contiguous parts counted on threads
(the kernels release the GIL).

Kernels are compiled once per edge count; their source is written to
``$OPSKIT_KERNEL_DIR`` (default ``~/.cache/opskit/kernels``) so numba's on-disk cache can keep
them across processes. Where that folder is not writable they are compiled in memory.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np

_KERNELS: dict[int, object] = {}
_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None
PARALLEL_MIN_ROWS = 200_000


def kernel_source(k: int) -> str:
    """Python source of the kernel for ``k`` interior edges: ``out`` gets k counts, NaN, infinities."""
    lines = [
        "import numpy as np",
        "from numba import njit",
        "",
        "",
        "@njit(cache=True, nogil=True, boundscheck=False)",
        "def count_edges(x, e, start, stop, out):",
    ]
    lines += [f"    e{j} = e[{j}]" for j in range(k)]
    lines += [f"    a{j} = 0" for j in range(k)]
    # an unsigned index spares the negative-index check, so the loads stay contiguous vector loads
    lines += ["    nan = 0", "    inf = 0"]
    lines += ["    for i in range(np.uint64(start), np.uint64(stop)):", "        v = x[i]"]
    lines += [f"        a{j} += v >= e{j}" for j in range(k)]
    lines += ["        nan += v != v", "        inf += abs(v) == np.inf"]
    lines += [f"    out[{j}] = a{j}" for j in range(k)]
    lines += [f"    out[{k}] = nan", f"    out[{k + 1}] = inf", ""]
    return "\n".join(lines)


def _kernel_dir() -> Path:
    root = os.environ.get("OPSKIT_KERNEL_DIR")
    if root:
        return Path(root)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "opskit" / "kernels" / f"numba-{numba.__version__}"


def _load_kernel(k: int):
    source = kernel_source(k)
    try:
        folder = _kernel_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"drift_count_k{k}.py"
        if not path.exists() or path.read_text() != source:
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(source)
            os.replace(tmp, path)
        name = f"_opskit_drift_count_k{k}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # numba's disk cache re-imports the module by name
        spec.loader.exec_module(module)
        return module.count_edges
    except OSError:  # read-only home: compile in memory, no disk cache
        namespace: dict = {}
        exec(compile(source.replace("cache=True", "cache=False"), f"<drift_count_k{k}>", "exec"), namespace)
        return namespace["count_edges"]


def get_kernel(k: int):
    """The compiled kernel for ``k`` interior edges (compiled on first use)."""
    kernel = _KERNELS.get(k)
    if kernel is None:
        with _LOCK:
            kernel = _KERNELS.get(k)
            if kernel is None:
                kernel = _KERNELS[k] = _load_kernel(k)
    return kernel


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, numba.config.NUMBA_NUM_THREADS), thread_name_prefix="opskit")
    return _POOL


def count_at_or_above(x: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """``[count(x >= e) for e in interior] + [NaN count, infinity count]`` for a contiguous 1-D array."""
    k = interior.shape[0]
    kernel = get_kernel(k)
    n = x.shape[0]
    workers = max(1, numba.config.NUMBA_NUM_THREADS)
    if n < PARALLEL_MIN_ROWS or workers == 1:
        out = np.zeros(k + 2, dtype=np.int64)
        kernel(x, interior, 0, n, out)
        return out
    kernel(x, interior, 0, 1, np.zeros(k + 2, dtype=np.int64))  # compile for this dtype before the threads
    bounds = np.linspace(0, n, workers + 1).astype(np.int64)
    parts = np.zeros((workers, k + 2), dtype=np.int64)
    futures = [
        _pool().submit(kernel, x, interior, int(bounds[i]), int(bounds[i + 1]), parts[i]) for i in range(workers)
    ]
    for f in futures:
        f.result()
    return parts.sum(axis=0)


def count_bins(x: np.ndarray, interior: np.ndarray) -> np.ndarray:
    """Bin counts (k + 1 bins), the NaN count, then the infinity count."""
    k = interior.shape[0]
    raw = count_at_or_above(x, interior)
    nan, inf = raw[k], raw[k + 1]
    out = np.empty(k + 3, dtype=np.int64)
    ge = raw[:k]
    total = x.shape[0] - nan
    if k == 0:
        out[0] = total
    else:
        out[0] = total - ge[0]
        out[1:k] = ge[:-1] - ge[1:]
        out[k] = ge[k - 1]
    out[k + 1] = nan
    out[k + 2] = inf
    return out
