"""Calm features: simulated server metrics, their test part calmer than their fit part.

Issue 23: on a family of servers with 38 metrics each, the flatline check
(``detect_flatlines``) turned calm but normal stretches of a few metrics, calmer
than anything in the fit data, into high scores, and mean AUC-PR fell from 0.624
without the check to 0.463 with it. This benchmark simulates such a family.

Each machine (one seed) has 38 metrics sampled every 5 minutes (288 steps a day),
driven by a shared daily load:

- 12 load gauges (CPU, network, requests): the load times a gain, plus noise;
- 8 bursty counters: a small noisy baseline with bursts that decay;
- 8 near-constant metrics: a level with tiny noise;
- 4 metrics with level shifts at random times (memory in use), plus noise;
- 6 quantized metrics (process counts, queue lengths): integers that often
  repeat, so their fit data hold exact repeats.

The first ``N_FIT`` steps are the fit part, normal only. The test part
(``N_TEST`` steps) holds, as normal behaviour, calm stretches of a few metrics
whose noise drops to 3-20 % of its usual size for 150 to 600 steps (an idle
server), calmer than any stretch of the fit part (a quantized metric then
repeats its value exactly for long runs); and labelled anomalies: spikes
in one to three metrics, level shifts, correlated deviations of several load
gauges at once, noise bursts, and stuck sensors (a metric repeating its last
value exactly for 60 to 200 steps).

The figure is each machine's AUC-PR on its test part (labels: the anomalies'
steps), and their mean over machines. One detector per machine is fitted with
its defaults; the scores without the flatline check come from the same fit with
the check's fitted state removed, so the two columns differ by the check alone.

Run from the repository root (a few minutes on one thread)::

    nice python -m benchmarks.quality.calm_features
    nice python -m benchmarks.quality.calm_features --machines 0 1 --max-epochs 20
"""

import argparse
import copy
import sys
import time

import numpy as np

DAY = 288  # steps of 5 minutes
N_FIT = 2880
N_TEST = 4032
GROUPS = {
    "load": 12,
    "bursty": 8,
    "near-constant": 8,
    "level shifts": 4,
    "quantized": 6,
}
N_FEATURES = sum(GROUPS.values())  # 38, as the servers
MACHINES = tuple(range(8))


def _group_slices():
    slices, start = {}, 0
    for name, size in GROUPS.items():
        slices[name] = slice(start, start + size)
        start += size
    return slices


def _load(n, rng):
    """The shared load: a daily cycle, a slow weekly swing and AR(1) wander."""
    t = np.arange(n)
    phase = rng.uniform(0, 2 * np.pi)
    daily = np.sin(2 * np.pi * t / DAY + phase) + 0.3 * np.sin(4 * np.pi * t / DAY)
    weekly = 0.3 * np.sin(2 * np.pi * t / (7 * DAY) + rng.uniform(0, 2 * np.pi))
    wander = np.zeros(n)
    shocks = rng.normal(0, 0.05, n)
    for i in range(1, n):
        wander[i] = 0.98 * wander[i - 1] + shocks[i]
    return daily + weekly + wander


def _bursts(n, rng, rate, height, decay):
    """A train of bursts: Poisson arrivals, each decaying exponentially."""
    impulses = np.where(rng.random(n) < rate, rng.lognormal(0, 0.5, n) * height, 0.0)
    kernel = np.exp(-np.arange(int(8 * decay)) / decay)
    return np.convolve(impulses, kernel)[:n]


def _levels(n, rng, rate, size):
    """A level that switches at random times between three fixed values."""
    values = rng.normal(0, size, 3)
    regime = np.cumsum(rng.random(n) < rate)  # the number of switches so far
    return values[rng.integers(0, 3, regime[-1] + 1)[regime]]


