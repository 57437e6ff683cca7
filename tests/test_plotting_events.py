"""skae.plotting draws alarm events: shaded spans with the peak marked."""

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from conftest import tiny_detector, waves  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from skae._events import flag_events  # noqa: E402
from skae.plotting import plot_detection, plot_scores  # noqa: E402

EVENT_RGBA = to_rgba("tab:red", 0.12)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _event_spans(ax):
    """The event spans of an axes (red rectangles at alpha 0.12), as (x0, x1)."""
    return sorted(
        (patch.get_x(), patch.get_x() + patch.get_width())
        for patch in ax.patches
        if isinstance(patch, Rectangle)
        and np.allclose(patch.get_facecolor(), EVENT_RGBA)
    )


def _peak_markers(ax):
    marks = [c for c in ax.collections if c.get_label() == "event peak"]
    return np.asarray(marks[0].get_offsets()) if marks else np.empty((0, 2))


def _series():
    X = np.sin(np.arange(120) / 5)
    scores = np.full(120, 0.5)
    scores[[20, 21, 23]] = [3.0, 5.0, 4.0]
    scores[60:63] = [2.0, 6.0, 2.0]
    scores[119] = 7.0
    return X, scores


def test_events_are_shaded_in_both_panels_with_peaks_marked():
    X, scores = _series()
    events = flag_events(scores > 1.0, scores, merge_gap=1)
    assert events[["start", "end", "peak"]].values.tolist() == [
        [20, 23, 21],
        [60, 62, 61],
        [119, 119, 119],
    ]
    y = np.zeros(120, dtype=int)
    y[55:65] = 1

    fig = plot_scores(X, scores, threshold=1.0, y=y, events=events)

    ax_series, ax_score = fig.axes
    # from the first step to the step after the last; the last step has no next
    expected = [(20, 24), (60, 63), (119, 119)]
    assert _event_spans(ax_series) == expected
    assert _event_spans(ax_score) == expected
    np.testing.assert_allclose(
        _peak_markers(ax_score), [[21, 5.0], [61, 6.0], [119, 7.0]]
    )
    labels = [t.get_text() for t in ax_series.get_legend().get_texts()]
    assert "alarm (3 events)" in labels and "labelled anomaly" in labels
    assert "event peak" in [t.get_text() for t in ax_score.get_legend().get_texts()]


def test_no_events_argument_or_no_event_draws_nothing():
    X, scores = _series()
    plain = plot_scores(X, scores, threshold=1.0)
    empty = plot_scores(
        X, scores, threshold=1.0, events=flag_events(np.zeros(120), scores)
    )
    for fig in (plain, empty):
        for ax in fig.axes:
            assert _event_spans(ax) == []
            assert len(_peak_markers(ax)) == 0


def test_events_on_a_time_axis_and_several_features():
    X, scores = _series()
    X = np.column_stack([X, np.cos(np.arange(120) / 5)])
    timestamps = pd.date_range("2024-01-01", periods=120, freq="h")
    events = flag_events(scores > 1.0, scores, index=timestamps)
    fig = plot_scores(X, scores, threshold=1.0, timestamps=timestamps, events=events)
    ax_series, ax_score = fig.axes
    spans = _event_spans(ax_score)
    assert len(spans) == len(events) == 4
    start = matplotlib.dates.date2num(timestamps[20])
    assert spans[0][0] == pytest.approx(start)
    assert len(_event_spans(ax_series)) == 4


def test_plot_detection_passes_events_through():
    X = waves(300, periods=(20,), noise=0.0)
    X[200:205] += 3.0
    detector = tiny_detector().fit(X[:150])
    scores = -detector.score_samples(X)
    events = flag_events(detector.predict(X) == -1, scores)
    assert len(events) > 0
    fig = plot_detection(detector, X, events=events)
    peaks = _peak_markers(fig.axes[1])
    np.testing.assert_array_equal(peaks[:, 0], events["peak"])
    np.testing.assert_allclose(peaks[:, 1], events["peak_score"], rtol=1e-6)
    assert len(_event_spans(fig.axes[1])) == len(events)


@pytest.mark.parametrize(
    ("events", "error", "match"),
    [
        ([(1, 2)], TypeError, "DataFrame"),
        (pd.DataFrame({"start": [1], "end": [2]}), ValueError, "peak"),
        (pd.DataFrame({"start": [1], "end": [200], "peak": [1]}), ValueError, "0, 120"),
        (pd.DataFrame({"start": [-1], "end": [2], "peak": [1]}), ValueError, "start"),
        (
            pd.DataFrame({"start": [1.0], "end": [2.0], "peak": [1.0]}),
            ValueError,
            "integer",
        ),
        (pd.DataFrame({"start": [5], "end": [2], "peak": [3]}), ValueError, "<="),
        (pd.DataFrame({"start": [1], "end": [4], "peak": [7]}), ValueError, "<="),
    ],
)
def test_bad_events_get_a_clear_error(events, error, match):
    X, scores = _series()
    with pytest.raises(error, match=match):
        plot_scores(X, scores, events=events)
