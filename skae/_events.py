"""Alarms as events: intervals of flagged time steps, with their scores and features.

A detector flags time steps one by one; a user reads alarms. :func:`flag_events`
turns per-step flags into events, one row each, so that the command line, the
streaming scorer and the plots can show the same alarms. NumPy and pandas only.
"""

import numbers

import numpy as np

from ._labels import _check_labels, runs

EVENT_COLUMNS = (
    "start",
    "end",
    "n_flagged",
    "peak",
    "peak_score",
    "mean_score",
    "features",
)
"""The columns of every events table, in order; with an index, ``start_time``,
``end_time`` and ``peak_time`` follow."""

INDEX_COLUMNS = ("start_time", "end_time", "peak_time")


def _check_count(value, name, minimum):
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def _check_per_step(values, name, n_steps):
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(
            f"{name} must have shape (n_steps,), one value per time step; got "
            f"shape {values.shape}."
        )
    if len(values) != n_steps:
        raise ValueError(
            f"flags and {name} have different lengths: {n_steps} and {len(values)}."
        )
    return values


def _check_scores(scores, n_steps):
    scores = _check_per_step(scores, "scores", n_steps)
    if scores.dtype.kind not in "biuf":
        raise ValueError(f"scores must be numeric, got dtype {scores.dtype}.")
    scores = scores.astype(np.float64)
    if np.isnan(scores).any():
        raise ValueError("scores contains NaN.")
    return scores


def _check_contributions(contributions, feature_names, n_steps):
    contributions = np.asarray(contributions)
    if contributions.ndim != 2 or contributions.shape[0] != n_steps:
        raise ValueError(
            f"contributions must have shape (n_steps, n_features) = ({n_steps}, "
            f"n_features), one row per time step; got shape {contributions.shape}."
        )
    if contributions.dtype.kind not in "biuf":
        raise ValueError(
            f"contributions must be numeric, got dtype {contributions.dtype}."
        )
    contributions = contributions.astype(np.float64)
    if np.isnan(contributions).any():
        raise ValueError("contributions contains NaN.")
    n_features = contributions.shape[1]
    if feature_names is None:
        return contributions, np.arange(n_features)
    if isinstance(feature_names, str):
        raise TypeError(
            "feature_names must be a sequence of names, one per feature, not a "
            f"string: {feature_names!r}."
        )
    names = np.empty(len(feature_names), dtype=object)
    names[:] = list(feature_names)
    if len(names) != n_features:
        raise ValueError(
            f"feature_names has {len(names)} names for the {n_features} columns of "
            "contributions."
        )
    return contributions, names


