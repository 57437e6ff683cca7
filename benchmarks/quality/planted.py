"""Planted-anomaly benchmark: which threshold rule flags clear anomalies, at what cost.

For each base signal, one detector is fitted on a clean normal stretch, and many
test copies of the same signal are scored, each with one planted anomaly event.
Every candidate threshold rule (``skae._threshold.threshold_from_heldout``) is
computed from the same fitted detector's ``heldout_errors_`` and applied to the
same scores, so the comparison is of rules, not of models.

Base signals: a sine, a sum of two periods, noisy versions of both, a
mean-reverting random walk, a square wave, and the normal parts of two NAB series
(``artificialNoAnomaly/art_daily_small_noise`` and ``realKnownCause/nyc_taxi``
before its first labelled window). Anomaly kinds, with lengths from 1 to 200 steps:
spike, level shift, shape change, frequency change, noise burst, flatline, slow
trend (magnitudes in units of the base signal's standard deviation, see
``ANOMALY_LENGTHS`` and :func:`plant`).

Scoring: an event counts as flagged when any step from its start to
``window_size`` steps after its end is flagged (a step's score averages the
windows covering it, so an anomaly raises the scores up to ``window_size - 1``
steps after it). Normal steps are the steps of the test copies farther than
``window_size`` steps from the event; the false-alarm figure is the share of them
flagged. Seeds are fixed.

Run from the repository root (``nice`` is kind to a shared machine)::

    nice python -m benchmarks.quality.planted
    nice python -m benchmarks.quality.planted --quick
    nice python -m benchmarks.quality.planted --params '{"max_epochs": 100}'

Like skae, the shared harness is imported inside the functions that use it, so
``tests/test_threshold.py`` can load this file by its path and run one base.
"""

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

# Lengths of the planted events, per kind.
ANOMALY_LENGTHS = {
    "spike": (1, 3),
    "level shift": (20, 100, 200),
    "shape change": (20, 60, 200),
    "frequency change": (30, 100, 200),
    "noise burst": (5, 20, 100),
    "flatline": (20, 60, 200),
    "slow trend": (50, 100, 200),
}
ANOMALY_KINDS = tuple(ANOMALY_LENGTHS)

SYNTHETIC_BASES = (
    "sine",
    "two periods",
    "noisy sine",
    "noisy two periods",
    "random walk",
    "square wave",
)
NAB_BASES = {
    "NAB art_daily_small_noise": "art_daily_small_noise",
    "NAB nyc_taxi": "nyc_taxi",
}

# Normal steps on either side of an event in a test copy.
COPY_PADDING = 250


# ------------------------------------------------------------------ base signals


