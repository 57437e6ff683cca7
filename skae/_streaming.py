"""Score a series as its rows arrive, and keep learning from what looks normal.

A detector fitted with ``causal=True`` scores step ``t`` from the ``window_size``
steps ending at ``t`` and nothing later, so :class:`StreamingScorer` scores each
row as it arrives, keeping the last ``window_size - 1`` rows as context (and the
rows since its last update), and turns its flags into events (:mod:`skae._events`).
"""

import warnings
from typing import NamedTuple

import numpy as np

from . import _model_files
from ._codec import Field
from ._events import (
    EventStream,
    _check_count,
    events_from_arrays,
    events_to_arrays,
    flag_events,
)
from ._threads import uses_torch_threads
from ._threshold import k_sigma_threshold
from ._training import TrainingDivergedError
from ._validation import check_is_fitted, check_series, user_stacklevel

LEARN_FROM = ("normal", "all")
_CLOSED = ("stream_closed_events_", "stream_closed_scores_", "stream_closed_features_")
_COUNTS = ("n_steps", "update_every", "threshold_window", "merge_gap", "n_top_features")

_NON_NEGATIVE = (lambda v, d: v >= 0, "must be >= 0")
STATE = {
    "stream_info_": Field("info", required=False),
    "stream_rows_": Field("floats", (None, "F"), required=False),
    "stream_errors_": Field("floats", (None,), _NON_NEGATIVE, required=False),
    "stream_recent_errors_": Field("floats", (None,), _NON_NEGATIVE, required=False),
    "stream_thresholds_": Field("floats", (None,), required=False),
    # the open event: its rows' flags, scores and contributions
    "stream_open_flags_": Field("bools", (None,), required=False),
    "stream_open_scores_": Field("floats", (None,), _NON_NEGATIVE, required=False),
    "stream_open_contributions_": Field("floats", (None, "F"), required=False),
    # the events not taken: start, end, n_flagged, peak; peak_score, mean_score;
    # features by column number, -1 after the last listed
    "stream_closed_events_": Field("ints", (None, 4), _NON_NEGATIVE, required=False),
    "stream_closed_scores_": Field("floats", (None, 2), _NON_NEGATIVE, required=False),
    "stream_closed_features_": Field(
        "ints",
        (None, None),
        (
            lambda v, d: (v >= -1) & (v < d.n_features_in_),
            "must be feature numbers below n_features_in_, or -1 for none",
        ),
        required=False,
    ),
}
"""The scorer's state in a model file, beside its detector's fitted attributes."""


@uses_torch_threads
def _with_threads_of(detector, function, *args):
    """Run ``function(*args)`` with the torch threads of ``detector.n_threads``."""
    return function(*args)


def _trailing_mean_std(values, n_before, window):
    """Mean and std of the ``window`` values before each of ``values[n_before:]``
    (NaN where fewer than 2), from running sums around a reference value."""
    reference = values[:n_before].mean() if n_before else values[0]
    shifted = values - reference
    sums = np.r_[0.0, np.cumsum(shifted)]
    squares = np.r_[0.0, np.cumsum(shifted * shifted)]
    hi = np.arange(n_before, len(values))
    lo = np.maximum(hi - window, 0)
    count = (hi - lo).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (sums[hi] - sums[lo]) / count
        variance = (squares[hi] - squares[lo]) / count - mean * mean
    mean[count < 2] = np.nan
    return reference + mean, np.sqrt(np.maximum(variance, 0.0))


class StreamResult(NamedTuple):
    """The scores of the rows of one :meth:`StreamingScorer.push`.

    ``scores`` (``-detector.score_samples`` of the stream at those rows),
    ``flags`` (a score above its threshold, never in the warm-up) and the
    ``thresholds`` the rows were judged against, arrays of shape (n_rows,).
    """

    scores: np.ndarray
    flags: np.ndarray
    thresholds: np.ndarray


