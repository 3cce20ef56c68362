"""Node-side excerpts an incident comes with (tests/fixtures/real/kubectl, dmesg), as the triage reads them.

The faults area owns the rules; these check, through its public scan, that real pastes are classed and point at
the line a person would point at (lines counted by hand in each file).
"""

from pathlib import Path

import pytest

from opskit.analyses.faults.scan import scan

REAL = Path(__file__).parents[2] / "fixtures" / "real"


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("describe_launcher_init_oomkilled.log", 6),
        ("describe_crashloop_oomkilled_restart_65.log", 6),
        ("describe_simmemleak_oomkilled.log", 10),
        ("describe_oomkilled_after_36h.log", 2),
        ("describe_limit_4gi_oomkilled.log", 9),
    ],
)
def test_kubectl_describe_oomkilled_is_host_oom_at_the_reason_line(name, line):
    path = REAL / "kubectl" / name
    root = scan(path).root_cause
    assert (root.fault, root.line) == ("host_oom", line)
    assert "Reason:       OOMKilled" in path.read_text().splitlines()[line - 1]


@pytest.mark.parametrize(
    "name", ["oom_killer_xfstests_xdg_portal.log", "oom_killed_python3_dmesg_T.log", "oom_killed_python_syslog_pi.log"]
)
def test_kernel_oom_killer_lines_are_host_oom_at_the_killed_process_line(name):
    path = REAL / "dmesg" / name
    root = scan(path).root_cause
    assert (root.fault, root.line) == ("host_oom", 1)
    assert "Out of memory: Killed process" in path.read_text().splitlines()[0]


@pytest.mark.parametrize(
    ("name", "line"), [("xid32_channel_display_reset.log", 2), ("xid32_copy_engine_channel.log", 1)]
)
def test_xid_32_lines_name_the_code_at_the_first_xid_line(name, line):
    root = scan(REAL / "dmesg" / name).root_cause
    assert (root.fault, root.line, root.details["xid"]["code"]) == ("gpu_hardware", line, 32)
