"""Every benchmark still runs (at its --quick size) and writes its results file.

No timing is asserted here: figures are read from `make bench`, never judged in tests.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("bench_*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_benchmark_runs_quick(script):
    started = time.time()
    proc = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.strip(), "a benchmark prints its table"
    result = BENCH / "results" / f"{script.stem.removeprefix('bench_')}.json"
    assert result.exists() and result.stat().st_mtime >= started - 1, "writes bench/results/<name>.json"
    assert json.loads(result.read_text())
