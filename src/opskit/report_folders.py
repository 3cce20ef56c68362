"""The reports folder as the environment gives it: read-only, full, missing, a file, or left over.

Every problem with where a report goes becomes one :class:`OutputError` naming the path, the
cause (``ENOSPC``, ``EROFS``, ``EACCES``, ...) and what to do, so ``opskit run`` prints an
``error:`` and a ``hint:`` line and exits 2 instead of a traceback. Staging folders that a killed
run left behind are removed at the next run, but only when the process that made them is gone.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from opskit.errors import OpskitError
from opskit.report import STAGING_PREFIX

# a report (notebook, HTML with its images, summary) is a few MB; refuse to start below this
MIN_FREE_BYTES = 32 * 1024 * 1024
_STAGING = re.compile(re.escape(STAGING_PREFIX) + r"(?P<stamp>\d{8}T\d{6}Z)-(?P<pid>\d+)(-[A-Za-z0-9_]+)?$")

_HINTS = {
    errno.ENOSPC: "free space on that file system, or write elsewhere with --out DIR",
    errno.EDQUOT: "your disk quota is used up: free space, or write elsewhere with --out DIR",
    errno.EROFS: "that file system is mounted read-only: write elsewhere with --out DIR",
    errno.EACCES: "you may not write there: fix its permissions, or write elsewhere with --out DIR",
    errno.EPERM: "you may not write there: fix its permissions, or write elsewhere with --out DIR",
    errno.ENOTDIR: "a file stands where a folder is needed: move it, or name another folder with --out DIR",
    errno.EEXIST: "a file stands where a folder is needed: move it, or name another folder with --out DIR",
}


class OutputError(OpskitError):
    """The report could not be written: names the path and the operating system's cause."""

    def __init__(self, path: Path, cause: str, *, code: int | None = None, hint: str | None = None):
        name = errno.errorcode.get(code, "") if code else ""
        super().__init__(
            f"cannot write the report to {path}: {cause}" + (f" ({name})" if name else ""),
            hint=hint or _HINTS.get(code or 0, "check the folder given with --out"),
        )
        self.path = path
        self.code = name or None


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing under ``path`` into an :class:`OutputError`."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        where = Path(exc.filename) if getattr(exc, "filename", None) else path
        raise OutputError(where, exc.strerror or str(exc), code=exc.errno) from exc


def prepare(parent: Path) -> None:
    """Create ``parent`` (reports/<runbook>) or say why not; refuse a full file system up front."""
    for folder in [*reversed(parent.parents), parent]:
        if folder.exists() and not folder.is_dir():
            raise OutputError(folder, "it is a file, not a folder", code=errno.ENOTDIR)
    with writing(parent):
        parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK | os.X_OK):
        if os.statvfs(parent).f_flag & os.ST_RDONLY:
            raise OutputError(parent, "read-only file system", code=errno.EROFS)
        raise OutputError(parent, "not writable", code=errno.EACCES)
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        raise OutputError(
            parent,
            f"only {free // 1024} KiB free, a report needs up to {MIN_FREE_BYTES // 2**20} MiB",
            code=errno.ENOSPC,
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def remove_stale_staging(parent: Path, before_stamp: str) -> list[Path]:
    """Remove staging folders in ``parent`` older than ``before_stamp`` whose process is gone.

    A run killed with SIGKILL cannot clean up after itself; the next run does. A folder held by a
    live process, or younger than this run, is left alone. Returns what was removed."""
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        m = _STAGING.match(entry.name)
        if not m or not entry.is_dir() or m["stamp"] >= before_stamp:
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        if not entry.exists():
            removed.append(entry)
    return removed
