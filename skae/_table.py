"""Reading a series from a CSV file for the command line (pandas imported inside)."""

import csv
import math
import re
from dataclasses import dataclass

import numpy as np

_TIME_NAMES = ("timestamp", "datetime", "time", "date")
_LABEL_NAMES = ("anomaly", "is_anomaly", "label", "target", "changepoint")


class TableError(ValueError):
    """A CSV file that cannot be turned into a numeric series."""


@dataclass
class Series:
    """A series read from a CSV file: float64 features, and the parsed timestamps
    and 0/1 labels with their column names (None where the file has none)."""

    features: object  # pandas.DataFrame
    timestamps: object  # pandas.Series or None
    timestamp_column: str | None
    labels: np.ndarray | None
    label_column: str | None


# a header that is one field holding one of these was written with another separator
_OTHER_SEPARATORS = ";\t|"
# pandas' error for a row with more fields than the first row
_FIELDS_ERROR = re.compile(r"Expected \d+ fields in line \d+, saw \d+")


def _read_csv(path, sep):
    import pandas as pd

    try:
        if sep is None:
            sep = _sniff_separator(path)
        return _parse_csv(path, sep)
    except TableError:
        raise
    except FileNotFoundError:
        raise TableError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TableError(f"{path}: is a directory, not a CSV file") from None
    except pd.errors.EmptyDataError:
        raise TableError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, csv.Error) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise TableError(f"{path}: not a readable CSV file ({first})") from None


def _sniff_separator(path):
    """A comma, unless the header is one field that holds ``;``, a tab or ``|``."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as lines:
        header = next((line for line in lines if line.strip()), "")
    fields = next(csv.reader([header]), [])
    if len(fields) == 1 and any(c in fields[0] for c in _OTHER_SEPARATORS):
        return csv.Sniffer().sniff(header, delimiters=_OTHER_SEPARATORS).delimiter
    return ","


def _parse_csv(path, sep):
    """Read with pandas; a row with more fields than the header is a TableError."""
    import warnings

    import pandas as pd

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            # index_col=False: a row with an extra field must not turn the first
            # column into an index and shift every value one column left
            frame = pd.read_csv(path, sep=sep, index_col=False, encoding="utf-8-sig")
        except pd.errors.ParserError as error:
            if _FIELDS_ERROR.search(str(error)) and len(sep) == 1:
                raise _too_many_fields(path, sep) from None
            raise
    shifted = False
    for warning in caught:
        if "does not match length of data" in str(warning.message):
            shifted = True
        else:  # not ours to swallow
            warnings.warn(warning.message, warning.category, stacklevel=2)
    if shifted:
        raise _too_many_fields(path, sep)
    return frame


def _too_many_fields(path, sep):
    """The TableError naming the first line with more fields than the header."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as lines:
        rows = csv.reader(lines, delimiter=sep) if len(sep) == 1 else iter(())
        header = None
        for row in rows:
            if not row:
                continue
            if header is None:
                header, header_line = row, rows.line_num
            elif len(row) > len(header):
                return TableError(
                    f"{path}: line {rows.line_num} has {len(row)} fields, but the "
                    f"header has {len(header)} (line {header_line}): a separator "
                    "too many in that row, or a column name missing from the "
                    "header; fix the file first"
                )
    return TableError(
        f"{path}: a row has more fields than the header; fix the file first"
    )


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
    return None if parsed.isna().any() else parsed


def _parse_time(column, dayfirst=None):
    """Return the column parsed as datetimes, or None when it does not parse.

    With ``dayfirst`` None, dates such as ``01/02/2024`` are read both ways; a
    reading that fails is dropped, and two that disagree are a TableError.
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
    advice = "sort the rows by time and drop repeated steps first (rows are counted "
    advice += "from 1 after the header)"
    raise _out_of_order(name, "row", (row + 1, here), (row, before), advice)


def _out_of_order(name, unit, here, before, advice):
    """The TableError for a ``(number, timestamp)`` at or before the one before."""
    (number, value), (number_before, value_before) = here, before
    if value == value_before:
        problem = f"{unit} {number} repeats the timestamp of {unit} {number_before}"
        problem += f" ({value})"
    else:
        problem = f"{unit} {number} ({value}) comes before {unit} {number_before}"
        problem += f" ({value_before})"
    return TableError(
        f"the timestamps in {name!r} are not in increasing order: {problem}; {advice}"
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
    """Read a CSV file into a numeric :class:`Series`, or raise a TableError.

    ``columns`` are the features (by default every numeric column but the
    timestamp and the labels); ``timestamp_column`` defaults to the first column
    named like a time, else the first that parses as dates; ``sep`` is sniffed
    when None; ``dayfirst`` reads dates such as ``01/02/2024`` (None: the only
    way every value parses). The errors name the column, row and value at fault.
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

    chosen = columns is not None
    if chosen:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise TableError(
                f"{path}: no column {', '.join(map(repr, missing))}; "
                f"{_columns_text(frame)}"
            )
    else:
        skip = {time_name} | {c for c in frame.columns if c.lower() in _LABEL_NAMES}
        columns = [c for c in frame.columns if c not in skip]
    selected = []
    for name in columns:
        if not pd.api.types.is_numeric_dtype(frame[name]):
            bad, n_numbers = _non_numbers(frame[name])
            # a text column that is mostly numbers has a typo, not text: say where
            if bad.any() and (chosen or n_numbers >= bad.sum()):
                raise _bad_cell(path, frame[name], bad)
            if not chosen:
                continue
        selected.append(name)
    if not selected and not chosen:
        raise TableError(f"{path}: no numeric feature column; {_columns_text(frame)}")
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


