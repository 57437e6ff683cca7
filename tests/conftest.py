"""Shared fixtures: where the real benchmark data lives, and a fast torch set-up."""

import os
from pathlib import Path

import pytest


def _shared_data_dir():
    env = os.environ.get("SKAE_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """Path to the real labelled benchmarks (``../shared/data``); skip if absent."""
    path = _shared_data_dir()
    if not (path / "SKAB").is_dir() or not (path / "NAB").is_dir():
        pytest.skip(
            f"real benchmark data not found at {path} (set SKAE_SHARED_DATA to the "
            "folder holding SKAB/ and NAB/)"
        )
    return path
