"""Diverging training, extreme magnitudes, constant series, and scoring from threads.

Most tests here are regression tests for bugs that ``test_fuzz.py`` or probing
around it found; each says what the code did before the fix.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from conftest import allocated_bytes, tiny_detector
from sklearn.exceptions import NotFittedError

from skae import LSTMAutoencoder, TrainingDivergedError
from skae._threshold import MIN_RELATIVE_SIGMA, mean_k_sigma

# the settings under which these bugs were found (most by test_fuzz)
ROBUST = dict(
    window_size=3,
    hidden_size=2,
    max_epochs=1,
    batch_size=64,
    validation_fraction=0.25,
)


def noise(n=60, n_features=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, n_features))


# ------------------------------------------------------------ diverging training


@pytest.mark.parametrize("form", ["series", "sequences"])
def test_diverging_training_stops_with_a_clear_error(form):
    # before: lr=1e30 gave NaN weights, threshold_ = nan and NaN scores, silently
    X = noise() if form == "series" else noise(60).reshape(12, 5, 2)
    with pytest.raises(
        TrainingDivergedError, match=r"loss became (nan|inf).*lr=1e\+30"
    ):
        tiny_detector(ROBUST, lr=1e30, max_epochs=5).fit(X)
    assert issubclass(TrainingDivergedError, FloatingPointError)
    assert issubclass(TrainingDivergedError, ValueError)


@pytest.mark.parametrize(
    ("poisoned", "which"), [(True, "training"), (False, "held-out")]
)
def test_non_finite_training_or_heldout_loss_is_caught(monkeypatch, poisoned, which):
    forward = LSTMAutoencoder.forward

    def poisoned_forward(self, x, lengths=None):
        out = forward(self, x, lengths)
        return out * np.nan if self.training == poisoned else out

    monkeypatch.setattr(LSTMAutoencoder, "forward", poisoned_forward)
    with pytest.raises(TrainingDivergedError, match=f"the {which} loss became nan"):
        tiny_detector(ROBUST, max_epochs=3).fit(noise())


def test_failed_refit_leaves_no_half_fitted_model():
    # before: a refit that diverged kept the old net_ with the new scaling and
    # scored NaN; now the detector is simply not fitted
    detector = tiny_detector(ROBUST).fit(noise())
    with pytest.raises(TrainingDivergedError):
        detector.set_params(lr=1e30, max_epochs=5).fit(noise(seed=1) * 5)
    with pytest.raises(NotFittedError):
        detector.score_samples(noise())


# ------------------------------------------------------------ extreme magnitudes


@pytest.mark.parametrize(
    "X",
    [np.array([[1.84467435e19], [0.0]]), [np.array([[0.0]]), np.array([[1e30]])]],
    ids=["series", "sequences"],
)
def test_heldout_far_outside_a_constant_training_part_still_fits(X):
    # found by test_fuzz: the training part is constant, the held-out part lies
    # 1.8e19 (1e30) away, and its squared error overflowed the float32 held-out
    # loss: threshold_ was 3.4e38 (nan) before; the held-out loss is now taken in
    # float64
    detector = tiny_detector(ROBUST, window_size=1).fit(X)
    assert np.isfinite(detector.threshold_)
    assert np.isfinite(detector.score_samples(X)).all()


def test_standardisation_does_not_depend_on_the_units():
    # before: at 1e200 the variance overflowed, every feature became 0 and the
    # scores meant nothing (they differed from the unit-scale ones by 4.1)
    X = noise()
    expected = tiny_detector(ROBUST).fit(X).score_samples(X)
    for factor in (1e-300, 1e200):
        scores = tiny_detector(ROBUST).fit(X * factor).score_samples(X * factor)
        np.testing.assert_allclose(scores, expected, rtol=1e-6)


def test_values_near_the_float64_limit_fit():
    # before: the mean of values near 1.8e308 overflowed to inf and fit returned
    # threshold_ = nan
    X = 1.5e308 * (1 - 1e-3 * np.abs(noise(n_features=1)))
    detector = tiny_detector(ROBUST).fit(X)
    assert np.isfinite(detector.threshold_)
    assert np.isfinite(detector.score_samples(X)).all()


def test_large_deviation_gets_a_finite_score():
    # found by test_fuzz (values of 1e29): the squared error was taken in float32
    # and a deviation of 1e20 scored -inf
    detector = tiny_detector(ROBUST).fit(noise())
    X = noise(seed=1)
    X[10, 0] = 1e20
    scores = detector.score_samples(X)
    assert np.isfinite(scores).all()
    assert np.argmin(scores) in range(8, 13)
    assert detector.predict(X)[10] == -1


def test_heldout_part_beyond_what_the_network_takes_is_refused_clearly():
    # found by test_fuzz: a constant training part [0] keeps its units, so a
    # held-out 1e30 in float32 (1.00000002e30) lies beyond the 1e30 the network
    # takes; this is the documented refusal (the fuzz oracle now knows it), and
    # the message says which value and why
    X = np.array([[0.0], [1e30]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"row 1, feature 0.*after scaling"):
        tiny_detector(ROBUST, window_size=1).fit(X)


@pytest.mark.parametrize("standardize", [True, False])
def test_values_beyond_what_the_network_takes_are_refused(standardize):
    # before: 1e39 became inf in float32 and scored -inf; unstandardised 1e30
    # training data gave threshold_ = nan (found by test_fuzz)
    if standardize:
        detector = tiny_detector(ROBUST).fit(noise())
        X = noise(seed=1)
        X[10, 0] = 1e39
        with pytest.raises(ValueError, match="row 10, feature 0.*after scaling"):
            detector.score_samples(X)
    else:
        with pytest.raises(ValueError, match="after scaling"):
            tiny_detector(ROBUST, standardize=False).fit(noise() * 1e30)


def test_python_integers_too_large_for_float64_are_refused():
    # before: OverflowError escaped from NumPy's conversion
    with pytest.raises(ValueError, match="too large for float64"):
        tiny_detector(ROBUST).fit([[10**400, 1]] * 30)
    sequence = np.array([[10**400, 1]] * 4, dtype=object)
    with pytest.raises(ValueError, match="Sequence 1 has a value too large"):
        tiny_detector(ROBUST).fit([np.ones((4, 2)), sequence, np.ones((4, 2))])


def test_empty_member_of_a_ragged_list_is_refused():
    sequences = [np.ones((5, 2)), np.ones((0, 2)), np.ones((4, 2))]
    with pytest.raises(ValueError, match="Sequence 1.*0 sample"):
        tiny_detector(ROBUST).fit(sequences)
    detector = tiny_detector(ROBUST).fit([np.ones((5, 2)) * i for i in range(1, 6)])
    with pytest.raises(ValueError, match="Sequence 1.*0 sample"):
        detector.score_samples(sequences)


# --------------------------------------------------------------- constant series


def test_threshold_with_zero_spread_is_above_the_mean():
    # before: sigma = 0 gave tau = mu exactly
    mu, sigma, tau = mean_k_sigma(np.full(50, 0.25), 3.0)
    assert sigma == 0
    assert tau == pytest.approx(0.25 * (1 + 3 * MIN_RELATIVE_SIGMA))
    errors = np.random.default_rng(0).gamma(2.0, size=200)
    assert mean_k_sigma(errors, 3.0)[2] == errors.mean() + 3 * errors.std()


@pytest.mark.parametrize("form", ["series", "sequences"])
def test_constant_training_data_gives_a_usable_threshold(form):
    # before: the held-out errors of a constant series are all equal, tau = mu,
    # and a copy of the training data rounded through float32 (relative noise
    # 1e-7) had 47 % of its steps (55 % of its sequences) flagged
    rng = np.random.default_rng(0)
    X = np.full((120, 2), 7.0)
    if form == "sequences":
        X = X.reshape(24, 5, 2)
    detector = tiny_detector(ROBUST, window_size=1, max_epochs=3).fit(X)
    assert detector.heldout_std_ <= 1e-12 * detector.heldout_mean_
    assert detector.threshold_ > detector.heldout_mean_
    assert (detector.predict(X) == 1).all()
    rounded = X * (1 + 1e-7 * rng.normal(size=X.shape))
    assert (detector.predict(rounded) == 1).all()
    shifted = X.copy()
    shifted[len(X) // 2] += 1.0
    assert (detector.predict(shifted) == -1).sum() == 1
    assert detector.predict(shifted)[len(X) // 2] == -1


# ------------------------------------------------------------------- threads


def test_scoring_from_several_threads_equals_serial_scoring():
    detector = tiny_detector().fit(noise(300, 3))
    rng = np.random.default_rng(1)
    series = [rng.normal(size=(n, 3)) for n in (50, 333, 64, 257, 129)]
    ragged = [rng.normal(size=(n, 3)) for n in (3, 9, 17, 5)]
    jobs = [(detector.score_samples, X) for X in series]
    jobs += [(detector.reconstruct, X) for X in series[:3]]
    jobs += [(detector.encode, series[1]), (detector.score_samples, ragged)]
    jobs += [(detector.score_samples, np.stack(ragged[:1] * 7)[:, :3])]
    jobs = jobs * 2

    serial = [method(X) for method, X in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda job: job[0](job[1]), jobs))
    for expected, got in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert not torch.is_inference_mode_enabled()


@pytest.mark.parametrize("form", ["series", "sequences"])
def test_loss_growing_by_orders_of_magnitude_stops_training(form):
    # before: lr=1e6 trained to a finite loss around 1e12 and returned that model
    # without a word
    X = noise(200) if form == "series" else noise(200).reshape(40, 5, 2)
    detector = tiny_detector(ROBUST, lr=1e6, max_epochs=20, batch_size=8)
    with pytest.raises(TrainingDivergedError, match=r"grew to .* in epoch 1,.*lr=1e"):
        detector.fit(X)


@pytest.mark.slow
@pytest.mark.parametrize(
    "X, params",
    [
        (noise(200) * 1e4 + 5e4, {"standardize": False, "lr": 1e-2}),
        (
            np.r_[noise(100) * 1e-3, noise(100) * 300.0],
            {"standardize": False, "lr": 1e-2},
        ),
        (np.zeros((200, 2)), {"lr": 1e-2}),
        (noise(200), {"lr": 0.1, "noise_std": 1.0}),
    ],
    ids=["large_offset", "mixed_scales", "constant", "large_lr_and_noise"],
)
def test_divergence_rule_does_not_fire_on_ordinary_training(X, params):
    detector = tiny_detector(
        ROBUST, max_epochs=8, batch_size=8, window_size=5, **params
    ).fit(X)
    assert len(detector.history_) >= 2


@pytest.mark.parametrize(
    "params, name",
    [
        ({"hidden_size": 100_000}, "hidden_size"),
        ({"hidden_size": 10**9}, "hidden_size"),
        ({"hidden_size": 20_000, "num_layers": 8}, "num_layers"),
        ({"num_layers": 10_000}, "num_layers"),
    ],
)
def test_a_network_too_large_is_refused_before_allocating(params, name):
    X = np.sin(np.arange(200) / 5).reshape(-1, 2)

    def fit():
        with pytest.raises(ValueError, match=name):
            tiny_detector(**params).fit(X)

    # refusing takes about 25 KB; these networks would take 46 MB to 48 EB
    assert allocated_bytes(fit) < 2**20


def test_allocated_bytes_counts_numpy_and_torch_buffers():
    # what a network built before the size check would show: hidden_size=500 is
    # 4 MB of weights, more than the 1 MiB a refusal above may take
    assert allocated_bytes(lambda: torch.nn.LSTM(2, 500)) > 2**20
    assert allocated_bytes(lambda: np.ones(2**18)) > 2**20
    assert allocated_bytes(lambda: None) < 2**14
