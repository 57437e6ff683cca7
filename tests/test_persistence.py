"""joblib round trips of fitted detectors and pipelines, in this and a fresh process."""

import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import LSTMAutoencoderDetector


def _series(n=400):
    t = np.arange(n)
    rng = np.random.default_rng(0)
    return np.c_[np.sin(t / 6.0), np.cos(t / 9.0)] + 0.05 * rng.normal(size=(n, 2))


def _detector():
    return LSTMAutoencoderDetector(
        window_size=12, hidden_size=6, max_epochs=2, random_state=0
    )


@pytest.mark.parametrize("as_pipeline", [False, True], ids=["detector", "pipeline"])
def test_joblib_round_trip_gives_identical_scores(tmp_path, as_pipeline):
    X = _series()
    model = make_pipeline(StandardScaler(), _detector()) if as_pipeline else _detector()
    model.fit(X)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    detector = loaded[-1] if as_pipeline else loaded
    assert detector.threshold_ == (model[-1] if as_pipeline else model).threshold_
    assert len(detector.history_) == 2


def test_joblib_round_trip_in_a_fresh_process(tmp_path):
    X = _series()
    model = make_pipeline(StandardScaler(), _detector()).fit(X)
    joblib.dump(model, tmp_path / "model.joblib")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", model.score_samples(X))
    script = textwrap.dedent(
        f"""
        import joblib, numpy as np
        model = joblib.load({str(tmp_path / "model.joblib")!r})
        X = np.load({str(tmp_path / "X.npy")!r})
        expected = np.load({str(tmp_path / "expected.npy")!r})
        np.testing.assert_array_equal(model.score_samples(X), expected)
        print("identical", model[-1].threshold_)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("identical")
