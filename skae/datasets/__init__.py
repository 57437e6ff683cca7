"""Labelled benchmark time series: NAB (some shipped) and SKAB (fetched).

Every loader returns a :class:`sklearn.utils.Bunch` with ``data``, per-step labels
``target`` (1 = anomaly) and ``train_size``, the benchmark's training prefix.
"""

from ._base import get_data_home
from ._nab import NAB_BASE_URL, fetch_nab, load_nab, nab_series_names
from ._skab import SKAB_BASE_URL, SKAB_TRAIN_SIZE, fetch_skab, skab_file_names

__all__ = [
    "NAB_BASE_URL",
    "SKAB_BASE_URL",
    "SKAB_TRAIN_SIZE",
    "fetch_nab",
    "fetch_skab",
    "get_data_home",
    "load_nab",
    "nab_series_names",
    "skab_file_names",
]