def machine(seed):
    """Return one simulated machine.

    Parameters
    ----------
    seed : int
        The machine: every random choice follows from it.

    Returns
    -------
    machine : dict
        ``"fit"`` ``(N_FIT, 38)`` normal data; ``"test"`` ``(N_TEST, 38)``;
        ``"y"`` ``(N_TEST,)`` 1 on the anomalies' steps; ``"events"``, one
        ``(kind, start, end, features)`` per anomaly (test-part steps);
        ``"calm"``, one ``(start, end, feature, noise share)`` per calm stretch.
    """
    rng = np.random.default_rng(1000 + seed)
    n = N_FIT + N_TEST
    groups = _group_slices()
    load = _load(n, rng)
    signal = np.zeros((n, N_FEATURES))
    noise_sd = np.zeros(N_FEATURES)

    g = groups["load"]
    size = g.stop - g.start
    gains = rng.uniform(0.5, 3.0, size) * rng.choice([1, 1, 1, -1], size)
    signal[:, g] = rng.uniform(10, 50, size) + load[:, None] * gains
    noise_sd[g] = np.abs(gains) * rng.uniform(0.05, 0.25, size)

    g = groups["bursty"]
    for f in range(g.start, g.stop):
        rate = rng.uniform(1 / 600, 1 / 150)
        signal[:, f] = rng.uniform(1, 5) + _bursts(
            n, rng, rate, rng.uniform(2, 10), rng.uniform(3, 20)
        )
        noise_sd[f] = rng.uniform(0.05, 0.3)

    g = groups["near-constant"]
    signal[:, g] = rng.uniform(50, 100, g.stop - g.start)
    noise_sd[g] = rng.uniform(0.005, 0.05, g.stop - g.start)

    g = groups["level shifts"]
    for f in range(g.start, g.stop):
        signal[:, f] = rng.uniform(20, 60) + _levels(n, rng, 1 / 800, 3.0)
        noise_sd[f] = rng.uniform(0.1, 0.4)

    # noise with a per-step multiplier, lowered over the calm stretches
    multiplier = np.ones((n, N_FEATURES))
    calm = []
    candidates = np.r_[
        np.arange(groups["load"].start, groups["load"].stop),
        np.arange(groups["bursty"].start, groups["bursty"].stop),
        np.arange(groups["near-constant"].start, groups["near-constant"].stop),
        np.arange(groups["quantized"].start, groups["quantized"].stop),
    ]
    for feature in rng.choice(candidates, size=rng.integers(4, 8), replace=False):
        for _ in range(rng.integers(1, 3)):
            length = int(rng.integers(150, 600))
            start = int(rng.integers(0, N_TEST - length))
            share = float(rng.uniform(0.03, 0.2))
            multiplier[N_FIT + start : N_FIT + start + length, feature] = share
            calm.append((start, start + length, int(feature), share))
    X = signal + rng.normal(size=(n, N_FEATURES)) * noise_sd * multiplier

    g = groups["quantized"]
    for f in range(g.start, g.stop):
        mean = rng.uniform(3, 30)
        walk = np.zeros(n)
        for i in range(1, n):
            walk[i] = 0.95 * walk[i - 1] + rng.normal(0, 0.4) * multiplier[i, f]
        busy = 0.3 * mean * (load - load.min()) / np.ptp(load)
        X[:, f] = np.round(mean + busy + walk)

    test = X[N_FIT:].copy()
    y = np.zeros(N_TEST, dtype=np.int64)
    events = _plant(test, y, rng, noise_sd, groups)
    return {
        "fit": X[:N_FIT],
        "test": test,
        "y": y,
        "events": events,
        "calm": calm,
    }


def _free_start(y, length, rng, margin=50):
    """A start whose stretch, with a margin, holds no anomaly yet."""
    for _ in range(1000):
        start = int(rng.integers(margin, len(y) - length - margin))
        if not y[start - margin : start + length + margin].any():
            return start
    raise RuntimeError("no room for another anomaly")


