"""Which sensor? Per-feature contributions against SKAB's single-sensor anomalies.

For each SKAB file, a model-free reference says which sensor the anomaly shows in:
the mean absolute standardized deviation (by the first 400 rows' mean and standard
deviation) during the labelled anomaly, minus the same during the normal test
steps. A file counts as a *single-sensor* file when its top sensor's shift is at
least ``--dominance`` times the second one's.

On those files a detector is fitted on the first 400 rows (the SKAB protocol) and
``feature_contributions`` of the test rows rank the sensors three ways:

- ``alarm``: the mean contribution over the labelled anomaly;
- ``alarm - normal``: that minus the mean over the normal test steps (what the
  anomaly adds to each sensor's share);
- ``flagged - unflagged``: the same with the detector's own flags instead of the
  labels (what an operator has without labels).

Reported: the share of files whose top-ranked sensor is the reference one.

Run from the project root::

    python -m benchmarks.extras.explain_skab
"""

import argparse
import time

import numpy as np

from benchmarks._harness import add_data_home, fetch_skab, setup_torch
from skae import LSTMAutoencoderDetector
from skae.datasets import skab_file_names

SCORES = ("squared_error", "mahalanobis")
RANKINGS = ("alarm", "alarm - normal", "flagged - unflagged")


def reference_sensor(X, y, n_train):
    """Return (index of the sensor that shifts most in the anomaly, dominance)."""
    train, test, labels = X[:n_train], X[n_train:], y[n_train:]
    deviation = np.abs((test - train.mean(0)) / (train.std(0) + 1e-12))
    shift = deviation[labels == 1].mean(0) - deviation[labels == 0].mean(0)
    first, second = np.sort(shift)[::-1][:2]
    return int(np.argmax(shift)), first / max(second, 1e-12)


def rankings(detector, X_test, y_test):
    contributions = detector.feature_contributions(X_test)
    flagged = detector.predict(X_test) == -1
    alarm = contributions[y_test == 1].mean(0)
    out = {
        "alarm": alarm,
        "alarm - normal": alarm - contributions[y_test == 0].mean(0),
    }
    if flagged.any() and (~flagged).any():
        out["flagged - unflagged"] = contributions[flagged].mean(0) - contributions[
            ~flagged
        ].mean(0)
    else:
        out["flagged - unflagged"] = np.full(X_test.shape[1], np.nan)
    return {
        name: int(np.nanargmax(v)) if np.isfinite(v).any() else -1
        for name, v in out.items()
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dominance", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
    args = add_data_home(parser).parse_args(argv)
    setup_torch(args.threads)
    start = time.perf_counter()
    hits = {(s, r): 0 for s in SCORES for r in RANKINGS}
    rows = []
    for name in skab_file_names():
        skab = fetch_skab(name, args.data_home)
        X, y, columns, n = skab.data, skab.target, skab.feature_names, skab.train_size
        sensor, dominance = reference_sensor(X, y, n)
        if dominance < args.dominance:
            continue
        row = [
            name,
            columns[sensor],
            f"{dominance:.0f}" if dominance < 1e3 else "> 1000",
        ]
        for score in SCORES:
            detector = LSTMAutoencoderDetector(
                window_size=16,
                hidden_size=16,
                max_epochs=15,
                anomaly_score=score,
                device="cpu",
                random_state=0,
            ).fit(X[:n])
            ranked = rankings(detector, X[n:], y[n:])
            for ranking, top in ranked.items():
                hits[score, ranking] += top == sensor
            row.append(columns[ranked["alarm - normal"]])
        rows.append(row)
    print(
        f"window_size=16 hidden_size=16 max_epochs=15 random_state=0; "
        f"{len(rows)} single-sensor files (dominance >= {args.dominance:g}), "
        f"{time.perf_counter() - start:.0f} s\n"
    )
    print(
        "| file | reference sensor | dominance | top, " + " | top, ".join(SCORES) + " |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\n(top = ranking by alarm - normal)\n")
    print("| anomaly_score | " + " | ".join(RANKINGS) + " |")
    print("|---" * (len(RANKINGS) + 1) + "|")
    for score in SCORES:
        cells = " | ".join(f"{hits[score, r]} / {len(rows)}" for r in RANKINGS)
        print(f"| {score} | {cells} |")


if __name__ == "__main__":
    main()
