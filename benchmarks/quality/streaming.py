"""Streaming detection on NAB and SKAB: fit once, then score rows as they arrive.

Protocol, per series (NAB) or file (SKAB):

- fit ``LSTMAutoencoderDetector(causal=True, ...)`` on the training part (NAB:
  the probationary part, its first ``min(floor(0.15 n), 750)`` steps; SKAB: the
  first 400 rows), no labels;
- stream the rest through :class:`skae.StreamingScorer`, whose context starts
  with the end of the training part: every score uses no later row (no
  look-ahead), and with ``--update-every N`` the detector keeps learning
  (``partial_fit`` every N rows on the rows it judged normal, or on all of them
  with ``--learn-from all``), its threshold forgetting at ``--half-life``;
- NAB: the standard NAB score, *blind* from skae's own flags and *optimised*
  with NAB's label-chosen single threshold on the scores divided by the
  threshold in force when each was scored (the decision ratio, comparable
  across series), beside the offline rows of ``benchmarks/README.md`` and the
  published scoreboard; SKAB: F1, FAR and MAR from skae's own flags (point-wise,
  pooled over the 34 files).

Run from the repository root::

    OMP_NUM_THREADS=1 python -m benchmarks.quality.streaming --benchmark nab
    OMP_NUM_THREADS=1 python -m benchmarks.quality.streaming --benchmark skab \
        --update-every 50
"""

import argparse
import copy
import time

import numpy as np

from benchmarks._harness import (
    add_data_home,
    fetch_nab,
    fetch_skab,
    machine_note,
    markdown_table,
    setup_torch,
)
from benchmarks.quality.nab import QUICK_SERIES, published_scoreboard
from benchmarks.quality.skab import QUICK_FILES
from skae import LSTMAutoencoderDetector, StreamingScorer
from skae.datasets import nab_series_names, skab_file_names
from skae.metrics import auc_pr, nab_normalized_score, skab_outlier_scores

# the offline rows of benchmarks/README.md at the current defaults
OFFLINE_NAB = [("skae offline (README)", -3072.6, 1.6)]
OFFLINE_SKAB = [("skae offline (README)", 0.777, 40.9, 14.0)]


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--benchmark", choices=["nab", "skab", "throughput"], required=True
    )
    add_data_home(parser)
    parser.add_argument("--quick", action="store_true", help="a few series only")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--update-every", type=int, default=None, help="rows between updates"
    )
    parser.add_argument("--learn-from", choices=["normal", "all"], default="normal")
    parser.add_argument(
        "--half-life", type=float, default=None, help="forget_half_life, in steps"
    )
    parser.add_argument(
        "--update-windows",
        type=int,
        default=None,
        help="max_windows_per_epoch during updates (default: the detector's)",
    )
    parser.add_argument("--update-lr", type=float, default=None)
    parser.add_argument(
        "--threshold-window",
        type=int,
        nargs="+",
        default=[0],
        metavar="N",
        help="StreamingScorer(threshold_window=N), one row each from the same fits "
        "(0: the detector's fixed threshold)",
    )
    parser.add_argument(
        "--params",
        default="{}",
        help="detector arguments as JSON, e.g. '{\"window_size\": 16}'",
    )
    return parser.parse_args(argv)


def stream_one(X, n_train, args, params):
    """Fit on X[:n_train], then stream X[n_train:] once per threshold window;
    return the results (scores, flags, thresholds of the streamed rows), the
    seconds spent fitting and the seconds spent streaming, per window."""
    start = time.perf_counter()
    detector = LSTMAutoencoderDetector(
        causal=True,
        forget_half_life=args.half_life,
        random_state=args.seed,
        n_threads=args.threads,
        **params,
    ).fit(X[:n_train])
    fit_s = time.perf_counter() - start
    if args.update_windows is not None:
        detector.set_params(max_windows_per_epoch=args.update_windows)
    if args.update_lr is not None:
        detector.set_params(lr=args.update_lr)
    results, stream_s = [], []
    for window in args.threshold_window:
        start = time.perf_counter()
        scorer = StreamingScorer(
            copy.deepcopy(detector),
            update_every=args.update_every,
            learn_from=args.learn_from,
            threshold_window=window or None,
            context=X[:n_train],
        )
        results.append(scorer.push(X[n_train:]))
        stream_s.append(time.perf_counter() - start)
    return results, fit_s, stream_s