def _plant(test, y, rng, noise_sd, groups):
    """Plant the labelled anomalies in ``test`` (in place); return the events."""
    std = test.std(axis=0)
    continuous = np.r_[
        np.arange(groups["load"].start, groups["load"].stop),
        np.arange(groups["near-constant"].start, groups["level shifts"].stop),
    ]
    load = np.arange(groups["load"].start, groups["load"].stop)
    plan = ["spike"] * 3 + ["level shift"] * 2 + ["correlated"] * 2 + ["noise burst"]
    plan += ["stuck"] * int(rng.integers(1, 3))
    events = []
    for kind in plan:
        if kind == "spike":
            length = int(rng.integers(1, 4))
            features = rng.choice(continuous, rng.integers(2, 6), replace=False)
        elif kind == "level shift":
            length = int(rng.integers(50, 150))
            features = rng.choice(continuous, rng.integers(2, 5), replace=False)
        elif kind == "correlated":
            length = int(rng.integers(60, 150))
            features = rng.choice(load, rng.integers(4, 9), replace=False)
        elif kind == "noise burst":
            length = int(rng.integers(30, 80))
            features = rng.choice(continuous, rng.integers(2, 5), replace=False)
        else:
            length = int(rng.integers(40, 150))
            features = rng.choice(continuous, 1)
        start = _free_start(y, length, rng)
        end = start + length
        span = slice(start, end)
        for f in features:
            sign = rng.choice([-1.0, 1.0])
            if kind == "spike":
                test[span, f] += sign * rng.uniform(6, 10) * std[f]
            elif kind == "level shift":
                test[span, f] += sign * rng.uniform(2, 4) * std[f]
            elif kind == "correlated":
                # the gauges stop following the load: they move against it
                centre = test[span, f].mean()
                test[span, f] = centre - 0.8 * (test[span, f] - centre)
                test[span, f] += sign * 0.5 * std[f]
            elif kind == "noise burst":
                test[span, f] += rng.normal(0, 8 * noise_sd[f], length)
            else:
                test[span, f] = test[start, f]
        y[span] = 1
        events.append((kind, start, end, [int(f) for f in features]))
    return events


def fit_and_score(data, params=None, seed=0):
    """Fit a detector with its defaults on ``data["fit"]``; return the test
    part's scores with the flatline check and without it (the same fit)."""
    from skae import LSTMAutoencoderDetector

    detector = LSTMAutoencoderDetector(random_state=seed, n_threads=1, **(params or {}))
    detector.fit(data["fit"])
    with_check = -detector.score_samples(data["test"])
    plain = copy.copy(detector)
    # the fitted core holds the check too: drop it, and it is rebuilt without
    for name in ("flatline_reference_", "flatline_weight_", "_fitted_core"):
        plain.__dict__.pop(name, None)
    without = -plain.score_samples(data["test"])
    return with_check, without, detector


def main(argv=None):
    from benchmarks._harness import markdown_table, setup_torch
    from skae.metrics import auc_pr

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, nargs="+", default=list(MACHINES))
    parser.add_argument("--max-epochs", type=int, default=None)
    args = parser.parse_args(argv)
    setup_torch(1)
    params = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    rows, on, off = [], [], []
    begin = time.perf_counter()
    for seed in args.machines:
        data = machine(seed)
        with_check, without, detector = fit_and_score(data, params)
        on.append(auc_pr(data["y"], with_check))
        off.append(auc_pr(data["y"], without))
        stuck = [e for e in data["events"] if e[0] == "stuck"]
        caught = sum(
            bool(
                (with_check[s : e + detector.window_size_] > detector.threshold_).any()
            )
            for _, s, e, _ in stuck
        )
        rows.append(
            [
                f"machine {seed}",
                f"{on[-1]:.3f}",
                f"{off[-1]:.3f}",
                f"{100 * data['y'].mean():.1f}",
                len(data["calm"]),
                f"{caught}/{len(stuck)}",
            ]
        )
        print(" | ".join(str(c) for c in rows[-1]), flush=True)
    rows.append(["mean", f"{np.mean(on):.3f}", f"{np.mean(off):.3f}", "", "", ""])
    header = [
        "machine",
        "AUC-PR, check on (default)",
        "AUC-PR, check off",
        "anomalous steps %",
        "calm stretches",
        "stuck sensors flagged",
    ]
    print(markdown_table(header, rows))
    print(f"{time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
