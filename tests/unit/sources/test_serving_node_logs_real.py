"""Node-side excerpts an incident comes with (tests/fixtures/real/kubectl, dmesg), as the triage reads them.

The faults area owns the rules; these check, through its public scan, that real pastes are classed and point at
the line a person would point at (lines counted by hand in each file), and that the Xid lines carry the code and
the meaning of the bundled table.
"""

from pathlib import Path

import pytest

from opskit.analyses.faults.scan import scan

REAL = Path(__file__).parents[2] / "fixtures" / "real"
KUBECTL = REAL / "kubectl"
DMESG = REAL / "dmesg"

# the bundled Xid table's meanings (src/opskit/data/xid.csv), copied by hand
FALLEN_OFF = "GPU has fallen off the bus (lost from PCIe)"
GRAPHICS_EXCEPTION = (
    "Graphics engine exception: usually an application fault (illegal access or out-of-range index in a kernel)"
)
PAGE_FAULT = "GPU memory page fault: usually an application illegal memory access"
CHANNEL_RESET = "GPU stopped processing: the application hit a fault and its channel was reset"
CONTAINED_ECC = "Contained ECC error: only the application using the bad memory was affected"
DOUBLE_BIT = "Double-bit (uncorrectable) ECC error in GPU memory"
RETIREMENT_FAILED = "ECC page retirement or row remapping failed to record"
CTX_SWITCH = "Context switch timeout"
ROW_REMAP = "ECC page retirement or row remapping recorded (reset the GPU to apply it)"
RECOVERY_ACTION = "GPU recovery action changed (the driver asks for a reset or reboot)"


def _line(path: Path, number: int) -> str:
    return path.read_text().splitlines()[number - 1]


def _found(path: Path) -> list[tuple[str, int]]:
    return [(f.fault, f.line) for f in scan(path).findings]


def _xids(path: Path) -> list[tuple[int, int, str]]:
    return [(f.line, f.details["xid"]["code"], f.details["xid"]["meaning"]) for f in scan(path).findings]


# --- kubectl describe pod / get events ---


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
    path = KUBECTL / name
    root = scan(path).root_cause
    assert (root.fault, root.line) == ("host_oom", line)
    assert "Reason:       OOMKilled" in _line(path, line)


@pytest.mark.parametrize(
    ("name", "line", "says"),
    [
        ("events_evicted_memory_pressure.log", 1, "The node was low on resource: memory."),
        ("describe_evicted_low_on_memory.log", 11, "The node was low on resource: memory."),
        ("describe_node_podoomkilling_event.log", 5, "Memory cgroup out of memory: Kill process 25169"),
    ],
)
def test_memory_evictions_and_oom_kill_events_are_host_oom_at_the_message(name, line, says):
    path = KUBECTL / name
    root = scan(path).root_cause
    assert (root.fault, root.line) == ("host_oom", line)
    assert says in _line(path, line)


def test_an_eviction_for_memory_pressure_ranks_its_memory_message_over_its_evicted_reason():
    path = KUBECTL / "describe_evicted_low_on_memory.log"
    assert _found(path) == [("host_oom", 11), ("killed_preempted", 10)]
    assert _line(path, 10) == "Reason:         Evicted"


def test_the_condition_event_of_a_second_eviction_is_host_oom_too():
    path = KUBECTL / "events_evicted_memory_pressure.log"
    assert _found(path) == [("host_oom", 1), ("host_oom", 5)]
    assert _line(path, 5).endswith("The node had condition: [MemoryPressure].")


def test_an_exit_143_then_137_pair_without_oom_reason_is_a_kill_not_a_host_oom():
    # the author killed the process by hand, SIGTERM (143) then SIGKILL (137): the SIGTERM keeps 137 a kill
    path = KUBECTL / "describe_error_143_then_137_not_oom.log"
    assert _found(path) == [("killed_preempted", 3), ("killed_preempted", 8)]
    assert "Exit Code:    143" in _line(path, 3) and "Exit Code:    137" in _line(path, 8)


def test_a_liveness_kill_with_exit_143_is_a_kill_at_the_exit_code_line():
    path = KUBECTL / "describe_liveness_error_143_backoff.log"
    assert _found(path) == [("killed_preempted", 12)]
    assert _line(path, 12).strip() == "Exit Code:    143"


