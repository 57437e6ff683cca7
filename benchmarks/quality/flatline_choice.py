"""How the flatline check's rule was chosen (issue 23): AUC-PR with it and without.

The check is a term on top of the reconstruction errors (:mod:`skae._flatlines`),
so one detector per series is fitted with the check off, and its errors are
kept with the data, on four sets:

- the planted-anomaly benchmark (:mod:`benchmarks.quality.planted`): one fit per
  base signal; AUC-PR per base, the copies pooled, the steps within a window of
  an event but outside it left out; the mean over the 8 bases, and how many of
  the 72 planted flatlines have a flagged step from their start to a window
  after their end (as ``planted.py`` counts events);
- SKAB (fitted on each file's first 400 rows, as :mod:`benchmarks.quality.skab`):
  pooled AUC-PR (each file's scores standardised by its training rows'), and
  the mean of the 34 per-file AUC-PRs;
- NAB (fitted on each probationary part, as :mod:`benchmarks.quality.nab`):
  pooled AUC-PR (standardised by the probationary part's scores) and the mean
  of the per-series AUC-PRs;
- the simulated servers of :mod:`benchmarks.quality.calm_features`: the mean of
  the 8 machines' AUC-PRs, the worst machine's, and the stuck sensors flagged.

Every check is computed from the same errors: off; the rule before issue 23 (a
window three times calmer than the calmest of the fit data); and the rule of
:func:`skae._flatlines.reference_of` for each share of the median activity
below which a window is stuck (``--stuck``), share of exact repeats above which
a feature is left out (``--repeats``), window length (a share of
``window_size``, ``--lengths``), largest ratio (``--caps``), and with or without
the scores of windows that are calm but not stuck (below the threshold:
"scores from 0"; the default gives them nothing: "scores from tau"). The last
row is skae's own check, by its own functions, which must equal the row marked
as the default. Then the machines of the simulation, one by one.

Run from the repository root (the fits take about 35 minutes on one busy
thread and are kept in ``--cache-dir``; a second run only recomputes)::

    nice python -m benchmarks.quality.flatline_choice
"""

import argparse
import functools
import itertools
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.quality._data import (
    collect_nab,
    collect_planted,
    collect_skab,
    fit_state,
    fit_without_flatlines,
)


def collect_calm():
    """Fit each simulated machine of :mod:`benchmarks.quality.calm_features`."""
    from benchmarks.quality import calm_features as C

    results = []
    for seed in C.MACHINES:
        data = C.machine(seed)
        detector = fit_without_flatlines(data["fit"])
        results.append(
            fit_state(
                detector,
                data["fit"],
                name=f"machine {seed}",
                test=data["test"],
                y=data["y"],
                events=data["events"],
                calm=data["calm"],
                errors=-detector.score_samples(data["test"]),
            )
        )
        print(f"calm machine {seed}", flush=True)
    return results


# ------------------------------------------------------------------ the rules


def _scaled(state, A):
    A = np.asarray(A, dtype=np.float64).reshape(len(A), -1)
    return (A - state["mean"]) / state["scale"]


def _stillness(z, length, reference, cap, floor):
    """Each step's largest stillness over features, as ``step_stillness`` finds
    it offline, with ``log(reference / activity)`` clipped to ``[0, cap]`` and
    set to 0 below ``floor``."""
    from skae._flatlines import _running_max, window_activity

    active = reference > 0
    activity = np.maximum(window_activity(z, length), 1e-300)
    still = np.clip(np.log(np.where(active, reference, 1.0) / activity), 0, cap)
    still = np.where(still < floor, 0.0, still) * active
    pad = np.zeros((length - 1, still.shape[1]))
    return _running_max(np.concatenate([pad, still, pad]), length).max(axis=1)


