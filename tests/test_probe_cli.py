"""The command line against a hostile user.

Rows with more fields than the header are an error naming the line in ``skae
fit``, ``skae score`` and ``skae stream``; ``skae stream`` answers a stray
carriage return, a huge cell and a huge ``--threshold-window`` with one line, reads
a byte-order mark, refuses timestamps that go back as ``skae score`` does and
gives command-line advice; ``skae score --out -`` writes to standard output, and
``skae fit`` says on standard error that it is training.
"""

import sys

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_detector, waves

from skae import save_model
from skae._table import TableError, read_series
from skae.cli import main

TINY = ["--max-epochs", "1", "--hidden-size", "4", "--window-size", "8"]


def _series(n=200, seed=0):
    times = pd.date_range("2024-01-01", periods=n, freq="h")
    values = waves(n, periods=(25,), seed=seed)[:, 0]
    return pd.DataFrame(
        {"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"), "value": values}
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny causal and offline models of one column 'value', as .skae files."""
    folder = tmp_path_factory.mktemp("models")
    frame = _series()
    paths = {}
    for causal in (True, False):
        detector = tiny_detector(window_size=8, hidden_size=4, causal=causal)
        detector.fit(frame[["value"]])
        paths[causal] = folder / f"{'causal' if causal else 'offline'}.skae"
        save_model(detector, paths[causal])
    return paths


def _run(capsys, *args):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _stream(capsys, monkeypatch, tmp_path, model, data, *options):
    """Run ``skae stream`` in this process with ``data`` (bytes) as standard input."""
    source = tmp_path / "stdin.csv"
    source.write_bytes(data)
    with open(source, "rb") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        return _run(capsys, "stream", model, *options)


def _one_line_error(status, err, expected_status=1):
    assert status == expected_status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skae: error: "), err
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------- more fields than the header


def test_fit_refuses_a_row_with_more_fields_than_the_header(tmp_path, capsys):
    # pandas reads this as an index column 1, 2 and values 5, 25
    csv = tmp_path / "shifted.csv"
    csv.write_text("value\n1,5\n2,25\n")
    model = tmp_path / "m.skae"
    status, out, err = _run(capsys, "fit", csv, "--model", model, *TINY)
    error = _one_line_error(status, err)
    assert "line 2 has 2 fields" in error and "the header has 1" in error
    assert not model.exists() and "training" not in out + err


@pytest.mark.parametrize(
    ("text", "sep", "line", "fields", "header"),
    [
        ("value\n1\n2\n3,4\n5\n", None, 4, 2, 1),  # pandas: C parser error
        ("a;b\n1;2;3\n4;5;6\n", None, 2, 3, 2),  # sniffed separator
        ("a|b\n1|2\n\n3|4|5\n", "|", 4, 3, 2),  # a blank line still counts
    ],
    ids=["middle-row", "sniffed", "blank-line"],
)
def test_read_series_names_the_line_and_the_field_counts(
    tmp_path, text, sep, line, fields, header
):
    path = tmp_path / "series.csv"
    path.write_text(text)
    with pytest.raises(TableError) as error:
        read_series(path, sep=sep)
    message = str(error.value)
    assert f"line {line} has {fields} fields" in message, message
    assert f"the header has {header}" in message, message
    assert str(path) in message


def test_score_refuses_a_row_with_more_fields_than_the_header(models, tmp_path, capsys):
    csv = tmp_path / "shifted.csv"
    csv.write_text("value\n" + "".join(f"{i},{i * i}\n" for i in range(30)))
    status, _, err = _run(
        capsys, "score", models[True], csv, "--out", tmp_path / "o.csv"
    )
    error = _one_line_error(status, err)
    assert "line 2 has 2 fields" in error and "the header has 1" in error


def test_stream_refuses_a_row_with_more_fields_than_the_header(
    models, tmp_path, capsys, monkeypatch
):
    data = b"timestamp,value\n2024-01-01 00:00:00,1,5\n"
    status, _, err = _stream(capsys, monkeypatch, tmp_path, models[True], data)
    error = _one_line_error(status, err)
    assert "line 2 has 3 fields" in error and "the header has 2" in error


# -------------------------------------------------------------- skae stream input


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"value\n0.5\n1\r5\n", "carriage return"),
        (b"value\n0.5\n" + b"1" * 140_000 + b"\n", "longer than"),
    ],
    ids=["carriage-return", "huge-cell"],
)
def test_stream_names_an_unreadable_line_in_one_line(
    models, tmp_path, capsys, monkeypatch, data, message
):
    status, _, err = _stream(capsys, monkeypatch, tmp_path, models[True], data)
    error = _one_line_error(status, err)
    assert "line 3" in error and message in error
    assert len(error) < 500  # the cell is not echoed


def test_stream_refuses_a_line_that_never_ends(models, tmp_path, capsys, monkeypatch):
    import skae.cli

    monkeypatch.setattr(skae.cli, "_MAX_LINE_BYTES", 1000)
    data = b"value\n0.5\n" + b"1" * 5000  # no end of line, as from /dev/zero
    status, _, err = _stream(capsys, monkeypatch, tmp_path, models[True], data)
    error = _one_line_error(status, err)
    assert "line 3" in error and "1,000 bytes" in error


def test_a_huge_threshold_window_is_a_command_line_error(
    models, tmp_path, capsys, monkeypatch
):
    data = b"value\n0.5\n0.6\n"
    status, _, err = _stream(
        capsys, monkeypatch, tmp_path, models[True], data,
        "--threshold-window", "99999999999999999999",
    )  # fmt: skip
    error = _one_line_error(status, err, expected_status=2)
    assert "--threshold-window" in error


def test_stream_reads_a_byte_order_mark(models, tmp_path, capsys, monkeypatch):
    rows = _series(12)
    text = "timestamp,value\n" + rows.to_csv(header=False, index=False)
    status, out, err = _stream(
        capsys, monkeypatch, tmp_path, models[True], b"\xef\xbb\xbf" + text.encode()
    )
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == "timestamp,score,is_anomaly"
    assert [line.split(",")[0] for line in lines[1:]] == list(rows["timestamp"])
    # and skae fit and skae score read it too, with a sniffed separator
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + rows.to_csv(sep=";", index=False).encode())
    assert read_series(path).timestamp_column == "timestamp"


@pytest.mark.parametrize(
    ("stamps", "line", "message"),
    [
        (["2024-01-02 00:00:00", "2024-01-01 00:00:00"], 3, "comes before line 2"),
        (["2024-01-01 00:00:00", "2024-01-01 00:00:00"], 3, "repeats"),
        (["1", "2", "2"], 4, "repeats"),  # numbers as timestamps
        # day first: 12 January, then 13 January; 1 December read month first
        (["12/01/2024", "13/01/2024", "11/01/2024"], 4, "comes before line 3"),
        (["2024-01-01 00:00:00", "soon"], 3, "not a date"),
    ],
    ids=["backwards", "repeated", "numbers", "day-first", "not-a-date"],
)
def test_stream_refuses_timestamps_that_go_back_as_score_does(
    models, tmp_path, capsys, monkeypatch, stamps, line, message
):
    text = "timestamp,value\n" + "".join(f"{s},0.5\n" for s in stamps)
    status, _, err = _stream(capsys, monkeypatch, tmp_path, models[True], text.encode())
    error = _one_line_error(status, err)
    assert f"line {line}" in error and message in error
    assert "'timestamp'" in error


def test_stream_takes_timestamps_in_order_in_either_reading(
    models, tmp_path, capsys, monkeypatch
):
    # day first throughout, with days <= 12 first (ambiguous on their own)
    stamps = [f"{day:02d}/01/2024" for day in range(5, 20)]
    text = "date,value\n" + "".join(f"{s},0.5\n" for s in stamps)
    status, out, err = _stream(
        capsys, monkeypatch, tmp_path, models[True], text.encode()
    )
    assert status == 0, err
    assert [line.split(",")[0] for line in out.splitlines()[1:]] == stamps


def test_stream_advises_skae_fit_causal_for_an_offline_model(
    models, tmp_path, capsys, monkeypatch
):
    status, _, err = _stream(
        capsys, monkeypatch, tmp_path, models[False], b"value\n0.5\n"
    )
    error = _one_line_error(status, err)
    assert "skae fit" in error and "--causal" in error
    assert "LSTMAutoencoderDetector(" not in error


# -------------------------------------------------------- --out - and progress


def test_score_out_dash_writes_the_scores_to_standard_output(
    models, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    frame = _series(60, seed=1)
    frame.to_csv(tmp_path / "series.csv", index=False)
    status, out, err = _run(capsys, "score", models[True], "series.csv", "--out", "-")
    assert status == 0, err
    assert not (tmp_path / "-").exists()
    scores = pd.read_csv(__import__("io").StringIO(out))  # nothing else on stdout
    assert list(scores.columns) == ["timestamp", "score", "is_anomaly"]
    assert list(scores["timestamp"]) == list(frame["timestamp"])
    assert np.isfinite(scores["score"]).all()
    assert "flagged" in err  # the summary goes to standard error


def test_score_help_says_what_dash_means(capsys):
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    assert "standard output" in " ".join(capsys.readouterr().out.split())


def test_fit_says_on_standard_error_that_it_is_training(tmp_path, capsys):
    csv = tmp_path / "series.csv"
    _series(120).to_csv(csv, index=False)
    status, out, err = _run(capsys, "fit", csv, "--model", tmp_path / "m.skae", *TINY)
    assert status == 0, err
    assert "training on 120 rows" in err and "may take a while" in err
    assert "trained 1 epochs" in out and "saved the model" in out
    # -q: nothing but errors
    status, out, err = _run(
        capsys, "fit", csv, "--model", tmp_path / "q.skae", "-q", *TINY
    )
    assert status == 0 and out == "" and err == ""
    assert (tmp_path / "q.skae").exists()


# ------------------------------------------- values beyond the network's reach


def test_score_names_the_cell_the_network_cannot_take(models, tmp_path, capsys):
    frame = _series(60)
    frame.loc[20, "value"] = 1e300
    frame.to_csv(tmp_path / "far.csv", index=False)
    args = ("score", models[True], tmp_path / "far.csv", "--out", tmp_path / "s.csv")
    status, _, err = _run(capsys, *args)
    error = _one_line_error(status, err)
    assert "far.csv: column 'value', row 21 (counted from 1 after the" in error
    assert "holds 1e+300, beyond 1e+30 of the training data's standard" in error
    assert f"in {models[True]}): the network cannot take it; check the" in error
    frame["value"] = 1e300  # the whole column: the model does not fit the file
    frame.to_csv(tmp_path / "far.csv", index=False)
    status, _, err = _run(capsys, *args)
    error = _one_line_error(status, err)
    assert error.startswith(f"skae: error: {models[True]}: every value of column")
    assert "the model file does not fit this series" in error


def test_stream_names_the_line_the_network_cannot_take(
    models, tmp_path, capsys, monkeypatch
):
    data = b"value\n0.5\n0.25\n-1e300\n"
    status, out, err = _stream(capsys, monkeypatch, tmp_path, models[True], data)
    error = _one_line_error(status, err)
    assert "line 4: column 'value' holds -1e+300, beyond 1e+30 of the" in error
    assert error.endswith("the network cannot take it")
    assert out == "score,is_anomaly\n"  # the rows of the batch are not answered


def test_score_scales_the_series_as_often_as_score_samples(
    models, tmp_path, capsys, monkeypatch
):
    from skae import load_model
    from skae._core import FittedAutoencoder

    frame = _series(60)
    frame.to_csv(tmp_path / "series.csv", index=False)
    calls = []
    scale = FittedAutoencoder.scale

    def counting(self, X):
        calls.append(len(X))
        return scale(self, X)

    monkeypatch.setattr(FittedAutoencoder, "scale", counting)
    status, _, err = _run(
        capsys, "score", models[False], tmp_path / "series.csv", "--out", "-"
    )
    assert status == 0, err
    by_cli, calls[:] = list(calls), []
    load_model(models[False]).score_samples(frame[["value"]])
    assert by_cli == calls and calls
