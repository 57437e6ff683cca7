"""Holes a hostile-user probe found in the core, and the fitted autoencoder's
life cycle (built once per fit, scaling once per call)."""

import copy
import math
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import push_in, tiny_detector, waves

from skae import (
    LSTMAutoencoderDetector,
    StreamingScorer,
    TrainingDivergedError,
    _threshold,
)

WINDOW = 12
STREAMING = dict(window_size=WINDOW, max_windows_per_epoch=64, batch_size=64)


@pytest.fixture(scope="module")
def causal():
    return tiny_detector(STREAMING, causal=True).fit(waves(400))


# ------------------------------------ the "too little data" message


class _CountingMath:
    """``math``, with ``ceil`` failing after ``limit`` calls: a loop that counts
    up one sample at a time fails the test instead of running for hours."""

    def __init__(self, limit=1000):
        self.calls, self.limit = 0, limit

    def __getattr__(self, name):
        return getattr(math, name)

    def ceil(self, x):
        self.calls += 1
        assert self.calls <= self.limit, "the helper counts up one step at a time"
        return math.ceil(x)


def _splits(n, fraction, min_part):
    heldout = math.ceil(fraction * n)
    return n - heldout >= min_part and heldout >= min_part


def test_the_samples_needed_are_computed_in_closed_form(monkeypatch):
    counting = _CountingMath()
    monkeypatch.setattr(_threshold, "math", counting)
    needed = _threshold._needed(1e-9, 8)
    assert counting.calls < 50
    assert _splits(needed, 1e-9, 8) and not _splits(needed - 1, 1e-9, 8)
    assert needed == pytest.approx(7e9, rel=1e-6)


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.2, 1 / 3, 0.5, 0.7, 0.99, 1e-3])
@pytest.mark.parametrize("min_part", [1, 2, 7, 16, 32, 100])
def test_the_samples_needed_are_the_least_that_split(fraction, min_part):
    brute = min_part
    while not _splits(brute, fraction, min_part):
        brute += 1
    assert _threshold._needed(fraction, min_part) == brute


def test_a_tiny_validation_fraction_is_refused_at_once(monkeypatch):
    monkeypatch.setattr(_threshold, "math", _CountingMath())
    detector = LSTMAutoencoderDetector(window_size=8, validation_fraction=1e-9)
    with pytest.raises(ValueError, match=r"Pass at least 700000000\d time steps"):
        detector.fit(np.zeros((200, 1)))


# ------------------------------------------ a diverging partial_fit


def _assert_same_fitted_state(detector, expected):
    fitted = {k for k in vars(expected) if k.endswith("_")}
    assert {k for k in vars(detector) if k.endswith("_")} == fitted
    for name in fitted - {"net_", "history_"}:
        value, want = getattr(detector, name), getattr(expected, name)
        if isinstance(want, np.ndarray):
            np.testing.assert_array_equal(value, want, err_msg=name)
        else:
            assert value == want, name
    weights = detector.net_.module_.state_dict()
    for name, tensor in expected.net_.module_.state_dict().items():
        assert torch.equal(weights[name], tensor), name


def test_a_diverging_partial_fit_raises_and_changes_nothing():
    detector = tiny_detector().fit(waves(400))
    before = copy.deepcopy(detector)
    X = waves(300, seed=1)
    detector.set_params(lr=100.0)
    with pytest.raises(TrainingDivergedError, match="partial_fit"):
        detector.partial_fit(X)
    _assert_same_fitted_state(detector, before)
    np.testing.assert_array_equal(detector.score_samples(X), before.score_samples(X))
    # and it learns again at a sane rate
    detector.set_params(lr=before.lr).partial_fit(X)
    assert detector.n_partial_fits_ == 1


def test_a_diverging_partial_fit_after_earlier_ones_keeps_their_state():
    detector = tiny_detector().fit(waves(400)).partial_fit(waves(200, seed=2))
    before = copy.deepcopy(detector)
    with pytest.raises(TrainingDivergedError):
        detector.set_params(lr=100.0).partial_fit(waves(300, seed=1))
    _assert_same_fitted_state(detector, before)


