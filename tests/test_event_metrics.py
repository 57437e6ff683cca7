"""skae.metrics.event_counts and friends: Orion's overlap-segment rule."""

import numpy as np
import pandas as pd
import pytest

from skae.metrics import (
    event_counts,
    event_f1,
    event_precision_recall_f1,
    event_recall,
)

# A hand-computed example of Orion's rule (contextual_confusion_matrix with
# weighted=False), inclusive (start, end) steps:
#   labelled (2, 5) overlaps detected (4, 8) at steps 4-5      -> TP
#   labelled (10, 12) and (14, 16) both overlap detected (11, 15)
#     (one detected interval, two labelled ones)               -> TP, TP
#   labelled (20, 22) only touches detected (23, 25)           -> FN, and FP
#   labelled (30, 30) only touches detected (29, 29)           -> FN, and FP
#   detected (40, 41) is far from everything                   -> FP
#   labelled (50, 52) shares its last step with detected (52, 55) -> TP
# TP = 4, FP = 3, FN = 2; F1 = 2*4 / (2*4 + 3 + 2) = 8 / 13.
LABELLED = [(2, 5), (10, 12), (14, 16), (20, 22), (30, 30), (50, 52)]
DETECTED = [(4, 8), (11, 15), (23, 25), (29, 29), (40, 41), (52, 55)]
N_STEPS = 60


def _flags(intervals, n=N_STEPS):
    flags = np.zeros(n, dtype=int)
    for start, end in intervals:
        flags[start : end + 1] = 1
    return flags


def _brute_force_counts(labelled, detected):
    """Orion's double loop, with the inclusive overlap written out."""

    def overlap(a, b):
        return bool(set(range(a[0], a[1] + 1)) & set(range(b[0], b[1] + 1)))

    tp = sum(any(overlap(t, p) for p in detected) for t in labelled)
    fp = sum(not any(overlap(p, t) for t in labelled) for p in detected)
    return tp, fp, len(labelled) - tp


def test_orion_rule_by_hand():
    counts = event_counts(LABELLED, DETECTED)
    assert counts == (4, 3, 2)
    assert (counts.tp, counts.fp, counts.fn) == (4, 3, 2)
    precision, recall, f1 = event_precision_recall_f1(LABELLED, DETECTED)
    assert precision == pytest.approx(4 / 7)
    assert recall == pytest.approx(4 / 6)
    assert f1 == pytest.approx(8 / 13)
    assert event_f1(LABELLED, DETECTED) == pytest.approx(8 / 13)


def test_every_form_of_the_intervals_gives_the_same_counts():
    flags_true, flags_pred = _flags(LABELLED), _flags(DETECTED)
    frame = pd.DataFrame(
        {"start": [p[0] for p in DETECTED], "end": [p[1] for p in DETECTED]}
    )
    forms_true = [LABELLED, np.array(LABELLED), flags_true, flags_true.astype(bool)]
    forms_pred = [DETECTED, frame, flags_pred, pd.Series(flags_pred)]
    for y_true in forms_true:
        for y_pred in forms_pred:
            assert event_counts(y_true, y_pred) == (4, 3, 2)
    # order of the pairs does not matter
    assert event_counts(LABELLED[::-1], DETECTED[::-1]) == (4, 3, 2)


def test_sharing_one_step_overlaps_touching_does_not():
    assert event_counts([(0, 4)], [(4, 9)]) == (1, 0, 0)
    assert event_counts([(4, 9)], [(0, 4)]) == (1, 0, 0)
    assert event_counts([(0, 4)], [(5, 9)]) == (0, 1, 1)
    assert event_counts([(5, 9)], [(0, 4)]) == (0, 1, 1)
    assert event_counts([(5, 5)], [(5, 5)]) == (1, 0, 0)
    # a detected interval inside, or around, a labelled one
    assert event_counts([(0, 9)], [(3, 4)]) == (1, 0, 0)
    assert event_counts([(3, 4)], [(0, 9)]) == (1, 0, 0)
    # per-step: adjacent runs in the two arrays touch without overlapping
    assert event_counts([1, 1, 0, 0], [0, 0, 1, 1]) == (0, 1, 1)


def test_empty_sides():
    assert event_counts(LABELLED, []) == (0, 0, 6)
    assert event_counts([], DETECTED) == (0, 6, 0)
    assert event_counts([], []) == (0, 0, 0)
    assert event_counts(np.zeros(N_STEPS), _flags(DETECTED)) == (0, 6, 0)
    assert event_counts(_flags(LABELLED), np.zeros(N_STEPS, bool)) == (0, 0, 6)
    empty_frame = pd.DataFrame({"start": [], "end": []})
    assert event_counts(LABELLED, empty_frame) == (0, 0, 6)
    # an empty list stands for "no interval" next to per-step flags of any length
    assert event_counts(_flags(LABELLED), []) == (0, 0, 6)


