"""Detection quality of skae's speed settings on SKAB and NAB (AUC-PR).

Measures what the two ways of doing less work cost in quality:

- ``score_stride``: each fitted model scores its series at several strides
  (``--strides``), so the strides are compared on the same weights;
- ``max_windows_per_epoch`` and ``decoder_feed``: one run per setting (train again).

Protocols (``shared/data/README.md``): SKAB, per file, the first 400 rows train and
the rest are scored; NAB, per series, the probationary period
``min(floor(0.15 * N), 750)`` trains and the rest is scored, with every point inside
a labelled anomaly window counted as an anomaly. The whole series is scored (the
training part gives the first test steps their context) and only the test part is
evaluated. AUC-PR is ``average_precision_score(y, -score_samples)``, pooled over all
files of a benchmark and averaged per file (files whose test part has no anomaly
are left out of the per-file mean).

Run one setting per process, then print the table, e.g.::

    python -m benchmarks.speed.settings_quality run --dataset skab \
        --out results/skab-base.json
    python -m benchmarks.speed.settings_quality run --dataset skab \
        --max-windows-per-epoch 64 --strides 1,8 --out results/skab-mw64.json
    python -m benchmarks.speed.settings_quality run --dataset nab \
        --nab-train-fraction 0.4 --max-windows-per-epoch 512 --strides 8 \
        --out results/nab-long-mw512.json
    python -m benchmarks.speed.settings_quality table results/*.json

The settings the tables of ``benchmarks/README.md`` were measured with, other
than those given here, were the detector's defaults of the day; pass them with
``--params JSON`` to repeat a measurement under today's defaults.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from benchmarks._harness import add_data_home, fetch_nab, fetch_skab
from skae import LSTMAutoencoderDetector
from skae.datasets import nab_series_names, skab_file_names


def skab_files(data_home):
    """Yield ``(name, X, y, n_train)`` for the 34 SKAB test files."""
    for name in skab_file_names():
        skab = fetch_skab(name, data_home)
        yield name, skab.data, skab.target, skab.train_size


def nab_files(data_home, train_fraction=None):
    """Yield ``(name, X, y, n_train)`` for the 58 NAB series.

    ``train_fraction`` replaces the probationary period by the first fraction of
    each series (a longer training part, to measure settings that only matter on
    long series; that part may hold anomalies).
    """
    for name in nab_series_names():
        nab = fetch_nab(name, data_home)
        n_train = nab.train_size
        if train_fraction is not None:
            n_train = int(train_fraction * len(nab.data))
        yield name, nab.data, nab.target, n_train


def run(args):
    if args.dataset == "skab":
        files = skab_files(args.data_home)
    else:
        files = nab_files(args.data_home, args.nab_train_fraction)
    strides = [int(s) for s in args.strides.split(",")]
    params = dict(
        window_size=args.window_size,
        hidden_size=args.hidden_size,
        max_epochs=args.max_epochs,
        patience=args.patience,
        decoder_feed=args.decoder_feed,
        max_windows_per_epoch=args.max_windows_per_epoch,
        random_state=args.seed,
        device="cpu",
        n_threads=args.threads,
        **json.loads(args.params),
    )
    results = []
    for name, X, y, n_train in files:
        detector = LSTMAutoencoderDetector(**params)
        start = time.perf_counter()
        detector.fit(X[:n_train])
        fit_s = time.perf_counter() - start
        row = {
            "file": name,
            "fit_s": fit_s,
            "epochs": len(detector.history_),
            "test_anomalies": int(y[n_train:].sum()),
            "y": y[n_train:].tolist(),
            "scores": {},
            "score_s": {},
        }
        for stride in strides:
            # score_samples reads score_stride_, which fit sets from score_stride;
            # the weights (all that matters for the ranking) are the same
            detector.score_stride_ = min(stride, args.window_size)
            start = time.perf_counter()
            scores = detector.score_samples(X)
            row["score_s"][str(stride)] = time.perf_counter() - start
            row["scores"][str(stride)] = scores[n_train:].tolist()
        results.append(row)
        print(
            f"{name}: {row['epochs']} epochs, fit {fit_s:.1f} s, "
            + ", ".join(
                f"s={k}: {_ap(row['y'], v):.3f}" for k, v in row["scores"].items()
            ),
            flush=True,
        )
    dataset = args.dataset
    if args.nab_train_fraction is not None:
        dataset += f" (first {args.nab_train_fraction:.0%} trains)"
    out = {"settings": {**params, "dataset": dataset}, "files": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out))


def _ap(y, scores):
    y = np.asarray(y)
    if y.sum() == 0:
        return float("nan")
    return float(average_precision_score(y, -np.asarray(scores)))


def summarize(path):
    """Return one row per stride of a result file."""
    result = json.loads(Path(path).read_text())
    settings, files = result["settings"], result["files"]
    rows = []
    for stride in files[0]["scores"]:
        y = np.concatenate([f["y"] for f in files])
        scores = np.concatenate([f["scores"][stride] for f in files])
        per_file = [_ap(f["y"], f["scores"][stride]) for f in files]
        rows.append(
            {
                "dataset": settings["dataset"],
                "max_windows_per_epoch": settings["max_windows_per_epoch"],
                "decoder_feed": settings["decoder_feed"],
                "seed": settings["random_state"],
                "score_stride": int(stride),
                "pooled_auc_pr": _ap(y, scores),
                "mean_file_auc_pr": float(np.nanmean(per_file)),
                "fit_s": sum(f["fit_s"] for f in files),
                "epochs": float(np.mean([f["epochs"] for f in files])),
                "score_s": sum(f["score_s"][stride] for f in files),
            }
        )
    return rows


def table(args):
    rows = [row for path in args.results for row in summarize(path)]
    frame = pd.DataFrame(rows).sort_values(
        ["dataset", "decoder_feed", "max_windows_per_epoch", "seed", "score_stride"],
        na_position="first",
    )
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run", help="fit and score one setting on one benchmark")
    one.add_argument("--dataset", choices=["skab", "nab"], required=True)
    one.add_argument("--out", required=True)
    add_data_home(one)
    one.add_argument("--strides", default="1,2,4,8,16,32")
    one.add_argument("--window-size", type=int, default=32)
    one.add_argument("--hidden-size", type=int, default=64)
    one.add_argument("--max-epochs", type=int, default=50)
    one.add_argument("--patience", type=int, default=5)
    one.add_argument("--decoder-feed", default="repeat")
    one.add_argument("--max-windows-per-epoch", type=int, default=None)
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--nab-train-fraction", type=float, default=None)
    one.add_argument("--threads", type=int, default=1)
    one.add_argument(
        "--params", default="{}", metavar="JSON", help="other detector arguments"
    )
    show = sub.add_parser("table", help="print AUC-PR per setting and stride")
    show.add_argument("results", nargs="+")
    args = parser.parse_args(argv)
    run(args) if args.command == "run" else table(args)


if __name__ == "__main__":
    main()