def test_a_stream_skips_a_diverging_update_with_a_warning(causal):
    X = waves(200, seed=4)
    frozen = StreamingScorer(causal).push(X)
    # one batch per update: lr=1e4 breaks the weights at its only step
    detector = copy.deepcopy(causal).set_params(lr=1e4)
    scorer = StreamingScorer(detector, update_every=50)
    with pytest.warns(UserWarning, match="diverged"):
        result = scorer.push(X)
    # every update was skipped: the detector scores as before
    np.testing.assert_allclose(result.scores, frozen.scores, rtol=1e-6)
    np.testing.assert_array_equal(result.thresholds, frozen.thresholds)
    assert "n_partial_fits_" not in vars(detector)
    with pytest.warns(UserWarning, match="diverged"):
        later = scorer.push(waves(60, seed=5))
    assert len(later.scores) == 60


# ----------------------------------- values that dominate the scaling


def dominant_values(X):
    from skae._scaling import dominant_values

    return dominant_values(X)


def _our_warnings(record):
    return [w for w in record if "scale_" in str(w.message)]


def _fit_quietly(detector, X):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        detector.fit(X)
    return _our_warnings(record)


def test_one_huge_value_warns_naming_its_feature_and_value():
    X = waves(400, periods=(40, 25))
    X[100, 1] = 1e3
    with pytest.warns(UserWarning, match=r"feature 1\b.*1000") as record:
        tiny_detector(max_epochs=1).fit(X)
    message = str(_our_warnings(record)[0].message)
    assert "row 100" in message
    assert "standardize=False" in message  # says what to do


def test_the_warning_names_a_dataframe_column():
    X = pd.DataFrame(waves(400, periods=(40, 25)), columns=["flow", "pressure"])
    X.loc[50, "flow"] = -2e4
    with pytest.warns(UserWarning, match=r"'flow'.*-20000"):
        tiny_detector(max_epochs=1).fit(X)


def test_sequences_warn_too():
    X = waves(400).reshape(20, 20, 2)
    X[3, 4, 0] = 5e3
    with pytest.warns(UserWarning, match=r"feature 0\b.*5000"):
        tiny_detector(max_epochs=1).fit(X)


def test_the_planted_case_scales_as_it_did():
    """The warning changes nothing: scale_ is still the plain standard deviation."""
    X = waves(400, periods=(40,))
    X[100, 0] = 1e3
    with pytest.warns(UserWarning):
        detector = tiny_detector(max_epochs=1).fit(X)
    n_train = 400 - math.ceil(0.2 * 400)
    np.testing.assert_allclose(detector.scale_, X[:n_train].std(axis=0))


def test_no_warning_without_standardisation():
    X = waves(400)
    X[100, 0] = 1e3
    assert not _fit_quietly(tiny_detector(max_epochs=1, standardize=False), X)


def test_heavy_tails_and_rare_levels_do_not_warn():
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            rng.standard_t(3, size=2000),  # heavy tails
            np.repeat([0.0, 1.0], [1900, 100]),  # a rare second level
            np.r_[np.zeros(1990), np.full(10, 50.0)],  # constant but for a few
            rng.lognormal(0, 1, size=2000),  # skewed
        ]
    )
    assert dominant_values(X) == []


def test_the_check_flags_only_values_that_dominate_the_spread():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    X[7, 2] = 400.0
    (found,) = dominant_values(X)
    assert found.feature == 2 and found.row == 7 and found.value == 400.0
    assert found.inflation > 10


def test_nab_and_skab_training_parts_do_not_warn(shared_data):
    from skae.datasets import fetch_nab, fetch_skab

    def training_part(bunch):
        data = np.asarray(bunch.data, dtype=float)[: bunch.train_size]
        return data[: len(data) - math.ceil(0.2 * len(data))]  # before the split

    quiet = [
        "nyc_taxi",
        "machine_temperature_system_failure",
        "art_load_balancer_spikes",
        "Twitter_volume_AAPL",
        "ec2_cpu_utilization_24ae8d",
        "grok_asg_anomaly",
    ]
    for name in quiet:
        bunch = fetch_nab(name, data_home=shared_data, download_if_missing=False)
        assert dominant_values(training_part(bunch)) == [], name
    for name in ("valve1/1", "valve1/3", "valve2/0", "other/3"):
        bunch = fetch_skab(name, data_home=shared_data, download_if_missing=False)
        assert dominant_values(training_part(bunch)) == [], name
    # the one NAB series (of 58) whose training part does warn: 2 of its 567
    # values, over 2,000 times its median, make scale_ 400 times the rest's
    bunch = fetch_nab(
        "ec2_network_in_5abac7", data_home=shared_data, download_if_missing=False
    )
    (found,) = dominant_values(training_part(bunch))
    assert found.inflation > 100


