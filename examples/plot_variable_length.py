"""
===========================================
Scoring sequences of different lengths
===========================================

Data often comes as separate sequences rather than one series: one per machine
run, per session, per day. When their lengths differ they cannot be stacked into a
3-D array, and padding them by hand would teach the network the padding. Give the
detector a **list of 2-D arrays** instead: it batches them by length, masks the
padding out of the loss, and returns **one score per sequence**.

NAB's ``ambient_temperature_system_failure`` series holds hourly temperatures of an
office; the sensor missed readings on some days, so days have 4 to 24 readings. We
score each day as one sequence. Two labelled windows mark a failure of the
building's system.
"""

# %%
# One sequence per day, as recorded
# ---------------------------------
import numpy as np

from skae.datasets import load_nab

nab = load_nab("ambient_temperature_system_failure")
frame = nab.frame.assign(label=nab.target)
groups = [day for _, day in frame.groupby(frame.index.date)]
days = [day[["value"]].to_numpy() for day in groups]
dates = np.array([day.index[0].date() for day in groups])
labelled = np.array([day["label"].any() for day in groups])
lengths = np.array([len(day) for day in days])
print(
    f"{len(days)} days; lengths from {lengths.min()} to {lengths.max()}, "
    f"{np.sum(lengths < 24)} days with missing readings; "
    f"{labelled.sum()} days touch a labelled window"
)

# %%
# Fit on the normal days
# ----------------------
# The days before the first labelled window, as they are: a list of arrays.
from skae import LSTMAutoencoderDetector

first_event = np.argmax(labelled)
detector = LSTMAutoencoderDetector(
    hidden_size=16, max_epochs=60, batch_size=16, lr=3e-3, random_state=0
).fit(days[:first_event])
print(
    f"trained on {first_event} days for {len(detector.history_)} epochs; "
    f"threshold {detector.threshold_:.3f}"
)

# %%
# One score per day
# -----------------
from skae.metrics import auc_pr

errors = -detector.score_samples(days)
flagged = detector.predict(days) == -1
later = slice(first_event, None)
print(
    f"after the training days: {flagged[later][labelled[later]].sum()} of "
    f"{labelled[later].sum()} labelled days flagged, "
    f"{flagged[later][~labelled[later]].sum()} of {(~labelled[later]).sum()} "
    f"other days; AUC-PR {auc_pr(labelled[later], errors[later]):.2f} "
    f"(a random score gets {labelled[later].mean():.2f})"
)

# %%
# The scores day by day
# ---------------------
# The labelled days stand out, but so do some spring days: they are warmer than
# any day the detector trained on (July to December). A detector knows only the
# seasons it has seen; retrain it as they change.
import matplotlib.pyplot as plt

fig, (ax_len, ax) = plt.subplots(
    2, 1, sharex=True, figsize=(9, 4.5), height_ratios=[1, 3], layout="constrained"
)
ax_len.bar(dates, lengths, width=1, color="0.6")
ax_len.set_ylabel("readings")
ax.bar(dates[~labelled], errors[~labelled], width=1, color="tab:blue", label="day")
ax.bar(dates[labelled], errors[labelled], width=1, color="tab:orange",
       label="day in a labelled window")  # fmt: skip
ax.axhline(detector.threshold_, color="tab:red", ls="--", lw=1, label="threshold")
ax.axvline(dates[first_event], color="0.4", ls=":", lw=1)
ax.set_yscale("log")
ax.set_ylabel("anomaly score of the day")
ax.legend(loc="upper left", fontsize="small")
ax_len.set_title("Office temperature, one score per day", loc="left")
fig.autofmt_xdate()
