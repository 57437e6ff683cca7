"""Detection quality on SKAB v0.9, with the protocol of its published leaderboard.

For each of the 34 files: fit one model on the first 400 rows, score the remaining
rows (the test set) on their own, and flag them with the model's own threshold
(no labels anywhere). TP/FP/FN/TN are summed over the 34 test sets:
``F1 = TP / (TP + (FP + FN) / 2)``, ``FAR = 100 * FP / (FP + TN)``,
``MAR = 100 * FN / (FN + TP)``, point-wise, without point adjustment.

The threshold-free figure is the pooled AUC-PR: each file's test scores are
standardised by the mean and std of the same method's scores on that file's 400
training rows, then all test steps are ranked together. The mean of the 34
per-file AUC-PRs is printed beside it.

Methods, all on the same splits:

- ``skae``: ``LSTMAutoencoderDetector()`` with its defaults;
- ``skae-LSTM-AE-config``: the published LSTM-AE configuration (10-step windows,
  100 hidden units), the rest skae's defaults;
- ``IsolationForest``: scikit-learn's, with its defaults, on the rows;
- PyOD 3's ``LSTMAD`` and ``AutoEncoder`` (when PyOD is installed), with their
  defaults, on rows standardised with the training rows' statistics.

Run from the repository root (``nice`` is kind to a shared machine)::

    nice python -m benchmarks.quality.skab
    nice python -m benchmarks.quality.skab --quick --methods skae IsolationForest

``--seeds 0 1 2`` runs the benchmark once per seed and then prints each figure per
seed with its mean, standard deviation and range, and the files whose count of
flagged normal steps varies most (PyOD peers are not run per seed)::

    nice python -m benchmarks.quality.skab --seeds 0 1 2 --methods skae
"""

import time

import numpy as np

from benchmarks._harness import fetch_skab, machine_note, markdown_table, setup_torch
from benchmarks.quality._methods import (
    IsolationForestMethod,
    SkaeMethod,
    Timer,
    add_seeds,
    base_parser,
    calibrate,
    check_seeds,
    extra_skae_methods,
    pyod_methods,
    run_seeds,
    select,
)
from skae.datasets import skab_file_names
from skae.metrics import auc_pr, skab_outlier_scores

# The leaderboard's figures for SKAB v0.9 (F1, FAR %, MAR %), from SKAB's README.
PUBLISHED = [
    ("Conv-AE (published)", 0.78, 13.55, 28.02),
    ("MSET (published)", 0.78, 39.73, 14.13),
    ("T-squared+Q, PCA (published)", 0.76, 26.62, 24.92),
    ("LSTM-AE (published)", 0.74, 29.96, 25.92),
    ("Vanilla LSTM (published)", 0.54, None, None),
    ("Vanilla AE (published)", 0.39, None, None),
    ("Isolation forest (published)", 0.29, None, None),
]

QUICK_FILES = ["other/9", "other/14", "valve1/0", "valve1/6", "valve2/1"]


# Column indices of SKAB's two temperature sensors (Temperature, Thermocouple).
TEMPERATURES = [4, 5]


def skae_methods(seed):
    return [
        SkaeMethod("skae", {}, seed),
        SkaeMethod(
            "skae-LSTM-AE-config", {"window_size": 10, "hidden_size": 100}, seed
        ),
        SkaeMethod(
            "skae-centred-temperatures", {"centered_features": TEMPERATURES}, seed
        ),
    ]


SPREAD_DIGITS = {
    "F1": 3,
    "FAR %": 2,
    "MAR %": 2,
    "AUC-PR pooled": 3,
    "AUC-PR per file": 3,
    "fit+score s": 0,
}


def main(argv=None):
    parser = add_seeds(base_parser(__doc__.split("\n\n")[0]))
    args = parser.parse_args(argv)
    check_seeds(parser, args.seeds)
    setup_torch(args.threads)
    run_seeds(args, run, units="files", digits=SPREAD_DIGITS)


