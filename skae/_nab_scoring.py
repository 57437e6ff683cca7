"""The scoring rule of the Numenta Anomaly Benchmark v1.1, written for skae:
per-step rewards, per-series scores and the threshold sweep."""

import math
import numbers

import numpy as np
from scipy.special import expit
from sklearn.utils import Bunch

from ._labels import (
    _anomaly_mask,
    _check_labels,
    _check_length,
    _check_scores,
    _labels_and_flags,
    _segments,
    _undefined,
)

NAB_PROFILES = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}
"""NAB's application profiles: magnitudes of the true-positive reward and of the
false-positive and false-negative costs (``A_TP``, ``-A_FP``, ``-A_FN``)."""


def _profile_weights(profile):
    if isinstance(profile, str):
        if profile not in NAB_PROFILES:
            raise ValueError(
                f"Unknown NAB profile {profile!r}. Valid names are: "
                f"{', '.join(NAB_PROFILES)}; or pass a dict with keys 'tp', 'fp', "
                "'fn'."
            )
        return NAB_PROFILES[profile]
    if isinstance(profile, dict) and {"tp", "fp", "fn"} <= set(profile):
        return {key: float(profile[key]) for key in ("tp", "fp", "fn")}
    raise ValueError(
        "profile must be the name of a NAB profile or a dict with keys 'tp', "
        f"'fp' and 'fn', got {profile!r}."
    )


def _scaled_sigmoid(position):
    """NAB's reward curve: 2 / (1 + exp(5 x)) - 1, and -1 beyond x = 3."""
    position = np.asarray(position, dtype=np.float64)
    return np.where(position > 3.0, -1.0, 2 * expit(-5 * np.minimum(position, 3.0)) - 1)


def _probationary_length(n_timesteps):
    """NAB's unscored prefix: ``min(floor(0.15 * n_timesteps), 750)`` steps."""
    return int(min(math.floor(0.15 * n_timesteps), 0.15 * 5000))


class _NABSeries:
    """One series' scored steps: ``values``, ``window`` (-1 outside) and ``reward``."""

    def __init__(self, y, values, weights, probationary_length=None):
        n = len(y)
        if probationary_length is None:
            probationary_length = _probationary_length(n)
        starts, ends = _segments(y)
        widths = ends - starts + 1
        steps = np.arange(n)
        # the window holding each step, or else the last one that ended before
        last = np.searchsorted(starts, steps, side="right") - 1
        inside = y.astype(bool)
        k = np.maximum(last, 0)

        reward = np.empty(n)
        if len(starts):
            reward[inside] = (
                weights["tp"]
                * _scaled_sigmoid(-(ends[k] - steps + 1)[inside] / widths[k][inside])
                / _scaled_sigmoid(-1.0)
            )
            after = ~inside & (last >= 0)
            # NAB divides by (width - 1); a one-step window would divide by 0
            distance = (steps - ends[k])[after] / np.maximum(widths[k][after] - 1, 1)
            reward[after] = weights["fp"] * _scaled_sigmoid(distance)
        reward[~inside & (last < 0)] = -weights["fp"]

        scored = steps >= probationary_length
        self.values = np.asarray(values)[scored]
        self.window = np.where(inside, last, -1)[scored]
        self.reward = reward[scored]
        self.n_windows = len(starts)
        self.n_scored_windows = int(np.sum(ends >= probationary_length))
        # windows wholly inside the probationary period are not scored
        self._first_scored = self.n_windows - self.n_scored_windows
        self.fn_weight = weights["fn"]
        self.null_score = -self.fn_weight * self.n_scored_windows

    def score(self, detected):
        """Return the raw score when the scored steps ``detected`` fire."""
        outside = self.window < 0
        false_positives = float(np.sum(self.reward[detected & outside]))
        best = np.full(self.n_windows, -self.fn_weight)
        hit = detected & ~outside
        np.maximum.at(best, self.window[hit], self.reward[hit])
        return false_positives + float(np.sum(best[self._first_scored :]))


def _nab_sweep(series, null_score):
    """Return the highest threshold with the best total raw score (``inf``: none)."""
    if not series or not any(len(s.values) for s in series):
        return float("inf")
    values = np.concatenate([s.values for s in series])
    reward = np.concatenate([s.reward for s in series])
    offsets = np.cumsum([0] + [s.n_windows for s in series])[:-1]
    window = np.concatenate(
        [
            np.where(s.window >= 0, s.window + offset, -1)
            for s, offset in zip(series, offsets, strict=True)
        ]
    )
    fn_weight = series[0].fn_weight

    order = np.argsort(-values, kind="stable")
    values, reward, window = values[order], reward[order], window[order]
    change = np.where(window < 0, reward, 0.0)
    # group the in-window steps by window, keeping the score order inside each
    inside = np.flatnonzero(window >= 0)
    inside = inside[np.argsort(window[inside], kind="stable")]
    groups = np.flatnonzero(np.diff(window[inside])) + 1
    for at in np.split(inside, groups) if len(inside) else []:
        best = np.maximum.accumulate(np.maximum(reward[at], -fn_weight))
        change[at] = np.diff(best, prepend=-fn_weight)
    # only the last step of a run of tied scores is a threshold
    cut = np.flatnonzero(np.append(values[1:] != values[:-1], True))
    totals = null_score + np.cumsum(change)[cut]
    best = int(np.argmax(totals))
    if totals[best] <= null_score:
        return float("inf")
    return float(values[cut[best]])


