"""A StreamingScorer saved mid-event (issue 23, events phase 3).

``StreamingScorer.save`` writes the rows of the open event and the events not
taken, so a scorer saved anywhere and loaded again gives the events of one that
never stopped; every new field of the file is checked before use.
"""

import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_detector, waves
from hypothesis import given, settings
from hypothesis import strategies as st

from skae import StreamingScorer
from skae._events import EVENT_COLUMNS, EventStream

WINDOW = 12
STREAMING = dict(
    window_size=WINDOW,
    score_smoothing=3,
    max_windows_per_epoch=64,
    batch_size=64,
    causal=True,
)
COLUMNS = ["pump", "valve"]
POSITIONS = ["start", "end", "n_flagged", "peak"]


@pytest.fixture(scope="module")
def causal():
    """Fitted on a DataFrame, so that events name features."""
    return tiny_detector(STREAMING).fit(pd.DataFrame(waves(400), columns=COLUMNS))


def _series():
    """300 steps with +3 in pump at rows 100-107, 200-202 and 210-212."""
    X = waves(300, seed=1)
    X[100:108, 0] += 3.0
    X[200:203, 0] += 3.0
    X[210:213, 0] += 3.0
    return pd.DataFrame(X, columns=COLUMNS)


def _assert_same_events(events, expected):
    events = events.reset_index(drop=True)
    expected = expected.reset_index(drop=True)
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert events[POSITIONS].equals(expected[POSITIONS])
    for column in ("peak_score", "mean_score"):
        np.testing.assert_allclose(events[column], expected[column], rtol=1e-5)
    assert list(events["features"]) == list(expected["features"])


def _reload(scorer, folder):
    path = Path(folder) / "scorer.skae"
    scorer.save(path)
    return StreamingScorer.load(path)


def _whole(causal, Y, **options):
    scorer = StreamingScorer(causal, **options)
    scorer.push(Y)
    return scorer.flush_events()


@settings(max_examples=12, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 299), min_size=1, max_size=3, unique=True),
    take=st.booleans(),
    merge_gap=st.sampled_from([0, 3, None]),
)
def test_a_scorer_saved_anywhere_gives_the_events_of_one_that_never_stopped(
    causal, cuts, take, merge_gap
):
    Y = _series()
    options = dict(merge_gap=merge_gap, n_top_features=2)
    expected = _whole(causal, Y, **options)
    assert len(expected) >= 2
    scorer = StreamingScorer(causal, **options)
    taken, position = [], 0
    with tempfile.TemporaryDirectory() as folder:
        for cut in sorted(cuts):
            scorer.push(Y[position:cut])
            position = cut
            if take:  # else the closed events wait in the file
                taken.append(scorer.take_events())
            scorer = _reload(scorer, folder)
    scorer.push(Y[position:])
    taken.append(scorer.flush_events())
    _assert_same_events(pd.concat(taken), expected)


def test_the_open_event_goes_on_after_a_load(causal, tmp_path):
    Y = _series()
    scorer = StreamingScorer(causal, merge_gap=0, n_top_features=1)
    scorer.push(Y[:104])  # inside the first anomaly: its event is open
    restored = _reload(scorer, tmp_path)
    assert restored.take_events().empty
    restored.push(Y[104:130])
    (event,) = restored.take_events().itertuples()
    # one event from the first flag to the last, not two split at row 104
    assert event.start < 104 < event.end and event.features == ("pump",)
    _assert_same_events(
        pd.DataFrame([event]).drop(columns="Index"),
        _whole(causal, Y[:130], merge_gap=0, n_top_features=1),
    )


def test_events_not_taken_are_saved_and_taken_after_the_load(causal, tmp_path):
    Y = _series()
    scorer = StreamingScorer(causal, n_top_features=2)
    scorer.push(Y[:180])  # the first event closed, not taken
    restored = _reload(scorer, tmp_path)
    events = restored.take_events()
    assert len(events) == 1 and events["start"].iloc[0] >= 100
    _assert_same_events(events, scorer.take_events())
    assert restored.take_events().empty


def test_a_scorer_without_features_saves_its_events_too(causal, tmp_path):
    Y = _series()
    scorer = StreamingScorer(causal)  # n_top_features=0
    scorer.push(Y[:205])  # one event closed, one open
    restored = _reload(scorer, tmp_path)
    restored.push(Y[205:])
    scorer.push(Y[205:])
    _assert_same_events(restored.flush_events(), scorer.flush_events())


# ------------------------------------------------------------ hostile files


