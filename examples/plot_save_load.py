"""
=============================
Saving and loading a detector
=============================

A fitted detector is trained once and scores for a long time after, often on
another machine. skae gives two ways to keep one:

- ``joblib.dump`` / ``joblib.load``, as for any scikit-learn estimator, including a
  whole ``Pipeline``. A joblib file is a pickle: **loading it runs code stored in
  it**, so only load files you made or trust.
- :func:`skae.save_model` / :func:`skae.load_model`, a zip of JSON and safetensors
  that loads without unpickling anything, for files that cross a trust boundary.

Both give back a detector that scores exactly as the original did. The data is
NAB's ``ec2_request_latency_system_failure`` series: the latency of an Amazon EC2
service, with three labelled failures.
"""

# %%
# Fit a detector
# --------------
import tempfile
from pathlib import Path

import numpy as np

from skae import LSTMAutoencoderDetector
from skae.datasets import load_nab
from skae.metrics import event_recall

nab = load_nab("ec2_request_latency_system_failure")
X = nab.frame.rename(columns={"value": "latency"})
y, train_size = nab.target, nab.train_size
detector = LSTMAutoencoderDetector(
    window_size=32, hidden_size=16, max_epochs=20, lr=3e-3, random_state=0
).fit(X.iloc[:train_size])
scores = detector.score_samples(X)
flagged = detector.predict(X) == -1
test = slice(train_size, None)
print(
    f"caught {round(event_recall(y[test], flagged[test]) * len(nab.windows))} of "
    f"{len(nab.windows)} labelled failures, false alarms on "
    f"{100 * flagged[test][y[test] == 0].mean():.1f} % of the normal steps"
)

# %%
# With joblib, as any estimator
# -----------------------------
import joblib

folder = Path(tempfile.mkdtemp())
joblib.dump(detector, folder / "detector.joblib")
restored = joblib.load(folder / "detector.joblib")  # only files you trust
print(
    f"joblib: {(folder / 'detector.joblib').stat().st_size / 1024:.0f} KiB, "
    f"largest score difference {np.abs(restored.score_samples(X) - scores).max()}"
)

# %%
# A ``Pipeline`` saves the same way, preprocessing included.
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

pipe = make_pipeline(
    FunctionTransformer(np.log1p),  # latency is heavy-tailed: compress the spikes
    LSTMAutoencoderDetector(
        window_size=32, hidden_size=16, max_epochs=20, lr=3e-3, random_state=0
    ),
).fit(X.iloc[:train_size])
joblib.dump(pipe, folder / "pipeline.joblib")
restored_pipe = joblib.load(folder / "pipeline.joblib")
same = np.array_equal(restored_pipe.predict(X), pipe.predict(X))
print(f"pipeline: flags identical after loading: {same}")

# %%
# With the safe format
# --------------------
# ``save_model`` stores the parameters and fitted values as JSON and the weights
# as safetensors, with checksums; ``load_model`` never unpickles, so a file from
# elsewhere cannot run code. A model trained on a GPU loads on a CPU-only machine.
import skae

skae.save_model(detector, folder / "detector.skae")
safe = skae.load_model(folder / "detector.skae")
difference = np.abs(safe.score_samples(X) - scores).max()
print(
    f"safe format: {(folder / 'detector.skae').stat().st_size / 1024:.0f} KiB, "
    f"largest score difference {difference}, threshold {safe.threshold_:.4f} "
    f"(was {detector.threshold_:.4f})"
)

# %%
# The reloaded detector at work
# -----------------------------
from skae.plotting import plot_detection

fig = plot_detection(
    safe, X, y, train_size=train_size, title="EC2 request latency, reloaded model"
)
