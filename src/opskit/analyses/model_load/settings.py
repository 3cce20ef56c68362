"""What one model-load diagnosis compares with, normalised once from the runbook's parameters.

:class:`ModelLoadSettings` is built once (:meth:`ModelLoadSettings.from_parameters`) and handed to each
layer as one value, so no layer re-strips a parameter or rebuilds the environment overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

OVERRIDE_FIELDS = ("torch_version", "cuda_version", "driver_version", "compute_capability")


def _text(value: str | None) -> str:
    return (value or "").strip()


@dataclass(frozen=True)
class ModelLoadSettings:
    """The expectations and the environment a diagnosis judges against; empty text means "not given".

    ``manifest``: a manifest path, ``"auto"`` (one beside the files) or ``""`` (none). ``environment``:
    ``local``, ``auto`` or a path. ``overrides``: the environment fields given as parameters
    (:data:`OVERRIDE_FIELDS`, non-empty ones only). ``workers``: hashing threads.
    """

    manifest: str = "auto"
    expected_sha256: str = ""
    mlflow_model: str = ""
    environment: str = "auto"
    overrides: Mapping[str, str] = field(default_factory=dict)
    reference: str = ""
    load_with_torch: bool = True
    workers: int = 2

    @classmethod
    def from_parameters(
        cls,
        *,
        manifest: str | None = "auto",
        expected_sha256: str | None = None,
        mlflow_model: str | None = None,
        environment: str | None = "auto",
        torch_version: str | None = None,
        cuda_version: str | None = None,
        driver_version: str | None = None,
        compute_capability: str | None = None,
        reference: str | None = None,
        load_with_torch: bool = True,
    ) -> ModelLoadSettings:
        """The settings from the runbook's parameters (None and blanks become "not given")."""
        values = (torch_version, cuda_version, driver_version, compute_capability)
        given = dict(zip(OVERRIDE_FIELDS, values, strict=True))
        return cls(
            manifest=_text(manifest),
            expected_sha256=_text(expected_sha256).lower(),
            mlflow_model=_text(mlflow_model),
            environment=_text(environment) or "local",
            overrides={k: _text(v) for k, v in given.items() if _text(v)},
            reference=_text(reference),
            load_with_torch=bool(load_with_torch),
        )