def flag_events(
    flags,
    scores,
    *,
    contributions=None,
    feature_names=None,
    index=None,
    merge_gap=0,
    n_top_features=3,
):
    """Return the alarms of per-step flags as events, one row per event.

    An event is a run of flagged time steps; runs separated by at most
    ``merge_gap`` unflagged steps are merged into one event, whose span then
    includes the gap. Every flagged step lies in exactly one event, and an event
    starts and ends on a flagged step, never on an unflagged one. With
    ``merge_gap=0`` each maximal run of flags is one event.

    Parameters
    ----------
    flags : array-like of shape (n_steps,)
        ``True`` / ``1`` where a step is flagged as anomalous (for a detector:
        ``predict(X) == -1``).
    scores : array-like of shape (n_steps,)
        Anomaly scores, **higher = more anomalous** (for a detector:
        ``-score_samples(X)``). +inf is allowed, NaN is not.
    contributions : array-like of shape (n_steps, n_features), default=None
        Each feature's share of each step's score (for a detector:
        ``feature_contributions(X)``). When None, ``features`` is empty.
    feature_names : sequence of str, default=None
        Names of the columns of ``contributions``; ``features`` holds column
        numbers when None.
    index : array-like of shape (n_steps,), default=None
        A label per step (timestamps, a DataFrame's index); when given, the
        columns ``start_time``, ``end_time`` and ``peak_time`` hold its values
        at ``start``, ``end`` and ``peak``.
    merge_gap : int, default=0
        Runs of flags separated by at most this many unflagged steps form one
        event.
    n_top_features : int, default=3
        The number of features listed per event.

    Returns
    -------
    events : pandas.DataFrame
        One row per event, in time order, with the columns:

        - ``start``, ``end`` (int): the positions of the event's first and last
          flagged steps (``end`` inclusive);
        - ``n_flagged`` (int): the number of flagged steps in the event (fewer
          than ``end - start + 1`` when runs were merged);
        - ``peak`` (int), ``peak_score`` (float): the position and score of the
          highest-scored flagged step (the first one on ties);
        - ``mean_score`` (float): the mean score of the event's flagged steps;
        - ``features`` (tuple): up to ``n_top_features`` features, by their
          contributions summed over the event's flagged steps, largest first;
          only features with a positive sum are listed;
        - ``start_time``, ``end_time``, ``peak_time``: with ``index`` only.

        Without flags, the table is empty with the same columns.

    Examples
    --------
    >>> from skae._events import flag_events
    >>> flags = [0, 1, 1, 0, 1, 0, 0, 0, 1]
    >>> scores = [0.1, 2.0, 3.0, 0.5, 2.5, 0.2, 0.1, 0.3, 4.0]
    >>> flag_events(flags, scores, merge_gap=1)[["start", "end", "n_flagged", "peak"]]
       start  end  n_flagged  peak
    0      1    4          3     2
    1      8    8          1     8
    """
    flags = _check_labels(flags, "flags").astype(bool)
    n_steps = len(flags)
    scores = _check_scores(scores, n_steps)
    merge_gap = _check_count(merge_gap, "merge_gap", 0)
    n_top_features = _check_count(n_top_features, "n_top_features", 0)
    if contributions is not None:
        contributions, names = _check_contributions(
            contributions, feature_names, n_steps
        )
    elif feature_names is not None:
        raise ValueError("feature_names names the columns of contributions: pass both.")
    if index is not None:
        import pandas as pd

        index = pd.Index(_check_per_step(index, "index", n_steps))

    run_starts, run_ends = runs(flags)
    # an event begins at the first run and at every run after a gap that is too long
    begins = np.ones(len(run_starts), dtype=bool)
    begins[1:] = run_starts[1:] - run_ends[:-1] > merge_gap
    starts = run_starts[begins]
    ends = np.append(run_ends[np.flatnonzero(begins)[1:] - 1], run_ends[-1:]) - 1

    flagged = np.flatnonzero(flags)
    event = np.searchsorted(starts, flagged, side="right") - 1
    n_flagged = np.bincount(event, minlength=len(starts))
    flagged_scores = scores[flagged]
    with np.errstate(invalid="ignore"):  # inf - inf in a sum is inf: no warning
        mean_score = np.bincount(event, flagged_scores, len(starts)) / np.maximum(
            n_flagged, 1
        )
    # per event, the flagged steps by score, highest first, earliest on ties
    order = np.lexsort((flagged, -flagged_scores, event))
    first = np.cumsum(n_flagged) - n_flagged
    peak = flagged[order[first]]

    features = [()] * len(starts)
    if contributions is not None and len(starts):
        # summed per event over its flagged steps (contiguous in `flagged`)
        sums = np.add.reduceat(contributions[flagged], first, axis=0)
        top = np.argsort(-sums, axis=1, kind="stable")[:, :n_top_features]
        positive = np.take_along_axis(sums, top, axis=1) > 0
        features = [
            tuple(names[t[p]].tolist()) for t, p in zip(top, positive, strict=True)
        ]
    return _table(starts, ends, n_flagged, peak, scores, mean_score, features, index)


