"""The ``skae`` command line, end to end through subprocesses and in process."""

import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest

from skae.cli import main

TINY = ["--max-epochs", "2", "--hidden-size", "4", "--window-size", "16"]


def _taxi_csv(request):
    """NAB's nyc_taxi.csv: the copy shipped in skae, else the shared benchmark."""
    from importlib import resources

    try:
        shipped = resources.files("skae.datasets") / "data" / "nyc_taxi.csv"
        if shipped.is_file():
            return shipped
    except ModuleNotFoundError:
        pass
    shared = request.getfixturevalue("shared_data")
    return shared / "NAB" / "data" / "realKnownCause" / "nyc_taxi.csv"


@pytest.fixture(scope="module")
def nab_csv(tmp_path_factory, request):
    """A 700-row slice of NAB's nyc_taxi series (timestamp,value), as a CSV file."""
    with _taxi_csv(request).open("rb") as file:
        frame = pd.read_csv(file)
    out = tmp_path_factory.mktemp("nab") / "taxi.csv"
    frame.iloc[:700].to_csv(out, index=False)
    return out


def _skae(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "skae", *map(str, args)],
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
    status = main(["fit", str(csv), "--model", str(model), *TINY])
    assert status == 0
    return csv, model, frame


def test_fit_detects_separator_timestamp_and_labels(two_feature_model, capsys):
    csv, model, _ = two_feature_model
    detector = joblib.load(model)
    assert list(detector.feature_names_in_) == ["a", "b"]
    status, out, _ = _run(capsys, "score", model, csv, "--out", csv.with_suffix(".o"))
    assert status == 0
    assert "timestamps in 'date'" in out and "labels in 'anomaly'" in out
    assert "labelled anomaly windows" in out and "AUC-PR" in out
    scores = pd.read_csv(csv.with_suffix(".o"))
    assert list(scores.columns) == ["date", "score", "is_anomaly"]
    assert pd.to_datetime(scores["date"]).iloc[1] == pd.Timestamp("2024-01-01 01:00")


def test_score_rejects_missing_columns(two_feature_model, tmp_path, capsys):
    csv, model, frame = two_feature_model
    other = tmp_path / "other.csv"
    frame.drop(columns="b").to_csv(other, index=False)
    status, _, err = _run(capsys, "score", model, other, "--out", tmp_path / "o.csv")
    assert status == 1
    assert "no column 'b'" in err and err.count("\n") == 1


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
    persistence = pytest.importorskip("skae._persistence")
    model = tmp_path / "model.skae"
    status, out, err = _run(
        capsys, "fit", nab_csv, "--model", model, "--train-size", "400", *TINY
    )
    assert status == 0, err
    detector = persistence.load_model(model)  # a safe file, not a pickle
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
