"""Which rule turns errors into alarms when the fit data may hold anomalies (issue 23).

One detector per series is fitted at skae's defaults and its errors are kept
(:mod:`benchmarks.quality.orion` caches them, one file per series), on four sets:

- Orion's protocol on NAB's five datasets of Orion's table (45 series, fitted
  on the whole series, anomalies included, and detected on the same series);
- NAB probationary (58 series fitted on the probationary part, the rest
  detected);
- SKAB (34 files fitted on the first 400 rows, the rest detected);
- the planted-anomaly benchmark (:mod:`benchmarks.quality.planted`: 8 bases,
  about 60 test copies each with one planted event).

Every candidate rule is then computed from the same errors, without fitting
again. A rule sees only what a fit sees: the held-out errors (the last
``validation_fraction`` of the fit data) and the errors of all the fit data,
in time order; never the scored data (for Orion's protocol the two are the
same series, as Orion has it). The flatline check is applied as skae does, with
the rule's threshold in its weight. Candidates:

- ``above_heldout``: today's default, the larger of ``mu + 6 sigma`` and
  ``max + (max - median)`` of the held-out errors;
- ``mean_k_sigma``: ``mu + k sigma`` of the held-out errors, or of all fit
  errors (training and held-out parts together);
- ``median + k MAD`` (MAD scaled by 1.4826 to a normal sigma), of the held-out
  or of all fit errors;
- trimmed ``mu + k sigma``: the statistics of the fit errors below their
  ``1 - trim`` quantile;
- a contamination estimate: ``q + m (q - median)`` with ``q`` the ``1 - c``
  quantile of the fit errors (``c`` the assumed share of anomalies);
- Hundman et al. (KDD 2018) on the fit errors: of the thresholds ``mu + z
  sigma`` (``z`` from 2 to 10 by 0.5), the one whose removal of the errors above
  it lowers the mean and std the most per removed point and sequence, ``(d mu /
  mu + d sigma / sigma) / (n_above + n_sequences ** 2)``; optionally with the
  pruning of weak anomalies: the sequences above it, ordered by their peak
  error (with the largest error below it appended), are kept down to the last
  drop of more than ``min_percent``, and the threshold is raised to the peak of
  the largest sequence pruned, so that new data are judged the same way;
- Orion's fixed threshold, ``mu + 4 sigma`` of the fit errors, with the same
  pruning;
- ``above_heldout`` of the held-out errors without their outlying runs (the
  run around the largest error, widened by a window, is dropped while that
  error stands more than twice as far above the median as any other);
- combinations: the smaller of ``above_heldout`` and a cap from all fit errors
  (it only lowers a threshold that anomalies in the held-out part pushed up),
  and the larger of ``mu + 6 sigma`` of all fit errors and a held-out figure.

Each rule is crossed with the merge gap that turns flags into events (runs of
flags separated by at most that many unflagged steps are one event).

Printed per candidate: the Orion-protocol F1 of each NAB dataset, how many
reach Orion's LSTM autoencoder and AER, and the share of the Orion series'
normal (unlabelled) steps that lie inside detected events (what a large merge
gap costs: an event spans the gaps it merged); NAB-probationary event F1 (58
series, pooled); SKAB's point-wise F1 and FAR (the leaderboard's) and event
F1; the planted events caught and normal steps flagged, and the bases at 90 %
of events and at most 1 % of normal steps. Event counts are Orion's overlap
rule (:func:`skae.metrics.event_counts`).

Run from the repository root (the fits are those of ``orion.py`` plus 8 planted
bases, about 2.5 hours on one thread the first time; the table takes 15 s once
they are cached)::

    nice -n 10 python -m benchmarks.quality.alarm_choice
    nice -n 10 python -m benchmarks.quality.alarm_choice --merge-gaps 32 --sets skab nab
    nice -n 10 python -m benchmarks.quality.alarm_choice --cached-only
"""

import argparse
import json
import math
import pickle
import sys
import time
from pathlib import Path

import numpy as np

# MAD of a normal distribution, times this, is its standard deviation.
MAD_TO_SIGMA = 1.4826
HUNDMAN_Z = np.arange(2.0, 10.01, 0.5)


# ------------------------------------------------------------------ planted


