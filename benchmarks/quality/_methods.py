"""The methods the detection-quality benchmarks compare, and their parser.

Every method is fitted on a training part and scored on the data it is judged on,
through one small interface, so that skae and its peers see the same splits and
the same preprocessing:

- ``fit(X_train)`` learns from normal history only (no labels);
- ``scores(X)`` returns one anomaly score per time step, larger = more anomalous;
- ``flags(X)`` returns the method's own binary decision per step (1 = anomaly),
  from the threshold it sets itself, without labels.

Scores are pooled across files after a label-free calibration: each file's scores
are standardised by the mean and standard deviation of the same method's scores on
that file's training rows (see :func:`calibrate`).
"""

import argparse
import importlib.util
import json
import time

import numpy as np

from benchmarks._harness import add_data_home


def base_parser(description):
    """Return the command-line parser shared by the quality benchmarks."""
    parser = add_data_home(argparse.ArgumentParser(description=description))
    parser.add_argument("--seed", type=int, default=0, help="random_state of all")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="run only these methods (names as printed in the table)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small subset of the files, for iterating (not for the tables)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1)"
    )
    parser.add_argument(
        "--skae",
        action="append",
        default=[],
        metavar="JSON",
        help="an extra skae row with these constructor arguments, e.g. "
        '\'{"score_smoothing": 0, "n_sigmas": 3}\' (may be repeated)',
    )
    return parser


def extra_skae_methods(specs, seed):
    """Return one :class:`SkaeMethod` per ``--skae`` JSON argument."""
    methods = []
    for spec in specs:
        params = json.loads(spec)
        label = ", ".join(f"{k}={v}" for k, v in params.items())
        methods.append(SkaeMethod(f"skae({label})", params, seed))
    return methods


def calibrate(scores, train_scores):
    """Standardise scores by the mean and std of the method's training scores."""
    train_scores = np.asarray(train_scores, dtype=np.float64)
    std = train_scores.std()
    return (np.asarray(scores, dtype=np.float64) - train_scores.mean()) / (
        std if std > 0 else 1.0
    )


# ----------------------------------------------------------------- the methods


class SkaeMethod:
    """skae's detector; ``params`` are constructor arguments."""

    def __init__(self, name, params, seed):
        self.name = name
        self.params = dict(params)
        self.seed = seed

    def fit(self, X_train):
        from skae import LSTMAutoencoderDetector

        self.model = LSTMAutoencoderDetector(random_state=self.seed, **self.params)
        self.model.fit(X_train)
        return self

    def scores(self, X):
        return -self.model.score_samples(X)

    def flags(self, X):
        return (self.model.predict(X) == -1).astype(int)


class IsolationForestMethod:
    """scikit-learn's IsolationForest on the rows, with its defaults."""

    name = "IsolationForest"

    def __init__(self, seed):
        self.seed = seed

    def fit(self, X_train):
        from sklearn.ensemble import IsolationForest

        self.model = IsolationForest(random_state=self.seed).fit(X_train)
        return self

    def scores(self, X):
        return -self.model.score_samples(X)

    def flags(self, X):
        return (self.model.predict(X) == -1).astype(int)


class PyODMethod:
    """A PyOD detector with its defaults, on features standardised with the
    training rows' mean and standard deviation (PyOD's LSTMAD does not scale its
    input itself)."""

    def __init__(self, name, factory, seed):
        self.name = name
        self.factory = factory
        self.seed = seed

    def fit(self, X_train):
        import torch

        self.mean_ = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.model = self.factory()
            self.model.fit(self._scaled(X_train))
        return self

    def _scaled(self, X):
        return (X - self.mean_) / self.scale_

    def scores(self, X):
        return np.asarray(self.model.decision_function(self._scaled(X)), float)

    def flags(self, X):
        return (self.scores(X) > self.model.threshold_).astype(int)


def pyod_methods(seed):
    """Return PyOD's LSTM and autoencoder detectors, or a note why not."""
    if importlib.util.find_spec("pyod") is None:
        return [], "PyOD is not installed (pip install 'skae[bench]'): peers skipped"
    import pyod
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.ts_lstm import LSTMAD

    version = pyod.__version__
    return [
        PyODMethod(f"PyOD {version} LSTMAD", LSTMAD, seed),
        PyODMethod(
            f"PyOD {version} AutoEncoder",
            lambda: AutoEncoder(verbose=0, random_state=seed),
            seed,
        ),
    ], None


def select(methods, wanted):
    """Keep the methods whose name (or its first word) is in ``wanted``."""
    if not wanted:
        return methods
    keep = [m for m in methods if m.name in wanted or m.name.split()[0] in wanted]
    if not keep:
        names = ", ".join(m.name for m in methods)
        raise SystemExit(f"No method matches {wanted}; choose among: {names}")
    return keep


class Timer:
    """Accumulate wall-clock seconds per method."""

    def __init__(self):
        self.seconds = {}

    def run(self, name, function, *args):
        start = time.perf_counter()
        result = function(*args)
        self.seconds[name] = self.seconds.get(name, 0.0) + (time.perf_counter() - start)
        return result
