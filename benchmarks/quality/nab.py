"""Detection quality on the 58 series of NAB v1.1, skae beside its peers.

For each series: fit on NAB's probationary period (its first
``min(floor(0.15 * n), 750)`` steps, which NAB does not score), then score the whole
series and judge the steps after the probationary period. No labels are used to fit
or to set a threshold.

Figures:

- AUC-PR per category and pooled over all scored steps of the 58 series. Before
  pooling, each series' scores are standardised by the mean and std of the same
  method's scores on the probationary part (label-free, the same for every method).
  The mean of the per-series AUC-PRs is printed beside it.
- NAB's normalised score, standard profile (0 = never detects, 100 = perfect):
  *blind*, from each method's own binary decisions; and *optimised*, with the one
  threshold on the standardised scores that maximises the total score over the
  benchmark, as NAB's own optimisation step does for the published scoreboard
  (``NAB/results/final_results.json``), which therefore uses the labels.
- Each method's own threshold (``predict``, no labels): the share of NAB's
  labelled windows (one per anomaly) with at least one flagged step, and the
  share of normal steps (outside the windows, after the probationary period)
  flagged, pooled over the series and as the median of the series.

Run from the repository root::

    nice python -m benchmarks.quality.nab
    nice python -m benchmarks.quality.nab --quick --methods skae IsolationForest

``--seeds 0 1 2`` runs the benchmark once per seed and then prints each figure per
seed with its mean, standard deviation and range, and the series whose count of
flagged normal steps varies most (PyOD peers are not run per seed)::

    nice python -m benchmarks.quality.nab --seeds 0 1 2 --methods skae
"""

import json
import time
from pathlib import Path

import numpy as np

from benchmarks._harness import fetch_nab, machine_note, markdown_table, setup_torch
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
from skae.datasets import nab_series_names
from skae.metrics import auc_pr, event_recall, nab_normalized_score

QUICK_SERIES = [
    "artificialWithAnomaly/art_daily_jumpsup",
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2",
    "realAdExchange/exchange-2_cpc_results",
    "realKnownCause/nyc_taxi",
    "realTraffic/speed_7578",
    "realTweets/Twitter_volume_GOOG",
]

_SHORT = {
    "artificialNoAnomaly": "artNoAnomaly",
    "artificialWithAnomaly": "artificial",
    "realAWSCloudwatch": "AWS",
    "realAdExchange": "AdExchange",
    "realKnownCause": "KnownCause",
    "realTraffic": "Traffic",
    "realTweets": "Tweets",
}


def published_scoreboard(data_home):
    """Return ``[(detector, standard score)]`` from NAB's final_results.json."""
    path = Path(data_home) / "NAB" / "results" / "final_results.json"
    if not path.is_file():
        return []
    results = json.loads(path.read_text())
    return sorted(
        ((name, scores["standard"]) for name, scores in results.items()),
        key=lambda item: -item[1],
    )


def main(argv=None):
    parser = add_seeds(base_parser(__doc__.split("\n\n")[0]))
    args = parser.parse_args(argv)
    check_seeds(parser, args.seeds)
    setup_torch(args.threads)
    run_seeds(args, run, units="series", digits=spread_digits)


