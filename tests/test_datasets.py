"""skae.datasets: shipped NAB series, cached NAB/SKAB files, checked downloads."""

import hashlib
import json
import shutil
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from skae.datasets import (
    fetch_nab,
    fetch_skab,
    get_data_home,
    load_nab,
    nab_series_names,
    skab_file_names,
)
from skae.datasets._checksums import NAB_SHA256, SKAB_SHA256

SHIPPED_DATA = resources.files("skae.datasets") / "data"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------
# shipped NAB series


def test_load_nab_default_is_machine_temperature():
    nab = load_nab()
    assert nab.name == "machine_temperature_system_failure"
    assert nab.category == "realKnownCause"
    assert nab.data.shape == (22695, 1)
    assert nab.data.dtype == np.float64
    assert nab.target.shape == (22695,)
    assert nab.target.dtype.kind == "i"
    assert set(np.unique(nab.target)) == {0, 1}
    assert nab.feature_names == ["value"]
    assert isinstance(nab.frame, pd.DataFrame)
    assert isinstance(nab.timestamps, pd.DatetimeIndex)
    np.testing.assert_array_equal(nab.frame.to_numpy(), nab.data)
    assert nab.data[0, 0] == pytest.approx(73.967322)
    # min(floor(0.15 * 22695), 750)
    assert nab.train_size == 750
    assert len(nab.windows) == 4
    assert nab.windows[0] == (
        pd.Timestamp("2013-12-10 06:25:00"),
        pd.Timestamp("2013-12-12 05:35:00"),
    )
    # each window's steps (both ends included) are labelled, nothing else
    assert nab.target.sum() == 2268
    start, end = nab.windows[0]
    first = np.flatnonzero(nab.timestamps == start)[0]
    last = np.flatnonzero(nab.timestamps == end)[0]
    assert nab.target[first] == 1 and nab.target[first - 1] == 0
    assert nab.target[last] == 1 and nab.target[last + 1] == 0


@pytest.mark.parametrize(
    "name, n_timesteps, n_windows, train_size",
    [
        ("ambient_temperature_system_failure", 7267, 2, 750),
        ("realKnownCause/ec2_request_latency_system_failure", 4032, 3, 604),
        ("realKnownCause/nyc_taxi.csv", 10320, 5, 750),
        ("nyc_taxi.csv", 10320, 5, 750),
    ],
)
def test_load_nab_shipped_series(name, n_timesteps, n_windows, train_size):
    nab = load_nab(name)
    assert nab.data.shape == (n_timesteps, 1)
    assert len(nab.windows) == n_windows
    assert nab.train_size == train_size
    # the target is exactly the union of the windows
    expected = np.zeros(n_timesteps, dtype=int)
    for start, end in nab.windows:
        expected[(nab.timestamps >= start) & (nab.timestamps <= end)] = 1
    np.testing.assert_array_equal(nab.target, expected)


def test_load_nab_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="nyc_taxi.*fetch_nab"):
        load_nab("art_noisy")
    with pytest.raises(TypeError, match="str"):
        load_nab(3)


def test_shipped_files_match_checksums_and_size_budget():
    total = 0
    for name in nab_series_names(shipped=True):
        path = SHIPPED_DATA / (name.split("/")[1] + ".csv")
        assert sha256(path) == NAB_SHA256[f"data/{name}.csv"], name
        total += len(path.read_bytes())
    license_text = (SHIPPED_DATA / "NAB-LICENSE.txt").read_text()
    assert "Numenta" in license_text and "NAB) v1.1" in license_text
    assert total < 1.5e6


def test_shipped_windows_equal_nab_labels(shared_data):
    shipped = json.loads((SHIPPED_DATA / "nab_combined_windows.json").read_text())
    public = json.loads((shared_data / "NAB/labels/combined_windows.json").read_text())
    assert sorted(shipped) == [f"{n}.csv" for n in nab_series_names(shipped=True)]
    for key, windows in shipped.items():
        assert windows == public[key]


# --------------------------------------------------------------------------
# names and checksums


def test_nab_series_names():
    names = nab_series_names()
    assert len(names) == 58 == len(set(names))
    assert names == sorted(names)
    assert len({name.split("/")[0] for name in names}) == 7
    assert len({name.split("/")[1] for name in names}) == 58  # short names unique
    assert nab_series_names("artificialNoAnomaly") == [
        "artificialNoAnomaly/art_daily_no_noise",
        "artificialNoAnomaly/art_daily_perfect_square_wave",
        "artificialNoAnomaly/art_daily_small_noise",
        "artificialNoAnomaly/art_flatline",
        "artificialNoAnomaly/art_noisy",
    ]
    assert set(nab_series_names(shipped=True)) < set(names)
    with pytest.raises(ValueError, match="realKnownCause"):
        nab_series_names("realKnown")


def test_skab_file_names():
    names = skab_file_names()
    assert len(names) == 34
    assert "anomaly-free/anomaly-free" not in names
    assert names[:3] == ["other/1", "other/2", "other/3"]
    assert names[14:17] == ["valve1/0", "valve1/1", "valve1/2"]
    assert names[-1] == "valve2/3"
    assert len(skab_file_names(include_anomaly_free=True)) == 35


def test_checksum_tables_match_public_files(shared_data):
    for table, root in ((NAB_SHA256, "NAB"), (SKAB_SHA256, "SKAB")):
        on_disk = {
            str(p.relative_to(shared_data / root))
            for p in (shared_data / root).glob("data/**/*.csv")
        }
        assert on_disk <= set(table) and len(on_disk) == len(
            [k for k in table if k.startswith("data/")]
        )
        for relative_path, expected in table.items():
            assert sha256(shared_data / root / relative_path) == expected


# --------------------------------------------------------------------------
# reading a local copy


