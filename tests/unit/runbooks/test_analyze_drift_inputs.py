"""The inputs of analyze_drift: reference table or saved profile, current counted in chunks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.drift.accuracy import reference_correct
from opskit.analyses.drift.counts import CurrentCounts
from opskit.analyses.drift.features import analyze_drift
from opskit.analyses.drift.profile import build_profile
from opskit.analyses.drift.settings import DriftSettings
from opskit.errors import InputError
from opskit.runbooks.analyze_drift_inputs import (
    count_current_file,
    is_profile_path,
    read_profile,
    read_reference,
    write_profile,
)
from opskit.sources.datasets import iter_batches


def _tables(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    ref = pd.DataFrame(
        {"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n), "y": rng.integers(0, 2, n), "p": rng.random(n)}
    )
    cur = ref.sample(frac=1.0, random_state=1).assign(x=lambda f: f["x"] + 1.0)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    return ref, cur


def test_reference_table_and_saved_profile_agree(tmp_path):
    ref, _ = _tables(tmp_path)
    reference = read_reference(tmp_path / "ref.parquet", DriftSettings(exclude=["y"], target="y", prediction="p"))
    profile, frame = reference.profile, reference.frame
    assert frame is not None and "y" not in profile.features and "p" in profile.features
    saved = profile.extras["accuracy"]
    expected = int(((ref["p"] >= 0.5).astype(int) == ref["y"]).sum())
    assert saved == {"target": "y", "prediction": "p", "correct": expected, "rows": len(ref)}
    path = write_profile(profile, tmp_path / "profile.json")
    assert is_profile_path(path) and not is_profile_path(tmp_path / "ref.parquet")
    again = read_reference(path, DriftSettings())
    loaded, no_frame = again.profile, again.frame
    assert no_frame is None and loaded == read_profile(path)
    from_table = reference_correct(profile, frame, target="y", prediction="p")
    from_profile = reference_correct(loaded, None, target="y", prediction="p")
    assert from_table.sum() == from_profile.sum() == expected and from_profile.size == len(ref)


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "not_profile.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(InputError) as info:
        read_profile(path)
    assert info.value.path == str(path)
    with pytest.raises(InputError):
        read_profile(tmp_path / "absent.json")


def test_current_counted_in_chunks_matches_in_memory(tmp_path):
    _tables(tmp_path)
    profile = read_reference(tmp_path / "ref.parquet", DriftSettings(exclude=["y"])).profile
    counted = count_current_file(profile, tmp_path / "cur.csv", chunk_rows=500)
    chunked = analyze_drift(profile, counted, DriftSettings(exclude=["y"]))
    whole = analyze_drift(profile, pd.read_csv(tmp_path / "cur.csv"), DriftSettings(exclude=["y"]))
    for name in ("x", "c", "p"):
        assert chunked.feature(name).psi == whole.feature(name).psi
    assert chunked.feature("x").status.value == "FAIL"
    assert "y" not in [f.name for f in chunked.features]


def test_a_word_far_down_a_numeric_csv_column_is_that_features_error(tmp_path):
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=2000), "z": rng.normal(size=2000)})
    cur = ref.copy().astype({"x": object})
    cur.loc[1990, "x"] = "timeout"
    cur.loc[5, "z"] = np.nan
    path = tmp_path / "late_text.csv"
    cur.to_csv(path, index=False)
    with pytest.raises(InputError):  # type inferred from the first block, the word comes later
        list(iter_batches(path, block_bytes=4096))
    counted = count_current_file(build_profile(ref), path, chunk_rows=500, block_bytes=4096)
    assert counted.features["x"].error is not None and "timeout" in counted.features["x"].error
    assert counted.features["z"].error is None
    assert counted.features["z"].counts[-1] == 1  # the empty field is a missing value, not text


def test_parquet_in_column_pieces_counts_and_samples_as_whole_chunks(tmp_path):
    rng = np.random.default_rng(7)
    n = 6000
    ref = pd.DataFrame({"a": rng.normal(size=n), "b": rng.exponential(size=n), "c": rng.choice(["u", "v"], n)})
    cur = pd.DataFrame({"a": rng.normal(0.3, 1, n), "b": rng.exponential(size=n), "c": rng.choice(["u", "w"], n)})
    cur.loc[::97, "a"] = np.nan
    cur.loc[5, "b"] = np.inf
    path = tmp_path / "cur.parquet"
    cur.to_parquet(path, row_group_size=2500)
    profile = build_profile(ref)
    pieces = count_current_file(profile, path, chunk_rows=1000, sample_size=700, piece_bytes=1)
    whole = count_current_file(profile, path, chunk_rows=1000, sample_size=700, piece_bytes=None)
    in_memory = CurrentCounts(profile, keep_values=True, sample_size=700)
    in_memory.add(cur)
    assert pieces.n_rows == whole.n_rows == in_memory.n_rows == n
    for name in ("a", "b", "c"):
        assert pieces.features[name].counts.tolist() == whole.features[name].counts.tolist()
        assert pieces.features[name].counts.tolist() == in_memory.features[name].counts.tolist()
    assert pieces.features["b"].n_infinite == 1
    for name in ("a", "b"):  # the same sample however the rows and columns were split
        expected = np.sort(in_memory.features[name].values)
        assert expected.size == 700 and np.isfinite(expected).all()
        assert np.array_equal(np.sort(pieces.features[name].values), expected)
        assert np.array_equal(np.sort(whole.features[name].values), expected)


def test_sample_is_uniform_over_the_whole_stream_and_independent_of_chunks():
    # values are their own row numbers: a uniform sample of 1,000 of 200,000 has about half its
    # values in the second half and a mean near 100,000 (four standard errors allowed); a sampler
    # that stopped looking once full, or favoured late rows, would fail
    n, k = 200_000, 1000
    frame = pd.DataFrame({"r": np.arange(n, dtype=np.float64)})
    profile = build_profile(frame)
    whole = CurrentCounts(profile, keep_values=True, sample_size=k)
    whole.add(frame)
    chunked = CurrentCounts(profile, keep_values=True, sample_size=k)
    sizes = [1, 999, 3001, 17_000, 50_000]
    chunks, start = [], 0
    while start < n:
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(frame.iloc[start : start + size])
        start += size
    chunked.add_all(chunks)
    sample = whole.features["r"].values
    assert sample.size == k and np.unique(sample).size == k
    assert np.array_equal(np.sort(chunked.features["r"].values), np.sort(sample))
    assert abs((sample >= n / 2).mean() - 0.5) < 4 * np.sqrt(0.25 / k)
    assert abs(sample.mean() - n / 2) < 4 * n / np.sqrt(12 * k)
    assert abs((sample >= 0.9 * n).mean() - 0.1) < 4 * np.sqrt(0.09 / k)
    empty = CurrentCounts(profile, keep_values=True, sample_size=0)
    empty.add(frame)
    assert empty.features["r"].values.size == 0
