"""LSTMAutoencoderDetector.events and StreamingScorer's events."""

import numpy as np
import pandas as pd
import pytest
from conftest import push_in, tiny_detector, waves
from hypothesis import given, settings
from hypothesis import strategies as st

from skae import StreamingScorer
from skae._events import EVENT_COLUMNS, INDEX_COLUMNS, flag_events

COLUMNS = ["pump", "valve"]
POSITIONS = ["start", "end", "n_flagged", "peak"]


def _planted(n_timesteps=200):
    """The test part of ``waves(600)``, with a DataFrame index of minutes: +3 in
    ``pump`` at rows 20-21 and 44-45 (flagged as two runs a few steps apart), a
    +4 step in ``valve`` at rows 80-89 and a -4 step in ``pump`` at 150-152."""
    X = pd.DataFrame(
        waves(600)[400 : 400 + n_timesteps],
        columns=COLUMNS,
        index=pd.date_range("2024-01-01", periods=n_timesteps, freq="min"),
    )
    X.iloc[[20, 21, 44, 45], 0] += 3.0
    X.iloc[80:90, 1] += 4.0
    X.iloc[150:153, 0] -= 4.0
    return X


@pytest.fixture(scope="module", params=["squared_error", "mahalanobis"])
def detector(request):
    """Fitted on a DataFrame, so that it has feature names."""
    X = pd.DataFrame(waves(600)[:400], columns=COLUMNS)
    return tiny_detector(anomaly_score=request.param).fit(X)


def _check_events_match_flags(events, flags):
    """Every flagged step lies in exactly one event; edges are flagged steps."""
    covering = np.zeros(len(flags), dtype=int)
    for start, end, n_flagged in events[["start", "end", "n_flagged"]].to_numpy():
        assert flags[start] and flags[end]
        assert n_flagged == flags[start : end + 1].sum()
        covering[start : end + 1] += 1
    assert (covering[flags] == 1).all()
    assert (events["start"].to_numpy()[1:] > events["end"].to_numpy()[:-1]).all()


@pytest.mark.parametrize("merge_gap", [None, 0, 3, 100])
@pytest.mark.parametrize("n_top_features", [0, 2])
def test_events_hold_exactly_the_steps_predict_flags(
    detector, merge_gap, n_top_features
):
    X = _planted()
    flags = detector.predict(X) == -1
    assert flags[80:90].all() and flags[150:153].any()  # the test can fail
    events = detector.events(X, merge_gap=merge_gap, n_top_features=n_top_features)
    assert list(events.columns) == [*EVENT_COLUMNS, *INDEX_COLUMNS]
    _check_events_match_flags(events, flags)
    scores = -detector.score_samples(X)
    np.testing.assert_allclose(events["peak_score"], scores[events["peak"]], rtol=1e-6)
    for event in events.itertuples():
        steps = np.flatnonzero(flags[event.start : event.end + 1]) + event.start
        np.testing.assert_allclose(event.mean_score, scores[steps].mean(), rtol=1e-6)
        assert scores[event.peak] == pytest.approx(scores[steps].max(), rel=1e-6)
        if n_top_features:
            assert 1 <= len(event.features) <= n_top_features
        else:
            assert event.features == ()


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_a_dataframe_index_labels_the_events(detector):
    X = _planted()
    events = detector.events(X)
    assert len(events) >= 2
    for column, position in zip(INDEX_COLUMNS, ["start", "end", "peak"], strict=True):
        assert list(events[column]) == list(X.index[events[position]])
    # an array has no index: positions only
    plain = detector.events(X.to_numpy())
    assert list(plain.columns) == list(EVENT_COLUMNS)
    assert plain[POSITIONS].equals(events[POSITIONS])


def test_features_are_named_and_the_planted_one_leads(detector):
    X = _planted()
    events = detector.events(X)
    at_valve = events[(events["start"] <= 85) & (events["end"] >= 85)]
    at_pump = events[(events["start"] <= 151) & (events["end"] >= 151)]
    assert len(at_valve) == 1 and len(at_pump) == 1
    assert at_valve["features"].iloc[0][0] == "valve"
    assert at_pump["features"].iloc[0][0] == "pump"
    assert set(events["features"].iloc[0]) <= set(COLUMNS)
    # one feature asked for, one listed
    assert all(len(f) == 1 for f in detector.events(X, n_top_features=1)["features"])


