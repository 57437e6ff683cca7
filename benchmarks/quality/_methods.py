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


# ------------------------------------------------------------ several seeds


def add_seeds(parser):
    """Add the ``--seeds`` option (run once per seed, print the spread)."""
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        metavar="SEED",
        help="run the benchmark once per seed (random_state=SEED for every "
        "method), then print each figure per seed with its mean, standard "
        "deviation and range; PyOD peers are not run (default: one run at --seed)",
    )
    return parser


def check_seeds(parser, seeds):
    """Stop with a parser error when ``--seeds`` repeats a seed."""
    if seeds is not None and len(set(seeds)) != len(seeds):
        parser.error(f"--seeds repeats a seed: {seeds}")


def spread(values):
    """Return the mean, standard deviation (ddof=1), minimum and maximum.

    With a single value the standard deviation is 0.
    """
    values = np.asarray(values, dtype=np.float64)
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return values.mean(), std, values.min(), values.max()


def spread_summary(name, values, digits):
    """Return one line such as ``F1 0.777 ± 0.004 (0.772-0.781)``."""
    mean, std, low, high = spread(values)
    f = f".{digits}f"
    to = " to " if low < 0 else "-"
    return f"{name} {mean:{f}} ± {std:{f}} ({low:{f}}{to}{high:{f}})"


def run_seeds(args, run, *, units, digits):
    """Run ``run(args, seed)`` once at ``--seed``, or once per ``--seeds`` seed
    without the PyOD peers and then print the spread of its figures.

    ``digits`` is passed to :func:`print_seed_spread`, or called with the runs
    first when it is a function of them.
    """
    if not args.seeds:
        run(args, args.seed)
        return
    print("--seeds: PyOD peers are not run per seed.")
    runs = {}
    for seed in args.seeds:
        print(f"\n## seed {seed}\n", flush=True)
        runs[seed] = run(args, seed, with_pyod=False)
    print_seed_spread(runs, digits(runs) if callable(digits) else digits, units=units)


def print_seed_spread(runs, digits, units):
    """Print, per method and figure, each seed's value, the mean and the spread.

    Parameters
    ----------
    runs : dict
        ``{seed: {"figures": {method: {figure: value}},
        "normal_flagged": {method: {unit name: (flagged, normal steps)}}}}``,
        one entry per seed, every seed with the same methods and figures.
    digits : dict
        ``{figure: decimals}``, in the order the figures are printed.
    units : str
        What ``normal_flagged`` counts over, plural ("files", "series").
    """
    from benchmarks._harness import markdown_table

    seeds = list(runs)
    first = runs[seeds[0]]["figures"]
    header = ["method", "figure"] + [f"seed {s}" for s in seeds]
    header += ["mean ± std", "[min, max]"]
    rows, lines = [], []
    for method in first:
        for figure, d in digits.items():
            values = [runs[s]["figures"][method][figure] for s in seeds]
            mean, std, low, high = spread(values)
            rows.append(
                [method, figure]
                + [f"{v:.{d}f}" for v in values]
                + [f"{mean:.{d}f} ± {std:.{d}f}", f"[{low:.{d}f}, {high:.{d}f}]"]
            )
            lines.append(f"{method}: {spread_summary(figure, values, d)}")
    print(f"\nSpread over {len(seeds)} seeds (std with ddof=1):\n")
    print(markdown_table(header, rows))
    print("\nOne line per figure:")
    print("\n".join(lines))
    for method in first:
        total = sum(runs[s]["figures"][method]["fit+score s"] for s in seeds)
        print(f"{method}: fit+score {total:.0f} s over the {len(seeds)} seeds")

    print(
        f"\nThe {units} whose count of flagged normal steps varies most across seeds:"
    )
    for method in first:
        counts = {
            name: [runs[s]["normal_flagged"][method][name][0] for s in seeds]
            for name in runs[seeds[0]]["normal_flagged"][method]
        }
        normal = {
            name: runs[seeds[0]]["normal_flagged"][method][name][1] for name in counts
        }
        widest = sorted(counts, key=lambda n: -(max(counts[n]) - min(counts[n])))[:5]
        print()
        print(
            markdown_table(
                [f"{method}: {units}", "normal steps"]
                + [f"flagged, seed {s}" for s in seeds],
                [[n, normal[n]] + counts[n] for n in widest],
            )
        )
