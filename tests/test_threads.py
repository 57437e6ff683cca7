"""Torch's thread count follows n_threads, or joblib's workers, and is restored."""

import os

import numpy as np
import pytest
import torch
from sklearn.model_selection import TimeSeriesSplit, cross_validate

from skae import LSTMAutoencoderDetector, _net
from skae._threads import torch_threads

X = np.sin(np.arange(240) / 4.0)[:, None]
TINY = {"window_size": 6, "hidden_size": 3, "max_epochs": 1, "random_state": 0}


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_n_threads_applies_during_fit_and_scoring_and_is_restored(
    two_threads, monkeypatch
):
    seen = []
    fit_net = _net.fit_net

    def recording_fit_net(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return fit_net(*args, **kwargs)

    monkeypatch.setattr(_net, "fit_net", recording_fit_net)
    detector = LSTMAutoencoderDetector(n_threads=1, device="cpu", **TINY).fit(X)
    assert seen == [1]
    assert torch.get_num_threads() == 2

    forward = detector.net_.module_.forward

    def recording_forward(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return forward(*args, **kwargs)

    monkeypatch.setattr(detector.net_.module_, "forward", recording_forward)
    detector.score_samples(X)
    detector.reconstruct(X)
    assert set(seen) == {1}
    assert torch.get_num_threads() == 2

    detector.set_params(n_threads=None)
    seen.clear()
    detector.score_samples(X)
    assert set(seen) == {2}


def test_threads_are_restored_when_the_call_fails(two_threads):
    detector = LSTMAutoencoderDetector(n_threads=1, device="cpu", **TINY)
    with pytest.raises(ValueError, match="n_samples = 3"):
        detector.fit(X[:3])
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="at least 1"), torch_threads(0):
        pass
    with pytest.raises(TypeError, match="int or None"), torch_threads(1.5):
        pass
    with pytest.raises(ValueError, match="n_threads"):
        LSTMAutoencoderDetector(n_threads=0, **TINY).fit(X)


class ThreadRecordingDetector(LSTMAutoencoderDetector):
    """Records torch's thread count in the process that fits it."""

    def fit(self, X, y=None):
        super().fit(X, y)
        self.torch_threads_seen_ = torch.get_num_threads()
        return self


def test_joblib_workers_do_not_oversubscribe_the_cores():
    # cross_validate(n_jobs=2) fits in loky worker processes, which joblib starts
    # with OMP_NUM_THREADS = cpu_count // n_jobs; torch reads it
    result = cross_validate(
        ThreadRecordingDetector(device="cpu", **TINY),
        X,
        cv=TimeSeriesSplit(n_splits=2),
        n_jobs=2,
        return_estimator=True,
    )
    limit = max(1, (os.cpu_count() or 1) // 2)
    seen = [estimator.torch_threads_seen_ for estimator in result["estimator"]]
    assert all(1 <= threads <= limit for threads in seen), seen