def test_features_are_column_numbers_without_names():
    detector = tiny_detector().fit(waves(400))
    X = _planted().to_numpy()
    events = detector.events(X)
    at_valve = events[(events["start"] <= 85) & (events["end"] >= 85)]
    assert at_valve["features"].iloc[0][0] == 1


def test_merge_gap_merges_runs_within_reach(detector):
    X = _planted()
    flags = detector.predict(X) == -1
    scores = -detector.score_samples(X)
    default = detector.events(X, n_top_features=0)
    # None is the window size: a step's score reaches a window around it
    window = detector.window_size_
    assert default[POSITIONS].equals(
        detector.events(X, merge_gap=window, n_top_features=0)[POSITIONS]
    )
    for gap in (0, 5, window, 200):
        events = detector.events(X, merge_gap=gap, n_top_features=0)
        expected = flag_events(flags, scores, merge_gap=gap)
        assert events[POSITIONS].equals(expected[POSITIONS])
    # the two spikes in pump, 24 steps apart, flag two runs that one window
    # reaches across: one event by default, two when each run is an event
    assert len(detector.events(X, merge_gap=0)) == len(default) + 1 == 4
    assert len(detector.events(X, merge_gap=200)) == 1


def test_events_refuse_sequences_and_bad_settings(detector):
    X = _planted()
    with pytest.raises(ValueError, match="events need one series"):
        detector.events(np.stack([X.to_numpy()] * 3))
    with pytest.raises(ValueError, match="events need one series"):
        detector.events([X.to_numpy(), X.to_numpy()[:50]])
    for name, value in [
        ("merge_gap", -1),
        ("merge_gap", 1.5),
        ("merge_gap", True),
        ("n_top_features", -2),
    ]:
        with pytest.raises(ValueError, match=name):
            detector.events(X, **{name: value})
    with pytest.raises(ValueError, match="feature"):
        detector.events(X[["valve", "pump"]])


def test_events_leave_the_data_unchanged(detector):
    X = _planted()
    before = X.copy()
    detector.events(X)
    pd.testing.assert_frame_equal(X, before)


def test_an_unfitted_detector_has_no_events():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        tiny_detector().events(waves(100))


# ---------------------------------------------------------------- streaming

WINDOW = 12
STREAMING = dict(
    window_size=WINDOW,
    score_smoothing=3,
    max_windows_per_epoch=64,
    batch_size=64,
    causal=True,
)


@pytest.fixture(scope="module")
def causal():
    return tiny_detector(STREAMING).fit(waves(400))


def _stream_series():
    """300 steps with +3 in feature 0 at rows 100-107, 200-202 and 210-212 (the
    last two flag two runs a few rows apart)."""
    X = waves(300, seed=1)
    X[100:108, 0] += 3.0
    X[200:203, 0] += 3.0
    X[210:213, 0] += 3.0
    return X


def _events_of_stream(scorer, X, sizes):
    """Push ``X`` in chunks of ``sizes`` (then the rest), taking events after
    each push; return the events and the concatenated stream results."""
    taken, results, position = [], [], 0
    for size in [*sizes, len(X)]:
        results.append(scorer.push(X[position : position + size]))
        position = min(len(X), position + size)
        taken.append(scorer.take_events())
    taken.append(scorer.flush_events())
    events = pd.concat(taken, ignore_index=True)
    return events, tuple(np.concatenate(p) for p in zip(*results, strict=True))


def _assert_same_events(events, expected):
    assert events[POSITIONS].equals(expected[POSITIONS].reset_index(drop=True))
    for column in ("peak_score", "mean_score"):
        np.testing.assert_allclose(events[column], expected[column], rtol=1e-5)
    assert list(events["features"]) == list(expected["features"])


