"""Shared fixtures, and helpers that build tiny models and small data."""

import os
import tracemalloc
from pathlib import Path

import numpy as np
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
    idle 2-core machine an earlier, smaller suite took 48 s with one thread and
    69 s with two, and on a machine shared with other jobs two OpenMP threads per
    process also wait for each other. Subprocesses and the thread-handling tests
    set their own counts. With one thread, the suite of issue 22 (830 tests) took
    1,002 s on a 2-core machine that other jobs kept busy (load average 4 to 11);
    its 26 tests marked ``slow`` took about 600 s of that (229 s when rerun on
    their own, other jobs still running), so ``-m "not slow"`` is the quick run.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("SKAE_TEST_THREADS", "1")))
    yield
    torch.set_num_threads(previous)


# ----------------------------------------------------- tiny models and small data
#
# Plain helpers rather than fixtures, so that module-scoped fixtures and
# ``parametrize`` lists can use them too: ``from conftest import tiny_detector``.

TINY = dict(
    window_size=16,
    hidden_size=8,
    max_epochs=2,
    batch_size=32,
    device="cpu",
    random_state=0,
)
"""Settings under which a fit on a few hundred steps takes about a second."""


def _tiny_params(settings, params):
    merged = dict(TINY)
    for one in settings:
        merged.update(one)
    return {**merged, **params}


def tiny_detector(*settings, **params):
    """Return an unfitted detector with the ``TINY`` settings, updated by each dict
    in ``settings`` (a module's own, e.g. ``tiny_detector(STREAMING, lr=0.1)``),
    then by ``params``."""
    from skae import LSTMAutoencoderDetector

    return LSTMAutoencoderDetector(**_tiny_params(settings, params))


def tiny_encoder(*settings, **params):
    """Return an unfitted encoder, with settings as :func:`tiny_detector`'s."""
    from skae import LSTMEncoderTransformer

    return LSTMEncoderTransformer(**_tiny_params(settings, params))


def waves(n_timesteps=800, periods=(40, 25), *, noise=0.05, seed=0, slopes=None):
    """Return a periodic series plus Gaussian noise, ``(n_timesteps, len(periods))``.

    Column ``j`` is ``sin`` (``j`` even) or ``cos`` (``j`` odd) of
    ``2 pi t / periods[j]``, plus ``slopes[j] * t`` when ``slopes`` is given, plus
    ``noise`` times standard normal draws from ``numpy.random.default_rng(seed)``.
    """
    t = np.arange(n_timesteps)
    X = np.stack(
        [
            (np.cos if j % 2 else np.sin)(2 * np.pi * t / period)
            for j, period in enumerate(periods)
        ],
        axis=1,
    )
    if slopes is not None:
        X = X + np.outer(t, slopes)
    return X + noise * np.random.default_rng(seed).normal(size=X.shape)


def ragged_waves(lengths, n_features=2, *, seed=0):
    """Return sequences of the given lengths: sines of random phase plus noise."""
    rng = np.random.default_rng(seed)
    return [
        np.sin(np.arange(n)[:, None] / 4 + rng.uniform(0, 6, n_features))
        + 0.1 * rng.standard_normal((n, n_features))
        for n in lengths
    ]


def push_in(scorer, X, sizes):
    """Push ``X`` into a streaming ``scorer`` in chunks of the given ``sizes``, then
    the rest; return the concatenated ``(scores, flags, thresholds)``."""
    results, position = [], 0
    for size in [*sizes, len(X)]:
        results.append(scorer.push(X[position : position + size]))
        position = min(len(X), position + size)
    return tuple(np.concatenate(parts) for parts in zip(*results, strict=True))


def allocated_bytes(call):
    """Return the most memory that ``call()`` allocates: the larger of the peak of
    Python and NumPy allocations (:mod:`tracemalloc`) and the bytes that torch's
    CPU allocator hands out (the profiler's memory events, summed).

    A deterministic stand-in for "refused before allocating": it counts bytes, so
    it does not depend on how busy the machine is, as a time limit would.
    ``call`` runs twice and the second run is measured, so that modules imported on
    first use, and the profiler's own start, do not count; it should raise the
    expected error inside a ``pytest.raises`` block of its own.
    """
    from torch.profiler import ProfilerActivity, profile

    def profiled():
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p:
            call()
        return sum(max(event.self_cpu_memory_usage, 0) for event in p.events())

    profiled()  # imports and the profiler's start, untraced: tracing slows them
    already_tracing = tracemalloc.is_tracing()
    if not already_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        torch_bytes = profiled()
        python_peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not already_tracing:
            tracemalloc.stop()
    return max(python_peak, torch_bytes)
