"""Batches of windows of a series, for training and for scoring.

Every batch is cut from one float32 tensor of the series by one indexing op
(:func:`cut_windows`), never window by window. Training draws its windows in a
random order (:class:`WindowBatches`, skorch's ``iterator_train``); scoring
takes the grid ``0, stride, ...`` and, when it misses the last steps, the
end-aligned tail window alone in the last batch (:func:`window_batches`).
"""

import math

import numpy as np
import torch

from ._windowing import window_starts


def cut_windows(series, starts, window_size):
    """Return the windows of a series tensor at ``starts``, one contiguous tensor
    ``(len(starts), window_size, n_features)``."""
    windows = series.unfold(0, window_size, 1).transpose(1, 2)  # a view
    index = torch.as_tensor(starts, dtype=torch.long, device=series.device)
    return windows.index_select(0, index)


def window_batches(n_timesteps, window_size, stride, batch_size):
    """Yield ``(starts, tail)``: the window starts of a series, batch by batch.

    The grid windows come first, ``batch_size`` at a time; ``tail`` is True for
    the end-aligned tail window, which comes last, alone.
    """
    grid_starts, tail_start = window_starts(n_timesteps, window_size, stride)
    for first in range(0, len(grid_starts), batch_size):
        yield grid_starts[first : first + batch_size], False
    if tail_start is not None:
        yield np.array([tail_start]), True


def scoring_batches(series, window_size, stride, batch_size):
    """Yield ``(starts, tail, windows)`` of a series tensor, in the batches of
    :func:`window_batches`."""
    for starts, tail in window_batches(len(series), window_size, stride, batch_size):
        yield starts, tail, cut_windows(series, starts, window_size)


class WindowDataset(torch.utils.data.Dataset):
    """Windows of a series, cut on demand from one tensor (no copy per window)."""

    def __init__(self, series, window_size, starts):
        self.series = torch.as_tensor(np.ascontiguousarray(series, dtype=np.float32))
        self.window_size = window_size
        self.starts = np.asarray(starts)

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, i):
        start = int(self.starts[i])
        return self.series[start : start + self.window_size], 0


class WindowBatches:
    """Iterate over ``(windows, zeros)`` batches of a :class:`WindowDataset`; skorch's
    ``iterator_train`` / ``iterator_valid``.

    With ``shuffle``, every epoch draws a new order from ``generator``, of at
    most ``max_windows`` and at least ``min_windows`` windows (passing over a
    small dataset several times); without, ``max_windows`` picks a fixed, evenly
    spaced subset. Other keyword arguments skorch passes are ignored.
    """

    def __init__(
        self,
        dataset,
        batch_size,
        shuffle=False,
        max_windows=None,
        min_windows=0,
        generator=None,
        **kwargs,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.max_windows = max_windows
        self.min_windows = min_windows
        self.generator = generator

    def _n_windows(self):
        n, least = len(self.dataset), self.min_windows if self.shuffle else 0
        if self.max_windows is not None:
            n, least = min(n, self.max_windows), min(least, self.max_windows)
        return max(n, least)

    def __len__(self):
        return math.ceil(self._n_windows() / self.batch_size)

    def _order(self):
        n, k = len(self.dataset), self._n_windows()
        if self.shuffle:
            passes = [torch.randperm(n, generator=self.generator)]
            while len(passes) * n < k:
                passes.append(torch.randperm(n, generator=self.generator))
            return torch.cat(passes)[:k]
        if k == n:
            return torch.arange(n)
        return torch.linspace(0, n - 1, k).round().long()

    def __iter__(self):
        starts = torch.as_tensor(self.dataset.starts, dtype=torch.long)
        order = self._order()
        for first in range(0, len(order), self.batch_size):
            chosen = starts[order[first : first + self.batch_size]]
            windows = cut_windows(self.dataset.series, chosen, self.dataset.window_size)
            yield windows, torch.zeros(len(chosen))