def run(args, seed, with_pyod=True):
    """Run the benchmark once with ``random_state=seed``, print its table, and
    return its figures (see :func:`benchmarks.quality._methods.print_seed_spread`).
    """
    methods = skae_methods(seed) + [IsolationForestMethod(seed)]
    peers, note = pyod_methods(seed) if with_pyod else ([], None)
    if note:
        print(note)
    methods = select(methods + peers, args.methods)
    methods += extra_skae_methods(args.skae, seed)

    names = QUICK_FILES if args.quick else skab_file_names()
    files = [fetch_skab(name, args.data_home) for name in names]
    temperatures = [files[0].feature_names[i] for i in TEMPERATURES]
    assert temperatures == ["Temperature", "Thermocouple"], temperatures
    print(f"SKAB: {len(files)} files; machine: {machine_note()}", flush=True)

    timer = Timer()
    labels = []
    results = {m.name: {"flags": [], "scores": []} for m in methods}
    start = time.perf_counter()
    for i, skab in enumerate(files, 1):
        n = skab.train_size
        X_train, X_test = skab.data[:n], skab.data[n:]
        labels.append(skab.target[n:])
        line = [f"[{i}/{len(files)}] {skab.name}:"]
        for method in methods:

            def fit_and_score(method=method, X_train=X_train, X_test=X_test):
                method.fit(X_train)
                train_scores = method.scores(X_train)
                scores = method.scores(X_test)
                return calibrate(scores, train_scores), method.flags(X_test)

            scores, flags = timer.run(method.name, fit_and_score)
            results[method.name]["scores"].append(scores)
            results[method.name]["flags"].append(flags)
            line.append(f"{method.name} AP {auc_pr(labels[-1], scores):.2f}")
        print(" ".join(line), flush=True)
    total = time.perf_counter() - start

    y_all = np.concatenate(labels)
    rows, figures = [], {}
    for method in methods:
        r = results[method.name]
        m = skab_outlier_scores(labels, r["flags"], anomaly_label=1)
        pooled = auc_pr(y_all, np.concatenate(r["scores"]))
        per_file = np.mean(
            [auc_pr(y, s) for y, s in zip(labels, r["scores"], strict=True)]
        )
        figures[method.name] = {
            "F1": m.f1,
            "FAR %": m.far,
            "MAR %": m.mar,
            "AUC-PR pooled": pooled,
            "AUC-PR per file": per_file,
            "fit+score s": timer.seconds[method.name],
        }
        rows.append(
            [
                method.name,
                f"{m.f1:.3f}",
                f"{m.far:.1f}",
                f"{m.mar:.1f}",
                f"{pooled:.3f}",
                f"{per_file:.3f}",
                f"{timer.seconds[method.name]:.0f}",
            ]
        )
    every = skab_outlier_scores(
        labels, [np.ones_like(y) for y in labels], anomaly_label=1
    )
    rows.append(
        [
            "flag every step",
            f"{every.f1:.3f}",
            f"{every.far:.1f}",
            f"{every.mar:.1f}",
            f"{y_all.mean():.3f}",
            "",
            "",
        ]
    )
    if not args.quick:
        for name, f1, far, mar in PUBLISHED:
            cell = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
            rows.append([name, f"{f1:.2f}", cell(far), cell(mar), "", "", ""])
    header = [
        "method",
        "F1",
        "FAR %",
        "MAR %",
        "AUC-PR pooled",
        "AUC-PR per file",
        "fit+score s",
    ]
    print()
    print(markdown_table(header, rows))
    print(f"\nTotal wall time {total:.0f} s.")
    return {
        "figures": figures,
        "normal_flagged": {
            method.name: {
                skab.name: (int(np.count_nonzero(f[y == 0])), int(np.sum(y == 0)))
                for skab, y, f in zip(
                    files, labels, results[method.name]["flags"], strict=True
                )
            }
            for method in methods
        },
    }


if __name__ == "__main__":
    main()
