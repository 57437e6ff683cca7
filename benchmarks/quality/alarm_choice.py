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
- ``mean_k_sigma``: ``mu + k sigma`` of the held-out errors, or of all fit errors;
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
  pruning.

Each rule is crossed with the merge gap that turns flags into events (runs of
flags separated by at most that many unflagged steps are one event).

Printed per candidate: the Orion-protocol F1 of each NAB dataset and how many
reach Orion's LSTM autoencoder and AER, NAB-probationary event F1 (58 series,
pooled), SKAB's point-wise F1 and FAR (the leaderboard's) and event F1, and the
planted events caught and normal steps flagged (with the bases at 90 % of events
and at most 1 % of normal steps). Event counts are Orion's overlap rule.

Run from the repository root (the fits are those of ``orion.py``; about three
hours on one thread the first time, seconds afterwards)::

    nice -n 10 python -m benchmarks.quality.alarm_choice
    nice -n 10 python -m benchmarks.quality.alarm_choice --merge-gaps 0 32 --no-planted
"""

import argparse
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


def collect_planted(data_home, seed, cache, n_train=2000, n_repeats=3):
    """Fit each planted base once at the defaults; return base -> record.

    A record holds ``heldout``, ``fit_errors``, ``window_size`` and ``copies``:
    one dict per test copy with ``kind``, ``length``, ``start``, ``errors`` and
    ``stillness`` (see :func:`benchmarks.quality.orion.scored_parts`).
    """
    from benchmarks.quality import planted as P
    from benchmarks.quality.orion import _fit, scored_parts

    bases = [P.BaseSignal(name) for name in P.SYNTHETIC_BASES]
    for label, series in P.NAB_BASES.items():
        bases.append(P.BaseSignal(label, P.nab_normal_part(series, data_home)))
    results = {}
    for base in bases:
        path = None
        if cache is not None:
            name = base.name.replace(" ", "_") + ".pkl"
            path = Path(cache) / f"seed{seed}" / "planted" / name
            if path.exists():
                results[base.name] = pickle.loads(path.read_bytes())
                continue
        begin = time.perf_counter()
        n = base.train_length(n_train)
        train = base.train(n)[:, None]
        detector = _fit(train, seed)
        copies = []
        for kind, length, values, start in P.test_copies(
            base, n, P.ANOMALY_KINDS, P.ANOMALY_LENGTHS, n_repeats, float(np.std(train))
        ):
            errors, stillness, _ = scored_parts(detector, values[:, None])
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


def _median_mad(errors, k):
    median = float(np.median(errors))
    mad = MAD_TO_SIGMA * float(np.median(np.abs(errors - median)))
    return median + k * max(mad, 1e-3 * abs(median))


def _trimmed(errors, trim, k):
    from skae._threshold import mean_k_sigma

    kept = errors[errors <= np.quantile(errors, 1.0 - trim)]
    return mean_k_sigma(kept, k)[2]


def _contamination(errors, share, margin):
    from skae._threshold import quantile_margin_threshold

    return quantile_margin_threshold(errors, 1.0 - share, margin)[0]


def _peaks(errors, above, merge_gap):
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


def candidate_rules():
    """Return ``[(label, rule)]``: ``rule(record, merge_gap) -> threshold``."""
    from skae._threshold import mean_k_sigma, threshold_from_heldout

    rules = [
        (
            "above_heldout (today)",
            lambda r, g: threshold_from_heldout(r["heldout"], "above_heldout")[0],
        )
    ]
    for k in (4, 6):
        rules.append(
            (
                f"mean_k_sigma held-out, k={k}",
                lambda r, g, k=k: mean_k_sigma(r["heldout"], k)[2],
            )
        )
    for k in (3, 4, 6):
        rules.append(
            (
                f"mean_k_sigma fit, k={k}",
                lambda r, g, k=k: mean_k_sigma(r["fit_errors"], k)[2],
            )
        )
    for source in ("heldout", "fit_errors"):
        for k in (6, 10, 15):
            rules.append(
                (
                    f"median + {k} MAD {'held-out' if source == 'heldout' else 'fit'}",
                    lambda r, g, k=k, s=source: _median_mad(r[s], k),
                )
            )
    for trim in (0.01, 0.05):
        for k in (4, 6):
            rules.append(
                (
                    f"trimmed {100 * trim:g} % fit, k={k}",
                    lambda r, g, t=trim, k=k: _trimmed(r["fit_errors"], t, k),
                )
            )
    for share in (0.01, 0.005):
        for margin in (0.0, 1.0):
            rules.append(
                (
                    f"contamination {100 * share:g} % fit, margin {margin:g}",
                    lambda r, g, c=share, m=margin: _contamination(
                        r["fit_errors"], c, m
                    ),
                )
            )
    rules.append(("Hundman fit", lambda r, g: hundman_epsilon(r["fit_errors"])))
    for p in (0.1, 0.13):
        rules.append(
            (
                f"Hundman fit, prune {p:g}",
                lambda r, g, p=p: prune(
                    r["fit_errors"], hundman_epsilon(r["fit_errors"]), p, g
                ),
            )
        )
    rules.append(
        (
            "mu + 4 sigma fit, prune 0.1 (Orion fixed)",
            lambda r, g: prune(
                r["fit_errors"], mean_k_sigma(r["fit_errors"], 4)[2], 0.1, g
            ),
        )
    )
    return rules


# ------------------------------------------------------------------ scoring


def flags_at(errors, stillness, tau):
    """Return the flags of ``max(errors, tau / log(factor) * stillness) > tau``."""
    from skae._flatlines import FLATLINE_FACTOR

    scores = np.maximum(errors, tau / math.log(FLATLINE_FACTOR) * stillness)
    return scores > tau


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
        f1s = [f1_of(*counts(cache["orion"][d])) for d in ORION_DATASETS]
        out["orion"] = f1s
        out["vs_lstm_ae"] = sum(
            f >= f1_of(*published["lstm_autoencoder"][d]) - 1e-9
            for f, d in zip(f1s, ORION_DATASETS, strict=True)
        )
        out["vs_aer"] = sum(
            f >= f1_of(*published["aer"][d]) - 1e-9
            for f, d in zip(f1s, ORION_DATASETS, strict=True)
        )
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
        cells += [f"{f:.3f}" for f in figures["orion"]]
        cells += [f"{figures['vs_lstm_ae']}/5", f"{figures['vs_aer']}/5"]
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
        cells += [">= LSTM-AE", ">= AER"]
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
    parser.add_argument(
        "--merge-gaps", type=int, nargs="+", default=[0, 16, 32, 64, 128]
    )
    parser.add_argument(
        "--sets",
        nargs="+",
        choices=("orion", "nab", "skab", "planted"),
        default=["orion", "nab", "skab", "planted"],
    )
    args = parser.parse_args(argv)

    threads = setup_torch(1)
    begin = time.perf_counter()
    signals, published = O.read_published(args.data_home)
    cache = {}
    if "orion" in args.sets:
        cache["orion"] = O.collect_orion(args.data_home, signals, args.seed, args.cache)
    if "nab" in args.sets:
        cache["nab"] = O.collect_nab(args.data_home, args.seed, args.cache)
    if "skab" in args.sets:
        cache["skab"] = O.collect_skab(args.data_home, args.seed, args.cache)
    if "planted" in args.sets:
        cache["planted"] = collect_planted(args.data_home, args.seed, args.cache)
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
