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


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    """Run the tests with one torch thread (``$SKAE_TEST_THREADS`` to change it).

    The test models are tiny, so a second thread only adds synchronisation: on an
    idle 2-core machine the suite took 48 s with one thread and 69 s with two, and
    on a machine shared with other jobs two OpenMP threads per process also wait
    for each other. Subprocesses and the thread-handling tests set their own
    counts.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("SKAE_TEST_THREADS", "1")))
    yield
    torch.set_num_threads(previous)
