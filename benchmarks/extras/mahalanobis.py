"""Squared error versus Mahalanobis anomaly scores on SKAB and NAB.

For every file the same detector is fitted twice with the same ``random_state``
(so the two share an identical network; the script checks that their training
histories match) and differ only in ``anomaly_score``.

- SKAB (34 files): one model per file on its first 400 rows, scored on the rest.
  Point-wise counts pooled over all files: F1 = TP / (TP + (FP + FN) / 2),
  FAR = 100 FP / (FP + TN), MAR = 100 FN / (FN + TP), at the detector's own
  threshold (``mu + n_sigmas sigma``); AUC-PR (average precision) of the pooled
  scores, and its mean over files.
- NAB (the series with anomaly windows): one model per series on its
  probationary ``min(floor(0.15 N), 750)`` rows, AUC-PR of the remaining points
  against the window labels, per series (mean) and pooled.

``--params JSON`` passes other detector arguments (for example the scoring
settings of an earlier measurement, ``'{"n_sigmas": 3, "score_smoothing": 0}'``).

Run from the project root::

    python -m benchmarks.extras.mahalanobis            # full, ~10 min
    python -m benchmarks.extras.mahalanobis --quick    # a few files
"""

import argparse
import json
import time

import numpy as np
from sklearn.metrics import average_precision_score

from benchmarks._harness import (
    add_data_home,
    fetch_nab,
    fetch_skab,
    machine_note,
    setup_torch,
)
from skae import LSTMAutoencoderDetector
from skae.datasets import nab_series_names, skab_file_names

SCORES = ("squared_error", "mahalanobis")


def fit_pair(X_train, args):
    """Fit the two detectors; return them as a dict keyed by anomaly_score."""
    detectors = {}
    for score in SCORES:
        detectors[score] = LSTMAutoencoderDetector(
            window_size=args.window_size,
            hidden_size=args.hidden_size,
            max_epochs=args.max_epochs,
            patience=args.patience,
            device="cpu",
            random_state=args.seed,
            anomaly_score=score,
            **json.loads(args.params),
        ).fit(X_train)
    losses = [d.history_[:, "valid_loss"] for d in detectors.values()]
    if not np.allclose(losses[0], losses[1]):
        raise RuntimeError("the two fits did not train the same network")
    return detectors


def run_skab(args):
    files = skab_file_names()
    if args.quick:
        files = files[::6]
    counts = {s: np.zeros(4, dtype=np.int64) for s in SCORES}  # TP FP FN TN
    pooled = {s: [] for s in SCORES}
    per_file_ap = {s: [] for s in SCORES}
    labels = []
    for name in files:
        skab = fetch_skab(name, args.data_home)
        n = skab.train_size
        detectors = fit_pair(skab.data[:n], args)
        X_test, y_test = skab.data[n:], skab.target[n:]
        labels.append(y_test)
        for score, detector in detectors.items():
            anomaly = -detector.score_samples(X_test)
            flagged = anomaly > detector.threshold_
            counts[score] += [
                np.sum(flagged & (y_test == 1)),
                np.sum(flagged & (y_test == 0)),
                np.sum(~flagged & (y_test == 1)),
                np.sum(~flagged & (y_test == 0)),
            ]
            pooled[score].append(anomaly)
            per_file_ap[score].append(average_precision_score(y_test, anomaly))
    labels = np.concatenate(labels)
    rows = {}
    for score in SCORES:
        tp, fp, fn, tn = counts[score]
        rows[score] = {
            "F1": tp / (tp + (fp + fn) / 2),
            "FAR %": 100 * fp / (fp + tn),
            "MAR %": 100 * fn / (fn + tp),
            "AUC-PR pooled": average_precision_score(
                labels, np.concatenate(pooled[score])
            ),
            "AUC-PR mean": float(np.mean(per_file_ap[score])),
        }
    return len(files), rows


def run_nab(args):
    series = [fetch_nab(name, args.data_home) for name in nab_series_names()]
    series = [nab for nab in series if nab.windows]
    if args.quick:
        series = series[::8]
    pooled = {s: [] for s in SCORES}
    per_file_ap = {s: [] for s in SCORES}
    labels = []
    wins = 0
    for nab in series:
        n = nab.train_size
        detectors = fit_pair(nab.data[:n], args)
        X_test, y_test = nab.data[n:], nab.target[n:]
        labels.append(y_test)
        ap = {}
        for score, detector in detectors.items():
            anomaly = -detector.score_samples(X_test)
            # per-series scales differ; pool the scores relative to each threshold
            pooled[score].append(anomaly / detector.threshold_)
            ap[score] = average_precision_score(y_test, anomaly)
            per_file_ap[score].append(ap[score])
        wins += ap["mahalanobis"] > ap["squared_error"]
    labels = np.concatenate(labels)
    rows = {
        score: {
            "AUC-PR mean": float(np.mean(per_file_ap[score])),
            "AUC-PR pooled": average_precision_score(
                labels, np.concatenate(pooled[score])
            ),
        }
        for score in SCORES
    }
    return len(series), rows, wins


def print_table(title, rows):
    columns = list(next(iter(rows.values())))
    print(f"\n{title}")
    print("| anomaly_score | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for score, row in rows.items():
        cells = " | ".join(f"{row[c]:.3f}" for c in columns)
        print(f"| {score} | {cells} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a subset of files")
    parser.add_argument("--window-size", type=int, default=32)
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-nab", action="store_true")
    parser.add_argument("--skip-skab", action="store_true")
    parser.add_argument("--params", default="{}", metavar="JSON")
    args = add_data_home(parser).parse_args(argv)
    setup_torch(args.threads)
    print(
        f"{machine_note()}; window_size={args.window_size} "
        f"hidden_size={args.hidden_size} max_epochs={args.max_epochs} "
        f"patience={args.patience} random_state={args.seed}, {args.params}"
    )
    if not args.skip_skab:
        start = time.perf_counter()
        n_files, rows = run_skab(args)
        print_table(f"SKAB, {n_files} files, {time.perf_counter() - start:.0f} s", rows)
    if not args.skip_nab:
        start = time.perf_counter()
        n_series, rows, wins = run_nab(args)
        print_table(
            f"NAB, {n_series} labelled series, {time.perf_counter() - start:.0f} s; "
            f"Mahalanobis has the higher AUC-PR on {wins} of {n_series}",
            rows,
        )


if __name__ == "__main__":
    main()