def nab_score(
    y_true,
    y_pred,
    *,
    profile="standard",
    probationary_length=None,
    anomaly_label="auto",
):
    """Return the raw NAB score of one series' binary detections.

    Each labelled window (a run of 1s in ``y_true``) earns ``A_TP`` when first
    detected at its first step, less the later the detection (NAB's scaled
    sigmoid), and costs ``A_FN`` if missed. A detection outside the windows
    costs up to ``A_FP``, less just after a window. True negatives score 0, and
    the first ``probationary_length`` steps are not scored.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 inside a labelled window, 0 elsewhere, such as the ``target`` of
        :func:`skae.datasets.load_nab`. Windows must not touch.
    y_pred : array-like of shape (n_timesteps,)
        Detections, 0/1 or -1/+1.
    profile : {"standard", "reward_low_FP_rate", "reward_low_FN_rate"} or dict, \
default="standard"
        The magnitudes of ``A_TP``, ``A_FP`` and ``A_FN`` (see
        ``NAB_PROFILES``), or a dict with the keys ``"tp"``, ``"fp"``, ``"fn"``.
    probationary_length : int, default=None
        Steps at the start that are not scored; None means NAB's
        ``min(floor(0.15 * n_timesteps), 750)``.
    anomaly_label : {"auto", 1, -1}, default="auto"
        The value of ``y_pred`` that means anomaly.

    Returns
    -------
    score : float
        At most ``A_TP * n_windows``; :func:`nab_normalized_score` scales a
        benchmark's sum to 0-100.

    Examples
    --------
    >>> from skae.metrics import nab_score
    >>> y_true = [0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    >>> nab_score(y_true, [0, 0, 0, 0, 1, 0, 0, 0, 0, 0], probationary_length=0)
    1.0
    """
    y, flagged = _labels_and_flags(y_true, y_pred, anomaly_label)
    weights = _profile_weights(profile)
    if probationary_length is not None and (
        not isinstance(probationary_length, numbers.Integral) or probationary_length < 0
    ):
        raise ValueError(
            "probationary_length must be None or an int >= 0, got "
            f"{probationary_length!r}."
        )
    series = _NABSeries(y, flagged, weights, probationary_length)
    return series.score(series.values)


def nab_normalized_score(
    y_trues, y_preds, *, profile="standard", threshold=None, anomaly_label="auto"
):
    """Return NAB's normalised score over a benchmark of many series.

    ``100 * (raw - null) / (perfect - null)``: ``raw`` sums the series'
    :func:`nab_score` (NAB's probationary period left out), ``null`` is the
    detector that never fires and ``perfect`` detects each window at its first
    step. 100 is perfect, 0 the null detector.

    Parameters
    ----------
    y_trues, y_preds : sequence of array-like of shape (n_timesteps_i,)
        The window labels of each series (1 inside a window), and binary
        detections or, with a ``threshold``, anomaly scores.
    profile : str or dict, default="standard"
        NAB's application profile; see :func:`nab_score`.
    threshold : None, float or "optimize", default=None
        None: ``y_preds`` are detections. A float: a step is detected when its
        score is ``>= threshold``. ``"optimize"``: the threshold that maximises
        the total, as NAB chooses it (from the labels, so an upper bound).
    anomaly_label : {"auto", 1, -1}, default="auto"
        The value of the detections that means anomaly (``threshold=None``).

    Returns
    -------
    result : sklearn.utils.Bunch
        ``score`` (NaN with ``UndefinedMetricWarning`` without windows),
        ``raw_score``, ``null_score``, ``perfect_score``, ``threshold`` (the one
        used; ``inf`` when detecting nothing is best) and ``per_series`` (the
        raw scores).

    Examples
    --------
    >>> from skae.metrics import nab_normalized_score
    >>> y_true = [0] * 10 + [1, 1, 1, 1] + [0] * 6
    >>> early = [0] * 10 + [1, 0, 0, 0] + [0] * 6
    >>> nab_normalized_score([y_true, y_true], [early, [0] * 20]).score
    50.0
    """
    y_trues, y_preds = list(y_trues), list(y_preds)
    _check_length(len(y_trues), len(y_preds), "y_preds (number of series)")
    weights = _profile_weights(profile)
    if not (
        threshold is None
        or threshold == "optimize"
        or (isinstance(threshold, numbers.Real) and not isinstance(threshold, bool))
    ):
        raise ValueError(
            f"threshold must be None, a number or 'optimize', got {threshold!r}."
        )
    series = []
    for i, (y_true, y_pred) in enumerate(zip(y_trues, y_preds, strict=True)):
        y = _check_labels(y_true, f"y_trues[{i}]").astype(bool)
        if threshold is None:
            values = _anomaly_mask(y_pred, anomaly_label, f"y_preds[{i}]")
            _check_length(len(y), len(values), f"y_preds[{i}]")
        else:
            values = _check_scores(y_pred, len(y), f"y_preds[{i}]")
        series.append(_NABSeries(y, values, weights))

    null = sum(s.null_score for s in series)
    perfect = weights["tp"] * sum(s.n_windows for s in series)
    if threshold == "optimize":
        threshold = _nab_sweep(series, null)
    hits = [s.values if threshold is None else s.values >= threshold for s in series]
    per_series = np.array([s.score(hit) for s, hit in zip(series, hits, strict=True)])
    raw = float(per_series.sum())
    if perfect == null:
        score = _undefined("The NAB score is undefined: no series has a window.")
    else:
        score = 100 * (raw - null) / (perfect - null)
    return Bunch(
        score=score,
        raw_score=raw,
        null_score=float(null),
        perfect_score=float(perfect),
        threshold=threshold,
        per_series=per_series,
    )
