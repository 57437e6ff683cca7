"""The demo behind ``skae demo``: fit on a real NAB series and report what was found."""

import time

import numpy as np

from ._cli_commands import save_plot
from ._detector import LSTMAutoencoderDetector
from ._labels import caught_runs
from ._threshold import k_sigma_threshold
from .datasets import load_nab
from .metrics import auc_pr

# NAB's machine_temperature series is sampled every 5 minutes: one week is 2,016
# steps, and a window of 144 is twelve hours.
_TRAIN_STEPS = 2016
_WINDOW, _HIDDEN, _QUICK_EPOCHS = 144, 16, 3

_WHY_QUICK = (
    "note: 'skae demo --quick' (3 epochs) often ranks this series better: a barely "
    "trained model scores a step mostly by its distance from the first week's "
    "level, and the labelled failures are the deepest departures from it; a model "
    "trained longer reproduces the week's shapes closely, so the normal level "
    "changes of later weeks also stand out. One week is little normal history."
)


def run_demo(
    *,
    name="machine_temperature_system_failure",
    plot_path=None,
    quick=False,
    random_state=0,
    print_fn=print,
):
    """Fit a detector on a week of a shipped NAB series, score it all, and report.

    The report says which labelled anomaly windows were caught, how many steps
    were flagged, the AUC-PR of the scores after the first week and the times.

    Parameters
    ----------
    name : str, default="machine_temperature_system_failure"
        A NAB series shipped with skae (see :func:`skae.datasets.load_nab`).
    plot_path : str or path-like, default=None
        Where to write a PNG of the detection (needs matplotlib); None for none.
    quick : bool, default=False
        Train for a few epochs only (a smoke run of a few seconds).
    random_state : int, default=0
        Seed of the detector.
    print_fn : callable, default=print
        Where the report lines go; with :func:`print`, also one line per epoch.
    """
    nab = load_nab(name)
    X, y = nab.data, nab.target
    n_train = min(_TRAIN_STEPS, len(X) // 4)
    X_train, y_test = X[:n_train], y[n_train:]
    detector = LSTMAutoencoderDetector(
        window_size=_WINDOW,
        hidden_size=_HIDDEN,
        # the full demo trains until the held-out loss has converged
        **({"max_epochs": _QUICK_EPOCHS} if quick else {}),
        validation_fraction=0.3,
        random_state=random_state,
        verbose=1 if print_fn is print else 0,  # skorch's epoch table, on stdout
    )
    print_fn(
        f"skae demo: NAB {nab.name}, {len(X):,} steps; fitting on the first "
        f"{n_train:,} ({nab.timestamps[0]} to {nab.timestamps[n_train - 1]}), "
        f"at most {detector.max_epochs} epochs"
    )
    start = time.perf_counter()
    detector.fit(X_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores_all = detector.score_samples(X)  # the whole series, as the plot shows
    score_seconds = time.perf_counter() - start
    flagged_all = scores_all < detector.offset_
    scores, flagged = scores_all[n_train:], flagged_all[n_train:]

    starts, ends, caught = caught_runs(y_test == 1, flagged)
    false_flags = int((flagged & (y_test == 0)).sum())
    normal = max(1, int((y_test == 0).sum()))
    ap = auc_pr(y_test, -scores)
    print_fn(
        f"trained {len(detector.history_)} epochs in {fit_seconds:.1f} s; scored "
        f"{len(X):,} steps in {score_seconds:.1f} s; threshold tau = "
        f"{detector.threshold_:.3g} ({_threshold_words(detector.threshold_info_)})"
    )
    stamps = nab.timestamps[n_train:]
    for a, b, hit in zip(starts, ends, caught, strict=True):
        first = a + np.argmax(flagged[a:b])  # the first flag, when there is one
        when = f"first flag {stamps[first]}" if hit else ""
        print_fn(
            f"  labelled window {stamps[a]} .. {stamps[b - 1]}: "
            f"{'CAUGHT' if hit else 'missed'} {when}"
        )
    print_fn(
        f"flagged {int(flagged_all.sum()):,} of {len(X):,} steps "
        f"({int(flagged_all[:n_train].sum()):,} in the training week)"
    )
    print_fn(
        f"caught {sum(caught)} of {len(caught)} labelled anomaly windows; "
        f"{false_flags:,} of {normal:,} normal steps after the first week flagged "
        f"({100 * false_flags / normal:.2f} %); "
        f"AUC-PR {ap:.3f} (a random ranking scores {y_test.mean():.3f})"
    )
    # the threshold trades false alarms for missed windows: the same scores, cut
    # at other multiples of the held-out sigma
    for k in (3.0, 6.0, 12.0):
        tau = k_sigma_threshold(detector.heldout_mean_, detector.heldout_std_, k)
        cut = -scores > tau
        hits = caught_runs(y_test == 1, cut)[2].sum()
        print_fn(
            f"  tau = mu + {k:g} sigma: caught {hits} of {len(caught)} windows, "
            f"{100 * int((cut & (y_test == 0)).sum()) / normal:.1f} % of normal "
            "steps flagged"
        )
    if not quick:
        print_fn(_WHY_QUICK)
    if plot_path is not None:
        save_plot(
            plot_path,
            90,
            X,
            -scores_all,
            threshold=detector.threshold_,
            y=y,
            timestamps=nab.timestamps,
            feature_names=list(nab.feature_names),
            train_size=n_train,
            title=f"NAB {nab.name}: fitted on the first week",
        )
        print_fn(f"plot written to {plot_path}")


def _threshold_words(info):
    """Say in words what the fitted threshold came from."""
    if info["rule"] not in ("above_heldout", "mean_k_sigma"):
        return f"threshold rule {info['rule']!r}"
    k_sigma = f"mu + {info['n_sigmas']:g} sigma"
    if info["rule"] == "mean_k_sigma":
        return f"{k_sigma} of the held-out errors"
    binding = "max + (max - median)" if info["binding"] == "max" else k_sigma
    return (
        f"the larger of {k_sigma} and max + (max - median) of the held-out "
        f"errors: here {binding}"
    )
