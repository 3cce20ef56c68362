"""Keys and shapes of a checkpoint compared with expected keys or a second one, and the verdicts with the fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from opskit.analyses.model_load import state_dict as sd
from opskit.checks import Status
from opskit.sources.model_files import TENSOR_COLUMNS, inspect_model_file

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "models"


def listing(pairs: dict[str, tuple]) -> pd.DataFrame:
    return pd.DataFrame([(k, "float32", s) for k, s in pairs.items()], columns=TENSOR_COLUMNS)


# -------------------------------------------------------------------------------------- comparison
def test_identical_listings_match():
    a = listing({"w": (2, 2), "b": (2,)})
    assert sd.compare_keys(a, a).ok


def test_module_prefix_is_detected_not_reported_as_all_unexpected():
    actual = listing({"module.w": (2, 2), "module.b": (2,)})
    cmp = sd.compare_keys(actual, listing({"w": (2, 2), "b": (2,)}))
    assert cmp.prefix == "module." and not cmp.missing and not cmp.unexpected and not cmp.ok


def test_expected_prefix_the_checkpoint_lacks():
    cmp = sd.compare_keys(listing({"w": (2, 2)}), listing({"module.w": (2, 2)}))
    assert cmp.prefix == "-module." and not cmp.missing


def test_missing_unexpected_and_shape_mismatch():
    actual = listing({"w": (3, 2), "b": (2,), "extra": (1,)})
    cmp = sd.compare_keys(actual, listing({"w": (2, 2), "b": (2,), "head": (5,)}))
    assert cmp.missing == ("head",) and cmp.unexpected == ("extra",)
    assert cmp.shape_mismatch == (("w", (3, 2), (2, 2)),)


def test_unknown_expected_shapes_are_not_mismatches():
    expected = pd.DataFrame([("w", None, None)], columns=TENSOR_COLUMNS)
    assert sd.compare_keys(listing({"w": (3, 2)}), expected).ok


# ----------------------------------------------------------------------------------------- verdicts
def test_keys_verdict_without_reference_warns_on_module_prefix():
    verdict = sd.keys_verdict("ddp.pt", listing({"module.w": (1,), "module.b": (1,)}), "static", None)
    assert verdict.status is Status.WARN and "removeprefix('module.')" in verdict.next_step
    assert sd.keys_verdict("ok.pt", listing({"w": (1,)}), "static", None).status is Status.PASS


def test_keys_verdict_with_reference_fails_with_the_fix():
    expected = listing({"w": (2, 2), "b": (2,)})
    verdict = sd.keys_verdict("ddp.pt", listing({"module.w": (2, 2), "module.b": (2,)}), "static", expected)
    assert verdict.status is Status.FAIL and "'module.'" in verdict.message and "removeprefix" in verdict.next_step
    shape = sd.keys_verdict("x.pt", listing({"w": (3, 2), "b": (2,)}), "static", expected)
    assert shape.status is Status.FAIL and "shape mismatch" in shape.message and "w [3, 2] vs [2, 2]" in shape.message


# ------------------------------------------------- files written by torch itself (torch 2.13, committed fixtures)
def test_full_module_pickle_is_not_a_state_dict():
    from opskit.analyses.model_load.pickle_safety import Risk, scan_model_file

    info = inspect_model_file(FIXTURES / "torch_zip_full_module.pt")
    scan = scan_model_file(info)
    assert scan.risk is Risk.UNKNOWN
    assert "torch.nn.modules.linear.Linear" in set(scan.imports["global"])
