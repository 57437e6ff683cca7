"""Torch's thread count follows n_threads, or joblib's workers, and is restored."""

import os

import numpy as np
import pytest
import torch
from conftest import TINY, tiny_detector, tiny_encoder, waves
from sklearn.model_selection import TimeSeriesSplit, cross_validate

from skae import LSTMAutoencoderDetector, _inference, _threads, _training
from skae._threads import auto_threads, torch_threads

X = waves(240, periods=(25,), noise=0.0)
SMALL = dict(window_size=6, hidden_size=3, max_epochs=1)


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
    fit_net = _training.fit_net

    def recording_fit_net(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return fit_net(*args, **kwargs)

    monkeypatch.setattr(_training, "fit_net", recording_fit_net)
    detector = tiny_detector(SMALL, n_threads=1).fit(X)
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


def test_the_encoder_transforms_under_its_detector_thread_setting(
    two_threads, monkeypatch
):
    encoder = tiny_encoder(SMALL).fit(X)
    encoder.detector_.set_params(n_threads=1)
    seen = []
    step_codes = _inference.step_codes

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return step_codes(*args, **kwargs)

    monkeypatch.setattr(_inference, "step_codes", recording)
    encoder.transform(X)
    assert seen == [1]
    assert torch.get_num_threads() == 2


def test_threads_are_restored_when_the_call_fails(two_threads):
    detector = tiny_detector(SMALL, n_threads=1)
    with pytest.raises(ValueError, match="n_samples = 3"):
        detector.fit(X[:3])
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="at least 1"), torch_threads(0):
        pass
    with pytest.raises(TypeError, match="int or None"), torch_threads(1.5):
        pass
    with pytest.raises(ValueError, match="n_threads"):
        tiny_detector(SMALL, n_threads=0).fit(X)


class ThreadRecordingDetector(LSTMAutoencoderDetector):
    """Records torch's thread count in the process that fits it."""

    def fit(self, X, y=None):
        super().fit(X, y)
        self.torch_threads_seen_ = torch.get_num_threads()
        return self


