"""Other ways to turn the same reconstruction errors into SKAB flags.

The exploration behind issue 3's "what else was tried" table: one detector per
SKAB file (its first 400 rows, skae's defaults plus ``--skae`` JSON), then every
variant below is computed from the *same* trained models' residuals ``x - x^`` of
every window (stride 1), on the held-out tail (which sets each threshold) and on
the test rows. Nothing here looks at a label before the pooled F1/FAR/MAR and
AUC-PR are computed, but every variant is scored on the test labels, so the best
row of a long table is an optimistic pick.

Variants:

- ``radius``: ``score_smoothing`` (the mean over positions within ``radius``
  inside each window) before the mean over covering windows;
- ``level``: each window's residual split into its mean over the window (the
  level) and the rest (the shape); the error is ``shape**2 + alpha * level**2``,
  so the level part is spread evenly over the window (``alpha=1`` keeps each
  window's total error; ``-`` is skae's score, no split);
- ``agg``: how the per-feature step errors become one score: ``mean`` (skae),
  ``sqrt`` (mean of their square roots), ``log`` (mean of ``log1p``), ``trim1`` /
  ``trim2`` (mean without the largest one / two features), ``median``;
- ``threshold``: ``mu + k sigma`` of the held-out scores (skae), of their logs
  (``lognormal``), ``median + k MAD``, or ``c`` times the held-out maximum.

Usage::

    python -m benchmarks.quality.skab_score_variants [--skae JSON]
"""

import argparse
import json
import time

import numpy as np
import torch
from sklearn.metrics import average_precision_score

from benchmarks._harness import add_data_home, fetch_skab, setup_torch
from skae import LSTMAutoencoderDetector, SlidingWindowTransformer

# private: the in-window smoothing of score_smoothing has no public function
from skae._inference import local_mean
from skae.datasets import skab_file_names


def window_residuals(detector, X):
    """Residuals ``x - x^`` of every window, shape (n_windows, window, features)."""
    windows = SlidingWindowTransformer(window_size=detector.window_size).fit_transform(
        (X - detector.mean_) / detector.scale_
    )
    with torch.inference_mode():
        x = torch.as_tensor(windows, dtype=torch.float32)
        return x.double() - detector.net_.module_(x).double()


def step_errors(residuals, radius, alpha):
    """Per-step, per-feature errors: window errors, smoothed, averaged per step."""
    if alpha is None:  # skae's score: each position's own squared error
        errors = residuals**2
    else:
        level = residuals.mean(dim=1, keepdim=True)
        errors = (residuals - level) ** 2 + alpha * level**2
    n_windows, width = errors.shape[:2]
    return SlidingWindowTransformer(window_size=width).aggregate(
        local_mean(errors, radius).numpy(), n_windows + width - 1
    )


AGGREGATES = {
    "mean": lambda E: E.mean(axis=1),
    "sqrt": lambda E: np.sqrt(E).mean(axis=1),
    "log": lambda E: np.log1p(E).mean(axis=1),
    "trim1": lambda E: np.sort(E, axis=1)[:, :-1].mean(axis=1),
    "trim2": lambda E: np.sort(E, axis=1)[:, :-2].mean(axis=1),
    "median": lambda E: np.median(E, axis=1),
}


def _mad(h):
    return 1.4826 * np.median(np.abs(h - np.median(h)))


THRESHOLDS = {
    "mu + k sigma": lambda h, k: h.mean() + k * h.std(),
    "lognormal": lambda h, k: np.exp(np.log(h).mean() + k * np.log(h).std()),
    "median + k MAD": lambda h, k: np.median(h) + 1.6 * k * _mad(h),
    "k/4 x max": lambda h, k: k / 4 * h.max(),
}


def evaluate(files, radius, alpha, aggregate, threshold, ks):
    """Pooled F1/FAR/MAR for each k, and pooled AUC-PR (held-out standardised)."""
    counts = {k: np.zeros(4) for k in ks}
    pooled, labels = [], []
    for held, test, y in files:
        h = AGGREGATES[aggregate](step_errors(held, radius, alpha))
        t = AGGREGATES[aggregate](step_errors(test, radius, alpha))
        for k in ks:
            flags = t > THRESHOLDS[threshold](h, k)
            counts[k] += [
                np.sum(flags & (y == 1)),
                np.sum(flags & (y == 0)),
                np.sum(~flags & (y == 1)),
                np.sum(~flags & (y == 0)),
            ]
        pooled.append((t - h.mean()) / max(h.std(), 1e-12))
        labels.append(y)
    ap = average_precision_score(np.concatenate(labels), np.concatenate(pooled))
    cells = []
    for k in ks:
        tp, fp, fn, tn = counts[k]
        f1 = tp / (tp + (fp + fn) / 2)
        cells.append(
            f"{f1:.3f} / {100 * fp / (fp + tn):.0f} / {100 * fn / (fn + tp):.0f}"
        )
    return ap, cells


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skae", default="{}", help="detector arguments, as JSON")
    parser.add_argument("--seed", type=int, default=0)
    args = add_data_home(parser).parse_args(argv)
    setup_torch(1)
    params = {"random_state": args.seed, **json.loads(args.skae)}
    start = time.perf_counter()
    files = []
    for name in skab_file_names():
        skab = fetch_skab(name, args.data_home)
        X, n = np.asarray(skab.data, dtype=float), skab.train_size
        detector = LSTMAutoencoderDetector(**params).fit(X[:n])
        heldout = X[n - len(detector.heldout_errors_) : n]
        files.append(
            (
                window_residuals(detector, heldout),
                window_residuals(detector, X[n:]),
                np.asarray(skab.target[n:]),
            )
        )
    print(
        f"SKAB, 34 files, detector {params}: fitted in "
        f"{time.perf_counter() - start:.0f} s"
    )
    ks = (4, 6, 8, 10)
    rows = [
        ("mean", 0, None, "mu + k sigma"),
        ("mean", 8, None, "mu + k sigma"),
        ("mean", 16, None, "mu + k sigma"),
        ("mean", 0, 1.0, "mu + k sigma"),
        ("mean", 8, 1.0, "mu + k sigma"),
        ("mean", 16, 1.0, "mu + k sigma"),
        ("mean", 0, 2.0, "mu + k sigma"),
        ("mean", 0, 0.3, "mu + k sigma"),
        ("mean", 8, 0.3, "mu + k sigma"),
        ("mean", 8, 0.0, "mu + k sigma"),
        ("sqrt", 8, None, "mu + k sigma"),
        ("log", 8, None, "mu + k sigma"),
        ("trim1", 8, None, "mu + k sigma"),
        ("trim2", 8, None, "mu + k sigma"),
        ("median", 8, None, "mu + k sigma"),
        ("mean", 8, None, "lognormal"),
        ("mean", 8, None, "median + k MAD"),
        ("mean", 8, None, "k/4 x max"),
    ]
    print(
        "\n| score | smoothing radius | level weight alpha | threshold | AUC-PR | "
        + " | ".join(f"F1 / FAR / MAR at k={k}" for k in ks)
        + " |"
    )
    print("|---" * (5 + len(ks)) + "|")
    for aggregate, radius, alpha, threshold in rows:
        ap, cells = evaluate(files, radius, alpha, aggregate, threshold, ks)
        print(
            f"| {aggregate} | {radius} | {'-' if alpha is None else f'{alpha:g}'} | "
            f"{threshold} | {ap:.3f} | " + " | ".join(cells) + " |"
        )
    print(f"\nTotal {time.perf_counter() - start:.0f} s.")


if __name__ == "__main__":
    main()