# ---------------------------------------- the warm-up of a stream


def _flag_everything(detector):
    """A copy whose threshold flags every step with a positive score."""
    detector = copy.deepcopy(detector)
    detector.threshold_, detector.offset_ = 0.0, -0.0
    return detector


def test_a_stream_does_not_flag_rows_without_a_whole_window(causal):
    detector = _flag_everything(causal)
    X = waves(100, seed=3)
    result = StreamingScorer(detector).push(X)
    assert not result.flags[: WINDOW - 1].any()
    assert result.flags[WINDOW - 1 :].all()
    # scores are still those of the whole series scored at once
    np.testing.assert_allclose(result.scores, -detector.score_samples(X), rtol=1e-6)


@pytest.mark.parametrize("sizes", [[1] * 20, [3, 5], [11, 1]])
def test_the_warm_up_does_not_depend_on_chunking(causal, sizes):
    detector = _flag_everything(causal)
    X = waves(60, seed=3)
    one = StreamingScorer(detector).push(X)
    _, flags, _ = push_in(StreamingScorer(detector), X, sizes)
    np.testing.assert_array_equal(flags, one.flags)


def test_context_ends_the_warm_up(causal):
    detector = _flag_everything(causal)
    X = waves(100, seed=3)
    assert (
        StreamingScorer(detector, context=X[:5])
        .push(X[5:])
        .flags[WINDOW - 1 - 5 :]
        .all()
    )
    assert (
        not StreamingScorer(detector, context=X[:5])
        .push(X[5:])
        .flags[: WINDOW - 1 - 5]
        .any()
    )
    assert StreamingScorer(detector, context=X[:40]).push(X[40:]).flags.all()


def test_the_warm_up_survives_a_saved_stream(causal, tmp_path):
    detector = _flag_everything(causal)
    X = waves(40, seed=3)
    scorer = StreamingScorer(detector)
    first = scorer.push(X[:4])
    scorer.save(tmp_path / "s.skae")
    rest = StreamingScorer.load(tmp_path / "s.skae").push(X[4:])
    flags = np.r_[first.flags, rest.flags]
    np.testing.assert_array_equal(flags, np.arange(40) >= WINDOW - 1)


def test_the_warm_up_keeps_learning_as_before(causal):
    """Updates learn from the rows as before: only the reported flags change."""
    X = waves(120, seed=6)
    scorer = StreamingScorer(copy.deepcopy(causal), update_every=30)
    result = scorer.push(X)
    assert scorer.detector.n_partial_fits_ == 4
    assert len(result.scores) == 120


# -------------------------------------------------- more bad input


def test_an_empty_push_of_the_wrong_width_is_refused(causal):
    scorer = StreamingScorer(causal)
    with pytest.raises(ValueError, match="3 features.*2"):
        scorer.push(np.empty((0, 3)))
    assert len(scorer.push(np.empty((0, 2))).scores) == 0


def test_an_empty_frame_with_other_columns_is_refused():
    X = pd.DataFrame(waves(400), columns=["a", "b"])
    detector = tiny_detector(STREAMING, causal=True, max_epochs=1).fit(X)
    scorer = StreamingScorer(detector)
    with pytest.raises(ValueError, match="'c'"):
        scorer.push(pd.DataFrame(np.empty((0, 2)), columns=["a", "c"]))
    assert len(scorer.push(X.iloc[:0]).scores) == 0


@pytest.mark.parametrize("form", ["3-D", "list"])
def test_partial_fit_of_a_series_into_a_sequence_model_is_refused(form):
    X = waves(400).reshape(20, 20, 2)
    detector = tiny_detector(max_epochs=1).fit(X if form == "3-D" else list(X))
    with pytest.raises(ValueError, match="fitted on sequences"):
        detector.partial_fit(waves(100))


