"""The ``skae`` command line, end to end through subprocesses and in process."""

import pathlib
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import tiny_detector

from skae import LSTMAutoencoderDetector, load_model, save_model
from skae.cli import main
from skae.datasets import load_nab

TINY = ["--max-epochs", "2", "--hidden-size", "4", "--window-size", "16"]


@pytest.fixture(scope="module")
def nab_csv(tmp_path_factory):
    """A 700-row slice of NAB's nyc_taxi series (timestamp,value), as a CSV file.

    The series ships inside skae, so a broken ``skae.datasets`` fails here
    rather than skipping the command-line tests.
    """
    out = tmp_path_factory.mktemp("nab") / "taxi.csv"
    load_nab("nyc_taxi").frame.iloc[:700].to_csv(out)
    return out


def _skae(*args, cwd=None, input=None):
    return subprocess.run(
        [sys.executable, "-m", "skae", *map(str, args)],
        input=input,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def _assert_one_line_error(result, status):
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("skae: error: ")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_fit_then_score_round_trip(nab_csv, tmp_path):
    model = tmp_path / "model.joblib"
    scores_csv = tmp_path / "scores.csv"
    plot = tmp_path / "plot.png"

    fit = _skae(
        "fit", nab_csv, "--model", model, "--train-size", "400", "--random-state",
        "0", "-v", *TINY,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    assert "timestamps in 'timestamp'" in fit.stdout
    assert "train_loss" in fit.stdout  # -v prints the epoch table
    assert f"saved the model to {model}" in fit.stdout

    score = _skae("score", model, nab_csv, "--out", scores_csv, "--plot", plot)
    assert score.returncode == 0, score.stderr
    assert "flagged" in score.stdout
    # loading a joblib pickle says, on one line, that it runs code
    (warning,) = score.stderr.strip().splitlines()
    assert warning.startswith("skae: warning: ") and "runs code" in warning

    out = pd.read_csv(scores_csv)
    assert list(out.columns) == ["timestamp", "score", "is_anomaly"]
    series = pd.read_csv(nab_csv)
    assert len(out) == len(series)
    assert (out["timestamp"] == series["timestamp"]).all()

    # the scores are the model's reconstruction errors, the flags its threshold
    detector = joblib.load(model)
    assert detector.n_features_in_ == 1
    assert list(detector.feature_names_in_) == ["value"]
    np.testing.assert_allclose(
        out["score"], -detector.score_samples(series[["value"]]), rtol=1e-6
    )
    assert (out["is_anomaly"] == (out["score"] > detector.threshold_)).all()
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_errors_are_one_line_with_a_status(nab_csv, tmp_path):
    # a wrong command line: status 2; a bad file: status 1; never a traceback
    _assert_one_line_error(_skae("fit", nab_csv), status=2)  # --model missing
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2020-01-01,abc\n2020-01-02,def\n")
    result = _skae("fit", bad, "--model", tmp_path / "m.joblib")
    _assert_one_line_error(result, status=1)
    assert "no numeric feature column" in result.stderr


# ---------------------------------------------------------- in-process checks


def _run(capsys, *args):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def two_feature_model(tmp_path_factory):
    """A tiny model fitted on a two-column CSV with a 'date' column and labels."""
    folder = tmp_path_factory.mktemp("two")
    rng = np.random.default_rng(0)
    n = 240
    t = np.arange(n)
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=n, freq="h").strftime(
                "%d/%m/%Y %H:%M"
            ),
            "a": np.sin(t / 5) + 0.05 * rng.normal(size=n),
            "b": np.cos(t / 5),
            "anomaly": (t > 200).astype(int),
        }
    )
    csv = folder / "two.csv"
    frame.to_csv(csv, sep=";", index=False)
    model = folder / "two.joblib"
    status = main(["fit", str(csv), "--model", str(model), "--dayfirst", *TINY])
    assert status == 0
    return csv, model, frame