def run(args, seed, with_pyod=True):
    """Run the benchmark once with ``random_state=seed``, print its tables, and
    return its figures (see :func:`benchmarks.quality._methods.print_seed_spread`).
    """
    methods = [SkaeMethod("skae", {}, seed), IsolationForestMethod(seed)]
    peers, note = pyod_methods(seed) if with_pyod else ([], None)
    if note:
        print(note)
    methods = select(methods + peers, args.methods)
    methods += extra_skae_methods(args.skae, seed)

    names = QUICK_SERIES if args.quick else nab_series_names()
    print(f"NAB: {len(names)} series; machine: {machine_note()}", flush=True)

    timer = Timer()
    labels, starts, categories = [], [], []
    results = {m.name: {"flags": [], "scores": []} for m in methods}
    start = time.perf_counter()
    for i, name in enumerate(names, 1):
        nab = fetch_nab(name, args.data_home)
        n = nab.train_size
        labels.append(nab.target)
        starts.append(n)
        categories.append(nab.category)
        line = [f"[{i}/{len(names)}] {name} ({len(nab.data)} steps):"]
        for method in methods:

            def fit_and_score(method=method, X=nab.data, n=n):
                method.fit(X[:n])
                scores = method.scores(X)
                flags = method.flags(X)
                flags[:n] = 0  # the probationary part is not scored anyway
                return calibrate(scores, scores[:n]), flags

            scores, flags = timer.run(method.name, fit_and_score)
            results[method.name]["scores"].append(scores)
            results[method.name]["flags"].append(flags)
            y = nab.target[n:]
            ap = auc_pr(y, scores[n:]) if y.any() else float("nan")
            line.append(f"{method.name} AP {ap:.2f}")
        print(" ".join(line), flush=True)
    total = time.perf_counter() - start

    scored_categories = sorted(
        {c for c, y, n in zip(categories, labels, starts, strict=True) if y[n:].any()}
    )

    def pooled(scores, keep):
        y = np.concatenate([labels[i][starts[i] :] for i in keep])
        s = np.concatenate([scores[i][starts[i] :] for i in keep])
        return auc_pr(y, s)

    rows, figures, normal_flagged = [], {}, {}
    for method in methods:
        r = results[method.name]
        everything = range(len(labels))
        per_category = [
            pooled(r["scores"], [i for i in everything if categories[i] == c])
            for c in scored_categories
        ]
        per_series = np.mean(
            [
                auc_pr(labels[i][starts[i] :], r["scores"][i][starts[i] :])
                for i in everything
                if labels[i][starts[i] :].any()
            ]
        )
        blind = nab_normalized_score(labels, r["flags"], anomaly_label=1).score
        optimised = nab_normalized_score(
            labels, r["scores"], threshold="optimize"
        ).score
        own = threshold_figures(r["flags"], labels, starts)
        normal_flagged[method.name] = dict(zip(names, own["per series"], strict=True))
        figures[method.name] = {
            **{
                f"AUC-PR {_SHORT.get(c, c)}": v
                for c, v in zip(scored_categories, per_category, strict=True)
            },
            "pooled AUC-PR": pooled(r["scores"], everything),
            "mean per series": per_series,
            "NAB blind": blind,
            "NAB optimised": optimised,
            **{k: own[k] for k in OWN_THRESHOLD_FIGURES},
            "fit+score s": timer.seconds[method.name],
        }
        rows.append(
            [method.name]
            + [f"{v:.3f}" for v in per_category]
            + [
                f"**{pooled(r['scores'], everything):.3f}**",
                f"{per_series:.3f}",
                f"{blind:.1f}",
                f"{optimised:.1f}",
                f"{timer.seconds[method.name]:.0f}",
            ]
        )
    header = (
        ["method"]
        + [_SHORT.get(c, c) for c in scored_categories]
        + [
            "pooled AUC-PR",
            "mean per series",
            "NAB blind",
            "NAB optimised",
            "fit+score s",
        ]
    )
    print()
    print(markdown_table(header, rows))
    if not args.quick:
        board = published_scoreboard(args.data_home)
        if board:
            print("\nPublished NAB scoreboard (final_results.json, standard profile):")
            print(
                markdown_table(
                    ["detector", "NAB standard score"],
                    [[name, f"{score:.1f}"] for name, score in board],
                )
            )
    print("\nEach method's own threshold (events = NAB's labelled windows):")
    print(markdown_table(*threshold_table(methods, results, labels, starts)))
    print(f"\nTotal wall time {total:.0f} s.")
    return {
        "figures": figures,
        "normal_flagged": normal_flagged,
    }


OWN_THRESHOLD_FIGURES = [
    "events flagged %",
    "normal steps flagged %",
    "median per series %",
    "series with a false alarm",
]


def spread_digits(runs):
    """Return ``{figure: decimals}`` for the figures of a NAB run."""
    figures = next(iter(next(iter(runs.values()))["figures"].values()))
    digits = {}
    for figure in figures:
        if "AUC-PR" in figure or figure == "mean per series":
            digits[figure] = 3
        elif figure.startswith("NAB") or figure == "events flagged %":
            digits[figure] = 1
        elif figure.endswith("%"):
            digits[figure] = 2
        else:
            digits[figure] = 0
    return digits


def threshold_table(methods, results, labels, starts):
    """Events flagged and normal steps flagged by each method's own flags."""
    rows = []
    for method in methods:
        t = threshold_figures(results[method.name]["flags"], labels, starts)
        rows.append(
            [
                method.name,
                f"{t['hits']}/{t['events']} ({t['events flagged %']:.0f} %)",
                f"{t['normal steps flagged %']:.2f}",
                f"{t['median per series %']:.2f}",
                f"{t['series with a false alarm']}/{len(labels)}",
            ]
        )
    header = [
        "method",
        "events flagged",
        "normal steps flagged %",
        "median per series %",
        "series with a false alarm",
    ]
    return header, rows


def threshold_figures(flags, labels, starts):
    """Return a method's own-threshold figures from its flags of every series.

    Events are NAB's labelled windows after the probationary part, normal steps
    the steps outside them; ``"per series"`` holds each series' pair
    ``(normal steps flagged, normal steps)``.
    """
    scored = [i for i, y in enumerate(labels) if y[starts[i] :].any()]
    flags = [f[starts[i] :] > 0 for i, f in enumerate(flags)]
    truth = [y[starts[i] :] > 0 for i, y in enumerate(labels)]
    hits = sum(
        round(event_recall(truth[i], flags[i], anomaly_label=1) * n_events(truth[i]))
        for i in scored
    )
    events = sum(n_events(truth[i]) for i in scored)
    normal = [f[~y] for f, y in zip(flags, truth, strict=True)]
    return {
        "hits": hits,
        "events": events,
        "events flagged %": 100 * hits / events,
        "normal steps flagged %": 100 * np.concatenate(normal).mean(),
        "median per series %": 100 * np.median([n.mean() for n in normal if len(n)]),
        "series with a false alarm": sum(bool(n.any()) for n in normal),
        "per series": [(int(n.sum()), len(n)) for n in normal],
    }


def n_events(y):
    """Number of runs of True in ``y``."""
    return int(np.count_nonzero(np.diff(np.r_[0, y.astype(int)]) == 1))


if __name__ == "__main__":
    main()
