"""Training batches of windows for skorch, cut from one tensor by one indexing op.

A ``DataLoader`` over a per-window ``Dataset`` calls ``__getitem__`` once per window
and stacks the results; this iterator gathers a whole batch with a single index
tensor instead, and can bound an epoch to a random sample of the windows. skorch
builds it through its ``iterator_train`` / ``iterator_valid`` parameters, so skorch
stays the training loop.
"""

import math

import torch


class WindowBatches:
    """Iterate over ``(windows, zeros)`` batches of a window dataset.

    Parameters
    ----------
    dataset : WindowDataset
        Holds ``series`` (a float32 tensor ``(n_timesteps, n_features)``),
        ``window_size`` and ``starts`` (the start of each window).
    batch_size : int
        Windows per batch.
    shuffle : bool, default=False
        Draw the windows in a new random order every epoch.
    max_windows : int or None, default=None
        Most windows per epoch. With ``shuffle``, each epoch takes a fresh random
        sample of this many windows; without it, a fixed, evenly spaced subset
        (so that a held-out loss compares like with like from epoch to epoch).
    min_windows : int, default=0
        With ``shuffle``, fewest windows per epoch: a dataset with fewer windows
        is passed over several times per epoch (each pass in a new random order),
        so that an epoch is enough optimiser steps for a held-out loss measured
        once per epoch to be worth comparing. Ignored without ``shuffle``;
        ``max_windows`` wins where the two disagree.
    generator : torch.Generator, default=None
        Generator of the random order; ``None`` uses torch's global generator.
        A fit passes its own, so that fits running in parallel threads do not
        draw from each other's stream.
    **kwargs
        Other iterator parameters skorch may pass (ignored).
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
        if self.max_windows is not None:  # the explicit bound wins
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
        series = self.dataset.series
        starts = torch.as_tensor(self.dataset.starts, dtype=torch.long)
        positions = torch.arange(self.dataset.window_size)
        order = self._order()
        for first in range(0, len(order), self.batch_size):
            chosen = starts[order[first : first + self.batch_size]]
            windows = series[chosen[:, None] + positions]
            yield windows, torch.zeros(len(chosen))
