"""Alarm events on the command line.

``skae score --events`` writes the events of ``detector.events`` on the scored
series; ``skae stream --events`` appends each event as it closes, and the file
of a whole stream (or of a stream stopped and resumed with ``--save``) holds the
events of ``detector.events`` on the same rows, the warm-up rows unflagged.
"""

import sys

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_detector, waves

from skae import save_model
from skae._events import EVENT_COLUMNS, INDEX_COLUMNS, flag_events
from skae.cli import main

COLUMNS = ["pump", "valve"]
POSITIONS = ["start", "end", "n_flagged", "peak"]
WINDOW = 8


def _frame(n=260, seed=0):
    """Hourly timestamps and two waves, +3 in pump at rows 100-105, 180-182 and
    188-190 (two runs a few rows apart), +4 in valve at rows 230-233."""
    X = waves(n, periods=(25, 16), seed=seed)
    X[100:106, 0] += 3.0
    X[180:183, 0] += 3.0
    X[188:191, 0] += 3.0
    X[230:234, 1] += 4.0
    frame = pd.DataFrame(X, columns=COLUMNS)
    times = pd.date_range("2024-01-01", periods=n, freq="h")
    frame.insert(0, "timestamp", times.strftime("%Y-%m-%d %H:%M:%S"))
    return frame


def _fit(anomaly_score="squared_error", causal=False):
    train = pd.DataFrame(waves(400, periods=(25, 16), seed=5), columns=COLUMNS)
    detector = tiny_detector(
        window_size=WINDOW,
        hidden_size=4,
        causal=causal,
        anomaly_score=anomaly_score,
    )
    return detector.fit(train)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "series.csv"
    _frame().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module", params=["squared_error", "mahalanobis"])
def model(request, tmp_path_factory):
    detector = _fit(request.param)
    path = tmp_path_factory.mktemp("model") / "model.skae"
    save_model(detector, path)
    return path, detector


@pytest.fixture(scope="module")
def causal(tmp_path_factory):
    detector = _fit(causal=True)
    path = tmp_path_factory.mktemp("causal") / "causal.skae"
    save_model(detector, path)
    return path, detector


def _run(capsys, *args):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _indexed(frame):
    """The features, indexed by their parsed timestamps (as skae score reads them)."""
    return frame[COLUMNS].set_index(pd.to_datetime(frame["timestamp"]))


def _assert_file_holds(path_or_table, expected, rtol=1e-12):
    table = (
        path_or_table
        if isinstance(path_or_table, pd.DataFrame)
        else pd.read_csv(path_or_table, keep_default_na=False)
    )
    assert list(table.columns) == [*EVENT_COLUMNS, *INDEX_COLUMNS]
    expected = expected.reset_index(drop=True)
    assert table[POSITIONS].equals(expected[POSITIONS].astype(table[POSITIONS].dtypes))
    for column in ("peak_score", "mean_score"):
        np.testing.assert_allclose(table[column], expected[column], rtol=rtol)
    assert list(table["features"]) == [";".join(f) for f in expected["features"]]
    return table


# ------------------------------------------------------------------ skae score


def test_score_events_are_the_detectors_events(model, data, tmp_path, capsys):
    path, detector = model
    scores_csv, events_csv = tmp_path / "scores.csv", tmp_path / "events.csv"
    status, out, err = _run(
        capsys, "score", path, data, "--out", scores_csv, "--events", events_csv
    )
    assert status == 0, err
    frame = pd.read_csv(data)
    expected = detector.events(_indexed(frame))
    assert len(expected) >= 3  # runs 5 rows apart merged: fewer than the anomalies
    table = _assert_file_holds(events_csv, expected)
    for name in INDEX_COLUMNS:
        assert list(pd.to_datetime(table[name])) == list(expected[name])
    # every flag of the scores file lies in one event, and events hold no other
    flags = pd.read_csv(scores_csv)["is_anomaly"].to_numpy()
    np.testing.assert_array_equal(flags, detector.predict(frame[COLUMNS]) == -1)
    assert table["n_flagged"].sum() == flags.sum()
    assert flags[table[["start", "end", "peak"]].to_numpy()].all()
    assert f"skae: {len(expected)} alarm events" in err


