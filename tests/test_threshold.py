"""Threshold rules on held-out errors: the tail fit, the rules, and a planted slice."""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import genpareto

from skae._threshold import (
    MIN_HELDOUT_ERRORS,
    MIN_PEAKS,
    fit_generalized_pareto,
    mean_k_sigma,
    pot_threshold,
    threshold_from_heldout,
)


def gpd_sample(shape, scale, size, seed):
    """Draw a generalized Pareto sample by inverting its distribution function."""
    u = np.random.default_rng(seed).uniform(size=size)
    if shape == 0:
        return -scale * np.log1p(-u)
    return scale / shape * ((1 - u) ** -shape - 1)


def gpd_loglik(sample, shape, scale):
    if shape == 0:
        return -sample.size * np.log(scale) - sample.sum() / scale
    return -sample.size * np.log(scale) - (1 + 1 / shape) * np.sum(
        np.log1p(shape * sample / scale)
    )


# ----------------------------------------------------------- the tail fit


@pytest.mark.parametrize("shape", [-0.3, 0.0, 0.2, 0.5])
def test_gpd_fit_recovers_shape_and_scale(shape):
    sample = gpd_sample(shape, 2.0, 5000, seed=1)
    fitted_shape, fitted_scale = fit_generalized_pareto(sample, (-1.0, 2.0))
    assert fitted_shape == pytest.approx(shape, abs=0.06)
    assert fitted_scale == pytest.approx(2.0, rel=0.08)


