"""
====================================
Detecting anomalies in a NAB series
====================================

The Numenta Anomaly Benchmark (NAB) labels real series with the windows in which
something known went wrong. Its ``nyc_taxi`` series counts New York taxi passengers
every 30 minutes from July 2014 to January 2015; its five labelled windows are the
NYC marathon, Thanksgiving, Christmas, New Year's Day and a January blizzard.

We follow NAB's protocol: the detector learns from the first ``train_size`` steps
(NAB's *probationary period*, here about two weeks of normal traffic) and scores the
whole series. No label is used to fit or to set the threshold; the labels only
judge the result.
"""

# %%
# Load the series
# ---------------
# ``load_nab`` reads one of the NAB series that ship with skae (no download).
import numpy as np

from skae import LSTMAutoencoderDetector
from skae.datasets import load_nab

nab = load_nab("nyc_taxi")
X = nab.frame.rename(columns={"value": "passengers"})
y, train_size = nab.target, nab.train_size
print(nab.DESCR)
# what happened in each labelled window, in order
events = [
    "the NYC marathon",
    "Thanksgiving",
    "Christmas",
    "New Year's Day",
    "the January blizzard",
]

# %%
# Fit on the normal history
# -------------------------
# A window of 32 half-hours sees most of a day. The model is deliberately small so
# that this page builds in seconds, and trains, as by default, until its loss on the
# last 20 % of the training part, held out, stops improving; the same held-out part
# sets the threshold (the larger of ``mu + 6 sigma`` and a margin above the largest
# held-out error).
detector = LSTMAutoencoderDetector(window_size=32, hidden_size=16, random_state=0)
detector.fit(X.iloc[:train_size])
print(
    f"trained {len(detector.history_)} epochs; threshold {detector.threshold_:.3f} "
    f"(held-out errors: mean {detector.heldout_mean_:.3f}, "
    f"std {detector.heldout_std_:.3f})"
)

# %%
# Score every time step
# ---------------------
# ``score_samples`` is higher for more normal steps, as in scikit-learn, so the
# anomaly score is its negation: the reconstruction error.
from skae.metrics import auc_pr, event_recall

errors = -detector.score_samples(X)
flagged = detector.predict(X) == -1

# judge only what comes after the training part, as NAB does
test = slice(train_size, None)
caught = round(event_recall(y[test], flagged[test]) * len(nab.windows))
false_alarm_rate = flagged[test][y[test] == 0].mean()
summary = (
    f"caught {caught} of {len(nab.windows)} labelled anomaly windows; "
    f"false alarms on {100 * false_alarm_rate:.1f} % of the normal steps; "
    f"AUC-PR {auc_pr(y[test], errors[test]):.2f} "
    f"(a random score gets {y[test].mean():.2f})"
)
print(summary)

# %%
# Alarms as events
# ----------------
# What a person acts on is an alarm, not a flag per step: ``events`` groups the
# flagged steps into intervals (flags less than a window apart are one alarm),
# each with its start, end, peak and mean score. They agree with ``predict``: every
# flagged step lies in exactly one event.
alarms = detector.events(X)
after_training = alarms[alarms["start"] >= train_size]
print(f"{len(after_training)} alarm events after the training part")
print(after_training[["start_time", "end_time", "n_flagged", "peak_score"]].to_string())

# %%
# Plot the detection
# ------------------
# The top panel shows the series with the labelled windows shaded and the flagged
# steps in red; the bottom one the anomaly score against the threshold, with each
# alarm event shaded.
from skae.plotting import plot_detection

fig = plot_detection(
    detector,
    X,
    y,
    train_size=train_size,
    events=alarms,
    title="NAB nyc_taxi: LSTM autoencoder",
)

# sphinx_gallery_start_ignore
# The docs build (docs/conf.py sets SKAE_DOCS_STATIC) keeps this picture and what
# the example found for the README, and docs/readme_results.py checks the README's
# caption and quoted output against them.
import os

if os.environ.get("SKAE_DOCS_STATIC"):
    from pathlib import Path

    from readme_results import save_results  # docs/, on the path in the build

    save_results(
        Path(os.environ["SKAE_DOCS_STATIC"]),
        fig,
        summary=summary,
        events=events,
        caught=[
            bool(flagged[(X.index >= start) & (X.index <= end)].any())
            for start, end in nab.windows
        ],
        normal_flagged_percent=100 * false_alarm_rate,
        auc_pr=auc_pr(y[test], errors[test]),
        random_auc_pr=y[test].mean(),
    )
# sphinx_gallery_end_ignore

# %%
# Each window in detail
# ---------------------
# For every labelled window: did a flag fall inside it, and when was the first?
for event, (start, end) in zip(events, nab.windows, strict=True):
    inside = np.flatnonzero((X.index >= start) & (X.index <= end) & flagged)
    first = X.index[inside[0]] if inside.size else None
    print(
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d}, {event}: "
        + (f"first flag {first:%Y-%m-%d %H:%M}" if first is not None else "missed")
    )

# %%
# A closer look: the January 2015 blizzard
# ----------------------------------------
# Two weeks around the last labelled window. The city shut down on 26 and 27
# January: the daily pattern collapses, and the reconstruction error with it
# rises far above the threshold.
from skae.plotting import plot_scores

zoom = (X.index >= "2015-01-17") & (X.index < "2015-01-31")
fig = plot_scores(
    X[zoom],
    errors[zoom],
    threshold=detector.threshold_,
    y=y[zoom],
    title="NAB nyc_taxi, January 2015",
)

# %%
# The training curves
# -------------------
# skorch records the loss on the training windows and on the held-out windows
# after each epoch; training stops when the held-out loss stops improving and the
# best epoch's weights are kept.
from skae.plotting import plot_history

ax = plot_history(detector)