class TimestampOrder:
    """Refuse timestamps that arrive out of order, batch by batch, as
    :func:`read_series` does.

    Timestamps are numbers when the first one is. Dates such as ``01/02/2024``
    are read day first and month first, each reading dropped at its first value
    out of order; the column is refused when no reading is left.
    """

    def __init__(self, name):
        self.name = name
        self._numbers = None  # whether the timestamps are numbers (first value)
        self._last = None  # (line, text, {dayfirst: value}) of the last timestamp
        self._formats = {}  # {dayfirst: the format of that reading, or None}

    def check(self, lines, texts):
        """Raise a TableError at the first of ``texts`` (stripped timestamps, from
        the file's ``lines``) that does not parse or is out of order."""
        if not texts:
            return
        if self._numbers is None:
            self._numbers = _is_number(texts[0])
        readings = [False, True] if self._last is None else list(self._last[2])
        values = None
        if self._numbers or all(_ISO_NAIVE.match(text) for text in texts):
            try:  # one reading, whatever dayfirst says
                values = dict.fromkeys(readings, self._values(texts, None))
            except ValueError:  # numpy refuses 2024-02-30; pandas says more
                pass
        if values is None:
            formats = {d: self._format(texts[0], d) for d in readings}
            if len(set(formats.values())) == 1 and formats[readings[0]]:
                # a format such as 2024-01-31T12:00+01:00 that reads one way
                values = dict.fromkeys(readings, self._values(texts, readings[0]))
            else:
                values = {d: self._values(texts, d) for d in readings}
        first_bad = {}
        for dayfirst, (parsed, ok) in values.items():
            before = None if self._last is None else self._last[2][dayfirst]
            bad = ~ok
            bad[1:] |= parsed[1:] <= parsed[:-1]
            if before is not None:
                bad[0] |= parsed[0] <= before
            first_bad[dayfirst] = int(np.argmax(bad)) if bad.any() else len(texts)
        row = max(first_bad.values())
        if row < len(texts):  # every reading fails, the last at this row
            dayfirst = next(d for d, r in first_bad.items() if r == row)
            raise self._error(lines, texts, row, values[dayfirst][1][row])
        last = {d: values[d][0][-1] for d, r in first_bad.items() if r == len(texts)}
        self._last = (lines[-1], texts[-1], last)

    def _values(self, texts, dayfirst):
        """Return comparable values and which of them parsed (``dayfirst`` None:
        numbers, or ISO dates without a time zone)."""
        import warnings

        import pandas as pd

        if self._numbers:  # (whatever dayfirst says)
            values = np.asarray(pd.to_numeric(texts, errors="coerce"), np.float64)
            return values, np.isfinite(values)
        if dayfirst is None:  # numpy reads these 100 times faster than pandas
            values = np.array(texts, dtype="datetime64[us]").astype(np.int64)
            return values, np.ones(len(texts), dtype=bool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns when it infers a format
            values = _stamps(texts, dayfirst, self._formats.get(dayfirst))
            missing = values == _NAT
            if missing.any():  # another format than the first value's
                others = [text for text, m in zip(texts, missing, strict=True) if m]
                values[missing] = _stamps(others, dayfirst, "mixed")
        return values, values != _NAT

    def _format(self, text, dayfirst):
        """The format of the reading's first timestamp, guessed once (slow)."""
        if dayfirst not in self._formats:
            try:
                from pandas.tseries.api import guess_datetime_format
            except ImportError:  # pandas < 2.2: guess every time
                return None
            self._formats[dayfirst] = guess_datetime_format(text, dayfirst=dayfirst)
        return self._formats[dayfirst]

    def _error(self, lines, texts, row, parsed):
        line, text = lines[row], texts[row]
        if not parsed:
            kind = "a number" if self._numbers else "a date and time"
            return TableError(
                f"line {line}: the timestamp column {self.name!r} holds {text!r}, "
                f"not {kind}"
            )
        before = (lines[row - 1], texts[row - 1]) if row > 0 else self._last[:2]
        advice = "send the rows in time order, without repeated steps"
        return _out_of_order(self.name, "line", (line, text), before, advice)


# what numpy's datetime64 reads exactly as pandas does: no time zone, no 24:00
_ISO_NAIVE = re.compile(
    r"\d{4}-[01]\d-[0-3]\d([T ][0-2]\d:[0-5]\d(:[0-5]\d(\.\d{1,6})?)?)?\Z"
)


_NAT = np.iinfo(np.int64).min  # pandas' NaT as an int64


def _is_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _stamps(texts, dayfirst, format):
    """Microseconds since 1970 in UTC (naive as UTC), _NAT where a text fails."""
    import pandas as pd

    try:
        stamps = pd.to_datetime(
            texts, errors="coerce", dayfirst=dayfirst, utc=True, format=format
        )
    except (TypeError, ValueError, OverflowError):
        return np.full(len(texts), _NAT)
    return stamps.as_unit("us").asi8.copy()
