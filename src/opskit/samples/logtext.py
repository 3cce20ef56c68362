"""Log text that several sample scenarios print the same way, as the real tools print it."""

from __future__ import annotations


def torchrun_failure_report(
    *,
    time: str,
    host: str,
    rank: int,
    local_rank: int,
    exitcode: int,
    pid: int,
    traceback: str,
    script: str = "train.py",
) -> list[str]:
    """The block torchrun prints when a worker fails: ChildFailedError and the root-cause table.

    ``time`` as torchrun writes it (``2026-11-28_09:11:38``); ``traceback`` is the table's last field
    (the hint to enable tracebacks, or the signal that killed the worker).
    """
    return [
        "Traceback (most recent call last):",
        '  File "/usr/local/bin/torchrun", line 8, in <module>',
        "    sys.exit(main())",
        "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
        "============================================================",
        f"{script} FAILED",
        "------------------------------------------------------------",
        "Failures:",
        "  <NO_OTHER_FAILURES>",
        "------------------------------------------------------------",
        "Root Cause (first observed failure):",
        "[0]:",
        f"  time      : {time}",
        f"  host      : {host}",
        f"  rank      : {rank} (local_rank: {local_rank})",
        f"  exitcode  : {exitcode} (pid: {pid})",
        "  error_file: <N/A>",
        f"  traceback : {traceback}",
        "============================================================",
    ]
