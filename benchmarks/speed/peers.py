"""Speed of skae against a plain PyTorch loop and against peers, in one run.

What it measures, at two sizes (window T, features F, hidden H): T=100 F=1 H=64
and T=64 F=25 H=128, with batches of 64 windows for training and 256 for scoring:

1. training: windows per second of one epoch (train steps plus the held-out loss,
   which is what skae's epoch does) for skae's ``fit`` and for a plain PyTorch
   loop over the same windows, with the same architecture written out here;
2. scoring: time steps per second of a long series for skae's ``score_samples``
   (every window, ``score_stride=1``, and the default stride) and for a plain
   loop that runs every window and averages the errors per step;
3. achieved GFLOP/s of each (LSTM and head arithmetic; a training step is counted
   as three forward passes) against the measured float32 matrix-multiply rate;
4. memory and time of scoring 100,000 and 1,000,000 univariate steps, each in a
   fresh child process (peak resident memory includes importing torch);
5. fit + score of skae (defaults, whose epoch is at most
   ``max_windows_per_epoch=4096`` random windows, and
   ``max_windows_per_epoch=None``, every window in every epoch) against
   PyOD 3's ``LSTMAD`` (and
   Merlion or TSB-AD where importable) at matched window, hidden size, layers,
   batch size and epochs.

Every ratio is measured within this run; the figures of a shared machine move
from run to run, the ratios much less. ``--quick`` is a one-minute smoke run.

Usage::

    python -m benchmarks.speed.peers [--quick] [--threads 2] [--device cpu|cuda]
"""

import argparse
import copy
import functools
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks._harness import REPO_ROOT, machine_note
from skae import LSTMAutoencoderDetector

SIZES = [
    {"name": "T=100 F=1 H=64", "window": 100, "features": 1, "hidden": 64},
    {"name": "T=64 F=25 H=128", "window": 64, "features": 25, "hidden": 128},
]
TRAIN_BATCH = 64
print = functools.partial(print, flush=True)  # noqa: A001 (progress through a pipe)
SCORE_BATCH = 256


# ------------------------------------------------------------------ helpers


def make_series(n_timesteps, n_features, seed=0):
    """A noisy multi-periodic series, the same for every contender."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_timesteps)[:, None]
    periods = 20 + 7 * np.arange(n_features)
    return np.sin(2 * np.pi * t / periods) + 0.1 * rng.standard_normal(
        (n_timesteps, n_features)
    )


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def matmul_gflops(device, n=2048, repeats=10):
    """Best float32 matrix-multiply rate, GFLOP/s."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    sync(device)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def forward_flops(window, features, hidden, decoder_input=None):
    """Multiply-add FLOPs of one window's forward pass (LSTM gates and head)."""
    decoder_input = hidden if decoder_input is None else decoder_input
    encoder = 2 * 4 * hidden * (features + hidden)
    decoder = 2 * 4 * hidden * (decoder_input + hidden)
    head = 2 * hidden * features
    return window * (encoder + decoder + head)


def split(n_timesteps, validation_fraction=0.2):
    return n_timesteps - math.ceil(validation_fraction * n_timesteps)


def standardize(X, n_train):
    mean, std = X[:n_train].mean(0), X[:n_train].std(0)
    return (X - mean) / std


# ------------------------------------------------------- the plain reference


class PlainAutoencoder(nn.Module):
    """Encoder LSTM, code repeated as the decoder's input, decoder LSTM, head."""

    def __init__(self, n_features, hidden_size):
        super().__init__()
        self.encoder = nn.LSTM(n_features, hidden_size, batch_first=True)
        self.decoder = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, n_features)

    def forward(self, x):
        _, (h, _) = self.encoder(x)
        z = h[-1].unsqueeze(1).expand(-1, x.shape[1], -1)
        out, _ = self.decoder(z)
        return self.head(out)


