"""Reading a series from a CSV file: separator, timestamp, label and feature columns.

Used by the command line; pandas is imported inside the functions.
"""

from dataclasses import dataclass

import numpy as np

_TIME_NAMES = ("timestamp", "datetime", "time", "date")
_LABEL_NAMES = ("anomaly", "is_anomaly", "label", "target", "changepoint")


class TableError(ValueError):
    """A CSV file that cannot be turned into a numeric series."""


@dataclass
class Series:
    """A series read from a CSV file.

    Attributes
    ----------
    features : pandas.DataFrame of shape (n_timesteps, n_features)
        The numeric feature columns, float64.
    timestamps : pandas.Series or None
        The timestamp column, parsed, when there is one.
    timestamp_column : str or None
        Its name.
    labels : ndarray of shape (n_timesteps,) or None
        The ``anomaly`` (or ``label``, ``is_anomaly``, ``target``) column when
        there is one: ``1`` = anomaly.
    label_column : str or None
        Its name.
    """

    features: object
    timestamps: object
    timestamp_column: str | None
    labels: np.ndarray | None
    label_column: str | None


def _read_csv(path, sep):
    import pandas as pd

    try:
        if sep is not None:
            return pd.read_csv(path, sep=sep)
        frame = pd.read_csv(path)
        if frame.shape[1] == 1 and any(c in str(frame.columns[0]) for c in ";\t|"):
            # one column whose header holds another separator: sniff it
            frame = pd.read_csv(path, sep=None, engine="python")
        return frame
    except FileNotFoundError:
        raise TableError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TableError(f"{path}: is a directory, not a CSV file") from None
    except pd.errors.EmptyDataError:
        raise TableError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise TableError(f"{path}: not a readable CSV file ({first})") from None


_YEAR_FIRST = r"^\s*\d{4}\D"  # 2024-01-02, 2024/01/02: ISO order, never ambiguous


def _to_datetime(column, dayfirst):
    """Return the column parsed with one reading, or None if a value does not parse."""
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it infers a format
        try:
            parsed = pd.to_datetime(column, errors="coerce", dayfirst=dayfirst)
        except (TypeError, ValueError, OverflowError):
            return None
    if parsed.isna().any():
        return None
    return parsed


def _parse_time(column, dayfirst=None):
    """Return the column parsed as datetimes, or None when it does not parse.

    Dates such as ``01/02/2024`` read two ways. With ``dayfirst`` None, the
    column is parsed both ways: a reading that fails on some value is dropped,
    and when both read every value but disagree, the column is ambiguous and a
    :class:`TableError` says how to choose. Year-first dates (ISO 8601) are read
    year-month-day whatever ``dayfirst`` says.
    """
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        return column
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return None
    if column.isna().any():
        return None
    if column.astype(str).str.match(_YEAR_FIRST).all():
        return _to_datetime(column, dayfirst=False)
    if dayfirst is not None:
        return _to_datetime(column, dayfirst=bool(dayfirst))
    month_first = _to_datetime(column, dayfirst=False)
    day_first = _to_datetime(column, dayfirst=True)
    if month_first is None or day_first is None:
        return day_first if month_first is None else month_first
    differ = np.flatnonzero((month_first != day_first).to_numpy())
    if differ.size:
        row = differ[0]
        day, month = day_first.iloc[row], month_first.iloc[row]
        raise TableError(
            f"column {column.name!r} holds dates that read both day first and month "
            f"first (row {row + 1}, {column.iloc[row]!r}: {day.day} {day:%B %Y} day "
            f"first, {month.day} {month:%B %Y} month first); pass --dayfirst or "
            "--monthfirst"
        )
    return month_first


def _find_timestamp(frame, name, dayfirst):
    if name is not None:
        if name not in frame.columns:
            raise TableError(f"no timestamp column {name!r}; {_columns_text(frame)}")
        parsed = _parse_time(frame[name], dayfirst)
        if parsed is None:
            raise TableError(f"column {name!r} does not parse as dates and times")
        return name, parsed
    # a column named like a time first, then any column that parses
    named = [c for c in frame.columns if str(c).strip().lower() in _TIME_NAMES]
    others = [c for c in frame.columns if c not in named]
    for column in named + others:
        parsed = _parse_time(frame[column], dayfirst)
        if parsed is not None:
            return column, parsed
    return None, None


