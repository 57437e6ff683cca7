"""Loaders for the Numenta Anomaly Benchmark (NAB v1.1)."""

import json
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

from .._nab_scoring import _probationary_length
from ._base import _cached_file, _unknown_name_error
from ._checksums import NAB_SHA256

NAB_BASE_URL = "https://raw.githubusercontent.com/numenta/NAB/master/"
"""Where :func:`fetch_nab` downloads NAB files from (the repository's root)."""

_LABELS_PATH = "labels/combined_windows.json"
_SHIPPED_WINDOWS = "nab_combined_windows.json"

# "category/name" of the 58 series, from the checksum table.
_NAB_SERIES = tuple(
    sorted(
        key.removeprefix("data/").removesuffix(".csv")
        for key in NAB_SHA256
        if key.startswith("data/")
    )
)
_SHIPPED_SERIES = (
    "realKnownCause/ambient_temperature_system_failure",
    "realKnownCause/ec2_request_latency_system_failure",
    "realKnownCause/machine_temperature_system_failure",
    "realKnownCause/nyc_taxi",
)


def nab_series_names(category=None, *, shipped=False):
    """Return the names of the NAB series, as ``"category/name"`` strings.

    Parameters
    ----------
    category : str, default=None
        Keep only this category, e.g. ``"realKnownCause"``; None keeps all seven.
    shipped : bool, default=False
        If True, only the series that ship inside skae (see :func:`load_nab`).

    Returns
    -------
    names : list of str
        Sorted names such as ``"realKnownCause/nyc_taxi"``, 58 in all.
    """
    names = _SHIPPED_SERIES if shipped else _NAB_SERIES
    if category is not None:
        categories = sorted({name.split("/")[0] for name in _NAB_SERIES})
        if category not in categories:
            raise _unknown_name_error("NAB category", category, categories)
        names = [name for name in names if name.split("/")[0] == category]
    return list(names)


def _resolve(name, valid, hint=""):
    """Map ``name`` (with or without category and ``.csv``) to "category/name"."""
    if not isinstance(name, str):
        raise TypeError(f"The series name must be a str, got {type(name).__name__}.")
    stem = name.removesuffix(".csv")
    for full in valid:
        if stem in (full, full.split("/", 1)[1]):
            return full
    raise ValueError(str(_unknown_name_error("NAB series", name, valid)) + hint)


def _make_bunch(csv_file, windows, full_name, filename):
    import pandas as pd

    frame = pd.read_csv(csv_file, index_col="timestamp", parse_dates=["timestamp"])
    timestamps = frame.index
    windows = [(pd.Timestamp(start), pd.Timestamp(end)) for start, end in windows]
    # Labels by timestamp, as NAB's labeler does; a few series have repeated or
    # out-of-order timestamps (daylight saving), so no searchsorted here.
    target = np.zeros(len(frame), dtype=np.int64)
    for start, end in windows:
        target[(timestamps >= start) & (timestamps <= end)] = 1
    category, name = full_name.split("/")
    return Bunch(
        data=frame.to_numpy(dtype=np.float64),
        frame=frame,
        target=target,
        timestamps=timestamps,
        feature_names=list(frame.columns),
        windows=windows,
        train_size=_probationary_length(len(frame)),
        name=name,
        category=category,
        filename=str(filename),
        DESCR=(
            f"NAB v1.1 series {full_name}: {len(frame)} time steps, "
            f"{len(windows)} labelled anomaly windows. The first train_size steps "
            "are NAB's probationary period (not scored)."
        ),
    )


def load_nab(name="machine_temperature_system_failure"):
    """Load one of the NAB series that ship inside skae (no download).

    Four ``realKnownCause`` series ship under NAB's MIT licence; see
    ``nab_series_names(shipped=True)``.

    Parameters
    ----------
    name : str, default="machine_temperature_system_failure"
        The series, with or without ``"realKnownCause/"`` and ``".csv"``.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Dictionary-like object with the following attributes.

        data : ndarray of shape (n_timesteps, 1)
            The series, float64.
        frame : pandas.DataFrame of shape (n_timesteps, 1)
            The same values in column ``"value"``, indexed by timestamp.
        target : ndarray of shape (n_timesteps,)
            1 inside a labelled anomaly window (ends included), 0 elsewhere.
        timestamps : pandas.DatetimeIndex of shape (n_timesteps,)
            The time of each step (a few NAB series repeat timestamps).
        feature_names : list of str
            ``["value"]``.
        windows : list of (pandas.Timestamp, pandas.Timestamp)
            The labelled anomaly windows ``[start, end]``.
        train_size : int
            NAB's probationary period, ``min(floor(0.15 * n_timesteps), 750)``
            steps, which a detector may learn from and which are not scored.
        name, category : str
            The series name and its NAB category, e.g. ``"realKnownCause"``.
        filename : str
            Where the values were read from.
        DESCR : str
            A one-line description.

    Raises
    ------
    ValueError
        If ``name`` is not a shipped series.

    See Also
    --------
    fetch_nab : Any of the 58 NAB series, from a local copy or downloaded.

    Examples
    --------
    >>> from skae.datasets import load_nab
    >>> nab = load_nab()
    >>> nab.data.shape, int(nab.target.sum()), nab.train_size
    ((22695, 1), 2268, 750)
    """
    full_name = _resolve(
        name, _SHIPPED_SERIES, " Use skae.datasets.fetch_nab for the other NAB series."
    )
    data = resources.files(__package__) / "data"
    with (data / _SHIPPED_WINDOWS).open("r", encoding="utf-8") as file:
        windows = json.load(file)[full_name + ".csv"]
    csv = data / (full_name.split("/")[1] + ".csv")
    with csv.open("rb") as file:
        return _make_bunch(file, windows, full_name, csv)


def fetch_nab(name, *, data_home=None, download_if_missing=True, base_url=None):
    """Load a NAB series from the local cache, downloading it if needed.

    The cache is laid out like the NAB repository (``NAB/data/<category>/``
    and ``NAB/labels/``), so a clone works offline. A missing file is
    downloaded, checked against its SHA-256 and written atomically.

    Parameters
    ----------
    name : str
        The series, with or without its category and ``".csv"``: see
        :func:`nab_series_names`.
    data_home : str or path-like, default=None
        The cache folder; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        If False, a missing file raises ``FileNotFoundError`` instead.
    base_url : str, default=None
        The root of the repository to download from (``file://`` works);
        None means ``NAB_BASE_URL``.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        As for :func:`load_nab`.

    Raises
    ------
    ValueError
        If ``name`` is not a NAB series.
    FileNotFoundError
        If a file is missing and ``download_if_missing=False``.
    OSError
        If a download fails or its checksum does not match.

    Examples
    --------
    >>> from skae.datasets import fetch_nab
    >>> nab = fetch_nab("nyc_taxi")  # doctest: +SKIP
    >>> len(nab.windows)  # doctest: +SKIP
    5
    """
    full_name = _resolve(name, _NAB_SERIES)
    base_url = NAB_BASE_URL if base_url is None else base_url
    labels, csv = (
        _cached_file(data_home, "NAB", path, NAB_SHA256, base_url, download_if_missing)
        for path in (_LABELS_PATH, f"data/{full_name}.csv")
    )
    with open(labels, encoding="utf-8") as file:
        windows = json.load(file)[full_name + ".csv"]
    return _make_bunch(csv, windows, full_name, csv)
