"""Torch threads for skae: one, two and ``n_threads="auto"``, idle and under load.

For each size (window 32, batch 64; hidden 16, 64 and 256; 1 and 25 features) it
times a fit of a fixed number of epochs (``patience`` larger than ``max_epochs``,
``random_state=0``) plus the scoring of a long series, with ``n_threads=1``,
``2`` and ``"auto"``:

(a) idle: nothing started by this script runs beside it; the machine may be
    shared, so the script prints the load average and ``procs_running`` before
    the block and waits (up to ``--idle-wait`` seconds) for the other processes
    to leave the cores;
(b) loaded: a second process keeps both cores busy (a torch matrix-multiply loop
    with 2 threads, or ``--load spin``: one pure-Python loop per core).

Settings are interleaved round-robin and each cell is the median of
``--repeats`` runs, so that the machine's drifts hit every setting alike. It
prints, per size and per condition, the seconds of each setting and the ratios
that the default is judged by: auto / best setting idle, and auto / one thread
under load; and what ``"auto"`` chose. Under load, two threads can be tens of
times slower, so they run once per size there and stop after ``--cap`` seconds'
worth of sizes. The last column is the idle time of the count that ``"auto"``
picks when no other process runs (one thread below ``MIN_WORK_PER_THREAD``, else
two) over the best: the rule itself, for a machine that other jobs never leave
idle (``--boost`` then runs the idle block at nice -20, which gives this process
the cores, while ``"auto"`` still sees the other processes' runnable threads).

Usage::

    python -m benchmarks.speed.threads [--quick] [--repeats 3]
        [--load torch|spin] [--boost]
"""

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from skae import LSTMAutoencoderDetector

# private: the rule behind n_threads="auto", which this script measures
from skae._threads import (
    MIN_WORK_PER_THREAD,
    _procs_running,
    auto_threads,
    busy_cores,
)

print = functools.partial(print, flush=True)  # noqa: A001 (progress through a pipe)

SIZES = [(16, 1), (16, 25), (64, 1), (64, 25), (256, 1), (256, 25)]
SETTINGS = [1, 2, "auto"]
WINDOW = 32
BATCH = 64

LOAD_CODE = {
    # one process, two OpenMP threads multiplying matrices: another torch job
    "torch": (
        "import torch\n"
        "torch.set_num_threads(2)\n"
        "a = torch.randn(512, 512)\n"
        "while True:\n"
        "    a = torch.tanh(a @ a)\n"
    ),
    # two single-threaded busy loops
    "spin": (
        "import multiprocessing as mp\n"
        "def spin():\n"
        "    while True:\n"
        "        pass\n"
        "if __name__ == '__main__':\n"
        "    other = mp.Process(target=spin, daemon=True)\n"
        "    other.start()\n"
        "    spin()\n"
    ),
}


