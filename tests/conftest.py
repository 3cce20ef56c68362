"""Shared test set-up: sample data is generated once per session into a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def pytest_configure(config):
    # Before any test imports opskit.samples: generated samples go to a per-session folder.
    if "OPSKIT_SAMPLES_DIR" not in os.environ:
        import tempfile

        os.environ["OPSKIT_SAMPLES_DIR"] = tempfile.mkdtemp(prefix="opskit-samples-")
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def runbook_fixture() -> callable:
    """Path of a fixture notebook in tests/fixtures/runbooks by behaviour name."""
    return lambda name: FIXTURES / "runbooks" / f"{name}.ipynb"
