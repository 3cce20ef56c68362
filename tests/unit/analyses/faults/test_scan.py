"""The fault scanner names the right class and line on every fixture, and nothing on healthy logs."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from opskit.analyses.faults import findings as faults
from opskit.analyses.faults.catalogue import FAULT_CLASSES, classify_line, load_catalogue
from opskit.analyses.faults.scan import scan
from opskit.errors import InputError

LOGS = Path(__file__).resolve().parents[3] / "fixtures" / "logs"

# fixture -> (root-cause class, file name, line): read off the fixture files, where each fault was planted.
EXPECTED = {
    "corrupt_checkpoint.log": ("corrupt_checkpoint", "corrupt_checkpoint.log", 9),
    "cuda_illegal_access_deepspeed.log": ("cuda_illegal_access", "cuda_illegal_access_deepspeed.log", 5),
    "cuda_oom_contention_other_process.log": ("cuda_oom", "cuda_oom_contention_other_process.log", 7),
    "cuda_oom_pytorch1_format.log": ("cuda_oom", "cuda_oom_pytorch1_format.log", 5),
    "cuda_oom_pytorch2.log": ("cuda_oom", "cuda_oom_pytorch2.log", 14),
    "cuda_oom_tensorflow.log": ("cuda_oom", "cuda_oom_tensorflow.log", 4),
    "cuda_version_mismatch.log": ("cuda_version_mismatch", "cuda_version_mismatch.log", 3),
    "no_kernel_image.log": ("cuda_version_mismatch", "no_kernel_image.log", 2),
    "data_error_dataloader.log": ("data_error", "data_error_dataloader.log", 7),
    "device_assert.log": ("cuda_illegal_access", "device_assert.log", 1),
    "disk_full_checkpoint.log": ("disk_full", "disk_full_checkpoint.log", 7),
    "gbk_disk_full.log": ("disk_full", "gbk_disk_full.log", 2),
    "gpu_hardware_xid79.log": ("gpu_hardware", "gpu_hardware_xid79.log", 2),
    "host_oom_dmesg.log": ("host_oom", "host_oom_dmesg.log", 1),
    "host_oom_slurm.out": ("host_oom", "host_oom_slurm.out", 3),
    "killed_preempted_slurm.out": ("killed_preempted", "killed_preempted_slurm.out", 2),
    "nan_loss_hf_trainer.log": ("nan_loss", "nan_loss_hf_trainer.log", 4),
    "nan_loss_lightning.log": ("nan_loss", "nan_loss_lightning.log", 1),
    "nccl_error_ib.log": ("nccl_error", "nccl_error_ib.log", 3),
    "nccl_timeout_rank0.log": ("nccl_timeout", "nccl_timeout_rank0.log", 3),
    "state_dict_mismatch.log": ("state_dict_mismatch", "state_dict_mismatch.log", 7),
    # the cause is on another rank than the timeouts everyone reads first
    "multirank_oom_rank3": ("cuda_oom", "rank3.log", 7),
    # the kill is explained by the kernel's OOM killer in another file
    "torchrun_sigkill_host_oom": ("host_oom", "dmesg.log", 1),
    # the cause comes last in the file but first in time (Xid 48 before the NCCL failures)
    "late_cause_ecc_after_nccl.log": ("gpu_hardware", "late_cause_ecc_after_nccl.log", 6),
}
HEALTHY = sorted(p.name for p in LOGS.glob("healthy_*"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_root_cause_class_and_line_on_every_fixture(name):
    result = scan(LOGS / name)
    fault, file, line = EXPECTED[name]
    rc = result.root_cause
    assert rc is not None
    assert (rc.fault, Path(rc.file).name, rc.line) == (fault, file, line)
    assert rc.next_step and rc.meaning
    assert result.ranking_reason.startswith(fault)


def test_every_class_of_the_issue_has_a_fixture():
    assert {fault for fault, _, _ in EXPECTED.values()} >= set(FAULT_CLASSES)


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_logs_full_of_harmless_warnings_give_nothing(name):
    result = scan(LOGS / name)
    assert result.findings == []
    assert result.root_cause is None
    assert result.lines_read > 5


def test_catalogue_has_exactly_the_issue_names_and_compiles():
    cat = load_catalogue()
    assert set(FAULT_CLASSES) <= set(cat.names)
    for c in cat.classes:
        assert c.patterns and c.meaning and c.next_step
        assert 1 <= c.tier <= 7


@pytest.mark.parametrize(
    "line",
    [
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768",
        "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 32768.0",
        "Some weights of BertModel were not initialized from the model checkpoint and are newly initialized",
        "node:1:2 [0] NCCL INFO NET/IB : Got completion with error 12",
        "FutureWarning: torch.load with weights_only=False; FileNotFoundError will be raised",
        "'loss_scale': inf",
    ],
)
def test_harmless_lines_are_not_faults(line):
    assert classify_line(line) is None


@pytest.mark.parametrize(
    ("line", "fault"),
    [
        # never-seen variants: general signatures, not copies of the fixtures
        ("RuntimeError: CUDA error: out of memory", "cuda_oom"),
        (
            "ERROR: Unexpected bus error encountered in worker. "
            "This might be caused by insufficient shared memory (shm).",
            "host_oom",
        ),
        ("  Reason: OOMKilled", "host_oom"),
        ("OSError: [Errno 122] Disk quota exceeded: '/home/u/.cache/huggingface'", "disk_full"),
        ("iteration 200 | lm loss: NaN | grad norm: nan", "nan_loss"),
        ("_pickle.UnpicklingError: invalid load key, '\\x00'.", "corrupt_checkpoint"),
        ("NCCL WARN Cuda failure 'out of memory'", "cuda_oom"),
        (
            "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system error",
            "nccl_error",
        ),
        ("NVRM: Xid (PCI:0000:3b:00): 94, pid=1, Contained: CE User Channel (0x9)", "gpu_hardware"),
        (
            "ImportError: libcudart.so.12: cannot open shared object file: No such file or directory",
            "cuda_version_mismatch",
        ),
        ("RuntimeError: CUDA error: an illegal memory access was encountered", "cuda_illegal_access"),
        (
            "slurmstepd: error: *** STEP 12.0 ON n1 CANCELLED AT 2026-11-28T01:00:00 DUE TO TIME LIMIT ***",
            "killed_preempted",
        ),
        ("ValueError: Layer 'dense' expected 2 variables, but the saved weights have 3", "state_dict_mismatch"),
        (
            "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate",
            "cuda_oom",
        ),
        ("slurmstepd: error: Exceeded job memory limit", "host_oom"),
        ("Killed", "killed_preempted"),
        ("    Last State:     Terminated  Reason: Error  Exit Code:    137", "killed_preempted"),
        ("RuntimeError: CUDA error: uncorrectable NVLink error detected during the execution", "gpu_hardware"),
        (
            "UserWarning: The detected CUDA version (12.1) mismatches the version that was used to compile "
            "PyTorch (11.8)",
            "cuda_version_mismatch",
        ),
        ("OSError: image file is truncated (3 bytes not processed)", "data_error"),
        ("torch.distributed.DistNetworkError: Connection reset by peer", "nccl_error"),
        (" iteration 5000/ 10000 | found NaN in local grad norm in backward pass", "nan_loss"),
    ],
)
def test_classify_general_variants(line, fault):
    found = classify_line(line)
    assert found is not None and found.name == fault


def test_multirank_ranking_puts_oom_before_watchdog_and_explains():
    result = scan(LOGS / "multirank_oom_rank3")
    order = result.faults
    assert order.index("cuda_oom") < order.index("nccl_timeout") < order.index("worker_failed")
    rc = result.root_cause
    assert rc.rank == 3
    assert rc.details["oom"]["classification"] == "fragmentation"
    assert "nccl_timeout" in result.ranking_reason and "rank 3" in result.ranking_reason
    timeouts = [f for f in result.findings if f.fault == "nccl_timeout"]
    assert {f.rank for f in timeouts} == {0, 1, 2}
    assert [f.timestamp for f in timeouts] == sorted(f.timestamp for f in timeouts)
    root = [f for f in result.findings if "torchrun" in f.details]
    assert root and root[0].details["torchrun"]["root_cause"]["rank"] == 3
    assert "@record" in root[0].details["hint"]
    assert result.files_read == 5 and result.lines_read == 43


def test_first_failure_in_time_across_ranks_wins_within_a_tier(tmp_path):
    (tmp_path / "rank0.log").write_text(
        "2026-11-28 10:05:00 RuntimeError: CUDA out of memory. Tried to allocate 1.00 GiB\n"
    )
    (tmp_path / "rank1.log").write_text(
        "2026-11-28 10:01:00 RuntimeError: CUDA out of memory. Tried to allocate 1.00 GiB\n"
    )
    result = scan(tmp_path)
    assert result.root_cause.rank == 1
    assert "first failure in time" in result.ranking_reason


def test_hyperscan_and_re_engines_give_the_same_findings():
    pytest.importorskip("hyperscan")
    for name in [*EXPECTED, *HEALTHY]:
        a = scan(LOGS / name, engine="hyperscan")
        b = scan(LOGS / name, engine="re")
        assert [(f.fault, f.file, f.line) for f in a.findings] == [(f.fault, f.file, f.line) for f in b.findings], name
        assert (a.lines_read, a.bytes_read) == (b.lines_read, b.bytes_read)


def test_tiny_blocks_give_the_same_findings_and_line_numbers():
    big = scan(LOGS / "multirank_oom_rank3")
    for block in (7, 64, 333):
        small = scan(LOGS / "multirank_oom_rank3", block_bytes=block)
        assert [(f.fault, f.file, f.line) for f in small.findings] == [(f.fault, f.file, f.line) for f in big.findings]
        assert small.lines_read == big.lines_read


def test_findings_per_file_are_capped_but_counted(tmp_path):
    line = "RuntimeError: NCCL error in: x.cpp:1, unhandled system error\n"
    (tmp_path / "spam.log").write_text(line * 500)
    result = scan(tmp_path / "spam.log")
    assert len(result.findings) == faults.MAX_FINDINGS_PER_FILE
    assert result.counts["nccl_error"] == 500


def test_gzip_and_plain_give_the_same_findings(tmp_path):
    src = (LOGS / "cuda_oom_pytorch2.log").read_bytes()
    (tmp_path / "train.log.gz").write_bytes(gzip.compress(src))
    result = scan(tmp_path / "train.log.gz")
    assert (result.root_cause.fault, result.root_cause.line) == ("cuda_oom", 14)


def test_evidence_is_masked(tmp_path):
    (tmp_path / "a.log").write_text(
        "OSError: [Errno 28] No space left on device: '/home/alice/ckpt' token=hf_abcdefghijklmnopqrstuvwxyz12\n"
    )
    text = scan(tmp_path / "a.log").root_cause.text
    assert "alice" not in text and "hf_abcdefghij" not in text


def test_missing_path_and_nothing_readable_raise_input_error(tmp_path):
    with pytest.raises(InputError) as err:
        scan(tmp_path / "nope.log")
    assert err.value.path.endswith("nope.log")
    (tmp_path / "core.bin").write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InputError) as err:
        scan(tmp_path / "core.bin")
    assert "binary" in err.value.message


def test_empty_file_is_read_with_no_finding(tmp_path):
    (tmp_path / "empty.log").write_bytes(b"")
    result = scan(tmp_path / "empty.log")
    assert result.files_read == 1 and result.lines_read == 0 and not result.findings


def test_long_lines_and_garbage_survive(tmp_path):
    junk = bytes(range(256)) * 40
    data = b"x" * 3_000_000 + b"\n" + junk + b"\nRuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
    (tmp_path / "big.log").write_bytes(b"2026-11-28 01:00:00 start\n" + data)
    result = scan(tmp_path / "big.log", block_bytes=1 << 20)
    assert result.root_cause.fault == "cuda_oom"
    assert result.root_cause.line == 2 + junk.count(b"\n") + 2


def test_to_frame_and_to_dict():
    result = scan(LOGS / "multirank_oom_rank3")
    frame = result.to_frame()
    assert list(frame.columns[:3]) == ["fault", "file", "line"]
    assert frame.iloc[0]["fault"] == "cuda_oom"
    d = result.to_dict()
    assert d["root_cause"]["fault"] == "cuda_oom" and len(d["findings"]) == len(result.findings)


def test_custom_catalogue_and_bad_pattern(tmp_path):
    good = tmp_path / "cat.yaml"
    good.write_text(
        "classes:\n  widget_jam:\n    tier: 3\n    meaning: m\n    next_step: n\n    patterns: ['widget jammed']\n"
    )
    (tmp_path / "a.log").write_text("ok\nERROR widget jammed at 3\n")
    result = scan(tmp_path / "a.log", catalogue=good)
    assert (result.root_cause.fault, result.root_cause.line) == ("widget_jam", 2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("classes:\n  x:\n    meaning: m\n    next_step: n\n    patterns: ['(unclosed']\n")
    with pytest.raises(InputError):
        load_catalogue(bad)


def test_directory_with_thousands_of_files(tmp_path):
    for i in range(2000):
        (tmp_path / f"worker-{i}.log").write_text(f"2026-11-28 10:00:00 INFO worker {i} step 1 loss 2.0\n")
    (tmp_path / "worker-1500.log").write_text("2026-11-28 10:00:01 OSError: [Errno 28] No space left on device\n")
    result = scan(tmp_path)
    assert result.files_read == 2000 and result.lines_read == 2000
    assert (result.root_cause.fault, result.root_cause.rank) == ("disk_full", 1500)


def test_rank_prefix_wins_over_file_name(tmp_path):
    (tmp_path / "rank0.log").write_text("[rank5]: RuntimeError: CUDA error: an illegal memory access was encountered\n")
    assert scan(tmp_path).root_cause.rank == 5


def test_required_literal_for_the_re_prefilter():
    from opskit.analyses.faults.engines import required_literal

    assert required_literal(r"Signal (9|15) \(SIG(KILL|TERM)\) received by PID") == b") received by pid"
    assert required_literal(r"DUE TO (PREEMPTION|TIME LIMIT|NODE FAILURE)") == b"due to "
    assert required_literal(r"loss\b['\"]?[ \t]*[:=]?[ \t]*['\"]?nan\b") == b"nan"  # rarer than "loss"
    assert required_literal(r"(ab|cd)") == b""


@pytest.mark.parametrize("engine", ["re", "hyperscan"])
def test_line_anchored_pattern_in_the_middle_of_a_block(tmp_path, engine):
    if engine == "hyperscan":
        pytest.importorskip("hyperscan")
    (tmp_path / "job.out").write_text("step 1\nstep 2\nKilled\nnot Killed here\n")
    result = scan(tmp_path / "job.out", engine=engine)
    # a bare "Killed" with nothing else to explain it is read as the OOM killer's SIGKILL
    assert [(f.fault, f.line) for f in result.findings] == [("host_oom", 3)]


def test_catalogue_that_is_not_a_mapping_is_an_input_error(tmp_path):
    odd = tmp_path / "list.yaml"
    odd.write_text("- just\n- a list\n")
    with pytest.raises(InputError) as err:
        load_catalogue(odd)
    assert err.value.path == str(odd) and "mapping" in err.value.message