def stream_all(items, args, params, score_training_part):
    """Fit and stream every ``(name, X, y, n_train)`` of ``items``; return the
    labels, and per threshold window the flags and the decision ratios
    (score / threshold in force), with the fit and stream seconds. With
    ``score_training_part`` (NAB's scorer skips the probationary part itself)
    each series keeps its training part, padded with zeros."""
    windows = args.threshold_window
    labels = []
    flags, ratios = [[] for _ in windows], [[] for _ in windows]
    fit_s, stream_s = 0.0, np.zeros(len(windows))
    start = time.perf_counter()
    for i, (name, X, y, n) in enumerate(items, 1):
        results, f, s = stream_one(X, n, args, params)
        fit_s, stream_s = fit_s + f, stream_s + s
        pad = np.zeros(n if score_training_part else 0)
        labels.append(y if score_training_part else y[n:])
        for j, result in enumerate(results):
            flags[j].append(np.r_[pad, result.flags].astype(int))
            ratios[j].append(np.r_[pad, result.scores / result.thresholds])
        shares = "/".join(f"{r.flags.mean():.3f}" for r in results)
        ap = auc_pr(y[n:], results[0].scores) if y[n:].any() else float("nan")
        print(
            f"[{i}/{len(items)}] {name}: {len(X)} steps, share flagged {shares}, "
            f"AP {ap:.2f}, fit {f:.1f} s, stream {sum(s):.1f} s",
            flush=True,
        )
    return labels, flags, ratios, fit_s, stream_s, time.perf_counter() - start


def run_nab(args, params):
    names = QUICK_SERIES if args.quick else nab_series_names()
    items = []
    for name in names:
        nab = fetch_nab(name, args.data_home)
        items.append((name, nab.data, nab.target, nab.train_size))
    labels, flags, ratios, fit_s, stream_s, total = stream_all(
        items, args, params, score_training_part=True
    )
    rows = []
    for j, window in enumerate(args.threshold_window):
        blind = nab_normalized_score(labels, flags[j], anomaly_label=1).score
        optimised = nab_normalized_score(labels, ratios[j], threshold="optimize")
        rows.append(
            [
                label_of(args, window),
                f"{blind:.1f}",
                f"{optimised.score:.1f}",
                f"{fit_s:.0f}",
                f"{stream_s[j]:.0f}",
            ]
        )
    rows += [[n, f"{b:.1f}", f"{o:.1f}", "", ""] for n, b, o in OFFLINE_NAB]
    print()
    print(
        markdown_table(
            ["method", "NAB blind", "NAB optimised", "fit s", "stream s"], rows
        )
    )
    print("(optimised: NAB's one label-chosen threshold on score / threshold)")
    if not args.quick:
        board = published_scoreboard(args.data_home)
        print("\nPublished scoreboard (standard profile, label-optimised):")
        print(
            markdown_table(
                ["detector", "NAB standard score"],
                [[name, f"{score:.1f}"] for name, score in board],
            )
        )
    return total


def run_skab(args, params):
    names = QUICK_FILES if args.quick else skab_file_names()
    items = []
    for name in names:
        skab = fetch_skab(name, args.data_home)
        items.append((name, skab.data, skab.target, skab.train_size))
    labels, flags, ratios, fit_s, stream_s, total = stream_all(
        items, args, params, score_training_part=False
    )
    rows = []
    for j, window in enumerate(args.threshold_window):
        m = skab_outlier_scores(labels, flags[j], anomaly_label=1)
        pooled = auc_pr(np.concatenate(labels), np.concatenate(ratios[j]))
        rows.append(
            [
                label_of(args, window),
                f"{m.f1:.3f}",
                f"{m.far:.1f}",
                f"{m.mar:.1f}",
                f"{pooled:.3f}",
                f"{fit_s:.0f}",
                f"{stream_s[j]:.0f}",
            ]
        )
    rows += [
        [n, f"{f1:.3f}", f"{far:.1f}", f"{mar:.1f}", "", "", ""]
        for n, f1, far, mar in OFFLINE_SKAB
    ]
    print()
    print(
        markdown_table(
            ["method", "F1", "FAR %", "MAR %", "AUC-PR (ratio)", "fit s", "stream s"],
            rows,
        )
    )
    return total


