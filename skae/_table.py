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


def _parse_time(column):
    """Return the column parsed as datetimes, or None when it does not parse."""
    import warnings

    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        return column
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it infers a format
        try:
            parsed = pd.to_datetime(column, errors="coerce")
        except (TypeError, ValueError, OverflowError):
            return None
    if parsed.isna().any():
        return None
    return parsed


def _find_timestamp(frame, name):
    if name is not None:
        if name not in frame.columns:
            raise TableError(f"no timestamp column {name!r}; {_columns_text(frame)}")
        parsed = _parse_time(frame[name])
        if parsed is None:
            raise TableError(f"column {name!r} does not parse as dates and times")
        return name, parsed
    # a column named like a time first, then any column that parses
    named = [c for c in frame.columns if str(c).strip().lower() in _TIME_NAMES]
    others = [c for c in frame.columns if c not in named]
    for column in named + others:
        parsed = _parse_time(frame[column])
        if parsed is not None:
            return column, parsed
    return None, None


def _columns_text(frame):
    return "the columns are " + ", ".join(repr(str(c)) for c in frame.columns)


def read_series(path, *, columns=None, timestamp_column=None, sep=None):
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

    Returns
    -------
    series : Series

    Raises
    ------
    TableError
        When the file cannot be read, a named column is missing, no numeric
        column is left, or a feature holds missing or non-numeric values.
    """
    import pandas as pd

    frame = _read_csv(path, sep)
    if len(frame) == 0:
        raise TableError(f"{path}: the file has a header but no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    time_name, timestamps = _find_timestamp(frame, timestamp_column)

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
        selected = [
            c
            for c in frame.columns
            if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
        ]
        if not selected:
            raise TableError(
                f"{path}: no numeric feature column; {_columns_text(frame)}"
            )
    features = frame[selected]
    for column in selected:
        if not pd.api.types.is_numeric_dtype(features[column]):
            raise TableError(
                f"{path}: column {column!r} is not numeric (first value "
                f"{features[column].iloc[0]!r})"
            )
    features = features.astype(np.float64)
    bad = ~np.isfinite(features.to_numpy())
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise TableError(
            f"{path}: column {selected[col]!r} has {int(bad[:, col].sum())} missing "
            f"or infinite values (first at row {row + 1}); fill or drop them first"
        )
    return Series(
        features=features,
        timestamps=timestamps,
        timestamp_column=time_name,
        labels=labels,
        label_column=label_name if labels is not None else None,
    )
