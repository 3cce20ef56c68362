"""manage_model_versions.run on a real MLflow SQLite registry built by the sample generator.

One registry per module (building it runs MLflow's migrations); the tests that change it restore it.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opskit import samples
from opskit.analyses.models.alias_history import holder_at
from opskit.privacy import mask
from opskit.runbooks.display import Markdown
from opskit.runbooks.manage_model_versions import run
from opskit.samples.model_registry import build_registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    db = build_registry(samples.write("model_registry", tmp_path_factory.mktemp("samples")))
    return f"sqlite:///{db.as_posix()}", db.parent


@pytest.fixture(autouse=True)
def no_history_file(tmp_path, monkeypatch):
    """A real URI uses $OPSKIT_MODEL_HISTORY: here a missing file, so the registered-model tag is the history."""
    monkeypatch.setenv("OPSKIT_MODEL_HISTORY", str(tmp_path / "absent.jsonl"))
    return tmp_path / "absent.jsonl"


def _status(result) -> dict[tuple[str, str], str]:
    return {(v.name, v.subject): v.status.value for v in result.verdicts}


def _artifact(folder, version: str):
    from opskit.model_registry import Registry

    mv = Registry(f"sqlite:///{(folder / 'registry.db').as_posix()}", folder / "h.jsonl").version("churn", version)
    return Path(mv.source) / "model.safetensors"


def test_versions_aliases_and_history_from_the_tag_alone(registry):
    uri, _ = registry
    result = run(tracking_uri=uri, at="2026-11-25T00:00:00Z")
    status = _status(result)
    assert status[("naming", "churn v2")] == "WARN" and status[("naming", "churn v1")] == "PASS"
    assert status[("checksums recorded", "churn v3")] == "WARN"
    assert status[("checksums recorded", "churn v1")] == status[("checksums recorded", "churn v2")] == "PASS"
    assert status[("alias target", "churn@champion -> v1")] == "PASS"
    assert "alias history" not in {name for name, _ in status}  # the tag matches the aliases
    table = result.versions_table()
    assert list(table["version"]) == ["1", "2", "3"]
    assert list(table["aliases"]) == ["champion", "", "challenger"]
    assert list(table["checksums recorded"]) == [True, True, False]
    assert table["source run"].str.fullmatch(r"[0-9a-f]{32}").all() and table["stage"].iloc[0] == "Production"
    assert not table["tags"].str.contains("opskit.sha256").any()
    assert [(m.alias, m.to_version, m.action) for m in result.history] == [
        ("champion", "1", "promote"),
        ("champion", "2", "promote"),
        ("challenger", "3", "promote"),
        ("champion", "1", "rollback"),
    ]
    held = result.holders_at().set_index("alias")["version"].to_dict()
    assert held == {"champion": "1", "challenger": "3"}


@pytest.mark.parametrize(
    ("at", "champion", "challenger"),
    [
        ("2026-11-01T00:00:00Z", "not set", "not set"),
        ("2026-11-20 07:59", "2", "not set"),
        ("2026-11-24T14:05Z", "1", "3"),
    ],
)
def test_which_version_at_a_time(registry, at, champion, challenger):
    held = run(tracking_uri=registry[0], model="churn", at=at).holders_at().set_index("alias")["version"].to_dict()
    assert held == {"champion": champion, "challenger": challenger}


def test_without_at_the_section_says_what_to_set(registry):
    shown = run(tracking_uri=registry[0]).holders_at()
    assert isinstance(shown, Markdown) and "`at`" in shown


def test_invalid_history_lines_are_named_and_the_rest_used(registry, no_history_file):
    _, folder = registry
    lines = (folder / "model_history.jsonl").read_text().splitlines()
    no_history_file.write_text("\n".join([lines[0], '{"model": "churn", "alias": "champion"', *lines[1:]]) + "\n")
    result = run(tracking_uri=registry[0])
    (problem,) = [v for v in result.verdicts if v.name == "alias history"]
    assert problem.status.value == "WARN" and problem.subject == f"{no_history_file}:2"
    assert len(result.history) == 4 and result.figures["history_lines_skipped"] == 1


def test_custom_pattern_and_bad_settings(registry):
    loose = run(tracking_uri=registry[0], name_pattern=r"churn_v\d+\.\d+_\d{8}")
    assert _status(loose)[("naming", "churn v2")] == "PASS"  # no date group: the day is not checked
    (bad,) = run(tracking_uri=registry[0], name_pattern="churn_v(").verdicts
    assert bad.status.value == "ERROR" and "name_pattern" in bad.message
    (late,) = run(tracking_uri=registry[0], at="last tuesday").verdicts
    assert late.status.value == "ERROR" and "'at'" in late.message


def test_unknown_model_lists_the_known_ones(registry):
    result = run(tracking_uri=registry[0], model="fraud")
    (row,) = result.verdicts
    assert row.status.value == "ERROR" and "fraud" in row.message and "churn" in row.next_step
    assert isinstance(result.versions_table(), Markdown) and result.figures == {}


def test_missing_database_is_refused_not_created(tmp_path):
    db = tmp_path / "nothing.db"
    (row,) = run(tracking_uri=f"sqlite:///{db}").verdicts
    assert row.status.value == "ERROR" and "tracking_uri" in row.message and not db.exists()


def test_an_empty_registry_is_said_not_shown_as_clean(tmp_path):
    from opskit.model_registry import client_for

    db = tmp_path / "empty.db"
    client_for(f"sqlite:///{db}").search_registered_models()  # creates an empty store
    result = run(tracking_uri=f"sqlite:///{db}")
    (row,) = result.verdicts
    assert row.name == "registry" and row.status.value == "WARN" and result.figures["versions"] == 0


def test_unreachable_server_is_an_error_naming_the_uri():
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    started = datetime.now(UTC)
    result = run(tracking_uri=uri)
    (row,) = result.verdicts
    # the row names the server as a report may show it: the address masked like every other, the port kept
    assert row.status.value == "ERROR" and row.name == "tracking server" and row.subject == mask(uri)
    assert row.subject.endswith(f":{port}")
    assert "timeout 5 s" in row.message  # the stated timeout of opskit.tracking
    assert (datetime.now(UTC) - started).total_seconds() < 60  # short timeouts, not MLflow's minutes of retries
    assert isinstance(result.history_table(), Markdown) and isinstance(result.holders_at(), Markdown)


def test_damaged_alias_target_fails_and_an_outside_move_is_flagged(registry):
    uri, folder = registry
    path = _artifact(folder, "1")
    good = path.read_bytes()
    from opskit.model_registry import Registry

    client = Registry(uri, folder / "h.jsonl").client
    try:
        path.write_bytes(good[:-4] + bytes(4))  # same size, other weights
        client.set_registered_model_alias("churn", "challenger", "2")  # not through opskit: no history entry
        result = run(tracking_uri=uri, at="2026-11-30T00:00:00Z")
        status = _status(result)
        assert status[("alias target", "churn@champion -> v1")] == "FAIL"
        (fail,) = result.verdicts.find("alias target", "churn@champion -> v1")
        assert "model.safetensors" in fail.message and "changed" in fail.message
        assert status[("alias target", "churn@challenger -> v2")] == "PASS"  # v2 is intact; only targets verified
        assert status[("alias history", "churn@challenger")] == "WARN"
        assert result.figures["alias_targets_failed"] == 1
    finally:
        path.write_bytes(good)
        client.set_registered_model_alias("churn", "challenger", "3")
    history = json.loads(client.get_registered_model("churn").tags["opskit.alias_history"])
    assert holder_at(result.history, "churn", "challenger", datetime(2026, 11, 30, tzinfo=UTC)).to_version == "3"
    assert len(history) == 4  # the runbook only read: the history tag is unchanged
