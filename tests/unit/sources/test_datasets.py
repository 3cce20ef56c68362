"""Reading reference/current tables: formats, columns, chunks, and errors that name the file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.drift.counts import CurrentCounts
from opskit.analyses.drift.features import analyze_drift
from opskit.analyses.drift.profile import build_profile
from opskit.analyses.drift.settings import DriftSettings
from opskit.checks import Status
from opskit.errors import InputError
from opskit.sources.datasets import count_rows, iter_batches, read_table, table_columns, table_format


@pytest.fixture
def drift_dir(fixtures):
    return fixtures / "drift"


def test_formats_by_suffix(drift_dir, tmp_path):
    assert table_format(drift_dir / "reference_small.csv") == "csv"
    assert table_format(drift_dir / "current_unseen_city.jsonl") == "jsonl"
    (tmp_path / "part").mkdir()
    assert table_format(tmp_path / "part") == "parquet"
    with pytest.raises(InputError) as info:
        table_format(drift_dir / "reference_wrong_suffix.txt")
    assert info.value.path.endswith("reference_wrong_suffix.txt")
    with pytest.raises(InputError) as info:
        read_table(tmp_path / "absent.parquet")
    assert "not found" in info.value.reason


def test_read_csv_and_jsonl(drift_dir):
    ref = read_table(drift_dir / "reference_small.csv")
    assert list(ref.columns) == ["amount", "city", "flag"]
    assert ref["flag"].dtype == bool
    cur = read_table(drift_dir / "current_unseen_city.jsonl")
    assert cur["amount"].isna().sum() == 1
    assert table_columns(drift_dir / "current_unseen_city.jsonl") == ["amount", "city", "flag"]
    result = analyze_drift(ref, cur, DriftSettings(companions=()))
    assert result.feature("city").unseen == {"lisbon": 1}


def test_text_in_numeric_csv_becomes_an_error_row(drift_dir):
    ref = read_table(drift_dir / "reference_small.csv")
    cur = read_table(drift_dir / "current_text_in_numeric.csv")
    result = analyze_drift(ref, cur, DriftSettings(companions=()))
    assert result.feature("amount").status == Status.ERROR
    assert "'timeout'" in result.feature("amount").reason


def test_missing_columns_are_named(drift_dir):
    with pytest.raises(InputError) as info:
        read_table(drift_dir / "reference_small.csv", columns=["amount", "income"])
    assert info.value.column == "income"


def test_parquet_batches_are_bounded_and_complete(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=10_000), "y": rng.integers(0, 5, 10_000), "z": "a"})
    path = tmp_path / "cur.parquet"
    frame.to_parquet(path, row_group_size=3000)
    batches = list(iter_batches(path, columns=["x", "y"], batch_rows=2000))
    assert all(b.num_rows <= 2000 for b in batches)
    assert sum(b.num_rows for b in batches) == 10_000
    assert batches[0].schema.names == ["x", "y"]
    assert count_rows(path) == 10_000
    profile = build_profile(frame[["x", "y"]])
    chunked = CurrentCounts(profile).add_all(iter_batches(path, columns=["x", "y"], batch_rows=2000))
    whole = CurrentCounts(profile)
    whole.add(frame[["x", "y"]])
    assert chunked.features["x"].counts.tolist() == whole.features["x"].counts.tolist()
    assert chunked.features["y"].counts.tolist() == whole.features["y"].counts.tolist()


def test_csv_batches(drift_dir):
    batches = list(iter_batches(drift_dir / "reference_small.csv", columns=["amount"], batch_rows=3))
    assert [b.num_rows for b in batches] == [3, 1]


def test_prefetch_keeps_order_and_raises_read_errors():
    from opskit.sources.datasets import prefetch

    assert list(prefetch(iter(range(7)), depth=2)) == list(range(7))

    def broken():
        yield 1
        raise InputError("bad block", path="x.csv")

    got = []
    with pytest.raises(InputError) as info:
        for item in prefetch(broken()):
            got.append(item)
    assert got == [1] and info.value.path == "x.csv"


def test_parquet_read_in_column_pieces_gives_every_column_of_every_row(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({f"c{i}": rng.normal(size=5000) for i in range(6)})
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path, row_group_size=2000)
    cols = ["c0", "c2", "c3", "c5"]
    one_per_piece = list(iter_batches(path, columns=cols, batch_rows=1500, piece_bytes=1))
    assert all(b.num_columns == 1 for b in one_per_piece)
    # each row group's pieces in column order, the first holding the first column
    names = [b.schema.names[0] for b in one_per_piece]
    assert names[:8] == ["c0", "c0", "c2", "c2", "c3", "c3", "c5", "c5"]
    for c in cols:
        got = np.concatenate([b.column(0).to_numpy() for b in one_per_piece if b.schema.names == [c]])
        assert np.array_equal(got, frame[c].to_numpy())
    # a piece size above the row group keeps its columns together
    whole = list(iter_batches(path, columns=cols, batch_rows=1500, piece_bytes=1 << 30))
    assert [b.schema.names for b in whole] == [cols] * len(whole)
    assert sum(b.num_rows for b in whole) == 5000


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "gbk"])
def test_csv_in_utf16_or_gbk_reads_the_same_table(tmp_path, encoding):
    import pandas as pd

    from opskit.sources.datasets import iter_batches, read_table, table_columns

    frame = pd.DataFrame({"城市": ["北京", "上海"] * 50, "income": range(100)})
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False, encoding=encoding)
    assert table_columns(path) == ["城市", "income"]
    table = read_table(path)
    assert list(table.columns) == ["城市", "income"] and table["城市"].iloc[1] == "上海"
    assert table["income"].sum() == 4950
    assert sum(b.num_rows for b in iter_batches(path, batch_rows=30)) == 100


def test_binary_csv_is_refused_naming_the_file(tmp_path):
    from opskit.errors import InputError
    from opskit.sources.datasets import read_table

    path = tmp_path / "data.csv"
    path.write_bytes(bytes(range(256)) * 16)
    with pytest.raises(InputError, match=r"data\.csv.*not a text CSV"):
        read_table(path)