def _rewrite(path, out, edit):
    """Write ``out``: ``path`` with its JSON model edited and digests recomputed."""
    from skae import _codec

    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read(_codec.JSON_NAME))
        weights = archive.read(_codec.WEIGHTS_NAME)
    edit(document["model"]["fitted"])
    _codec.write(out, document["model"], weights)


def _array(fitted, name):
    return fitted[name]["__ndarray__"]


def _set_first(name, value):
    def edit(fitted):
        array = _array(fitted, name)
        if isinstance(array[0], list):
            array[0][0] = value
        else:
            array[0] = value

    return edit


def _drop(name):
    return lambda fitted: fitted.pop(name)


def _as_floats(name):
    def edit(fitted):
        fitted[name]["dtype"] = "<f8"

    return edit


def _closed_start_after_end(fitted):
    _array(fitted, "stream_closed_events_")[0][0] = 10**6


def _shorter(name):
    def edit(fitted):
        fitted[name]["__ndarray__"] = _array(fitted, name)[1:]
        fitted[name]["shape"][0] -= 1

    return edit


@pytest.fixture(scope="module")
def saved(causal, tmp_path_factory):
    """A scorer file with one closed event not taken and an open one."""
    scorer = StreamingScorer(causal, merge_gap=0, n_top_features=2)
    scorer.push(_series()[:205])
    assert len(scorer._closed_events) and scorer._last_flag is not None
    path = tmp_path_factory.mktemp("state") / "scorer.skae"
    scorer.save(path)
    return path


@pytest.mark.parametrize(
    "edit, message",
    [
        (_set_first("stream_open_flags_", False), "not one open event"),
        (_set_first("stream_open_scores_", -1.0), "stream_open_scores_"),
        (_shorter("stream_open_scores_"), "stream_open_scores_"),
        (_drop("stream_open_contributions_"), "stream_open_contributions_"),
        (_shorter("stream_open_contributions_"), "stream_open_contributions_"),
        (_as_floats("stream_open_flags_"), "stream_open_flags_ must be a boolean"),
        (_closed_start_after_end, "start <= peak <= end"),
        (_set_first("stream_closed_events_", -1), "stream_closed_events_"),
        (_drop("stream_closed_scores_"), "stream_closed_scores_"),
        (_shorter("stream_closed_scores_"), "stream_closed_scores_"),
        (_set_first("stream_closed_features_", 2), "stream_closed_features_"),
        (_set_first("stream_closed_scores_", -1.0), "stream_closed_scores_ must"),
    ],
)
def test_a_forged_event_state_is_refused(saved, tmp_path, edit, message):
    StreamingScorer.load(saved)  # the file as written loads
    bad = tmp_path / "bad.skae"
    _rewrite(saved, bad, edit)
    with pytest.raises(ValueError, match=message):
        StreamingScorer.load(bad)


def test_events_beyond_the_stream_are_refused(saved, tmp_path):
    def fewer_steps(fitted):
        # the first event ends at 107: more steps than 100 were pushed
        fitted["stream_info_"]["n_steps"] = 100

    bad = tmp_path / "bad.skae"
    _rewrite(saved, bad, fewer_steps)
    with pytest.raises(ValueError, match="before the open event"):
        StreamingScorer.load(bad)


# ------------------------------------------------------------ EventStream


def test_event_stream_state_round_trip_and_refusals():
    flags = np.array([0, 1, 1, 0, 0, 1, 0, 1, 0])
    scores = np.arange(9.0)
    whole = EventStream(merge_gap=1)
    expected = pd.concat([whole.push(flags, scores), whole.flush()])
    half = EventStream(merge_gap=1)
    first = half.push(flags[:7], scores[:7])
    state = half.state()
    assert state["n_steps"] == 7 and state["flags"].tolist() == [True, False]
    resumed = EventStream.from_state(state, merge_gap=1)
    rest = pd.concat([first, resumed.push(flags[7:], scores[7:]), resumed.flush()])
    _assert_same_events(rest, expected)
    state["flags"][:] = [False, True]  # the state is a copy: no change inside
    assert half.state()["flags"].tolist() == [True, False]
    for bad, message in [
        ({**state, "flags": [0, 1]}, "open event"),
        ({**state, "flags": [1, 0], "scores": [1.0]}, "lengths"),
        ({**state, "n_steps": 1}, "n_steps"),
    ]:
        with pytest.raises(ValueError, match=message):
            EventStream.from_state(bad, merge_gap=1)
    with pytest.raises(ValueError, match="open event"):
        EventStream.from_state({**state, "flags": [1, 0]}, merge_gap=0)