def _table(starts, ends, n_flagged, peak, scores, mean_score, features, index):
    import pandas as pd

    column = np.empty(len(features), dtype=object)
    column[:] = features
    table = pd.DataFrame(
        {
            "start": starts.astype(np.int64),
            "end": ends.astype(np.int64),
            "n_flagged": n_flagged.astype(np.int64),
            "peak": peak.astype(np.int64),
            "peak_score": scores[peak],
            "mean_score": mean_score.astype(np.float64),
            "features": column,
        }
    )
    if index is not None:
        for name, positions in zip(INDEX_COLUMNS, (starts, ends, peak), strict=True):
            table[name] = index.take(positions)
    return table


class EventStream:
    """Build the events of a stream of rows as they arrive, chunk by chunk.

    :meth:`push` returns the events that the new rows close: an event is closed
    once more than ``merge_gap`` unflagged rows follow its last flag, since no
    later flag can join it then. :meth:`flush` closes the event still open at
    the end of the stream. The events of all pushes and the flush are those
    :func:`flag_events` finds in the whole series, whatever the chunk sizes,
    with ``start``, ``end`` and ``peak`` counted from the stream's first row.

    Only the rows since the start of the open event are kept (none when no
    event is open), so memory grows with the longest event, not the stream.

    Parameters
    ----------
    merge_gap, n_top_features, feature_names
        As for :func:`flag_events`.

    Examples
    --------
    >>> from skae._events import EventStream
    >>> stream = EventStream(merge_gap=1)
    >>> stream.push([0, 1, 1], [0.0, 2.0, 3.0]).shape[0]  # may still grow
    0
    >>> stream.push([0, 1, 0, 0], [0.0, 5.0, 0.0, 0.0])[["start", "end", "peak"]]
       start  end  peak
    0      1    4     4
    """

    def __init__(self, *, merge_gap=0, n_top_features=3, feature_names=None):
        self.merge_gap = _check_count(merge_gap, "merge_gap", 0)
        self.n_top_features = _check_count(n_top_features, "n_top_features", 0)
        self.feature_names = feature_names
        self.n_steps_ = 0  # rows pushed so far
        self._start = 0  # stream position of the first kept row
        self._flags = np.empty(0, dtype=bool)
        self._scores = np.empty(0)
        self._contributions = None
        self._index = None

    def push(self, flags, scores, *, contributions=None, index=None):
        """Take the next rows; return the events they close.

        Parameters
        ----------
        flags, scores : array-like of shape (n_rows,)
            As for :func:`flag_events`, for the new rows only.
        contributions : array-like of shape (n_rows, n_features), default=None
            Given with every push or with none.
        index : array-like of shape (n_rows,), default=None
            Given with every push or with none.

        Returns
        -------
        events : pandas.DataFrame
            The closed events, in the format of :func:`flag_events`.
        """
        new_flags = _check_labels(flags, "flags").astype(bool)
        n_rows = len(new_flags)
        new_scores = _check_scores(scores, n_rows)
        if self.n_steps_ and (contributions is None) != (self._contributions is None):
            raise ValueError(
                "contributions must be given with every push or with none."
            )
        if self.n_steps_ and (index is None) != (self._index is None):
            raise ValueError("index must be given with every push or with none.")
        # check everything before changing anything
        kept_contributions, kept_index = self._contributions, self._index
        if contributions is not None:
            new_contributions, _ = _check_contributions(
                contributions, self.feature_names, n_rows
            )
            if kept_contributions is not None:
                if kept_contributions.shape[1] != new_contributions.shape[1]:
                    raise ValueError(
                        f"contributions has {new_contributions.shape[1]} columns, "
                        f"but earlier pushes had {kept_contributions.shape[1]}."
                    )
                new_contributions = np.concatenate(
                    [kept_contributions, new_contributions]
                )
            kept_contributions = new_contributions
        if index is not None:
            import pandas as pd

            new_index = pd.Index(_check_per_step(index, "index", n_rows))
            kept_index = (
                new_index if kept_index is None else kept_index.append(new_index)
            )
        self._contributions, self._index = kept_contributions, kept_index
        self._flags = np.concatenate([self._flags, new_flags])
        self._scores = np.concatenate([self._scores, new_scores])
        self.n_steps_ += n_rows
        events = self._events()
        # closed: more than merge_gap rows after the last flag
        closed = len(self._flags) - 1 - events["end"].to_numpy() > self.merge_gap
        return self._emit(events, closed)

    def flush(self):
        """Return the event still open (none or one), and forget it.

        Returns
        -------
        events : pandas.DataFrame
            In the format of :func:`flag_events`.
        """
        events = self._events()
        return self._emit(events, np.ones(len(events), dtype=bool))

    def state(self):
        """Return what the stream keeps: the rows of the open event.

        Returns
        -------
        state : dict
            ``n_steps`` (the rows pushed so far), and for the rows kept since the
            start of the open event (none when no event is open): ``flags``,
            ``scores``, ``contributions`` (None when not pushed) and ``index``
            (None when not pushed), copies. :meth:`from_state` takes it back.
        """
        return {
            "n_steps": self.n_steps_,
            "flags": self._flags.copy(),
            "scores": self._scores.copy(),
            "contributions": (
                None if self._contributions is None else self._contributions.copy()
            ),
            "index": self._index,
        }

    @classmethod
    def from_state(cls, state, *, merge_gap=0, n_top_features=3, feature_names=None):
        """Return a stream that goes on from ``state``, as :meth:`state` gave it.

        Parameters
        ----------
        state : dict
            ``n_steps`` and the kept rows' ``flags``, ``scores`` and optionally
            ``contributions`` and ``index``. The kept rows must be one open
            event: the first is flagged, no more than ``merge_gap`` unflagged
            rows lie between flags or after the last one.
        merge_gap, n_top_features, feature_names
            As for :class:`EventStream`; the stream's settings.

        Returns
        -------
        stream : EventStream

        Raises
        ------
        ValueError
            When a field has the wrong type or length, or the kept rows are not
            one open event of ``merge_gap``.
        """
        stream = cls(
            merge_gap=merge_gap,
            n_top_features=n_top_features,
            feature_names=feature_names,
        )
        n_steps = state.get("n_steps")
        flags = _check_labels(state.get("flags", []), "flags").astype(bool)
        n_kept = len(flags)
        n_steps = _check_count(n_steps, "n_steps", n_kept)
        scores = _check_scores(state.get("scores", []), n_kept)
        contributions = state.get("contributions")
        if contributions is not None:
            contributions, _ = _check_contributions(
                contributions, feature_names, n_kept
            )
        index = state.get("index")
        if index is not None:
            import pandas as pd

            index = pd.Index(_check_per_step(index, "index", n_kept))
        if n_kept:
            flagged = np.flatnonzero(flags)
            gaps = np.diff(np.r_[flagged, n_kept]) - 1
            if not flags[0] or gaps.max() > stream.merge_gap:
                raise ValueError(
                    "the kept rows are not one open event: they must start with a "
                    f"flag and have at most merge_gap={stream.merge_gap} unflagged "
                    "rows between flags and after the last."
                )
        stream.n_steps_ = n_steps
        stream._start = n_steps - n_kept
        stream._flags, stream._scores = flags, scores
        stream._contributions, stream._index = contributions, index
        return stream

    def _events(self):
        return flag_events(
            self._flags,
            self._scores,
            contributions=self._contributions,
            feature_names=None if self._contributions is None else self.feature_names,
            index=self._index,
            merge_gap=self.merge_gap,
            n_top_features=self.n_top_features,
        )

    def _emit(self, events, closed):
        # every event but the last is closed: the next one is far enough away
        open_events = events[~closed]
        keep_from = (
            int(open_events["start"].iloc[0]) if len(open_events) else len(self._flags)
        )
        self._flags = self._flags[keep_from:]
        self._scores = self._scores[keep_from:]
        if self._contributions is not None:
            self._contributions = self._contributions[keep_from:]
        if self._index is not None:
            self._index = self._index[keep_from:]
        result = events[closed].reset_index(drop=True)
        for column in ("start", "end", "peak"):
            result[column] += self._start
        self._start += keep_from
        return result