def test_fetch_nab_offline_matches_load_nab(shared_data):
    fetched = fetch_nab(
        "realKnownCause/nyc_taxi", data_home=shared_data, download_if_missing=False
    )
    shipped = load_nab("nyc_taxi")
    np.testing.assert_array_equal(fetched.data, shipped.data)
    np.testing.assert_array_equal(fetched.target, shipped.target)
    assert fetched.windows == shipped.windows
    assert fetched.filename.endswith("NAB/data/realKnownCause/nyc_taxi.csv")


def test_fetch_nab_series_without_anomalies(shared_data):
    nab = fetch_nab("art_noisy", data_home=shared_data, download_if_missing=False)
    assert nab.category == "artificialNoAnomaly"
    assert nab.windows == [] and nab.target.sum() == 0
    assert nab.train_size == 604  # floor(0.15 * 4032)


def test_fetch_skab_offline(shared_data):
    skab = fetch_skab("valve1/0", data_home=shared_data, download_if_missing=False)
    assert skab.name == "valve1/0"
    assert skab.data.shape == (1147, 8) and skab.data.dtype == np.float64
    assert skab.feature_names == [
        "Accelerometer1RMS",
        "Accelerometer2RMS",
        "Current",
        "Pressure",
        "Temperature",
        "Thermocouple",
        "Voltage",
        "Volume Flow RateRMS",
    ]
    assert list(skab.frame.columns) == skab.feature_names
    assert skab.frame.index.name == "datetime"
    assert skab.train_size == 400
    assert skab.target.dtype.kind == "i" and skab.target.sum() == 401
    assert skab.changepoint.sum() == 4
    assert skab.data[0, 0] == pytest.approx(0.0265878)
    assert skab.timestamps[0] == pd.Timestamp("2020-03-09 10:14:33")


def test_fetch_skab_accepts_path_forms_and_anomaly_free(shared_data):
    a = fetch_skab("data/other/2.csv", data_home=shared_data, download_if_missing=False)
    assert a.name == "other/2"
    assert a.target[: a.train_size].any()  # the known oddity of other/2
    free = fetch_skab("anomaly-free", data_home=shared_data, download_if_missing=False)
    assert free.name == "anomaly-free/anomaly-free"
    assert free.target.sum() == 0 and free.changepoint.sum() == 0
    assert free.train_size == len(free.data) == 9405
    with pytest.raises(ValueError, match="valve1/0"):
        fetch_skab("valve3/1", data_home=shared_data)


def test_data_home_from_environment(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv("SKAE_DATA", str(shared_data))
    assert get_data_home() == shared_data
    assert fetch_skab("valve2/1", download_if_missing=False).data.shape[1] == 8
    assert get_data_home(tmp_path) == tmp_path
    monkeypatch.delenv("SKAE_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == tmp_path / "skae_data"


def test_missing_file_without_download_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"SKAB[/\\]data[/\\]valve1[/\\]3\.csv"):
        fetch_skab("valve1/3", data_home=tmp_path, download_if_missing=False)
    with pytest.raises(OSError, match="combined_windows.json"):
        fetch_nab("nyc_taxi", data_home=tmp_path, download_if_missing=False)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# downloads (from file:// URLs, no network)


def test_download_checks_checksum_and_never_downloads_twice(shared_data, tmp_path):
    nab = fetch_nab(
        "art_daily_jumpsup",
        data_home=tmp_path,
        base_url=(shared_data / "NAB").as_uri(),
    )
    csv = tmp_path / "NAB/data/artificialWithAnomaly/art_daily_jumpsup.csv"
    labels = tmp_path / "NAB/labels/combined_windows.json"
    assert sha256(csv) == NAB_SHA256["data/artificialWithAnomaly/art_daily_jumpsup.csv"]
    assert sha256(labels) == NAB_SHA256["labels/combined_windows.json"]
    assert nab.target.sum() > 0 and nab.filename == str(csv)
    # no temporary files left behind
    assert sorted(p.name for p in csv.parent.iterdir()) == [csv.name]

    # present files are used as they are: an unreachable URL does not matter
    modified = csv.stat().st_mtime_ns
    again = fetch_nab(
        "art_daily_jumpsup", data_home=tmp_path, base_url="file:///nowhere"
    )
    np.testing.assert_array_equal(again.data, nab.data)
    assert csv.stat().st_mtime_ns == modified

    skab = fetch_skab(
        "valve2/0", data_home=tmp_path, base_url=(shared_data / "SKAB").as_uri()
    )
    downloaded = tmp_path / "SKAB/data/valve2/0.csv"
    assert sha256(downloaded) == SKAB_SHA256["data/valve2/0.csv"]
    assert skab.data.shape[1] == 8


def test_checksum_mismatch_leaves_no_file(shared_data, tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "data/valve1").mkdir(parents=True)
    source = shared_data / "SKAB/data/valve1/5.csv"
    (mirror / "data/valve1/5.csv").write_bytes(source.read_bytes() + b"tampered\n")
    cache = tmp_path / "cache"
    with pytest.raises(OSError, match="SHA-256"):
        fetch_skab("valve1/5", data_home=cache, base_url=mirror.as_uri())
    folder = cache / "SKAB/data/valve1"
    assert list(folder.iterdir()) == []

    # a failed download (nothing at the URL) leaves nothing either
    with pytest.raises(OSError, match="Could not download"):
        fetch_skab("valve1/6", data_home=cache, base_url=mirror.as_uri())
    assert list(folder.iterdir()) == []

    # the untampered file downloads fine into the same cache
    shutil.copy(source, mirror / "data/valve1/5.csv")
    fetch_skab("valve1/5", data_home=cache, base_url=mirror.as_uri())
    assert [p.name for p in folder.iterdir()] == ["5.csv"]
