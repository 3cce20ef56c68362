"""Structured extraction: CUDA OOM figures and class, NCCL watchdog progress, torchrun reports, Xid codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.analyses.faults.cuda_oom import classify_oom, parse_cuda_oom
from opskit.analyses.faults.distributed import parse_nccl_watchdog, parse_torchrun_failure
from opskit.analyses.faults.xid import decode_xid, parse_xid_line, xid_table
from opskit.sources.timestamps import parse_timestamp

LOGS = Path(__file__).resolve().parents[3] / "fixtures" / "logs"


def _line(name: str, needle: str) -> str:
    return next(t for t in (LOGS / name).read_text().splitlines() if needle in t)


def test_pytorch2_oom_figures_in_mib():
    oom = parse_cuda_oom(_line("cuda_oom_pytorch2.log", "Tried to allocate"))
    assert oom.gpu == 0
    assert oom.requested_mib == pytest.approx(3.91 * 1024)
    assert oom.total_mib == pytest.approx(79.25 * 1024)
    assert oom.free_mib == pytest.approx(2.01 * 1024)
    assert oom.allocated_mib == pytest.approx(74.80 * 1024)
    assert oom.reserved_unallocated_mib == pytest.approx(1.12 * 1024)
    assert oom.other_processes == ()
    # 1.12 GiB cached-but-free cannot hold a 3.91 GiB request: the job is simply too big
    assert oom.classification == "capacity"
    assert oom.expandable_segments_set is False  # PyTorch's own hint does not count as set


def test_other_process_on_the_gpu_is_contention():
    oom = parse_cuda_oom(_line("cuda_oom_contention_other_process.log", "Tried to allocate"))
    assert oom.other_processes == ((40122, pytest.approx(9.80 * 1024)),)
    assert oom.classification == "contention"
    assert "other processes hold" in oom.suggestion


def test_fragmentation_suggests_expandable_segments_only_when_not_set():
    text = _line("multirank_oom_rank3/rank3.log", "Tried to allocate")
    oom = parse_cuda_oom(text)
    assert oom.classification == "fragmentation"
    assert "expandable_segments:True" in oom.suggestion
    already = parse_cuda_oom(text, alloc_conf="expandable_segments:True,max_split_size_mb:512")
    assert already.expandable_segments_set
    assert already.classification == "fragmentation"
    assert "set PYTORCH_CUDA_ALLOC_CONF" not in already.suggestion


def test_pytorch1_format_reserved_minus_allocated():
    oom = parse_cuda_oom(_line("cuda_oom_pytorch1_format.log", "Tried to allocate"))
    assert oom.requested_mib == pytest.approx(20.0)
    assert oom.total_mib == pytest.approx(15.78 * 1024)
    assert oom.allocated_mib == pytest.approx(14.56 * 1024)
    assert oom.reserved_unallocated_mib == pytest.approx((14.73 - 14.56) * 1024)
    assert oom.classification == "fragmentation"  # 174 MiB cached covers the 20 MiB request


def test_tensorflow_oom_has_no_figures():
    oom = parse_cuda_oom(_line("cuda_oom_tensorflow.log", "OOM when allocating"))
    assert oom.classification == "unknown" and oom.requested_mib is None


@pytest.mark.parametrize(
    ("req", "total", "reserved_free", "others", "expected"),
    [
        (1024, 80_000, 100, 0, "capacity"),
        (1024, 80_000, 2048, 0, "fragmentation"),
        (1024, 80_000, 0, 8000, "contention"),
    ],
)
def test_classify_oom(req, total, reserved_free, others, expected):
    assert classify_oom(req, total, reserved_free, others) == expected


def test_watchdog_across_ranks_finds_lagging_and_missing():
    lines = [
        *(LOGS / "multirank_oom_rank3" / "rank0.log").read_text().splitlines(),
        *(LOGS / "multirank_oom_rank3" / "rank1.log").read_text().splitlines(),
        *(LOGS / "multirank_oom_rank3" / "rank2.log").read_text().splitlines(),
        "[rank4]:[E1128 09:21:41.1 1 x.cpp:1] [PG 0 (default_pg) Rank 4] Exception (either an error or timeout) "
        "detected by watchdog at work: 9020, last enqueued NCCL work: 9017, last completed NCCL work: 9017.",
    ]
    wd = parse_nccl_watchdog(lines, expected_ranks=range(5))
    assert (wd.seq_num, wd.op_type, wd.timeout_ms, wd.ran_for_ms) == (9020, "ALLREDUCE", 600000, 600112)
    assert wd.numel_in == 4194304
    assert wd.ranks[0].last_enqueued == 9020 and wd.ranks[0].last_completed == 9019
    assert wd.lagging_ranks == (4,)
    assert wd.missing_ranks == (3,)  # rank 3 died of OOM and never reported
    assert wd.timed_out_ranks == (0, 1, 2, 4)


def test_torchrun_root_cause_block_and_record_hint():
    tr = parse_torchrun_failure((LOGS / "torchrun_sigkill_host_oom" / "launcher.log").read_text())
    assert tr.script == "pretrain.py"
    assert tr.root_cause.rank == 0 and tr.root_cause.exitcode == -9 and tr.root_cause.signal == "SIGKILL"
    assert tr.root_cause.host == "cpu-heavy-04" and tr.root_cause.pid == 7010
    assert [(f.rank, f.signal) for f in tr.failures] == [(1, "SIGTERM")]
    assert tr.record_hint and "@record" in tr.record_hint


def test_torchrun_no_other_failures_exit_code_one():
    tr = parse_torchrun_failure((LOGS / "multirank_oom_rank3" / "launcher.log").read_text())
    assert tr.failures == ()
    assert (tr.root_cause.rank, tr.root_cause.local_rank, tr.root_cause.exitcode) == (3, 3, 1)
    assert tr.root_cause.signal is None


def test_torchrun_with_record_has_no_hint():
    text = (
        "Root Cause (first observed failure):\n[0]:\n  rank      : 2 (local_rank: 2)\n"
        "  exitcode  : 1 (pid: 9)\n  error_file: /tmp/torchelastic_x/error.json\n"
    )
    assert parse_torchrun_failure(text).record_hint is None


def test_xid_decode_and_line():
    assert decode_xid(79).action == "drain and reboot"
    assert decode_xid("48").action == "reset GPU"
    assert decode_xid(13).action == "restart app"
    assert decode_xid(99999).known is False
    assert parse_xid_line(_line("gpu_hardware_xid79.log", "Xid")) == (79, "0000:b3:00")
    actions = {x.action for x in xid_table().values()}
    assert actions <= {"restart app", "reset GPU", "drain and reboot", "contact support"}
    assert all(x.source for x in xid_table().values())


@pytest.mark.parametrize(
    ("text", "iso", "stated"),
    [
        ("2026-11-28 10:02:11,123 INFO x", "2026-11-28T10:02:11.123000+00:00", True),
        ("2026-11-28T10:02:11+02:00 x", "2026-11-28T08:02:11+00:00", True),
        ("[rank0]:[E1128 09:21:40.881022 4100 x.cpp:1]", "2026-11-28T09:21:40.881022+00:00", False),
        ("[Sat Nov 28 16:07:30 2026] Memory cgroup", "2026-11-28T16:07:30+00:00", True),
        ("  time      : 2026-11-28_09:11:40", "2026-11-28T09:11:40+00:00", True),
    ],
)
def test_parse_timestamp(text, iso, stated):
    ts, has_year = parse_timestamp(text, default_year=2026)
    assert ts.isoformat() == iso and has_year is stated


def test_no_timestamp():
    assert parse_timestamp("plain text") == (None, False)
