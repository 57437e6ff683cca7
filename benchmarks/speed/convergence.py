"""Does a default fit finish learning? The default budget against ten times it.

For every series of the chosen sets, the detector is fitted twice with the same
seed: once with the given settings (the defaults unless ``--params``), and once
with ten times the budget (``max_epochs`` and ``patience`` both multiplied by
ten, so the learning-rate schedule, which waits ``patience // 3`` epochs, is
ten times as patient too). The script prints, per set and in all:

- the share of series whose best held-out loss is within 10 % and 25 % of the
  long fit's (``best / best_long - 1``), and the worst ratio;
- the mean AUC-PR of both fits on the judged part (series with anomalies);
- the epochs and the fit time of both.

Sets (data read from ``--data-home``, nothing is downloaded):

- ``skab``: the 34 SKAB files, fitted on their first 400 rows, judged on the rest;
- ``nab``: the 58 NAB series, fitted on NAB's probationary part, judged on the
  rest;
- ``nab-long``: the NAB series of at least ``--long-min`` steps, fitted on their
  first half (thousands of windows), judged on the second half.

One JSON line per fit is appended to ``--out`` (so an interrupted run can be
resumed: fits already in the file are not repeated), with the held-out loss and
the seconds of every epoch; ``--report-only`` prints the table of what the files
hold without fitting. ``--oracle`` adds what any stopping rule of today's
optimiser and schedule would need: from the long fits' curves, the time until
the first epoch within 10 % of the long fit's best (a stopping rule that knew
when to stop), against the default fits' time. Torch's thread count is set by
``--threads`` and printed.

Run: ``python -m benchmarks.speed.convergence [--sets skab nab nab-long] [--quick]``
"""

import argparse
import json
import os
import time

import numpy as np

import skae
from benchmarks._harness import add_data_home, fetch_nab, fetch_skab, setup_torch
from skae.datasets import nab_series_names, skab_file_names
from skae.metrics import auc_pr


def series_of(set_name, data_home, long_min):
    """Yield ``(name, X_train, X_judged, y_judged)`` for one set."""
    if set_name == "skab":
        for name in skab_file_names():
            bunch = fetch_skab(name, data_home)
            n = bunch.train_size
            yield name, bunch.data[:n], bunch.data[n:], bunch.target[n:]
        return
    for name in nab_series_names():
        bunch = fetch_nab(name, data_home)
        if set_name == "nab":
            n = bunch.train_size
        elif len(bunch.data) >= long_min:
            n = len(bunch.data) // 2
        else:
            continue
        yield name, bunch.data[:n], bunch.data[n:], bunch.target[n:]


def fit_once(params, X_train, X_judged, y_judged, seed):
    """Fit, score the judged part in context, and return the figures."""
    start = time.perf_counter()
    detector = skae.LSTMAutoencoderDetector(random_state=seed, **params)
    detector.fit(X_train)
    seconds = time.perf_counter() - start
    losses = [float(row["valid_loss"]) for row in detector.history_]
    errors = -detector.score_samples(np.concatenate([X_train, X_judged]))
    judged = errors[len(X_train) :]
    has_both = 0 < y_judged.sum() < len(y_judged)
    return {
        "best_loss": float(min(losses)),
        "epochs": len(losses),
        "fit_s": round(seconds, 2),
        "auc_pr": float(auc_pr(y_judged, judged)) if has_both else None,
        "valid_losses": losses,
        "epoch_s": [round(float(row["dur"]), 4) for row in detector.history_],
    }


def long_params(params):
    """Return ``params`` with ten times the epoch budget and the patience."""
    defaults = skae.LSTMAutoencoderDetector().get_params()
    budget = dict(params)
    budget["max_epochs"] = 10 * params.get("max_epochs", defaults["max_epochs"])
    budget["patience"] = 10 * params.get("patience", defaults["patience"])
    return budget


def summarise(rows):
    """Return the summary figures of a list of paired results."""
    ratios = np.array(
        [r["default"]["best_loss"] / r["long"]["best_loss"] for r in rows]
    )
    pairs = [
        (r["default"]["auc_pr"], r["long"]["auc_pr"])
        for r in rows
        if r["default"]["auc_pr"] is not None
    ]
    ap = np.array(pairs) if pairs else np.full((1, 2), np.nan)
    return {
        "n": len(rows),
        "within_10": float(np.mean(ratios <= 1.10)),
        "within_25": float(np.mean(ratios <= 1.25)),
        "worst": float(ratios.max()),
        "ap_default": float(ap[:, 0].mean()),
        "ap_long": float(ap[:, 1].mean()),
        "epochs_default": float(np.mean([r["default"]["epochs"] for r in rows])),
        "epochs_long": float(np.mean([r["long"]["epochs"] for r in rows])),
        "fit_s_default": float(sum(r["default"]["fit_s"] for r in rows)),
        "fit_s_long": float(sum(r["long"]["fit_s"] for r in rows)),
    }


