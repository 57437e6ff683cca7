"""Training batches cut in one indexing op, and epochs bounded to a sample."""

import math

import numpy as np
import pytest
import torch
from conftest import tiny_detector, waves

from skae._training import MIN_WINDOWS_PER_EPOCH
from skae._window_batches import WindowBatches, WindowDataset


def _dataset(n=50, window=5, stride=1):
    series = np.arange(2 * n, dtype=np.float64).reshape(n, 2)
    starts = np.arange(0, n - window + 1, stride)
    return WindowDataset(series, window, starts)


def _starts_of(batch):
    # feature 0 of step s holds 2 * s
    return (batch[:, 0, 0] / 2).long().tolist()


def test_an_epoch_yields_every_window_once_as_the_dataset_cuts_it():
    dataset = _dataset(stride=2)
    batches = list(WindowBatches(dataset, batch_size=7, shuffle=True))
    assert len(batches) == len(WindowBatches(dataset, batch_size=7)) == 4
    seen = []
    for windows, y in batches:
        assert windows.shape[1:] == (5, 2) and windows.dtype == torch.float32
        assert len(y) == len(windows)
        for window, start in zip(windows, _starts_of(windows), strict=True):
            torch.testing.assert_close(
                window, dataset[dataset_index(dataset, start)][0]
            )
        seen += _starts_of(windows)
    assert sorted(seen) == dataset.starts.tolist()


def dataset_index(dataset, start):
    return int(np.flatnonzero(dataset.starts == start)[0])


def test_max_windows_samples_afresh_each_epoch_and_fixes_the_held_out_subset():
    dataset = _dataset(n=200)
    train = WindowBatches(dataset, batch_size=16, shuffle=True, max_windows=40)
    assert len(train) == 3
    torch.manual_seed(0)
    epochs = [sum((_starts_of(w) for w, _ in train), []) for _ in range(2)]
    for starts in epochs:
        assert len(starts) == len(set(starts)) == 40
    assert epochs[0] != epochs[1]
    valid = WindowBatches(dataset, batch_size=16, max_windows=40)
    first = sum((_starts_of(w) for w, _ in valid), [])
    again = sum((_starts_of(w) for w, _ in valid), [])
    assert first == again and len(first) == 40
    assert first[0] == 0 and first[-1] == dataset.starts[-1]  # spread over all
    assert np.all(np.diff(first) > 0)
    bigger = WindowBatches(dataset, batch_size=16, shuffle=True, max_windows=10**6)
    assert sum(len(w) for w, _ in bigger) == len(dataset)


def test_detector_bounds_each_epoch_and_stays_reproducible():
    X = waves(400, periods=(30,))
    params = {
        "window_size": 10,
        "max_epochs": 3,
        "batch_size": 16,
        "max_windows_per_epoch": 50,
        "random_state": 0,  # "again" below must be the same fit
    }
    detector = tiny_detector(**params).fit(X)
    assert list(detector.history_[:, "train_batch_count"]) == [math.ceil(50 / 16)] * 3
    assert list(detector.history_[:, "valid_batch_count"]) == [math.ceil(50 / 16)] * 3
    again = tiny_detector(**params).fit(X)
    np.testing.assert_array_equal(detector.score_samples(X), again.score_samples(X))
    full = tiny_detector(params, max_windows_per_epoch=None).fit(X)
    # every window, passed over several times to reach the least epoch size
    n_train_windows = 320 - 10 + 1
    least = max(n_train_windows, MIN_WINDOWS_PER_EPOCH)
    assert full.history_[0, "train_batch_count"] == math.ceil(least / 16)
    with pytest.raises(ValueError, match="max_windows_per_epoch"):
        tiny_detector(params, max_windows_per_epoch=0).fit(X)


def _epoch_of(iterator):
    """The batches of one pass: indices, window starts, or sequence lengths."""
    epoch = []
    for batch in iterator:
        if isinstance(batch, list):  # a sampler's indices
            epoch.append(batch)
        elif isinstance(batch[0], dict):  # sequence i holds the value len(i)
            epoch.append(batch[0]["x"][:, 0, 0].tolist())
        else:
            epoch.append(_starts_of(batch[0]))
    return epoch


def test_batch_order_comes_from_the_fits_generator_only():
    # before: every shuffled epoch drew from torch's global generator, which
    # fits in other threads were seeding at the same time
    from skae._training import (
        LengthBucketSampler,
        SequenceDataset,
        collate_sequences,
        length_bucketed_loader,
    )

    dataset = _dataset(n=200)
    sequences = SequenceDataset([np.full((n, 1), n) for n in range(5, 105)])

    def iterators(seed):
        generator = torch.Generator().manual_seed(seed)
        return [
            WindowBatches(dataset, 16, shuffle=True, generator=generator),
            LengthBucketSampler(range(5, 105), 8, shuffle=True, generator=generator),
            length_bucketed_loader(
                sequences, 8, True, generator, collate_fn=collate_sequences
            ),
        ]

    torch.manual_seed(0)
    state = torch.get_rng_state()
    first = [[_epoch_of(it), _epoch_of(it)] for it in iterators(1)]
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(99)  # the global generator plays no part
    assert [[_epoch_of(it), _epoch_of(it)] for it in iterators(1)] == first
    other = [[_epoch_of(it), _epoch_of(it)] for it in iterators(2)]
    for mine, theirs in zip(first, other, strict=True):
        assert mine[0] != mine[1]  # a new order every epoch
        assert mine != theirs


def test_a_short_series_is_passed_over_several_times_per_epoch():
    X = waves(300, periods=(30,), seed=1)
    detector = tiny_detector(window_size=10, max_epochs=2, batch_size=64).fit(X)
    # 231 training windows, but every epoch is at least 1,024 windows
    expected = math.ceil(MIN_WINDOWS_PER_EPOCH / 64)
    assert list(detector.history_[:, "train_batch_count"]) == [expected] * 2
    # the held-out loss is still measured on each held-out window once
    assert detector.history_[0, "valid_batch_count"] == math.ceil((60 - 9) / 64)
