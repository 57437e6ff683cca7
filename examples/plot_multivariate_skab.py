"""
===================================================
Multivariate detection on SKAB, sensor by sensor
===================================================

The Skoltech Anomaly Benchmark (SKAB) records eight sensors of a water-circulation
test bench once a second: two accelerometers, current, pressure, temperature,
a thermocouple, voltage and volume flow. In each experiment a fault is induced (a
valve closed, a pump unbalanced...) and its duration is labelled.

We follow SKAB's leaderboard protocol on one experiment: fit on the first 400 rows,
score the rest, and count point-wise errors. A multivariate series is just more
columns; :meth:`~skae.LSTMAutoencoderDetector.feature_contributions` then splits
each time step's score into the sensors' shares, which points at where the fault
shows.

SKAB is GPL-3.0 licensed and does not ship with skae: this example reads it from a
local copy of the SKAB repository (``SKAE_SHARED_DATA``, or ``../shared/data`` next
to the skae checkout). ``fetch_skab(name)`` without ``data_home`` downloads it.
"""

# %%
# Load one experiment
# -------------------
import os
from pathlib import Path

import numpy as np

from skae.datasets import fetch_skab


def shared_data_home():
    """The folder holding SKAB/, from SKAE_SHARED_DATA or next to the checkout."""
    if "SKAE_SHARED_DATA" in os.environ:
        return Path(os.environ["SKAE_SHARED_DATA"])
    # sphinx-gallery runs examples from their folder, without __file__
    examples = Path(__file__).parent if "__file__" in globals() else Path.cwd()
    return examples.resolve().parents[1] / "shared" / "data"


try:
    skab = fetch_skab(
        "valve2/3", data_home=shared_data_home(), download_if_missing=False
    )
    print(skab.DESCR)
except FileNotFoundError:
    skab = None
    print(
        f"SKAB was not found under {shared_data_home()}: set SKAE_SHARED_DATA to "
        "the folder holding SKAB/, or call fetch_skab('valve2/3') without data_home "
        "to download it. Nothing more to show."
    )

# %%
# Fit on the first 400 rows
# -------------------------
# The detector standardises each sensor with the statistics of the training part,
# so sensors in different units weigh the same.
from skae import LSTMAutoencoderDetector

if skab is not None:
    X, y, train_size = skab.frame, skab.target, skab.train_size
    detector = LSTMAutoencoderDetector(
        window_size=16, hidden_size=16, max_epochs=40, random_state=0
    ).fit(X.iloc[:train_size])
    print(
        f"trained {len(detector.history_)} epochs, threshold {detector.threshold_:.3f}"
    )

# %%
# Score the test part
# -------------------
# SKAB's figures are point-wise: every test step counts, with ``F1`` beside the
# false-alarm rate (FAR) and the missed-alarm rate (MAR), in per cent.
from skae.metrics import auc_pr, skab_outlier_scores

if skab is not None:
    X_test, y_test = X.iloc[train_size:], y[train_size:]
    errors = -detector.score_samples(X_test)
    flagged = (detector.predict(X_test) == -1).astype(int)
    result = skab_outlier_scores([y_test], [flagged])
    print(
        f"{skab.name}: F1 {result.f1:.2f}, FAR {result.far:.1f} %, "
        f"MAR {result.mar:.1f} %, AUC-PR {auc_pr(y_test, errors):.2f} "
        f"({100 * y_test.mean():.0f} % of the test steps are anomalous)"
    )

# %%
# This is one experiment. With the same settings on all 34 files of SKAB, pooled
# as its leaderboard does, we measured F1 0.78 with FAR 42 % and MAR 12 %
# (``benchmarks/quality/skab_example_settings.py``); the leaderboard lists
# 0.74 / 30 / 26 for its LSTM autoencoder and 0.78 / 14 / 28 for its best, a
# convolutional one.
# The threshold comes from only 80 held-out rows, and after a
# fault the bench often does not return to the state it trained on, so false
# alarms dominate.
#
# Which sensor?
# -------------
# Each row of ``feature_contributions`` sums to the step's anomaly score. The heat
# map shows, for every sensor, its share over time, with the labelled fault
# marked above it.
from skae.plotting import plot_feature_scores, plot_scores

if skab is not None:
    contributions = detector.feature_contributions(X_test)
    ax = plot_feature_scores(
        contributions,
        feature_names=skab.feature_names,
        y=y_test,
        timestamps=X_test.index,
        title=f"SKAB {skab.name}: each sensor's share of the anomaly score",
    )
    inside = contributions[y_test == 1].mean(axis=0)
    outside = contributions[y_test == 0].mean(axis=0)
    ratio = inside / np.maximum(outside, np.finfo(float).tiny)
    order = np.argsort(ratio)[::-1]
    for j in order[:3]:
        print(
            f"{skab.feature_names[j]}: {ratio[j]:.1f} times its normal share "
            "during the fault"
        )

# %%
# The same detection over time
# ----------------------------
# With several features, the top panel shows each sensor standardised.
if skab is not None:
    fig = plot_scores(
        X_test,
        errors,
        threshold=detector.threshold_,
        y=y_test,
        title=f"SKAB {skab.name}",
    )
