"""skae._table.read_series: dates, their order, and cells that are not numbers."""

import numpy as np
import pandas as pd
import pytest

from skae._table import TableError, read_series


def _write(tmp_path, text, name="series.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _dated(days, values=None):
    values = range(len(days)) if values is None else values
    rows = [f"{day},{value}" for day, value in zip(days, values, strict=True)]
    return "time,value\n" + "\n".join(rows) + "\n"


# ten days, day first: both readings parse, and they disagree
DAY_FIRST_TEN = [f"{d:02d}/01/2024 00:00" for d in range(1, 11)]


def test_ambiguous_day_month_dates_are_refused_with_the_options(tmp_path):
    path = _write(tmp_path, _dated(DAY_FIRST_TEN))
    with pytest.raises(TableError) as error:
        read_series(path)
    message = str(error.value)
    assert "--dayfirst" in message and "--monthfirst" in message
    assert "'time'" in message and "02/01/2024 00:00" in message


def test_dayfirst_chooses_the_reading(tmp_path):
    path = _write(tmp_path, _dated(DAY_FIRST_TEN))
    day_first = read_series(path, dayfirst=True).timestamps
    assert day_first.dt.day.tolist() == list(range(1, 11))
    assert (day_first.dt.month == 1).all()
    month_first = read_series(path, dayfirst=False).timestamps
    assert month_first.dt.month.tolist() == list(range(1, 11))
    assert (month_first.dt.day == 1).all()


def test_dates_that_read_only_one_way_need_no_option(tmp_path):
    days = [f"{d:02d}/01/2024" for d in range(1, 20)]  # 13/01 has no month 13
    series = read_series(_write(tmp_path, _dated(days)))
    assert series.timestamps.iloc[-1] == pd.Timestamp("2024-01-19")


def test_iso_dates_are_never_ambiguous(tmp_path):
    days = [f"2024-01-{d:02d} 00:00:00" for d in range(1, 11)]
    for dayfirst in (None, True, False):
        series = read_series(_write(tmp_path, _dated(days)), dayfirst=dayfirst)
        assert series.timestamps.iloc[-1] == pd.Timestamp("2024-01-10")


def test_descending_timestamps_are_refused_naming_the_row(tmp_path):
    days = [f"2024-01-{d:02d}" for d in range(10, 0, -1)]
    with pytest.raises(TableError, match=r"row 2 .*before row 1"):
        read_series(_write(tmp_path, _dated(days)))


def test_unsorted_and_repeated_timestamps_are_refused(tmp_path):
    days = ["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-03", "2024-01-05"]
    with pytest.raises(TableError, match=r"row 4 \(2024-01-03.*before row 3"):
        read_series(_write(tmp_path, _dated(days)))
    days = ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"]
    with pytest.raises(TableError, match=r"row 3 repeats the timestamp of row 2"):
        read_series(_write(tmp_path, _dated(days)))


def test_a_cell_that_is_not_a_number_is_named(tmp_path):
    days = [f"2024-01-{d:02d}" for d in range(1, 11)]
    values = [1.5, 2, 3, "oops", 5, 6, 7, 8, 9, 10]
    path = _write(tmp_path, _dated(days, values))
    with pytest.raises(TableError) as error:
        read_series(path)
    message = str(error.value)
    assert "column 'value'" in message and "'oops'" in message
    assert "row 4 (counted from 1 after the header)" in message
    assert "no numeric feature column" not in message


def test_a_bad_cell_in_one_of_several_columns_is_not_dropped_silently(tmp_path):
    text = "a,b\n1,2\n3,x\n5,6\n7,8\n"
    with pytest.raises(TableError, match=r"column 'b', row 2 .*'x'"):
        read_series(_write(tmp_path, text))


def test_a_named_text_column_gets_the_first_bad_cell(tmp_path):
    text = "a,b\n1,n/a?\n3,x\n5,y\n"
    with pytest.raises(TableError, match=r"column 'b', row 1 .*'n/a\?'"):
        read_series(_write(tmp_path, text), columns=["a", "b"])
    # a text column that is not asked for is left out, as before
    series = read_series(_write(tmp_path, text))
    assert list(series.features.columns) == ["a"]


def test_a_clean_file_reads_as_before(tmp_path):
    days = [f"2024-01-{d:02d} 12:00" for d in range(1, 8)]
    text = "timestamp,value,anomaly\n" + "".join(
        f"{day},{i * 0.5},{int(i == 3)}\n" for i, day in enumerate(days)
    )
    series = read_series(_write(tmp_path, text))
    assert series.timestamp_column == "timestamp"
    assert series.label_column == "anomaly"
    np.testing.assert_array_equal(series.features["value"], np.arange(7) * 0.5)
    np.testing.assert_array_equal(series.labels, [0, 0, 0, 1, 0, 0, 0])