def test_an_active_deadline_kill_is_a_kill_at_the_kubelets_message():
    path = KUBECTL / "describe_deadline_exceeded.log"
    assert _found(path) == [("killed_preempted", 11)]
    assert _line(path, 10).endswith("DeadlineExceeded")
    assert _line(path, 11).endswith("Pod was active on the node longer than the specified deadline")


def test_preempted_events_are_kills_and_failed_scheduling_lines_that_mention_preemption_are_not():
    path = KUBECTL / "events_sort_by_preempted_by_pod.log"
    found = _found(path)
    assert ("killed_preempted", 3) in found and ("killed_preempted", 5) in found
    assert not {2, 4} & {line for _, line in found}
    assert "Preempted by pod f30b92f4" in _line(path, 3)
    assert "preemption: 0/3 nodes are available" in _line(path, 2)


@pytest.mark.parametrize(
    "name",
    [
        "events_failedscheduling_insufficient_gpu.log",
        "describe_events_failedscheduling_gpu_scaleup.log",
        "events_failedscheduling_preemption_not_eligible.log",
        "describe_events_backoff_crashloop.log",
    ],
)
def test_scheduling_failures_and_restart_backoff_alone_are_no_fault_of_the_job(name):
    # a pending pod never ran, and a back-off names no cause: nothing here is a kill, an OOM or a GPU fault
    assert scan(KUBECTL / name).findings == []


# --- kernel logs: NVRM Xid lines ---


@pytest.mark.parametrize(
    ("name", "line"), [("xid32_channel_display_reset.log", 2), ("xid32_copy_engine_channel.log", 1)]
)
def test_xid_32_lines_name_the_code_at_the_first_xid_line(name, line):
    root = scan(DMESG / name).root_cause
    assert (root.fault, root.line, root.details["xid"]["code"]) == ("gpu_hardware", line, 32)


@pytest.mark.parametrize(
    ("name", "line", "code", "meaning", "pci"),
    [
        ("xid79_fallen_off_bus_dmesg_T.log", 3, 79, FALLEN_OFF, "0000:a1:00"),
        ("xid43_31_94_dmesg_T_grep_nvrm.log", 4, 43, CHANNEL_RESET, "0000:00:05"),
        ("xid13_graphics_exception_a800.log", 1, 13, GRAPHICS_EXCEPTION, "0000:43:00"),
        ("xid13_109_dmesg_ctime_peermem.log", 2, 13, GRAPHICS_EXCEPTION, "0000:cb:00"),
        ("xid31_mmu_fault_after_boot.log", 4, 31, PAGE_FAULT, "0000:01:00"),
        ("xid63_row_remapper_alert.log", 1, 63, ROW_REMAP, "0000:10:1c"),
        ("xid48_171_63_154_journalctl_k.log", 3, 48, DOUBLE_BIT, "0000:55:00"),
    ],
)
def test_the_first_xid_line_is_the_root_with_its_code_meaning_and_gpu(name, line, code, meaning, pci):
    path = DMESG / name
    root = scan(path).root_cause
    assert (root.fault, root.line) == ("gpu_hardware", line)
    assert (root.details["xid"]["code"], root.details["xid"]["meaning"], root.details["pci"]) == (code, meaning, pci)
    assert f"NVRM: Xid (PCI:{pci}): {code}," in _line(path, line)


def test_a_fallen_off_bus_dump_points_at_the_xid_line_and_keeps_its_time():
    path = DMESG / "xid79_fallen_off_bus_dmesg_T.log"
    result = scan(path)
    assert _xids(path) == [(3, 79, FALLEN_OFF), (4, 79, FALLEN_OFF)]
    assert f"{result.root_cause.timestamp:%Y-%m-%d %H:%M:%S}" == "2024-04-05 21:29:39"
    assert result.findings[1].details["pci"] == "0000:a1:00.0"  # "NVRM: GPU 0000:a1:00.0: GPU has fallen off the bus."


