"""Mixed precision: ``precision="bfloat16"`` trains under bfloat16 autocast, step
by step; ``"auto"`` picks it only where it is fast and runs; scoring is float32.

How close a bfloat16 fit is to a float32 one
--------------------------------------------
A tiny fit (window 8, hidden 4, two epochs of 600 steps) trained in bfloat16
scored within 3.4e-4 of the float32 fit's largest score on an Intel Xeon with
AMX, and the same under ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16`` and
``AVX512_CORE`` (bfloat16 without AMX, and without bfloat16 instructions);
between those three kernel settings the bfloat16 fits themselves differed by
4e-8. ``BFLOAT16_TOLERANCE`` (2e-3) is six times the first figure. Longer
training carries the rounding further: after five epochs at hidden 16 the
bfloat16 fits of the three settings had thresholds up to 12 % apart, as
float32 fits differ between CPUs after many epochs (benchmarks/README.md,
"Fit speed: bfloat16 training steps", for what that does to the benchmarks'
figures).
"""

import numpy as np
import pytest
import torch
from conftest import tiny_detector, waves

from skae import (
    LSTMAutoencoderDetector,
    LSTMEncoderTransformer,
    _module,
    _training,
    load_model,
    save_model,
)

BFLOAT16_TOLERANCE = 2e-3
"""Largest difference of a tiny bfloat16 fit's scores from the float32 fit's,
relative to their largest magnitude."""

needs_bfloat16 = pytest.mark.skipif(
    not _training.bfloat16_support("cpu")[0],
    reason="this CPU cannot train an LSTM under bfloat16 autocast (no AVX-512)",
)


def _record_autocast(monkeypatch):
    """Record, per forward pass of the network, whether autocast was on and
    whether autograd was recording (a training step) or not."""
    calls = []
    forward = _module.LSTMAutoencoder.forward

    def recording(self, *args, **kwargs):
        calls.append((torch.is_grad_enabled(), torch.is_autocast_enabled("cpu")))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(_module.LSTMAutoencoder, "forward", recording)
    return calls


@needs_bfloat16
def test_bfloat16_runs_each_training_step_under_autocast_and_scores_in_float32(
    monkeypatch,
):
    calls = _record_autocast(monkeypatch)
    detector = tiny_detector(precision="bfloat16").fit(waves(300))
    assert detector.precision_ == "bfloat16"
    training = [autocast for grad, autocast in calls if grad]
    assert training and all(training)
    # the held-out loss, the threshold's errors and scoring are float32
    assert not any(autocast for grad, autocast in calls if not grad)
    calls.clear()
    detector.score_samples(waves(100, seed=1))
    assert calls and not any(autocast for _, autocast in calls)
    # the weights stay float32
    dtypes = {p.dtype for p in detector.net_.module_.parameters()}
    assert dtypes == {torch.float32}
    # partial_fit trains the same way
    calls.clear()
    detector.partial_fit(waves(100, seed=2))
    assert all(autocast for grad, autocast in calls if grad)


def test_float32_never_enters_autocast(monkeypatch):
    calls = _record_autocast(monkeypatch)
    detector = tiny_detector(precision="float32").fit(waves(300))
    assert detector.precision_ == "float32"
    assert calls and not any(autocast for _, autocast in calls)


@pytest.mark.parametrize("fast", [False, True])
def test_auto_picks_bfloat16_only_on_a_cpu_with_bfloat16_units(monkeypatch, fast):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: fast)
    runs = _training.bfloat16_support("cpu")[0]
    calls = _record_autocast(monkeypatch)
    detector = tiny_detector(precision="auto", max_epochs=1).fit(waves(200))
    assert detector.precision_ == ("bfloat16" if fast and runs else "float32")
    assert any(autocast for _, autocast in calls) == (detector.precision_ == "bfloat16")


def test_bfloat16_where_it_cannot_run_says_so_before_training(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_supported", lambda: False)
    X = waves(200)
    before = X.copy()
    detector = tiny_detector(precision="bfloat16")
    message = r"precision='bfloat16' cannot train.*'float32'"
    with pytest.raises(ValueError, match=message):
        detector.fit(X)
    assert not hasattr(detector, "offset_")
    np.testing.assert_array_equal(X, before)
    # "auto" falls back to float32 there
    assert tiny_detector(precision="auto", max_epochs=1).fit(X).precision_ == "float32"


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(ValueError, match="precision"):
        tiny_detector(precision="float16").fit(waves(200))


@needs_bfloat16
def test_a_bfloat16_fit_is_reproducible_and_close_to_the_float32_fit():
    X = waves(600)
    params = dict(window_size=8, hidden_size=4, max_epochs=2, patience=2)
    params.update(batch_size=32, device="cpu", n_threads=1, random_state=0)
    fits = [
        LSTMAutoencoderDetector(precision=p, **params).fit(X)
        for p in ("bfloat16", "bfloat16", "float32")
    ]
    scores = [-d.score_samples(X) for d in fits]
    # the same machine, the same seed: the same fit
    np.testing.assert_array_equal(scores[0], scores[1])
    assert fits[0].threshold_ == fits[1].threshold_
    # bfloat16 rounding moves a tiny fit by far less than the scores' scale
    scale = np.max(np.abs(scores[2]))
    assert np.max(np.abs(scores[0] - scores[2])) <= BFLOAT16_TOLERANCE * scale
    assert fits[0].threshold_ == pytest.approx(fits[2].threshold_, rel=1e-2)


@needs_bfloat16
def test_a_model_file_keeps_the_precision(tmp_path):
    detector = tiny_detector(precision="bfloat16", max_epochs=1).fit(waves(200))
    save_model(detector, tmp_path / "m.skae")
    loaded = load_model(tmp_path / "m.skae")
    assert loaded.precision == "bfloat16" and loaded.precision_ == "bfloat16"
    X = waves(100, seed=1)
    np.testing.assert_array_equal(loaded.score_samples(X), detector.score_samples(X))


def test_the_encoder_passes_the_precision_on():
    X = [waves(30 + i, seed=i) for i in range(12)]
    encoder = LSTMEncoderTransformer(
        hidden_size=4, max_epochs=1, random_state=0, precision="float32"
    ).fit(X)
    assert encoder.detector_.precision_ == "float32"


def test_auto_trains_sequences_in_float32(monkeypatch):
    # packed sequences under bfloat16 fitted differently in threads than
    # serially, so "auto" keeps them float32 (test_reproducibility.py)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    calls = _record_autocast(monkeypatch)
    X = [waves(30 + i, seed=i) for i in range(12)]
    detector = tiny_detector(precision="auto", max_epochs=1).fit(X)
    assert detector.precision_ == "float32"
    assert calls and not any(autocast for _, autocast in calls)
