"""Windows out of a series, and values back onto its time steps."""

import numpy as np
import pytest

from skae import SlidingWindowTransformer
from skae._window_batches import window_batches
from skae._windowing import StepAccumulator, window_starts


def test_window_starts_with_and_without_tail():
    grid, tail = window_starts(10, 4, 3)
    np.testing.assert_array_equal(grid, [0, 3, 6])
    assert tail is None  # 6 + 4 == 10
    grid, tail = window_starts(11, 4, 3)
    np.testing.assert_array_equal(grid, [0, 3, 6])
    assert tail == 7


def test_transform_covers_every_step_and_inverse_rebuilds_the_series():
    X = np.arange(22.0).reshape(11, 2)
    transformer = SlidingWindowTransformer(window_size=4, stride=3).fit(X)
    windows = transformer.transform(X)
    assert windows.shape == (4, 4, 2)
    np.testing.assert_array_equal(windows[-1], X[7:11])  # the tail window
    np.testing.assert_array_equal(windows[1], X[3:7])
    np.testing.assert_array_equal(transformer.inverse_transform(windows, 11), X)
    windows[0, 0, 0] = 99.0  # a copy, not a view of X
    assert X[0, 0] == 0.0


def test_aggregate_means_over_covering_windows():
    transformer = SlidingWindowTransformer(window_size=3, stride=1).fit(
        np.zeros((5, 1))
    )
    per_window = np.array([3.0, 6.0, 9.0])
    # step 0: window 0; step 1: windows 0,1; step 2: all; step 3: 1,2; step 4: 2
    np.testing.assert_allclose(
        transformer.aggregate(per_window, 5), [3.0, 4.5, 6.0, 7.5, 9.0]
    )
    per_position = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0], [0.0, 0.0, 6.0]])
    np.testing.assert_allclose(
        transformer.aggregate(per_position, 5),
        [1.0, (2 + 10) / 2, (3 + 20 + 0) / 3, (30 + 0) / 2, 6.0],
    )


def test_tail_window_only_fills_uncovered_steps():
    acc = StepAccumulator(7, 3)
    acc.add(np.array([0, 2]), np.array([1.0, 1.0]))
    acc.add(np.array([4]), np.array([5.0]), tail=True)
    np.testing.assert_allclose(acc.result(), [1, 1, 1, 1, 1, 5, 5])


@pytest.mark.parametrize("stride, batch_size", [(1, 4), (2, 3), (5, 100)])
def test_batches_cover_all_windows_once_with_the_tail_last(stride, batch_size):
    seen = []
    for starts, tail in window_batches(20, 6, stride, batch_size):
        assert 0 < len(starts) <= batch_size
        assert not tail or len(starts) == 1
        seen.extend((int(s), tail) for s in starts)
    grid, tail_start = window_starts(20, 6, stride)
    expected = [(int(s), False) for s in grid]
    if tail_start is not None:
        expected.append((tail_start, True))
    assert seen == expected
