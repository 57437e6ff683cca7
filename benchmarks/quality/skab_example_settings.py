"""SKAB leaderboard figures for the settings of examples/plot_multivariate_skab.py.

For each of SKAB's 34 files: fit on the first 400 rows, score the rest, and pool the
point-wise counts over all files (SKAB's protocol). Prints one line per file and the
pooled F1 / FAR / MAR. Run from the repository root::

    python -m benchmarks.quality.skab_example_settings [--data-home DIR]
"""

import argparse
import time

from benchmarks._harness import add_data_home, fetch_skab, setup_torch
from skae import LSTMAutoencoderDetector
from skae.datasets import skab_file_names
from skae.metrics import auc_pr, skab_outlier_scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args = add_data_home(parser).parse_args(argv)
    setup_torch(1)
    labels, flags = [], []
    start = time.perf_counter()
    for name in skab_file_names():
        skab = fetch_skab(name, args.data_home)
        n = skab.train_size
        detector = LSTMAutoencoderDetector(
            window_size=16, hidden_size=16, max_epochs=40, random_state=0
        ).fit(skab.data[:n])
        errors = -detector.score_samples(skab.data[n:])
        flagged = (errors > detector.threshold_).astype(int)
        y = skab.target[n:]
        one = skab_outlier_scores([y], [flagged])
        print(
            f"{name}: F1 {one.f1:.2f} FAR {one.far:.1f} MAR {one.mar:.1f} "
            f"AUC-PR {auc_pr(y, errors):.2f}",
            flush=True,
        )
        labels.append(y)
        flags.append(flagged)
    pooled = skab_outlier_scores(labels, flags)
    print(
        f"pooled over {len(labels)} files: F1 {pooled.f1:.3f} FAR {pooled.far:.1f} % "
        f"MAR {pooled.mar:.1f} % ({time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
