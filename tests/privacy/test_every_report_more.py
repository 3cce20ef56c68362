"""Every kind of PII and secret planted into the inputs of the table and log runbooks beyond the job logs:
request paths and client fields, drift categories and free text, registry principals and user agents,
incident events, GPU pod and job names, dataset rows. The rendered HTML, the stored notebook and
summary.json hold none of them in clear.

One run per runbook, on its own sample data with the planted values written into a copy under tmp.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest

from opskit.runner import run_runbook
from opskit.samples import get as get_sample

_SPEC = importlib.util.spec_from_file_location("every_report", Path(__file__).with_name("test_every_report.py"))
_BASE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_BASE)
PLANTED, LOOK_ALIKES, LINES, _leaks = _BASE.PLANTED, _BASE.LOOK_ALIKES, _BASE.LINES, _BASE._leaks
# a key is only a key with its armour, a password only with its key: in a one-line field the kinds known by
# their context are planted with it (the whole key block, the URL, key=value, JSON, YAML), in a text the block's lines
KEY_BLOCK = "\n".join(LINES[6:9])
FIELD_LINES = [*LINES[:6], KEY_BLOCK, *LINES[9:]]
_IN_CONTEXT = {"private_key", "url_password", "kv_password", "json_password", "yaml_password"}
VALUES = [
    next(line for line in FIELD_LINES if value in line).replace("\n", " ") if kind in _IN_CONTEXT else value
    for kind, value in PLANTED.items()
]


def _sample(name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return get_sample(name).write(folder)


def _cycle(n: int) -> list[str]:
    return [VALUES[i % len(VALUES)] for i in range(n)]


def _three(i: int) -> list[str]:
    """Three planted values for slot ``i``, so a handful of names carries every kind."""
    return [VALUES[(i + k * 8) % len(VALUES)] for k in range(3)]


def _latency(tmp: Path) -> dict:
    """Planted values in the endpoint paths, instance names, user agents and client fields of the requests."""
    df = pd.read_parquet(_sample("requests_week", tmp / "in"))
    df["endpoint"] = [f"{e}/users/{v}" for e, v in zip(df["endpoint"].astype(str), _cycle(len(df)), strict=True)]
    df["instance"] = df["instance"].cat.rename_categories(
        {c: f"{c} {VALUES[i + 2]}" for i, c in enumerate(df["instance"].cat.categories)}
    )
    df["user_agent"] = _cycle(len(df))
    df["client"] = list(reversed(_cycle(len(df))))
    path = tmp / "requests.parquet"
    df.to_parquet(path)
    return {"requests": str(path), "gpu_metrics": None}


def _drift(tmp: Path) -> dict:
    """Planted values as categories of ``region`` and ``channel`` and as a free-text column, both sides."""
    paths = {}
    for side in ("reference", "current"):
        df = pd.read_parquet(_sample(f"drift_weekly_{side}", tmp / side))
        for col, offset in (("region", 0), ("channel", 8)):
            names = sorted(df[col].dropna().unique())
            df[col] = df[col].map({n: f"{n} {' '.join(_three(offset + i))}" for i, n in enumerate(names)})
        df["note"] = [FIELD_LINES[i % len(FIELD_LINES)] for i in range(len(df))]
        paths[side] = tmp / f"{side}_planted.parquet"
        df.to_parquet(paths[side])
    return {"reference": str(paths["reference"]), "current": str(paths["current"])}


def _access(tmp: Path) -> dict:
    """Planted values in client addresses, request paths and user agents, and unknown principals at night."""
    log = _sample("registry_access", tmp / "in")
    lines = log.read_text(encoding="utf-8").splitlines()
    for i, value in enumerate(VALUES):  # each an unknown principal (URL-encoded, as the log writes it), at night
        lines.append(
            f"{PLANTED['ipv4']} - {quote(value, safe='')} [07/Nov/2026:03:{10 + i:02d}:00 +0000] "
            f'"GET /api/2.0/mlflow/model-versions/get-download-uri?name=churn-model&note={quote(value, safe="")} '
            f'HTTP/1.1" 403 12 "-" "client {value}"'
        )
    path = tmp / "access.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"access_log": str(path), "policy": str(log.parent / "rbac.yaml")}


def _postmortem(tmp: Path) -> dict:
    """Every planted line as the summary of an event of the sample incident."""
    folder = _sample("incident", tmp / "in")
    events = folder / "events.jsonl"
    with events.open("a", encoding="utf-8") as out:
        for i, line in enumerate(FIELD_LINES):
            event = {"timestamp": f"2026-11-25T14:{20 + i:02d}:00Z", "source": "chat", "kind": "note", "summary": line}
            out.write(json.dumps(event) + "\n")
    return {"incident": str(folder)}


def _gpu_cost(tmp: Path) -> dict:
    """Planted values in pod and job names of the samples and in the attribution file's projects."""
    fleet = _sample("fleet_week", tmp / "in")
    df = pd.read_parquet(fleet)
    jobs = sorted(df["job"].dropna().unique())
    rename = {job: f"{job} {' '.join(_three(i))}" for i, job in enumerate(jobs)}
    df["pod"] = df["job"].map(rename) + "-0"
    df["job"] = df["job"].map(rename)
    out = tmp / "fleet"
    out.mkdir()
    df.to_parquet(out / "fleet.parquet")
    attribution = pd.read_csv(fleet.parent / "attribution.csv", dtype=str)
    attribution["project"] = [f"{p} {VALUES[-1 - i]}" for i, p in enumerate(attribution["project"])]
    attribution.to_csv(out / "attribution.csv", index=False)
    return {"samples": str(out / "fleet.parquet")}


def _dataset(tmp: Path) -> dict:
    """The sample's own phones, IDs and e-mails, with every other planted value in new free-text rows."""
    folder = _sample("dataset", tmp / "in")
    part = folder / "train" / "part-0000.csv"
    rows = pd.read_csv(part, dtype=str, keep_default_na=False)
    extra = rows.head(len(FIELD_LINES)).copy()
    extra["record_id"] = [str(900000 + i) for i in range(len(FIELD_LINES))]
    extra["comment"] = FIELD_LINES
    pd.concat([rows, extra]).to_csv(part, index=False)
    (folder / "MANIFEST.json").unlink()  # the part changed: no manifest, so no size and hash findings about it
    (folder / "logs" / "export.log").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return {"dataset": str(folder)}


CASES = {
    "diagnose_latency": _latency,
    "analyze_drift": _drift,
    "audit_model_access": _access,
    "write_postmortem": _postmortem,
    "report_gpu_cost": _gpu_cost,
    "check_dataset": _dataset,
}

# the detector kinds each run fired, measured: drift and the cost report do not show every planted name
KINDS_MASKED = {runbook: 19 for runbook in CASES} | {"analyze_drift": 13, "report_gpu_cost": 18}


@pytest.mark.parametrize("runbook", sorted(CASES))
def test_no_planted_value_reaches_the_report(runbook, tmp_path):
    run = run_runbook(runbook, CASES[runbook](tmp_path), reports_dir=tmp_path / "reports")
    assert run.summary["masking"]["enabled"] is True
    assert _leaks(run) == []
    # the planted values reached what the runbook masked: kinds of detector that fired (19 when all of them did)
    assert len(run.summary["masking"]["counts"]) >= KINDS_MASKED[runbook], run.summary["masking"]["counts"]
