"""skae._events.flag_events: alarms as events, from per-step flags."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skae._events import EVENT_COLUMNS, INDEX_COLUMNS, EventStream, flag_events

FLAGS = np.array([0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1])
SCORES = np.array(
    [0.1, 2.0, 3.0, 0.5, 2.5, 0.2, 0.1, 0.3, 4.0, 4.0, 0.0, 9.0, 0.0, 0.1, 1.5]
)


def _brute_force(flags, scores, merge_gap):
    """Events step by step: (start, end, n_flagged, peak, peak_score, mean)."""
    events, current, gap = [], None, 0
    for step, flagged in enumerate(flags):
        if not flagged:
            gap += 1
            continue
        if current is None or gap > merge_gap:
            current = [step]
            events.append(current)
        else:
            current.append(step)
        gap = 0
    rows = []
    for steps in events:
        peak = max(steps, key=lambda s: (scores[s], -s))
        rows.append(
            (
                steps[0],
                steps[-1],
                len(steps),
                peak,
                scores[peak],
                float(np.mean([scores[s] for s in steps])),
            )
        )
    return rows


def _rows(events):
    columns = ["start", "end", "n_flagged", "peak", "peak_score", "mean_score"]
    return [tuple(row) for row in events[columns].itertuples(index=False)]


def test_runs_become_events_with_peak_and_mean():
    events = flag_events(FLAGS, SCORES)
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert events[["start", "end", "n_flagged", "peak"]].values.tolist() == [
        [1, 2, 2, 2],
        [4, 4, 1, 4],
        [8, 9, 2, 8],  # tied peak: the first step
        [14, 14, 1, 14],
    ]
    np.testing.assert_allclose(events["peak_score"], [3.0, 2.5, 4.0, 1.5])
    np.testing.assert_allclose(events["mean_score"], [2.5, 2.5, 4.0, 1.5])
    # the unflagged step 11 scores 9.0 but belongs to no event
    assert events["features"].tolist() == [(), (), (), ()]
    assert events["start"].dtype == np.int64 and events["peak"].dtype == np.int64


def test_merge_gap_merges_runs_across_short_gaps_only():
    # gaps between the runs: 1 (step 3), 3 (steps 5-7), 4 (steps 10-13)
    spans = {
        gap: flag_events(FLAGS, SCORES, merge_gap=gap)[["start", "end"]].values.tolist()
        for gap in (0, 1, 2, 3, 4)
    }
    assert spans[0] == [[1, 2], [4, 4], [8, 9], [14, 14]]
    assert spans[1] == spans[2] == [[1, 4], [8, 9], [14, 14]]
    assert spans[3] == [[1, 9], [14, 14]]
    assert spans[4] == [[1, 14]]
    merged = flag_events(FLAGS, SCORES, merge_gap=3)
    assert merged["n_flagged"].tolist() == [5, 1]
    # the peak and mean are over flagged steps: step 11 (9.0) is in the span of
    # the merged event at merge_gap=4, but unflagged
    whole = flag_events(FLAGS, SCORES, merge_gap=4)
    assert whole["peak"].tolist() == [8]
    assert whole["mean_score"].tolist() == pytest.approx([17.0 / 6])


def test_features_are_the_largest_summed_contributions():
    contributions = np.zeros((len(FLAGS), 4))
    contributions[1:3] = [[0.1, 0.5, 0.0, 0.2], [0.1, 0.4, 0.0, 0.3]]
    contributions[4] = [0.0, 0.0, 0.0, 1.0]
    contributions[3] = [9.0, 0.0, 0.0, 0.0]  # an unflagged step: ignored
    contributions[8:10] = [[-1.0, 0.0, 2.0, 0.0], [-1.0, 0.0, 1.0, 0.0]]
    names = ["pressure", "flow", "temp", "current"]

    events = flag_events(FLAGS, SCORES, contributions=contributions, merge_gap=1)
    assert events["features"].tolist() == [(3, 1, 0), (2,), ()]
    # by name, and at most n_top_features of them; only positive sums are listed
    events = flag_events(
        FLAGS,
        SCORES,
        contributions=contributions,
        feature_names=names,
        merge_gap=1,
        n_top_features=2,
    )
    # first event: flow 0.9, current 1.5 (0.2 + 0.3 + 1.0), pressure 0.2
    assert events["features"].tolist() == [("current", "flow"), ("temp",), ()]
    assert flag_events(FLAGS, SCORES, contributions=contributions, n_top_features=0)[
        "features"
    ].tolist() == [(), (), (), ()]


def test_index_values_of_start_end_and_peak():
    index = pd.date_range("2024-03-01", periods=len(FLAGS), freq="15min", tz="UTC")
    events = flag_events(FLAGS, SCORES, index=index, merge_gap=1)
    assert list(events.columns) == [*EVENT_COLUMNS, *INDEX_COLUMNS]
    assert events["start_time"].tolist() == list(index[[1, 8, 14]])
    assert events["end_time"].tolist() == list(index[[4, 9, 14]])
    assert events["peak_time"].tolist() == list(index[[2, 8, 14]])
    assert events["start_time"].dtype == index.dtype
    labels = flag_events(FLAGS, SCORES, index=[f"s{i}" for i in range(len(FLAGS))])
    assert labels["end_time"].tolist() == ["s2", "s4", "s9", "s14"]


def test_no_flags_gives_an_empty_table_with_the_same_columns():
    for flags in (np.zeros(6, int), np.zeros(0, bool)):
        n = len(flags)
        events = flag_events(
            flags,
            np.ones(n),
            contributions=np.ones((n, 2)),
            feature_names=["a", "b"],
            index=pd.RangeIndex(n),
        )
        assert events.empty
        assert list(events.columns) == [*EVENT_COLUMNS, *INDEX_COLUMNS]
        assert events["start"].dtype == np.int64
        assert events["peak_score"].dtype == np.float64
    assert list(flag_events([0, 0], [1.0, 2.0]).columns) == list(EVENT_COLUMNS)


def test_flags_throughout_and_infinite_scores():
    events = flag_events(np.ones(5, bool), [1.0, np.inf, 2.0, 3.0, 0.0])
    assert events[["start", "end", "n_flagged", "peak"]].values.tolist() == [
        [0, 4, 5, 1]
    ]
    assert events["peak_score"].tolist() == [np.inf]


def test_inputs_are_not_modified():
    flags, scores = FLAGS.copy(), SCORES.copy()
    contributions = np.arange(len(FLAGS) * 2, dtype=float).reshape(-1, 2)
    kept = contributions.copy()
    flag_events(flags, scores, contributions=contributions, merge_gap=2)
    np.testing.assert_array_equal(flags, FLAGS)
    np.testing.assert_array_equal(scores, SCORES)
    np.testing.assert_array_equal(contributions, kept)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"scores": np.ones(4)}, ValueError, "different lengths"),
        ({"flags": [1, -1, 1, 1]}, ValueError, "predict"),
        ({"flags": [0, 2, 1, 0, 0]}, ValueError, "0 .normal. and 1"),
        ({"scores": [0, 1, np.nan, 0, 0]}, ValueError, "NaN"),
        ({"scores": ["a"] * 5}, ValueError, "numeric"),
        ({"scores": np.ones((5, 2))}, ValueError, "shape"),
        ({"merge_gap": -1}, ValueError, "merge_gap must be an int >= 0"),
        ({"merge_gap": 1.5}, ValueError, "merge_gap"),
        ({"merge_gap": True}, ValueError, "merge_gap"),
        ({"n_top_features": -1}, ValueError, "n_top_features"),
        ({"contributions": np.ones((4, 2))}, ValueError, "contributions must have"),
        ({"contributions": np.ones(5)}, ValueError, "contributions must have"),
        ({"contributions": np.full((5, 1), np.nan)}, ValueError, "NaN"),
        ({"feature_names": ["a"]}, ValueError, "pass both"),
        (
            {"contributions": np.ones((5, 2)), "feature_names": ["a"]},
            ValueError,
            "1 names for the 2 columns",
        ),
        (
            {"contributions": np.ones((5, 2)), "feature_names": "ab"},
            TypeError,
            "not a string",
        ),
        ({"index": np.arange(6)}, ValueError, "index have different lengths"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs, error, match):
    arguments = {"flags": [0, 1, 1, 0, 1], "scores": np.arange(5.0), **kwargs}
    with pytest.raises(error, match=match):
        flag_events(**arguments)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    flags=st.lists(st.booleans(), max_size=60),
    merge_gap=st.integers(0, 6),
    seed=st.integers(0, 2**16),
)
def test_properties_on_random_flags(flags, merge_gap, seed):
    flags = np.array(flags, dtype=bool)
    rng = np.random.default_rng(seed)
    # few distinct values, so that peaks tie
    scores = rng.integers(0, 4, len(flags)).astype(float)
    events = flag_events(flags, scores, merge_gap=merge_gap)

    starts, ends = events["start"].to_numpy(), events["end"].to_numpy()
    # every flagged step in exactly one event, no unflagged step at an edge
    owner = np.zeros(len(flags), dtype=int)
    for start, end in zip(starts, ends, strict=True):
        owner[start : end + 1] += 1
    assert owner.max(initial=0) <= 1
    assert np.all(owner[flags] == 1)
    assert flags[starts].all() and flags[ends].all()
    assert events["n_flagged"].sum() == flags.sum()
    # events are in order and apart by more than merge_gap unflagged steps,
    # and no gap inside an event is longer than merge_gap
    assert np.all(starts[1:] - ends[:-1] - 1 > merge_gap)
    for start, end in zip(starts, ends, strict=True):
        inside = np.flatnonzero(flags[start : end + 1])
        assert np.all(np.diff(inside) - 1 <= merge_gap)
    # and the same table as a step-by-step construction
    expected = _brute_force(flags, scores, merge_gap)
    got = _rows(events)
    assert [row[:4] for row in got] == [row[:4] for row in expected]
    np.testing.assert_allclose(
        [row[4:] for row in got], [row[4:] for row in expected], rtol=1e-12
    )


def _stream_in_chunks(stream, cuts, flags, scores, **per_step):
    """Push the rows in the chunks that ``cuts`` marks, then flush."""
    tables, bounds = [], [0, *cuts, len(flags)]
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        extra = {name: values[a:b] for name, values in per_step.items()}
        tables.append(stream.push(flags[a:b], scores[a:b], **extra))
    tables.append(stream.flush())
    return pd.concat(tables, ignore_index=True)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    flags=st.lists(st.booleans(), max_size=50),
    merge_gap=st.integers(0, 5),
    cuts=st.lists(st.integers(0, 50), max_size=6),
    seed=st.integers(0, 2**16),
)
def test_stream_events_equal_the_whole_series_events(flags, merge_gap, cuts, seed):
    flags = np.array(flags, dtype=bool)
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, len(flags)).astype(float)
    contributions = rng.random((len(flags), 3))
    index = pd.date_range("2024-01-01", periods=len(flags), freq="min")
    names = ["a", "b", "c"]
    cuts = sorted(c for c in cuts if c <= len(flags))

    whole = flag_events(
        flags,
        scores,
        contributions=contributions,
        feature_names=names,
        index=index,
        merge_gap=merge_gap,
    )
    stream = EventStream(merge_gap=merge_gap, feature_names=names)
    streamed = _stream_in_chunks(
        stream, cuts, flags, scores, contributions=contributions, index=index
    )
    if whole.empty:
        assert streamed.empty
    else:
        pd.testing.assert_frame_equal(streamed, whole, check_dtype=False)
    assert stream.n_steps_ == len(flags)


def test_stream_closes_an_event_once_merge_gap_rows_pass():
    stream = EventStream(merge_gap=2)
    assert stream.push([1, 1, 0], [1.0, 2.0, 0.0]).empty
    assert stream.push([0], [0.0]).empty  # two unflagged rows: could still merge
    closed = stream.push([0, 1], [0.0, 5.0])  # three: closed
    assert closed[["start", "end", "n_flagged", "peak"]].values.tolist() == [
        [0, 1, 2, 1]
    ]
    # only the open event's rows are kept
    assert len(stream._flags) == 1 and stream._start == 5
    assert stream.flush()[["start", "end"]].values.tolist() == [[5, 5]]
    assert stream.flush().empty
    assert list(stream.push([], []).columns) == list(EVENT_COLUMNS)


def test_stream_refuses_inconsistent_pushes_and_keeps_its_state():
    stream = EventStream(feature_names=["a", "b"])
    stream.push([0, 1], [0.0, 1.0], contributions=np.ones((2, 2)))
    with pytest.raises(ValueError, match="every push or with none"):
        stream.push([1], [1.0])
    with pytest.raises(ValueError, match="1 names|2 names for the 3 columns"):
        stream.push([1], [1.0], contributions=np.ones((1, 3)))
    with pytest.raises(ValueError, match="every push or with none"):
        stream.push([1], [1.0], contributions=np.ones((1, 2)), index=[7])
    with pytest.raises(ValueError, match="different lengths"):
        stream.push([1, 0], [1.0], contributions=np.ones((2, 2)))
    assert stream.n_steps_ == 2 and len(stream._flags) == 1
    events = stream.flush()
    assert events[["start", "end"]].values.tolist() == [[1, 1]]
    with pytest.raises(ValueError, match="merge_gap"):
        EventStream(merge_gap=-1)
