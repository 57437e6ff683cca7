"""Dask: chunked scoring equals in-memory scoring; tuning and scoring on a cluster."""

import os
import warnings
from unittest import mock

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import tiny_detector, waves
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

import skae._inference
from skae import LSTMAutoencoderDetector, score_dask

da = pytest.importorskip("dask.array")


# The network computes in float32 and a window's result can change in the last
# bits with the other windows of its batch, which differ between chunked and
# in-memory scoring (measured up to 1.1e-7 on scores of about 0.1 to 1).
TOLERANCE = dict(rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def fitted():
    return tiny_detector(window_size=9).fit(waves(300))


@pytest.mark.parametrize(
    "chunks",
    [
        (50, 2),  # regular chunks longer than a window
        (1, 1),  # chunks of one step (merged to window_size - 1) and one feature
        ((9, 100, 0, 3, 250, 38), 2),  # uneven, an empty and a tiny chunk
        ((392, 8), 2),  # last chunk shorter than a window
        (400, 2),  # one chunk
    ],
    ids=["regular", "single-steps", "uneven", "short-tail", "one-chunk"],
)
def test_chunked_scores_equal_in_memory_scores(fitted, chunks):
    X = waves(400, seed=1)
    X[200] += 3.0  # an anomaly on a chunk boundary in the regular case
    lazy = score_dask(fitted, da.from_array(X, chunks=chunks))
    assert lazy.shape == (400,)
    assert lazy.dtype == np.float64
    scores = lazy.compute(scheduler="threads")
    np.testing.assert_allclose(scores, fitted.score_samples(X), **TOLERANCE)


@pytest.mark.parametrize("method", ["decision_function", "predict"])
def test_other_methods(fitted, method):
    X = waves(150, seed=2)
    X[70] += 5.0
    result = score_dask(fitted, da.from_array(X, chunks=(40, 2)), method=method)
    expected = getattr(fitted, method)(X)
    assert result.dtype == expected.dtype
    np.testing.assert_allclose(result.compute(), expected, **TOLERANCE)


def test_feature_names_carry_over_without_warnings():
    X = pd.DataFrame(waves(120), columns=["flow", "pressure"])
    detector = tiny_detector(window_size=5, max_epochs=1).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = score_dask(detector, da.from_array(X.to_numpy(), chunks=(30, 2)))
        np.testing.assert_allclose(scores.compute(), detector.score_samples(X))


# ------------------------------------------------- exact equality for any chunking

# (window_size, score_stride, fitted on a DataFrame)
DETECTORS = [
    (8, 1, False),
    (8, 3, True),
    (8, 8, False),
    (32, "auto", False),
    (32, 32, False),
]
METHODS = ["score_samples", "decision_function", "predict"]
N_MAX = 300


@pytest.fixture(scope="module")
def detectors():
    X = waves(N_MAX, seed=4)
    fitted = {}
    for window_size, score_stride, frame in DETECTORS:
        data = pd.DataFrame(X, columns=["flow", "pressure"]) if frame else X
        # hidden_size=4: the exact checks score one window per forward pass
        fitted[window_size, score_stride, frame] = tiny_detector(
            window_size=window_size,
            hidden_size=4,
            max_epochs=1,
            score_stride=score_stride,
        ).fit(data)
    return fitted


def _one_window_per_forward_pass():
    # A window's float32 result can change in its last bit with the other windows
    # of its forward pass (on CPU: a batch of one takes another kernel), and chunked
    # scoring batches windows differently. One window per pass takes that rounding
    # out, so chunked and in-memory scores must then be equal to the last bit
    # exactly when every step is scored from the same windows.
    return mock.patch.object(skae._inference, "BATCH_SIZE", 1)


def _exact_check(detector, X, chunks, method="score_samples"):
    if hasattr(detector, "feature_names_in_"):
        X = pd.DataFrame(X, columns=detector.feature_names_in_)
    lazy = score_dask(
        detector, da.from_array(np.asarray(X), chunks=(chunks, 2)), method=method
    )
    with _one_window_per_forward_pass():
        expected = getattr(detector, method)(X)
        result = lazy.compute(scheduler="synchronous")
    assert lazy.shape == expected.shape
    assert result.dtype == expected.dtype
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=0)


@st.composite
def _chunkings(draw, window_size):
    """Chunk sizes summing to n: single steps, chunks shorter and longer than a
    window, a short last chunk."""
    n = draw(st.integers(window_size, N_MAX))
    sizes = draw(
        st.lists(
            st.one_of(st.integers(1, window_size), st.integers(1, n)),
            min_size=1,
            max_size=12,
        )
    )
    chunks, total = [], 0
    for size in sizes:
        size = min(size, n - total)
        if size == 0:
            break
        chunks.append(size)
        total += size
    if total < n:
        chunks.append(n - total)
    return tuple(chunks)


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_chunked_scoring_equals_in_memory_scoring_for_any_chunking(detectors, data):
    key = data.draw(st.sampled_from(DETECTORS), label="detector")
    chunks = data.draw(_chunkings(key[0]), label="chunks")
    method = data.draw(st.sampled_from(METHODS), label="method")
    X = waves(sum(chunks), seed=5)
    _exact_check(detectors[key], X, chunks, method)