def test_fit_detects_separator_timestamp_and_labels(two_feature_model, capsys):
    csv, model, _ = two_feature_model
    detector = joblib.load(model)
    assert list(detector.feature_names_in_) == ["a", "b"]
    out_csv = csv.with_suffix(".o")
    status, out, _ = _run(capsys, "score", model, csv, "--out", out_csv, "--dayfirst")
    assert status == 0
    assert "timestamps in 'date'" in out and "labels in 'anomaly'" in out
    assert "labelled anomaly windows" in out and "AUC-PR" in out
    scores = pd.read_csv(out_csv)
    assert list(scores.columns) == ["date", "score", "is_anomaly"]
    dates = pd.to_datetime(scores["date"])
    assert dates.iloc[1] == pd.Timestamp("2024-01-01 01:00")
    assert dates.iloc[-1] == pd.Timestamp("2024-01-10 23:00")  # ten days, day first


def test_ambiguous_dates_are_refused_naming_the_options(two_feature_model, capsys):
    # 01/01/2024 .. 10/01/2024 read month first would span ten months, silently
    csv, model, _ = two_feature_model
    status, _, err = _run(capsys, "score", model, csv, "--out", csv.with_suffix(".o"))
    assert status == 1 and err.count("\n") == 2  # the pickle warning, the error
    error = err.splitlines()[-1]
    assert error.startswith("skae: error: ")
    assert "--dayfirst" in error and "--monthfirst" in error
    status, _, err = _run(capsys, "fit", csv, "--model", csv.with_suffix(".skae"))
    assert status == 1 and "--dayfirst" in err


def test_score_rejects_missing_columns(two_feature_model, tmp_path, capsys):
    csv, model, frame = two_feature_model
    other = tmp_path / "other.csv"
    frame.drop(columns="b").to_csv(other, index=False)
    status, _, err = _run(
        capsys, "score", model, other, "--out", tmp_path / "o.csv", "--dayfirst"
    )
    assert status == 1
    error = err.splitlines()[-1]  # after the pickle warning
    assert "no column 'b'" in error and error.startswith("skae: error: ")


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty"),
        ("value\n", "no rows"),
        ("t,value\n1,2\n2,\n3,4\n", "missing or infinite"),
    ],
)
def test_fit_rejects_bad_files(tmp_path, capsys, content, message):
    csv = tmp_path / "bad.csv"
    csv.write_text(content)
    status, _, err = _run(capsys, "fit", csv, "--model", tmp_path / "m.joblib")
    assert status == 1
    assert message in err and err.startswith("skae: error: ")


def test_fit_rejects_unknown_columns_and_bad_options(nab_csv, tmp_path, capsys):
    model = tmp_path / "m.joblib"
    status, _, err = _run(capsys, "fit", nab_csv, "--model", model, "--columns", "x")
    assert status == 1 and "no column 'x'" in err
    status, _, err = _run(
        capsys, "fit", nab_csv, "--model", model, "--contamination", "0.9"
    )
    assert status == 2 and "--contamination" in err
    status, _, err = _run(
        capsys, "fit", nab_csv, "--model", model, "--window-size", "5000"
    )
    assert status == 1 and "window_size=5000" in err
    assert not model.exists()


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "fit", "score"):
        assert command in out


def test_score_rejects_a_file_that_is_not_a_model(nab_csv, tmp_path, capsys):
    not_model = tmp_path / "x.joblib"
    joblib.dump({"a": 1}, not_model)
    status, _, err = _run(capsys, "score", not_model, nab_csv, "--out", "o.csv")
    assert status == 1 and "not a fitted skae detector" in err
    status, _, err = _run(capsys, "score", nab_csv, nab_csv, "--out", "o.csv")
    assert status == 1 and "not a model file" in err
    status, _, err = _run(capsys, "score", tmp_path / "none", nab_csv, "--out", "o")
    assert status == 1 and "no such model file" in err