@pytest.mark.slow
def test_joblib_workers_do_not_oversubscribe_the_cores():
    # cross_validate(n_jobs=2) fits in loky worker processes, which joblib starts
    # with OMP_NUM_THREADS = cpu_count // n_jobs; torch reads it
    result = cross_validate(
        ThreadRecordingDetector(**{**TINY, **SMALL}),
        X,
        cv=TimeSeriesSplit(n_splits=2),
        n_jobs=2,
        return_estimator=True,
    )
    limit = max(1, (os.cpu_count() or 1) // 2)
    seen = [estimator.torch_threads_seen_ for estimator in result["estimator"]]
    assert all(1 <= threads <= limit for threads in seen), seen


# ------------------------------------------------------------ n_threads="auto"


def machine(monkeypatch, *, cpus=2, affinity=2, running=None, own=1):
    """Pretend to run on ``cpus`` cores with ``running`` runnable threads in all."""
    monkeypatch.setattr(_threads.os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(_threads, "_usable_cores", lambda: affinity)
    readings = iter(running) if isinstance(running, list) else None
    monkeypatch.setattr(
        _threads,
        "_procs_running",
        lambda: next(readings) if readings is not None else running,
    )
    monkeypatch.setattr(_threads, "_own_running_threads", lambda: own)
    monkeypatch.setattr(_threads.time, "sleep", lambda seconds: None)


LARGE = {"hidden_size": 64, "n_features": 1, "batch_size": 64}


def test_auto_uses_one_thread_when_other_processes_hold_the_cores(
    two_threads, monkeypatch
):
    # this thread plus two threads of another process on 2 cores
    machine(monkeypatch, running=3)
    assert _threads.busy_cores() == 2
    assert auto_threads(**LARGE) == 1
    # one other thread leaves one core
    machine(monkeypatch, cpus=4, affinity=4, running=3)
    torch.set_num_threads(4)
    assert auto_threads(**LARGE) == 2


def test_auto_uses_torch_setting_on_an_idle_machine(two_threads, monkeypatch):
    # this process's own spinning threads are not load
    machine(monkeypatch, running=3, own=3)
    assert _threads.busy_cores() == 0
    assert auto_threads(**LARGE) == 2
    assert auto_threads() == 2
    # a blip in one reading of five does not count
    machine(monkeypatch, running=[1, 3, 1, 1, 3])
    assert auto_threads(**LARGE) == 2


def test_auto_uses_one_thread_for_small_models(two_threads, monkeypatch):
    machine(monkeypatch, running=1)
    small = {"hidden_size": 16, "n_features": 25, "batch_size": 64}
    assert 64 * 4 * 16 * 41 < _threads.MIN_WORK_PER_THREAD
    assert auto_threads(**small) == 1
    assert auto_threads(**{**small, "batch_size": 1024}) == 2


@pytest.mark.parametrize(
    "torch_setting, affinity, expected", [(2, 1, 1), (1, 4, 1), (3, 2, 2), (4, 8, 4)]
)
def test_auto_never_exceeds_torch_setting_or_affinity(
    monkeypatch, torch_setting, affinity, expected
):
    machine(monkeypatch, cpus=8, affinity=affinity, running=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(torch_setting)
    try:
        assert auto_threads(**LARGE) == expected
        with torch_threads("auto", **LARGE):
            assert torch.get_num_threads() == expected
        assert torch.get_num_threads() == torch_setting
    finally:
        torch.set_num_threads(previous)


def test_auto_falls_back_to_torch_setting_without_proc(
    two_threads, monkeypatch, tmp_path
):
    assert _threads._procs_running(tmp_path / "missing") is None
    assert _threads._own_running_threads(tmp_path / "missing") == 1
    machine(monkeypatch, running=None)
    assert _threads.busy_cores() is None
    assert auto_threads(**LARGE) == 2


def test_proc_readings_are_parsed(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3\nctxt 99\nprocs_running 7\nprocs_blocked 0\n")
    assert _threads._procs_running(stat) == 7
    stat.write_text("cpu  1 2 3\n")
    assert _threads._procs_running(stat) is None
    tasks = tmp_path / "task"
    for tid, line in [
        (1, "1 (python) R 0 1"),
        (2, "2 (odd) name) S 1 1"),  # a command name may hold ") "
        (3, "3 (x R y) S 1 1"),
        (4, "4 (omp) R 1 1"),
    ]:
        (tasks / str(tid)).mkdir(parents=True)
        (tasks / str(tid) / "stat").write_text(line)
    assert _threads._own_running_threads(tasks) == 2


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux's /proc/stat")
def test_busy_cores_reads_this_machine():
    busy = _threads.busy_cores()
    assert isinstance(busy, int) and busy >= 0
    assert _threads._own_running_threads() >= 1


def test_detector_auto_passes_its_sizes_and_restores(two_threads, monkeypatch):
    seen, asked = [], []
    fit_net = _training.fit_net

    def recording_fit_net(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return fit_net(*args, **kwargs)

    auto = _threads.auto_threads

    def recording_auto(**sizes):
        asked.append(sizes)
        return auto(**sizes)

    monkeypatch.setattr(_training, "fit_net", recording_fit_net)
    monkeypatch.setattr(_threads, "auto_threads", recording_auto)
    X3 = np.column_stack([X, X, X])
    params = {**SMALL, "hidden_size": 64, "batch_size": 64, "n_threads": "auto"}
    machine(monkeypatch, running=1)  # idle
    detector = tiny_detector(**params).fit(X3)
    machine(monkeypatch, running=3)  # busy
    detector.score_samples(X3)
    tiny_detector(**params).fit(X3)
    assert seen == [2, 1]
    assert asked[0] == {"hidden_size": 64, "batch_size": 64, "n_features": 3}
    assert asked[1] == asked[0]
    assert torch.get_num_threads() == 2
