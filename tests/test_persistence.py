"""joblib round trips of fitted detectors and pipelines, in this and a fresh process."""

import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
from conftest import tiny_detector, waves
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


@pytest.mark.parametrize("as_pipeline", [False, True], ids=["detector", "pipeline"])
def test_joblib_round_trip_gives_identical_scores(tmp_path, as_pipeline):
    X = waves(400)
    model = (
        make_pipeline(StandardScaler(), tiny_detector())
        if as_pipeline
        else tiny_detector()
    )
    model.fit(X)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    detector = loaded[-1] if as_pipeline else loaded
    assert detector.threshold_ == (model[-1] if as_pipeline else model).threshold_
    assert len(detector.history_) == detector.max_epochs


@pytest.mark.slow
def test_joblib_round_trip_in_a_fresh_process(tmp_path):
    X = waves(400)
    model = make_pipeline(StandardScaler(), tiny_detector()).fit(X)
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