def test_score_merge_gap(model, data, tmp_path, capsys):
    path, detector = model
    events_csv = tmp_path / "events.csv"
    status, _, err = _run(
        capsys, "score", path, data, "--out", tmp_path / "s.csv",
        "--events", events_csv, "--merge-gap", "80",
    )  # fmt: skip
    assert status == 0, err
    expected = detector.events(_indexed(pd.read_csv(data)), merge_gap=80)
    assert len(expected) < len(detector.events(_indexed(pd.read_csv(data))))
    _assert_file_holds(events_csv, expected)


def test_score_events_to_standard_output(model, data, tmp_path, capsys):
    path, detector = model
    status, out, err = _run(
        capsys, "score", path, data, "--out", tmp_path / "s.csv", "--events", "-"
    )
    assert status == 0, err
    table = pd.read_csv(__import__("io").StringIO(out), keep_default_na=False)
    _assert_file_holds(table, detector.events(_indexed(pd.read_csv(data))))
    assert "alarm events" in err and "wrote" in err  # messages leave stdout


@pytest.mark.parametrize(
    "options, message",
    [
        (["--out", "-", "--events", "-"], "only one of them"),
        (["--out", "{tmp}/s.csv", "--merge-gap", "2"], "which is not given"),
        (["--out", "{tmp}/s.csv", "--events", "{tmp}/e.csv", "--merge-gap", "-1"],
         "integer >= 0"),
        (["--out", "{tmp}/s.csv", "--events", "{tmp}/no/e.csv"], "no folder"),
    ],
)  # fmt: skip
def test_score_refuses_bad_event_options(
    model, data, tmp_path, capsys, options, message
):
    path, _ = model
    options = [o.format(tmp=tmp_path) for o in options]
    status, out, err = _run(capsys, "score", path, data, *options)
    assert status in (1, 2) and message in err, err
    assert len(err.strip().splitlines()) == 1 and out == ""
    assert not (tmp_path / "s.csv").exists()


