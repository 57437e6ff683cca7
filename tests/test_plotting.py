"""skae.plotting: what each plot draws, and its input checks."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from conftest import tiny_detector, waves  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from skae._labels import caught_runs, runs  # noqa: E402
from skae.plotting import (  # noqa: E402
    plot_detection,
    plot_feature_scores,
    plot_history,
    plot_scores,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _spans(ax):
    """The shaded spans (axvspan rectangles) of an axes, as (x0, x1) pairs."""
    spans = []
    for patch in ax.patches:
        if isinstance(patch, Rectangle):
            x0 = patch.get_x()
            spans.append((x0, x0 + patch.get_width()))
    return spans


def test_runs_finds_every_run_with_exclusive_ends():
    starts, ends = runs([0, 1, 1, 0, 0, 1, 0, 1])
    assert starts.tolist() == [1, 5, 7]
    assert ends.tolist() == [3, 6, 8]


def test_caught_runs_says_which_runs_hold_a_flag():
    y = [0, 1, 1, 0, 0, 1, 0, 1, 1]
    # flags outside runs, at a run's last step, and none in the second run
    starts, ends, caught = caught_runs(y, [1, 0, 1, 0, 1, 0, 0, 0, 1])
    assert starts.tolist() == [1, 5, 7] and ends.tolist() == [3, 6, 9]
    assert caught.tolist() == [True, False, True]
    assert caught_runs([0, 0], [1, 1])[2].size == 0


def test_plot_scores_draws_threshold_flags_and_label_windows():
    rng = np.random.default_rng(0)
    X = np.sin(np.arange(300) / 7)
    scores = rng.random(300)
    scores[[50, 51, 200]] = 5.0
    y = np.zeros(300, dtype=int)
    y[45:60] = 1
    y[190:210] = 1

    fig = plot_scores(X, scores, threshold=2.0, y=y, train_size=100)

    ax_series, ax_score = fig.axes
    # one shaded span per labelled window, from its first step to the next one's
    assert sorted(_spans(ax_series)) == [(45, 60), (190, 210)]
    assert sorted(_spans(ax_score)) == [(45, 60), (190, 210)]
    # the flagged steps are exactly those above the threshold
    flagged = ax_series.collections[0].get_offsets()
    assert np.asarray(flagged)[:, 0].tolist() == [50, 51, 200]
    # the threshold is a horizontal line at 2.0 on the score axes
    thresholds = [
        line for line in ax_score.get_lines() if line.get_label() == "threshold"
    ]
    assert np.allclose(thresholds[0].get_ydata(), 2.0)
    assert ax_score.get_yscale() == "log"
    labels = [t.get_text() for t in ax_series.get_legend().get_texts()]
    assert "flagged (3 steps)" in labels and "labelled anomaly" in labels


def test_a_one_step_labelled_anomaly_is_drawn_visibly():
    # one step of 20,000 is far narrower than a pixel: it gets a line on both axes
    n = 20_000
    y = np.zeros(n, dtype=int)
    y[[5_000, n - 1]] = 1  # also the last step, whose span has no width at all
    y[10_000:12_000] = 1  # a long window needs no line
    fig = plot_scores(np.sin(np.arange(n) / 50), np.ones(n), y=y)
    for ax in fig.axes:
        lines = ax.get_lines()
        marks = [ln.get_xdata()[0] for ln in lines if ln.get_color() == "tab:orange"]
        assert sorted(marks) == [5_000, n - 1]


def test_plot_scores_standardises_several_features_and_names_them():
    rng = np.random.default_rng(1)
    X = np.c_[rng.normal(100, 10, 80), rng.normal(0, 0.01, 80)]
    scores = rng.random(80)
    scores[[7, 30, 31]] = 2.0
    fig = plot_scores(X, scores, threshold=1.5, feature_names=["big", "small"])
    ax_series = fig.axes[0]
    for line in ax_series.get_lines()[:2]:
        values = line.get_ydata()
        assert abs(values.mean()) < 1e-9 and values.std() == pytest.approx(1.0)
    labels = [t.get_text() for t in ax_series.get_legend().get_texts()]
    assert labels == ["big", "small", "flagged (3 steps)"]
    # with several lines, the flagged steps are a strip of spans
    assert sorted(_spans(ax_series)) == [(7, 8), (30, 32)]


def test_plot_scores_checks_lengths():
    with pytest.raises(ValueError, match="one value per time step"):
        plot_scores(np.zeros(10), np.zeros(9))
    with pytest.raises(ValueError, match="y must have shape"):
        plot_scores(np.zeros(10), np.zeros(10), y=np.zeros(11))
    with pytest.raises(ValueError, match="one timestamp per time step"):
        plot_scores(np.zeros(10), np.zeros(10), timestamps=np.arange(3))


@pytest.fixture(scope="module")
def fitted():
    X = waves(400, periods=(20,), noise=0.0)
    return tiny_detector().fit(X), X


def test_plot_detection_uses_the_detectors_scores_and_threshold(fitted):
    detector, X = fitted
    fig = plot_detection(detector, X)
    ax_score = fig.axes[1]
    score_line = ax_score.get_lines()[0]
    np.testing.assert_allclose(score_line.get_ydata(), -detector.score_samples(X))
    threshold_line = ax_score.get_lines()[1]
    assert np.allclose(threshold_line.get_ydata(), detector.threshold_)
    # a detector fitted on an array has no feature names: generic, or given
    assert fig.axes[0].get_ylabel() == "feature 0"
    named = plot_detection(detector, X, feature_names=["flow"])
    assert named.axes[0].get_ylabel() == "flow"


def test_plot_history_draws_both_losses_and_the_best_epoch(fitted):
    detector, _ = fitted
    ax = plot_history(detector)
    train, valid = ax.get_lines()[:2]
    np.testing.assert_allclose(train.get_ydata(), detector.history_[:, "train_loss"])
    np.testing.assert_allclose(valid.get_ydata(), detector.history_[:, "valid_loss"])
    best = np.asarray(ax.collections[0].get_offsets())[0]
    valid_loss = np.asarray(detector.history_[:, "valid_loss"])
    assert best[1] == pytest.approx(valid_loss.min())
    with pytest.raises(ValueError, match="skorch History"):
        plot_history(object())


def test_plot_feature_scores_draws_one_row_per_feature():
    rng = np.random.default_rng(2)
    scores = rng.random((50, 3))
    y = np.zeros(50, dtype=int)
    y[10:20] = 1
    ax = plot_feature_scores(scores, feature_names=["a", "b", "c"], y=y)
    image = ax.get_images()[0]
    assert image.get_array().shape == (3, 50)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == ["labelled anomaly", "a", "b", "c"]
    # the label row is filled over the labelled steps only
    (strip,) = ax.collections
    xs = strip.get_paths()[0].vertices[:, 0]
    assert xs.min() == 10 and xs.max() == 20
    with pytest.raises(ValueError, match="2 names for 3 features"):
        plot_feature_scores(scores, feature_names=["a", "b"])
    with pytest.raises(ValueError, match="n_timesteps, n_features"):
        plot_feature_scores(scores[:, 0])


def test_plots_put_dates_on_the_time_axis():
    import matplotlib.dates as mdates
    import pandas as pd

    when = pd.date_range("2024-03-01", periods=60, freq="h")
    fig = plot_scores(np.zeros(60), np.ones(60), timestamps=when)
    ax_score = fig.axes[1]
    assert isinstance(ax_score.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    low, high = (mdates.num2date(v).replace(tzinfo=None) for v in ax_score.get_xlim())
    assert low <= when[0] < when[-1] <= high
    assert high - low < pd.Timedelta(days=3)
    ax = plot_feature_scores(np.ones((60, 2)), timestamps=when)
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)


def test_plot_scores_reads_names_and_dates_from_a_dataframe():
    import pandas as pd

    when = pd.date_range("2024-03-01", periods=40, freq="min")
    frame = pd.DataFrame({"pressure": np.arange(40.0)}, index=when)
    fig = plot_scores(frame, np.ones(40))
    ax_series, ax_score = fig.axes
    assert ax_series.get_ylabel() == "pressure"
    assert ax_score.get_xlabel() == "time"
