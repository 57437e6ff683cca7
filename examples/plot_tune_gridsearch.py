"""
=================================================
Tuning a Pipeline with GridSearchCV and labels
=================================================

The detector is a scikit-learn estimator, so it sits at the end of a ``Pipeline``
and ``GridSearchCV`` tunes it. With labels, the score to maximise must treat
anomalies as the positive class: :func:`skae.metrics.anomaly_scorer` does, while
scikit-learn's scorer strings (``scoring="average_precision"``) rank a detector's
*normal* points first and pick the wrong model. This example shows both on the
same searches.

The data is NAB's ``machine_temperature_system_failure`` series: a temperature
sensor on a large industrial machine, every 5 minutes for 11 weeks, with four
labelled anomalies (a planned shutdown and the failure among them). It is split in
time: the normal history the detector trains on, a validation period holding the
first two labelled windows to choose ``window_size``, and a test period with the
last two to judge the choice.
"""

# %%
# Three periods
# -------------
import numpy as np
import pandas as pd

from skae.datasets import load_nab

nab = load_nab("machine_temperature_system_failure")
X, y = nab.frame, nab.target
train_end = nab.train_size
valid_end = int(np.searchsorted(X.index, pd.Timestamp("2014-01-01")))
print(
    f"train: {train_end} steps; validation: {valid_end - train_end} steps, "
    f"{y[train_end:valid_end].sum()} labelled; test: {len(X) - valid_end} steps, "
    f"{y[valid_end:].sum()} labelled"
)

# %%
# The search
# ----------
# One split, given to ``GridSearchCV`` as ``cv``: fit on the normal history, score
# the validation period. Two scorings are recorded for every candidate, so the
# trap costs no extra fit. ``refit=False``: the best model is refitted below on
# the normal history only, not on the validation period with its anomalies.
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import LSTMAutoencoderDetector
from skae.metrics import anomaly_scorer

pipe = make_pipeline(
    StandardScaler(),  # any transformer can come first; skae also scales by itself
    LSTMAutoencoderDetector(
        hidden_size=16, max_epochs=20, stride=2, lr=3e-3, random_state=0
    ),
)
split = [(np.arange(train_end), np.arange(train_end, valid_end))]
search = GridSearchCV(
    pipe,
    {"lstmautoencoderdetector__window_size": [8, 24, 48, 96]},
    scoring={
        "skae": anomaly_scorer("average_precision"),
        "sklearn_string": "average_precision",  # wrong for detectors, shown here
    },
    cv=split,
    refit=False,
)
search.fit(X.iloc[:valid_end], y[:valid_end])

results = pd.DataFrame(
    {
        "window_size": search.cv_results_["param_lstmautoencoderdetector__window_size"],
        "AUC-PR (anomaly_scorer)": search.cv_results_["mean_test_skae"],
        'scoring="average_precision"': search.cv_results_["mean_test_sklearn_string"],
    }
)
print(results.round(3).to_string(index=False))

best = int(np.argmax(search.cv_results_["mean_test_skae"]))
wrong = int(np.argmax(search.cv_results_["mean_test_sklearn_string"]))
best_window = results["window_size"][best]
print(
    f"anomaly_scorer picks window_size={best_window}; the scorer string would pick "
    f"window_size={results['window_size'][wrong]}"
)

# %%
# Judge the choice on the test period
# -----------------------------------
# Refit the chosen pipeline on the normal history and score the two events of the
# test period, which played no part in the choice.
from sklearn.base import clone

from skae.metrics import auc_pr, event_recall

model = clone(pipe).set_params(lstmautoencoderdetector__window_size=best_window)
model.fit(X.iloc[:train_end])
test = slice(valid_end, None)
errors = -model.score_samples(X)
flagged = model.predict(X) == -1
n_events = 2
print(
    f"test period: caught {round(event_recall(y[test], flagged[test]) * n_events)} "
    f"of {n_events} labelled events, false alarms on "
    f"{100 * flagged[test][y[test] == 0].mean():.1f} % of normal steps, "
    f"AUC-PR {auc_pr(y[test], errors[test]):.2f} "
    f"(a random score gets {y[test].mean():.2f})"
)
info = model[-1].threshold_info_
rule = "mu + 6 sigma" if info["binding"] == "k_sigma" else "max + (max - median)"
print(
    f"threshold {model[-1].threshold_:.2f}, set by {rule} of the "
    f"{info['n_errors']} held-out errors"
)

# %%
# The ranking carries over to the test period; the threshold is another matter.
# The default threshold is the larger of ``mu + 6 sigma`` of the held-out errors
# and the largest held-out error plus its distance from the median one
# (``threshold_rule="above_heldout"``; ``threshold_info_["binding"]`` says which
# of the two set it). Here both come from the 150 held-out steps that end a
# 2.6-day history, which show too little of how far this sensor's normal readings
# wander over the following weeks, so the threshold flags many of the test
# period's normal steps. Fitting on a longer normal history, raising ``n_sigmas``
# (when ``mu + 6 sigma`` sets the threshold), or choosing the threshold on the
# validation period with ``anomaly_scorer("f1")`` are the remedies.
#
# The validation scores
# ---------------------
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(results["window_size"], results["AUC-PR (anomaly_scorer)"], "o-",
        label="anomaly_scorer('average_precision')")  # fmt: skip
ax.plot(results["window_size"], results['scoring="average_precision"'], "s--",
        label='scoring="average_precision" (backwards)')  # fmt: skip
ax.axhline(y[train_end:valid_end].mean(), color="0.5", lw=1, ls=":",
           label="a random score")  # fmt: skip
ax.set_xlabel("window_size")
ax.set_ylabel("validation AUC-PR")
ax.set_xticks(results["window_size"].astype(int))
ax.legend(fontsize="small")
ax.set_title("Choosing window_size on the validation period", loc="left")
