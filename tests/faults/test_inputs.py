"""Fault injection on the inputs of the runbooks: cut archives, every encoding, empty, line-less, binary, non-finite.

Each case asserts that an input not read in full is never judged as complete (no PASS-only table),
that a WARN or ERROR row names the file, and that the message names the file or the parameter
instead of a bare exception. Inputs are small and written per test, so the suite runs in seconds.
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from opskit.cli import main
from opskit.runbooks import (
    diagnose_gpu_oom,
    diagnose_latency,
    diagnose_training_interruption,
    report_gpu_cost,
    triage_job,
)
from opskit.sources.prometheus import PrometheusError, query_range

OOM = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
    "79.15 GiB of which 1.20 GiB is free. Of the allocated memory 70.00 GiB is allocated by PyTorch, "
    "and 3.10 GiB is reserved by PyTorch but unallocated."
)
LOG = f"step 1 loss 2.31\nstep 2 loss 2.20\n{OOM}\nstep 3 exiting\n"
ENCODINGS = ["utf-16", "utf-16-le", "utf-32", "gb18030"]  # "utf-16"/"utf-32" write a byte-order mark
_NAMED = {"utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-32": "UTF-32", "gb18030": "GB18030"}
RAW_EXCEPTIONS = ("UnicodeDecodeError", "EOFError", "Traceback", "ArrowInvalid", "ParserError")


def _cut_gz(path, text: str, keep: float = 0.6):
    """A .gz of ``text`` cut short, as a copy that stopped mid-transfer leaves it."""
    data = gzip.compress(text.encode(), mtime=0)
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _text(v) -> str:
    return " ".join(str(x) for x in (v.subject, v.message, v.evidence, v.next_step) if x)


def _assert_flagged(result, path, statuses=("ERROR", "WARN")) -> list:
    """A WARN/ERROR row names the file; the table is not PASS-only; no raw exception is the message."""
    rows = list(result.verdicts)
    assert {v.status.value for v in rows} - {"PASS", "SKIP"}, "a PASS-only table on an input not read in full"
    named = [v for v in rows if v.status.value in statuses and path.name in _text(v)]
    assert named, f"no {'/'.join(statuses)} row names {path.name}: {[(v.status.value, _text(v)) for v in rows]}"
    for v in rows:
        assert not any(e in _text(v) for e in RAW_EXCEPTIONS), _text(v)
    return named


def _statuses(result, name: str) -> set[str]:
    return {v.status.value for v in result.verdicts if v.name == name}


# ---------------------------------------------------------------- logs: triage_job and the faults scan


def _triage(path, tmp_path):
    return triage_job.run(log_path=str(path), disk_paths=[str(tmp_path)])


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_triage_reads_wide_and_gb18030_logs_and_finds_the_oom(tmp_path, encoding):
    path = tmp_path / f"job-{encoding}.log"
    path.write_bytes(("训练 " if encoding == "gb18030" else "").encode(encoding) + LOG.encode(encoding))
    result = _triage(path, tmp_path)
    oom = [v for v in result.verdicts if v.name == "cuda_oom"]
    assert oom and oom[0].status.value == "FAIL" and oom[0].subject == path.name
    assert result.scan.lines_read == 4
    assert not any("binary" in _text(v) for v in result.verdicts)  # UTF-16 text is not called binary


def test_triage_keeps_what_a_cut_gz_held_and_warns_naming_it(tmp_path):
    path = _cut_gz(tmp_path / "rank0.log.gz", LOG * 40)
    result = _triage(path, tmp_path)
    assert "FAIL" in _statuses(result, "cuda_oom")  # the OOM before the cut is judged
    (gap,) = [v for v in _assert_flagged(result, path, ("WARN",)) if "not read in full" in (v.message or "")]
    assert "bytes" in gap.message and "lines) read" in gap.message


def test_triage_on_a_cut_gz_without_faults_is_not_a_pass(tmp_path):
    path = _cut_gz(tmp_path / "quiet.log.gz", "step 1 loss 2.0\n" * 5000)
    result = _triage(path, tmp_path)
    assert _statuses(result, "log faults") == {"WARN"}
    _assert_flagged(result, path, ("WARN",))


def test_triage_on_an_empty_log_warns_nothing_to_judge(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    result = _triage(path, tmp_path)
    (head,) = [v for v in result.verdicts if v.name == "log faults"]
    assert head.status.value == "WARN" and "nothing to judge" in head.message


def test_triage_on_a_one_line_log_judges_that_line(tmp_path):
    path = tmp_path / "one.log"
    path.write_text(OOM + "\n")
    result = _triage(path, tmp_path)
    assert _statuses(result, "cuda_oom") == {"FAIL"} and result.scan.lines_read == 1
    assert _statuses(result, "log faults") == set()  # read in full: no gap row


def test_triage_on_a_line_without_its_end_warns_the_file_may_be_cut(tmp_path):
    path = tmp_path / "one.log"
    path.write_text(OOM)  # no line end at all
    result = _triage(path, tmp_path)
    assert _statuses(result, "cuda_oom") == {"FAIL"}  # what is there is judged
    (gap,) = _assert_flagged(result, path, ("WARN",))
    assert "no line ends: the file may be cut" in gap.message


def test_triage_on_5_mb_without_a_newline_is_not_a_pass(tmp_path):
    path = tmp_path / "blob.log"
    path.write_bytes(b"x" * (5 * 1024 * 1024))
    result = _triage(path, tmp_path)
    assert _statuses(result, "log faults") == {"WARN"}
    (gap,) = [v for v in _assert_flagged(result, path, ("WARN",)) if v.subject == str(path)]
    assert "no line ends" in gap.message and "5,242,880 bytes" in gap.message


def test_triage_on_a_binary_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "core.log"
    path.write_bytes(bytes(range(256)) * 64)
    result = _triage(path, tmp_path)
    (row,) = _assert_flagged(result, path, ("ERROR",))
    assert "binary" in row.message


def _cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(["run", *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def _summary_rows(out, status: str) -> list[dict]:
    (summary,) = out.rglob("summary.json")
    return [c for c in json.loads(summary.read_text())["checks"] if c["status"] == status]


def test_cli_on_a_cut_gz_does_not_exit_0_and_the_summary_names_the_file(tmp_path, capsys):
    path = _cut_gz(tmp_path / "rank3.log.gz", LOG * 40)
    code, text = _cli(capsys, "triage_job", "-p", "log_path", str(path), "--out", str(tmp_path / "out"))
    assert code == 1 and "cuda_oom" in text and "Traceback" not in text  # the OOM before the cut is a FAIL
    (gap,) = [c for c in _summary_rows(tmp_path / "out", "WARN") if c["subject"] == str(path)]  # host rows may WARN too
    assert "not read in full" in gap["message"]


def test_cli_on_a_binary_log_exits_2_naming_the_file(tmp_path, capsys):
    path = tmp_path / "dump.log"
    path.write_bytes(bytes(range(256)) * 64)
    code, text = _cli(capsys, "diagnose_gpu_oom", "-p", "log_path", str(path), "--out", str(tmp_path / "out"))
    assert code == 2 and "dump.log" in text and "binary" in text and "Traceback" not in text


def test_cli_on_a_line_less_log_is_not_a_pass(tmp_path, capsys):
    path = tmp_path / "blob.log"
    path.write_bytes(b"y" * 200_000)
    code, text = _cli(capsys, "triage_job", "-p", "log_path", str(path), "--out", str(tmp_path / "out"))
    assert code == 0 and "triage_job: WARN" in text and "Traceback" not in text  # WARN, not PASS
    gaps = [c for c in _summary_rows(tmp_path / "out", "WARN") if c["subject"] == str(path)]
    assert gaps and "no line ends: the file may be cut" in gaps[0]["message"]


# ---------------------------------------------------------------- diagnose_gpu_oom


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_gpu_oom_reads_the_message_in_every_encoding(tmp_path, encoding):
    path = tmp_path / "oom.log"
    path.write_bytes(LOG.encode(encoding))
    result = diagnose_gpu_oom.run(log_path=str(path), job_config=None)
    (row,) = [v for v in result.verdicts if v.name == "cuda oom"]
    assert row.status.value == "FAIL" and "70.00 GiB allocated by PyTorch" in row.message


def test_gpu_oom_on_an_empty_log_warns(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    result = diagnose_gpu_oom.run(log_path=str(path), job_config=None)
    assert _statuses(result, "cuda oom") == {"WARN"}


def test_gpu_oom_on_a_binary_log_is_an_error_naming_it(tmp_path):
    path = tmp_path / "oom.bin"
    path.write_bytes(bytes(range(256)) * 64)
    _assert_flagged(diagnose_gpu_oom.run(log_path=str(path), job_config=None), path, ("ERROR",))


def test_gpu_oom_on_a_cut_gz_is_not_a_pass(tmp_path):
    path = _cut_gz(tmp_path / "oom.log.gz", LOG * 40)
    result = diagnose_gpu_oom.run(log_path=str(path), job_config=None)
    assert _statuses(result, "cuda oom") == {"FAIL", "WARN"}  # the message before the cut judged, the cut named


def test_gpu_oom_on_a_cut_gz_warns_naming_the_file(tmp_path):
    path = _cut_gz(tmp_path / "oom.log.gz", LOG * 40)
    _assert_flagged(diagnose_gpu_oom.run(log_path=str(path), job_config=None), path, ("WARN",))


_JOB = """# 7B full fine-tune, 8 x H100
params_b: 6.74
precision: bf16
optimizer: adamw
per_device_train_batch_size: 4
max_seq_length: 4096
num_gpus: 8
zero_stage: 1
gpu_memory_gib: 79.11
"""


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_gpu_oom_reads_a_job_config_in_every_encoding(tmp_path, encoding):
    log, config = tmp_path / "oom.log", tmp_path / "job.yaml"
    log.write_text(LOG)
    config.write_bytes(_JOB.encode(encoding))
    result = diagnose_gpu_oom.run(log_path=str(log), job_config=str(config))
    estimate = [v for v in result.verdicts if v.name == "memory estimate"]
    assert estimate and "ERROR" not in {v.status.value for v in estimate}, [_text(v) for v in estimate]
    (tmp_path / "plain.yaml").write_text(_JOB)
    plain = diagnose_gpu_oom.run(log_path=str(log), job_config=str(tmp_path / "plain.yaml"))
    assert result.memory is not None and result.memory.estimate == plain.memory.estimate  # the same job, read alike


@pytest.mark.parametrize(
    ("content", "said"), [(bytes(range(256)) * 16, "not text"), (b"", "mapping")], ids=["binary", "empty"]
)
def test_gpu_oom_on_a_binary_or_empty_job_config_is_an_error_naming_it(tmp_path, content, said):
    log, config = tmp_path / "oom.log", tmp_path / "job.yaml"
    log.write_text(LOG)
    config.write_bytes(content)
    result = diagnose_gpu_oom.run(log_path=str(log), job_config=str(config))
    (row,) = _assert_flagged(result, config, ("ERROR",))
    assert row.name == "memory estimate" and said in row.message
    assert _statuses(result, "cuda oom") == {"FAIL"}  # the log is still judged


# ---------------------------------------------------------------- diagnose_training_interruption


def _training(path):
    return diagnose_training_interruption.run(log_path=str(path), checkpoint_dir=None)


def test_training_on_a_cut_gz_is_an_error_naming_the_file_and_the_cut(tmp_path):
    path = _cut_gz(tmp_path / "train.log.gz", LOG * 40)
    result = _training(path)
    (row,) = [v for v in _assert_flagged(result, path, ("ERROR",)) if v.name == "training progress"]
    assert "not read in full: cut after line" in row.message
    assert not any(v.name == "rank progress" and v.status.value == "PASS" for v in result.verdicts)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_training_reads_wide_logs(tmp_path, encoding):
    path = tmp_path / "train.log"
    path.write_bytes(LOG.encode(encoding))
    result = _training(path)
    (faults,) = [v for v in result.verdicts if v.name == "log faults"]
    assert faults.status.value == "FAIL" and "cuda_oom" in faults.subject


@pytest.mark.parametrize("content", [b"", b"z" * (5 * 1024 * 1024)], ids=["empty", "5MB-no-newline"])
def test_training_on_an_empty_or_line_less_log_is_an_error(tmp_path, content):
    path = tmp_path / "train.log"
    path.write_bytes(content)
    result = _training(path)
    assert _statuses(result, "training progress") == {"ERROR"}


def test_training_on_a_binary_log_is_an_error_naming_it(tmp_path):
    path = tmp_path / "train.log"
    path.write_bytes(bytes(range(256)) * 64)
    _assert_flagged(_training(path), path, ("ERROR",))


# ---------------------------------------------------------------- diagnose_latency (request logs)

_REQ = pd.DataFrame(
    {
        "timestamp": pd.date_range("2026-11-23", periods=300, freq="15s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endpoint": "/v1/rank",
        "latency_ms": np.linspace(50, 300, 300).round(1),
        "status": 200,
    }
).to_csv(index=False)


def _latency(path):
    return diagnose_latency.run(requests=str(path), gpu_metrics=None)


def test_latency_reads_a_clean_csv(tmp_path):
    path = tmp_path / "requests.csv"
    path.write_text(_REQ)
    assert "ERROR" not in {v.status.value for v in _latency(path).verdicts}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_latency_refuses_a_request_csv_not_in_utf8_naming_file_and_encoding(tmp_path, encoding):
    path = tmp_path / "requests.csv"
    path.write_bytes(_REQ.replace("/v1/rank", "/v1/排序").encode(encoding))
    (row,) = _assert_flagged(_latency(path), path, ("ERROR",))
    assert {"utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-32": "UTF-32", "gb18030": "GB18030"}[
        encoding
    ] in row.message
    assert "binary" not in row.message


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("empty.csv", b"", "empty"),
        ("header.csv", b"timestamp,endpoint,latency_ms,status\n", "no requests"),
        ("blob.csv", b"x" * (5 * 1024 * 1024), "found"),
        ("binary.csv", bytes(range(256)) * 64, "binary"),
    ],
)
def test_latency_on_empty_one_line_line_less_or_binary_requests_is_an_error(tmp_path, name, content, said):
    path = tmp_path / name
    path.write_bytes(content)
    (row,) = _assert_flagged(_latency(path), path, ("ERROR",))
    assert said in row.message


def test_latency_on_a_cut_gz_is_an_error_naming_it(tmp_path):
    path = _cut_gz(tmp_path / "requests.csv.gz", _REQ)
    (row,) = _assert_flagged(_latency(path), path, ("ERROR",))
    assert "damaged" in row.message


# ---------------------------------------------------------------- report_gpu_cost (GPU tables, nvidia-smi)

_STAMPS = pd.date_range("2026-11-16", periods=7 * 24 * 12, freq="5min", tz="UTC")
_GPU = pd.DataFrame(
    {
        "timestamp": _STAMPS.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": "h1",
        "gpu": 0,
        "uuid": "GPU-1",
        "model": "NVIDIA H100 80GB HBM3",
        "util_pct": 50.0,
        "mem_used_mib": 1000.0,
        "mem_total_mib": 81559.0,
        "power_w": 300.0,
        "namespace": "team-a",
    }
)


def _cost(path, **kw):
    return report_gpu_cost.run(samples=str(path), **kw)


def test_cost_reads_a_clean_table(tmp_path):
    path = tmp_path / "gpus.csv"
    path.write_text(_GPU.to_csv(index=False))
    assert "ERROR" not in {v.status.value for v in _cost(path).verdicts}


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "NaN"])
@pytest.mark.parametrize("column", ["util_pct", "power_w"])
def test_cost_refuses_non_finite_values_in_a_long_table_naming_the_column(tmp_path, bad, column):
    table = _GPU.copy()
    table[column] = table[column].astype(object)
    table.loc[5, column] = bad
    path = tmp_path / "gpus.csv"
    path.write_text(table.to_csv(index=False))
    result = _cost(path)
    (row,) = _assert_flagged(result, path, ("ERROR",))
    assert f"column '{column}'" in row.message and "data row 6" in row.message
    assert not any(v.status.value == "PASS" and v.name == "team utilization" for v in result.verdicts)


def test_cost_keeps_an_empty_cell_as_a_missing_reading(tmp_path):
    table = _GPU.copy()
    table.loc[5, "power_w"] = None
    path = tmp_path / "gpus.csv"
    path.write_text(table.to_csv(index=False))
    assert "ERROR" not in {v.status.value for v in _cost(path).verdicts}


_SMI_HEADER = (
    "timestamp, name, pci.bus_id, index, uuid, utilization.gpu [%], memory.used [MiB], "
    "memory.total [MiB], power.draw [W]\n"
)


def _smi(util: str) -> str:
    rows = [
        f"2026/11/16 {h:02d}:{m:02d}:05.123, NVIDIA H100 80GB HBM3, 00000000:3B:00.0, 0, GPU-1, "
        f"{util if (h, m) == (1, 0) else '50 %'}, 1000 MiB, 81559 MiB, 300.00 W\n"
        for h in range(3)
        for m in range(0, 60, 5)
    ]
    return _SMI_HEADER + "".join(rows)


@pytest.mark.parametrize("bad", ["inf %", "nan %", "-inf %"])
def test_cost_refuses_non_finite_values_in_nvidia_smi_csv_naming_the_column(tmp_path, bad):
    path = tmp_path / "node1.csv"
    path.write_text(_smi(bad))
    (row,) = _assert_flagged(_cost(path), path, ("ERROR",))
    assert "column 'util_pct'" in row.message and ":14" in row.message  # the file line of the bad reading


def test_cost_reads_an_nvidia_smi_csv_written_in_utf16(tmp_path):
    path = tmp_path / "node1.csv"
    path.write_bytes(_smi("50 %").encode("utf-16"))  # PowerShell's `>` writes UTF-16 with a mark
    rows = list(_cost(path, source_format="nvidia-smi").verdicts)
    assert "ERROR" not in {v.status.value for v in rows}, [_text(v) for v in rows]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_cost_refuses_a_long_table_not_in_utf8_naming_the_encoding(tmp_path, encoding):
    path = tmp_path / "gpus.csv"
    path.write_bytes(_GPU.assign(namespace="团队").to_csv(index=False).encode(encoding))
    (row,) = _assert_flagged(_cost(path), path, ("ERROR",))
    assert ("GB18030" if encoding == "gb18030" else "UTF-") in row.message and "binary" not in row.message


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("empty.csv", b"", "empty"),
        ("header.csv", (",".join(_GPU.columns) + "\n").encode(), "no rows"),
        ("binary.csv", bytes(range(256)) * 64, "binary"),
    ],
)
def test_cost_on_empty_header_only_or_binary_tables_is_an_error(tmp_path, name, content, said):
    path = tmp_path / name
    path.write_bytes(content)
    (row,) = _assert_flagged(_cost(path), path, ("ERROR",))
    assert said in row.message


def test_cost_on_a_cut_gz_table_is_an_error_naming_it(tmp_path):
    path = _cut_gz(tmp_path / "gpus.csv.gz", _GPU.to_csv(index=False))
    (row,) = _assert_flagged(_cost(path), path, ("ERROR",))
    assert "damaged" in row.message


def test_cli_on_a_non_finite_gpu_table_exits_2_naming_file_and_column(tmp_path, capsys):
    table = _GPU.copy()
    table["util_pct"] = table["util_pct"].astype(object)
    table.loc[0, "util_pct"] = "inf"
    path = tmp_path / "gpus.csv"
    path.write_text(table.to_csv(index=False))
    code, text = _cli(capsys, "report_gpu_cost", "-p", "samples", str(path), "--out", str(tmp_path / "out"))
    assert code == 2 and "gpus.csv" in text and "util_pct" in text and "Traceback" not in text


def test_cost_names_the_prometheus_url_as_given_in_its_error(tmp_path):
    url = "http://127.0.0.1:9"  # a closed port: refused at once
    result = _cost(url, week="2026-W47")
    (row,) = [v for v in result.verdicts if v.status.value == "ERROR"]
    assert url in row.message


def test_the_prometheus_error_itself_names_the_url_as_given():
    url = "http://127.0.0.1:9"
    with pytest.raises(PrometheusError) as caught:
        query_range(url, "up", 0, 3600, 60, timeout=2)
    assert caught.value.kind == "unreachable" and url in caught.value.message and url in caught.value.hint
