"""Fit speed per unit of quality: today's defaults against faster variants.

Issue 25 asks for training that reaches today's held-out loss in less time. This
script fits skae's detector at the current defaults (the baseline) and at
variants built from public parameters, plus a bfloat16 autocast context around
fit and scoring (``with torch.autocast("cpu", dtype=torch.bfloat16): ...``).
Nothing in skae changes; it only measures.

Variants (``n_threads=1`` and ``random_state=--seed`` for all):

- ``baseline``: ``LSTMAutoencoderDetector()`` with its defaults;
- ``bf16 autocast``: the defaults, fit and scoring under CPU bfloat16 autocast
  with ``cache_enabled=False`` (with the cache, the bfloat16 copies of the
  weights made at the first step are reused for the whole fit: nothing learns);
- ``batch 256, lr 6e-3``: ``batch_size=256, lr=6e-3``;
- ``max_windows_per_epoch`` at half the default;
- ``hidden 32``: ``hidden_size=32``;
- combinations (``--combo``, JSON of constructor arguments plus ``"bf16"``,
  repeated for several).

Sets (data read from ``--data-home``, nothing is downloaded):

- ``skab``: the 34 SKAB files, as ``benchmarks/quality/skab.py``: fit on the
  first 400 rows, score the rest, flag with the model's own threshold; pooled
  AUC-PR of scores standardised by the training rows' scores, F1 and FAR summed
  over the files (``skae.metrics.skab_outlier_scores``);
- ``nab-long``: the six long NAB series of issue 25 (the convergence study's),
  fitted on their first half and judged on the second half;
- ``nab``: six other NAB series chosen by a fixed rule (the names at positions
  5, 15, ..., 55 of ``nab_series_names()``, a long one replaced by the next
  name), as ``benchmarks/quality/nab.py``: fit on the probationary part, score
  the whole series, standardise by the probationary part's scores, judge the
  rest.

Per series, the variants run one after the other (the order rotates from series
to series), so that the machine's load falls on all of them alike. Per set and
variant the script prints the total fit seconds and its ratio to the baseline's,
the mean epochs, the mean of the per-series ratio of the best held-out loss
(skorch's ``valid_loss``) to the baseline's and the share of series within
10 % of it, the pooled and mean per-series AUC-PR, and (SKAB) F1 and FAR. For
the NAB sets it also prints the share of series within 10 % of the ten-times
budget fits stored in ``benchmarks/speed/results/convergence_nab*.jsonl``
(issue 25's acceptance 3), where those files hold the series.

Run from the repository root::

    nice python -m benchmarks.speed.fit_speed
    nice python -m benchmarks.speed.fit_speed --sets skab
    python -m benchmarks.speed.fit_speed --quick
"""

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np

from benchmarks._harness import (
    add_data_home,
    fetch_nab,
    fetch_skab,
    machine_note,
    markdown_table,
    setup_torch,
)
from benchmarks.quality._methods import calibrate

LONG_SERIES = [
    "realKnownCause/cpu_utilization_asg_misconfiguration",
    "realKnownCause/machine_temperature_system_failure",
    "realKnownCause/nyc_taxi",
    "realTweets/Twitter_volume_AAPL",
    "realTweets/Twitter_volume_AMZN",
    "realTweets/Twitter_volume_CRM",
]
QUICK_SKAB = ["other/9", "valve1/0"]
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_COMBO = '{"bf16": true, "hidden_size": 32, "max_windows_per_epoch": 2048}'


def variants(combos):
    """Return ``[(name, constructor arguments, bf16)]``, the baseline first and
    one combination per JSON object of ``combos``."""
    from skae import LSTMAutoencoderDetector

    half = LSTMAutoencoderDetector().get_params()["max_windows_per_epoch"] // 2
    chosen = [
        ("baseline", {}, False),
        ("bf16 autocast", {}, True),
        ("batch 256, lr 6e-3", {"batch_size": 256, "lr": 6e-3}, False),
        (f"max_windows_per_epoch={half}", {"max_windows_per_epoch": half}, False),
        ("hidden 32", {"hidden_size": 32}, False),
    ]
    for combo in combos:
        combo = dict(combo)
        bf16 = bool(combo.pop("bf16", False))
        label = ", ".join(f"{k}={v}" for k, v in combo.items())
        label = ("bf16, " if bf16 else "") + label
        chosen.append((f"combination: {label.rstrip(', ')}", combo, bf16))
    return chosen


