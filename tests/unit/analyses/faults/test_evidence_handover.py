"""Rules read for what a line means: the line a header or a traceback's code line introduces holds the
evidence, a command typed at a prompt is no evidence, and other wordings of the same faults are read alike.

Lines marked real are quoted from the fixture or public thread named beside them; built lines follow their format.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.analyses.faults.catalogue import classify_line
from opskit.analyses.faults.evidence import is_code_line, statement_after
from opskit.analyses.faults.metrics import big_loss
from opskit.analyses.faults.scan import scan

REAL = Path(__file__).resolve().parents[3] / "fixtures" / "real"


def _lines(*texts: str, at: int = 0) -> dict[int, str]:
    return {i - at: t for i, t in enumerate(texts)}


def test_a_tracebacks_code_line_hands_over_to_the_exception_line_below_its_frames():
    lines = _lines(
        '  File "/usr/lib/python3.8/json/decoder.py", line 355, in raw_decode',
        '    raise JSONDecodeError("Expecting value", s, err.value) from None',
        "json.decoder.JSONDecodeError: Expecting value: line 1 column 2 (char 1)",
        at=1,
    )
    assert is_code_line(lines) and statement_after(lines) == 1
    # Python 3.11+: caret marks and further frames lie between the code line and the exception line
    deeper = _lines(
        '[rank0]:   File "/w/train.py", line 9, in main',
        "[rank0]:     data = load(path)",
        "[rank0]:            ^^^^^^^^^^",
        '[rank0]:   File "/w/io.py", line 3, in load',
        "[rank0]:     return json.loads(text)",
        "[rank0]: ValueError: bad record",
        at=1,
    )
    assert statement_after(deeper) == 4


def test_an_indented_line_without_a_frame_above_is_not_code():
    lines = _lines("Exit Solutions:", "  Increase per task memory request", "Next", at=1)
    assert not is_code_line(lines) and statement_after(lines) is None


def test_a_cpp_terminate_header_hands_over_to_its_what_line():
    # real: tests/fixtures/real/failure_logs/nccl_timeout_terminate_what_sglang.log, lines 1-2 (shortened)
    lines = _lines(
        "terminate called after throwing an instance of 'c10::DistBackendError'",
        "  what():  [PG 3 Rank 5] Process group watchdog thread terminated with exception: [Rank 5] Watchdog caught",
    )
    assert statement_after(lines) == 1


def test_a_code_line_whose_exception_line_matches_nothing_moves_there(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(
        "Traceback (most recent call last):\n"
        '  File "train.py", line 10, in <module>\n'
        "    raise FileNotFoundError(shard)\n"
        "OSError: shard 17 is missing\n"
    )
    root = scan(log).root_cause
    assert (root.fault, root.line) == ("data_error", 4)
    assert root.text == "OSError: shard 17 is missing" and root.details["introduced_at_line"] == 3


def test_a_code_line_is_dropped_when_its_exception_line_is_a_finding():
    # real: tests/fixtures/real/failure_logs/nan_detectron2_floatingpoint_iteration_zero.log
    result = scan(REAL / "failure_logs" / "nan_detectron2_floatingpoint_iteration_zero.log")
    assert [(f.fault, f.line) for f in result.findings] == [("nan_loss", 21)]
    assert result.counts == {"nan_loss": 1}  # the fault is counted once, at its exception line


@pytest.mark.parametrize(
    "text",
    [
        'root@node3:/var/log# dmesg -T | grep -i "out of memory"',
        '(base) user@gpu-01:~/train$ grep -c "CUDA out of memory" train.log',
        "$ kubectl get events | grep -i preempted",
        # real: tests/fixtures/real/kubectl/events_sort_by_preempted_by_pod.log, line 1
        "╰─ k get events --sort-by='.lastTimestamp' | grep -i \"preempt\\|Preempted\"",
    ],
)
def test_a_command_typed_at_a_prompt_is_no_evidence(text):
    assert classify_line(text) is None


def test_the_kubectl_sample_finds_the_preemptions_not_the_command_that_listed_them():
    found = scan(REAL / "kubectl" / "events_sort_by_preempted_by_pod.log").findings
    assert 1 not in {f.line for f in found} and {3, 5} <= {f.line for f in found}


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        # real: failure_logs/cuda_mmcv_ext_no_impl_for_device.log line 7
        (
            "RuntimeError: modulated_deformable_im2col_impl: implementation for device cuda:1 not found.",
            "cuda_version_mismatch",
        ),
        # real: mmdet3d BEVFusion notes (CPU-only voxel op), detectron2's AT_ERROR
        ("RuntimeError: Not compiled with GPU support", "cuda_version_mismatch"),
        ("AssertionError: Torch not compiled with CUDA enabled", "cuda_version_mismatch"),
        # real: deepspeedai/DeepSpeed CUDAMismatchException, as quoted in public threads
        (
            "deepspeed.ops.op_builder.builder.CUDAMismatchException: >- DeepSpeed Op Builder: Installed CUDA version "
            "11.8 does not match the version torch was compiled with 12.1, unable to compile cuda/cpp extensions "
            "without a matching cuda version.",
            "cuda_version_mismatch",
        ),
        # real: failure_logs/host_oom_openpai_oomkilled_pvrcnn.log line 3; AWS ECS's stop reason; YARN's node manager
        ("Exit Reason: User Container killed by docker due to it exceeded the request memory", "host_oom"),
        ('Exit code: 137, reason: "OutOfMemoryError: Container killed due to memory usage"', "host_oom"),
        (
            "Container [pid=48338,containerID=container_1417574466181_3484_01_000043] is running beyond physical "
            "memory limits. Current usage: 1.0 GB of 1 GB physical memory used; 2.0 GB of 2.1 GB virtual memory "
            "used. Killing container.",
            "host_oom",
        ),
        # real: failure_logs/preempted_sighup_no_death_line_firefly.log line 1
        (
            "WARNING:torch.distributed.elastic.multiprocessing.api:Sending process 53738 closing signal SIGHUP",
            "killed_preempted",
        ),
        ("torch.distributed.elastic.multiprocessing.api.SignalException: Process 4 got signal: 1", "killed_preempted"),
        # real: failure_logs/host_oom_progress_bar_killed_landmark.log line 3 (bar shortened)
        (" 31%|█████▉          | 331/1063 [01:06<03:59,  3.06it/s]Killed", "killed_preempted"),
        # real: failure_logs/gpu_pcie_surprise_down_xid79_gpu_burn.log line 5
        ("[74889.542031] pcieport 0000:00:02.0: AER: Uncorrected (Fatal) error received: id=0010", "gpu_hardware"),
        ("FloatingPointError: Loss became infinite or NaN at iteration=0!", "nan_loss"),
        ("WARNING: non-finite loss, ending training  tensor(nan, device='cuda:0')", "nan_loss"),
    ],
)
def test_other_wordings_of_the_same_fault_are_read_alike(text, fault):
    found = classify_line(text)
    assert found is not None and found.name == fault


@pytest.mark.parametrize(
    "text",
    [
        # real: DeepSpeed's warning when only the minor versions differ (a public training log)
        "Installed CUDA version 11.7 does not match the version torch was compiled with 11.8 but since the APIs are "
        "compatible, accepting this combination",
        "Warning: GPU requested but code not compiled with GPU support. Using CPU.",
        # the agent stopping the surviving workers after one failed: a consequence, not a kill from outside
        "WARNING:torch.distributed.elastic.multiprocessing.api:Sending process 2704352 closing signal SIGTERM",
        " 31%|█████▉          | 331/1063 [01:06<03:59,  3.06it/s]",
        "[74785.660366] pcieport 0000:00:02.0: AER: Corrected error received: id=0010",
    ],
)
def test_look_alikes_of_those_wordings_are_not_faults(text):
    assert classify_line(text) is None


def test_a_glued_killed_after_a_progress_bar_is_the_oom_killers_sigkill():
    root = scan(REAL / "failure_logs" / "host_oom_progress_bar_killed_landmark.log").root_cause
    assert (root.fault, root.line) == ("host_oom", 3) and "inferred" in root.details


# real: QwenLM/Qwen-VL#352, an fp16 run on V100 whose loss drops to 0 at the second record (HF Trainer, no grad_norm)
QWEN_VL = [
    "{'loss': 3.8462, 'learning_rate': 3.4482758620689656e-07, 'epoch': 0.0}",
    "{'loss': 0.0, 'learning_rate': 6.896551724137931e-07, 'epoch': 0.01}",
    "{'loss': 0.0, 'learning_rate': 1.0344827586206898e-06, 'epoch': 0.01}",
    "{'loss': 0.0, 'learning_rate': 1.3793103448275862e-06, 'epoch': 0.01}",
    "{'loss': 0.0, 'learning_rate': 1.724137931034483e-06, 'epoch': 0.02}",
]


def test_a_loss_that_drops_at_once_to_exactly_zero_and_stays_is_a_collapse(tmp_path):
    log = tmp_path / "trainer.log"
    log.write_text("\n".join(QWEN_VL) + "\n")
    for engine in ("re", "hyperscan"):
        root = scan(log, engine=engine).root_cause
        assert (root.fault, root.line) == ("nan_loss", 2)
        assert root.details["loss_before"] == 3.8462


@pytest.mark.parametrize(
    "losses",
    [
        ["0.0213", "0.0041", "0.0009", "0.0002", "0.0", "0.0", "0.0", "0.0"],  # decays smoothly towards 0
        ["2.3114", "0.0", "1.9822", "0.0", "0.0", "1.7410"],  # a zero now and then, never three in a row
    ],
)
def test_a_loss_that_reaches_zero_smoothly_or_only_now_and_then_is_no_collapse(tmp_path, losses):
    log = tmp_path / "trainer.log"
    lines = (f"{{'loss': {v}, 'learning_rate': 1e-05, 'epoch': {i / 10}}}\n" for i, v in enumerate(losses))
    log.write_text("".join(lines))
    assert scan(log, engine="re").findings == []


# real: tensorflow/models#3868, a Faster R-CNN run whose loss explodes at step 438 and keeps growing (TensorFlow's
# logger prints each step twice)
TF_EXPLODES = [
    f"INFO:tensorflow:global step {step}: loss = {loss} ({secs} sec/step)"
    for step, loss, secs in [
        (435, "0.0630", "0.408"),
        (436, "0.1628", "0.404"),
        (437, "0.0577", "0.397"),
        (438, "54059178029467303936.0000", "0.403"),
        (439, "432537635714800549888.0000", "0.400"),
        (440, "2106942657570782838784.0000", "0.405"),
        (441, "7774169971762292326400.0000", "0.401"),
    ]
    for _ in range(2)
]
# real: EdjeElectronics/TensorFlow-Object-Detection-API-Tutorial-Train-Multiple-Objects-Windows-10#481, spikes that
# fall straight back
TF_SPIKES = [
    f"INFO:tensorflow:global step {step}: loss = {loss} ({secs} sec/step)"
    for step, loss, secs in [
        (1300, "6936561161601024.0000", "6.596"),
        (1301, "0.0784", "6.244"),
        (1302, "0.0913", "6.704"),
        (1303, "3369519150006272.0000", "6.697"),
        (1304, "0.0614", "6.560"),
        (1305, "0.0839", "6.677"),
        (1306, "0.0503", "6.977"),
    ]
    for _ in range(2)
]


@pytest.mark.parametrize("engine", ["re", "hyperscan"])
def test_a_finite_loss_that_explodes_and_stays_is_a_divergence_at_its_first_step(tmp_path, engine):
    log = tmp_path / "train.log"
    log.write_text("\n".join(TF_EXPLODES) + "\n")
    root = scan(log, engine=engine).root_cause
    assert (root.fault, root.line) == ("nan_loss", 7)
    assert root.details["loss_baseline"] == 0.0577 and root.details["loss"] == 54059178029467303936.0


def test_loss_spikes_that_fall_straight_back_and_a_large_loss_that_decays_are_no_explosion(tmp_path):
    spikes = tmp_path / "spikes.log"
    spikes.write_text("\n".join(TF_SPIKES) + "\n")
    assert scan(spikes, engine="re").findings == []
    decays = tmp_path / "decays.log"  # a sum-reduced loss in the thousands, falling
    decays.write_text("".join(f"step={i} loss={12000.5 / (i + 1):.4f} lr=1e-4\n" for i in range(40)))
    assert scan(decays, engine="re").findings == []


@pytest.mark.parametrize(
    ("text", "big"),
    [
        ("INFO:tensorflow:global step 409: loss = 25237.8984 (0.273 sec/step)", True),
        (" iteration      100/    1000 | lm loss: 5.406000E+19 | loss scale: 1.0 |", True),
        (" iteration      100/    1000 | lm loss: 2.300000E+00 | loss scale: 65536.0 |", False),
        ("[deepspeed] loss_scale: 65536 grad_norm: 1.2", False),
    ],
)
def test_only_a_loss_of_a_thousand_or_more_not_a_loss_scale_is_read_for_an_explosion(text, big):
    assert big_loss(text.lower().encode()) is big
