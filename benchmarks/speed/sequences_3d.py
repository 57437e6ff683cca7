"""Scoring equal-length sequences (3-D input) against a plain PyTorch loop.

Scores ``--n`` sequences of ``--length`` steps (1 feature) with
``LSTMAutoencoderDetector.score_samples`` and with a plain loop that runs the same
trained module over the same standardized tensor in batches of 256 under
``torch.inference_mode()``, interleaved ``--repeat`` times. Prints each time, the
throughput ratio (plain time / skae time: 1.00 means as fast as the plain loop)
and the largest relative difference of the scores.

Run: ``python -m benchmarks.speed.sequences_3d [--n 6000] [--length 100]``
"""

import argparse
import time

import numpy as np
import torch

import skae
from benchmarks._harness import setup_torch


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6000)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    setup_torch(args.threads)

    rng = np.random.default_rng(0)
    wave = np.sin(np.arange(args.length) / 5)[None, :, None]
    X = wave + 0.1 * rng.normal(size=(args.n, args.length, 1))
    detector = skae.LSTMAutoencoderDetector(
        hidden_size=args.hidden, max_epochs=1, n_threads=args.threads, random_state=0
    ).fit(X[:500])
    module = detector.net_.module_
    tensor = torch.as_tensor(
        (X - detector.mean_) / detector.scale_, dtype=torch.float32
    )

    def plain():
        out = []
        with torch.inference_mode():
            for i in range(0, len(tensor), 256):
                x = tensor[i : i + 256]
                out.append((module(x) - x).pow(2).mean(dim=(1, 2)))
        return torch.cat(out).numpy()

    ratios = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = -detector.score_samples(X)
        t_skae = time.perf_counter() - start
        start = time.perf_counter()
        reference = plain()
        t_plain = time.perf_counter() - start
        ratios.append(t_plain / t_skae)
        difference = np.max(np.abs(ours - reference) / reference)
        print(
            f"skae {t_skae:.3f} s, plain loop {t_plain:.3f} s: throughput "
            f"{t_plain / t_skae:.2f}x; largest relative difference {difference:.1e}"
        )
    print(f"median throughput ratio {np.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