def test_a_scorer_over_a_sequence_model_is_refused():
    detector = tiny_detector(causal=True, max_epochs=1).fit(
        waves(400).reshape(20, 20, 2)
    )
    with pytest.raises(ValueError, match="fitted on sequences"):
        StreamingScorer(detector)


def test_the_sequence_model_check_survives_a_model_file(tmp_path):
    from skae import load_model, save_model

    detector = tiny_detector(max_epochs=1).fit(waves(400).reshape(20, 20, 2))
    save_model(detector, tmp_path / "m.skae")
    with pytest.raises(ValueError, match="fitted on sequences"):
        load_model(tmp_path / "m.skae").partial_fit(waves(100))


@pytest.fixture(scope="module")
def with_dropout():
    return tiny_detector(num_layers=2, dropout=0.5).fit(waves(400))


def test_scoring_never_runs_with_dropout_on(with_dropout):
    X = waves(200, seed=1)
    expected = with_dropout.score_samples(X)
    detector = copy.deepcopy(with_dropout)
    detector.net_.module_.train()  # as someone else's code might leave it
    np.testing.assert_array_equal(detector.score_samples(X), expected)
    np.testing.assert_array_equal(detector.score_samples(X), expected)
    np.testing.assert_array_equal(detector.encode(X[:40]), with_dropout.encode(X[:40]))


def test_partial_fit_never_puts_the_shared_module_in_train_mode(with_dropout):
    detector = copy.deepcopy(with_dropout)
    shared = detector.net_.module_
    seen = []

    def record(module, args):
        if module is shared:
            seen.append(module.training)

    hook = shared.register_forward_pre_hook(record)
    try:
        detector.partial_fit(waves(200, seed=1))
    finally:
        hook.remove()
    assert seen and not any(seen)  # scored (eval), trained elsewhere
    assert not shared.training


# ------------------------------------- the fitted autoencoder, built once per fit


@pytest.mark.parametrize(
    "settings",
    [{}, {"anomaly_score": "mahalanobis"}, {"causal": True}],
    ids=["squared_error", "mahalanobis", "causal"],
)
def test_score_samples_scales_the_series_once(settings, monkeypatch):
    import skae._core

    detector = tiny_detector(**settings).fit(waves(400))
    assert detector._core() is detector._core()  # kept, not rebuilt per call
    assert "flatline_reference_" in vars(detector)  # the check scales too
    calls = []
    apply_scaling = skae._core.apply_scaling

    def counting(X, mean, scale):
        calls.append(len(X))
        return apply_scaling(X, mean, scale)

    monkeypatch.setattr(skae._core, "apply_scaling", counting)
    X = waves(300, seed=1)
    detector.score_samples(X)
    assert calls == [300]
    calls.clear()
    detector.events(X)  # scores and contributions from one scaling
    assert calls == [300]


def test_a_model_saved_after_set_params_on_its_architecture_scores_as_fitted(
    tmp_path,
):
    from skae import load_model, save_model

    detector = tiny_detector().fit(waves(400))
    X = waves(200, seed=1)
    expected = detector.score_samples(X)
    fitted_shape = (detector.hidden_size, detector.num_layers, detector.decoder_feed)
    detector.set_params(hidden_size=16, num_layers=2, decoder_feed="state")
    assert (
        detector.hidden_size_,
        detector.num_layers_,
        detector.decoder_feed_,
    ) == fitted_shape
    np.testing.assert_array_equal(detector.score_samples(X), expected)
    save_model(detector, tmp_path / "m.skae")
    restored = load_model(tmp_path / "m.skae")
    np.testing.assert_array_equal(restored.score_samples(X), expected)
    assert restored.hidden_size_ == fitted_shape[0]
    assert restored.get_params()["hidden_size"] == 16  # the parameter as set
    copied = pickle.loads(pickle.dumps(detector))
    np.testing.assert_array_equal(copied.score_samples(X), expected)
    assert copied._core().module is copied.net_.module_  # one network after loading
