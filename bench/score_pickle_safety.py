"""Scoreboard of opskit's pickle-safety verdicts on the generated security corpus (tests/security/corpus.py).

Builds the malicious and benign corpus in a temporary folder (payloads only touch marker files there,
and nothing is loaded here), inspects every file with opskit and prints: % of malicious files FAIL,
how many PASS, % of benign files falsely FAILed, and the trusted-source (model code) verdicts.
Run: ``.venv/bin/python bench/score_pickle_safety.py``. Proof that each payload really runs under its
loader is ``pytest tests/security``.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "security"))

from corpus import benign, malicious  # noqa: E402

from opskit.analyses.model_load.pickle_safety import pickle_safety_verdict, scan_model_file  # noqa: E402
from opskit.sources.model_files import inspect_model_file  # noqa: E402


def status_of(path: Path) -> str:
    scan = scan_model_file(inspect_model_file(path))
    if scan is None:
        return "no pickle"
    return pickle_safety_verdict(scan).status.name


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bad = malicious(root / "malicious")
        good = benign(root / "benign")
        bad_status = {e.name: status_of(root / "malicious" / e.file) for e in bad}
        good_status = {e.name: status_of(root / "benign" / e.file) for e in good}
        ran = any((root / "malicious" / "markers").iterdir())
    flagged = sum(s == "FAIL" for s in bad_status.values())
    false_fail = sum(s == "FAIL" for s in good_status.values())
    print(
        f"malicious files: {len(bad)}; FAIL {flagged} ({100 * flagged / len(bad):.0f} %); "
        f"PASS {sum(s == 'PASS' for s in bad_status.values())}; other {dict(Counter(bad_status.values()))}"
    )
    print(
        f"benign files: {len(good)}; false FAIL {false_fail} ({100 * false_fail / len(good):.0f} %); "
        f"verdicts {dict(Counter(good_status.values()))}"
    )
    for name, status in sorted(good_status.items()):
        print(f"  benign {name}: {status}")
    for name, status in sorted(bad_status.items()):
        if status != "FAIL":
            print(f"  MISSED malicious {name}: {status}")
    print(f"payload ran during inspection: {ran}")
    return 0 if flagged == len(bad) and not ran else 1


if __name__ == "__main__":
    raise SystemExit(main())
