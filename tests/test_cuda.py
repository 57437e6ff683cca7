"""The GPU path: fit, score, and a GPU-trained model loaded on a CPU-only machine.

Skipped where CUDA is not available.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from conftest import tiny_detector, waves

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="CUDA is not available"
)

ROOT = Path(__file__).resolve().parents[1]


# sin(t / 5) and cos(t / 8): the series the tests were written with
PERIODS = (10 * np.pi, 16 * np.pi)


@pytest.fixture(scope="module")
def gpu_detector():
    # the settings it was written for: window 12 (encode's shape), hidden size 8
    return tiny_detector(
        window_size=12, hidden_size=8, max_epochs=3, batch_size=64, device="cuda"
    ).fit(waves(400, PERIODS))


def test_fit_and_score_on_the_gpu(gpu_detector):
    X = waves(400, PERIODS, seed=1)
    X[200] += 4.0
    assert gpu_detector.device_ == "cuda"
    assert next(gpu_detector.net_.module_.parameters()).is_cuda
    scores = gpu_detector.score_samples(X)
    assert scores.shape == (400,) and scores.dtype == np.float64
    assert np.isfinite(scores).all()
    assert np.argmin(scores) in range(200 - 11, 201)
    assert gpu_detector.reconstruct(X).shape == X.shape
    assert gpu_detector.encode(X).shape == (400 - 12 + 1, 8)


def test_gpu_and_cpu_copies_of_the_module_score_alike(gpu_detector):
    X = waves(400, PERIODS, seed=2)
    on_gpu = gpu_detector.score_samples(X)
    gpu_detector.net_.module_.to("cpu")
    try:
        on_cpu = gpu_detector.score_samples(X)
    finally:
        gpu_detector.net_.module_.to("cuda")
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-3, atol=1e-6)


def test_gpu_model_loads_and_scores_with_cuda_hidden(gpu_detector, tmp_path):
    X = waves(400, PERIODS, seed=3)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", gpu_detector.score_samples(X))
    joblib.dump(gpu_detector, tmp_path / "detector.joblib")
    script = textwrap.dedent(
        f"""
        import warnings
        import joblib, numpy as np, torch
        assert not torch.cuda.is_available()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            detector = joblib.load({str(tmp_path / "detector.joblib")!r})
        X = np.load({str(tmp_path / "X.npy")!r})
        expected = np.load({str(tmp_path / "expected.npy")!r})
        assert next(detector.net_.module_.parameters()).device.type == "cpu"
        np.testing.assert_allclose(
            detector.score_samples(X), expected, rtol=1e-3, atol=1e-6
        )
        print("ok")
        """
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")


def test_auto_precision_on_the_gpu_trains_in_bfloat16_where_it_can():
    X = waves(400, PERIODS)
    detector = tiny_detector(precision="auto", device="cuda").fit(X)
    expected = "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    assert detector.precision_ == expected
    assert {p.dtype for p in detector.net_.module_.parameters()} == {torch.float32}
    assert np.isfinite(detector.score_samples(X)).all()
