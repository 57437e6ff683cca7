"""Alarms as events: intervals of flagged time steps, with their scores and features.

:func:`flag_events` turns per-step flags into events, one row each, so that the
command line, the streaming scorer and the plots show the same alarms;
:class:`EventStream` finds the same events in rows that arrive chunk by chunk.
NumPy and pandas only.
"""

import numbers

import numpy as np

from ._labels import _check_labels, runs

EVENT_COLUMNS = tuple("start end n_flagged peak peak_score mean_score features".split())
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


def _check_index(index, n_steps):
    import pandas as pd

    return None if index is None else pd.Index(_check_per_step(index, "index", n_steps))


def _check_numbers(values, name):
    """Return ``values`` as float64; refuse other dtypes and NaN (not inf)."""
    if values.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {values.dtype}.")
    values = values.astype(np.float64)
    if np.isnan(values).any():
        raise ValueError(f"{name} contains NaN.")
    return values


def _check_contributions(contributions, feature_names, n_steps):
    contributions = np.asarray(contributions)
    if contributions.ndim != 2 or contributions.shape[0] != n_steps:
        raise ValueError(
            f"contributions must have shape (n_steps, n_features) = ({n_steps}, "
            f"n_features), one row per time step; got shape {contributions.shape}."
        )
    contributions = _check_numbers(contributions, "contributions")
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


