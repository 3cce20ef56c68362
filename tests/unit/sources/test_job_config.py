"""A job's config read from JSON or YAML: common spellings accepted, bad keys named with their file."""

from __future__ import annotations

import json

import pytest

from opskit.errors import InputError
from opskit.sources.job_config import config_from_dict, read_job_config


def test_read_job_config_yaml_and_json_with_aliases(tmp_path):
    yaml_path = tmp_path / "job.yaml"
    yaml_path.write_text(
        "model: llama-7b\nparams_b: 6.74\ndtype: bfloat16\nper_device_train_batch_size: 4\n"
        "max_seq_length: 4096\nnum_hidden_layers: 32\nhidden_size: 4096\nnum_gpus: 8\nfsdp: full_shard\n"
        "gradient_checkpointing: false\n"
    )
    cfg = read_job_config(yaml_path)
    assert cfg.params == pytest.approx(6.74e9)
    assert (cfg.precision, cfg.micro_batch_size, cfg.zero_stage, cfg.gpus) == ("bf16", 4, 3, 8)
    json_path = tmp_path / "job.json"
    json_path.write_text(json.dumps({"params": 1e9, "precision": "fp8", "zero_stage": 2, "gpus": 4}))
    assert read_job_config(json_path).zero_stage == 2


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ('{"params": 1e9, "precision": "fp12"}', "precision"),
        ('{"params": 1e9, "batch_sise": 4}', "batch_sise"),
        ('{"precision": "bf16"}', "params"),
        ('{"params": 1e9, "zero_stage": 4}', "zero_stage"),
    ],
)
def test_bad_job_configs_name_the_file_and_key(tmp_path, text, column):
    path = tmp_path / "job.json"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_job_config(path)
    assert info.value.path == str(path)
    assert info.value.column == column


def test_unparsable_yaml_names_the_line(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("params: 1e9\nprecision: [bf16\n")
    with pytest.raises(InputError) as info:
        read_job_config(path)
    assert info.value.line is not None


def test_a_missing_file_and_a_non_mapping_are_input_errors(tmp_path):
    with pytest.raises(InputError) as info:
        read_job_config(tmp_path / "absent.yaml")
    assert info.value.hint
    listed = tmp_path / "job.json"
    listed.write_text("[1, 2]")
    with pytest.raises(InputError):
        read_job_config(listed)


def test_fsdp_strategies_and_truthy_strings_are_read():
    cfg = config_from_dict({"params_b": 7, "fsdp": "SHARD_GRAD_OP", "gradient_checkpointing": "yes", "tp": "2",
                            "gpus": 8})  # fmt: skip
    assert (cfg.zero_stage, cfg.activation_checkpointing, cfg.tensor_parallel, cfg.data_parallel) == (2, True, 2, 4)
    with pytest.raises(InputError) as info:
        config_from_dict({"params_b": 7, "fsdp": "everything"}, path="job.yaml")
    assert info.value.column == "fsdp" and info.value.path == "job.yaml"
