"""Compression ratio and its reconstruction cost, and denoising, on NAB's NYC taxi.

NYC taxi passenger counts (NAB ``realKnownCause/nyc_taxi``, 10,320 half-hourly
steps, one feature). The first 5,000 steps train, the rest evaluate.

Compression: a window of ``window_size`` steps becomes one code of ``hidden_size``
numbers (both float32), a ratio of ``window_size * n_features / hidden_size``.
The test part is cut into non-overlapping windows, each encoded and decoded
(``reconstruct`` of a 3-D array is exactly ``decode(encode(X))``); the cost is the
RMSE of the decoded series, as a share of the series' standard deviation
(NRMSE). For reference, piecewise aggregate approximation (PAA: the mean of each of
``hidden_size`` equal segments of a window) keeps as many numbers per window.

Denoising: Gaussian noise of ``level`` times the series' standard deviation is
added; the detector is fitted on the noisy training part and ``reconstruct``
returns a denoised copy of the noisy test part. Reported as signal-to-noise ratio
against the original series, in dB, before and after, for the plain autoencoder
and a denoising one (``noise_std=0.5``), beside a centred moving average.

Run from the project root::

    python -m benchmarks.extras.compression_denoising [--quick]
"""

import argparse
import time

import numpy as np

from benchmarks._harness import add_data_home, fetch_nab, fetch_skab, setup_torch
from skae import LSTMAutoencoderDetector, SlidingWindowTransformer

N_TRAIN = 5000


def fit(X, args, **params):
    settings = {
        "window_size": args.window_size,
        "hidden_size": 16,
        "lr": 1e-2,
        "max_epochs": args.max_epochs,
        "device": "cpu",
        "random_state": 0,
        **params,
    }
    return LSTMAutoencoderDetector(**settings).fit(X)


def paa(windows, n_segments):
    """Mean of each of n_segments equal segments, repeated back over the window."""
    n, length, n_features = windows.shape
    edges = np.linspace(0, length, n_segments + 1).round().astype(int)
    out = np.empty_like(windows)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        out[:, lo:hi] = windows[:, lo:hi].mean(axis=1, keepdims=True)
    return out


def compression(name, series, hidden_sizes, args):
    """Encode and decode non-overlapping test windows; NRMSE per feature, averaged."""
    train, test = series[:N_TRAIN], series[N_TRAIN:]
    w, n_features = args.window_size, series.shape[1]
    windows = SlidingWindowTransformer(window_size=w, stride=w).fit_transform(test)
    windows = windows[: len(test) // w]  # whole windows only, no tail overlap
    scale = test.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)

    def nrmse(estimate):
        return float(np.mean(np.sqrt(np.mean((estimate - windows) ** 2, axis=(0, 1)))))

    print(
        f"\nCompression, {name}: {n_features} feature(s), windows of {w} steps, "
        f"{len(windows)} test windows"
    )
    print("| hidden_size | ratio | NRMSE autoencoder | NRMSE PAA | fit s |")
    print("|---|---|---|---|---|")
    windows = windows / scale
    for hidden in hidden_sizes:
        start = time.perf_counter()
        detector = fit(train, args, hidden_size=hidden)
        seconds = time.perf_counter() - start
        codes = detector.encode(windows * scale)
        assert codes.shape == (len(windows), hidden)
        decoded = detector.reconstruct(windows * scale) / scale
        segments = hidden // n_features
        paa_cell = f"{nrmse(paa(windows, segments)):.3f}" if segments else "-"
        print(
            f"| {hidden} | {w * n_features / hidden:.1f} | {nrmse(decoded):.3f} "
            f"| {paa_cell} | {seconds:.1f} |"
        )


def snr_db(clean, estimate):
    signal = np.mean((clean - clean.mean()) ** 2)
    return 10 * np.log10(signal / np.mean((estimate - clean) ** 2))


def moving_average(X, width):
    kernel = np.ones(width) / width
    padded = np.pad(X[:, 0], width // 2, mode="edge")
    return np.convolve(padded, kernel, mode="valid")[:, None]


def denoising(series, args):
    rng = np.random.default_rng(0)
    clean_test = series[N_TRAIN:]
    print("\nDenoising, SNR in dB against the original test part")
    print(
        "| noise level | noisy input | autoencoder | denoising AE (noise_std=0.5) "
        "| moving average (5) |"
    )
    print("|---|---|---|---|---|")
    for level in args.noise_levels:
        noisy = series + level * series[:N_TRAIN].std() * rng.standard_normal(
            series.shape
        )
        noisy_train, noisy_test = noisy[:N_TRAIN], noisy[N_TRAIN:]
        cells = [snr_db(clean_test, noisy_test)]
        for noise_std in (0.0, 0.5):
            detector = fit(noisy_train, args, noise_std=noise_std)
            cells.append(snr_db(clean_test, detector.reconstruct(noisy_test)))
        cells.append(snr_db(clean_test, moving_average(noisy_test, 5)))
        print(f"| {level} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--window-size", type=int, default=24)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = add_data_home(parser).parse_args(argv)
    # compression ratios 6, 3 and 1.5 on nyc_taxi (1 feature), 24, 12 and 6 on
    # SKAB (8 features)
    args.nab_hidden = [8] if args.quick else [4, 8, 16]
    args.skab_hidden = [16] if args.quick else [8, 16, 32]
    args.noise_levels = [0.5] if args.quick else [0.25, 0.5, 1.0]
    if args.quick:
        args.max_epochs = 5
    setup_torch(args.threads)
    start = time.perf_counter()
    series = fetch_nab("realKnownCause/nyc_taxi", args.data_home).data
    print(
        f"nyc_taxi, {len(series)} steps, train {N_TRAIN}; window_size="
        f"{args.window_size} max_epochs={args.max_epochs} lr=0.01 random_state=0, "
        f"{args.threads} thread(s)"
    )
    compression("NAB nyc_taxi", series, args.nab_hidden, args)
    skab_normal = fetch_skab("anomaly-free/anomaly-free", args.data_home).data
    compression("SKAB anomaly-free", skab_normal, args.skab_hidden, args)
    denoising(series, args)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