def other_nab_series():
    """Six NAB series by a fixed rule: positions 5, 15, ..., 55, a long
    series replaced by the next name."""
    from skae.datasets import nab_series_names

    names = nab_series_names()
    chosen = []
    for i in range(5, len(names), 10):
        while names[i] in LONG_SERIES:
            i += 1
        chosen.append(names[i])
    return chosen


def series_of(set_name, args):
    """Yield ``(name, X, n_fit, y_judged)``: fit ``X[:n_fit]``, judge after it."""
    if set_name == "skab":
        from skae.datasets import skab_file_names

        for name in QUICK_SKAB if args.quick else skab_file_names():
            bunch = fetch_skab(name, args.data_home)
            yield name, bunch.data, bunch.train_size, bunch.target[bunch.train_size :]
        return
    if set_name == "nab-long":
        names = LONG_SERIES[-1:] if args.quick else LONG_SERIES
    else:
        names = other_nab_series()[:1] if args.quick else other_nab_series()
    for name in names:
        bunch = fetch_nab(name, args.data_home)
        n = len(bunch.data) // 2 if set_name == "nab-long" else bunch.train_size
        yield name, bunch.data, n, bunch.target[n:]


def fit_and_score(set_name, X, n, params, bf16, seed):
    """Fit one detector and return its figures and judged scores."""
    import torch

    from skae import LSTMAutoencoderDetector

    detector = LSTMAutoencoderDetector(random_state=seed, n_threads=1, **params)
    if bf16:
        # cache_enabled=False: autocast's cache of bfloat16 weight copies lasts
        # until the outermost autocast context ends, so around a whole fit
        # every forward would use the first step's weights and nothing learns
        context = torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False)
    else:
        context = contextlib.nullcontext()
    with context:
        start = time.perf_counter()
        detector.fit(X[:n])
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        if set_name == "skab":
            # skab.py: the test rows are scored on their own
            scores = calibrate(
                -detector.score_samples(X[n:]), -detector.score_samples(X[:n])
            )
            flags = (detector.predict(X[n:]) == -1).astype(int)
        else:
            # nab.py: the whole series is scored in context
            errors = -detector.score_samples(X)
            scores = calibrate(errors, errors[:n])[n:]
            flags = None
        score_s = time.perf_counter() - start
    losses = [float(row["valid_loss"]) for row in detector.history_]
    return {
        "fit_s": fit_s,
        "score_s": score_s,
        "epochs": len(losses),
        "best_loss": min(losses),
        "scores": np.asarray(scores, dtype=np.float64),
        "flags": flags,
    }


def stored_long_losses():
    """The best held-out loss of the stored ten-times-budget fits, by name and
    set (``benchmarks/speed/results/convergence_nab*.jsonl``)."""
    losses = {}
    for path, set_name in (
        (RESULTS / "convergence_nab.jsonl", "nab"),
        (RESULTS / "convergence_nab_long.jsonl", "nab-long"),
    ):
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row["budget"] == "long":
                losses[(set_name, row["name"])] = row["best_loss"]
    return losses


