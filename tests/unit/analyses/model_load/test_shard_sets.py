"""Shard sets judged as a whole: missing, extra, unindexed shards and misplaced tensors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from opskit.analyses.model_load import shard_sets as ss
from opskit.checks import Status
from opskit.errors import InputError

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "models"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------- shard sets
def shards(folder: Path, names: list[str], index: list[str] | None = None) -> None:
    for name in names:
        (folder / name).write_bytes(b"x")
    if index is not None:
        weight_map = {f"t{i}": name for i, name in enumerate(index)}
        (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


def shard(i: int, n: int = 4) -> str:
    return f"model-{i:05d}-of-{n:05d}.safetensors"


def test_complete_shard_set_passes(tmp_path):
    shards(tmp_path, [shard(i) for i in range(1, 5)], [shard(i) for i in range(1, 5)])
    (result,) = ss.check_shard_sets(tmp_path)
    assert result.ok and result.total == 4 and result.index_file == "model.safetensors.index.json"
    assert [v.status for v in ss.shard_verdicts([result])] == [Status.PASS]


def test_missing_shard_named_by_index(tmp_path):
    shards(tmp_path, [shard(1), shard(2), shard(4)], [shard(i) for i in (1, 2, 3, 3, 4)])
    (result,) = ss.check_shard_sets(tmp_path)
    assert result.missing == (shard(3),) and result.absent_in_index == (shard(3),)
    assert result.tensors_in_missing == 2
    (verdict,) = ss.shard_verdicts([result])
    assert verdict.status is Status.FAIL and (verdict.observed, verdict.threshold) == (3, 4)
    assert shard(3) in verdict.message


def test_extra_and_unindexed_shards(tmp_path):
    shards(tmp_path, [shard(1, 2), shard(2, 2), shard(3, 2), shard(1, 3)], [shard(1, 2), shard(2, 2)])
    (result,) = ss.check_shard_sets(tmp_path)
    assert result.total == 2 and not result.missing
    assert set(result.extra) == {shard(3, 2), shard(1, 3)}
    assert set(result.not_in_index) == {shard(3, 2), shard(1, 3)}
    assert "stray" in ss.shard_verdicts([result])[0].next_step


def test_shards_without_index_warn(tmp_path):
    shards(tmp_path, [shard(1, 2), shard(2, 2)])
    assert [v.status for v in ss.shard_verdicts(ss.check_shard_sets(tmp_path))] == [Status.WARN]


def test_broken_index_is_an_input_error(tmp_path):
    (tmp_path / "model.safetensors.index.json").write_text("{not json")
    with pytest.raises(InputError) as err:
        ss.check_shard_sets(tmp_path)
    assert err.value.path.endswith("model.safetensors.index.json")


def test_index_placing_tensors_in_the_wrong_shard(tmp_path):
    import numpy as np

    from opskit.samples.models import safetensors_bytes

    one = {"a": np.zeros(2, np.float32)}
    two = {"b": np.zeros(2, np.float32)}
    (tmp_path / shard(1, 2)).write_bytes(safetensors_bytes(one))
    (tmp_path / shard(2, 2)).write_bytes(safetensors_bytes(two))
    index = {"weight_map": {"a": shard(1, 2), "b": shard(1, 2)}}  # "b" is in shard 2, not 1
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (result,) = ss.check_shard_sets(tmp_path)
    assert result.not_in_shard == ("b",) and result.not_in_index == (shard(2, 2),)
    (verdict,) = ss.shard_verdicts([result])
    assert verdict.status is Status.FAIL and "do not hold them: b" in verdict.message
