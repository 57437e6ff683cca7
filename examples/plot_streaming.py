"""
===========================================
Streaming: score rows as they arrive, learn
===========================================

A detector fitted once and frozen turns drift into false alarms, and its
offline scores look a few steps into the future (a step's score averages the
windows covering it). For a stream, skae has three pieces:

- ``LSTMAutoencoderDetector(causal=True)``: the score of step ``t`` depends on
  the window that ends at ``t`` and nothing later;
- :class:`skae.StreamingScorer`: push rows in chunks of any sizes, get their
  scores and flags at once, with bounded memory; with ``update_every`` it keeps
  learning (``partial_fit``) from the rows it has judged;
- ``forget_half_life``: how fast the threshold forgets old errors, in steps;
- ``StreamingScorer(threshold_window=N)``: judge each row against the errors
  of the ``N`` rows before it, a threshold that follows the stream without
  training.

The data is NAB's ``ec2_request_latency_system_failure``: the latency of an
Amazon EC2 service, with three labelled failures. The detector is fitted on
NAB's probationary part, then the rest arrives in chunks of 50 rows, as a
monitoring agent would deliver it; the plot is redrawn after every chunk.
"""

# %%
# Fit a causal detector on the probationary part
# ----------------------------------------------
import copy

import matplotlib.pyplot as plt
import numpy as np

from skae import LSTMAutoencoderDetector, StreamingScorer
from skae.datasets import load_nab
from skae.metrics import event_recall

nab = load_nab("ec2_request_latency_system_failure")
X, y, train_size = nab.data, nab.target, nab.train_size
detector = LSTMAutoencoderDetector(
    window_size=24,
    hidden_size=16,
    max_epochs=15,
    lr=3e-3,
    causal=True,
    forget_half_life=500,
    random_state=0,
).fit(X[:train_size])
print(f"fitted on {train_size} steps, threshold {detector.threshold_:.3g}")

# %%
# Stream the rest: frozen, learning, and with a moving threshold
# --------------------------------------------------------------
# All start with the end of the training part as context, so the first rows
# are judged by full windows. The learning scorer updates the detector (a copy)
# every 200 rows from the rows it judged normal.
frozen = StreamingScorer(detector, context=X[:train_size])
learning = StreamingScorer(
    copy.deepcopy(detector), update_every=200, context=X[:train_size]
)
# a third one keeps the network frozen and moves its threshold with every row
moving = StreamingScorer(detector, threshold_window=2000, context=X[:train_size])

fig, (ax_series, ax_score) = plt.subplots(
    2, 1, figsize=(9, 5.5), sharex=True, constrained_layout=True
)
steps, chunks = np.arange(len(X)), range(train_size, len(X), 50)
results = {"frozen": [], "learning": [], "moving": []}
for start in chunks:
    rows = X[start : start + 50]
    results["frozen"].append(frozen.push(rows))
    results["learning"].append(learning.push(rows))
    results["moving"].append(moving.push(rows))
    # redraw as a dashboard would (plt.pause(0.01) shows it live in a script)
    seen = slice(train_size, start + len(rows))
    scores = np.concatenate([r.scores for r in results["learning"]])
    thresholds = np.concatenate([r.thresholds for r in results["learning"]])
    ax_score.cla()
    ax_score.plot(steps[seen], scores, lw=0.8, label="score (learning)")
    ax_score.plot(steps[seen], thresholds, c="C3", label="its threshold")
    ax_score.axhline(detector.threshold_, c="0.5", ls="--", label="frozen threshold")
    fig.canvas.draw_idle()

# %%
# What each scorer flagged
# ------------------------
flags = {k: np.concatenate([r.flags for r in v]) for k, v in results.items()}
test_y = y[train_size:]
for name, flagged in flags.items():
    caught = event_recall(test_y, flagged.astype(int), anomaly_label=1)
    print(
        f"{name:8s}: {flagged.sum():4d} steps flagged, {flagged[test_y == 0].sum():4d}"
        f" of them outside the labelled windows; windows caught {caught:.2f}"
    )
print(f"memory: the learning scorer holds {len(learning._rows)} rows")

ax_series.plot(steps, X[:, 0], c="0.3", lw=0.7)
ax_series.fill_between(
    steps,
    0,
    1,
    where=y == 1,
    color="C1",
    alpha=0.25,
    transform=ax_series.get_xaxis_transform(),
    label="labelled",
)
test_steps = steps[train_size:]
ax_series.scatter(
    test_steps[flags["learning"]],
    X[train_size:, 0][flags["learning"]],
    s=8,
    c="C3",
    zorder=3,
    label="flagged (learning)",
)
ax_series.axvline(train_size, c="k", lw=0.8)
ax_series.set_ylabel("latency")
ax_series.legend(loc="upper left", fontsize=8)
ax_score.set_yscale("log")
ax_score.set_ylabel("reconstruction error")
ax_score.set_xlabel("time step")
ax_score.legend(loc="upper left", fontsize=8)
plt.show()

# %%
# The scores are final when they arrive: pushing the same rows in one call, or
# scoring the whole series with the detector, gives the same frozen scores.
whole = -detector.score_samples(X)[train_size:]
streamed = np.concatenate([r.scores for r in results["frozen"]])
print("same as batch scoring:", np.allclose(streamed, whole, rtol=1e-6))
