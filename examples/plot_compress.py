"""
=====================================
Compressing sequences to latent codes
=====================================

The encoder of an LSTM autoencoder reads a whole sequence and ends in one vector,
the latent code ``z``, from which the decoder has to rebuild the sequence. ``z`` is
therefore a compressed summary of the sequence:
:meth:`~skae.LSTMAutoencoderDetector.encode` returns it, for clustering, plotting
or as features for another model.

Here each day of NAB's ``nyc_taxi`` series (48 half-hourly passenger counts) is one
sequence, given to the detector as a 3-D array ``(n_days, 48, 1)``; each day is
compressed to ``hidden_size=6`` numbers, 8 times fewer.
"""

# %%
# One sequence per day
# --------------------
import numpy as np

from skae.datasets import load_nab

nab = load_nab("nyc_taxi")
values = nab.frame["value"].to_numpy()
days = values.reshape(-1, 48, 1)  # the series starts at midnight: 215 whole days
dates = nab.frame.index[::48]
weekend = dates.day_of_week >= 5
labelled = nab.target.reshape(-1, 48).any(axis=1)
print(f"{len(days)} days of 48 steps; {labelled.sum()} days touch a labelled event")

# %%
# Fit on normal days, encode every day
# ------------------------------------
# The first 110 days (July to mid-October) hold no labelled event.
from skae import LSTMAutoencoderDetector

n_train = 110
detector = LSTMAutoencoderDetector(
    hidden_size=6, max_epochs=80, batch_size=16, lr=3e-3, random_state=0
).fit(days[:n_train])
codes = detector.encode(days)
print(f"codes: {codes.shape}, compression {days[0].size / codes.shape[1]:.0f}x")

# %%
# How much of a day survives the compression? The share of each unseen day's
# variance that the reconstruction from its 6 numbers explains:
reconstruction = detector.reconstruct(days[n_train:])
residual = ((days[n_train:] - reconstruction) ** 2).sum(axis=(1, 2))
spread = ((days[n_train:] - days[n_train:].mean(axis=1, keepdims=True)) ** 2).sum(
    axis=(1, 2)
)
r2 = 1 - residual / spread
print(f"unseen days: median R^2 of the reconstruction {np.median(r2):.3f}")

# %%
# The days it cannot compress
# ---------------------------
# A day unlike the training days compresses badly: its reconstruction error is a
# per-day anomaly score. 27 of the 215 days touch a labelled event.
errors = -detector.score_samples(days)
worst = np.argsort(errors)[::-1][:10]
print(f"{labelled[worst].sum()} of the 10 worst-compressed days are labelled events:")
for i in worst[:5]:
    note = "labelled event" if labelled[i] else ""
    print(f"  {dates[i]:%a %Y-%m-%d}: error {errors[i]:.3f} {note}")

# %%
# The codes in two dimensions
# ---------------------------
# Nothing told the network which days are weekends, yet most of them gather apart
# from the weekdays, and the holidays it compresses worst sit at the edge.
import matplotlib.pyplot as plt
from sklearn.decomposition import PCA

xy = PCA(n_components=2).fit_transform(codes)
fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
for mask, label, style in [
    (~weekend & ~labelled, "weekday", dict(color="tab:blue", marker="o")),
    (weekend & ~labelled, "weekend", dict(color="tab:green", marker="s")),
    (labelled, "day of a labelled event", dict(color="tab:red", marker="^", s=50)),
]:
    ax.scatter(*xy[mask].T, label=label, alpha=0.75, **style)
for i in np.argsort(errors)[::-1][:3]:
    ax.annotate(f"{dates[i]:%b %d}", xy[i], xytext=(4, 4), textcoords="offset points")
ax.set_xlabel("first principal component of the codes")
ax.set_ylabel("second principal component")
ax.set_title("Each day of taxi traffic, compressed to 6 numbers", loc="left")
ax.legend(fontsize="small")