def collect_planted(
    data_home, seed, cache, n_train=2000, n_repeats=3, fit_missing=True
):
    """Fit each planted base once at the defaults; return base -> record.

    A record holds ``heldout``, ``fit_errors``, ``window_size`` and ``copies``:
    one dict per test copy with ``kind``, ``length``, ``start``, ``errors`` and
    ``stillness`` (see :func:`benchmarks.quality.orion.scored_parts`).
    """
    from benchmarks.quality._data import planted_bases, planted_copies
    from benchmarks.quality.orion import _fit, scored_parts

    results = {}
    for base in planted_bases(data_home):
        path = None
        if cache is not None:
            name = base.name.replace(" ", "_") + ".pkl"
            path = Path(cache) / f"seed{seed}" / "planted" / name
            if path.exists():
                results[base.name] = pickle.loads(path.read_bytes())
                continue
        if not fit_missing:
            continue
        begin = time.perf_counter()
        n = base.train_length(n_train)
        train = base.train(n)[:, None]
        detector = _fit(train, seed)
        copies = []
        for kind, length, values, start in planted_copies(base, n, train, n_repeats):
            errors, stillness, _ = scored_parts(detector, values)
            copies.append(
                {
                    "kind": kind,
                    "length": length,
                    "start": start,
                    "errors": errors,
                    "stillness": stillness,
                }
            )
        record = {
            "heldout": np.asarray(detector.heldout_errors_, dtype=np.float64),
            "fit_errors": scored_parts(detector, train)[0],
            "threshold": detector.threshold_,
            "window_size": detector.window_size_,
            "copies": copies,
            "fit_seconds": time.perf_counter() - begin,
        }
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(record))
        results[base.name] = record
        print(f"planted {base.name}: {record['fit_seconds']:.0f} s", flush=True)
    return results


# ------------------------------------------------------------------ rules


def median_mad(errors, k):
    """Return ``median + k * 1.4826 * MAD`` of ``errors``."""
    median = float(np.median(errors))
    mad = MAD_TO_SIGMA * float(np.median(np.abs(errors - median)))
    return median + k * max(mad, 1e-3 * abs(median))


def log_median_mad(errors, k):
    """Return :func:`median_mad` of ``log(errors)``, back in error units.

    Squared errors are skewed (a chi-square-like bulk with a long tail); on a log
    scale the bulk is closer to symmetric, so ``k`` reads as a number of sigmas.
    """
    floor = max(float(np.max(errors)) * 1e-12, 1e-300)
    logs = np.log(np.maximum(errors, floor))
    median = float(np.median(logs))
    mad = MAD_TO_SIGMA * float(np.median(np.abs(logs - median)))
    return float(np.exp(median + k * mad))


def trimmed_k_sigma(errors, trim, k):
    """Return ``mu + k sigma`` of the errors below their ``1 - trim`` quantile."""
    from skae._threshold import mean_k_sigma

    return mean_k_sigma(errors[errors <= np.quantile(errors, 1.0 - trim)], k)[2]


def _peaks(errors, above, merge_gap):
    """Return the peak error of each event of the flags ``above``."""
    from benchmarks.quality.orion import flag_events

    events = flag_events(above, merge_gap)
    return np.array([errors[s : e + 1].max() for s, e in events])


def hundman_epsilon(errors, z_values=HUNDMAN_Z):
    """Return Hundman et al.'s nonparametric threshold of ``errors`` (time order).

    Of ``mu + z sigma`` for each ``z``, the one that maximises
    ``(d mu / mu + d sigma / sigma) / (n_above + n_sequences ** 2)``, where
    ``d mu`` and ``d sigma`` are the drops of the mean and standard deviation
    when the errors above it are removed, ``n_above`` their number and
    ``n_sequences`` the runs they form. ``mu + max(z) sigma`` when no ``z``
    leaves an error above.
    """
    from benchmarks.quality.orion import runs

    mu, sigma = float(np.mean(errors)), float(np.std(errors))
    if sigma <= 1e-12 * max(abs(mu), 1e-300):
        return mu + z_values[-1] * max(sigma, 1e-3 * abs(mu))
    best, epsilon = -np.inf, mu + z_values[-1] * sigma
    for z in z_values:
        candidate = mu + z * sigma
        above = errors > candidate
        n_above = int(above.sum())
        if n_above == 0 or n_above == errors.size:
            continue
        below = errors[~above]
        gain = (mu - below.mean()) / mu + (sigma - below.std()) / sigma
        score = gain / (n_above + len(runs(above)) ** 2)
        if score > best:
            best, epsilon = score, candidate
    return epsilon


