"""Which imports a pickle may make and still be called safe: an allow-list, with a reason for each entry.

The bundled table (``data/pickle_allowlist.csv``, columns ``global``, ``reason``) holds the globals that
``torch.load(weights_only=True)`` accepts in torch 2.13 (tensor and parameter rebuild helpers, dtypes,
storage and tensor types, quantization schemes, the containers ``OrderedDict``/``Counter``/``set``...)
plus numpy's array and scalar reconstruction. A user extends it with a file of the same shape
(``allowlist_path``); each entry's reason is shown wherever it lets an import pass.

Everything off the list is ranked by :func:`danger` (3: runs commands, evaluates code or loads another
pickle; 2: called with arguments from the file; 1: imported only) so the worst comes first.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources
from pathlib import Path

from opskit.errors import InputError

BUNDLED = "pickle_allowlist.csv"
# Known gadgets: module prefixes and single names that run commands, evaluate code, import by name,
# touch files or the network, or load another pickle (published scanner bypasses included).
GADGET_MODULES: frozenset[str] = frozenset(
    """
    os posix nt subprocess sys shutil socket importlib runpy pty webbrowser code codeop commands marshal ctypes
    pickle _pickle cPickle cloudpickle dill joblib shelve types multiprocessing asyncio threading _thread
    signal requests urllib urllib2 urllib3 http httplib ftplib smtplib telnetlib imaplib poplib nntplib xmlrpc
    socketserver pip ensurepip setuptools distutils pdb bdb timeit tempfile glob io _io zipimport imp platform
    inspect pydoc cProfile profile trace uuid _osx_support _aix_support pkgutil logging codecs doctest site
    sysconfig sqlite3 tarfile zipfile venv antigravity this idlelib tkinter turtle operator functools builtins
    __builtin__ __builtins__ _posixsubprocess _winapi msvcrt winreg gc atexit weakref _operator _functools
    numpy.f2py numpy.testing numpy.distutils numpy.lib.npyio numpy.lib.format numpy.load
    torch.utils.collect_env torch.jit torch.fx torch.serialization torch.hub torch.package torch._dynamo
    torch._inductor torch.utils.cpp_extension torch.utils.data.datapipes torch._utils._import_dotted_name
    torch.load torch.storage._load_from_bytes torch.classes torch.ops torch._C._jit
    """.split()  # noqa: SIM905 - one word per gadget reads better than a 120-item literal
)
# Calls that unpickle bytes handed to them: their argument is followed as a nested pickle.
NESTED_LOADERS: frozenset[str] = frozenset(
    {
        "pickle.loads",
        "_pickle.loads",
        "cPickle.loads",
        "dill.loads",
        "dill._dill.loads",
        "cloudpickle.loads",
        "torch.storage._load_from_bytes",
        "joblib.numpy_pickle.loads",
        "pickle._loads",
    }
)


def _parse(text: str, source: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or row[0].strip().startswith("#") or (number == 1 and row[0].strip() == "global"):
            continue
        name = row[0].strip()
        reason = ",".join(row[1:]).strip()
        if "." not in name or not reason:
            raise InputError(
                f"allow-list entry {name!r} needs a dotted global and a reason",
                path=source,
                line=number,
                hint="write one line per global: module.name,why it is safe to import and call",
            )
        table[name] = reason
    return table


@lru_cache(maxsize=1)
def bundled_allowlist() -> dict[str, str]:
    """The bundled allow-list: global -> reason."""
    text = (resources.files("opskit") / "data" / BUNDLED).read_text(encoding="utf-8")
    return _parse(text, BUNDLED)


def load_allowlist(path: str | Path | None = None) -> dict[str, str]:
    """The bundled allow-list, extended by the user's file at ``path`` (same columns: global, reason)."""
    table = dict(bundled_allowlist())
    if path:
        path = Path(path)
        if not path.is_file():
            raise InputError("allow-list file not found", path=path, hint="check allowlist_path")
        table.update(_parse(path.read_text(encoding="utf-8"), str(path)))
    return table


def allowed_reason(module: str, name: str, allowlist: dict[str, str]) -> str | None:
    """The reason ``module.name`` may be imported, or None. Matches exactly: a dotted ``name`` (an
    attribute path resolved by getattr) never matches an entry."""
    if "." in name or not module or not name:
        return None
    return allowlist.get(f"{module}.{name}")


def is_gadget(module: str, name: str) -> bool:
    """True when ``module.name`` is, or lies inside, a known gadget module or callable."""
    qualname = f"{module}.{name}"
    parts = qualname.split(".")
    return module.startswith("<") or any(".".join(parts[:i]) in GADGET_MODULES for i in range(1, len(parts) + 1))


def danger(module: str, name: str, called: bool) -> int:
    """3: a known gadget; 2: called with arguments from the file; 1: imported only."""
    if is_gadget(module, name):
        return 3
    return 2 if called else 1


__all__ = [
    "GADGET_MODULES",
    "NESTED_LOADERS",
    "allowed_reason",
    "bundled_allowlist",
    "danger",
    "is_gadget",
    "load_allowlist",
]
