"""Memory and padding of ragged training and scoring.

Fits a small detector (one epoch) on a list of variable-length sequences and scores
them, each configuration in a fresh process so that peak resident memory (RSS) is
its own. Reported per configuration: the total length, the padded time steps the
network processed in training and in scoring (their ratio to the total length),
what an epoch of shuffled batches without bucketing would pad (for comparison),
the largest batch, the peak RSS and its rise over the process's RSS just before
``fit`` (data included), and the time.

Configurations: 1,000 sequences of 20 to 500 steps (the acceptance case), 2,000
such sequences (twice the total length), and 1,000 sequences of exactly 500 steps
(the 1,000 x 500 a padded array would hold).

Run from the project root::

    python -m benchmarks.extras.ragged_memory

Each configuration's child process runs this file as a script: it needs skae only.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

CONFIGS = {
    "1000 x U[20, 500]": (1000, 20, 500),
    "2000 x U[20, 500]": (2000, 20, 500),
    "1000 x 500": (1000, 500, 500),
}


def rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(n_sequences, shortest, longest, n_features, hidden_size):
    """Run one configuration in this process; return its figures."""
    import numpy as np
    import torch

    # _inference is private: padding is counted by spying on the function that pads
    from skae import LSTMAutoencoderDetector, _inference

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    lengths = rng.integers(shortest, longest + 1, size=n_sequences)
    sequences = [rng.standard_normal((n, n_features)) for n in lengths]
    shapes = []
    pad_batch = _inference.pad_batch

    def spy(batch):
        padded = pad_batch(batch)
        shapes.append(tuple(padded["x"].shape[:2]))
        return padded

    _inference.pad_batch = spy
    before = rss_mib()
    start = time.perf_counter()
    detector = LSTMAutoencoderDetector(
        hidden_size=hidden_size, max_epochs=1, device="cpu", random_state=0
    ).fit(sequences)
    fit_seconds = time.perf_counter() - start
    fit_padded = sum(n * t for n, t in shapes)
    fit_largest = max(n * t for n, t in shapes)
    shapes.clear()
    start = time.perf_counter()
    detector.score_samples(sequences)
    score_seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n_train = n_sequences - int(np.ceil(0.2 * n_sequences))
    # what one epoch of shuffled, unbucketed batches of 64 would pad to
    shuffled = np.array_split(rng.permutation(lengths[:n_train]), -(-n_train // 64))
    random_padded = sum(len(b) * b.max() for b in shuffled)
    return {
        "random_ratio": random_padded / lengths[:n_train].sum(),
        "total": int(lengths.sum()),
        # fit sees the training and held-out sequences, then scores the held-out
        "fit_ratio": fit_padded / (lengths.sum() + lengths[n_train:].sum()),
        "fit_largest": fit_largest,
        # equal-length sequences are scored as one 3-D array: nothing padded
        "score_ratio": sum(n * t for n, t in shapes) / lengths.sum(),
        "score_largest": max((n * t for n, t in shapes), default=0),
        "peak_mib": peak,
        "rise_mib": peak - before,
        "fit_s": fit_seconds,
        "score_s": score_seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--hidden-size", type=int, default=8)
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = measure(*args.child, args.n_features, args.hidden_size)
        print(json.dumps(result))
        return
    print(
        f"n_features={args.n_features} hidden_size={args.hidden_size} max_epochs=1 "
        "batch_size=64, one process per row, 1 thread"
    )
    print(
        "| sequences | total steps | padded / total, fit | padded / total, score "
        "| unbucketed epoch would pad | largest batch (steps) | peak RSS MiB "
        "| rise MiB | fit s | score s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, config in CONFIGS.items():
        command = [sys.executable, __file__, "--child", *map(str, config)]
        command += ["--n-features", str(args.n_features)]
        command += ["--hidden-size", str(args.hidden_size)]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        largest = max(r["fit_largest"], r["score_largest"])
        print(
            f"| {name} | {r['total']:,} | {r['fit_ratio']:.2f} | "
            f"{r['score_ratio']:.2f} | {r['random_ratio']:.2f} | {largest:,} | "
            f"{r['peak_mib']:.0f} | "
            f"{r['rise_mib']:.0f} | {r['fit_s']:.1f} | {r['score_s']:.1f} |"
        )


if __name__ == "__main__":
    main()