def _scores(state, X, errors, check):
    """The errors, raised where ``check`` finds X still (None: the errors).

    ``check`` is ``"library"`` (skae's own functions) or ``(reference rule,
    largest stillness, steps per window as a function of window_size, least
    stillness that counts)``.
    """
    from skae._flatlines import (
        FLATLINE_FACTOR,
        fit_reference,
        flatline_length,
        step_stillness,
    )

    if check is None:
        return errors
    if check == "library":
        length = flatline_length(state["window_size"])
        if "library" not in state:
            state["library"] = fit_reference(_scaled(state, state["fit"]), length)
        z = _scaled(state, X)
        still = step_stillness(z, length, state["library"]).max(axis=1)
    else:
        reference_rule, cap, length_of, floor = check
        length = length_of(state["window_size"])
        key = ("reference", reference_rule, length)
        if key not in state:  # the rule's reference, once per fit
            state[key] = reference_rule(_scaled(state, state["fit"]), length)
        still = _stillness(_scaled(state, X), length, state[key], cap, floor)
    return np.maximum(errors, state["threshold"] / np.log(FLATLINE_FACTOR) * still)


def _calibrate(scores, train_scores):
    std = train_scores.std()
    return (scores - train_scores.mean()) / (std if std > 0 else 1.0)


def evaluate_planted(states, rule):
    """Mean over bases of each base's AUC-PR (its copies pooled; the steps
    within a window of an event but outside it are left out), the planted
    flatlines flagged, of all planted flatlines, and ``planted.evaluate``'s
    counts (events flagged, events, normal steps flagged, normal steps)."""
    from benchmarks.quality.planted import evaluate as planted_counts
    from skae.metrics import auc_pr

    per_base, caught, flatlines = [], 0, 0
    counts = np.zeros(4, dtype=np.int64)
    for state in states.values():
        w = state["window_size"]
        ys, ss, records = [], [], []
        for r in state["records"]:
            scores = _scores(state, r["values"], r["errors"], rule)
            records.append(dict(r, scores=scores))
            start, end = r["start"], r["start"] + r["length"]
            y = np.zeros(scores.size, dtype=np.int64)
            y[start:end] = 1
            keep = np.ones(scores.size, dtype=bool)
            keep[max(start - w, 0) : start] = False
            keep[end : end + w] = False
            ys.append(y[keep])
            ss.append(scores[keep])
            if r["kind"] == "flatline":
                flatlines += 1
                caught += bool((scores[start : end + w] > state["threshold"]).any())
        per_base.append(auc_pr(np.concatenate(ys), np.concatenate(ss)))
        counts += planted_counts(records, state["threshold"], w)
    return float(np.mean(per_base)), caught, flatlines, per_base, counts


def evaluate_skab(states, rule):
    """Pooled AUC-PR (test scores standardised by the fit rows' scores), the
    mean of the per-file AUC-PRs, and the leaderboard's F1 and FAR of the
    flags (score above the threshold)."""
    from skae.metrics import auc_pr, skab_outlier_scores

    ys, ss, per_file, flags = [], [], [], []
    for state in states:
        test = _scores(state, state["test"], state["errors"], rule)
        fit = _scores(state, state["fit"], state["fit_errors"], rule)
        ys.append(state["y"])
        ss.append(_calibrate(test, fit))
        per_file.append(auc_pr(state["y"], test))
        flags.append((test > state["threshold"]).astype(int))
    leaderboard = skab_outlier_scores(ys, flags, anomaly_label=1)
    pooled = auc_pr(np.concatenate(ys), np.concatenate(ss))
    return pooled, float(np.mean(per_file)), leaderboard.f1, leaderboard.far