def prune(errors, epsilon, min_percent, merge_gap):
    """Return ``epsilon`` raised above the peaks of the weak anomalies of ``errors``.

    The events above ``epsilon`` (runs merged by ``merge_gap``) are ordered by
    their peak, the largest error below ``epsilon`` is appended, and the events
    are kept down to the last one whose peak is more than ``min_percent`` above
    the next; the threshold becomes the largest peak pruned (``epsilon`` when
    none is).
    """
    above = errors > epsilon
    if not above.any():
        return epsilon
    peaks = np.sort(_peaks(errors, above, merge_gap))[::-1]
    below = errors[~above]
    sequence = np.r_[peaks, below.max() if below.size else 0.0]
    drops = (sequence[:-1] - sequence[1:]) / sequence[:-1]
    strong = np.flatnonzero(drops > min_percent)
    n_kept = strong[-1] + 1 if strong.size else 0
    if n_kept == len(peaks):
        return epsilon
    return float(peaks[n_kept])


def without_outlying_runs(errors, ratio, pad, max_removed=0.25):
    """Return ``errors`` without their outlying runs, the largest first.

    The run (above the errors' 90th percentile, widened by ``pad`` steps on
    each side) around the largest error left is removed while that error stands
    more than ``ratio`` times as far above the median as the largest error
    outside the run, and at most ``max_removed`` of the errors go.
    """
    n = errors.size
    keep = np.ones(n, dtype=bool)
    median, level = float(np.median(errors)), float(np.quantile(errors, 0.9))
    high = np.r_[False, errors > level, False]
    starts = np.flatnonzero(np.diff(high.astype(np.int8)) == 1)
    while True:
        peak = int(np.flatnonzero(keep)[np.argmax(errors[keep])])
        run = np.searchsorted(starts, peak, side="right") - 1
        begin = starts[run] if errors[peak] > level else peak
        end = peak
        while end + 1 < n and errors[end + 1] > level:
            end += 1
        region = np.zeros(n, dtype=bool)
        region[max(begin - pad, 0) : end + pad + 1] = True
        rest = keep & ~region
        if rest.sum() < (1.0 - max_removed) * n:
            return errors[keep]
        if errors[peak] - median <= ratio * (errors[rest].max() - median):
            return errors[keep]
        keep = rest


def above(errors):
    """Return today's ``above_heldout`` rule of ``errors`` (any errors)."""
    from skae._threshold import threshold_from_heldout

    return threshold_from_heldout(errors, "above_heldout")[0]


def candidate_rules():
    """Return ``[(label, rule)]``: ``rule(record, merge_gap) -> threshold``.

    ``record["heldout"]`` are the held-out errors and ``record["fit_errors"]``
    the errors of all the fit data, in time order.
    """
    from skae._threshold import mean_k_sigma

    def held(r):
        return r["heldout"]

    def fit(r):
        return r["fit_errors"]

    rules = [
        ("above_heldout (today)", lambda r, g: above(held(r))),
        ("mean_k_sigma held-out, k=6", lambda r, g: mean_k_sigma(held(r), 6)[2]),
    ]
    for k in (4, 5, 6, 7, 8, 10):
        rules.append(
            (f"mu + {k} sigma fit", lambda r, g, k=k: mean_k_sigma(fit(r), k)[2])
        )
    rules.append(
        ("median + 10 MAD held-out", lambda r, g: median_mad(held(r), 10)),
    )
    for k in (10, 30):
        rules.append((f"median + {k} MAD fit", lambda r, g, k=k: median_mad(fit(r), k)))
    for k in (4, 6):
        rules.append(
            (f"log median + {k} MAD fit", lambda r, g, k=k: log_median_mad(fit(r), k))
        )
    for k in (6, 8):
        rules.append(
            (
                f"trimmed 1 % fit, mu + {k} sigma",
                lambda r, g, k=k: trimmed_k_sigma(fit(r), 0.01, k),
            )
        )
    for margin in (0.0, 1.0):
        rules.append(
            (
                f"contamination 1 %: q99 fit + {margin:g} (q99 - median)",
                lambda r, g, m=margin: _contamination(fit(r), 0.01, m),
            )
        )
    rules.append(("Hundman fit", lambda r, g: hundman_epsilon(fit(r))))
    rules.append(
        (
            "Hundman fit, prune 0.1",
            lambda r, g: prune(fit(r), hundman_epsilon(fit(r)), 0.1, g),
        )
    )
    rules.append(
        (
            "mu + 4 sigma fit, prune 0.1 (Orion fixed)",
            lambda r, g: prune(fit(r), mean_k_sigma(fit(r), 4)[2], 0.1, g),
        )
    )
    rules.append(
        (
            "above_heldout of held-out without outlying runs",
            lambda r, g: above(
                without_outlying_runs(held(r), 2.0, int(r["window_size"]))
            ),
        )
    )
    for label, cap in [
        ("mu + 6 sigma fit", lambda r: mean_k_sigma(fit(r), 6)[2]),
        ("mu + 8 sigma fit", lambda r: mean_k_sigma(fit(r), 8)[2]),
        ("median + 30 MAD fit", lambda r: median_mad(fit(r), 30)),
    ]:
        rules.append(
            (
                f"smaller of above_heldout and {label}",
                lambda r, g, c=cap: min(above(held(r)), c(r)),
            )
        )
    for label, other in [
        ("mean_k_sigma held-out k=6", lambda r: mean_k_sigma(held(r), 6)[2]),
        ("median + 10 MAD held-out", lambda r: median_mad(held(r), 10)),
    ]:
        rules.append(
            (
                f"larger of mu + 6 sigma fit and {label}",
                lambda r, g, o=other: max(mean_k_sigma(fit(r), 6)[2], o(r)),
            )
        )
    return rules