def report(set_name, names, labels, results, variant_names):
    """Print the table of one set and return its rows."""
    from skae.metrics import auc_pr, skab_outlier_scores

    base = results["baseline"]
    stored = stored_long_losses() if set_name != "skab" else {}
    stored_keys = [(set_name, name) for name in names]
    have_stored = all(key in stored for key in stored_keys)
    y_all = np.concatenate(labels)
    rows = []
    for variant in variant_names:
        r = results[variant]
        fit_s = sum(x["fit_s"] for x in r)
        ratios = np.array(
            [x["best_loss"] / b["best_loss"] for x, b in zip(r, base, strict=True)]
        )
        pooled = auc_pr(y_all, np.concatenate([x["scores"] for x in r]))
        per_series = np.mean(
            [
                auc_pr(y, x["scores"])
                for y, x in zip(labels, r, strict=True)
                if 0 < y.sum() < len(y)
            ]
        )
        row = [
            variant,
            f"{fit_s:.0f}",
            f"{fit_s / sum(b['fit_s'] for b in base):.2f}",
            f"{np.mean([x['epochs'] for x in r]):.1f}",
            f"{ratios.mean():.3f}",
            f"{np.mean(ratios <= 1.10):.0%}",
            f"{pooled:.3f}",
            f"{per_series:.3f}",
        ]
        if set_name == "skab":
            m = skab_outlier_scores(labels, [x["flags"] for x in r], anomaly_label=1)
            row += [f"{m.f1:.3f}", f"{m.far:.1f}"]
        elif have_stored:
            within = [
                x["best_loss"] / stored[key] <= 1.10
                for x, key in zip(r, stored_keys, strict=True)
            ]
            row.append(f"{np.mean(within):.0%}")
        rows.append(row)
    header = [
        "variant",
        "fit s",
        "/ baseline",
        "mean epochs",
        "held-out loss / baseline (mean)",
        "within 10 %",
        "AUC-PR pooled",
        "AUC-PR mean per series",
    ]
    if set_name == "skab":
        header += ["F1", "FAR %"]
    elif have_stored:
        header.append("within 10 % of stored 10x fit")
    print(f"\n{set_name}: {len(names)} series\n")
    print(markdown_table(header, rows))
    return rows


def run_set(set_name, args, variant_list):
    """Fit every series of a set with every variant, interleaved; print the table."""
    names, labels = [], []
    results = {name: [] for name, _, _ in variant_list}
    for i, (name, X, n, y) in enumerate(series_of(set_name, args)):
        names.append(name)
        labels.append(y)
        shift = i % len(variant_list)
        order = variant_list[shift:] + variant_list[:shift]
        line = [f"{set_name} [{i + 1}] {name} ({n} fit steps):"]
        for variant, params, bf16 in order:
            if args.quick:
                params = {**params, "max_epochs": 3}
            figures = fit_and_score(set_name, X, n, params, bf16, args.seed)
            results[variant].append(figures)
        for variant, _, _ in variant_list:
            f = results[variant][-1]
            line.append(
                f"\n    {variant}: fit {f['fit_s']:.1f} s, {f['epochs']} epochs, "
                f"loss {f['best_loss']:.4g}"
            )
        print("".join(line), flush=True)
    return report(set_name, names, labels, results, [v[0] for v in variant_list])


def main(argv=None):
    parser = add_data_home(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument(
        "--sets", nargs="+", default=["skab", "nab-long", "nab"], help="sets to run"
    )
    parser.add_argument("--seed", type=int, default=0, help="random_state of all")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1)"
    )
    parser.add_argument(
        "--combo",
        action="append",
        help="a combination variant, JSON of constructor arguments plus "
        f'"bf16"; may be repeated (default {DEFAULT_COMBO})',
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=None,
        metavar="WORD",
        help="run only the variants whose name starts with one of these words "
        "(baseline, bf16, batch, max_windows_per_epoch, hidden, combination); "
        "the baseline always runs",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 SKAB files, 1 long and 1 other NAB series, max_epochs=3",
    )
    args = parser.parse_args(argv)
    import torch

    setup_torch(args.threads)
    print(f"torch.get_num_threads() = {torch.get_num_threads()}")
    print(f"machine: {machine_note()}; load {os.getloadavg()[0]:.1f}", flush=True)
    variant_list = variants(json.loads(c) for c in args.combo or [DEFAULT_COMBO])
    if args.variants:
        variant_list = [
            v
            for v in variant_list
            if v[0] == "baseline" or v[0].startswith(tuple(args.variants))
        ]
    # warm up: the first fit and the first bfloat16 fit of a process are slower
    warm = np.sin(np.arange(600.0) / 7)[:, None]
    for bf16 in (False, True):
        fit_and_score("nab", warm, 300, {"max_epochs": 1}, bf16, args.seed)
    start = time.perf_counter()
    for set_name in args.sets:
        run_set(set_name, args, variant_list)
    print(
        f"\nTotal wall time {time.perf_counter() - start:.0f} s; "
        f"load {os.getloadavg()[0]:.1f}."
    )


if __name__ == "__main__":
    main()