@pytest.mark.parametrize("shape", [-0.4, 0.1, 0.6])
def test_gpd_fit_matches_scipy(shape):
    sample = gpd_sample(shape, 0.7, 80, seed=2)
    ours = fit_generalized_pareto(sample, (-1.0, 2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c, _, scale = genpareto.fit(sample, floc=0)
    assert ours == pytest.approx((c, scale), rel=1e-3, abs=1e-3)
    # and never a worse likelihood than scipy's optimiser
    assert gpd_loglik(sample, *ours) >= gpd_loglik(sample, c, scale) - 1e-6


def test_gpd_fit_with_shape_bounds_is_the_constrained_maximum():
    sample = gpd_sample(-0.4, 1.0, 300, seed=3)
    shape, scale = fit_generalized_pareto(sample, (0.0, 0.5))
    assert shape == 0.0
    assert scale == pytest.approx(sample.mean())
    shape, scale = fit_generalized_pareto(sample, (-0.2, 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _, scipy_scale = genpareto.fit(sample, f0=-0.2, floc=0)
    assert shape == -0.2
    assert scale == pytest.approx(scipy_scale, rel=1e-3)


def test_gpd_fit_rejects_bad_excesses():
    with pytest.raises(ValueError, match="two positive"):
        fit_generalized_pareto([0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        fit_generalized_pareto([1.0, -1.0, 2.0])
    with pytest.raises(ValueError, match="ordered"):
        fit_generalized_pareto([1.0, 2.0], (0.5, 0.0))


# ----------------------------------------------------------- the POT rule


def test_pot_threshold_on_exponential_errors_is_the_true_quantile():
    errors = np.random.default_rng(4).exponential(1.5, size=20_000)
    for risk in (1e-3, 1e-4, 1e-5):
        tau, info = pot_threshold(errors, risk)
        assert tau == pytest.approx(-1.5 * np.log(risk), rel=0.05)
        assert info["n_peaks"] == 500  # MAX_PEAKS
        assert np.sum(errors > info["initial_level"]) == 500


def test_risk_moves_the_threshold_monotonically():
    errors = np.random.default_rng(5).gamma(2.0, size=1000)
    thresholds = [
        threshold_from_heldout(errors, "pot", risk=risk)[0]
        for risk in (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
    ]
    assert np.all(np.diff(thresholds) > 0)
    # a risk above the share of peaks needs no tail: the empirical quantile
    assert thresholds[0] == pytest.approx(np.quantile(errors, 0.9))


def test_info_says_where_the_threshold_came_from():
    errors = np.random.default_rng(6).gamma(2.0, size=400)
    tau, info = threshold_from_heldout(errors, "pot", risk=1e-4)
    assert info["rule"] == "pot" and info["risk"] == 1e-4
    assert info["n_errors"] == 400 and info["n_peaks"] == 20
    assert np.sum(errors > info["initial_level"]) == 20
    ratio = 1e-4 * 400 / 20
    if info["shape"] == 0:
        expected = info["initial_level"] - info["scale"] * np.log(ratio)
    else:
        expected = info["initial_level"] + info["scale"] / info["shape"] * (
            ratio ** -info["shape"] - 1
        )
    assert tau == pytest.approx(expected)
    assert info["max"] == errors.max() and tau > info["max"]


def test_short_tail_prior_keeps_the_threshold_above_a_bounded_sample():
    # Uniform errors have a bounded tail (shape -1): a free fit puts the
    # threshold at about their maximum; the prior (shape >= 0) keeps it above,
    # as new normal data from the same law can exceed the few held-out values.
    errors = np.random.default_rng(7).uniform(size=300)
    free, free_info = pot_threshold(errors, 1e-4, shape_bounds=(-1.0, 1.0))
    tau, info = pot_threshold(errors, 1e-4)
    assert free_info["shape"] < -0.5
    assert free < errors.max() + 0.02
    assert info["shape"] == 0.0
    assert tau > errors.max() + 0.05


def test_few_errors_warn_and_keep_the_minimum_of_peaks():
    errors = np.random.default_rng(8).gamma(2.0, size=MIN_HELDOUT_ERRORS - 1)
    with pytest.warns(UserWarning, match=f"at least {MIN_HELDOUT_ERRORS}"):
        _, info = threshold_from_heldout(errors, "pot")
    assert info["n_peaks"] == MIN_PEAKS
    errors = np.random.default_rng(8).gamma(2.0, size=MIN_HELDOUT_ERRORS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threshold_from_heldout(errors, "pot")
        threshold_from_heldout(errors[:20], "mean_k_sigma")  # no tail, no warning


def test_constant_errors_get_a_threshold_just_above_them():
    errors = np.full(300, 0.5)
    tau, info = threshold_from_heldout(errors, "pot")
    assert info["shape"] == 0.0
    rounded = np.float32(0.5) * (1 + 1e-6)
    assert rounded < tau < 0.52


# ----------------------------------------------------------- the other rules


def test_seed_rule_and_contamination():
    errors = np.random.default_rng(9).gamma(2.0, size=500)
    tau, info = threshold_from_heldout(errors, "mean_k_sigma", n_sigmas=6.0)
    assert tau == mean_k_sigma(errors, 6.0)[2]
    assert tau == pytest.approx(errors.mean() + 6 * errors.std())
    tau, info = threshold_from_heldout(errors, "contamination", contamination=0.1)
    assert tau == np.percentile(errors, 90.0)
    assert info == {"rule": "contamination", "contamination": 0.1}


def test_weighted_statistics_replace_those_of_the_errors():
    # partial_fit's forgetting statistics weigh more errors than the buffer
    errors = np.random.default_rng(10).gamma(2.0, size=300)
    for rule in ("mean_k_sigma", "above_heldout"):
        tau, info = threshold_from_heldout(errors, rule, mean=1.0, std=0.5)
        assert info["mean"] == 1.0 and info["std"] == 0.5
        assert tau >= 1.0 + 6 * 0.5


@pytest.mark.parametrize(
    "errors, kwargs, match",
    [
        (np.ones((10, 2)), {}, "1-D"),
        (np.ones(1), {"rule": "pot"}, "at least 2"),
        (np.ones(0), {}, "at least 1"),
        (np.r_[np.ones(300), np.nan], {}, "finite"),
        (np.ones(300), {"rule": "gaussian"}, "rule must be one of"),
        (np.ones(300), {"rule": "pot", "risk": 0.0}, "risk"),
        (np.ones(300), {"rule": "pot", "risk": 1.5}, "risk"),
        (np.ones(300), {"rule": "quantile"}, "rule must be one of"),
        (np.ones(300), {"rule": "mean_k_sigma", "n_sigmas": np.inf}, "n_sigmas"),
    ],
)
def test_bad_input_raises(errors, kwargs, match):
    with pytest.raises(ValueError, match=match):
        threshold_from_heldout(errors, **kwargs)


# ----------------------------------------------------------- a planted slice


def load_planted():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "quality" / "planted.py"
    spec = importlib.util.spec_from_file_location("planted_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_planted_slice_default_rule_flags_clear_anomalies():
    planted = load_planted()
    base = planted.BaseSignal("sine")
    lengths = {"spike": (3,), "level shift": (20,), "slow trend": (100,)}
    result = planted.run_base(
        base,
        {"window_size": 16, "hidden_size": 8, "max_epochs": 3},
        n_train=1000,
        kinds=tuple(lengths),
        lengths=lengths,
        n_repeats=1,
    )
    assert result["heldout"].size == MIN_HELDOUT_ERRORS
    for rule in ("mean_k_sigma", "pot"):  # the default, and the tail rule
        tau, _ = threshold_from_heldout(result["heldout"], rule)
        hits, events, false_alarms, normal = planted.evaluate(
            result["records"], tau, result["window_size"]
        )
        assert (hits, events) == (3, 3), rule
        assert false_alarms / normal <= 0.01, rule
