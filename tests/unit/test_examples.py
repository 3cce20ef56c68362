"""The scheduling examples in ``examples/`` are what the README tells people to copy: they must stay valid."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import yaml

from opskit.catalog import get_runbook
from opskit.parameters import load_parameter_file, validate_parameters

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((EXAMPLES / name).read_text(encoding="utf-8"))
    return parser


def test_the_cost_report_parameter_file_names_real_parameters_with_valid_values() -> None:
    given = load_parameter_file(str(EXAMPLES / "gpu-cost.yaml"))
    assert "samples" in given, "a scheduled run must name its own data"
    assert not str(given["samples"]).startswith("sample:")
    values = validate_parameters(get_runbook("report_gpu_cost").parameters, given, runbook="report_gpu_cost")
    assert values["source_format"] == "prometheus"


def test_service_and_timer_are_two_units_that_fit_together() -> None:
    service, timer = _unit("opskit-gpu-cost.service"), _unit("opskit-gpu-cost.timer")
    assert service["Service"]["Type"] == "oneshot"
    argv = shlex.split(service["Service"]["ExecStart"])
    assert argv[1:3] == ["run", "report_gpu_cost"]
    assert argv[argv.index("-f") + 1] == "/etc/opskit/gpu-cost.yaml"
    assert "Install" not in service, "the timer is enabled, not the service"
    assert timer["Timer"]["OnCalendar"].startswith("Mon ")
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_readme_schedules_pass_data_and_enable_the_timer() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## On a schedule") : readme.index("## Postmortems")]
    cron = re.search(r"```cron\n(.+?)\n```", section, re.S).group(1)
    assert "-f /etc/opskit/gpu-cost.yaml" in cron
    assert "systemctl enable --now opskit-gpu-cost.timer" in section
    assert "BashOperator" in section and "data_interval_end" in section
    for name in ("opskit-gpu-cost.service", "opskit-gpu-cost.timer", "gpu-cost.yaml"):
        assert f"examples/{name}" in section
    assert yaml.safe_load((EXAMPLES / "gpu-cost.yaml").read_text(encoding="utf-8"))
