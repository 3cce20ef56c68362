"""The engine's own overhead per run, beside plain papermill + nbconvert on the same notebook.

Both sides are whole commands, as a user or a scheduler would run them: start-up, kernel start,
execution of an empty runbook, rendering. Target: opskit within 1.2x of plain papermill + nbconvert
and under 5 s per run on a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, run_timed, write_results

ROOT = Path(__file__).resolve().parents[1]
EMPTY = ROOT / "tests" / "fixtures" / "runbooks" / "empty.ipynb"
BIN = Path(sys.executable).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    repeat = args.repeat or (2 if args.quick else 5)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        plain_nb = out / "plain.ipynb"
        papermill_cmd = [str(BIN / "papermill"), str(EMPTY), str(plain_nb), "-k", "python3", "--no-progress-bar"]
        nbconvert_cmd = [str(BIN / "jupyter-nbconvert"), "--to", "html", "--no-input", str(plain_nb)]
        plain_script = out / "plain.sh"
        plain_script.write_text(f"set -e\n{' '.join(papermill_cmd)} 2>/dev/null\n{' '.join(nbconvert_cmd)}\n")
        plain = run_timed(["bash", str(plain_script)], repeat=repeat)
        opskit = run_timed([str(BIN / "opskit"), "run", str(EMPTY), "--out", str(out / "reports")], repeat=repeat)
    ratio = opskit["median_s"] / plain["median_s"]
    rows = [
        {"what": "papermill + nbconvert (plain)", **plain, "ratio": 1.0},
        {"what": "opskit run (validate, execute, render, summary, index)", **opskit, "ratio": ratio},
    ]
    print(f"empty runbook, {repeat} runs each (median)")
    print_table(rows, ["what", "median_s", "best_s", "peak_mib", "ratio"])
    verdict_ratio = "met" if ratio <= 1.2 else "MISSED"
    verdict_abs = "met" if opskit["median_s"] < 5 else "MISSED"
    print(f"target <= 1.2x plain: {ratio:.2f}x ({verdict_ratio})")
    print(f"target < 5 s per run: {opskit['median_s']:.2f} s ({verdict_abs})")
    write_results("engine", {"repeat": repeat, "plain": plain, "opskit": opskit, "ratio": ratio})
    return 0


if __name__ == "__main__":
    sys.exit(main())
