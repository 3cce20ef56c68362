"""opskit describe and the README catalogue show each parameter's choices and range."""

import argparse
import json

from opskit.catalog import Runbook, catalogue_markdown
from opskit.commands.describe import describe, describe_record, describe_text


def _book(runbook_fixture) -> Runbook:
    return Runbook("choices", runbook_fixture("choices"))


def test_text_lists_choices_ranges_and_help(runbook_fixture):
    text = describe_text(_book(runbook_fixture))
    assert "  mode (str, default 'fast')\n      one of: fast, slow\n      how to judge\n" in text
    assert "  share (float, default 0.5)\n      range: > 0 and < 1\n      the observed share\n" in text
    assert "  unit (str | None, default None)\n      one of: ms, s\n" in text


def test_json_has_choices_and_range(runbook_fixture, capsys):
    assert describe(argparse.Namespace(name=str(runbook_fixture("choices")), json=True)) == 0
    record = json.loads(capsys.readouterr().out)
    params = {p["name"]: p for p in record["parameters"]}
    assert params["mode"]["choices"] == ["fast", "slow"] and params["mode"]["range"] is None
    assert params["share"]["range"] == {
        "min": 0.0,
        "max": 1.0,
        "min_inclusive": False,
        "max_inclusive": False,
        "text": "> 0 and < 1",
    }
    assert params["input_path"]["choices"] is None and params["input_path"]["rules"] == []
    assert record == describe_record(_book(runbook_fixture))


def test_catalogue_shows_choices_and_ranges(runbook_fixture):
    table = catalogue_markdown({"choices": _book(runbook_fixture)})
    assert "`mode` (fast / slow), `share` (> 0 and < 1), `input_path`, `unit` (ms / s)" in table
