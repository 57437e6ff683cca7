"""What chunked Dask scoring, the input checks and the safe format cost.

Prints, measured in one run (best of ``--repeat``):

- in-memory ``score_samples`` against ``score_dask`` (threaded and synchronous
  schedulers) on one long series, with the largest difference between them;
- the share of scoring time spent in the overflow check of the scaling;
- ``save_model``/``load_model`` against ``joblib.dump``/``joblib.load``: time and
  file size.

Run: ``python -m benchmarks.robustness.dask_and_files [--steps 50000] [--chunk 10000]``
"""

import argparse
import os
import tempfile
import time

import joblib
import numpy as np

import skae
from benchmarks._harness import setup_torch

# private: the checked scaling has no public function; its cost is measured here
from skae._scaling import apply_scaling


def best_of(repeat, func):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--features", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    setup_torch(args.threads)

    import dask
    import dask.array as da

    rng = np.random.default_rng(0)
    t = np.arange(args.steps + 4000)
    base = np.sin(2 * np.pi * t / 50)[:, None] * np.arange(1, args.features + 1)
    series = base + 0.1 * rng.normal(size=base.shape)
    train, X = series[:4000], series[4000:]
    detector = skae.LSTMAutoencoderDetector(
        window_size=args.window,
        hidden_size=args.hidden,
        max_epochs=2,
        device="cpu",
        random_state=0,
    ).fit(train)
    print(
        f"series {args.steps} x {args.features}, window {args.window}, hidden "
        f"{args.hidden}, chunk {args.chunk}, torch threads {args.threads}"
    )

    t_mem, expected = best_of(args.repeat, lambda: detector.score_samples(X))
    print(f"in-memory score_samples      {t_mem:8.3f} s  (1.00x)")
    lazy = skae.score_dask(detector, da.from_array(X, chunks=(args.chunk, -1)))
    for scheduler in ("synchronous", "threads"):
        with dask.config.set(scheduler=scheduler):
            t_dask, got = best_of(args.repeat, lazy.compute)
        print(
            f"score_dask ({scheduler:11s})    {t_dask:8.3f} s  "
            f"({t_dask / t_mem:.2f}x)  max |difference| "
            f"{np.max(np.abs(got - expected)):.1e}"
        )
    extra = 2 * (args.window - 1) / args.chunk
    print(f"  borrowed context per chunk: {extra:.2%} more windows to score")

    t_scale, _ = best_of(
        args.repeat, lambda: apply_scaling(X, detector.mean_, detector.scale_)
    )
    t_plain, _ = best_of(args.repeat, lambda: (X - detector.mean_) / detector.scale_)
    print(
        f"scaling with overflow check  {t_scale * 1e3:8.2f} ms, plain "
        f"{t_plain * 1e3:.2f} ms: the check costs "
        f"{(t_scale - t_plain) / t_mem:.2%} of scoring"
    )

    with tempfile.TemporaryDirectory() as tmp:
        safe, pickled = os.path.join(tmp, "m.skae"), os.path.join(tmp, "m.joblib")
        t_save, _ = best_of(args.repeat, lambda: skae.save_model(detector, safe))
        t_load, restored = best_of(args.repeat, lambda: skae.load_model(safe))
        t_jdump, _ = best_of(args.repeat, lambda: joblib.dump(detector, pickled))
        t_jload, _ = best_of(args.repeat, lambda: joblib.load(pickled))
        assert np.array_equal(
            restored.score_samples(X[:500]), detector.score_samples(X[:500])
        )
        print(
            f"save_model {t_save * 1e3:7.1f} ms, load_model {t_load * 1e3:7.1f} ms, "
            f"{os.path.getsize(safe) / 1024:.0f} KiB"
        )
        print(
            f"joblib     {t_jdump * 1e3:7.1f} ms, joblib.load {t_jload * 1e3:6.1f} ms, "
            f"{os.path.getsize(pickled) / 1024:.0f} KiB"
        )


if __name__ == "__main__":
    main()
