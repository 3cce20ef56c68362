"""Training log parsing: each framework's lines, ranks from lines and file names, gzip, binary files."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest

from opskit.errors import InputError
from opskit.sources.training_logs import parse_training_line, rank_from_line, rank_from_path, read_training_logs

FIXTURES = Path(__file__).parents[2] / "fixtures" / "training"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{'loss': 2.31, 'grad_norm': 0.9, 'learning_rate': 1e-4, 'epoch': 0.5}", {"loss": 2.31, "lr": 1e-4}),
        ("Epoch 3:  45%|####5     | 450/1000 [01:23<01:42,  5.38it/s, v_num=0, train_loss=2.310]", {"step": 3450}),
        ("steps: 100 loss: 2.3456 iter time (s): 0.512 samples/sec: 62.500", {"step": 100, "loss": 2.3456}),
        (
            " iteration  100/ 1000 | consumed samples: 6400 | learning rate: 1.000E-04 | lm loss: 2.300000E+00 |",
            {"step": 100, "loss": 2.3, "lr": 1e-4},
        ),
        ("step=100 loss=2.3 lr=3e-4 tokens_per_s=41000", {"step": 100, "loss": 2.3, "tokens_per_s": 41000.0}),
        ("iter 100: loss 2.3456, time 512.34ms, mfu 45.2%", {"step": 100, "loss": 2.3456}),
        ("Step 5/100: loss = 3.2", {"step": 5, "loss": 3.2}),
        (
            "\x1b[31mstep:  7  \x1b[32mloss: 9.5432  \x1b[33mmemory: 42.48GiB(44.71%)  \x1b[34mtps: 1,015  mfu: 5.96%",
            {"step": 7, "loss": 9.5432, "tokens_per_s": 1015.0},
        ),
        (
            "Epoch 0: :  10%|#         | 100/1000 [01:00<09:00, reduced_train_loss=2.310, global_step=99.00]",
            {"step": 99, "loss": 2.31},
        ),
        ("[batch=100/1000]: Train loss/train/total: 2.3100", {"step": 100, "loss": 2.31}),
        ("Epoch 1 | Step 100 | Loss 2.31 | LR 1.00e-04", {"step": 100, "loss": 2.31}),
    ],
)
def test_parse_training_line_reads_each_format(line, expected):
    record = parse_training_line(line)
    assert record is not None
    for key, value in expected.items():
        assert record[key] == pytest.approx(value), key


@pytest.mark.parametrize(
    "line",
    [
        "[deepspeed] OVERFLOW! Rank 0 Skipping step. Attempted loss scale: 65536, reducing to 32768",
        "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 32768.0",
        "NCCL INFO comm 0x55d rank 3 nranks 8 cudaDev 3 busId 61000 - Init COMPLETE",
        "{'eval_loss': 2.5, 'eval_runtime': 10.0, 'epoch': 1.0}",
        "{'train_runtime': 1234.5, 'train_samples_per_second': 12.3, 'train_loss': 2.1, 'epoch': 3.0}",
        "Some weights of the model checkpoint were not used when initializing",
    ],
)
def test_harmless_lines_are_not_training_records(line):
    assert parse_training_line(line) is None


def test_nan_and_inf_are_parsed_as_non_finite():
    assert math.isnan(parse_training_line("{'loss': nan, 'learning_rate': 1e-4, 'epoch': 1.0}")["loss"])
    assert parse_training_line("step=3 loss=inf")["loss"] == math.inf


def test_rank_from_line_and_path():
    assert rank_from_line("[rank5]:[E ProcessGroupNCCL.cpp:563] ...") == 5
    assert rank_from_line("[default3]:step=1 loss=2") == 3
    assert rank_from_line("12: step=1 loss=2") == 12
    assert rank_from_line("[2026-01-01 10:00:00,000] [INFO] [Rank 7] step=5") == 7
    assert rank_from_line("step=1 loss=2") is None
    assert rank_from_path("logs/node0-rank-5.log") == 5
    assert rank_from_path("rank12.log") == 12
    assert rank_from_path("train.log") is None
    assert rank_from_path("crank.log") is None


def test_lightning_bar_redraws_are_separate_records():
    records = read_training_logs(FIXTURES / "lightning_progress.log")
    assert list(records["step"]) == [25, 50, 75, 100, 125, 150, 175, 200]
    assert records["loss"].iloc[-1] == pytest.approx(2.5 - 0.3 - 0.25)


def test_gzip_and_non_utf8_logs_are_read(tmp_path):
    gz = tmp_path / "rank1.log.gz"
    with gzip.open(gz, "wb") as handle:
        handle.write("step=1 loss=2.0 — ok\n".encode("gbk", errors="replace") + b"\xff\xfe step=2 loss=1.9\n")
    records = read_training_logs(gz)
    assert list(records["step"]) == [1, 2]
    assert set(records["rank"]) == {1}


def test_binary_files_beside_the_logs_are_skipped(tmp_path):
    (tmp_path / "rank0.log").write_text("step=1 loss=2.0\nstep=2 loss=1.9\n")
    (tmp_path / "core.rank0").write_bytes(bytes(range(256)) * 64)  # a core dump next to the logs
    records = read_training_logs(tmp_path)
    assert set(records["file"]) == {str(tmp_path / "rank0.log")}
    only_binary = tmp_path / "bin"
    only_binary.mkdir()
    (only_binary / "blob.bin").write_bytes(b"\x00\xff" * 4096)
    with pytest.raises(InputError):
        read_training_logs(only_binary)
