"""Shared fixtures."""

import os
from pathlib import Path

import pytest


def _shared_data_dir():
    """Return $SKAE_SHARED_DATA, else ../shared/data from the repository root."""
    if os.environ.get("SKAE_SHARED_DATA"):
        return Path(os.environ["SKAE_SHARED_DATA"])
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    """The folder holding the public NAB/ and SKAB/ files; skips tests without it."""
    path = _shared_data_dir()
    if not ((path / "NAB" / "data").is_dir() and (path / "SKAB" / "data").is_dir()):
        pytest.skip(
            f"the public benchmark data (NAB/ and SKAB/) is not at {path}; set "
            "SKAE_SHARED_DATA to the folder that holds them"
        )
    return path