def reference_fit(X, window, hidden, epochs, device, seed=0):
    """Train the plain module as skae does (Adam, shuffled batches, held-out loss
    each epoch); return ``(model, epoch_seconds)``."""
    torch.manual_seed(seed)
    n_train = split(len(X))
    x = torch.as_tensor(standardize(X, n_train), dtype=torch.float32, device=device)
    train = x[:n_train].unfold(0, window, 1).transpose(1, 2)
    valid = x[n_train:].unfold(0, window, 1).transpose(1, 2)
    model = PlainAutoencoder(X.shape[1], hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    durations = []
    for _ in range(epochs):
        sync(device)
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), device=device)
        for first in range(0, len(train), TRAIN_BATCH):
            batch = train[order[first : first + TRAIN_BATCH]].contiguous()
            optimizer.zero_grad()
            loss = loss_fn(model(batch), batch)
            loss.backward()
            optimizer.step()
            loss.item()
        model.eval()
        with torch.no_grad():
            for first in range(0, len(valid), TRAIN_BATCH):
                batch = valid[first : first + TRAIN_BATCH].contiguous()
                loss_fn(model(batch), batch).item()
        sync(device)
        durations.append(time.perf_counter() - start)
    return model, durations


def reference_score(model, X_scaled, window, device):
    """Per-step mean squared error over every covering window (plain loop)."""
    n = len(X_scaled)
    with torch.inference_mode():
        x = torch.as_tensor(X_scaled, dtype=torch.float32, device=device)
        windows = x.unfold(0, window, 1).transpose(1, 2)
        sums = torch.zeros(n, dtype=torch.float64, device=device)
        positions = torch.arange(window, device=device)
        for first in range(0, len(windows), SCORE_BATCH):
            batch = windows[first : first + SCORE_BATCH].contiguous()
            errors = (batch - model(batch)).pow(2).mean(-1)
            index = (first + torch.arange(len(batch), device=device))[:, None]
            sums.index_add_(
                0, (index + positions).reshape(-1), errors.reshape(-1).double()
            )
        starts = torch.arange(len(windows), device=device)
        counts = torch.zeros(n + 1, dtype=torch.float64, device=device)
        counts.index_add_(0, starts, torch.ones_like(starts, dtype=torch.float64))
        counts.index_add_(
            0, starts + window, -torch.ones_like(starts, dtype=torch.float64)
        )
        return (sums / counts.cumsum(0)[:n]).cpu().numpy()


def skae_detector(size, epochs, device, threads, **params):
    return LSTMAutoencoderDetector(
        window_size=size["window"],
        hidden_size=size["hidden"],
        batch_size=TRAIN_BATCH,
        max_epochs=epochs,
        patience=epochs + 1,
        validation_fraction=0.2,
        random_state=0,
        device=device,
        n_threads=threads,
        **params,
    )


def rate_line(label, rate, unit, gflops, peak, ratio=None):
    """Print one contender's rate, its GFLOP/s and its ratio to the reference."""
    line = f"    {label:<30} {rate:10.0f} {unit}"
    if gflops is not None:
        line += f" {gflops:7.1f} GFLOP/s ({gflops / peak:4.0%} of matmul)"
    else:
        line += " " * 32
    if ratio is not None:
        line += f"   ratio to plain {ratio:.2f}x"
    print(line)


def timed(fn, *args, device="cpu"):
    sync(device)
    start = time.perf_counter()
    out = fn(*args)
    sync(device)
    return out, time.perf_counter() - start


# ------------------------------------------------------------- the sections


