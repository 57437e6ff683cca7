"""Torch's intra-op thread count for the duration of one call.

``n_threads=None`` leaves torch's setting alone (it follows ``OMP_NUM_THREADS``,
joblib's workers and ``threadpoolctl``); an integer sets it for the call;
``"auto"`` chooses it when the call starts (:func:`auto_threads`). Torch's threads
wait for each other after every operation, so one that waits for a core another
process holds stalls them all: ``"auto"`` uses only the cores left free.
"""

import functools
import os
import statistics
import time
from contextlib import contextmanager
from numbers import Integral

import torch

#: Below this many multiply-adds in one gate product of one LSTM step, ``"auto"``
#: uses one thread: a second would not pay for its synchronisation.
MIN_WORK_PER_THREAD = 500_000


def _procs_running(path="/proc/stat"):
    """Return the kernel's count of runnable threads, all processes, or ``None``."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(b"procs_running "):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _own_running_threads(path="/proc/self/task"):
    """Return how many of this process's threads are runnable (at least 1)."""
    running = 0
    try:
        tasks = os.listdir(path)
    except OSError:
        return 1
    for task in tasks:
        try:
            with open(os.path.join(path, task, "stat"), "rb") as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended meanwhile
        # the state follows the command name, which is in parentheses
        end = stat.rfind(b")")
        running += stat[end + 2 : end + 3] == b"R"
    return max(1, running)


def busy_cores(samples=5, interval=0.0005):
    """Return the number of threads of other processes running now, or ``None``.

    The median of ``samples`` readings of the kernel's runnable threads less this
    process's own (torch's may still spin); None without ``/proc/stat``.
    """
    readings = []
    for i in range(samples):
        if i:
            time.sleep(interval)
        total = _procs_running()
        if total is None:
            return None
        readings.append(max(0, total - _own_running_threads()))
    return int(statistics.median_low(readings))


def _usable_cores():
    """Return the number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def auto_threads(hidden_size=None, n_features=1, batch_size=64):
    """Return the intra-op thread count that ``n_threads="auto"`` uses now.

    At most torch's setting and this process's cores; one thread for a model
    below :data:`MIN_WORK_PER_THREAD` (unless ``hidden_size`` is None); else the
    cores that other processes leave free (all of them without ``/proc/stat``).
    """
    limit = max(1, min(torch.get_num_threads(), _usable_cores()))
    if limit == 1:
        return 1
    if hidden_size is not None:
        work = batch_size * 4 * hidden_size * (hidden_size + n_features)
        if work < MIN_WORK_PER_THREAD:
            return 1
    busy = busy_cores()
    if busy is None:
        return limit
    free = (os.cpu_count() or limit) - busy
    return max(1, min(limit, free))


@contextmanager
def torch_threads(n_threads, **sizes):
    """Run the block with ``n_threads`` intra-op threads (None: torch's setting;
    ``"auto"``: :func:`auto_threads` of ``sizes``), then restore the count."""
    if n_threads is None:
        yield
        return
    if isinstance(n_threads, str) and n_threads == "auto":
        n_threads = auto_threads(**sizes)
    if isinstance(n_threads, bool) or not isinstance(n_threads, Integral):
        raise TypeError(f"n_threads must be an int or None, got {n_threads!r}.")
    if n_threads < 1:
        raise ValueError(f"n_threads must be at least 1 or None, got {n_threads}.")
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _model_sizes(estimator, args):
    """Return the sizes ``auto_threads`` weighs, from the estimator and its input."""
    sizes = {
        name: getattr(estimator, name, None) for name in ("hidden_size", "batch_size")
    }
    sizes["n_features"] = getattr(estimator, "n_features_in_", None)
    shape = getattr(args[0], "shape", None) if args else None
    if shape is not None and len(shape) == 2:
        sizes["n_features"] = shape[1]  # this call's input, which fit has not seen
    return {
        name: int(size)
        for name, size in sizes.items()
        if isinstance(size, Integral) and not isinstance(size, bool)
    }


def estimator_threads(estimator, *args):
    """Return the ``torch_threads`` context of ``estimator.n_threads`` for a call
    on ``args`` (whose shape ``n_threads="auto"`` weighs)."""
    auto = isinstance(estimator.n_threads, str) and estimator.n_threads == "auto"
    return torch_threads(
        estimator.n_threads, **(_model_sizes(estimator, args) if auto else {})
    )


def uses_torch_threads(method):
    """Decorate an estimator method to run under ``torch_threads(self.n_threads)``."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with estimator_threads(self, *args):
            return method(self, *args, **kwargs)

    return wrapper
