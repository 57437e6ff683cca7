"""Torch's intra-op thread count for the duration of one call.

``n_threads=None`` leaves torch's setting alone, which already follows the two
usual ways of limiting threads from outside: joblib's process workers (the
``loky`` backend that ``GridSearchCV(n_jobs=...)`` uses) start with
``OMP_NUM_THREADS = cpu_count // n_jobs``, which torch reads, and
``threadpoolctl.threadpool_limits`` sets the OpenMP runtime that torch uses. An
integer sets torch's count for the call and restores the previous one afterwards.
"""

import functools
from contextlib import contextmanager
from numbers import Integral

import torch


def auto_threads():
    """Return the intra-op thread count that ``n_threads="auto"`` uses now."""
    return torch.get_num_threads()


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``torch.set_num_threads(n_threads)``, then restore.

    Parameters
    ----------
    n_threads : int or None
        Intra-op threads for the block; ``None`` changes nothing.
    """
    if n_threads is None:
        yield
        return
    if isinstance(n_threads, str) and n_threads == "auto":
        n_threads = auto_threads()
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


def uses_torch_threads(method):
    """Decorate an estimator method to run under ``torch_threads(self.n_threads)``."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with torch_threads(self.n_threads):
            return method(self, *args, **kwargs)

    return wrapper
