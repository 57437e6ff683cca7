"""Read SKAB and NAB from the shared data folder with pandas, for the benchmarks.

(``skae.datasets`` will do this for users; the benchmarks read the CSVs directly so
that they run on any branch.)
"""

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

SKAB_TRAIN_SIZE = 400


def data_dir():
    """Return the folder holding ``SKAB/`` and ``NAB/``."""
    env = os.environ.get("SKAE_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def skab_files(root=None):
    """Return the 34 SKAB file paths of the leaderboard, sorted."""
    root = Path(root or data_dir()) / "SKAB" / "data"
    return sorted(
        p
        for group in ("valve1", "valve2", "other")
        for p in (root / group).glob("*.csv")
    )


def read_skab(path):
    """Return ``(X, y, columns)``: the 8 sensors, the anomaly labels, their names."""
    frame = pd.read_csv(path, sep=";", index_col="datetime")
    y = frame.pop("anomaly").to_numpy().astype(int)
    frame = frame.drop(columns="changepoint")
    return frame.to_numpy(dtype=np.float64), y, list(frame.columns)


def nab_files(root=None, labelled_only=True):
    """Return ``(name, path)`` of NAB's series; by default only those with windows."""
    root = Path(root or data_dir()) / "NAB"
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    return [
        (name, root / "data" / name)
        for name in sorted(windows)
        if windows[name] or not labelled_only
    ]


def read_nab(name, root=None):
    """Return ``(X, y, n_probation)`` of one NAB series.

    ``y`` is 1 inside the series' labelled anomaly windows; ``n_probation`` is
    ``min(floor(0.15 * N), 750)``, the prefix a detector may learn from.
    """
    root = Path(root or data_dir()) / "NAB"
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    frame = pd.read_csv(root / "data" / name, parse_dates=["timestamp"])
    y = np.zeros(len(frame), dtype=int)
    for start, end in windows[name]:
        inside = (frame["timestamp"] >= pd.Timestamp(start)) & (
            frame["timestamp"] <= pd.Timestamp(end)
        )
        y[inside.to_numpy()] = 1
    n_probation = min(math.floor(0.15 * len(frame)), 750)
    return frame[["value"]].to_numpy(dtype=np.float64), y, n_probation
