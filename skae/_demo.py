"""The demo behind ``skae demo``: fit on a real NAB series and report what was found."""

import time

import numpy as np

from ._detector import LSTMAutoencoderDetector
from .datasets import load_nab
from .metrics import auc_pr

# NAB's machine_temperature series is sampled every 5 minutes: one week is 2,016 steps.
_TRAIN_STEPS = 2016


def _segments(mask):
    """Return ``[start, stop)`` pairs of the runs of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return edges.reshape(-1, 2)


def run_demo(
    *,
    name="machine_temperature_system_failure",
    plot_path=None,
    quick=False,
    random_state=0,
    print_fn=print,
):
    """Fit a detector on a week of a shipped NAB series, score the rest and report.

    The detector trains on the first week of the series (which holds no labelled
    anomaly), scores every later time step, and the report says which of NAB's
    labelled anomaly windows it caught (at least one flagged step inside the
    window), how many steps it flagged outside them, the AUC-PR of its scores and
    how long it took.

    Parameters
    ----------
    name : str, default="machine_temperature_system_failure"
        A NAB series shipped with skae (see :func:`skae.datasets.load_nab`).
    plot_path : str or path-like, default=None
        Where to write a PNG of series, score, threshold and labels (needs
        matplotlib); no plot when None.
    quick : bool, default=False
        Train for fewer epochs (a smoke run of a few seconds).
    random_state : int, default=0
        Seed of the detector.
    print_fn : callable, default=print
        Where the report lines go.

    Returns
    -------
    report : dict
        ``windows_caught``, ``n_windows``, ``false_flags``, ``flagged``,
        ``auc_pr``, ``fit_seconds``, ``score_seconds``, ``threshold`` and the
        ``detector``.
    """
    nab = load_nab(name)
    X, y = nab.data, nab.target
    n_train = min(_TRAIN_STEPS, len(X) // 4)
    X_train, X_test, y_test = X[:n_train], X[n_train:], y[n_train:]
    detector = LSTMAutoencoderDetector(
        window_size=48,  # four hours of 5-minute readings
        hidden_size=32,
        max_epochs=3 if quick else 20,
        max_windows_per_epoch=600,
        validation_fraction=0.3,
        random_state=random_state,
    )
    print_fn(
        f"skae demo: NAB {nab.name}, {len(X):,} steps; fitting on the first "
        f"{n_train:,} ({nab.timestamps[0]} to {nab.timestamps[n_train - 1]})"
    )
    start = time.perf_counter()
    detector.fit(X_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = detector.score_samples(X_test)
    score_seconds = time.perf_counter() - start
    flagged = scores < detector.offset_

    windows = _segments(y_test == 1)
    caught = [bool(flagged[a:b].any()) for a, b in windows]
    false_flags = int((flagged & (y_test == 0)).sum())
    ap = auc_pr(y_test, -scores)
    print_fn(
        f"trained {len(detector.history_)} epochs in {fit_seconds:.1f} s; scored "
        f"{len(X_test):,} steps in {score_seconds:.1f} s; threshold tau = "
        f"{detector.threshold_:.3g} (mu + {detector.n_sigmas:g} sigma of held-out "
        "errors)"
    )
    for (a, b), hit in zip(windows, caught, strict=True):
        first = np.flatnonzero(flagged[a:b])
        when = f"first flag {nab.timestamps[n_train + a + first[0]]}" if hit else ""
        print_fn(
            f"  labelled window {nab.timestamps[n_train + a]} .. "
            f"{nab.timestamps[n_train + b - 1]}: {'CAUGHT' if hit else 'missed'} "
            f"{when}"
        )
    print_fn(
        f"caught {sum(caught)} of {len(windows)} labelled anomaly windows; "
        f"{false_flags:,} of {int((y_test == 0).sum()):,} normal steps flagged "
        f"({100 * false_flags / max(1, int((y_test == 0).sum())):.2f} %); "
        f"AUC-PR {ap:.3f} (a random ranking scores {y_test.mean():.3f})"
    )
    # the threshold trades false alarms for missed windows: the same scores, cut
    # at stricter multiples of the held-out sigma
    normal = max(1, int((y_test == 0).sum()))
    for k in (3.0, 6.0, 12.0):
        cut = -scores > detector.heldout_mean_ + k * detector.heldout_std_
        hits = sum(bool(cut[a:b].any()) for a, b in windows)
        print_fn(
            f"  tau = mu + {k:g} sigma: caught {hits} of {len(windows)} windows, "
            f"{100 * int((cut & (y_test == 0)).sum()) / normal:.1f} % of normal "
            "steps flagged"
        )
    if plot_path is not None:
        _plot(nab, n_train, scores, detector, plot_path)
        print_fn(f"plot written to {plot_path}")
    return {
        "windows_caught": int(sum(caught)),
        "n_windows": len(windows),
        "false_flags": false_flags,
        "flagged": int(flagged.sum()),
        "auc_pr": ap,
        "fit_seconds": fit_seconds,
        "score_seconds": score_seconds,
        "threshold": detector.threshold_,
        "detector": detector,
    }


def _plot(nab, n_train, scores, detector, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_detection

    fig = plot_detection(
        detector,
        nab.data,
        nab.target,
        timestamps=nab.timestamps,
        feature_names=list(nab.feature_names),
        train_size=n_train,
        title=f"NAB {nab.name}: fitted on the first week",
    )
    fig.savefig(path, dpi=90)
    plt.close(fig)