@pytest.mark.parametrize(
    "chunks",
    [
        (99,) * 5 + (5,),  # chunks of 9,999 on 50,000 steps: a last chunk of 5 steps
        (490, 10),
        (480, 20),
        (250, 240, 10),
        (500,),  # one chunk
        (1,) * 500,
    ],
    ids=["regular-short-tail", "490-10", "480-20", "250-240-10", "one-chunk", "ones"],
)
@pytest.mark.parametrize("method", METHODS)
def test_chunkings_with_a_short_last_chunk(detectors, chunks, method):
    # 50,000 steps, window 32 and the default scoring stride, scaled down
    X = waves(500, seed=6)
    X[495] += 2.0  # an anomaly in the short last chunk
    _exact_check(detectors[32, "auto", False], X, chunks, method)


def test_chunks_are_chosen_before_dask_could_rechunk(detectors):
    # boundaries on the scoring grid, every chunk at least window_size - 1 long
    detector = detectors[32, "auto", False]
    X = da.from_array(waves(500), chunks=((99,) * 5 + (5,), 2))
    chunks = score_dask(detector, X).chunks[0]
    assert sum(chunks) == 500
    assert min(chunks) >= 31
    assert all((edge - 31) % 8 == 0 for edge in np.cumsum(chunks)[:-1])


def test_bad_input_is_refused(fitted):
    good = da.from_array(waves(100), chunks=(25, 2))
    with pytest.raises(TypeError, match="dask.array.Array"):
        score_dask(fitted, waves(100))
    with pytest.raises(ValueError, match="2-D"):
        score_dask(fitted, good[:, 0])
    with pytest.raises(ValueError, match="3 features"):
        score_dask(
            fitted, da.from_array(waves(100, periods=(40, 25, 16)), chunks=(25, 3))
        )
    with pytest.raises(ValueError, match="window_size=9"):
        score_dask(fitted, good[:5])
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        score_dask(fitted, good[good[:, 0] > 0])
    with pytest.raises(TypeError, match="numbers"):
        score_dask(fitted, da.from_array(np.full((100, 2), "a"), chunks=(25, 2)))
    with pytest.raises(ValueError, match="method"):
        score_dask(fitted, good, method="fit")
    with pytest.raises(NotFittedError):
        score_dask(LSTMAutoencoderDetector(), good)
    X = waves(100)
    X[60, 1] = np.nan
    lazy = score_dask(fitted, da.from_array(X, chunks=(25, 2)))
    with pytest.raises(ValueError, match="NaN"):
        lazy.compute(scheduler="synchronous")


# ---------------------------------------------------------- a real local cluster


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    # the nanny writes its worker settings (OMP_NUM_THREADS=1, ...) into this
    # process's environment; keep them from leaking into later tests' subprocesses
    environ = os.environ.copy()
    try:
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    finally:
        os.environ.clear()
        os.environ.update(environ)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
    os.environ.clear()
    os.environ.update(environ)


def _search(n_jobs):
    return GridSearchCV(
        tiny_detector(
            window_size=8,
            batch_size=64,
            lr=1e-2,
            # one thread in the workers as here: other counts change the last
            # bits of the LSTM's sums, which two epochs amplify past 1e-4
            n_threads=1,
        ),
        {"hidden_size": [1, 6]},
        cv=TimeSeriesSplit(n_splits=2),
        n_jobs=n_jobs,
    )


@pytest.mark.slow
def test_grid_search_on_a_local_cluster_matches_a_local_run(client):
    X = waves(240)
    local = _search(n_jobs=1).fit(X)
    from distributed import get_task_stream

    with get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        distributed_search = _search(n_jobs=-1).fit(X)
    # the 4 cross-validation fits ran as tasks on the cluster's worker processes
    assert len(stream.data) >= 1
    assert {task["worker"] for task in stream.data} <= set(
        client.scheduler_info()["workers"]
    )
    assert all(task["status"] == "OK" for task in stream.data)
    assert distributed_search.best_params_ == local.best_params_
    np.testing.assert_allclose(
        distributed_search.cv_results_["mean_test_score"],
        local.cv_results_["mean_test_score"],
        rtol=1e-4,
    )
    np.testing.assert_allclose(
        distributed_search.score_samples(X), local.score_samples(X), rtol=1e-4
    )


@pytest.mark.slow
def test_chunked_scoring_on_a_local_cluster(client, fitted):
    X = waves(500, seed=3)
    lazy = score_dask(fitted, da.from_array(X, chunks=(60, 2)))
    scores = client.compute(lazy).result()
    np.testing.assert_allclose(scores, fitted.score_samples(X), **TOLERANCE)
