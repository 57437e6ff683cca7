"""Orion's protocol on NAB: skae's own alarms as intervals, beside 14 pipelines.

Orion (MIT Data to AI Lab) benchmarks a pipeline by its own detected intervals:
on NAB's five datasets of its table (``artificialWithAnomaly``,
``realAWSCloudwatch``, ``realAdExchange``, ``realTraffic``, ``realTweets``; the
signals are the ``signal`` column of ``orion/orion-0.7.1-results.csv``) it fits
on the **whole series, anomalies included, and detects on the same series**.
A labelled interval (NAB's windows, ``combined_windows.json``, timestamps turned
into positions) that overlaps a detected interval is one TP, one that overlaps
none is one FN, and a detected interval that overlaps no labelled one is one FP;
the counts are summed over a dataset's signals and ``F1 = 2TP / (2TP + FP + FN)``
(see ``orion/README.md`` beside the data).

Here skae is fitted at its defaults (``random_state=--seed``) on each whole
series, ``predict`` flags the same series, and the flags become events: runs of
flagged steps, merged when at most ``--merge-gap`` unflagged steps separate them.
The per-dataset F1 is printed beside the 14 published pipelines (computed from
the csv as the README does).

The same event metric on the two clean-history protocols:

- NAB probationary: each of the 58 NAB series fitted on its probationary part
  (its first ``min(floor(0.15 * n), 750)`` steps), the rest detected; labelled
  windows are clipped to the detected part (a window wholly inside the
  probationary part is dropped);
- SKAB: each of the 34 files fitted on its first 400 rows, the rest detected;
  the labelled intervals are the runs of ``anomaly == 1``. The leaderboard's
  point-wise F1 and FAR are printed beside.

Every fit's errors are cached (``--cache``, one ``.npz`` per series and seed, not
in the repository), so a second run, and ``alarm_choice.py``, only recompute the
tables. Fits run on one torch thread (``--threads``).

Run from the repository root. The first run fits 137 detectors on one thread
(8,200 s on a shared two-core machine: 5,100 s for the 45 whole series, 2,400 s
for NAB's probationary parts, 700 s for SKAB); later runs read the cache and
take seconds::

    nice -n 10 python -m benchmarks.quality.orion
    nice -n 10 python -m benchmarks.quality.orion --merge-gap 32 --protocols orion
"""

import argparse
import copy
import csv
import sys
import time
from pathlib import Path

import numpy as np

ORION_DATASETS = (
    "artificialWithAnomaly",
    "realAWSCloudwatch",
    "realAdExchange",
    "realTraffic",
    "realTweets",
)
ORION_CSV = Path("orion") / "orion-0.7.1-results.csv"
# Orion's pipeline ids and the names its README uses.
PIPELINES = {
    "aer": "AER",
    "lstm_autoencoder": "LSTM autoencoder",
    "lstm_dynamic_threshold": "LSTM dynamic thresholding",
    "dense_autoencoder": "dense autoencoder",
    "tadgan": "TadGAN",
    "vae": "VAE",
    "arima": "ARIMA",
    "matrixprofile": "matrix profile",
    "anomaly_transformer": "AnomalyTransformer",
    "timesfm": "TimesFM",
    "units": "UniTS",
    "lnn": "LNN",
    "ganf": "GANF",
    "azure": "Azure",
}
PROTOCOLS = ("orion", "nab", "skab")
DEFAULT_CACHE = Path("/tmp/skae_alarm_cache")
# The flatline check's factor at skae's defaults (skae._flatlines.FLATLINE_FACTOR).
SKAB_TRAIN_ROWS = 400


# ------------------------------------------------------------------ published