def _check_order(name, timestamps):
    """Refuse timestamps that repeat or go back in time, naming the first such row."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(timestamps):
        return  # mixed time zones: no common order to check
    values = timestamps.to_numpy()
    steps = np.flatnonzero(values[1:] <= values[:-1])
    if not steps.size:
        return
    row = steps[0] + 1  # 0-based index of the offending row
    here, before = timestamps.iloc[row], timestamps.iloc[row - 1]
    if here == before:
        problem = f"row {row + 1} repeats the timestamp of row {row} ({here})"
    else:
        problem = f"row {row + 1} ({here}) comes before row {row} ({before})"
    raise TableError(
        f"the timestamps in {name!r} are not in increasing order: {problem}; "
        "sort the rows by time and drop repeated steps first (rows are counted "
        "from 1 after the header)"
    )


def _non_numbers(column):
    """Return the mask of the cells of a text column that are not numbers."""
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce")
    return (numbers.isna() & column.notna()).to_numpy(), int(numbers.notna().sum())


def _bad_cell(path, column, mask):
    row = int(np.flatnonzero(mask)[0])
    return TableError(
        f"{path}: column {column.name!r}, row {row + 1} (counted from 1 after the "
        f"header): {column.iloc[row]!r} is not a number ({int(mask.sum())} such "
        "cell(s) in the column); fix or drop them first"
    )


def _columns_text(frame):
    return "the columns are " + ", ".join(repr(str(c)) for c in frame.columns)


def read_series(path, *, columns=None, timestamp_column=None, sep=None, dayfirst=None):
    """Read a CSV file into a numeric series, its timestamps and any labels.

    Parameters
    ----------
    path : str or path-like
        The CSV file; the separator is sniffed when it is not a comma.
    columns : list of str, default=None
        Feature columns to use; by default every numeric column that is neither
        the timestamp nor a label column (``anomaly``, ``is_anomaly``, ``label``,
        ``target``, ``changepoint``).
    timestamp_column : str, default=None
        The timestamp column; by default the first column named ``timestamp``,
        ``datetime``, ``time`` or ``date``, else the first column that parses as
        dates, else none.
    sep : str, default=None
        Field separator; sniffed when None.
    dayfirst : bool, default=None
        How to read dates such as ``01/02/2024``: True for day first (1 February),
        False for month first (2 January). None reads them the only way every
        value parses, and refuses the column when both readings parse and
        disagree. Year-first dates (``2024-02-01``) are always read
        year-month-day.

    Returns
    -------
    series : Series

    Raises
    ------
    TableError
        When the file cannot be read, a named column is missing, no numeric
        column is left, a feature holds missing or non-numeric values (the error
        names the column, the row counted from 1 after the header, and the
        value), the dates are ambiguous, or the timestamps are not strictly
        increasing.
    """
    import pandas as pd

    frame = _read_csv(path, sep)
    if len(frame) == 0:
        raise TableError(f"{path}: the file has a header but no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    try:
        time_name, timestamps = _find_timestamp(frame, timestamp_column, dayfirst)
        if time_name is not None:
            _check_order(time_name, timestamps)
    except TableError as error:
        raise TableError(f"{path}: {error}") from None

    label_name = next(
        (c for c in frame.columns if c.lower() in _LABEL_NAMES and c != time_name),
        None,
    )
    labels = None
    if label_name is not None and pd.api.types.is_numeric_dtype(frame[label_name]):
        values = frame[label_name].to_numpy()
        if np.isin(values, (0, 1)).all():
            labels = values.astype(np.int64)

    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise TableError(
                f"{path}: no column {', '.join(map(repr, missing))}; "
                f"{_columns_text(frame)}"
            )
        selected = list(columns)
    else:
        skip = {time_name} | {c for c in frame.columns if c.lower() in _LABEL_NAMES}
        selected = []
        for name in frame.columns:
            if name in skip:
                continue
            if pd.api.types.is_numeric_dtype(frame[name]):
                selected.append(name)
                continue
            # a text column that is mostly numbers has a typo, not text: say where
            bad, n_numbers = _non_numbers(frame[name])
            if bad.any() and n_numbers >= bad.sum():
                raise _bad_cell(path, frame[name], bad)
        if not selected:
            raise TableError(
                f"{path}: no numeric feature column; {_columns_text(frame)}"
            )
    for name in selected:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            bad, _ = _non_numbers(frame[name])
            if bad.any():
                raise _bad_cell(path, frame[name], bad)
    try:
        features = frame[selected].astype(np.float64)
    except (TypeError, ValueError) as error:  # booleans, dates, ...
        raise TableError(f"{path}: a feature column is not numeric ({error})") from None
    bad = ~np.isfinite(features.to_numpy())
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise TableError(
            f"{path}: column {selected[col]!r} has {int(bad[:, col].sum())} missing "
            f"or infinite values (first at row {row + 1}, counted from 1 after the "
            "header); fill or drop them first"
        )
    return Series(
        features=features,
        timestamps=timestamps,
        timestamp_column=time_name,
        labels=labels,
        label_column=label_name if labels is not None else None,
    )
