"""Seeded generators of realistic sample data, one scenario per runbook fault.

Each scenario module in this package registers its generators with :func:`scenario`. A runbook
parameter whose value is ``"sample:NAME"`` is resolved by :func:`resolve` to the files of that
scenario, generated once into a cache folder, so every runbook runs as it is on bundled data.
``opskit samples DIR`` writes all of them.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import pkgutil
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from opskit import __version__
from opskit.errors import InputError

SAMPLE_PREFIX = "sample:"


@dataclass(frozen=True)
class Scenario:
    """A named sample data set: ``write(folder)`` creates it and returns its main path."""

    name: str
    description: str
    write: Callable[[Path], Path]


_REGISTRY: dict[str, Scenario] = {}
_LOADED = False


def scenario(name: str, description: str) -> Callable[[Callable[[Path], Path]], Callable[[Path], Path]]:
    """Register ``write(folder) -> main path`` as the generator of scenario ``name``."""

    def register(fn: Callable[[Path], Path]) -> Callable[[Path], Path]:
        if name in _REGISTRY and _REGISTRY[name].write is not fn:
            raise ValueError(f"sample scenario {name!r} is registered twice")
        _REGISTRY[name] = Scenario(name, description, fn)
        return fn

    return register


def _load_all() -> None:
    global _LOADED
    if not _LOADED:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _LOADED = True


def scenarios() -> dict[str, Scenario]:
    """All registered scenarios, by name."""
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> Scenario:
    known = scenarios()
    if name not in known:
        raise InputError(
            f"no sample scenario named {name!r}",
            hint="known scenarios: " + ", ".join(known) + " (opskit samples --list)",
        )
    return known[name]


def sample_beside_real_input(value: str | None, main: str) -> bool:
    """True when ``value`` names bundled sample data (``sample:...``) while ``main`` is a real input.

    The sample checkpoints must never be judged beside a real job's logs.
    """
    return value is not None and value.startswith(SAMPLE_PREFIX) and not main.startswith(SAMPLE_PREFIX)


def cache_dir() -> Path:
    """Where resolved samples live: ``$OPSKIT_SAMPLES_DIR``, or a folder of the user's cache named
    for the opskit version and the generators' code, so a changed generator never serves stale data."""
    root = os.environ.get("OPSKIT_SAMPLES_DIR")
    if root:
        return Path(root)
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "opskit" / "samples" / f"{__version__}-{generators_digest()}"


def generators_digest() -> str:
    """A short hash of the sample generators' source files."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def write(name: str, folder: Path) -> Path:
    """Generate scenario ``name`` into ``folder/name`` atomically; return its main path."""
    sc = get(name)
    target = Path(folder) / name
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        main = sc.write(tmp)
        rel = Path(main).relative_to(tmp)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target / rel


def resolve(value: str | os.PathLike[str]) -> Path:
    """Turn a runbook input into a path: ``sample:NAME`` is generated on first use, cached after.

    Anything else is a path, returned as it is (existence is the reader's check, with its file name).
    """
    text = os.fspath(value)
    if not text.startswith(SAMPLE_PREFIX):
        return Path(text).expanduser()
    name = text[len(SAMPLE_PREFIX) :]
    sc = get(name)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f".{name}.main"
    with _locked(folder / f".{name}.lock"):  # parallel test workers or runs resolve the same scenario
        if marker.exists():
            main = folder / name / marker.read_text().strip()
            if main.exists():
                return main
        main = write(sc.name, folder)
        tmp_marker = marker.with_suffix(f".{os.getpid()}")
        tmp_marker.write_text(str(main.relative_to(folder / name)))
        os.replace(tmp_marker, marker)
    return main


@contextmanager
def _locked(path: Path):
    """An exclusive lock on ``path`` for the duration of the block (no-op where fcntl is absent)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