def read_published(data_home):
    """Return Orion's table on the NAB datasets: signals and per-pipeline counts.

    Returns
    -------
    signals : dict
        Dataset name -> sorted list of its signals (NAB series names).
    counts : dict
        Pipeline id -> dataset -> ``(tp, fp, fn)`` summed over the signals.
    """
    path = Path(data_home) / ORION_CSV
    signals, counts = {}, {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            dataset = row["dataset"]
            if dataset not in ORION_DATASETS:
                continue
            signals.setdefault(dataset, set()).add(row["signal"])
            per_dataset = counts.setdefault(row["pipeline"], {})
            tp, fp, fn = per_dataset.get(dataset, (0, 0, 0))
            per_dataset[dataset] = (
                tp + int(float(row["tp"] or 0)),
                fp + int(float(row["fp"] or 0)),
                fn + int(float(row["fn"] or 0)),
            )
    return {name: sorted(signals[name]) for name in ORION_DATASETS}, counts


def f1_of(tp, fp, fn):
    """Return ``2 TP / (2 TP + FP + FN)``, 0 when all three are 0."""
    denominator = 2 * tp + fp + fn
    return 2 * tp / denominator if denominator else 0.0


# ------------------------------------------------------------------ labels


def runs(mask):
    """Return the inclusive ``(start, end)`` of each run of True, ``(n_runs, 2)``."""
    mask = np.asarray(mask, dtype=bool)
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return np.column_stack([starts, ends]).astype(np.int64)


def nab_intervals(bunch, first=0):
    """Return NAB's labelled windows as inclusive position intervals.

    Each window's positions are the steps whose timestamps lie inside it, as
    NAB's labeler has it; only steps from ``first`` on are kept, shifted so that
    ``first`` is position 0, and a window with no step left is dropped.
    """
    timestamps = bunch.timestamps[first:]
    intervals = []
    for start, end in bunch.windows:
        inside = np.flatnonzero((timestamps >= start) & (timestamps <= end))
        if inside.size:
            intervals.append((int(inside[0]), int(inside[-1])))
    return intervals


# ------------------------------------------------------------------ fits


# constructor arguments beside the defaults (alarm_choice.py's ``--skae``)
SKAE_PARAMS = {}


def _fit(X, seed):
    from skae import LSTMAutoencoderDetector

    params = {"random_state": seed, "n_threads": 1, **SKAE_PARAMS}
    return LSTMAutoencoderDetector(**params).fit(X)


def scored_parts(detector, X):
    """Return ``errors, stillness, scores`` of a fitted detector on a series ``X``.

    ``errors`` are the reconstruction errors without the flatline check,
    ``stillness`` each step's largest stillness, unweighted (zeros when the check
    is off; the check's score is ``threshold / log(FLATLINE_FACTOR)`` times it),
    and ``scores`` the detector's own, ``-score_samples(X)``.
    """
    from skae._flatlines import flatline_length, step_stillness

    X = np.asarray(X, dtype=np.float64)
    scores = -detector.score_samples(X)
    core = copy.copy(detector._core())  # the detector keeps its own core
    check = core.flatlines
    core.flatlines = None
    errors = core.errors(X)
    if check is None:
        return errors, np.zeros(len(errors)), scores
    length = flatline_length(detector.window_size_)
    stillness = step_stillness(core.scale(X), length, check[0]).max(axis=1)
    return errors, stillness, scores


def fit_record(X_fit, X_scored, seed):
    """Fit skae at its defaults on ``X_fit``; return what the studies need.

    Returns
    -------
    record : dict of ndarray
        ``heldout`` (the held-out errors the threshold is set from),
        ``fit_errors`` (errors of the whole fit data, without the flatline
        check), ``errors``, ``stillness`` and ``scores`` of ``X_scored`` (see
        :func:`scored_parts`), ``threshold``, ``window_size`` and
        ``fit_seconds``.
    """
    begin = time.perf_counter()
    detector = _fit(X_fit, seed)
    seconds = time.perf_counter() - begin
    errors, stillness, scores = scored_parts(detector, X_scored)
    return {
        "heldout": np.asarray(detector.heldout_errors_, dtype=np.float64),
        "fit_errors": scored_parts(detector, X_fit)[0],
        "errors": errors,
        "scores": scores,
        "stillness": stillness,
        "threshold": np.float64(detector.threshold_),
        "window_size": np.int64(detector.window_size_),
        "fit_seconds": np.float64(seconds),
    }


def cached_record(cache, protocol, name, seed, load, fit_missing=True):
    """Return :func:`fit_record` of one series, from ``cache`` or fitted now.

    ``load()`` returns ``(X_fit, X_scored, extra)``, with ``extra`` a dict of
    arrays kept beside the record (labels). Nothing is cached when ``cache`` is
    None; a series not in the cache is skipped (None) unless ``fit_missing``.
    """
    path = None
    if cache is not None:
        path = (
            Path(cache) / f"seed{seed}" / protocol / (name.replace("/", "__") + ".npz")
        )
        if path.exists():
            with np.load(path) as stored:
                return {key: stored[key] for key in stored.files}
    if not fit_missing:
        return None
    X_fit, X_scored, extra = load()
    record = {**fit_record(X_fit, X_scored, seed), **extra}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp.npz")
        np.savez(partial, **record)
        partial.replace(path)
    return record


def collect_orion(data_home, signals, seed, cache, fit_missing=True):
    """Fit each Orion signal on its whole series; return dataset -> records."""
    from benchmarks._harness import fetch_nab

    results = {}
    for dataset in ORION_DATASETS:
        records = []
        for signal in signals[dataset]:
            name = f"{dataset}/{signal}"

            def load(name=name):
                bunch = fetch_nab(name, data_home)
                labels = np.array(nab_intervals(bunch), dtype=np.int64).reshape(-1, 2)
                return bunch.data, bunch.data, {"labels": labels}

            record = cached_record(cache, "orion", name, seed, load, fit_missing)
            if record is None:
                continue
            record["name"] = name
            records.append(record)
            print(f"orion {name}: {float(record['fit_seconds']):.0f} s", flush=True)
        if records:
            results[dataset] = records
    return results


def collect_nab(data_home, seed, cache, fit_missing=True):
    """Fit each NAB series on its probationary part; return category -> records."""
    from benchmarks._harness import fetch_nab
    from skae.datasets import nab_series_names

    results = {}
    for name in nab_series_names():

        def load(name=name):
            bunch = fetch_nab(name, data_home)
            n = bunch.train_size
            labels = np.array(nab_intervals(bunch, n), dtype=np.int64).reshape(-1, 2)
            # the whole series is scored, so the first scored steps see the
            # probationary part in their windows, as in benchmarks.quality.nab
            return bunch.data[:n], bunch.data, {"labels": labels, "first": np.int64(n)}

        record = cached_record(cache, "nab", name, seed, load, fit_missing)
        if record is None:
            continue
        first = int(record["first"])
        for key in ("errors", "scores", "stillness"):
            record[key] = record[key][first:]
        record["name"] = name
        results.setdefault(name.split("/")[0], []).append(record)
    print(f"nab: {sum(map(len, results.values()))} series", flush=True)
    return results


def collect_skab(data_home, seed, cache, fit_missing=True):
    """Fit each SKAB file on its first 400 rows; return the records."""
    from benchmarks._harness import fetch_skab
    from skae.datasets import skab_file_names

    records = []
    for name in skab_file_names():

        def load(name=name):
            bunch = fetch_skab(name, data_home)
            n = bunch.train_size
            y = np.asarray(bunch.target[n:], dtype=np.int64)
            return bunch.data[:n], bunch.data[n:], {"y": y}

        record = cached_record(cache, "skab", name, seed, load, fit_missing)
        if record is None:
            continue
        record["name"] = name
        record["labels"] = runs(record["y"] == 1)
        records.append(record)
    print(f"skab: {len(records)} files", flush=True)
    return records


# ------------------------------------------------------------------ events


def flag_events(flags, merge_gap=0, scores=None):
    """Return skae's events of per-step flags as an ``(n_events, 2)`` array.

    The ``start`` and ``end`` (inclusive) of :func:`skae._events.flag_events`:
    runs of flagged steps, merged when at most ``merge_gap`` unflagged steps
    separate them; each event starts and ends on a flagged step.
    """
    from skae._events import flag_events as events_of

    flags = np.asarray(flags, dtype=bool)
    scores = np.zeros(len(flags)) if scores is None else scores
    table = events_of(flags, scores, merge_gap=merge_gap)
    return table[["start", "end"]].to_numpy(dtype=np.int64).reshape(-1, 2)


def detected_counts(record, flags, merge_gap):
    """Return Orion's overlap counts ``(tp, fp, fn)`` of one series' flags."""
    from skae.metrics import event_counts

    labels = np.asarray(record["labels"], dtype=np.int64).reshape(-1, 2)
    return np.array(event_counts(labels, flag_events(flags, merge_gap)))


def default_flags(record):
    """Return skae's own flags at its defaults (``predict`` of the scored data)."""
    return record["scores"] > record["threshold"]


# ------------------------------------------------------------------ tables


def orion_rows(results, published, flags_of, merge_gap):
    """Return the Orion-protocol table rows: skae first, then the 14 pipelines."""
    counts = {}
    for dataset, records in results.items():
        counts[dataset] = sum(
            detected_counts(r, flags_of(r), merge_gap) for r in records
        )
    rows = [
        [
            f"skae (defaults, merge gap {merge_gap})",
            *(
                f"{f1_of(*counts[d]):.3f} ({'/'.join(map(str, counts[d]))})"
                for d in ORION_DATASETS
            ),
        ]
    ]
    for pipeline, label in PIPELINES.items():
        per_dataset = published.get(pipeline, {})
        rows.append(
            [
                label,
                *(
                    f"{f1_of(*per_dataset[d]):.3f}" if d in per_dataset else "-"
                    for d in ORION_DATASETS
                ),
            ]
        )
    return rows


def pooled_counts(records, flags_of, merge_gap):
    """Return ``(tp, fp, fn)`` summed over ``records``."""
    return sum(
        (detected_counts(r, flags_of(r), merge_gap) for r in records),
        np.zeros(3, dtype=np.int64),
    )


def clean_rows(nab, skab, flags_of, merge_gap):
    """Return the clean-history rows: NAB probationary per category, SKAB."""
    from skae.metrics import skab_outlier_scores

    rows = []
    for category, records in [*sorted(nab.items()), ("all 58", sum(nab.values(), []))]:
        tp, fp, fn = pooled_counts(records, flags_of, merge_gap)
        rows.append(
            [f"NAB probationary {category}", f"{f1_of(tp, fp, fn):.3f}", tp, fp, fn, ""]
        )
    tp, fp, fn = pooled_counts(skab, flags_of, merge_gap)
    point = skab_outlier_scores(
        [r["y"] for r in skab], [flags_of(r).astype(int) for r in skab], anomaly_label=1
    )
    rows.append(
        [
            "SKAB (400 rows)",
            f"{f1_of(tp, fp, fn):.3f}",
            tp,
            fp,
            fn,
            f"F1 {point.f1:.3f}, FAR {point.far:.1f} %",
        ]
    )
    return rows


def main(argv=None):
    from benchmarks._harness import (
        add_data_home,
        machine_note,
        markdown_table,
        setup_torch,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_home(parser)
    parser.add_argument("--seed", type=int, default=0, help="random_state of the fits")
    parser.add_argument(
        "--merge-gap",
        type=int,
        nargs="+",
        default=[0, 32],
        help="unflagged steps that may separate the runs of one event",
    )
    parser.add_argument(
        "--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS)
    )
    parser.add_argument(
        "--cache",
        default=str(DEFAULT_CACHE),
        help="folder of the fits' errors ('none': fit without keeping them)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)

    threads = setup_torch(args.threads)
    cache = None if args.cache == "none" else Path(args.cache)
    begin = time.perf_counter()
    signals, published = read_published(args.data_home)
    orion = nab = skab = None
    if "orion" in args.protocols:
        orion = collect_orion(args.data_home, signals, args.seed, cache)
    if "nab" in args.protocols:
        nab = collect_nab(args.data_home, args.seed, cache)
    if "skab" in args.protocols:
        skab = collect_skab(args.data_home, args.seed, cache)
    seconds = time.perf_counter() - begin
    for merge_gap in args.merge_gap:
        if orion is not None:
            print(
                f"\nOrion's protocol (fit on the whole series, detect on it), "
                f"F1 per dataset (skae: TP/FP/FN), merge gap {merge_gap}:\n"
            )
            print(
                markdown_table(
                    ["pipeline", *ORION_DATASETS],
                    orion_rows(orion, published, default_flags, merge_gap),
                )
            )
        if nab is not None and skab is not None:
            print(f"\nClean-history protocols, event F1, merge gap {merge_gap}:\n")
            print(
                markdown_table(
                    ["protocol", "event F1", "TP", "FP", "FN", "point-wise"],
                    clean_rows(nab, skab, default_flags, merge_gap),
                )
            )
    fit_seconds = sum(
        float(r["fit_seconds"])
        for group in (orion or {}, nab or {})
        for records in group.values()
        for r in records
    ) + sum(float(r["fit_seconds"]) for r in skab or [])
    print(
        f"\n{machine_note()}; torch threads {threads}; seed {args.seed}; "
        f"run {seconds:.0f} s, fits {fit_seconds:.0f} s (cached fits count their "
        f"first run)\ncommand: python -m benchmarks.quality.orion "
        + " ".join(argv if argv is not None else sys.argv[1:])
    )


if __name__ == "__main__":
    sys.exit(main())
