"""Every kind of PII and secret planted where a user puts it in a model registry and a model folder, for the last
two runbooks: the rendered HTML, the stored notebook and summary.json hold none of them in clear, look-alikes stay,
the result each runbook hands its notebook already holds them masked (verdicts, headline, figures), and an unmasked
run shows every plant, so each one reaches the report.

- ``manage_model_versions`` reads a real MLflow SQLite registry (the sample's, built by MLflow) whose versions carry
  the values in their tags (an owner's e-mail, a token pasted into a tag, notes), whose artifacts lie under a user's
  home, and whose alias history was written by a user known by e-mail, with the values in the reasons. The model's
  and the versions' descriptions and the runs' params carry them too; the report does not show those.
- ``diagnose_model_load`` reads a model folder (the sample's, with its faults): what its report shows of a folder is
  the names below the folder, the title of a web page saved as weights and the reasons of the user's pickle
  allow-list, so the values are planted there. Its ``config.json`` (``_name_or_path`` under a home, a token), its
  README and an error text saved as ``pytorch_model.bin`` carry them too; the report shows none of these.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import json
import shutil
from pathlib import Path

import pytest

from opskit import samples
from opskit.model_registry import client_for
from opskit.privacy import MaskingPolicy, use_policy
from opskit.runner import run_runbook
from opskit.samples.model_registry import build_registry
from opskit.samples.models import write_model_dir

_SPEC = importlib.util.spec_from_file_location(
    "every_report_more", Path(__file__).with_name("test_every_report_more.py")
)
_MORE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MORE)
PLANTED, LOOK_ALIKES, LINES, FIELD_LINES, VALUES = (
    _MORE.PLANTED, _MORE.LOOK_ALIKES, _MORE.LINES, _MORE.FIELD_LINES, _MORE.VALUES
)  # fmt: skip
_leaks = _MORE._leaks
USER = "asmith"  # the user name in home folders (/home/asmith/...): masked as <user>
LOOK_ALIKE_TAGS = dict(
    zip(("ticket", "run_uuid", "data_sha256", "torch", "trained_at", "metric"), LOOK_ALIKES, strict=True)
)
# the detector kinds each masked run fired, measured: all 19 of the planted values and home_dir
KINDS_MASKED = {"manage_model_versions": 20, "diagnose_model_load": 20}


# ------------------------------------------------------------------------------------------------ the registry
@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> tuple[str, Path]:
    """The sample registry with the values planted, its store moved off the home its artifacts lie in."""
    main = samples.write("model_registry", tmp_path_factory.mktemp("in") / "home" / USER / "models")
    spec = json.loads(main.read_text())
    for i, version in enumerate(spec["versions"]):
        version["tags"] |= {"owner": PLANTED["email"], "hf_token": PLANTED["hf"], **LOOK_ALIKE_TAGS}
        version["tags"] |= {f"note.{k}": line for k, line in enumerate(FIELD_LINES) if k % len(spec["versions"]) == i}
    spec["moves"] = [[*move[:3], PLANTED["email"], move[4], FIELD_LINES[k]] for k, move in enumerate(spec["moves"])]
    spec["tags"] |= {"contact": PLANTED["phone_intl"]}
    main.write_text(json.dumps(spec))
    db = build_registry(main)
    client = client_for(f"sqlite:///{db.as_posix()}")
    client.update_registered_model(spec["model"], description="\n".join(LINES))
    for mv in client.search_model_versions(f"name='{spec['model']}'"):
        client.update_model_version(spec["model"], mv.version, description="\n".join(LINES))
        for k, line in enumerate(FIELD_LINES):
            client.log_param(mv.run_id, f"note{k}", line)
    store = tmp_path_factory.mktemp("store")
    shutil.copy(db, store / "registry.db")
    shutil.copy(db.parent / "model_history.jsonl", store / "model_history.jsonl")
    return f"sqlite:///{(store / 'registry.db').as_posix()}", store / "model_history.jsonl"


def _registry_case(request, tmp: Path) -> dict:
    uri, history = request.getfixturevalue("registry")  # built once, and only for this runbook
    request.getfixturevalue("monkeypatch").setenv("OPSKIT_MODEL_HISTORY", str(history))  # the kernel inherits it
    return {"tracking_uri": uri, "at": "2026-11-20T12:00:00Z"}


# ---------------------------------------------------------------------------------------------- the model folder
def _model_case(request, tmp: Path) -> dict:
    """The sample folder; below it, runs named by the values; a saved sign-in page titled with a URL and e-mail."""
    root = write_model_dir(tmp / "in")
    names = [v for v in VALUES if "/" not in v]  # a URL cannot be a folder's name: it is the page's title
    for folder in [" ".join(names[i::7]) for i in range(7)] + [" ".join(LOOK_ALIKES)]:
        (root / "runs" / folder).mkdir(parents=True)
        shutil.copy(root / "classifier.pt", root / "runs" / folder / "classifier.pt")
    url = next(v for v in VALUES if "/" in v)
    page = (root / "classifier_download.bin").read_bytes()
    title = f"Sign in as {PLANTED['email']} to {url}"
    (root / "classifier_download.bin").write_bytes(page.replace(b"Sign in - Model Hub", title.encode()))
    config = {"_name_or_path": f"/home/{USER}/{PLANTED['email']}/ckpt", "use_auth_token": PLANTED["hf"]}
    (root / "config.json").write_text(json.dumps({**config, "model_type": "classifier"}, indent=2) + "\n")
    (root / "README.md").write_text("# classifier\n\n" + "\n".join(LINES) + "\n")
    (root / "pytorch_model.bin").write_text("\n".join(LINES) + "\n")  # an error text saved in place of weights
    reason = f"needed by /home/{USER}/src/train.py; reviewed by {PLANTED['email']}, {PLANTED['phone_intl']}"
    rows = io.StringIO()
    csv.writer(rows).writerows([("global", "reason"), ("collections.OrderedDict", reason)])
    allowlist = tmp / "allowlist.csv"
    allowlist.write_text(rows.getvalue())
    return {"model_path": str(root), "pickle_allowlist": str(allowlist), "load_with_torch": False}


CASES = {"manage_model_versions": _registry_case, "diagnose_model_load": _model_case}
# a subject the verdicts name: the run below the user's e-mail, masked; an alias target, which holds no plant
SUBJECT_SHOWN = {
    "diagnose_model_load": "runs/<email> 2001:db8:x:x <hf-token>/classifier.pt",
    "manage_model_versions": "churn@champion -> v1",
}


def _texts(run) -> dict[str, str]:
    return {
        "html": run.html_path.read_text(encoding="utf-8"),
        "notebook": run.notebook_path.read_text(encoding="utf-8"),
        "summary": (run.report_dir / "summary.json").read_text(encoding="utf-8"),
    }


@pytest.mark.parametrize("runbook", sorted(CASES))
def test_no_planted_value_reaches_the_report(runbook, request, tmp_path):
    run = run_runbook(runbook, CASES[runbook](request, tmp_path), reports_dir=tmp_path / "reports")
    assert run.summary["error"] is None
    masking = run.summary["masking"]
    assert masking["enabled"] is True
    assert _leaks(run) == []
    assert [where for where, text in _texts(run).items() if USER in text] == []
    assert len(masking["counts"]) >= KINDS_MASKED[runbook], masking["counts"]
    html = run.html_path.read_text(encoding="utf-8")
    for value in LOOK_ALIKES:
        assert value in html, value


@pytest.mark.parametrize("runbook", sorted(CASES))
def test_the_result_masks_what_the_verdicts_show(runbook, request, tmp_path):
    """The verdict table, header and figures are shown as the result holds them: masked by the runbook, not
    left to the final pass (a verdict's subject names a file, and the folder's names are the user's text)."""
    parameters = CASES[runbook](request, tmp_path)
    with use_policy(MaskingPolicy()):
        result = importlib.import_module(f"opskit.runbooks.{runbook}").run(**parameters)
    shown = json.dumps([result.verdicts.to_records(), result.headline, result.figures])
    assert [kind for kind, value in PLANTED.items() if value in shown] == []
    assert USER not in shown
    assert SUBJECT_SHOWN[runbook] in {v.subject for v in result.verdicts}


@pytest.mark.parametrize("runbook", sorted(CASES))
def test_unmasked_report_shows_every_plant(runbook, request, tmp_path):
    run = run_runbook(runbook, CASES[runbook](request, tmp_path), reports_dir=tmp_path / "reports", masking=False)
    assert run.summary["masking"]["enabled"] is False
    html = run.html_path.read_text(encoding="utf-8")
    assert "Masking was OFF for this run" in html
    assert [kind for kind, value in PLANTED.items() if value not in html] == []
    assert f"/home/{USER}/" in html