def bench_size(size, cfg, peak):
    T, F, H = size["window"], size["features"], size["hidden"]
    device, epochs = cfg.device, cfg.epochs
    fwd = forward_flops(T, F, H)
    X = make_series(cfg.fit_steps, F)
    n_train = split(len(X))
    n_train_windows = n_train - T + 1
    n_valid_windows = len(X) - n_train - T + 1
    epoch_flops = fwd * (3 * n_train_windows + n_valid_windows)

    ref_epochs, skae_epochs = [], []
    for _ in range(cfg.repeats):
        ref_model, durations = reference_fit(X, T, H, epochs, device)
        ref_epochs += durations
        # every window in every epoch and every window scored, each error on its
        # own: the work the plain loop does (the defaults are measured below)
        detector = skae_detector(
            size,
            epochs,
            device,
            cfg.threads,
            score_stride=1,
            score_smoothing=0,
            max_windows_per_epoch=None,
        )
        _, fit_s = timed(detector.fit, X, device=device)
        skae_epochs += list(detector.history_[:, "dur"])
    ref_best, skae_best = min(ref_epochs), min(skae_epochs)
    out = {
        "size": size["name"],
        "train_windows_per_epoch": n_train_windows,
        "ref_train_wps": n_train_windows / ref_best,
        "skae_train_wps": n_train_windows / skae_best,
        "train_ratio": ref_best / skae_best,
        "ref_train_gflops": epoch_flops / ref_best / 1e9,
        "skae_train_gflops": epoch_flops / skae_best / 1e9,
        "skae_fit_total_s": fit_s,
        "skae_epochs_total_s": float(np.sum(detector.history_[:, "dur"])),
    }
    print(
        f"  train  ({n_train_windows} windows/epoch + {n_valid_windows} held out, "
        f"best of {len(ref_epochs)} epochs)"
    )
    rate_line(
        "plain PyTorch",
        out["ref_train_wps"],
        "windows/s",
        out["ref_train_gflops"],
        peak,
    )
    rate_line(
        "skae fit",
        out["skae_train_wps"],
        "windows/s",
        out["skae_train_gflops"],
        peak,
        out["train_ratio"],
    )
    print(
        f"    (whole skae fit {fit_s:.2f} s, of which epochs "
        f"{out['skae_epochs_total_s']:.2f} s; the rest is set-up and the threshold)"
    )

    # scoring a long series: the plain loop runs every window
    X_long = make_series(cfg.score_steps, F, seed=1)
    scaled = (X_long - detector.mean_) / detector.scale_
    plain = PlainAutoencoder(F, H).to(device)
    plain.load_state_dict(detector.net_.module_.state_dict())
    plain.eval()
    auto = copy.copy(detector)
    # what fit sets with the default score_stride="auto" (the weights are the same)
    auto.score_stride_ = max(1, T // 4)
    auto.score_smoothing = LSTMAutoencoderDetector().score_smoothing
    ref_s, skae_s, auto_s = [], [], []
    for _ in range(cfg.repeats + 1):
        ref_scores, t = timed(reference_score, plain, scaled, T, device, device=device)
        ref_s.append(t)
        skae_scores, t = timed(detector.score_samples, X_long, device=device)
        skae_s.append(t)
        _, t = timed(auto.score_samples, X_long, device=device)
        auto_s.append(t)
    agree = float(np.max(np.abs(ref_scores + skae_scores) / np.abs(ref_scores).max()))
    n = cfg.score_steps
    n_windows = n - T + 1
    out.update(
        ref_score_sps=n / min(ref_s),
        skae_score_sps=n / min(skae_s),
        skae_auto_score_sps=n / min(auto_s),
        score_ratio=min(ref_s) / min(skae_s),
        auto_score_ratio=min(ref_s) / min(auto_s),
        ref_score_gflops=fwd * n_windows / min(ref_s) / 1e9,
        skae_score_gflops=fwd * n_windows / min(skae_s) / 1e9,
        max_relative_difference=agree,
    )
    print(f"  score  ({n} steps, best of {len(ref_s)})")
    rate_line(
        "plain PyTorch, every window",
        out["ref_score_sps"],
        "steps/s",
        out["ref_score_gflops"],
        peak,
    )
    rate_line(
        "skae score_stride=1",
        out["skae_score_sps"],
        "steps/s",
        out["skae_score_gflops"],
        peak,
        out["score_ratio"],
    )
    rate_line(
        f"skae defaults (score_stride={auto.score_stride_}, score_smoothing="
        f"{auto.score_smoothing})",
        out["skae_auto_score_sps"],
        "steps/s",
        None,
        peak,
        out["auto_score_ratio"],
    )
    print(f"    (skae and the plain loop agree to {agree:.1e} relative, same weights)")
    return out


def _status_kb(field):
    """A ``VmRSS``/``VmHWM`` figure of this process in kB (Linux), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def memory_child(args):
    """Score ``args.n`` steps with a saved detector; print memory and time as JSON.

    ``peak_rss_mb`` is the process's peak resident memory (importing torch
    included); ``scoring_growth_mb`` is how far scoring raised the resident memory
    above what it was just before (the peak is reset through
    ``/proc/self/clear_refs`` where Linux allows it).
    """
    import joblib

    torch.set_num_threads(args.threads)
    detector = joblib.load(args.model)
    if args.stride:
        detector.score_stride_ = args.stride
    X = make_series(args.n, detector.n_features_in_, seed=2)
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    before = _status_kb("VmRSS")
    start = time.perf_counter()
    scores = detector.score_samples(X)
    sync(detector.device_)
    elapsed = time.perf_counter() - start
    peak_after = _status_kb("VmHWM")
    out = {
        "n": args.n,
        "seconds": elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "scoring_growth_mb": (
            (peak_after - before) / 1024 if before and peak_after else float("nan")
        ),
        "finite": bool(np.isfinite(scores).all()),
    }
    if detector.device_.startswith("cuda"):
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out))


def bench_memory(cfg):
    import joblib

    size = SIZES[0]
    detector = skae_detector(size, 1, cfg.device, cfg.threads)
    detector.fit(make_series(2000, 1))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "detector.joblib")
        joblib.dump(detector, path)
        strides = [0] + ([1] if cfg.memory_stride_1 else [])
        for stride in strides:
            for n in cfg.memory_steps * cfg.repeats:
                command = [
                    sys.executable,
                    "-m",
                    __spec__.name,
                    "_memory_child",
                    "--model",
                    path,
                    "--n",
                    str(n),
                    "--threads",
                    str(cfg.threads),
                    "--stride",
                    str(stride),
                ]
                done = subprocess.run(
                    command, capture_output=True, text=True, cwd=REPO_ROOT
                )
                if done.returncode:
                    raise RuntimeError(done.stderr)
                run = json.loads(done.stdout.strip().splitlines()[-1])
                # the fastest run, and the largest peak memory, of the repeats
                seen = results.setdefault((stride, n), run)
                seen["seconds"] = min(seen["seconds"], run["seconds"])
                for key in ("peak_rss_mb", "scoring_growth_mb"):
                    seen[key] = max(seen[key], run[key])
    small, large = cfg.memory_steps
    summary = []
    for stride in strides:
        a, b = results[(stride, small)], results[(stride, large)]
        label = f"score_stride={stride or detector.score_stride_}"
        rss_ratio = b["peak_rss_mb"] / a["peak_rss_mb"]
        time_ratio = b["seconds"] / (a["seconds"] * large / small)
        materialised = large * size["window"] * 4 / 2**20
        print(
            f"  {label}: {small:>9,} steps {a['seconds']:7.2f} s "
            f"{a['peak_rss_mb']:5.0f} MB peak RSS (scoring +"
            f"{a['scoring_growth_mb']:.0f} MB) | {large:>9,} steps "
            f"{b['seconds']:7.2f} s {b['peak_rss_mb']:5.0f} MB (scoring +"
            f"{b['scoring_growth_mb']:.0f} MB; all windows as float32 would take "
            f"{materialised:.0f} MB)\n"
            f"    peak RSS ratio {rss_ratio:.3f} (at most 1.2), time / "
            f"({large // small} x smaller) {time_ratio:.3f} (at most 1.2)"
            + (
                f"; GPU peak {a['cuda_peak_mb']:.0f} / {b['cuda_peak_mb']:.0f} MB"
                if "cuda_peak_mb" in a
                else ""
            )
        )
        summary.append(
            {
                "stride": label,
                "small": a,
                "large": b,
                "rss_ratio": rss_ratio,
                "time_ratio": time_ratio,
            }
        )
    return summary


def peer_pyod(size, X, epochs):
    from pyod.models.ts_lstm import LSTMAD

    model = LSTMAD(
        window_size=size["window"],
        hidden_size=size["hidden"],
        n_layers=1,
        epochs=epochs,
        batch_size=TRAIN_BATCH,
        lr=1e-3,
    )
    _, fit_s = timed(model.fit, X)
    _, score_s = timed(model.decision_function, X)
    return fit_s, score_s


SKAE_SETTINGS = {
    # the default bounds an epoch to 512 random windows (max_windows_per_epoch)
    "skae (defaults)": {},
    # every window in every epoch: what an epoch of the plain loop and of PyOD is
    "skae max_windows_per_epoch=None": {"max_windows_per_epoch": None},
}


def bench_peers(cfg):
    """Fit + score time of skae (two settings) and each peer, same data and epochs;
    each contender runs ``cfg.repeats`` times, interleaved, and keeps its best."""
    rows = []
    peers = {"PyOD LSTMAD (n_layers=1)": peer_pyod}
    for size in SIZES:
        X = make_series(cfg.peer_steps, size["features"], seed=3)
        print(
            f"  {size['name']}, {cfg.peer_steps} steps, {cfg.epochs} epochs, "
            f"best of {cfg.repeats}"
        )
        times = {}
        for _ in range(cfg.repeats):
            for label, params in SKAE_SETTINGS.items():
                detector = skae_detector(
                    size, cfg.epochs, cfg.device, cfg.threads, **params
                )
                _, fit_s = timed(detector.fit, X, device=cfg.device)
                _, score_s = timed(detector.score_samples, X, device=cfg.device)
                times.setdefault(label, []).append((fit_s + score_s, fit_s, score_s))
            for name, run in peers.items():
                try:
                    fit_s, score_s = run(size, X, cfg.epochs)
                except ImportError as error:
                    times[name] = str(error)
                    continue
                times.setdefault(name, []).append((fit_s + score_s, fit_s, score_s))
        best = {}
        for label, runs in times.items():
            if isinstance(runs, str):
                print(f"    {label}: not installed ({runs})")
                continue
            best[label] = min(runs)
            total, fit_s, score_s = best[label]
            print(
                f"    {label:<32} fit {fit_s:7.2f} s  score {score_s:6.2f} s  "
                f"total {total:7.2f} s"
            )
        for name in peers:
            if name not in best:
                continue
            ratios = {label: best[name][0] / best[label][0] for label in SKAE_SETTINGS}
            print(
                f"      {name} time / skae time: "
                + ", ".join(f"{label} {r:.2f}x" for label, r in ratios.items())
            )
            rows.append(
                {"size": size["name"], "peer": name, "best": best, "speedup": ratios}
            )
    for name, module in [("Merlion", "merlion"), ("TSB-AD", "TSB_AD")]:
        try:
            __import__(module)
            print(f"  {name}: importable, but not wired into this benchmark")
        except ImportError:
            print(f"  {name}: not installed (see benchmarks/README.md)")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a one-minute smoke run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--memory-stride-1",
        action="store_true",
        help="also measure the memory of scoring every window (slow)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="best of this many")
    parser.add_argument("--json", default=None, help="also write the figures here")
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["_memory_child"]:
        child = argparse.ArgumentParser()
        child.add_argument("--model")
        child.add_argument("--n", type=int)
        child.add_argument("--threads", type=int)
        child.add_argument("--stride", type=int, default=0)
        return memory_child(child.parse_args(argv[1:]))
    cfg = parser.parse_args(argv)
    cfg.repeats_override = cfg.repeats
    if cfg.quick:
        cfg.fit_steps, cfg.epochs, cfg.repeats = 1500, 2, 1
        cfg.score_steps_by_size = [20_000, 4_000]
        cfg.memory_steps = (10_000, 100_000)
        cfg.peer_steps = 1500
    else:
        cfg.fit_steps, cfg.epochs, cfg.repeats = 6000, 3, 2
        cfg.score_steps_by_size = [50_000, 20_000]
        cfg.memory_steps = (100_000, 1_000_000)
        cfg.peer_steps = 6000
    if cfg.repeats_override is not None:
        cfg.repeats = cfg.repeats_override
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda but CUDA is not available")
    torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    peak = matmul_gflops(cfg.device)
    print(
        f"{machine_note()}\n"
        f"device={cfg.device}, torch threads={torch.get_num_threads()}, "
        f"oneDNN={torch.backends.mkldnn.is_available()}\n"
        f"float32 matmul (2048^2): {peak:.1f} GFLOP/s\n"
        f"started {time.strftime('%Y-%m-%d %H:%M:%S')}, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    report = {
        "matmul_gflops": peak,
        "sizes": [],
        "device": cfg.device,
        "threads": cfg.threads,
        "quick": cfg.quick,
    }
    for size, steps in zip(SIZES, cfg.score_steps_by_size, strict=True):
        print(f"\n[{size['name']}] batch {TRAIN_BATCH} (train), {SCORE_BATCH} (score)")
        cfg.score_steps = steps
        report["sizes"].append(bench_size(size, cfg, peak))
    if not cfg.skip_memory:
        print(
            "\n[memory and time of scoring a long univariate series, T=100 H=64, "
            f"fresh process each, best of {cfg.repeats}]"
        )
        report["memory"] = bench_memory(cfg)
    if not cfg.skip_peers:
        print("\n[fit + score against peers, matched sizes and epochs]")
        report["peers"] = bench_peers(cfg)
    print(f"\nfloat32 matmul again at the end: {matmul_gflops(cfg.device):.1f} GFLOP/s")
    print(
        f"total {time.perf_counter() - started:.0f} s, load average at the end "
        f"{os.getloadavg()[0]:.1f}"
    )
    if cfg.json:
        Path(cfg.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