def make_series(n_timesteps, n_features, seed=0):
    """A noisy multi-periodic series."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_timesteps)[:, None]
    periods = 20 + 7 * np.arange(n_features)
    noise = 0.1 * rng.standard_normal((n_timesteps, n_features))
    return (np.sin(2 * np.pi * t / periods) + noise).astype(np.float32)


def machine_state():
    """Return a one-line description of the load now."""
    load = os.getloadavg()
    return (
        f"loadavg {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"procs_running {_procs_running()}, other processes' running threads "
        f"{busy_cores(samples=9, interval=0.002)}"
    )


def run_once(hidden, features, n_threads, data, epochs):
    """Fit ``epochs`` epochs and score the long series; return seconds, threads."""
    train, test = data[(hidden, features)]
    detector = LSTMAutoencoderDetector(
        window_size=WINDOW,
        hidden_size=hidden,
        batch_size=BATCH,
        max_epochs=epochs,
        patience=epochs + 1,
        random_state=0,
        device="cpu",
        n_threads=n_threads,
    )
    seen = {}
    forward = torch.nn.LSTM.forward

    def recording_forward(self, *args, **kwargs):
        seen[torch.get_num_threads()] = True
        return forward(self, *args, **kwargs)

    torch.nn.LSTM.forward = recording_forward
    try:
        start = time.perf_counter()
        detector.fit(train)
        fitted = time.perf_counter()
        detector.score_samples(test)
        end = time.perf_counter()
    finally:
        torch.nn.LSTM.forward = forward
    return fitted - start, end - fitted, sorted(seen)


def measure_block(name, data, args, settings_for):
    """Round-robin over sizes and settings; return ``{(size, setting): record}``.

    ``settings_for(repeat, hidden, features, spent)`` names the settings to run,
    ``spent`` being the seconds each setting has taken so far in this block.
    """
    records, spent = {}, {}
    for repeat in range(args.repeats):
        for hidden, features in SIZES:
            for setting in settings_for(repeat, hidden, features, spent):
                fit_s, score_s, threads = run_once(
                    hidden, features, setting, data, args.epochs
                )
                spent[setting] = spent.get(setting, 0.0) + fit_s + score_s
                record = records.setdefault(
                    ((hidden, features), setting),
                    {"fit": [], "score": [], "threads": set()},
                )
                record["fit"].append(fit_s)
                record["score"].append(score_s)
                record["threads"].update(threads)
                print(
                    f"  {name} repeat {repeat + 1} H={hidden:3d} F={features:2d} "
                    f"n_threads={setting!s:4}: fit {fit_s:6.2f} s, score "
                    f"{score_s:6.2f} s, torch threads {threads}"
                )
    return records


def total(record):
    """Median of fit + score over the repeats."""
    pairs = zip(record["fit"], record["score"], strict=True)
    return statistics.median(fit + score for fit, score in pairs)


def set_priority(niceness):
    """Set the scheduling priority of every thread of this process (Linux)."""
    for task in os.listdir("/proc/self/task"):
        os.setpriority(os.PRIO_PROCESS, int(task), niceness)


def wait_until_idle(limit_s):
    """Wait up to ``limit_s`` seconds for other processes to leave the cores."""
    deadline = time.monotonic() + limit_s
    while True:
        busy = busy_cores(samples=25, interval=0.004)
        if busy is None or busy == 0 or time.monotonic() > deadline:
            return busy
        print(f"  waiting for an idle machine: {machine_state()}")
        time.sleep(10)


def start_load(kind):
    """Start the load process and wait until its threads are running."""
    process = subprocess.Popen([sys.executable, "-c", LOAD_CODE[kind]])
    time.sleep(3.0)
    return process


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=3000)
    parser.add_argument("--score-steps", type=int, default=10_000)
    parser.add_argument("--load", choices=sorted(LOAD_CODE), default="torch")
    parser.add_argument("--idle-wait", type=float, default=120.0)
    parser.add_argument("--cap", type=float, default=60.0, help="seconds")
    parser.add_argument("--json", help="write the records here")
    parser.add_argument(
        "--boost",
        action="store_true",
        help="when the machine stays busy, run the idle block at nice -20 (root)",
    )
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.epochs = 1, 1
        args.train_steps, args.score_steps = 1500, 3000
        args.idle_wait, args.cap = 10.0, 30.0

    torch.set_num_threads(min(2, torch.get_num_threads()))
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} in the affinity), "
        f"torch threads {torch.get_num_threads()}, OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS')}, MIN_WORK_PER_THREAD="
        f"{MIN_WORK_PER_THREAD}"
    )
    print(
        f"window {WINDOW}, batch {BATCH}, {args.epochs} epochs on "
        f"{args.train_steps} steps, then scoring {args.score_steps} steps "
        f"(default score_stride); median of {args.repeats}"
    )
    data = {
        (h, f): (make_series(args.train_steps, f), make_series(args.score_steps, f, 1))
        for h, f in SIZES
    }
    run_once(16, 1, 1, data, 1)  # warm-up: imports, allocator, OpenMP pool

    print(f"\n(a) idle. Before: {machine_state()}")
    busy = wait_until_idle(args.idle_wait)
    print(f"  start: other processes' running threads {busy}; {machine_state()}")
    boosted = bool(busy) and args.boost
    if boosted:
        # other processes keep running: take the cores from them instead
        set_priority(-20)
        print("  the machine is not idle: this block runs at nice -20")
    start = time.monotonic()
    try:
        idle = measure_block("idle", data, args, lambda r, h, f, spent: SETTINGS)
    finally:
        if boosted:
            set_priority(0)
    idle_s = time.monotonic() - start
    print(f"  after ({idle_s:.0f} s): {machine_state()}")

    print(f"\n(b) under load ({args.load}). Before: {machine_state()}")
    load = start_load(args.load)

    def loaded_settings(repeat, hidden, features, spent):
        # two threads only once per size, and only while they stay under the cap
        if repeat == 0 and spent.get(2, 0.0) < args.cap:
            return [1, 2, "auto"]
        return [1, "auto"]

    try:
        print(f"  with the load running: {machine_state()}")
        start = time.monotonic()
        loaded = measure_block("loaded", data, args, loaded_settings)
        print(f"  after ({time.monotonic() - start:.0f} s): {machine_state()}")
    finally:
        load.kill()
        load.wait()

    # ------------------------------------------------------------------ report
    print(
        "\n| size (hidden, features) | work per gate product | idle 1 thread | "
        "idle 2 threads | idle auto | auto / best idle | loaded 1 thread | "
        "loaded 2 threads | loaded auto | auto / 1 thread loaded | auto chose "
        "(idle; loaded) | idle rule / best |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    out = []
    for hidden, features in SIZES:
        size = (hidden, features)
        work = BATCH * 4 * hidden * (hidden + features)
        t = {s: total(idle[(size, s)]) for s in SETTINGS}
        best = min(t[1], t[2])
        l1 = total(loaded[(size, 1)])
        l2 = total(loaded[(size, 2)]) if (size, 2) in loaded else None
        la = total(loaded[(size, "auto")])
        chose = (
            sorted(idle[(size, "auto")]["threads"]),
            sorted(loaded[(size, "auto")]["threads"]),
        )
        l2_text = f"{l2:.2f} s" if l2 is not None else "not run"
        # what auto picks when no other process runs: the work rule, else 2
        rule = 1 if work < MIN_WORK_PER_THREAD else 2
        print(
            f"| H={hidden}, F={features} | {work:,} | {t[1]:.2f} s | {t[2]:.2f} s | "
            f"{t['auto']:.2f} s | **{t['auto'] / best:.2f}** | {l1:.2f} s | "
            f"{l2_text} | {la:.2f} s | **{la / l1:.2f}** | {chose[0]}; {chose[1]} | "
            f"{rule}: {t[rule] / best:.2f} |"
        )
        out.append(
            {
                "hidden": hidden,
                "features": features,
                "idle": {str(s): idle[(size, s)]["fit"] for s in SETTINGS},
                "idle_score": {str(s): idle[(size, s)]["score"] for s in SETTINGS},
                "loaded_total": {"1": l1, "2": l2, "auto": la},
                "auto_chose": chose,
                "idle_rule": rule,
            }
        )
    print(f"\nauto_threads() now: {auto_threads()}; {machine_state()}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
