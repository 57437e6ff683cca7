"""Scoring speed of skae's module under eager PyTorch, TorchScript, torch.compile
and ONNX Runtime, at the two sizes of ``benchmarks.speed.peers`` (batches of 256
windows).

Each backend runs the same trained weights on the same batches; the script prints
windows per second, the ratio to eager PyTorch (which is what skae uses) and the
largest difference from eager's output. A backend that fails to build says why.

Usage::

    python -m benchmarks.speed.inference_backends [--threads 2] [--batches 20]
"""

import argparse
import functools
import io
import time
import warnings

import torch

from benchmarks._harness import setup_torch
from skae import LSTMAutoencoder

print = functools.partial(print, flush=True)  # noqa: A001
SIZES = [(100, 1, 64), (64, 25, 128)]
BATCH = 256


def eager(module, example):
    def run(x):
        with torch.inference_mode():
            return module(x)

    return run


def torchscript(module, example):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, example)
        traced = torch.jit.freeze(traced.eval())
    return eager(traced, example)


def compiled(module, example):
    fn = torch.compile(module)

    def run(x):
        with torch.inference_mode():
            return fn(x)

    return run


def onnx_runtime(module, example, threads):
    import onnxruntime as ort

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            buffer,
            input_names=["x"],
            output_names=["x_hat"],
            dynamic_axes={"x": {0: "batch"}, "x_hat": {0: "batch"}},
            dynamo=False,
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        buffer.getvalue(), options, providers=["CPUExecutionProvider"]
    )

    def run(x):
        return torch.from_numpy(session.run(None, {"x": x.numpy()})[0])

    return run


def once(run, batches):
    start = time.perf_counter()
    for x in batches:
        run(x)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    setup_torch(args.threads)
    torch.manual_seed(0)
    backends = {
        "eager (skae)": eager,
        "TorchScript (trace + freeze)": torchscript,
        "torch.compile (inductor)": compiled,
        "ONNX Runtime (CPU)": functools.partial(onnx_runtime, threads=args.threads),
    }
    print(f"torch {torch.__version__}, {args.threads} threads, batch {BATCH}")
    for window, features, hidden in SIZES:
        module = LSTMAutoencoder(features, hidden).eval()
        batches = [torch.randn(BATCH, window, features) for _ in range(args.batches)]
        reference = eager(module, batches[0])(batches[0])
        print(f"\n[T={window} F={features} H={hidden}]")
        runs, diffs = {}, {}
        for name, make in backends.items():
            try:
                run = make(module, batches[0])
                run(batches[0])  # build and warm up
                diffs[name] = float((run(batches[0]) - reference).abs().max())
                runs[name] = run
            except Exception as error:  # report, do not stop the comparison
                first = str(error).strip().splitlines()[0][:150] if str(error) else ""
                print(f"  {name:<30} failed: {type(error).__name__}: {first}")
        # round-robin repeats, so that a noisy neighbour hits every backend alike
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(args.repeats):
            for name, run in runs.items():
                best[name] = min(best[name], once(run, batches))
        base = best.get("eager (skae)")
        for name, seconds in best.items():
            rate = len(batches) * BATCH / seconds
            print(
                f"  {name:<30} {rate:9.0f} windows/s  {base / seconds:5.2f}x eager  "
                f"max |diff| {diffs[name]:.1e}"
            )


if __name__ == "__main__":
    main()