def synthetic_signal(name, n_steps, seed):
    """Return ``n_steps`` of a synthetic base signal, shape ``(n_steps,)``.

    Each seed gives a new realisation (random phase and noise) of the same
    process, so a test copy is new normal data of the kind the model was fitted on.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps) + rng.uniform(0, 1000)
    noise = rng.standard_normal(n_steps)
    if name == "sine":
        return np.sin(2 * np.pi * t / 20) + 0.01 * noise
    if name == "two periods":
        return 0.5 * (np.sin(2 * np.pi * t / 20) + np.sin(2 * np.pi * t / 27))
    if name == "noisy sine":
        return np.sin(2 * np.pi * t / 20) + 0.2 * noise
    if name == "noisy two periods":  # the series of issue 15: 5 % noise
        two = 0.5 * (np.sin(2 * np.pi * t / 20) + np.sin(2 * np.pi * t / 27))
        return two + 0.05 * noise
    if name == "random walk":
        # Mean-reverting (AR(1), phi = 0.95, a memory of about 20 steps), started
        # in its stationary law, so that the training part covers the range of
        # the test copies (with phi = 0.98 and 1,000 training steps it did not,
        # and normal copies scored above planted anomalies).
        phi = 0.95
        x = np.empty(n_steps)
        x[0] = noise[0] / np.sqrt(1 - phi**2)
        for i in range(1, n_steps):
            x[i] = phi * x[i - 1] + noise[i]
        return x * np.sqrt(1 - phi**2)
    if name == "square wave":
        return 0.9 * np.sign(np.sin(2 * np.pi * t / 40)) + 0.02 * noise
    raise ValueError(f"unknown base signal {name!r}")


def nab_normal_part(series, data_home):
    """Return the steps of a NAB series before its first labelled window."""
    from benchmarks._harness import fetch_nab

    bunch = fetch_nab(series, data_home)
    values = bunch.data[:, 0]
    labelled = np.flatnonzero(bunch.target)
    end = labelled[0] if labelled.size else values.size
    return values[:end]


class BaseSignal:
    """A source of normal stretches: a synthetic process or one real series."""

    def __init__(self, name, values=None):
        self.name = name
        self.values = values  # a real series' normal part, or None

    def train_length(self, n_train):
        """Return the training length: ``n_train``, at most half a real series."""
        if self.values is None:
            return n_train
        return min(n_train, self.values.size // 2)

    def train(self, n_steps):
        if self.values is None:
            return synthetic_signal(self.name, n_steps, seed=0)
        return self.values[:n_steps]

    def copy(self, n_steps, seed, n_train):
        """Return fresh normal data of ``n_steps`` (after the training part)."""
        if self.values is None:
            return synthetic_signal(self.name, n_steps, seed=1000 + seed)
        start = np.random.default_rng(seed).integers(
            n_train, self.values.size - n_steps + 1
        )
        return self.values[start : start + n_steps]


# -------------------------------------------------------------- planted anomalies


def plant(values, kind, start, length, scale, seed):
    """Return a copy of ``values`` with one anomaly in ``[start, start + length)``.

    ``scale`` is the standard deviation of the normal signal; magnitudes are in
    its units. ``values`` must extend at least ``3 * length`` steps past
    ``start`` (a frequency change plays the following steps faster).
    """
    x = np.array(values, dtype=np.float64)
    end = start + length
    segment = slice(start, end)
    rng = np.random.default_rng(seed)
    level = np.mean(values)
    if kind == "spike":
        x[segment] += 4.0 * scale * rng.choice([-1.0, 1.0])
    elif kind == "level shift":
        x[segment] += 2.0 * scale * rng.choice([-1.0, 1.0])
    elif kind == "shape change":
        # The square wave of the same amplitude, and a sine for a base
        # that is already square.
        centred = x[segment] - level
        amplitude = np.sqrt(2.0) * scale
        if np.mean(np.abs(np.abs(centred) - np.abs(centred).mean())) < 0.2 * scale:
            phase = np.arange(length) * 2 * np.pi / 40
            x[segment] = level + amplitude * np.sin(phase)
        else:
            x[segment] = level + 0.9 * amplitude * np.sign(centred)
    elif kind == "frequency change":
        source = np.arange(length) * 2.5
        x[segment] = np.interp(start + source, np.arange(x.size), values)
    elif kind == "noise burst":
        x[segment] += 1.0 * scale * rng.standard_normal(length)
    elif kind == "flatline":
        x[segment] = x[start]
    elif kind == "slow trend":
        x[segment] += 3.0 * scale * np.linspace(0, 1, length) * rng.choice([-1, 1])
    else:
        raise ValueError(f"unknown anomaly kind {kind!r}")
    return x


def test_copies(base, n_train, kinds, lengths, n_repeats, scale):
    """Yield ``(kind, length, values, start)``: one planted event per copy."""
    for kind in kinds:
        for length in lengths[kind]:
            for repeat in range(n_repeats):
                seed = (ANOMALY_KINDS.index(kind) * 1000 + length) * 10 + repeat
                n_steps = 2 * COPY_PADDING + 4 * length
                normal = base.copy(n_steps, seed, n_train)
                start = COPY_PADDING + int(np.random.default_rng(seed).integers(0, 32))
                values = plant(normal, kind, start, length, scale, seed)
                yield kind, length, values[: 2 * COPY_PADDING + length], start


# ------------------------------------------------------------------ the rules


def candidate_rules():
    """Return ``(label, threshold function of held-out errors)`` of every rule."""
    from skae._threshold import (
        mean_k_sigma,
        pot_threshold,
        quantile_margin_threshold,
        threshold_from_heldout,
    )

    rules = [
        (
            "larger of mu + 6 sigma and max + 1 (max - median) (the default)",
            lambda e: threshold_from_heldout(e, "above_heldout")[0],
        ),
        ("mu + 6 sigma (seed)", lambda e: mean_k_sigma(e, 6.0)[2]),
        ("mu + 10 sigma", lambda e: mean_k_sigma(e, 10.0)[2]),
        ("q99 + 1 (q99 - median)", lambda e: quantile_margin_threshold(e, 0.99, 1)[0]),
        ("max", lambda e: quantile_margin_threshold(e, 1.0, 0.0)[0]),
        ("max + 0.5 (max - median)", lambda e: quantile_margin_threshold(e, 1, 0.5)[0]),
        ("max + 1 (max - median)", lambda e: quantile_margin_threshold(e, 1, 1.0)[0]),
    ]
    for bounds, label in [((0.0, 0.5), "shape in [0, 0.5]"), ((-0.5, 1.0), "free")]:
        for risk in (1e-3, 1e-4, 1e-5):
            rules.append(
                (
                    f"POT risk {risk:g}, {label}",
                    lambda e, r=risk, b=bounds: pot_threshold(e, r, shape_bounds=b)[0],
                )
            )
    rules.append(
        (
            "POT risk 1e-4, exponential",
            lambda e: pot_threshold(e, 1e-4, shape_bounds=(0.0, 0.0))[0],
        )
    )
    rules.append(
        (
            "POT risk 1e-4, shape in [0, 0.5], 10 % peaks",
            lambda e: pot_threshold(e, 1e-4, tail_share=0.1)[0],
        )
    )
    return rules


def evaluate(records, threshold, window_size):
    """Return ``(events flagged, events, normal steps flagged, normal steps)``."""
    hits = events = false_alarms = normal = 0
    for record in records:
        flags = record["scores"] > threshold
        start, end = record["start"], record["start"] + record["length"]
        events += 1
        hits += bool(flags[start : end + window_size].any())
        outside = np.ones(flags.size, dtype=bool)
        outside[max(start - window_size, 0) : end + window_size] = False
        false_alarms += int(flags[outside].sum())
        normal += int(outside.sum())
    return hits, events, false_alarms, normal


def oracle_threshold(records, window_size, share):
    """Return the threshold that flags ``share`` of the normal steps (uses labels)."""
    normal = []
    for record in records:
        start, end = record["start"], record["start"] + record["length"]
        outside = np.ones(record["scores"].size, dtype=bool)
        outside[max(start - window_size, 0) : end + window_size] = False
        normal.append(record["scores"][outside])
    return float(np.quantile(np.concatenate(normal), 1.0 - share))


# ------------------------------------------------------------------ the run


def run_base(base, params, n_train, kinds, lengths, n_repeats):
    """Fit one detector on ``base`` and score its test copies."""
    from skae import LSTMAutoencoderDetector

    n_train = base.train_length(n_train)
    train = base.train(n_train)
    detector = LSTMAutoencoderDetector(random_state=0, n_threads=1, **params)
    detector.fit(train[:, None])
    scale = float(np.std(train))
    records = []
    for kind, length, values, start in test_copies(
        base, n_train, kinds, lengths, n_repeats, scale
    ):
        scores = -detector.score_samples(values[:, None])
        records.append(
            {"kind": kind, "length": length, "start": start, "scores": scores}
        )
    return {
        "heldout": np.asarray(detector.heldout_errors_),
        "records": records,
        "window_size": detector.window_size,
        "epochs": len(detector.history_),
    }


def report(results, rules):
    """Print the overall and per-base tables of every rule."""
    from benchmarks._harness import markdown_table

    bases = list(results)
    rows = []
    for label, rule in rules:
        totals = np.zeros(4, dtype=np.int64)
        cells = []
        worst_recall, worst_fa = 1.0, 0.0
        for name in bases:
            result = results[name]
            tau = rule(result["heldout"])
            counts = np.array(evaluate(result["records"], tau, result["window_size"]))
            totals += counts
            recall, fa = counts[0] / counts[1], counts[2] / counts[3]
            worst_recall, worst_fa = min(worst_recall, recall), max(worst_fa, fa)
            cells.append(f"{100 * recall:.0f} / {100 * fa:.2f}")
        recall, fa = totals[0] / totals[1], totals[2] / totals[3]
        rows.append(
            [
                label,
                f"{100 * recall:.1f}",
                f"{100 * fa:.2f}",
                f"{100 * worst_recall:.0f}",
                f"{100 * worst_fa:.2f}",
                *cells,
            ]
        )
    # The best any threshold can do: set with the labels, per base signal, to
    # flag 1 % of its normal steps; separates a rule's misses from the scores'.
    cells = []
    totals = np.zeros(4, dtype=np.int64)
    worst_recall = 1.0
    for name in bases:
        result = results[name]
        tau = oracle_threshold(result["records"], result["window_size"], 0.01)
        counts = np.array(evaluate(result["records"], tau, result["window_size"]))
        totals += counts
        worst_recall = min(worst_recall, counts[0] / counts[1])
        cells.append(
            f"{100 * counts[0] / counts[1]:.0f} / {100 * counts[2] / counts[3]:.2f}"
        )
    rows.append(
        [
            "(labels: the threshold flagging 1 % of normal steps)",
            f"{100 * totals[0] / totals[1]:.1f}",
            f"{100 * totals[2] / totals[3]:.2f}",
            f"{100 * worst_recall:.0f}",
            "1.00",
            *cells,
        ]
    )
    header = [
        "rule",
        "events flagged %",
        "normal flagged %",
        "worst base: events %",
        "worst base: normal %",
        *[f"{name} (events % / normal %)" for name in bases],
    ]
    print(markdown_table(header, rows))


def report_kinds(results, rule_label, rule):
    """Print the share of events flagged per anomaly kind and length."""
    from benchmarks._harness import markdown_table

    rows = []
    for kind in ANOMALY_KINDS:
        for length in ANOMALY_LENGTHS[kind]:
            hits = events = 0
            for result in results.values():
                tau = rule(result["heldout"])
                chosen = [
                    r
                    for r in result["records"]
                    if r["kind"] == kind and r["length"] == length
                ]
                h, e, _, _ = evaluate(chosen, tau, result["window_size"])
                hits, events = hits + h, events + e
            if events:
                rows.append([kind, length, f"{100 * hits / events:.0f}", events])
    print(f"\nEvents flagged by kind and length, rule {rule_label}:\n")
    print(markdown_table(["kind", "length", "events flagged %", "events"], rows))


def report_misses(results, rule_label, rule):
    """Print, per base signal, the events the rule misses by kind and length,
    and what the label-chosen threshold flagging 1 % of normal steps catches."""
    from benchmarks._harness import markdown_table

    rows = []
    for name, result in results.items():
        tau, size = rule(result["heldout"]), result["window_size"]
        records = result["records"]
        missed = {}
        for record in records:
            if not evaluate([record], tau, size)[0]:
                key = f"{record['kind']} {record['length']}"
                missed[key] = missed.get(key, 0) + 1
        oracle = oracle_threshold(records, size, 0.01)
        hits, events, _, _ = evaluate(records, oracle, size)
        text = ", ".join(f"{k} ({n})" for k, n in missed.items()) or "none"
        rows.append([name, f"{hits}/{events}", text])
    print(f"\nEvents missed by rule {rule_label}, per base signal:\n")
    header = ["base", "caught by labels at 1 % normal", "missed: kind length (count)"]
    print(markdown_table(header, rows))


def main(argv=None):
    from benchmarks._harness import add_data_home, setup_torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small subset")
    add_data_home(parser)
    parser.add_argument(
        "--params",
        default="{}",
        metavar="JSON",
        help="LSTMAutoencoderDetector arguments, e.g. '{\"max_epochs\": 100}'",
    )
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument(
        "--cache", default=None, help="pickle of the scores: read if it exists"
    )
    args = parser.parse_args(argv)

    setup_torch(1)
    params = json.loads(args.params)
    n_train = args.n_train or (1000 if args.quick else 2000)
    n_repeats = 1 if args.quick else 3
    bases = [BaseSignal(name) for name in SYNTHETIC_BASES]
    for label, series in NAB_BASES.items():
        bases.append(BaseSignal(label, nab_normal_part(series, args.data_home)))
    if args.quick:
        bases = bases[:2] + bases[4:5] + bases[-1:]
    print(
        f"{len(bases)} base signals, {n_train} training steps each "
        f"({n_train // 5} held out with the default validation_fraction), "
        f"{n_repeats} test copies per anomaly kind and length; params {params}",
        flush=True,
    )

    cache = Path(args.cache) if args.cache else None
    if cache is not None and cache.exists():
        results = pickle.loads(cache.read_bytes())
    else:
        results = {}
        for base in bases:
            begin = time.perf_counter()
            results[base.name] = run_base(
                base, params, n_train, ANOMALY_KINDS, ANOMALY_LENGTHS, n_repeats
            )
            print(
                f"{base.name}: {len(results[base.name]['records'])} copies, "
                f"{results[base.name]['epochs']} epochs, "
                f"{time.perf_counter() - begin:.0f} s",
                flush=True,
            )
        if cache is not None:
            cache.write_bytes(pickle.dumps(results))
    print()
    rules = candidate_rules()
    report(results, rules)
    label, rule = rules[0]
    report_kinds(results, label, rule)
    report_misses(results, label, rule)
    return results


if __name__ == "__main__":
    sys.exit(main() and None)
