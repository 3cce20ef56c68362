"""The streaming log reader: regions, decoding fallback, ranks, discovery, excerpts, evidence."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path

import pytest

from opskit.errors import InputError
from opskit.sources.logs import (
    LogSource,
    decode_line,
    discover,
    iter_lines,
    iter_regions,
    looks_binary,
    preserve_evidence,
    rank_from_line,
    rank_from_name,
    read_excerpt,
)

LOGS = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def _lines_via_regions(data: bytes, block: int, max_line: int = 1 << 20) -> list[bytes]:
    out: list[bytes] = []
    pending = b""
    for r in iter_regions(io.BytesIO(data), block_bytes=block, max_line_bytes=max_line):
        chunk = r.data[r.start : r.end]
        if r.continued:
            pending += chunk
            continue
        parts = chunk.split(b"\n")
        parts[0] = pending + parts[0]
        pending = b""
        if chunk.endswith(b"\n"):
            parts.pop()
        out.extend(parts)
    return out


@pytest.mark.parametrize("block", [1, 3, 16, 1000])
def test_regions_reassemble_every_line_whatever_the_block_size(block):
    data = b"alpha\nbe\n\ngamma delta\nlast-without-newline"
    assert _lines_via_regions(data, block) == data.split(b"\n")


def test_region_offsets_point_at_the_stream():
    data = b"one\ntwo\nthree\nfour\n"
    for r in iter_regions(io.BytesIO(data), block_bytes=5):
        assert data[r.offset + r.start : r.offset + r.end] == r.data[r.start : r.end]


def test_overlong_line_is_cut_into_bounded_pieces():
    data = b"a" * 5000 + b"\nnext\n"
    regions = list(iter_regions(io.BytesIO(data), block_bytes=512, max_line_bytes=1024))
    assert max(len(r.data) for r in regions) <= 1024 + 2 * 512
    assert any(r.continued for r in regions)
    assert _lines_via_regions(data, 512, 1024) == [b"a" * 5000, b"next"]


def test_decode_fallback_utf8_gbk_latin1():
    assert decode_line("训练".encode()) == "训练"
    assert decode_line("训练失败".encode("gbk")) == "训练失败"
    assert decode_line(b"\xff\xfe\x80 x") == "\xff\xfe\x80 x"  # latin-1 never fails


@pytest.mark.parametrize(
    ("name", "rank"),
    [
        ("rank3.log", 3),
        ("job-rank-12.out", 12),
        ("train_rank_5.txt", 5),
        ("worker-7.log", 7),
        ("stdout.log", None),
        ("attempt_0/2/stderr.log", 2),
        ("frank9.log", None),
    ],
)
def test_rank_from_name(name, rank):
    assert rank_from_name(name) == rank


@pytest.mark.parametrize(
    ("text", "rank"),
    [
        ("[rank3]: Traceback", 3),
        ("[default12]:step 1", 12),
        ("7: srun label", 7),
        ("[E1128 x] [PG 0 (default_pg) Rank 5] Exception", 5),
        ("step 100 loss 2", None),
    ],
)
def test_rank_from_line(text, rank):
    assert rank_from_line(text) == rank


def test_iter_lines_numbers_ranks_and_decodes():
    lines = list(iter_lines(LOGS / "multirank_oom_rank3" / "rank3.log"))
    assert [ln.line for ln in lines] == list(range(1, 8))
    assert all(ln.rank == 3 for ln in lines)
    gbk = list(iter_lines(LOGS / "gbk_disk_full.log"))
    assert "保存检查点失败" in gbk[1].text


def test_discover_directory_sorted_skips_binary_and_hidden(tmp_path):
    (tmp_path / "b.log").write_text("x\n")
    (tmp_path / "a.log").write_text("y\n")
    (tmp_path / ".hidden.log").write_text("z\n")
    (tmp_path / "core").write_bytes(b"\x7fELF" + bytes(4000))
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "c.log.gz").write_bytes(gzip.compress(b"gz line\n"))
    sources, skipped = discover(tmp_path)
    assert [Path(s.name).name for s in sources] == ["a.log", "b.log", "c.log.gz"]
    assert sources[2].compressed
    assert [Path(s.name).name for s in skipped] == ["core"] and "binary" in skipped[0].reason


def test_discover_missing_path_names_it(tmp_path):
    with pytest.raises(InputError) as err:
        discover([tmp_path / "nope"])
    assert err.value.path == str(tmp_path / "nope") and err.value.hint


def test_discover_too_many_files(tmp_path):
    for i in range(5):
        (tmp_path / f"{i}.log").write_text("x\n")
    with pytest.raises(InputError):
        discover(tmp_path, max_files=3)


def test_stdin_source(monkeypatch):
    fake = io.TextIOWrapper(io.BytesIO(b"from stdin\nsecond\n"))
    monkeypatch.setattr("sys.stdin", fake)
    sources, _ = discover("-")
    assert sources[0].path is None and sources[0].name == "<stdin>"
    data = sources[0].open().read()
    assert data == b"from stdin\nsecond\n"


def test_looks_binary():
    assert looks_binary(bytes(range(256)) * 10)
    assert not looks_binary("训练 step 1 loss 2.0\n".encode("gbk") * 50)
    assert not looks_binary(b"")


def test_read_excerpt_around_a_line(tmp_path):
    text = "".join(f"line {i}\n" for i in range(1, 21))
    path = tmp_path / "x.log"
    path.write_text(text)
    offset = text.index("line 10\n")
    src = LogSource(str(path), path)
    got = read_excerpt(src, offset, before=2, after=1)
    assert got == [(-2, "line 8"), (-1, "line 9"), (0, "line 10"), (1, "line 11")]
    assert read_excerpt(src, 0, before=3, after=0) == [(0, "line 1")]


def test_preserve_evidence_copies_with_checksums_and_refuses_to_overwrite(tmp_path):
    sources, _ = discover(LOGS / "multirank_oom_rank3")
    keep = tmp_path / "incident"
    manifest_path = preserve_evidence(sources, keep, extra={"findings": []})
    manifest = json.loads(manifest_path.read_text())
    assert len(manifest["files"]) == 5
    for entry in manifest["files"]:
        copy = keep / entry["copy"]
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == entry["sha256"]
        assert copy.read_bytes() == Path(entry["original"]).read_bytes()
    sums = (keep / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == 5 and all("  logs/" in s for s in sums)
    assert {e["rank"] for e in manifest["files"]} == {0, 1, 2, 3, None}
    with pytest.raises(InputError):
        preserve_evidence(sources, keep)


def test_a_utf16_log_is_read_as_text_with_its_lines_and_excerpts(tmp_path):
    from opskit.sources.logs import discover, iter_regions, read_excerpt

    path = tmp_path / "train.log"
    path.write_bytes("step 1\r\nstep 2 é\r\nRuntimeError: boom\r\n".encode("utf-16"))
    (source,), skipped = discover(path)
    assert skipped == [] and source.encoding is not None and source.encoding.lower().startswith("utf-16")
    with source.open() as fh:
        data = b"".join(r.data[r.start : r.end] for r in iter_regions(fh))
    assert data.decode("utf-8").splitlines() == ["step 1", "step 2 é", "RuntimeError: boom"]
    offset = data.index(b"RuntimeError")
    assert read_excerpt(source, offset, before=1, after=0) == [(-1, "step 2 é"), (0, "RuntimeError: boom")]


def test_the_rank_of_a_torchelastic_json_event_is_its_global_rank():
    failures = Path(__file__).resolve().parents[2] / "fixtures/real/failure_logs"
    events = failures / "worker_failed_torchelastic_json_events_streampetr.log"
    line = events.read_text().splitlines()[1]
    assert rank_from_line(line) == 4  # the second FAILED event: "global_rank": 4
    assert rank_from_line('{"name": "torchelastic.worker.status.SUCCEEDED", "global_rank": null}') is None


def test_line_start_finds_the_line_so_many_lines_away(tmp_path):
    from opskit.sources.log_offsets import line_start

    log = tmp_path / "job.log"
    log.write_bytes(b"first\nsecond line\n\nfourth\n")
    (source,), _ = discover(log)
    starts = [0, 6, 18, 19]
    assert [line_start(source, 6, d) for d in (-1, 0, 1, 2)] == starts
    assert line_start(source, 19, -3) == 0 and line_start(source, 0, -1) is None
    assert line_start(source, 19, 1) == 26 and line_start(source, 19, 2) is None  # past the last line end