class StreamingScorer:
    """Score rows as they arrive with a causal detector; optionally keep learning.

    Rows pushed in chunks of any sizes get the scores and flags of one push of
    the whole series (up to float32 rounding), and, without updates, those of
    ``detector.score_samples`` and ``detector.predict``. A row's score is final
    when :meth:`push` returns. In the warm-up (a row with fewer than
    ``window_size - 1`` rows before it) a row is scored by its prefix but never
    flagged; pass ``context`` to judge the first rows by whole windows.

    Parameters
    ----------
    detector : LSTMAutoencoderDetector
        A detector fitted on a 2-D series with ``causal=True``. Updates change
        it in place (pass a :func:`copy.deepcopy` to keep the original).
    update_every : int or None, default=None
        Every this many rows, the detector's ``partial_fit`` step learns from the
        rows since the last update (their errors move the threshold; the network
        trains one pass). An update whose training diverges is skipped with a
        ``UserWarning``. ``None`` never updates.
    learn_from : {"normal", "all"}, default="normal"
        Which rows an update learns from: those not flagged, or every row (a
        lasting change, or a long anomaly, then becomes normal).
    threshold_window : int or None, default=None
        Judge each row against ``mu + n_sigmas * sigma`` of the errors of the
        ``threshold_window`` rows before it (held-out errors stand in at the
        start) instead of the detector's threshold. ``None`` keeps
        ``detector.threshold_``.
    context : array-like of shape (n_rows, n_features), default=None
        Rows that came just before the stream; the last ``window_size - 1`` are
        kept as context, neither scored nor counted.
    merge_gap : int or None, default=None
        Runs of flags at most this many rows apart form one event
        (:meth:`take_events`); ``None`` means the detector's ``window_size_``.
    n_top_features : int, default=0
        The features listed per event; naming them costs a second pass of the
        network over every row.

    Attributes
    ----------
    n_steps_ : int
        Rows pushed so far.

    See Also
    --------
    LSTMAutoencoderDetector.partial_fit : the update step.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import LSTMAutoencoderDetector, StreamingScorer
    >>> X = np.sin(np.arange(400) / 4).reshape(-1, 1)
    >>> detector = LSTMAutoencoderDetector(
    ...     window_size=8, hidden_size=4, max_epochs=2, causal=True, random_state=0
    ... ).fit(X[:200])
    >>> scorer = StreamingScorer(detector)
    >>> scores = np.r_[scorer.push(X[200:203]).scores, scorer.push(X[203:]).scores]
    >>> bool(np.allclose(scores, -detector.score_samples(X[200:]), rtol=1e-6))
    True
    """

    def __init__(
        self,
        detector,
        *,
        update_every=None,
        learn_from="normal",
        threshold_window=None,
        context=None,
        merge_gap=None,
        n_top_features=0,
    ):
        check_is_fitted(detector)
        if detector._fitted_on_sequences():
            raise ValueError(
                "StreamingScorer scores the rows of one series, but this detector "
                "was fitted on sequences (a 3-D array or a list of 2-D arrays), "
                "whose scores are one per sequence. Fit a detector on a 2-D "
                "series (n_timesteps, n_features) with causal=True to stream."
            )
        if not detector.__dict__.get("causal_", False):
            raise ValueError(
                "StreamingScorer needs a detector fitted with causal=True: its "
                "threshold was set on causal scores, which use no future step. "
                "Fit it again with LSTMAutoencoderDetector(causal=True, ...)."
            )
        self.update_every, self.threshold_window = (
            None if value is None else _check_count(value, name, minimum)
            for value, name, minimum in (
                (update_every, "update_every", 1),
                (threshold_window, "threshold_window", 2),
            )
        )
        if learn_from not in LEARN_FROM:
            raise ValueError(
                f"learn_from must be one of {LEARN_FROM}, got {learn_from!r}."
            )
        if merge_gap is None:
            merge_gap = int(detector.window_size_)
        self.merge_gap = _check_count(merge_gap, "merge_gap", 0)
        self.n_top_features = _check_count(n_top_features, "n_top_features", 0)
        self.detector, self.learn_from = detector, learn_from
        self.window_size_ = int(detector.window_size_)
        self.n_steps_ = 0
        # the context of the next row, then the rows since the last update, whose
        # errors and the thresholds they were judged against wait for it
        self._rows = np.empty((0, detector.n_features_in_))
        self._pending_errors = np.empty(0)
        self._pending_thresholds = np.empty(0)
        self._recent_errors = np.empty(0)
        if self.threshold_window is not None:
            held = np.asarray(detector.__dict__.get("heldout_errors_", []), float)
            keep = min(len(held), self.threshold_window)
            self._recent_errors = held[len(held) - keep :]
        if context is not None and len(context):
            self._rows = self._context(check_series(detector, context, reset=False))
        self._event_stream = EventStream(
            merge_gap=self.merge_gap,
            n_top_features=self.n_top_features,
            feature_names=self._feature_names(),
        )
        self._closed_events = []  # tables of closed events not yet taken
        # stream position of the event stream's first row
        self._event_offset = 0
        self._last_flag = None  # stream position of the last flagged row

    def push(self, X):
        """Score new rows, in order; update the detector when it is time.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            The next rows of the stream (any number).

        Returns
        -------
        result : StreamResult
        """
        return _with_threads_of(self.detector, self._push, X)

    def _push(self, X):
        if getattr(X, "shape", None) is not None and len(X.shape) == 2:
            if X.shape[0] == 0:
                self._check_empty(X)
                return StreamResult(np.empty(0), np.empty(0, bool), np.empty(0))
        X = check_series(self.detector, X, reset=False)
        scores, flags, thresholds = [], [], []
        position = 0
        while position < len(X):
            take = len(X) - position
            if self.update_every is not None:
                take = min(take, self.update_every - len(self._pending_errors))
            rows = X[position : position + take]
            # the same context and network for the scores and the events
            data = np.vstack([self._context(self._rows), rows])
            n_context = len(data) - take
            errors = self.detector._errors(data, n_context=n_context)
            judged_by = self._thresholds(errors)
            scores.append(errors)
            thresholds.append(judged_by)
            warmed_up = len(self._rows) + np.arange(take) >= self.window_size_ - 1
            flags.append((errors > judged_by) & warmed_up)
            self._push_events(data, n_context, flags[-1], errors)
            position += take
            self.n_steps_ += take
            if self.update_every is None:
                self._rows = self._context(np.vstack([self._rows, rows]))
                continue
            self._rows = np.vstack([self._rows, rows])
            self._pending_errors = np.r_[self._pending_errors, errors]
            self._pending_thresholds = np.r_[self._pending_thresholds, judged_by]
            if len(self._pending_errors) == self.update_every:
                self._update()
        return StreamResult(
            np.concatenate(scores), np.concatenate(flags), np.concatenate(thresholds)
        )

    def _check_empty(self, X):
        """Refuse an empty chunk whose columns are not the detector's."""
        detector = self.detector
        if X.shape[1] != detector.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but the detector was fitted on "
                f"{detector.n_features_in_}; an empty chunk must have them too."
            )
        names, columns = self._feature_names(), getattr(X, "columns", None)
        if names is not None and columns is not None:
            columns = [str(c) for c in columns]
            if columns != names:
                raise ValueError(
                    f"X has the columns {columns}, but the detector was fitted "
                    f"on {names}, in that order."
                )

    def _thresholds(self, errors):
        """The threshold of each of the new rows' ``errors``; remember them."""
        if self.threshold_window is None:
            return np.full(len(errors), self.detector.threshold_)
        window = self.threshold_window
        means, stds = np.empty(len(errors)), np.empty(len(errors))
        # blocks of at most `window` rows keep the running sums short
        for start in range(0, len(errors), window):
            block = errors[start : start + window]
            recent = np.r_[self._recent_errors, block]
            stop = start + len(block)
            means[start:stop], stds[start:stop] = _trailing_mean_std(
                recent, len(self._recent_errors), window
            )
            self._recent_errors = recent[len(recent) - min(len(recent), window) :]
        detector = self.detector
        info = detector.__dict__.get("threshold_info_", {})
        thresholds = k_sigma_threshold(
            means, stds, info.get("n_sigmas", detector.n_sigmas)
        )
        # fewer than 2 errors seen (a detector without held-out errors): its own
        thresholds[np.isnan(thresholds)] = detector.threshold_
        return thresholds

    def _context(self, rows):
        """The last ``window_size - 1`` rows (all of them when fewer)."""
        return rows[len(rows) - min(self.window_size_ - 1, len(rows)) :]

    def _update(self):
        """Learn from the rows since the last update, then forget them."""
        rows, errors = self._rows, self._pending_errors
        n_context = len(rows) - len(errors)
        # windows that end at one of the new rows
        ends = np.arange(max(n_context, self.window_size_ - 1), len(rows))
        starts = ends - (self.window_size_ - 1)
        if self.learn_from == "normal":
            flagged = errors > self._pending_thresholds
            errors = errors[~flagged]
            marks = np.r_[0, np.cumsum(np.r_[np.zeros(n_context), flagged])]
            starts = starts[marks[ends + 1] == marks[starts]]
        try:
            self.detector._learn(rows, errors, starts)
        except TrainingDivergedError as exc:
            # the detector is as it was; the stream goes on
            warnings.warn(
                f"StreamingScorer skipped the update at stream row {self.n_steps_} "
                f"and goes on with the detector as it was. {exc}",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        self._rows = self._context(rows)
        self._pending_errors = np.empty(0)
        self._pending_thresholds = np.empty(0)

    def _feature_names(self):
        names = getattr(self.detector, "feature_names_in_", None)
        return None if names is None else list(names)

    def _push_events(self, data, n_context, flags, errors):
        """Give the event stream the next rows (before ``n_steps_`` moves)."""
        flagged = np.flatnonzero(flags)
        event_open = (
            self._last_flag is not None
            and self.n_steps_ - 1 - self._last_flag <= self.merge_gap
        )
        if not event_open and not len(flagged):
            # the event stream would keep none of these rows and close nothing
            self._event_offset += len(flags)
            return
        if len(flagged):
            self._last_flag = self.n_steps_ + int(flagged[-1])
        contributions = None
        if self.n_top_features:
            core = self.detector._core()
            contributions = core.contributions(data, n_context=n_context)
        self._keep_events(
            self._event_stream.push(flags, errors, contributions=contributions)
        )

    def _keep_events(self, events):
        if len(events):
            for column in ("start", "end", "peak"):
                events[column] += self._event_offset
            self._closed_events.append(events)

    def take_events(self):
        """Return the events closed since the last call, and forget them.

        Together, the calls (and :meth:`flush_events`) give the events
        :meth:`LSTMAutoencoderDetector.events` finds in the whole stream, rows
        counted from the first pushed row, whatever the chunk sizes.

        Returns
        -------
        events : pandas.DataFrame
            As :meth:`LSTMAutoencoderDetector.events` gives them.
        """
        import pandas as pd

        closed, self._closed_events = self._closed_events, []
        if not closed:
            return flag_events(np.zeros(0, bool), np.zeros(0))
        return pd.concat(closed, ignore_index=True)

    def flush_events(self):
        """Close the open event; return it with the events not taken yet.

        Returns
        -------
        events : pandas.DataFrame
        """
        self._keep_events(self._event_stream.flush())
        self._last_flag = None
        return self.take_events()

    def save(self, path):
        """Write the detector and the scorer's state (context rows, errors waiting
        for an update, settings, events) to a safe model file; :meth:`load`
        resumes the stream.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write (``.skae`` is a good suffix).
        """
        _model_files.write(self.detector, path, self._state(), STATE)

    @classmethod
    def load(cls, path, *, device=None):
        """Read a scorer written by :meth:`save` (or a detector, to start afresh).

        Parameters
        ----------
        path : str or os.PathLike
            A file from :meth:`save` or :func:`skae.save_model`.
        device : str, default=None
            As for :func:`skae.load_model`.

        Returns
        -------
        scorer : StreamingScorer
            Where it stopped; a fresh scorer for a detector's file.
        """
        detector, state = _model_files.read(path, device, STATE)
        if not state:
            return cls(detector)
        return cls._from_state(detector, state, path)

    def _state(self):
        """The scorer's state, as :data:`STATE` names it."""
        counts = (self.n_steps_, self.update_every or 0, self.threshold_window or 0)
        counts += (self.merge_gap, self.n_top_features)
        kept = self._event_stream.state()
        arrays = {
            "stream_recent_errors_": self._recent_errors,
            "stream_rows_": self._rows,
            "stream_errors_": self._pending_errors,
            "stream_open_flags_": kept["flags"],
            "stream_open_scores_": kept["scores"],
        }
        if self.threshold_window is not None:
            arrays["stream_thresholds_"] = self._pending_thresholds
        if kept["contributions"] is not None:
            arrays["stream_open_contributions_"] = kept["contributions"]
        state = {name: a.copy() for name, a in arrays.items() if len(a)}
        state["stream_info_"] = dict(zip(_COUNTS, map(int, counts), strict=True))
        state["stream_info_"]["learn_from"] = self.learn_from
        if not self._closed_events:
            return state
        import pandas as pd

        closed = pd.concat(self._closed_events, ignore_index=True)
        self._closed_events = [closed]  # the same events, taken later
        arrays = events_to_arrays(closed, self._feature_names())
        for name, array in zip(_CLOSED, arrays, strict=True):
            if array is not None:
                state[name] = array
        return state

    @classmethod
    def _from_state(cls, detector, state, path):
        info = state.get("stream_info_", {})
        counts = [info.get(name) for name in _COUNTS]
        for name, value in zip(_COUNTS, counts, strict=True):
            if type(value) is not int or value < 0:
                raise ValueError(
                    f"{path}: stream_info_[{name!r}] must be an int >= 0, got "
                    f"{value!r}."
                )
        n_steps, update_every, window, merge_gap, n_top_features = counts
        scorer = cls(
            detector,
            update_every=update_every or None,
            learn_from=info.get("learn_from"),
            threshold_window=window or None,
            merge_gap=merge_gap,
            n_top_features=n_top_features,
        )
        recent = state.get("stream_recent_errors_", np.empty(0))
        if len(recent) > window:
            raise _inconsistent(
                path,
                f"{len(recent)} recent errors (stream_recent_errors_) for "
                f"threshold_window={window}",
            )
        rows = state.get("stream_rows_", np.empty((0, detector.n_features_in_)))
        errors = state.get("stream_errors_", np.empty(0))
        if (
            len(errors) >= (update_every or 1)
            or len(errors) > n_steps
            or not len(errors) <= len(rows) <= len(errors) + scorer.window_size_ - 1
        ):
            raise _inconsistent(
                path,
                f"{len(rows)} rows (stream_rows_) and {len(errors)} waiting errors "
                f"(stream_errors_) after {n_steps} steps with "
                f"update_every={update_every}",
            )
        judged_by = state.get("stream_thresholds_")
        if judged_by is None and not (window and len(errors)):
            judged_by = np.full(len(errors), detector.threshold_)
        if judged_by is None or len(judged_by) != len(errors):
            raise _inconsistent(
                path,
                f"{len(errors)} waiting errors (stream_errors_) and "
                f"{0 if judged_by is None else len(judged_by)} thresholds they were "
                f"judged against (stream_thresholds_), threshold_window={window}",
            )
        scorer.n_steps_, scorer._recent_errors = n_steps, recent
        scorer._rows, scorer._pending_errors = rows, errors
        scorer._pending_thresholds = judged_by
        scorer._load_events(state, path)
        return scorer

    def _load_events(self, state, path):
        """Restore the open event and the events not taken, checked."""
        flags = state.get("stream_open_flags_", np.empty(0, bool))
        contributions = state.get("stream_open_contributions_")
        n_kept = len(flags)
        if (
            n_kept > self.n_steps_
            or n_kept
            and (contributions is None) == bool(self.n_top_features)
        ):
            raise _inconsistent(
                path,
                f"the open event has {n_kept} rows (stream_open_flags_) "
                f"{'without' if contributions is None else 'with'} contributions "
                f"(stream_open_contributions_) after {self.n_steps_} steps with "
                f"n_top_features={self.n_top_features}",
            )
        kept = {"n_steps": n_kept, "flags": flags, "contributions": contributions}
        kept["scores"] = state.get("stream_open_scores_", np.empty(0))
        try:  # the kept rows are the stream's last
            self._event_stream = EventStream.from_state(
                kept,
                merge_gap=self.merge_gap,
                n_top_features=self.n_top_features,
                feature_names=self._feature_names(),
            )
        except ValueError as exc:
            raise ValueError(
                f"{path}: the open event (stream_open_flags_, stream_open_scores_, "
                f"stream_open_contributions_) is refused: {exc}"
            ) from exc
        self._event_offset = self.n_steps_ - n_kept
        self._last_flag = (
            self._event_offset + int(np.flatnonzero(flags)[-1]) if n_kept else None
        )
        closed = self._closed_table(state, path)
        self._closed_events = [] if closed is None else [closed]

    def _closed_table(self, state, path):
        """The table of the events not taken that a file holds (None when none)."""
        positions, values, features = (state.get(name) for name in _CLOSED)
        if positions is values is features is None:
            return None
        n_events = None if positions is None else len(positions)
        width = 0 if features is None else features.shape[1]
        if (
            positions is None
            or values is None
            or len(values) != n_events
            or (features is not None and len(features) != n_events)
            or width > min(self.n_top_features, self.detector.n_features_in_)
        ):
            raise _inconsistent(
                path,
                "the events not taken need stream_closed_events_ and "
                "stream_closed_scores_ with a row per event, and "
                "stream_closed_features_ (when any) as many rows of at most "
                f"n_top_features={self.n_top_features} features",
            )
        try:
            return events_from_arrays(
                positions,
                values,
                features,
                last=min(self._event_offset, self.n_steps_) - 1,
                feature_names=self._feature_names(),
            )
        except ValueError as exc:
            raise _inconsistent(
                path,
                f"the events not taken (stream_closed_events_, ...) must have {exc}",
            ) from None


def _inconsistent(path, text):
    return ValueError(f"{path}: the stream state is inconsistent: {text}.")
