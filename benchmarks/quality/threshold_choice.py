"""How the default threshold rule and flatline check were chosen (issue 15).

One detector per series is fitted with the flatline check off, and its
reconstruction errors are kept with the raw data, on three sets at once: the
planted-anomaly benchmark (:mod:`benchmarks.quality.planted`), SKAB (fitted on
each file's first 400 rows, judged on the rest, as :mod:`benchmarks.quality.skab`)
and NAB (fitted on each probationary part, as :mod:`benchmarks.quality.nab`).
Every pairing of a threshold rule and a flatline check is then computed from the
same errors, without fitting again:

- rules: ``mu + 6 sigma`` of the held-out errors, and the larger of it and
  ``max + m (max - median)`` for each ``m`` of ``--margins``;
- the check: off, or for each length (a share of ``window_size``) and factor,
  ``max(error, tau / log(factor) * stillness)`` as :mod:`skae._flatlines` does
  with ``flatline_length`` and ``FLATLINE_FACTOR`` set to those values.

Printed per pairing: the planted events and normal steps flagged overall, the
number of bases meeting 90 % of events at most 1 % of normal steps, each base's
figures; SKAB's F1 and FAR (the leaderboard's definitions); NAB's share of
labelled windows with a flag and the median share of a series' normal steps
flagged. The row of the defaults matches what ``planted.py``, ``skab.py`` and
``nab.py`` print for skae.

Run from the repository root (about 15 minutes on one thread; ``--cache`` keeps
the fits, so a second run only recomputes the table)::

    nice python -m benchmarks.quality.threshold_choice --cache /tmp/choice.pkl
"""

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.quality._data import collect_nab, collect_planted, collect_skab


def _rule(margin):
    """The threshold of held-out errors: ``mu + 6 sigma``, or the larger of it
    and ``max + margin (max - median)``."""
    from skae._threshold import mean_k_sigma, quantile_margin_threshold

    def threshold(errors):
        k_sigma = mean_k_sigma(errors, 6.0)[2]
        if margin is None:
            return k_sigma
        return max(k_sigma, quantile_margin_threshold(errors, 1.0, margin)[0])

    return threshold


def _scores(state, X_fit, X, errors, tau, check):
    """The errors, raised where ``check = (length share, factor)`` finds X still."""
    from skae._flatlines import fit_reference, step_stillness

    if check is None:
        return errors
    share, factor = check
    length = max(2, int(state["window_size"] * share))

    def scaled(A):
        A = np.asarray(A, dtype=np.float64).reshape(len(A), -1)
        return (A - state["mean"]) / state["scale"]

    reference = fit_reference(scaled(X_fit), length)
    still = step_stillness(scaled(X), length, reference).max(axis=1)
    return np.maximum(errors, tau / np.log(factor) * still)


def evaluate(cache, margin, check):
    """Return one table row's cells for a rule and a check."""
    from benchmarks.quality.planted import evaluate as planted_counts
    from skae._labels import caught_runs
    from skae.metrics import skab_outlier_scores

    rule = _rule(margin)
    totals, cells, meeting = np.zeros(4, dtype=np.int64), [], 0
    for state in cache["planted"].values():
        tau = rule(state["heldout"])
        records = [
            dict(
                r,
                scores=_scores(
                    state, state["fit"], r["values"], r["errors"], tau, check
                ),
            )
            for r in state["records"]
        ]
        counts = np.array(planted_counts(records, tau, state["window_size"]))
        totals += counts
        recall, share = 100 * counts[0] / counts[1], 100 * counts[2] / counts[3]
        meeting += recall >= 90 and share <= 1.0
        cells.append(f"{recall:.0f} / {share:.2f}")
    labels, flags = [], []
    for state in cache["skab"]:
        tau = rule(state["heldout"])
        scores = _scores(
            state, state["fit"], state["test"], state["errors"], tau, check
        )
        labels.append(state["y"])
        flags.append((scores > tau).astype(int))
    skab = skab_outlier_scores(labels, flags, anomaly_label=1)
    caught = windows = 0
    shares = []
    for state in cache["nab"]:
        n, tau = state["n"], rule(state["heldout"])
        scores = _scores(state, state["X"][:n], state["X"], state["errors"], tau, check)
        y, flagged = state["y"][n:], scores[n:] > tau
        hits = caught_runs(y == 1, flagged)[2]
        caught, windows = caught + int(hits.sum()), windows + len(hits)
        shares.append(100 * (flagged & (y == 0)).sum() / max(1, (y == 0).sum()))
    return [
        "mu + 6 sigma" if margin is None else f"larger of it and max + {margin:g}",
        "off" if check is None else f"{check[0]:g} window, factor {check[1]:g}",
        f"{100 * totals[0] / totals[1]:.1f} / {100 * totals[2] / totals[3]:.2f}",
        f"{meeting}/{len(cells)}",
        f"{skab.f1:.4f}",
        f"{skab.far:.2f}",
        f"{100 * caught / windows:.0f}",
        f"{np.median(shares):.2f}",
        *cells,
    ]


def main(argv=None):
    from benchmarks._harness import add_data_home, markdown_table, setup_torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_home(parser)
    parser.add_argument("--cache", default=None, help="pickle of the fits")
    parser.add_argument("--margins", type=float, nargs="+", default=[0.5, 1, 1.5, 2])
    parser.add_argument("--lengths", type=float, nargs="+", default=[0.5, 0.75, 1])
    parser.add_argument("--factors", type=float, nargs="+", default=[2, 3, 4])
    args = parser.parse_args(argv)

    setup_torch(1)
    path = Path(args.cache) if args.cache else None
    if path is not None and path.exists():
        cache = pickle.loads(path.read_bytes())
    else:
        begin = time.perf_counter()
        cache = {
            "planted": collect_planted(args.data_home),
            "skab": collect_skab(args.data_home),
            "nab": collect_nab(args.data_home),
        }
        print(f"fits: {time.perf_counter() - begin:.0f} s", flush=True)
        if path is not None:
            path.write_bytes(pickle.dumps(cache))
    checks = [None] + [(s, f) for s in args.lengths for f in args.factors]
    rows = [
        evaluate(cache, margin, check)
        for margin in [None, *args.margins]
        for check in checks
    ]
    header = [
        "rule",
        "flatline check",
        "planted events % / normal %",
        "bases at 90 % / 1 %",
        "SKAB F1",
        "SKAB FAR %",
        "NAB windows flagged %",
        "NAB median normal flagged %",
        *cache["planted"],
    ]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    sys.exit(main())
