"""The diagnosis settings: built once from the runbook's parameters, blanks meaning "not given"."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from opskit.analyses.model_load.settings import ModelLoadSettings


def test_settings_from_parameters_normalise_once():
    settings = ModelLoadSettings.from_parameters(
        manifest=None,
        expected_sha256="  ABCDEF  ",
        mlflow_model=" ",
        environment=" /tmp/node17 ",
        torch_version="2.4.1+cu121",
        driver_version="",
        compute_capability=" 9.0 ",
        reference=None,
        load_with_torch=False,
    )
    assert (settings.manifest, settings.expected_sha256, settings.mlflow_model) == ("", "abcdef", "")
    assert settings.environment == "/tmp/node17" and settings.reference == ""
    assert settings.overrides == {"torch_version": "2.4.1+cu121", "compute_capability": "9.0"}
    assert settings.load_with_torch is False and settings.workers == 2


def test_settings_defaults_match_the_runbook_and_are_frozen():
    settings = ModelLoadSettings.from_parameters()
    assert settings == ModelLoadSettings()
    assert ModelLoadSettings.from_parameters(environment=None).environment == "local"
    with pytest.raises(FrozenInstanceError):
        settings.workers = 4  # type: ignore[misc]