def test_a_fallen_off_bus_message_split_over_lines_without_an_xid_is_read_as_xid_79():
    path = DMESG / "fallen_off_bus_no_xid_multiline.log"
    root = scan(path).root_cause
    assert (root.fault, root.line) == ("gpu_hardware", 3)
    assert (root.details["xid"]["code"], root.details["xid"]["meaning"], root.details["pci"]) == (79, FALLEN_OFF, None)
    assert _line(path, 3).strip() == "NVRM: fallen off the bus and is not responding to commands."
    assert [line for _, line in _found(path)] == [3]


def test_xid_43_31_and_94_on_three_gpus_are_each_decoded_and_the_gpu_banners_are_no_findings():
    path = DMESG / "xid43_31_94_dmesg_T_grep_nvrm.log"
    assert _xids(path) == [(4, 43, CHANNEL_RESET), (5, 43, CHANNEL_RESET), (8, 31, PAGE_FAULT), (11, 94, CONTAINED_ECC)]
    assert "Contained: SM (0x1)" in _line(path, 11)


def test_xid_48_and_64_are_decoded_amid_adapter_init_failures_of_another_gpu():
    path = DMESG / "xid48_64_dbe_syslog.log"
    result = scan(path)
    assert (result.root_cause.fault, result.root_cause.line) == ("gpu_hardware", 1)
    assert "rm_init_adapter failed" in _line(path, 1)
    assert [line for _, line in _found(path)] == list(range(1, 10))  # every line is the driver failing
    xids = [
        (f.line, f.details["xid"]["code"], f.details["xid"]["meaning"]) for f in result.findings if "xid" in f.details
    ]
    assert xids == [(4, 48, DOUBLE_BIT), (5, 64, RETIREMENT_FAILED)]
    assert "uncorrectable double bit error (DBE)" in _line(path, 4)


def test_a_context_switch_timeout_follows_the_graphics_exceptions_and_the_peermem_error_is_no_gpu_fault():
    path = DMESG / "xid13_109_dmesg_ctime_peermem.log"
    assert _xids(path) == [
        (2, 13, GRAPHICS_EXCEPTION),
        (3, 13, GRAPHICS_EXCEPTION),
        (4, 13, GRAPHICS_EXCEPTION),
        (5, 109, CTX_SWITCH),
    ]
    assert "nvidia-peermem" in _line(path, 1)


def test_a_double_bit_error_chain_decodes_every_xid_after_the_gpu_banner():
    path = DMESG / "xid48_171_63_154_journalctl_k.log"
    found = [(f.line, f.details["xid"]["code"]) for f in scan(path).findings]
    assert found == [(3, 48), (4, 171), (5, 48), (6, 63), (7, 154)]
    meanings = {f.line: f.details["xid"]["meaning"] for f in scan(path).findings}
    assert (meanings[6], meanings[7]) == (ROW_REMAP, RECOVERY_ACTION)
    assert "to 0x4 (Drain and Reset)" in _line(path, 7)


# --- kernel logs: OOM killer and ordinary kernel lines ---


@pytest.mark.parametrize(
    "name", ["oom_killer_xfstests_xdg_portal.log", "oom_killed_python3_dmesg_T.log", "oom_killed_python_syslog_pi.log"]
)
def test_kernel_oom_killer_lines_are_host_oom_at_the_killed_process_line(name):
    path = DMESG / name
    root = scan(path).root_cause
    assert (root.fault, root.line) == ("host_oom", 1)
    assert "Out of memory: Killed process" in _line(path, 1)


@pytest.mark.parametrize(
    ("name", "lines", "says"),
    [
        ("memcg_oom_uwsgi_call_trace.log", [1, 3], "Memory cgroup out of memory: Killed process 63214 (uwsgi)"),
        ("oom_killed_journal_kernel_slub.log", [4, 6], "kernel: [  518.222649] Out of memory: Killed process 15801"),
        ("memcg_oom_kubepods_journal_no_kill_line.log", [1], "killed as a result of limit of /kubepods.slice/"),
    ],
)
def test_oom_killer_reports_in_journal_and_cgroup_forms_are_host_oom_at_their_first_line(name, lines, says):
    path = DMESG / name
    assert _found(path) == [("host_oom", line) for line in lines]
    assert says in _line(path, lines[0])


def test_a_hung_task_window_is_not_a_gpu_fault_nor_any_other():
    path = DMESG / "hung_task_kworker_not_gpu.log"
    assert scan(path).findings == []
    assert "blocked for more than 120 seconds" in _line(path, 1)