def _contamination(errors, share, margin):
    from skae._threshold import quantile_margin_threshold

    return quantile_margin_threshold(errors, 1.0 - share, margin)[0]


# ------------------------------------------------------------------ scoring


def flags_at(errors, stillness, tau):
    """Return the flags of ``max(errors, tau / log(factor) * stillness) > tau``."""
    from skae._flatlines import FLATLINE_FACTOR

    scores = np.maximum(errors, tau / math.log(FLATLINE_FACTOR) * stillness)
    return scores > tau


def normal_covered(record, flags, merge_gap):
    """Return ``(normal steps inside events, normal steps)`` of one series.

    An event spans the gaps it merged, so a larger merge gap covers more
    normal steps; this is the price of the fewer false events it counts.
    """
    from benchmarks.quality.orion import flag_events

    n = len(flags)
    inside, labelled = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    for start, end in flag_events(flags, merge_gap):
        inside[start] += 1
        inside[end + 1] -= 1
    for start, end in record["labels"]:
        labelled[start] += 1
        labelled[end + 1] -= 1
    normal = np.cumsum(labelled)[:n] == 0
    return np.array([int((normal & (np.cumsum(inside)[:n] > 0)).sum()), normal.sum()])


def evaluate(cache, rule, merge_gap, published):
    """Return the figures of one rule and merge gap on every set in ``cache``."""
    from benchmarks.quality.orion import (
        ORION_DATASETS,
        detected_counts,
        f1_of,
    )
    from benchmarks.quality.planted import evaluate as planted_counts
    from skae.metrics import skab_outlier_scores

    out = {}

    def counts(records):
        total = np.zeros(3, dtype=np.int64)
        for r in records:
            tau = rule(r, merge_gap)
            total += detected_counts(
                r, flags_at(r["errors"], r["stillness"], tau), merge_gap
            )
        return total

    if "orion" in cache:
        f1s = [
            f1_of(*counts(cache["orion"][d])) if d in cache["orion"] else None
            for d in ORION_DATASETS
        ]
        out["orion"] = f1s
        for key, pipeline in (("vs_lstm_ae", "lstm_autoencoder"), ("vs_aer", "aer")):
            out[key] = sum(
                f is not None and f >= f1_of(*published[pipeline][d]) - 1e-9
                for f, d in zip(f1s, ORION_DATASETS, strict=True)
            )
        covered = np.zeros(2, dtype=np.int64)
        for records in cache["orion"].values():
            for r in records:
                flags = flags_at(r["errors"], r["stillness"], rule(r, merge_gap))
                covered += normal_covered(r, flags, merge_gap)
        out["orion_covered"] = 100 * covered[0] / covered[1]
    if "nab" in cache:
        out["nab"] = f1_of(*counts(sum(cache["nab"].values(), [])))
    if "skab" in cache:
        out["skab_event"] = f1_of(*counts(cache["skab"]))
        flags = [
            flags_at(r["errors"], r["stillness"], rule(r, merge_gap)).astype(int)
            for r in cache["skab"]
        ]
        point = skab_outlier_scores(
            [r["y"] for r in cache["skab"]], flags, anomaly_label=1
        )
        out["skab"] = (point.f1, point.far)
    if "planted" in cache:
        totals, meeting = np.zeros(4, dtype=np.int64), 0
        for record in cache["planted"].values():
            tau = rule(record, merge_gap)
            copies = [
                {**c, "scores": flags_at(c["errors"], c["stillness"], tau) * 1.0}
                for c in record["copies"]
            ]
            # the flags as scores of 0 and 1, judged at 0.5
            found = np.array(planted_counts(copies, 0.5, record["window_size"]))
            totals += found
            meeting += found[0] / found[1] >= 0.9 and found[2] / found[3] <= 0.01
        out["planted"] = (
            100 * totals[0] / totals[1],
            100 * totals[2] / totals[3],
            meeting,
            len(cache["planted"]),
        )
    return out


