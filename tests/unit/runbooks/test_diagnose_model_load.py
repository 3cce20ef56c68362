"""The whole model-load diagnosis on the sample model folder, and what the runbook shows from it."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.model_load import state_dict as sd
from opskit.checks import Status, Verdict, VerdictTable
from opskit.runbooks import diagnose_model_load_sections as sections
from opskit.runbooks.diagnose_model_load import run
from opskit.runbooks.diagnose_model_load_result import SUMMARY_FIGURES, DiagnoseModelLoadResult
from opskit.runbooks.display import Markdown, Outputs
from opskit.samples.models import (
    classifier_tensors,
    write_model_dir,
)
from opskit.sources.model_files import TENSOR_COLUMNS, inspect_model_file, static_listing

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"


@pytest.fixture
def tensors() -> dict[str, np.ndarray]:
    return classifier_tensors(np.random.default_rng(7))


def listing(pairs: dict[str, tuple]) -> pd.DataFrame:
    return pd.DataFrame([(k, "float32", s) for k, s in pairs.items()], columns=TENSOR_COLUMNS)


# ------------------------------------------------------------------------------------ whole diagnosis
@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return write_model_dir(tmp_path_factory.mktemp("models"))


def test_diagnose_names_every_planted_fault(model_dir):
    result = run(model_path=str(model_dir), environment="local", load_with_torch=False)
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
    result = run(
        model_path=str(model_dir),
        environment="local",
        reference=str(model_dir / "classifier.pt"),
        load_with_torch=False,
    )
    (ddp,) = result.verdicts.find("state-dict keys", "classifier_ddp.pt")
    assert ddp.status is Status.FAIL and "module." in ddp.message
    assert result.verdicts.find("state-dict keys", "classifier.pt")[0].status is Status.PASS


def test_expected_sha256_for_one_file_and_refused_for_a_folder(model_dir):
    import hashlib

    good = model_dir / "classifier.pt"
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    ok = run(model_path=str(good), expected_sha256=digest, manifest="", environment="local")
    assert ok.verdicts.find("checksum", "classifier.pt")[0].status is Status.PASS
    bad = run(model_path=str(good), expected_sha256="0" * 64, manifest="", environment="local")
    assert bad.verdicts.find("checksum", "classifier.pt")[0].status is Status.FAIL
    folder = run(model_path=str(model_dir), expected_sha256=digest, environment="local")
    (error,) = folder.verdicts.find("checksum")[:1]
    assert error.status is Status.ERROR and "folder" in error.message


def test_missing_model_path_is_an_error_row_and_other_layers_still_run(tmp_path):
    result = run(model_path=str(tmp_path / "nope"), environment="local")
    assert result.verdicts.rows[0].status is Status.ERROR and result.verdicts.rows[0].name == "model files"
    assert result.verdicts.find("driver supports CUDA build")


def test_environment_overrides(model_dir):
    result = run(
        model_path=str(model_dir / "classifier.pt"), manifest="", environment="local",
        torch_version="2.5.1+cu124", driver_version="470.57.02",
    )  # fmt: skip
    (driver,) = result.verdicts.find("driver supports CUDA build")
    assert driver.status is Status.FAIL and driver.observed == "470.57.02"


# ------------------------------------------------------------------------------------------- torch
def test_torch_load_agrees_with_static_listing(model_dir):
    torch = pytest.importorskip("torch", reason="torch not installed: the real load is not exercised")
    static = static_listing(inspect_model_file(model_dir / "classifier.pt"))
    loaded = sd.torch_listing(model_dir / "classifier.pt")
    pd.testing.assert_frame_equal(static, loaded)
    state = torch.load(model_dir / "classifier.pt", weights_only=True, map_location="cpu")
    expected = classifier_tensors(np.random.default_rng(20261128))
    np.testing.assert_array_equal(state["encoder.weight"].numpy(), expected["encoder.weight"])
    verdict, _ = sd.load_verdict("classifier_truncated.pt", model_dir / "classifier_truncated.pt")
    assert verdict.status is Status.FAIL


def test_diagnose_loads_safe_checkpoints_with_torch(model_dir):
    pytest.importorskip("torch", reason="torch not installed: the real load is not exercised")
    result = run(model_path=str(model_dir), environment="local")
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
    assert sections.next_steps(rows) == [
        ("a.pt", "(format) it is an HTML page"),  # the most specific fix for a.pt wins
        ("this machine", "(driver supports CUDA build) upgrade the driver"),
        ("custom", "(custom) look"),  # unknown check names come last
    ]
    assert sections.next_steps_markdown(rows).splitlines()[0] == "- **a.pt** (format) it is an HTML page"
    assert sections.next_steps_markdown([]) == "Nothing to fix: every check passed or was skipped."


def test_runbook_sections_from_the_sample_folder(model_dir):
    result = run(model_path=str(model_dir), environment="local", load_with_torch=False)
    (sentence,) = result.shard_set_notes()
    assert sentence.startswith("Shard set `model-*-of-00004.safetensors`") and "3 of 4 present" in sentence
    assert "missing ['model-00003-of-00004.safetensors']" in sentence  # the sample drops shard 3
    (headline, imports), *_ = sections.risky_pickles(result.pickle_scans)
    assert "classifier_malicious.pt" in headline and "dangerous" in headline
    assert (imports["risk"] != "safe").all() and len(imports)
    assert "compatibility table dated" in result.environment_note()
    table = result.key_listings().set_index("checkpoint")
    assert table.loc["classifier.pt", "tensors"] == len(result.listings["classifier.pt"])
    assert "model-*-of-00004.safetensors" in table.index and "classifier_malicious.pt" not in table.index
    figures = result.figures
    assert list(figures) == list(SUMMARY_FIGURES)
    assert figures["dangerous_files"] == 1 and figures["missing_shards"] == 1 and figures["bytes_hashed"] > 0


def test_runbook_sections_when_nothing_could_be_read(tmp_path):
    result = run(model_path=str(tmp_path / "nope"), environment="local")
    assert sections.shard_set_sentences(result.shard_sets) == [] and sections.risky_pickles(result.pickle_scans) == []
    assert sections.listings_table(result.listings).empty
    assert result.figures["bytes_hashed"] is None
    assert sections.next_steps(result.verdicts)[0][1].startswith("(model files)")


# ------------------------------------------------------------------------------ the run() contract
SECTIONS = (
    "fixes",
    "checksum_table",
    "shard_set_notes",
    "file_table",
    "risky_pickles",
    "environment_note",
    "compatibility_table",
    "key_listings",
)


def displayable(value) -> bool:
    if isinstance(value, Outputs):
        return all(displayable(item) for item in value)
    return isinstance(value, Markdown | pd.DataFrame)


def test_result_is_frozen_with_a_verdict_table(model_dir):
    result = run(model_path=str(model_dir), environment="local", load_with_torch=False)
    assert isinstance(result, DiagnoseModelLoadResult) and isinstance(result.verdicts, VerdictTable)
    with pytest.raises(FrozenInstanceError):
        result.verdicts = VerdictTable([])  # type: ignore[misc]
    assert result.figures["files_checked"] == 10


def test_every_section_of_the_sample_folder_is_displayable(model_dir):
    result = run(model_path=str(model_dir), environment="local", load_with_torch=False)
    for name in SECTIONS:
        assert displayable(getattr(result, name)()), name
    assert isinstance(result.checksum_table(), pd.DataFrame) and isinstance(result.file_table(), pd.DataFrame)
    headline, imports, unproven, _ = result.risky_pickles()
    assert "classifier_truncated.pt" in unproven and "unproven" in unproven  # a truncated pickle is never safe
    assert "classifier_malicious.pt" in headline and (imports["risk"] == "dangerous").all()
    assert "os.system" in set(imports["global"])


def test_unreadable_model_is_an_error_row_and_every_section_still_shows(tmp_path):
    result = run(model_path=str(tmp_path / "nope"), environment="local")
    (error,) = result.verdicts.find("model files")
    assert error.status is Status.ERROR and "no such file or folder" in error.message
    for name in SECTIONS:
        assert displayable(getattr(result, name)()), name
    for name in ("checksum_table", "file_table"):
        shown = getattr(result, name)()
        assert isinstance(shown, Markdown) and "not available" in shown and "no such file or folder" in shown
    assert "not available" in result.risky_pickles()[0]
    assert result.key_listings() == "No checkpoint could be read (see the verdicts above)."
    assert result.shard_set_notes() == ()
    assert result.figures["files_checked"] == 0 and result.figures["environment"] == "this machine"


def test_unknown_sample_and_unreadable_environment_are_error_rows(tmp_path):
    result = run(model_path="sample:no_such_scenario", environment=str(tmp_path / "no-env"))
    assert {v.name for v in result.verdicts.by_status(Status.ERROR)} == {"model files", "compatibility"}
    assert "not available" in result.environment_note() and "not available" in result.compatibility_table()
    assert result.figures["environment"] is None


def test_no_pickle_is_listed_when_the_format_layer_fails(model_dir, monkeypatch):
    """The safety check fails closed: without a pickle scan, no pickle is read for its keys."""
    from opskit.runbooks import diagnose_model_load as module

    def broken(files, allowlist=None):
        raise RuntimeError("scanner broke")

    monkeypatch.setattr(module, "judge_formats", broken)
    result = run(model_path=str(model_dir), environment="local")
    assert [v.status for v in result.verdicts.find("format")] == [Status.ERROR]
    assert not {"classifier.pt", "classifier_ddp.pt", "classifier_malicious.pt"} & set(result.listings)
    assert not result.verdicts.find("load", "classifier.pt")
    assert "model-*-of-00004.safetensors" in result.listings  # safetensors headers hold no code
    (note,) = result.risky_pickles()
    assert "not available" in note and "scanner broke" in note


def test_run_takes_the_environment_overrides_once(model_dir):
    result = run(
        model_path=str(model_dir / "classifier.pt"), manifest="", environment="local", compute_capability="7.0"
    )
    assert result.compatibility.environment.gpus[0].compute_capability == "7.0"
    assert result.compatibility.environment.sources["gpus"] == "parameter"


def test_user_allowlist_is_applied_and_its_reason_shown(tmp_path):
    """A class the team trusts, named in the pickle_allowlist file, turns the trusted-source WARN into PASS."""
    (tmp_path / "m.pkl").write_bytes(b"\x80\x02cmylib.layers\nDense\n)\x81}b.")
    plain = run(model_path=str(tmp_path / "m.pkl"), environment="local", manifest=None)
    (warn,) = plain.verdicts.find("pickle safety")
    assert warn.status is Status.WARN and "trusted source" in warn.message
    allow = tmp_path / "allow.csv"
    allow.write_text("global,reason\nmylib.layers.Dense,our layer; reviewed\n")
    trusted = run(model_path=str(tmp_path / "m.pkl"), environment="local", manifest=None, pickle_allowlist=str(allow))
    (ok,) = trusted.verdicts.find("pickle safety")
    assert ok.status is Status.PASS and "our layer; reviewed" in ok.evidence