def test_safe_model_format_round_trip(nab_csv, tmp_path, capsys):
    model = tmp_path / "model.skae"
    status, out, err = _run(
        capsys, "fit", nab_csv, "--model", model, "--train-size", "400", *TINY
    )
    assert status == 0, err
    detector = load_model(model)  # a safe file, not a pickle
    scores_csv = tmp_path / "scores.csv"
    status, out, err = _run(capsys, "score", model, nab_csv, "--out", scores_csv)
    assert status == 0, err
    series = pd.read_csv(nab_csv)
    np.testing.assert_allclose(
        pd.read_csv(scores_csv)["score"],
        -detector.score_samples(series[["value"]]),
        rtol=1e-6,
    )
    # a damaged safe file is a one-line data error
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.skae"
    damaged.write_bytes(bytes(data))
    status, _, err = _run(capsys, "score", damaged, nab_csv, "--out", scores_csv)
    assert status == 1 and err.startswith("skae: error: ") and err.count("\n") == 1


# ------------------------------------------------- model files and one-line errors


class _TouchOnLoad:
    """Unpickling this object creates ``marker``: it stands for any code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_pickle_named_skae_is_never_unpickled(nab_csv, tmp_path, capsys):
    payload = pickle.dumps(_TouchOnLoad(tmp_path / "control"))
    pickle.loads(payload)  # the payload does run code when unpickled
    assert (tmp_path / "control").exists()

    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.skae"
    evil.write_bytes(pickle.dumps(_TouchOnLoad(marker)))
    out = tmp_path / "o.csv"
    status, _, err = _run(capsys, "score", evil, nab_csv, "--out", out)
    assert status == 1
    assert err.startswith("skae: error: ") and err.count("\n") == 1
    assert "not a valid .skae model file" in err
    assert not marker.exists()
    assert not out.exists()


def test_a_model_name_without_a_known_suffix_is_refused(nab_csv, tmp_path, capsys):
    model = tmp_path / "model.bin"
    status, out, err = _run(capsys, "fit", nab_csv, "--model", model, *TINY)
    assert status == 2 and err.count("\n") == 1
    assert ".skae" in err and ".joblib" in err and ".pkl" in err
    assert "training" not in out and not model.exists()
    # a CSV given as the model is a one-line error that says what MODEL must be
    status, _, err = _run(capsys, "score", nab_csv, nab_csv, "--out", tmp_path / "o")
    assert status == 1 and err.count("\n") == 1
    assert "not a model file" in err and ".skae" in err
    assert "IndexError" not in err


def test_fit_checks_the_model_path_before_training(nab_csv, tmp_path, capsys):
    model = tmp_path / "missing" / "dir" / "m.skae"
    status, out, err = _run(capsys, "fit", nab_csv, "--model", model, *TINY)
    assert status == 1 and err.count("\n") == 1
    assert "cannot write --model" in err and "no folder" in err
    assert "training" not in out  # refused before reading and training
    status, out, err = _run(capsys, "fit", nab_csv, "--model", tmp_path / "m.skae",
                            "--window-size", "16", "--max-epochs", "1",
                            "--hidden-size", "4", "--train-size", "100")  # fmt: skip
    assert status == 0, err


def test_score_checks_the_output_path_first(two_feature_model, tmp_path, capsys):
    csv, model, _ = two_feature_model
    missing = tmp_path / "no" / "scores.csv"
    status, _, err = _run(capsys, "score", model, csv, "--out", missing, "--dayfirst")
    assert status == 1 and err.count("\n") == 1  # before the pickle is loaded
    assert "cannot write --out" in err


def test_a_threshold_that_is_not_a_number_is_a_one_line_error(
    two_feature_model, tmp_path, capsys
):
    csv, model, _ = two_feature_model
    detector = joblib.load(model)
    detector.threshold_ = "high"
    bad = tmp_path / "bad.joblib"
    joblib.dump(detector, bad)
    status, _, err = _run(capsys, "score", bad, csv, "--out", tmp_path / "o.csv",
                          "--dayfirst")  # fmt: skip
    assert status == 1
    error = err.strip().splitlines()[-1]
    assert error.startswith("skae: error: ") and "threshold" in error
    assert "'high'" in error


@pytest.mark.parametrize("error", [ValueError, TypeError, OSError])
def test_errors_from_loading_and_scoring_are_one_line(
    two_feature_model, tmp_path, capsys, monkeypatch, error
):
    import skae._persistence

    csv, model, _ = two_feature_model
    safe = tmp_path / "m.skae"
    safe.write_bytes(b"not read")

    def refuse(*args, **kwargs):
        raise error("threshold_ must be a finite float")

    monkeypatch.setattr(skae._persistence, "load_model", refuse)
    args = ("--out", tmp_path / "o.csv", "--dayfirst")
    status, _, err = _run(capsys, "score", safe, csv, *args)
    assert status == 1 and err.count("\n") == 1 and "threshold_ must be" in err
    assert err.startswith("skae: error: ")

    monkeypatch.setattr(LSTMAutoencoderDetector, "score_samples", refuse)
    status, _, err = _run(capsys, "score", model, csv, *args)
    assert status == 1
    assert err.strip().splitlines()[-1].startswith("skae: error: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["demo", "fit", "score"])
def test_an_unknown_option_points_to_its_commands_help(command, capsys):
    args = {
        "demo": [],
        "fit": ["x.csv", "--model", "m.skae"],
        "score": ["m", "s", "--out", "o"],
    }
    status, _, err = _run(capsys, command, *args[command], "--bogus")
    assert status == 2 and err.count("\n") == 1
    assert "--bogus" in err and f"'skae {command} --help'" in err


@pytest.mark.slow
def test_verbose_fit_writes_no_colour_codes_to_a_pipe(nab_csv, tmp_path):
    fit = _skae(
        "fit", nab_csv, "--model", tmp_path / "m.skae", "--train-size", "200",
        "--window-size", "16", "--hidden-size", "4", "--max-epochs", "1", "-v",
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    assert "train_loss" in fit.stdout
    assert "\x1b[" not in fit.stdout


# ------------------------------------------------------------- skae stream


@pytest.fixture(scope="module")
def causal_model(nab_csv, tmp_path_factory):
    """A tiny causal model of the taxi slice, saved as .skae, and the frame."""
    frame = pd.read_csv(nab_csv)
    detector = tiny_detector(hidden_size=4, causal=True)
    detector.fit(frame[["value"]].iloc[:400])
    path = tmp_path_factory.mktemp("stream") / "causal.skae"
    save_model(detector, path)
    return path, detector, frame


def _read_line(process, timeout=60):
    import select

    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "skae stream wrote nothing within the timeout"
    return process.stdout.readline()


@pytest.mark.slow
def test_stream_answers_each_row_as_it_arrives(causal_model, tmp_path):
    path, detector, frame = causal_model
    state = tmp_path / "state.skae"
    process = subprocess.Popen(
        [sys.executable, "-m", "skae", "stream", str(path), "--save", str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        process.stdin.write("timestamp,value\n")
        process.stdin.flush()
        assert _read_line(process) == "timestamp,score,is_anomaly\n"
        rows = frame.iloc[400:440]
        answers = []
        for stamp, value in zip(rows["timestamp"], rows["value"], strict=True):
            # the next row is written only after this one's answer came back
            process.stdin.write(f"{stamp},{value}\n")
            process.stdin.flush()
            answers.append(_read_line(process).strip().split(","))
        process.stdin.close()
        assert process.wait(timeout=60) == 0, process.stderr.read()
    finally:
        process.kill()
    assert [a[0] for a in answers] == list(rows["timestamp"])
    scores = np.array([float(a[1]) for a in answers])
    expected = -detector.score_samples(rows[["value"]])
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    flags = np.array([int(a[2]) for a in answers])
    np.testing.assert_array_equal(flags, expected > detector.threshold_)
    # the saved state resumes the stream where it stopped
    more = frame.iloc[440:460]
    text = "timestamp,value\n" + more.to_csv(header=False, index=False)
    result = _skae("stream", state, input=text)
    assert result.returncode == 0, result.stderr
    resumed = pd.read_csv(__import__("io").StringIO(result.stdout))
    whole = -detector.score_samples(frame[["value"]].iloc[400:460])
    np.testing.assert_allclose(resumed["score"], whole[40:], rtol=1e-6)


@pytest.mark.slow
def test_stream_errors_are_one_line(causal_model, nab_csv, tmp_path):
    path, _, _ = causal_model
    result = _skae("stream", path, input="timestamp,value\n2014-07-01 00:00:00,abc\n")
    _assert_one_line_error(result, 1)
    assert "line 2" in result.stderr and "'value'" in result.stderr
    result = _skae("stream", path, input="timestamp,speed\n")
    _assert_one_line_error(result, 1)
    assert "value" in result.stderr
    offline = tmp_path / "offline.skae"
    assert _skae("fit", nab_csv, "--model", offline, *TINY).returncode == 0
    result = _skae("stream", offline, input="timestamp,value\n")
    _assert_one_line_error(result, 1)
    assert "causal=True" in result.stderr


def test_fit_causal_makes_a_model_that_streams(nab_csv, tmp_path, capsys):
    model = tmp_path / "model.skae"
    status, _, err = _run(
        capsys, "fit", nab_csv, "--model", model, "--train-size", "400",
        "--random-state", "0", "--causal", *TINY,
    )  # fmt: skip
    assert status == 0, err
    detector = load_model(model)
    assert detector.causal_ is True
    # a model fitted without --causal is not one skae stream takes
    plain = tmp_path / "plain.skae"
    _run(capsys, "fit", nab_csv, "--model", plain, "--train-size", "400", *TINY)
    assert load_model(plain).causal_ is False


def test_fit_detect_flatlines_keeps_the_check_in_the_model(nab_csv, tmp_path, capsys):
    model = tmp_path / "model.skae"
    status, _, err = _run(
        capsys, "fit", nab_csv, "--model", model, "--train-size", "400", *TINY,
    )  # fmt: skip
    assert status == 0, err
    detector = load_model(model)
    assert detector.detect_flatlines == "auto"  # on for a series, by default
    assert detector.flatline_reference_.shape == (1,)
    off = tmp_path / "off.skae"
    status, _, err = _run(
        capsys, "fit", nab_csv, "--model", off, "--train-size", "400",
        "--no-detect-flatlines", *TINY,
    )  # fmt: skip
    assert status == 0, err
    assert not hasattr(load_model(off), "flatline_reference_")
    # the taxi series held at one value for a day is flagged
    frame = pd.read_csv(nab_csv)
    frame.loc[500:547, "value"] = frame.loc[500, "value"]
    frame.to_csv(tmp_path / "held.csv", index=False)
    out = tmp_path / "scores.csv"
    status, _, err = _run(capsys, "score", model, tmp_path / "held.csv", "--out", out)
    assert status == 0, err
    assert pd.read_csv(out)["is_anomaly"].iloc[500:548].all()


def test_a_cell_too_far_from_the_training_data_is_named_in_file_terms(
    nab_csv, tmp_path, capsys
):
    model = tmp_path / "model.skae"
    _run(capsys, "fit", nab_csv, "--model", model, "--train-size", "400", *TINY)
    frame = pd.read_csv(nab_csv)
    frame["value"] = frame["value"].astype(float)
    frame.loc[40, "value"] = 1e300
    frame.to_csv(tmp_path / "big.csv", index=False)
    status, _, err = _run(
        capsys, "score", model, tmp_path / "big.csv", "--out", tmp_path / "s.csv"
    )
    assert status == 1
    assert "column 'value', row 41" in err and "1e+300" in err
    assert len(err.strip().splitlines()) == 1


def test_fit_precision_sets_the_parameter_and_says_which_was_used(
    nab_csv, tmp_path, capsys
):
    model = tmp_path / "model.skae"
    status, out, err = _run(
        capsys, "fit", nab_csv, "--model", model, "--train-size", "400",
        "--precision", "float32", *TINY,
    )  # fmt: skip
    assert status == 0, err
    assert "on cpu in float32;" in out
    detector = load_model(model)
    assert detector.precision == "float32" and detector.precision_ == "float32"
    status, _, err = _run(
        capsys, "fit", nab_csv, "--model", model, "--precision", "float16", *TINY
    )
    assert status != 0 and "float16" in err
