"""Which line of a file is the evidence when several lines state the same fault."""

from __future__ import annotations

from opskit.analyses.faults.scan import scan

OOM = (
    "HIP out of memory. Tried to allocate 124.00 MiB. GPU 0 has a total capacity of 19.94 GiB of which 554.47 MiB "
    "is free. Of the allocated memory 15.87 GiB is allocated by PyTorch, and 165.29 MiB is reserved by PyTorch but "
    "unallocated."
)


def test_an_unstamped_line_is_not_later_than_the_stamped_lines_after_it(tmp_path):
    # huggingface/autotrain-advanced#737: the exception, then the trainer's logger repeating it with a time
    log = tmp_path / "train.log"
    log.write_text(
        f"torch.OutOfMemoryError: {OOM}\n\n"
        f"ERROR    | 2024-08-21 22:56:04 | autotrain.trainers.common:wrapper:121 - {OOM}\n"
    )
    root = scan(log).root_cause
    assert (root.fault, root.line) == ("cuda_oom", 1)
    assert root.details["timestamp_from"] == "a line after (at the latest)"
    assert str(root.timestamp) == "2024-08-21 22:56:04+00:00"


def test_a_stamped_line_in_another_file_still_wins_when_it_is_earlier(tmp_path):
    (tmp_path / "rank0.log").write_text(f"torch.OutOfMemoryError: {OOM}\n[2024-08-21 22:56:09] step 12\n")
    (tmp_path / "rank1.log").write_text(f"[2024-08-21 22:56:01] torch.OutOfMemoryError: {OOM}\n")
    root = scan(tmp_path).root_cause
    assert (root.file.endswith("rank1.log"), root.line) == (True, 1)


def test_the_launchers_root_cause_is_the_evidence_rather_than_its_generic_error(tmp_path):
    # OEvortex/unsloth#4: torchrun's report after ChildFailedError
    log = tmp_path / "launcher.log"
    log.write_text(
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: \n"
        "Failures:\n  <NO_OTHER_FAILURES>\n"
        "Root Cause (first observed failure):\n[0]:\n  time      : 2025-08-01_11:36:44\n  host      : node-1\n"
        "  rank      : 0 (local_rank: 0)\n  exitcode  : 1 (pid: 11377)\n  error_file: <N/A>\n"
    )
    root = scan(log).root_cause
    assert (root.fault, root.line) == ("worker_failed", 4)