def row(label, merge_gap, figures):
    """Return one table row of :func:`evaluate`'s figures."""
    cells = [label, merge_gap]
    if "orion" in figures:
        cells += ["-" if f is None else f"{f:.3f}" for f in figures["orion"]]
        cells += [f"{figures['vs_lstm_ae']}/5", f"{figures['vs_aer']}/5"]
        cells.append(f"{figures['orion_covered']:.1f}")
    if "nab" in figures:
        cells.append(f"{figures['nab']:.3f}")
    if "skab" in figures:
        f1, far = figures["skab"]
        cells += [f"{f1:.3f} / {far:.1f}", f"{figures['skab_event']:.3f}"]
    if "planted" in figures:
        recall, share, meeting, n = figures["planted"]
        cells += [f"{recall:.1f} / {share:.2f}", f"{meeting}/{n}"]
    return cells


def header(cache):
    """Return the table header for the sets in ``cache``."""
    from benchmarks.quality.orion import ORION_DATASETS

    cells = ["rule", "merge gap"]
    if "orion" in cache:
        short = {
            "artificialWithAnomaly": "Orion art",
            "realAWSCloudwatch": "Orion AWS",
            "realAdExchange": "Orion AdEx",
            "realTraffic": "Orion Traffic",
            "realTweets": "Orion Tweets",
        }
        cells += [short[d] for d in ORION_DATASETS]
        cells += [">= LSTM-AE", ">= AER", "Orion normal in events %"]
    if "nab" in cache:
        cells.append("NAB prob. event F1")
    if "skab" in cache:
        cells += ["SKAB F1 / FAR %", "SKAB event F1"]
    if "planted" in cache:
        cells += ["planted events % / normal %", "bases at 90 % / 1 %"]
    return cells


def main(argv=None):
    from benchmarks._harness import (
        add_data_home,
        machine_note,
        markdown_table,
        setup_torch,
    )
    from benchmarks.quality import orion as O

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_home(parser)
    parser.add_argument("--seed", type=int, default=0, help="random_state of the fits")
    parser.add_argument("--cache", default=str(O.DEFAULT_CACHE), help="fits' folder")
    parser.add_argument("--merge-gaps", type=int, nargs="+", default=[0, 32, 128, 256])
    parser.add_argument(
        "--sets",
        nargs="+",
        choices=("orion", "nab", "skab", "planted"),
        default=["orion", "nab", "skab", "planted"],
    )
    parser.add_argument(
        "--skae",
        type=json.loads,
        default={},
        help="constructor arguments beside the defaults, as JSON "
        '(e.g. \'{"precision": "float32"}\'; use a cache of their own)',
    )
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="judge only the series already in the cache (fit nothing)",
    )
    args = parser.parse_args(argv)

    threads = setup_torch(1)
    O.SKAE_PARAMS.update(args.skae)
    fit = not args.cached_only
    begin = time.perf_counter()
    signals, published = O.read_published(args.data_home)
    cache = {}
    if "orion" in args.sets:
        cache["orion"] = O.collect_orion(
            args.data_home, signals, args.seed, args.cache, fit
        )
    if "nab" in args.sets:
        cache["nab"] = O.collect_nab(args.data_home, args.seed, args.cache, fit)
    if "skab" in args.sets:
        cache["skab"] = O.collect_skab(args.data_home, args.seed, args.cache, fit)
    if "planted" in args.sets:
        cache["planted"] = collect_planted(
            args.data_home, args.seed, args.cache, fit_missing=fit
        )
    fitted = time.perf_counter() - begin
    rows = []
    for label, rule in candidate_rules():
        for merge_gap in args.merge_gaps:
            rows.append(
                row(label, merge_gap, evaluate(cache, rule, merge_gap, published))
            )
    if "orion" in cache:
        for pipeline in ("lstm_autoencoder", "aer"):
            rows.append(
                [
                    f"Orion {O.PIPELINES[pipeline]} (published)",
                    "",
                    *(
                        f"{O.f1_of(*published[pipeline][d]):.3f}"
                        for d in O.ORION_DATASETS
                    ),
                ]
            )
    print(markdown_table(header(cache), rows))
    print(
        f"\n{machine_note()}; torch threads {threads}; seed {args.seed}; fits or "
        f"cache {fitted:.0f} s, table {time.perf_counter() - begin - fitted:.0f} s\n"
        "command: python -m benchmarks.quality.alarm_choice "
        + " ".join(argv if argv is not None else sys.argv[1:])
    )


if __name__ == "__main__":
    sys.exit(main())