def run_throughput(args, params):
    """Rows per second: pushing 1,000-row chunks against one batch call, and
    the scorer's memory as the stream grows (synthetic 4-feature series)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    t = np.arange(60_000)[:, None]
    X = np.sin(2 * np.pi * t / np.array([24, 50, 81, 130])) + 0.1 * rng.normal(
        size=(len(t), 4)
    )
    detector = LSTMAutoencoderDetector(
        causal=True, random_state=0, n_threads=args.threads, max_epochs=3, **params
    ).fit(X[:2000])
    stream = X[2000:22_000]
    batch_s, push_s, moving_s = [], [], []
    for _ in range(3):  # interleaved, best of 3: a shared machine's load varies
        start = time.perf_counter()
        expected = -detector.score_samples(stream)
        batch_s.append(time.perf_counter() - start)
        for seconds, window in ((push_s, None), (moving_s, 10_000)):
            scorer = StreamingScorer(detector, threshold_window=window)
            start = time.perf_counter()
            got = np.concatenate(
                [
                    scorer.push(stream[i : i + 1000]).scores
                    for i in range(0, 20_000, 1000)
                ]
            )
            seconds.append(time.perf_counter() - start)
            assert np.allclose(got, expected, rtol=1e-6)
    print(
        markdown_table(
            ["scoring 20,000 steps", "best of 3 (s)", "steps / s"],
            [
                [
                    "score_samples, one call",
                    f"{min(batch_s):.2f}",
                    f"{20_000 / min(batch_s):.0f}",
                ],
                [
                    "StreamingScorer.push, 1,000-row chunks",
                    f"{min(push_s):.2f}",
                    f"{20_000 / min(push_s):.0f}",
                ],
                [
                    "the same, threshold_window=10000",
                    f"{min(moving_s):.2f}",
                    f"{20_000 / min(moving_s):.0f}",
                ],
            ],
        )
    )
    print(
        f"stream / batch rate: {min(batch_s) / min(push_s):.2f}; with "
        f"threshold_window=10000: {min(batch_s) / min(moving_s):.2f}"
    )
    rows = []
    for update_every in (None, 200):
        scorer = StreamingScorer(copy.deepcopy(detector), update_every=update_every)
        tracemalloc.start()
        for i in range(0, 58_000, 1000):
            scorer.push(X[2000 + i : 3000 + i])
            if i + 1000 in (2000, 10_000, 58_000):
                current, peak = tracemalloc.get_traced_memory()
                rows.append(
                    [
                        str(update_every),
                        f"{i + 1000:,}",
                        f"{len(scorer._rows)}",
                        f"{current / 1024:.0f}",
                        f"{peak / 1024:.0f}",
                    ]
                )
        tracemalloc.stop()
    print(
        markdown_table(
            [
                "update_every",
                "rows pushed",
                "rows held",
                "traced KiB now",
                "traced KiB peak",
            ],
            rows,
        )
    )


def label_of(args, window=None):
    if args.update_every is None:
        text = "skae streaming, frozen"
    else:
        text = (
            f"skae streaming, update_every={args.update_every}, "
            f"learn_from={args.learn_from}"
        )
    if window:
        text += f", threshold_window={window}"
    if args.half_life is not None:
        text += f", forget_half_life={args.half_life:g}"
    if args.update_windows is not None:
        text += f", {args.update_windows} windows/update"
    if args.update_lr is not None:
        text += f", update lr={args.update_lr:g}"
    if args.params != "{}":
        text += f", {args.params}"
    return text


def main(argv=None):
    import json

    args = parse(argv)
    setup_torch(args.threads)
    params = json.loads(args.params)
    print(
        f"{args.benchmark}: {label_of(args)}, threshold windows "
        f"{args.threshold_window}; {machine_note()}",
        flush=True,
    )
    if args.benchmark == "throughput":
        run_throughput(args, params)
        return
    total = run_nab(args, params) if args.benchmark == "nab" else run_skab(args, params)
    print(f"\nTotal wall time {total:.0f} s.")


if __name__ == "__main__":
    main()
