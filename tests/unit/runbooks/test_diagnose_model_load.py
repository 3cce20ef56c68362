"""The whole model-load diagnosis on the sample model folder, and what the runbook shows from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.model_load import state_dict as sd
from opskit.checks import Status, Verdict
from opskit.runbooks import diagnose_model_load as lc
from opskit.samples.models import (
    classifier_tensors,
    write_model_dir,
)
from opskit.sources.model_files import inspect_model_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"


@pytest.fixture
def tensors() -> dict[str, np.ndarray]:
    return classifier_tensors(np.random.default_rng(7))


def listing(pairs: dict[str, tuple]) -> pd.DataFrame:
    return pd.DataFrame([(k, "float32", s) for k, s in pairs.items()], columns=sd.TENSOR_COLUMNS)


# ------------------------------------------------------------------------------------ whole diagnosis
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return write_model_dir(tmp_path_factory.mktemp("models"))


def test_diagnose_names_every_planted_fault(model_dir):
    result = lc.diagnose_model_load(model_dir, environment="local", load_with_torch=False)
    fails = {(v.name, v.subject) for v in result.verdicts.by_status(Status.FAIL)}
    assert {
        ("format", "classifier_truncated.pt"),
        ("format", "classifier_download.bin"),
        ("format", "adapter.safetensors"),
        ("format", "encoder_bad_header.safetensors"),
        ("shard set", "model-*-of-00004.safetensors"),
        ("checksum", "model-00003-of-00004.safetensors"),
        ("pickle safety", "classifier_malicious.pt"),
    } <= fails
    assert ("checksum", "classifier.pt") not in fails
    warn = result.verdicts.find("state-dict keys", "classifier_ddp.pt")
    assert warn[0].status is Status.WARN
    assert result.figures["dangerous_files"] == 1 and result.figures["missing_shards"] == 1
    assert "classifier_malicious.pt" not in result.listings  # a dangerous pickle is never loaded
    assert result.files.set_index("file").loc["classifier_truncated.pt", "checksum"] == "mismatch"


def test_diagnose_with_reference_checkpoint(model_dir):
    result = lc.diagnose_model_load(
        model_dir, environment="local", reference=str(model_dir / "classifier.pt"), load_with_torch=False
    )
    (ddp,) = result.verdicts.find("state-dict keys", "classifier_ddp.pt")
    assert ddp.status is Status.FAIL and "module." in ddp.message
    assert result.verdicts.find("state-dict keys", "classifier.pt")[0].status is Status.PASS


def test_expected_sha256_for_one_file_and_refused_for_a_folder(model_dir):
    import hashlib

    good = model_dir / "classifier.pt"
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    ok = lc.diagnose_model_load(good, expected_sha256=digest, manifest="", environment="local")
    assert ok.verdicts.find("checksum", "classifier.pt")[0].status is Status.PASS
    bad = lc.diagnose_model_load(good, expected_sha256="0" * 64, manifest="", environment="local")
    assert bad.verdicts.find("checksum", "classifier.pt")[0].status is Status.FAIL
    folder = lc.diagnose_model_load(model_dir, expected_sha256=digest, environment="local")
    (error,) = folder.verdicts.find("checksum")[:1]
    assert error.status is Status.ERROR and "folder" in error.message


def test_missing_model_path_is_an_error_row_and_other_layers_still_run(tmp_path):
    result = lc.diagnose_model_load(tmp_path / "nope", environment="local")
    assert result.verdicts.rows[0].status is Status.ERROR and result.verdicts.rows[0].name == "model files"
    assert result.verdicts.find("driver supports CUDA build")


def test_environment_overrides(model_dir):
    result = lc.diagnose_model_load(
        model_dir / "classifier.pt", manifest="", environment="local",
        overrides={"torch_version": "2.5.1+cu124", "driver_version": "470.57.02"},
    )  # fmt: skip
    (driver,) = result.verdicts.find("driver supports CUDA build")
    assert driver.status is Status.FAIL and driver.observed == "470.57.02"


# ------------------------------------------------------------------------------------------- torch
def test_torch_load_agrees_with_static_listing(model_dir):
    torch = pytest.importorskip("torch", reason="torch not installed: the real load is not exercised")
    static = sd.static_listing(inspect_model_file(model_dir / "classifier.pt"))
    loaded = sd.torch_listing(model_dir / "classifier.pt")
    pd.testing.assert_frame_equal(static, loaded)
    state = torch.load(model_dir / "classifier.pt", weights_only=True, map_location="cpu")
    expected = classifier_tensors(np.random.default_rng(20261128))
    np.testing.assert_array_equal(state["encoder.weight"].numpy(), expected["encoder.weight"])
    verdict, _ = sd.load_verdict("classifier_truncated.pt", model_dir / "classifier_truncated.pt")
    assert verdict.status is Status.FAIL


def test_diagnose_loads_safe_checkpoints_with_torch(model_dir):
    pytest.importorskip("torch", reason="torch not installed: the real load is not exercised")
    result = lc.diagnose_model_load(model_dir, environment="local")
    loads = {v.subject: v.status for v in result.verdicts.find("load")}
    assert loads == {"classifier.pt": Status.PASS, "classifier_ddp.pt": Status.PASS}


# ------------------------------------------------------------------------------ what the runbook shows
def test_next_steps_get_a_good_copy_before_fixing_the_environment_and_keys():
    rows = [
        Verdict("state-dict keys", Status.FAIL, subject="a.pt", next_step="strip the prefix"),
        Verdict("driver supports CUDA build", Status.FAIL, subject="this machine", next_step="upgrade the driver"),
        Verdict("checksum", Status.FAIL, subject="a.pt", next_step="fetch again"),
        Verdict("format", Status.FAIL, subject="a.pt", next_step="it is an HTML page"),
        Verdict("custom", Status.ERROR, next_step="look"),
        Verdict("checksum", Status.WARN, subject="b.pt", next_step="not a failure"),
        Verdict("format", Status.FAIL, subject="c.pt"),  # no step: nothing to say
    ]
    assert lc.next_steps(rows) == [
        ("a.pt", "(format) it is an HTML page"),  # the most specific fix for a.pt wins
        ("this machine", "(driver supports CUDA build) upgrade the driver"),
        ("custom", "(custom) look"),  # unknown check names come last
    ]
    assert lc.next_steps_markdown(rows).splitlines()[0] == "- **a.pt** (format) it is an HTML page"
    assert lc.next_steps_markdown([]) == "Nothing to fix: every check passed or was skipped."


def test_runbook_sections_from_the_sample_folder(model_dir):
    result = lc.diagnose_model_load(model_dir, environment="local", load_with_torch=False)
    (sentence,) = lc.shard_set_sentences(result)
    assert sentence.startswith("Shard set `model-*-of-00004.safetensors`") and "3 of 4 present" in sentence
    assert "missing ['model-00003-of-00004.safetensors']" in sentence  # the sample drops shard 3
    (headline, imports), *_ = lc.risky_pickles(result)
    assert "classifier_malicious.pt" in headline and "dangerous" in headline
    assert (imports["risk"] != "safe").all() and len(imports)
    assert "compatibility table dated" in lc.environment_note(result)
    table = lc.listings_table(result).set_index("checkpoint")
    assert table.loc["classifier.pt", "tensors"] == len(result.listings["classifier.pt"])
    assert "model-*-of-00004.safetensors" in table.index and "classifier_malicious.pt" not in table.index
    figures = lc.summary_figures(result)
    assert list(figures) == list(lc.SUMMARY_FIGURES)
    assert figures["dangerous_files"] == 1 and figures["missing_shards"] == 1 and figures["bytes_hashed"] > 0


def test_runbook_sections_when_nothing_could_be_read(tmp_path):
    result = lc.diagnose_model_load(tmp_path / "nope", environment="local")
    assert lc.shard_set_sentences(result) == [] and lc.risky_pickles(result) == []
    assert lc.listings_table(result).empty
    assert lc.summary_figures(result)["bytes_hashed"] is None
    assert lc.next_steps(result.verdicts)[0][1].startswith("(model files)")
