"""A seeded fit owns its randomness: fits in parallel threads give the serial results.

Before a fit owned a :class:`torch.Generator`, it seeded torch's process-global
generator, so four fits in four threads drew from each other's stream (scores up
to 80 % apart from the same fits run one after another).
"""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import joblib
import numpy as np
import pytest
import torch
from conftest import ragged_waves, tiny_detector, waves
from sklearn.model_selection import GridSearchCV

from skae import LSTMAutoencoder

# 16-window batches: many draws from a fit's generator while the threads run;
# unseeded unless a test seeds it
THREADED = dict(window_size=8, hidden_size=4, batch_size=16, random_state=None)

SETTINGS = {
    "series": {},
    "noise_and_dropout": {"noise_std": 0.3, "num_layers": 2, "dropout": 0.5},
    "ragged": {},
}


def _data(kind):
    if kind == "ragged":
        return ragged_waves(range(10, 34))
    return waves(300, periods=(25, 25), noise=0.1)


def _fit_and_score(params, X, barrier=None):
    if barrier is not None:  # start the threads' fits together
        barrier.wait()
    detector = tiny_detector(THREADED, **params).fit(X)
    return detector.score_samples(X), detector.threshold_


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SETTINGS))
@pytest.mark.parametrize("seeds", [[0, 1, 2, 3], [0, 0, 0, 0]], ids=["0-3", "all0"])
def test_fits_in_threads_give_the_serial_results(kind, seeds):
    X = _data(kind)
    params = [{**SETTINGS[kind], "random_state": seed} for seed in seeds]
    serial = [_fit_and_score(p, X) for p in params]
    barrier = Barrier(len(params))
    with ThreadPoolExecutor(max_workers=len(params)) as pool:
        threaded = list(pool.map(lambda p: _fit_and_score(p, X, barrier), params))
    for (scores, threshold), (scores_t, threshold_t) in zip(
        serial, threaded, strict=True
    ):
        assert threshold_t == threshold
        for a, b in zip(scores, scores_t, strict=True):
            np.testing.assert_array_equal(a, b)
    if len(set(seeds)) > 1:  # different seeds do make different models
        assert serial[0][1] != serial[1][1]


@pytest.mark.slow
def test_grid_search_with_threads_gives_the_serial_result():
    X = _data("series")
    grid = {"hidden_size": [3, 4], "noise_std": [0.0, 0.2]}

    def search(n_jobs):
        detector = tiny_detector(THREADED, random_state=0)
        return GridSearchCV(detector, grid, cv=2, n_jobs=n_jobs).fit(X)

    serial = search(1)
    with joblib.parallel_backend("threading"):
        threaded = search(2)
    assert threaded.best_score_ == serial.best_score_
    assert threaded.best_params_ == serial.best_params_
    np.testing.assert_array_equal(
        threaded.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )


@pytest.mark.parametrize(
    "params",
    [{"random_state": 0}, {"random_state": None}, SETTINGS["noise_and_dropout"]],
    ids=["seeded", "unseeded", "noise_and_dropout"],
)
def test_a_fit_leaves_the_global_generator_alone(params):
    torch.manual_seed(123)
    seed, state = torch.initial_seed(), torch.get_rng_state()
    tiny_detector(THREADED, **params).fit(_data("series"))
    assert torch.initial_seed() == seed
    assert torch.equal(torch.get_rng_state(), state)


def test_unseeded_fits_do_not_depend_on_the_global_generator():
    # before: random_state=None drew from torch's global generator, so seeding
    # it made "unseeded" fits identical; now each draws a fresh seed
    X = _data("series")
    thresholds = []
    for _ in range(2):
        torch.manual_seed(0)
        thresholds.append(tiny_detector(THREADED).fit(X).threshold_)
    assert thresholds[0] != thresholds[1]


@pytest.mark.parametrize(
    "params",
    [{}, {"num_layers": 2, "decoder_feed": "state", "centered_features": [1]}],
)
def test_generator_draws_pytorchs_default_initial_weights(params):
    torch.manual_seed(5)
    state = torch.get_rng_state()
    generator = torch.Generator().manual_seed(7)
    own = LSTMAutoencoder(3, hidden_size=6, generator=generator, **params)
    assert torch.equal(torch.get_rng_state(), state)  # the global one is unused
    torch.manual_seed(7)
    default = LSTMAutoencoder(3, hidden_size=6, **params)
    expected = default.state_dict()
    assert own.state_dict().keys() == expected.keys()
    for name, tensor in own.state_dict().items():
        torch.testing.assert_close(tensor, expected[name], rtol=0, atol=0)


def test_verbose_table_has_no_colour_codes_off_a_terminal(capsys):
    # before: skorch's table coloured the best values with ANSI escape codes,
    # which ``skae fit -v > log`` wrote into the file
    tiny_detector(THREADED, max_epochs=3, verbose=1).fit(_data("series"))
    out = capsys.readouterr().out
    assert "train_loss" in out and "valid_loss" in out
    assert "\x1b[" not in out
    tiny_detector(THREADED, random_state=0).fit(_data("series"))
    assert capsys.readouterr().out == ""