def oracle(rows, within=0.10, share=0.95):
    """Print what a stopping rule that knew when to stop would cost.

    For each series whose two fits have curves: the seconds of the long fit
    until its first epoch within ``within`` of its best held-out loss, against
    the default fit's seconds; then the total for the cheapest ``share`` of the
    series (the acceptance's 95 %), and how many series reach it within a
    multiple of their default time.
    """
    rows = [r for r in rows if "epoch_s" in r["long"] and "epoch_s" in r["default"]]
    if not rows:
        print("no fits with per-epoch curves: run again without --report-only")
        return
    default = np.array([sum(r["default"]["epoch_s"]) for r in rows])
    needed = []
    for r in rows:
        losses = np.array(r["long"]["valid_losses"])
        first = int(np.argmax(losses <= (1 + within) * losses.min()))
        needed.append(sum(r["long"]["epoch_s"][: first + 1]))
    needed = np.array(needed)
    count = int(np.ceil(share * len(rows)))
    order = np.argsort(needed)
    # the rest still train, at least for their default time
    cheapest = needed[order[:count]].sum() + default[order[count:]].sum()
    print(
        f"\nStopping at the first epoch within {within:.0%} of the long fit's best "
        f"(an oracle), {len(rows)} series:\n"
    )
    print("| fits | seconds | / default |")
    print("|---|---|---|")
    for label, seconds in [
        ("default", default.sum()),
        ("ten times the budget", sum(sum(r["long"]["epoch_s"]) for r in rows)),
        ("oracle, every series", needed.sum()),
        (
            f"oracle for the cheapest {count} ({share:.0%}), default for the rest",
            cheapest,
        ),
    ]:
        print(f"| {label} | {seconds:.0f} | {seconds / default.sum():.2f} |")
    print()
    for multiple in (1, 1.5, 2, 3, 4, 5):
        reached = int((needed <= multiple * default).sum())
        print(
            f"with {multiple:g} x each series' default time: {reached} of "
            f"{len(rows)} series reach {within:.0%} on the long fit's curve"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["skab", "nab", "nab-long"])
    add_data_home(parser)
    parser.add_argument("--params", default="{}", help="detector settings, JSON")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--long-min", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="every 6th series")
    parser.add_argument(
        "--out",
        nargs="+",
        default=["convergence.jsonl"],
        help="results file (new fits are appended to the first); more files "
        "are read too, e.g. those of runs of single sets in parallel",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="fit nothing: the table of the series whose two fits are in --out",
    )
    parser.add_argument(
        "--oracle",
        action="store_true",
        help="also the time a stopping rule that knew when to stop would need",
    )
    args = parser.parse_args()
    setup_torch(args.threads)
    params = {"n_threads": args.threads, **json.loads(args.params)}
    print(
        f"load {os.getloadavg()[0]:.1f}; settings {params}; long fit: "
        f"{ {k: v for k, v in long_params(params).items() if k != 'n_threads'} }"
    )
    done = {}
    for path in args.out:
        if os.path.exists(path):
            with open(path) as file:
                for line in file:
                    row = json.loads(line)
                    key = (row["set"], row["name"], row["budget"], row["params"])
                    done[key] = row
    results = {}
    for set_name in args.sets:
        rows = []
        for i, (name, X_train, X_judged, y) in enumerate(
            series_of(set_name, args.data_home, args.long_min)
        ):
            if args.quick and i % 6:
                continue
            pair = {}
            for budget, settings in (
                ("default", params),
                ("long", long_params(params)),
            ):
                key = (set_name, name, budget, json.dumps(settings, sort_keys=True))
                if key not in done and args.report_only:
                    break
                if key not in done:
                    figures = fit_once(settings, X_train, X_judged, y, args.seed)
                    done[key] = {
                        "set": set_name,
                        "name": name,
                        "budget": budget,
                        "params": key[3],
                        **figures,
                    }
                    with open(args.out[0], "a") as file:
                        file.write(json.dumps(done[key]) + "\n")
                pair[budget] = done[key]
            if len(pair) < 2:  # --report-only: this series is not done
                continue
            rows.append(pair)
            ratio = pair["default"]["best_loss"] / pair["long"]["best_loss"]
            print(
                f"{set_name:8s} {name:55s} loss ratio {ratio:6.3f}  epochs "
                f"{pair['default']['epochs']:4d} / {pair['long']['epochs']:4d}  "
                f"fit {pair['default']['fit_s']:6.1f} / {pair['long']['fit_s']:6.1f} s",
                flush=True,
            )
        results[set_name] = rows
    print()
    print(
        "| set | series | within 10 % | within 25 % | worst ratio | AUC-PR default "
        "| AUC-PR 10x | epochs default / 10x | fit s default / 10x |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    everything = [row for rows in results.values() for row in rows]
    for label, rows in [*results.items(), ("all", everything)]:
        if not rows:
            continue
        s = summarise(rows)
        print(
            f"| {label} | {s['n']} | {s['within_10']:.0%} | {s['within_25']:.0%} | "
            f"{s['worst']:.2f} | {s['ap_default']:.3f} | {s['ap_long']:.3f} | "
            f"{s['epochs_default']:.0f} / {s['epochs_long']:.0f} | "
            f"{s['fit_s_default']:.0f} / {s['fit_s_long']:.0f} |"
        )
    if args.oracle:
        oracle(everything)


if __name__ == "__main__":
    main()
