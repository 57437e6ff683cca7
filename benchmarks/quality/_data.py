"""The fits the threshold and flatline studies share.

``threshold_choice.py`` and ``flatline_choice.py`` fit one detector per series
with the flatline check off and keep its errors beside the data, then compute
every variant of a rule from them. This module holds what both fit and keep:
one state dict per series, yielded one at a time so that each script prints its
own progress. ``alarm_choice.py`` shares the planted bases and test copies.
"""

import numpy as np


def planted_bases(data_home):
    """The base signals of :mod:`benchmarks.quality.planted`, NAB's included."""
    from benchmarks.quality import planted as P

    bases = [P.BaseSignal(name) for name in P.SYNTHETIC_BASES]
    for label, series in P.NAB_BASES.items():
        bases.append(P.BaseSignal(label, P.nab_normal_part(series, data_home)))
    return bases


def planted_copies(base, n, train, n_repeats=3):
    """Yield ``kind, length, values, start`` of each test copy, values 2-D."""
    from benchmarks.quality import planted as P

    for kind, length, values, start in P.test_copies(
        base, n, P.ANOMALY_KINDS, P.ANOMALY_LENGTHS, n_repeats, float(np.std(train))
    ):
        yield kind, length, values[:, None], start


def fit_without_flatlines(X):
    """One detector with the defaults, the flatline check off (it is studied)."""
    from skae import LSTMAutoencoderDetector

    return LSTMAutoencoderDetector(
        random_state=0, n_threads=1, detect_flatlines=False
    ).fit(X)


def fit_state(detector, fit, **data):
    """What the studies need of one fitted detector, and the data it judges."""
    return {
        "mean": np.asarray(detector.mean_),
        "scale": np.asarray(detector.scale_),
        "window_size": detector.window_size_,
        "heldout": np.asarray(detector.heldout_errors_),
        "threshold": float(detector.threshold_),
        "fit": np.asarray(fit, dtype=np.float64),
        **data,
    }


def planted_states(data_home, n_train=2000):
    """Fit each planted base once; yield its name and state with the copies'
    values and errors (``records``)."""
    for base in planted_bases(data_home):
        n = base.train_length(n_train)
        train = base.train(n)[:, None]
        detector = fit_without_flatlines(train)
        records = [
            {
                "kind": kind,
                "length": length,
                "start": start,
                "values": values,
                "errors": -detector.score_samples(values),
            }
            for kind, length, values, start in planted_copies(base, n, train)
        ]
        yield base.name, fit_state(detector, train, records=records)


def skab_states(data_home):
    """Fit each SKAB file on its training part; yield its state with both
    parts' errors."""
    from benchmarks._harness import fetch_skab
    from skae.datasets import skab_file_names

    for name in skab_file_names():
        bunch = fetch_skab(name, data_home)
        n = bunch.train_size
        X_fit, X_test = bunch.data[:n], bunch.data[n:]
        detector = fit_without_flatlines(X_fit)
        yield fit_state(
            detector,
            X_fit,
            name=name,
            fit_errors=-detector.score_samples(X_fit),
            test=X_test,
            y=bunch.target[n:],
            errors=-detector.score_samples(X_test),
        )


def nab_states(data_home):
    """Fit each NAB series on its probationary part; yield its state with the
    whole series' errors."""
    from benchmarks._harness import fetch_nab
    from skae.datasets import nab_series_names

    for name in nab_series_names():
        bunch = fetch_nab(name, data_home)
        n = bunch.train_size
        detector = fit_without_flatlines(bunch.data[:n])
        yield fit_state(
            detector,
            bunch.data[:n],
            name=name,
            n=n,
            X=bunch.data,
            y=bunch.target,
            errors=-detector.score_samples(bunch.data),
        )


def collect_planted(data_home, n_train=2000):
    """Fit each planted base once; return base name -> state."""
    results = {}
    for name, state in planted_states(data_home, n_train):
        results[name] = state
        print(f"planted {name}", flush=True)
    return results


def collect_skab(data_home):
    """Fit each SKAB file on its training part; return the states."""
    results = list(skab_states(data_home))
    print(f"SKAB: {len(results)} files", flush=True)
    return results


def collect_nab(data_home, per_series=False):
    """Fit each NAB series on its probationary part; return the states.

    Prints each series' name as it is fitted (``per_series``) or their count.
    """
    results = []
    for state in nab_states(data_home):
        results.append(state)
        if per_series:
            print(f"NAB {state['name']}", flush=True)
    if not per_series:
        print(f"NAB: {len(results)} series", flush=True)
    return results