def evaluate_nab(states, rule):
    """Pooled AUC-PR of the scored steps (standardised by the probationary
    part's scores), the mean of the per-series AUC-PRs, the share of labelled
    windows with a flag and the median share of a series' normal steps
    flagged."""
    from skae._labels import caught_runs
    from skae.metrics import auc_pr

    ys, ss, per_series = [], [], []
    caught = windows = 0
    shares = []
    for state in states:
        n = state["n"]
        raw = _scores(state, state["X"], state["errors"], rule)
        scores = _calibrate(raw, raw[:n])
        y, flagged = state["y"][n:], raw[n:] > state["threshold"]
        ys.append(y)
        ss.append(scores[n:])
        if y.any():
            per_series.append(auc_pr(y, scores[n:]))
        hits = caught_runs(y == 1, flagged)[2]
        caught, windows = caught + int(hits.sum()), windows + len(hits)
        shares.append(100 * (flagged & (y == 0)).sum() / max(1, (y == 0).sum()))
    pooled = auc_pr(np.concatenate(ys), np.concatenate(ss))
    mean = float(np.mean(per_series))
    return pooled, mean, 100 * caught / windows, float(np.median(shares))


def evaluate_calm(states, rule):
    """Mean of the machines' AUC-PRs, each machine's, the stuck sensors
    flagged, and the mean AUC-PR without the stuck sensors' steps (the other
    anomalies against the normal steps, calm stretches included)."""
    from skae.metrics import auc_pr

    per_machine, caught, stuck, unstuck = [], 0, 0, []
    for state in states:
        scores = _scores(state, state["test"], state["errors"], rule)
        per_machine.append(auc_pr(state["y"], scores))
        keep = np.ones(scores.size, dtype=bool)
        for kind, start, end, _ in state["events"]:
            if kind == "stuck":
                stuck += 1
                w = state["window_size"]
                caught += bool((scores[start : end + w] > state["threshold"]).any())
                keep[start:end] = False
        unstuck.append(auc_pr(state["y"][keep], scores[keep]))
    return float(np.mean(per_machine)), caught, stuck, per_machine, np.mean(unstuck)


def _cached(path, collect):
    path = Path(path)
    if path.exists():
        return pickle.loads(path.read_bytes())
    begin = time.perf_counter()
    result = collect()
    print(f"{path.name}: {time.perf_counter() - begin:.0f} s of fits", flush=True)
    path.write_bytes(pickle.dumps(result))
    return result


def _before(z, length):
    """The reference before issue 23: the least activity of the fit data."""
    from skae._flatlines import window_activity

    return window_activity(z, length).min(axis=0)


@functools.lru_cache
def _candidate(stuck, repeat):
    from skae._flatlines import reference_of

    def rule(z, length):
        return reference_of(z, length, stuck_share=stuck, repeat_share=repeat)

    return rule


def _length(share):
    return functools.partial(_share_of_window, share)


def _share_of_window(share, window_size):
    return max(2, int(share * window_size))


def rules(stucks, repeats, caps, lengths, ramps=(True,)):
    """Return ``(label, check)`` of every check compared (None: off); a check
    is ``(reference rule, largest stillness, steps per window of window_size)``.
    """
    from skae._flatlines import (
        FLATLINE_FACTOR,
        MAX_STILLNESS,
        REPEAT_SHARE,
        STUCK_SHARE,
        flatline_length,
    )

    before = (_before, float(np.log(1000.0)), _length(1.0), 0.0)
    found = [("off", None), ("before issue 23: a third of the least", before)]
    for stuck, repeat, cap, share, ramp in itertools.product(
        stucks, repeats, caps, lengths, ramps
    ):
        floor = 0.0 if ramp else float(np.log(FLATLINE_FACTOR))
        stillness = float(np.log(cap))
        length = _length(share)
        label = (
            f"stuck {stuck:g}, repeats {repeat:g}, {share:g} window, "
            f"at most {stillness / np.log(FLATLINE_FACTOR):.2g} tau, "
            + ("scores from 0" if ramp else "scores from tau")
        )
        default = (STUCK_SHARE, REPEAT_SHARE, MAX_STILLNESS, False)
        if (stuck, repeat, stillness, ramp) == default and all(
            length(w) == flatline_length(w) for w in (16, 32, 64)
        ):
            label += " (the default)"
        found.append((label, (_candidate(stuck, repeat), stillness, length, floor)))
    found.append(("skae's check (the default, by its own functions)", "library"))
    return found