@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.integers(0, 60), max_size=8))
def test_stream_events_equal_the_detectors_for_any_chunking(causal, sizes):
    Y = _stream_series()
    flags = causal.predict(Y) == -1
    # the stream judges its first rows by the context: the detector must not
    # flag the rows that serve as context for the comparison to hold
    assert not flags[: WINDOW - 1].any() and flags[100:108].any()
    scorer = StreamingScorer(causal, context=Y[: WINDOW - 1], n_top_features=2)
    events, (scores, stream_flags, _) = _events_of_stream(
        scorer, Y[WINDOW - 1 :], sizes
    )
    np.testing.assert_array_equal(stream_flags, flags[WINDOW - 1 :])
    expected = causal.events(Y, n_top_features=2)
    for column in ("start", "end", "peak"):
        expected[column] -= WINDOW - 1
    assert len(events) >= 2
    _assert_same_events(events, expected[list(EVENT_COLUMNS)])


@pytest.mark.parametrize(
    "merge_gap, sizes",
    [(None, [5, 40, 1, 90]), (0, [5, 40, 1, 90]), (4, [1] * 299), (150, [100])],
)
def test_stream_events_are_those_of_the_stream_flags(causal, merge_gap, sizes):
    """Without context the warm-up rows are never flagged, so the events are
    those of the stream's own flags, as detector.events merges them."""
    Y = _stream_series()
    scorer = StreamingScorer(causal, merge_gap=merge_gap)
    events, (scores, flags, _) = _events_of_stream(scorer, Y, sizes)
    assert not flags[: WINDOW - 1].any()
    gap = WINDOW if merge_gap is None else merge_gap
    assert scorer.merge_gap == gap
    _check_events_match_flags(events, flags)
    expected = flag_events(flags, scores, merge_gap=gap, n_top_features=0)
    _assert_same_events(events, expected)
    if merge_gap is None:  # the window's reach merges runs 5 rows apart
        assert len(events) == len(flag_events(flags, scores)) - 1
    assert all(f == () for f in events["features"])  # off by default


def test_taking_events_empties_them_and_flush_closes_the_open_one(causal):
    Y = _stream_series()
    scorer = StreamingScorer(causal, merge_gap=0)
    scorer.push(Y[:104])  # inside the first anomaly: its event is open
    assert scorer.take_events().empty
    closed = scorer.flush_events()
    assert len(closed) == 1 and closed["end"].iloc[0] == 103
    assert list(closed.columns) == list(EVENT_COLUMNS)
    assert scorer.take_events().empty and scorer.flush_events().empty
    scorer.push(Y[104:])
    later = scorer.flush_events()
    # the flush ended the event: the rest of the anomaly is a new one, with
    # positions still counted from the stream's first row
    assert later["start"].iloc[0] == 104
    whole = StreamingScorer(causal, merge_gap=0)
    whole.push(Y)
    both = pd.concat([closed, later], ignore_index=True)
    assert both["n_flagged"].sum() == whole.flush_events()["n_flagged"].sum()


def test_features_do_not_change_the_stream_scores(causal):
    Y = _stream_series()
    plain = push_in(StreamingScorer(causal), Y, [7, 50])
    named = push_in(StreamingScorer(causal, n_top_features=3), Y, [7, 50])
    for a, b in zip(plain, named, strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_event_settings_are_refused(causal):
    for name, value in [("merge_gap", -1), ("n_top_features", 0.5)]:
        with pytest.raises(ValueError, match=name):
            StreamingScorer(causal, **{name: value})


def test_a_saved_scorer_keeps_its_event_settings_and_positions(causal, tmp_path):
    Y = _stream_series()
    scorer = StreamingScorer(causal, merge_gap=5, n_top_features=1)
    scorer.push(Y[:150])
    first = scorer.flush_events()  # events so far, then positions go on
    scorer.save(tmp_path / "scorer.skae")
    restored = StreamingScorer.load(tmp_path / "scorer.skae")
    assert (restored.merge_gap, restored.n_top_features) == (5, 1)
    restored.push(Y[150:])
    scorer.push(Y[150:])
    after = restored.flush_events()
    assert len(first) and len(after)
    _assert_same_events(after, scorer.flush_events())
    assert after["start"].min() >= 150