def test_score_plot_draws_the_events(model, data, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    import skae.plotting

    path, detector = model
    drawn = {}
    plot_scores = skae.plotting.plot_scores

    def spy(*args, **kwargs):
        drawn["events"] = kwargs.get("events")
        return plot_scores(*args, **kwargs)

    monkeypatch.setattr(skae.plotting, "plot_scores", spy)
    status, _, err = _run(
        capsys, "score", path, data, "--out", tmp_path / "s.csv",
        "--events", tmp_path / "e.csv", "--plot", tmp_path / "p.png",
    )  # fmt: skip
    assert status == 0, err
    assert (tmp_path / "p.png").stat().st_size > 0
    expected = detector.events(_indexed(pd.read_csv(data)))
    assert drawn["events"][POSITIONS].equals(expected[POSITIONS])


# ------------------------------------------------------------------ skae stream


def _stream(capsys, monkeypatch, tmp_path, model, text, *options):
    """Run ``skae stream`` in this process with ``text`` as standard input."""
    source = tmp_path / "stdin.csv"
    source.write_text(text)
    with open(source, "rb") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        return _run(capsys, "stream", model, *options)


def _stream_expected(detector, frame):
    """``detector.events`` on the rows, the stream's warm-up rule applied."""
    X = frame[COLUMNS]
    flags = detector.predict(X) == -1
    # a stream without context never flags its first window_size - 1 rows
    assert not flags[: WINDOW - 1].any()
    expected = detector.events(X.set_index(frame["timestamp"]))
    assert expected["n_flagged"].sum() == flags.sum()
    return expected


def test_stream_events_file_holds_the_detectors_events(
    causal, tmp_path, capsys, monkeypatch
):
    path, detector = causal
    frame = _frame()
    events_csv = tmp_path / "events.csv"
    status, out, err = _stream(
        capsys, monkeypatch, tmp_path, path, frame.to_csv(index=False),
        "--events", events_csv,
    )  # fmt: skip
    assert status == 0, err
    # standard output is as without --events
    assert out.splitlines()[0] == "timestamp,score,is_anomaly"
    assert len(out.splitlines()) == len(frame) + 1
    expected = _stream_expected(detector, frame)
    assert len(expected) >= 3
    table = _assert_file_holds(events_csv, expected, rtol=1e-5)
    for name in INDEX_COLUMNS:  # the rows' own timestamp strings
        assert list(table[name]) == list(expected[name])
    assert f"{len(expected)} alarm events written" in err


def test_a_stream_stopped_and_resumed_appends_the_same_events(
    causal, tmp_path, capsys, monkeypatch
):
    path, detector = causal
    frame = _frame()
    events_csv, state = tmp_path / "events.csv", tmp_path / "state.skae"
    for model, rows in ((path, frame.iloc[:103]), (state, frame.iloc[103:])):
        # the first run stops inside the first anomaly: its event stays open
        status, _, err = _stream(
            capsys, monkeypatch, tmp_path, model, rows.to_csv(index=False),
            "--events", events_csv, "--save", state,
        )  # fmt: skip
        assert status == 0, err
    expected = _stream_expected(detector, frame)
    table = _assert_file_holds(events_csv, expected, rtol=1e-5)
    # one header; the event open at the stop has no timestamp from the first run
    first = table.index[(table["start"] < 103) & (table["end"] >= 103)]
    assert len(first) == 1
    known = table["start_time"] != ""
    assert list(table.index[~known]) == list(first)
    assert list(table["start_time"][known]) == list(expected["start_time"][known])
    assert list(table["end_time"]) == list(expected["end_time"])


def test_stream_events_without_timestamps_and_refusals(
    causal, tmp_path, capsys, monkeypatch
):
    path, detector = causal
    frame = _frame()
    events_csv = tmp_path / "events.csv"
    text = frame[COLUMNS].to_csv(index=False)
    status, _, err = _stream(
        capsys, monkeypatch, tmp_path, path, text, "--events", events_csv,
        "--merge-gap", "0",
    )  # fmt: skip
    assert status == 0, err
    table = pd.read_csv(events_csv, keep_default_na=False)
    assert list(table.columns) == list(EVENT_COLUMNS)
    flags = detector.predict(frame[COLUMNS]) == -1
    expected = flag_events(flags, -detector.score_samples(frame[COLUMNS]))
    assert table[POSITIONS].equals(expected[POSITIONS])
    # a file with another header is not appended to
    status, _, err = _stream(
        capsys, monkeypatch, tmp_path, path, frame.to_csv(index=False),
        "--events", events_csv,
    )  # fmt: skip
    assert status == 1 and "other columns" in err, err
    status, _, err = _stream(capsys, monkeypatch, tmp_path, path, text, "--events", "-")
    assert status == 2 and "standard output" in err, err


@pytest.mark.slow
def test_stream_writes_each_event_as_it_closes(causal, tmp_path):
    import subprocess
    import threading

    path, detector = causal
    frame = _frame()
    events_csv = tmp_path / "events.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "skae", "stream", str(path), "--events", events_csv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    # a guard against a stream that never answers (readline blocks)
    guard = threading.Timer(120, process.kill)
    guard.start()
    try:
        process.stdin.write(frame.iloc[:140].to_csv(index=False))
        process.stdin.flush()
        for _ in range(141):  # the header and a line per row
            assert process.stdout.readline(), process.stderr.read()
        # the first event closed and is in the file while the stream goes on
        table = pd.read_csv(events_csv, keep_default_na=False)
        expected = _stream_expected(detector, frame)
        _assert_file_holds(table, expected.iloc[:1], rtol=1e-5)
        process.stdin.write(frame.iloc[140:].to_csv(index=False, header=False))
        process.stdin.close()
        assert process.wait(timeout=60) == 0, process.stderr.read()
    finally:
        guard.cancel()
        process.kill()
    _assert_file_holds(events_csv, expected, rtol=1e-5)
