import hashlib
from pathlib import Path

import pytest

from opskit import samples
from opskit.errors import InputError


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(InputError) as err:
        samples.resolve("sample:no-such-thing")
    assert "known scenarios" in err.value.hint


def test_plain_paths_pass_through(tmp_path):
    assert samples.resolve(str(tmp_path / "x.csv")) == tmp_path / "x.csv"


@pytest.mark.parametrize("name", list(samples.scenarios()))
def test_every_scenario_is_seeded_and_resolves_to_an_existing_path(name, tmp_path):
    first = samples.write(name, tmp_path / "a")
    second = samples.write(name, tmp_path / "b")
    assert first.exists() and second.exists()
    assert first.relative_to(tmp_path / "a") == second.relative_to(tmp_path / "b")
    assert _digest(tmp_path / "a" / name) == _digest(tmp_path / "b" / name), "same seed, same bytes"
    resolved = samples.resolve(f"sample:{name}")
    assert resolved.exists() and samples.resolve(f"sample:{name}") == resolved


def test_parallel_resolves_of_one_scenario_agree(tmp_path):
    """Several processes (test workers, concurrent runs) resolving the same scenario at once."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "OPSKIT_SAMPLES_DIR": str(tmp_path)}
    code = "from opskit import samples; print(samples.resolve('sample:job_healthy'))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    paths = {out.strip() for out, _ in results}
    assert len(paths) == 1 and Path(paths.pop()).exists()


def test_default_cache_follows_the_generators_code(monkeypatch, tmp_path):
    monkeypatch.delenv("OPSKIT_SAMPLES_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = samples.cache_dir()
    assert folder.parent == tmp_path / "opskit" / "samples"
    assert folder.name.endswith(samples.generators_digest()) and len(samples.generators_digest()) == 12
