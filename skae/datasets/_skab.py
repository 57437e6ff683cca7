"""Loader for the Skoltech Anomaly Benchmark (SKAB v0.9), licensed GPL-3.0:
skae ships only its checksums, and reads a local copy or downloads it."""

import numpy as np
from sklearn.utils import Bunch

from ._base import _cached_file, _unknown_name_error
from ._checksums import SKAB_SHA256

SKAB_BASE_URL = "https://raw.githubusercontent.com/waico/SKAB/master/"
"""Where :func:`fetch_skab` downloads SKAB files from (the repository's root)."""

SKAB_TRAIN_SIZE = 400
"""Rows at the start of each SKAB file that its leaderboard uses for training."""

_ANOMALY_FREE = "anomaly-free/anomaly-free"
_SKAB_FILES = tuple(
    key.removeprefix("data/").removesuffix(".csv") for key in SKAB_SHA256
)
_LEADERBOARD_FILES = tuple(name for name in _SKAB_FILES if name != _ANOMALY_FREE)


def skab_file_names(*, include_anomaly_free=False):
    """Return the names of the SKAB files, such as ``"valve1/0"``.

    Parameters
    ----------
    include_anomaly_free : bool, default=False
        If True, add ``"anomaly-free/anomaly-free"``, the one file without
        anomalies, which is not part of the leaderboard.

    Returns
    -------
    names : list of str
        The 34 leaderboard files, from ``"other/1"`` to ``"valve2/3"``.
    """
    return list(_SKAB_FILES if include_anomaly_free else _LEADERBOARD_FILES)


def fetch_skab(name, *, data_home=None, download_if_missing=True, base_url=None):
    """Load a SKAB file from the local cache, downloading it if needed.

    As :func:`fetch_nab`, with the cache laid out like the SKAB repository. The
    leaderboard trains on each file's first ``train_size`` rows and sums
    :func:`skae.metrics.skab_outlier_scores` over the 34 test parts.

    Parameters
    ----------
    name : str
        The file, such as ``"valve1/0"`` (``".csv"`` and a leading ``"data/"``
        are accepted), or ``"anomaly-free"``; see :func:`skab_file_names`.
    data_home, download_if_missing, base_url
        As for :func:`fetch_nab`; ``base_url`` defaults to ``SKAB_BASE_URL``.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Dictionary-like object with the following attributes.

        data : ndarray of shape (n_timesteps, 8)
            The eight sensor readings, one row per second, float64.
        frame : pandas.DataFrame of shape (n_timesteps, 8)
            The same values, indexed by timestamp (``"datetime"``).
        target : ndarray of shape (n_timesteps,)
            The ``anomaly`` column: 1 = anomaly, 0 = normal.
        changepoint : ndarray of shape (n_timesteps,)
            1 where a collective anomaly starts or ends.
        timestamps : pandas.DatetimeIndex of shape (n_timesteps,)
            The time of each row.
        feature_names : list of str
            The eight sensor column names.
        train_size : int
            ``SKAB_TRAIN_SIZE`` (400), or the whole length of
            ``"anomaly-free"``. ``"other/2"`` has anomalies in its first 400.
        name, filename : str
            The canonical name, e.g. ``"valve1/0"``, and the local file read.
        DESCR : str
            A one-line description.

    Raises
    ------
    ValueError
        If ``name`` is not a SKAB file.
    FileNotFoundError, OSError
        As for :func:`fetch_nab`.

    Examples
    --------
    >>> from skae.datasets import fetch_skab
    >>> skab = fetch_skab("valve1/0")  # doctest: +SKIP
    >>> skab.data.shape, skab.train_size  # doctest: +SKIP
    ((1147, 8), 400)
    """
    import pandas as pd

    full_name = _resolve(name)
    path = _cached_file(
        data_home,
        "SKAB",
        f"data/{full_name}.csv",
        SKAB_SHA256,
        SKAB_BASE_URL if base_url is None else base_url,
        download_if_missing,
    )
    frame = pd.read_csv(path, sep=";", index_col="datetime", parse_dates=["datetime"])
    n_timesteps = len(frame)

    def column(label):
        if label not in frame:  # the anomaly-free file has no label columns
            return np.zeros(n_timesteps, dtype=np.int64)
        return frame.pop(label).to_numpy().astype(np.int64)

    target = column("anomaly")
    changepoint = column("changepoint")
    anomaly_free = full_name == _ANOMALY_FREE
    protocol = "Leaderboard protocol: train on the first 400 rows, test on the rest."
    if anomaly_free:
        protocol = "No anomalies; not part of the leaderboard."
    return Bunch(
        data=frame.to_numpy(dtype=np.float64),
        frame=frame,
        target=target,
        changepoint=changepoint,
        timestamps=frame.index,
        feature_names=list(frame.columns),
        train_size=n_timesteps if anomaly_free else SKAB_TRAIN_SIZE,
        name=full_name,
        filename=str(path),
        DESCR=(
            f"SKAB v0.9 file {full_name}: {n_timesteps} rows at 1 Hz, "
            f"{int(target.sum())} anomalous. {protocol}"
        ),
    )


def _resolve(name):
    if not isinstance(name, str):
        raise TypeError(f"The file name must be a str, got {type(name).__name__}.")
    stem = name.removeprefix("data/").removesuffix(".csv")
    if stem == "anomaly-free":
        stem = _ANOMALY_FREE
    if stem not in _SKAB_FILES:
        raise _unknown_name_error("SKAB file", name, _SKAB_FILES)
    return stem