def _check_steps(flags, scores):
    flags = _check_labels(flags, "flags").astype(bool)
    return flags, _check_numbers(
        _check_per_step(scores, "scores", len(flags)), "scores"
    )


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

    An event is a run of flagged steps (``predict(X) == -1``); runs at most
    ``merge_gap`` unflagged steps apart form one event, which starts and ends on
    a flagged step. ``scores`` are higher for more anomalous steps (+inf allowed);
    ``contributions`` (n_steps, n_features), named by ``feature_names``, give
    each event's ``n_top_features`` largest positive sums over its flagged
    steps; ``index`` adds the ``*_time`` columns. The columns are those of
    :meth:`LSTMAutoencoderDetector.events`.

    >>> flags = [0, 1, 1, 0, 1, 0, 0, 0, 1]
    >>> scores = [0.1, 2.0, 3.0, 0.5, 2.5, 0.2, 0.1, 0.3, 4.0]
    >>> flag_events(flags, scores, merge_gap=1)[["start", "end", "n_flagged", "peak"]]
       start  end  n_flagged  peak
    0      1    4          3     2
    1      8    8          1     8
    """
    flags, scores = _check_steps(flags, scores)
    merge_gap = _check_count(merge_gap, "merge_gap", 0)
    n_top_features = _check_count(n_top_features, "n_top_features", 0)
    if contributions is not None:
        contributions, names = _check_contributions(
            contributions, feature_names, len(flags)
        )
    elif feature_names is not None:
        raise ValueError("feature_names names the columns of contributions: pass both.")
    index = _check_index(index, len(flags))

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


def events_to_arrays(table, feature_names=None):
    """Return an events table as arrays: ``(positions, scores, features)``.

    Per event: start, end, n_flagged and peak (int64); peak and mean score;
    the listed features as column numbers, ``-1`` after the last (None when no
    event lists any). :func:`events_from_arrays` reads them back.
    """
    positions = table[list(EVENT_COLUMNS[:4])].to_numpy(np.int64)
    scores = table[list(EVENT_COLUMNS[4:6])].to_numpy(np.float64)
    width = max((len(f) for f in table["features"]), default=0)
    if not width:
        return positions, scores, None
    number = {name: i for i, name in enumerate(feature_names or [])}
    features = np.full((len(table), width), -1, dtype=np.int64)
    for row, listed in enumerate(table["features"]):
        features[row, : len(listed)] = [number.get(f, f) for f in listed]
    return positions, scores, features


def events_from_arrays(positions, scores, features, *, last, feature_names=None):
    """Return the events table that :func:`events_to_arrays` wrote, checked.

    Events must end at step ``last`` at the latest; a ValueError names the
    first rule the arrays break.
    """
    start, end, n_flagged, peak = positions.T
    rules = {
        "start <= peak <= end": (start <= peak) & (peak <= end),
        "1 <= n_flagged <= end - start + 1": (1 <= n_flagged)
        & (n_flagged <= end - start + 1),
        "each starting after the one before ends": np.r_[True, start[1:] > end[:-1]],
        f"each ending before the open event (step {last + 1})": end <= last,
    }
    if features is not None:
        listed = features >= 0
        rules["features listed first, each once"] = (
            listed[:, :-1] >= listed[:, 1:]
        ).all(axis=1) & np.array(
            [len(set(row[row >= 0])) == np.sum(row >= 0) for row in features]
        )
    for rule, holds in rules.items():
        if not np.all(holds):
            raise ValueError(rule)
    import pandas as pd

    columns = (start, end, n_flagged, peak, *scores.T)
    table = pd.DataFrame(dict(zip(EVENT_COLUMNS[:6], columns, strict=True)))
    names = feature_names
    listed = [()] * len(positions)
    if features is not None:
        listed = [
            tuple(int(i) if names is None else names[i] for i in row[row >= 0])
            for row in features
        ]
    table["features"] = pd.Series(listed, dtype=object)
    return table


class EventStream:
    """Find the events of rows that arrive chunk by chunk, as :func:`flag_events`
    finds them in the whole series, counted from the stream's first row.

    :meth:`push` returns the events the new rows close (more than ``merge_gap``
    unflagged rows after their last flag), :meth:`flush` the open one. Only the
    rows of the open event are kept.
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
        """Take the next rows; return the events they close. ``contributions``
        and ``index`` are given with every push or with none."""
        new_flags, new_scores = _check_steps(flags, scores)
        n_rows = len(new_flags)
        for name, new, kept in (
            ("contributions", contributions, self._contributions),
            ("index", index, self._index),
        ):
            if self.n_steps_ and (new is None) != (kept is None):
                raise ValueError(f"{name} must be given with every push or with none.")
        # check everything before changing anything
        kept = self._contributions
        if contributions is not None:
            contributions, _ = _check_contributions(
                contributions, self.feature_names, n_rows
            )
            if kept is not None and kept.shape[1] != contributions.shape[1]:
                raise ValueError(
                    f"contributions has {contributions.shape[1]} columns, but "
                    f"earlier pushes had {kept.shape[1]}."
                )
            if kept is not None:
                contributions = np.concatenate([kept, contributions])
        index = _check_index(index, n_rows)
        if index is not None and self._index is not None:
            index = self._index.append(index)
        self._contributions, self._index = contributions, index
        self._flags = np.concatenate([self._flags, new_flags])
        self._scores = np.concatenate([self._scores, new_scores])
        self.n_steps_ += n_rows
        events = self._events()
        closed = len(self._flags) - 1 - events["end"].to_numpy() > self.merge_gap
        return self._emit(events, closed)

    def flush(self):
        """Return the open event (none or one), and forget it."""
        events = self._events()
        return self._emit(events, np.ones(len(events), dtype=bool))

    def state(self):
        """Return ``n_steps`` and the rows of the open event (``flags``,
        ``scores``, ``contributions`` and ``index``, None when not pushed), as
        copies; :meth:`from_state` takes it back."""
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

        The kept rows must be one open event of ``merge_gap``: the first is
        flagged, and no more than ``merge_gap`` unflagged rows lie between flags
        or after the last one; a ValueError says what does not fit.
        """
        stream = cls(
            merge_gap=merge_gap,
            n_top_features=n_top_features,
            feature_names=feature_names,
        )
        flags, scores = _check_steps(state.get("flags", []), state.get("scores", []))
        n_kept = len(flags)
        n_steps = _check_count(state.get("n_steps"), "n_steps", n_kept)
        contributions = state.get("contributions")
        if contributions is not None:
            contributions, _ = _check_contributions(
                contributions, feature_names, n_kept
            )
        if n_kept:
            gaps = np.diff(np.r_[np.flatnonzero(flags), n_kept]) - 1
            if not flags[0] or gaps.max() > stream.merge_gap:
                raise ValueError(
                    "the kept rows are not one open event: they must start with a "
                    f"flag and have at most merge_gap={stream.merge_gap} unflagged "
                    "rows between flags and after the last."
                )
        stream.n_steps_ = n_steps
        stream._start = n_steps - n_kept
        stream._flags, stream._scores = flags, scores
        stream._contributions = contributions
        stream._index = _check_index(state.get("index"), n_kept)
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