def test_zero_division():
    # nothing detected: precision undefined; F1 is 0 since something was missed
    assert event_precision_recall_f1(LABELLED, []) == (0.0, 0.0, 0.0)
    p, r, f = event_precision_recall_f1(LABELLED, [], zero_division=np.nan)
    assert np.isnan(p) and r == 0.0 and f == 0.0
    # nothing labelled: recall undefined
    p, r, f = event_precision_recall_f1([], DETECTED, zero_division=np.nan)
    assert p == 0.0 and np.isnan(r) and f == 0.0
    # neither: everything undefined
    assert event_precision_recall_f1([], [], zero_division=1.0) == (1.0, 1.0, 1.0)
    assert np.isnan(event_f1([], [], zero_division=np.nan))
    assert event_f1([], []) == 0.0


def test_timestamps_and_floats():
    t = pd.Timestamp("2024-01-01")
    hour = pd.Timedelta("1h")
    labelled = np.array([(t, t + 2 * hour), (t + 10 * hour, t + 11 * hour)])
    detected = pd.DataFrame({"start": [t + 2 * hour], "end": [t + 3 * hour]})
    assert event_counts(labelled, detected) == (1, 0, 1)
    assert event_counts([(0.5, 1.5)], [(1.5, 2.0), (1.6, 3.0)]) == (1, 1, 0)
    with pytest.raises(TypeError, match="timestamps"):
        event_counts(labelled, [(0, 5)])


def test_matches_brute_force_on_random_intervals():
    rng = np.random.RandomState(0)
    for _ in range(200):
        intervals = []
        for size in rng.randint(0, 6, size=2):
            starts = rng.randint(0, 40, size)
            ends = starts + rng.randint(0, 6, size)
            intervals.append(
                [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]
            )
        labelled, detected = intervals
        assert event_counts(labelled, detected) == _brute_force_counts(
            labelled, detected
        )


def test_recall_agrees_with_event_recall_on_flags():
    rng = np.random.RandomState(1)
    for _ in range(50):
        y_true = (rng.uniform(size=60) < 0.3).astype(int)
        y_pred = (rng.uniform(size=60) < 0.2).astype(int)
        if not y_true.any():
            continue
        recall = event_precision_recall_f1(y_true, y_pred)[1]
        assert recall == pytest.approx(event_recall(y_true, y_pred))


def test_summing_counts_over_signals():
    signals = [(LABELLED, DETECTED), ([(0, 3)], [(1, 2)]), ([(5, 6)], [])]
    tp, fp, fn = np.sum([event_counts(t, p) for t, p in signals], axis=0)
    assert (tp, fp, fn) == (5, 3, 3)
    assert 2 * tp / (2 * tp + fp + fn) == pytest.approx(10 / 16)


def test_inputs_are_not_modified():
    y_true = _flags(LABELLED)
    frame = pd.DataFrame({"start": [11, 4], "end": [15, 8]})
    pairs = np.array(DETECTED)
    before = (y_true.copy(), frame.copy(), pairs.copy())
    event_counts(y_true, frame)
    event_counts(y_true, pairs)
    np.testing.assert_array_equal(y_true, before[0])
    pd.testing.assert_frame_equal(frame, before[1])
    np.testing.assert_array_equal(pairs, before[2])


@pytest.mark.parametrize(
    ("y_true", "y_pred", "error", "match"),
    [
        ([0, 1, 1, 0], [0, 1, 0], ValueError, "different lengths"),
        ([0, 1, 1, 0], [1, -1, -1, 1], ValueError, "predict"),
        ([0, 2, 1, 0], [0, 1, 0, 0], ValueError, "0 .normal. and 1"),
        ([(5, 3)], [(0, 1)], ValueError, "ends before it starts"),
        ([(0, 1)], [(0, 1, 2)], ValueError, "neither per-step flags"),
        ([(0, 1)], np.zeros((2, 2, 2)), ValueError, "neither per-step flags"),
        ([(0, 1)], [(0.0, np.nan)], ValueError, "NaN"),
        ([(0, 1)], [("a", "b")], ValueError, "numbers or timestamps"),
        ([(0, 1)], pd.DataFrame({"begin": [0], "end": [1]}), ValueError, "start"),
        ([(0, 1)], "0110", TypeError, "array-like"),
        (None, [(0, 1)], TypeError, "array-like"),
    ],
)
def test_bad_input_gets_a_clear_error(y_true, y_pred, error, match):
    with pytest.raises(error, match=match):
        event_counts(y_true, y_pred)