def table(cache, checks):
    """Return the header and one row per check."""
    header = ["check"]
    rows = []
    for label, rule in checks:
        row = [label]
        if "planted" in cache:
            ap, caught, total, _, n = evaluate_planted(cache["planted"], rule)
            row += [f"{ap:.4f}", f"{caught}/{total}"]
            row.append(f"{100 * n[0] / n[1]:.1f} / {100 * n[2] / n[3]:.2f}")
        if "skab" in cache:
            pooled, mean, f1, far = evaluate_skab(cache["skab"], rule)
            row += [f"{pooled:.4f}", f"{mean:.4f}", f"{f1:.3f} / {far:.1f}"]
        if "nab" in cache:
            pooled, mean, caught, share = evaluate_nab(cache["nab"], rule)
            row += [f"{pooled:.4f}", f"{mean:.4f}", f"{caught:.0f} / {share:.2f}"]
        if "calm" in cache:
            ap, caught, total, per, unstuck = evaluate_calm(cache["calm"], rule)
            row += [f"{ap:.4f}", f"{min(per):.3f}", f"{caught}/{total}"]
            row.append(f"{unstuck:.4f}")
        rows.append(row)
    if "planted" in cache:
        header += ["planted AUC-PR", "planted flatlines flagged"]
        header.append("planted events % / normal %")
    if "skab" in cache:
        header += ["SKAB pooled", "SKAB per file", "SKAB F1 / FAR %"]
    if "nab" in cache:
        header += ["NAB pooled", "NAB per series", "NAB windows % / normal %"]
    if "calm" in cache:
        header += ["calm mean", "calm worst machine", "calm stuck flagged"]
        header.append("calm mean, stuck sensors left out")
    return header, rows


def machine_table(states, checks):
    """Return the header and one row per simulated machine."""
    per = [evaluate_calm(states, check)[3] for _, check in checks]
    header = ["machine", *(label for label, _ in checks)]
    rows = [
        [state["name"], *(f"{aps[i]:.3f}" for aps in per)]
        for i, state in enumerate(states)
    ]
    return header, rows


def main(argv=None):
    from benchmarks._harness import add_data_home, markdown_table, setup_torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_home(parser)
    parser.add_argument("--cache-dir", default="/tmp/skae_flatline_cache")
    parser.add_argument("--sets", nargs="+", default=["skab", "calm", "planted", "nab"])
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument(
        "--stuck", type=float, nargs="+", default=[0.003, 0.01, 0.03, 0.1]
    )
    parser.add_argument("--repeats", type=float, nargs="+", default=[1, 0.05, 0.01])
    parser.add_argument("--lengths", type=float, nargs="+", default=[1.0, 0.5])
    parser.add_argument(
        "--caps",
        type=float,
        nargs="+",
        default=[1000.0],
        help="the largest ratio of the reference to the activity that counts",
    )
    args = parser.parse_args(argv)
    setup_torch(1)
    collectors = {
        "planted": lambda: collect_planted(args.data_home),
        "skab": lambda: collect_skab(args.data_home),
        "nab": lambda: collect_nab(args.data_home, per_series=True),
        "calm": collect_calm,
    }
    Path(args.cache_dir).mkdir(parents=True, exist_ok=True)
    cache = {
        name: _cached(Path(args.cache_dir) / f"{name}.pkl", collectors[name])
        for name in args.sets
    }
    if args.collect_only:
        return
    checks = rules(args.stuck, args.repeats, args.caps, args.lengths, (True, False))
    print(markdown_table(*table(cache, checks)))
    if "calm" in cache:
        print()
        named = [checks[0], checks[1], checks[-1]]
        print(markdown_table(*machine_table(cache["calm"], named)))


if __name__ == "__main__":
    sys.exit(main())
