"""Triage on real failure logs and healthy windows from public issue threads (tests/fixtures/real/*_logs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from opskit.analyses.faults.metrics import MetricWatch
from opskit.analyses.faults.scan import scan
from opskit.privacy import mask
from opskit.runbooks.triage_job_sections import excerpt
from opskit.sources.timestamps import parse_timestamp

REAL = Path(__file__).resolve().parents[3] / "fixtures" / "real"


def _entries(kind: str) -> list[dict]:
    return yaml.safe_load((REAL / kind / "expected.yaml").read_text())["files"]


def test_corpus_index_lists_every_file_and_every_file_has_a_source():
    for kind in ("failure_logs", "healthy_logs"):
        listed = {e["file"] for e in _entries(kind)}
        on_disk = {p.name for p in (REAL / kind).glob("*.log")}
        sources = (REAL / kind / "SOURCES.md").read_text()
        assert listed == on_disk
        assert all(f"| {name} | https://github.com/" in sources for name in listed)


@pytest.mark.parametrize("entry", _entries("failure_logs"), ids=lambda e: e["file"])
def test_real_failure_log_root_cause_class_and_evidence_line(entry):
    root = scan(REAL / "failure_logs" / entry["file"]).root_cause
    assert root is not None
    assert (root.fault, root.line) == (entry["class"], entry["line"])
    # the excerpt a report shows marks the evidence line itself, also where the evidence moved from the line that
    # proved it (a run of non-finite values reported where it began, a traceback's code line handing over)
    marked = next(line for line in excerpt(root, before=1, after=1).splitlines() if line.startswith(">"))
    text = (REAL / "failure_logs" / entry["file"]).read_bytes().split(b"\n")[root.line - 1]
    assert marked.split(" | ", 1)[1].strip() == mask(text.decode("utf-8", "replace").rstrip("\r")[:2000]).strip()


@pytest.mark.parametrize("entry", _entries("healthy_logs"), ids=lambda e: e["file"])
def test_real_healthy_window_raises_no_fault(entry):
    assert scan(REAL / "healthy_logs" / entry["file"]).findings == []


def test_sigkill_without_other_cause_reads_as_host_oom_but_sigterm_keeps_it_a_kill(tmp_path):
    kill = tmp_path / "kill.log"
    kill.write_text("ERROR:torch.distributed.elastic.multiprocessing.api:failed (exitcode: -9) local_rank: 0\n")
    found = scan(kill).root_cause
    assert found.fault == "host_oom" and "inferred" in found.details
    kill.write_text(
        "W1130 12:13:49.388000 1 api.py:723] Received 15 death signal, shutting down workers\n"
        "ERROR:torch.distributed.elastic.multiprocessing.api:failed (exitcode: -9) local_rank: 0\n"
    )
    assert {f.fault for f in scan(kill).findings} == {"killed_preempted"}


def test_one_nonfinite_grad_norm_at_warmup_is_not_a_divergence_but_a_run_of_three_is():
    watch = MetricWatch()
    for i, grad in enumerate(["nan", "3.9", "nan", "nan"], start=1):
        watch.feed(i, f"Epoch [1][{i}00/900]  lr: 1.0e-03, loss: 1.9, grad_norm: {grad}")
    assert watch.found is None
    watch.feed(5, "Epoch [1][500/900]  lr: 1.0e-03, loss: 1.8, grad_norm: nan")
    assert watch.found is not None and watch.found[0] == 3


def test_glog_month_without_zero_padding_and_no_stamp_in_the_future():
    ts, stated = parse_timestamp("[rank1]:[E626 06:24:44.903881913 ProcessGroupNCCL.cpp:616] x", default_year=2025)
    assert (ts.month, ts.day, ts.hour, stated) == (6, 26, 6, False)
    ts, _ = parse_timestamp("[rank0]:[E321 02:07:08.408271257 x", default_year=2025)
    assert (ts.month, ts.day) == (3, 21)
    import pandas as pd

    now = pd.Timestamp.now(tz="UTC")
    for text in ("E1231 23:59:00.000000 x", "Dec 31 23:59:00 node kernel: x", "E0101 00:00:01.000000 x"):
        ts, _ = parse_timestamp(text)
        assert ts <= now + pd.Timedelta(days=1) and ts > now - pd.Timedelta(days=367)


def _oom(name: str):
    from opskit.analyses.faults.cuda_oom import parse_cuda_oom

    text = (REAL / "failure_logs" / name).read_text()
    return parse_cuda_oom(next(line for line in text.splitlines() if "out of memory" in line.lower()))


def test_oom_1x_cached_wording_keeps_total_free_and_the_cached_figure():
    oom = _oom("oom_1x_kib_cached_rcf.log")  # 3.95 GiB total; 3.46 GiB allocated; 1.06 MiB free; 60.00 KiB cached
    assert (oom.gpu, round(oom.total_mib, 1), oom.free_mib, round(oom.reserved_unallocated_mib, 3)) == (
        0,
        4044.8,
        1.06,
        0.059,
    )


def test_oom_zero_bytes_free_and_the_2_1_capacty_typo_are_read():
    oom = _oom("oom_2_1_capacty_zero_free.log")  # total capacty of 6.00 GiB of which 0 bytes is free
    assert (oom.total_mib, oom.free_mib, oom.classification) == (6144.0, 0.0, "fragmentation")
    assert _oom("oom_1_10_reserved_zero_free.log").free_mib == 0.0


def test_a_request_larger_than_the_gpu_is_capacity_and_never_told_to_set_expandable_segments():
    oom = _oom("oom_2_1_capacty_larger_than_gpu.log")  # 55.57 GiB asked of a 12.00 GiB GPU
    assert oom.classification == "capacity"
    assert "expandable_segments" not in oom.suggestion and "larger than the whole GPU" in oom.suggestion


def test_the_jobs_own_process_in_a_container_is_not_contention():
    oom = _oom("oom_2_1_process_in_container.log")  # Process 20398 has 14.52 GiB; PyTorch holds 14.06 + 0.33 GiB
    assert oom.own_process_pid == 20398 and oom.other_processes == () and oom.classification != "contention"


def test_the_hip_hint_in_the_message_is_not_the_users_setting():
    from opskit.analyses.faults.cuda_oom import parse_cuda_oom

    oom = parse_cuda_oom(
        "torch.OutOfMemoryError: HIP out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
        "63.98 GiB of which 1.02 GiB is free. Of the allocated memory 60.10 GiB is allocated by PyTorch, and "
        "1.50 GiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting "
        "PYTORCH_HIP_ALLOC_CONF=expandable_segments:True to avoid fragmentation."
    )
    assert oom.total_mib == 63.98 * 1024 and not oom.expandable_segments_set


def _cut_gzip(path: Path) -> Path:
    import gzip

    body = b"".join(b"step %d loss 2.0\n" % i for i in range(20000))
    data = gzip.compress(b"torch.distributed.DistBackendError: NCCL error in: x.cpp:1, unhandled system error\n" + body)
    path.write_bytes(data[: len(data) // 2])
    return path


def test_a_truncated_gz_keeps_what_was_found_and_says_how_much_was_read(tmp_path):
    from opskit.analyses.faults.verdicts import finding_verdicts
    from opskit.checks import Status

    result = scan(_cut_gzip(tmp_path / "job.log.gz"))
    assert result.root_cause.fault == "nccl_error" and result.lines_read > 1000
    (gap,) = [v for v in finding_verdicts(result) if v.subject.endswith("job.log.gz") and v.status == Status.WARN]
    assert "not read in full" in gap.message and f"{result.lines_read:,} lines" in gap.message


def test_an_empty_log_is_nothing_to_judge_never_pass(tmp_path):
    from opskit.analyses.faults.verdicts import finding_verdicts
    from opskit.checks import Status

    (tmp_path / "empty.log").write_text("")
    (row,) = finding_verdicts(scan(tmp_path / "empty.log"))
    assert row.status == Status.WARN and "nothing to judge" in row.message


def test_diagnose_json_never_prints_an_empty_list_for_a_log_not_read_in_full(tmp_path, capsys):
    import json

    from opskit.cli import main

    (tmp_path / "empty.log").write_text("")
    assert main(["diagnose", "--json", str(tmp_path / "empty.log")]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["lines_read"] == 0 and out["findings"] == []
