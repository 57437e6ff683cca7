"""Score a series as its rows arrive, and keep learning from what looks normal.

:class:`StreamingScorer` wraps a detector fitted with ``causal=True``: the score of
step ``t`` then depends on the ``window_size`` steps ending at ``t`` and nothing
later, so a step can be scored as soon as it arrives and never changes. The scorer
keeps the last ``window_size - 1`` rows as context (plus, when it learns, the rows
since its last update), so its memory does not grow with the length of the stream.
It also turns its flags into alarm events (:mod:`skae._events`), keeping the rows of
the open event and the closed events until they are taken.
"""

import numbers
import warnings
from typing import NamedTuple

import numpy as np

from ._events import EventStream, _check_count, flag_events
from ._threads import uses_torch_threads
from ._threshold import k_sigma_threshold
from ._training import TrainingDivergedError
from ._validation import check_is_fitted, check_series, user_stacklevel

LEARN_FROM = ("normal", "all")


@uses_torch_threads
def _with_threads_of(detector, function, *args):
    """Run ``function(*args)`` with the torch threads of ``detector.n_threads``."""
    return function(*args)


def _trailing_mean_std(values, n_before, window):
    """Mean and std of the ``window`` values before each of ``values[n_before:]``.

    Row ``i`` reads ``values[max(0, n_before + i - window) : n_before + i]``
    (fewer values at the start); NaN where fewer than 2. Running sums, taken
    around a reference value so that squaring loses no precision: O(n).
    """
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

    Attributes
    ----------
    scores : ndarray of shape (n_rows,)
        The anomaly score of each row (the reconstruction error: higher is more
        anomalous), ``-detector.score_samples`` of the whole stream at those rows.
    flags : ndarray of shape (n_rows,), dtype bool
        True where the score exceeds the threshold in force: an anomaly. Never
        True in the warm-up (a row with fewer than ``window_size - 1`` rows
        before it; see :class:`StreamingScorer`).
    thresholds : ndarray of shape (n_rows,)
        The threshold each row was judged against (it moves when the scorer
        updates the detector, and with every row under ``threshold_window``).
    """

    scores: np.ndarray
    flags: np.ndarray
    thresholds: np.ndarray


class StreamingScorer:
    """Score rows as they arrive with a causal detector; optionally keep learning.

    Rows pushed in chunks of any sizes get the scores and flags that the whole
    series gets in one :meth:`push` (equal up to float32 rounding, about 1e-7
    relatively: the network sees the same windows in batches of other sizes),
    and, without updates, the scores and flags of ``detector.score_samples``
    and ``detector.predict`` on the whole series, but for the warm-up. The
    score of a row is final when :meth:`push` returns: it depends on no later
    row (latency 0).

    The warm-up: a row with fewer than ``window_size - 1`` rows before it (the
    first rows of a stream without ``context``) is scored by its prefix, as
    ``score_samples`` scores the start of a series, but never flagged. The
    threshold was set on errors of whole windows, and a prefix of a few rows
    is reconstructed worse than any window, so such a row would be flagged for
    lack of context rather than for what it holds. Pass ``context`` (say, the
    end of the training data) to judge the first rows by whole windows.

    Parameters
    ----------
    detector : LSTMAutoencoderDetector
        A detector fitted on a 2-D series (not on sequences) with
        ``causal=True``. With ``update_every`` set, it is updated in place
        (pass a :func:`copy.deepcopy` to keep the original).
    update_every : int or None, default=None
        Every this many pushed rows, call the detector's ``partial_fit`` step on
        the rows since the last update: the errors it made on them (before
        learning, as scored) move the threshold, with the forgetting that the
        detector's ``forget_half_life`` sets, and the network trains for one pass
        over their windows. ``None`` never updates: the detector stays frozen.
        Updates happen at the same stream positions however the rows are
        chunked, so chunking changes nothing. An update whose training
        diverges (:class:`~skae.TrainingDivergedError`, say after
        ``detector.set_params(lr=...)`` too large) is skipped with a
        ``UserWarning``: the detector stays as it was and the stream goes on.
    learn_from : {"normal", "all"}, default="normal"
        Which rows an update learns from. ``"normal"``: only the rows whose
        score is within their threshold, the rows the scorer did not flag
        (their errors move the threshold; the windows made of them only are
        trained on; a warm-up row above its threshold is neither flagged nor
        learned from), so an anomaly is not learned as normal, but a lasting
        change of regime stays flagged until the detector is refitted.
        ``"all"``: every row, so a lasting change becomes normal after a
        while, and so does a long anomaly.
    threshold_window : int or None, default=None
        Judge each row against the reconstruction errors of the
        ``threshold_window`` rows before it instead of the detector's fixed
        threshold: the threshold of a row is ``mu + n_sigmas * sigma`` of those
        errors (the ``n_sigmas`` the detector's threshold was set with, or its
        ``n_sigmas`` parameter under another threshold rule; at the start of
        the stream, the errors the detector made on its held-out data stand
        for the rows not yet seen). Every row's error enters the window, so a
        lasting change of level stops being flagged after about
        ``threshold_window`` rows, and so does an anomaly longer than that,
        while a short anomaly stands out against the errors just before it.
        ``None`` keeps the detector's threshold (``detector.threshold_``, as
        updated by ``update_every``). Costs no training: it suits a series that
        drifts, when updating the network is too slow or too risky. Use
        thousands of rows (on NAB, 5,000 to 25,000 scored alike; 1,000 fired
        more); it is the wrong choice where anomalies last about as long as the
        stream seen so far (on SKAB it missed most anomalous steps).
    context : array-like of shape (n_rows, n_features), default=None
        Rows that came just before the stream (say, the end of the training
        data): the scorer keeps the last ``window_size - 1`` of them as context,
        so the first pushed rows are judged by full windows, not by prefixes.
        They are neither scored nor learned from, nor counted in ``n_steps_``.
    merge_gap : int or None, default=None
        The alarms of the stream are also kept as events (:meth:`take_events`,
        :meth:`flush_events`), as :meth:`LSTMAutoencoderDetector.events` makes
        them: runs of flags separated by at most ``merge_gap`` unflagged rows
        form one event. ``None`` means the detector's ``window_size_``.
    n_top_features : int, default=0
        The features listed per event, by their contributions summed over the
        event's flagged rows. ``0`` (the default) lists none: naming them costs
        a second pass of the network over every pushed row.

    Attributes
    ----------
    detector : LSTMAutoencoderDetector
        The detector that scores (and learns).
    n_steps_ : int
        Rows pushed so far.
    window_size_ : int
        The detector's ``window_size_``: the scorer keeps ``window_size_ - 1``
        rows of context.
    threshold_window : int or None
        As passed: the number of recent errors the threshold is estimated from.
    merge_gap : int
        The gap that merges runs of flags into one event (``window_size_``
        when passed as None).
    n_top_features : int
        As passed.

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
    >>> first = scorer.push(X[200:203])
    >>> rest = scorer.push(X[203:])
    >>> scores = np.r_[first.scores, rest.scores]
    >>> batch = -detector.score_samples(X[200:])
    >>> bool(np.allclose(scores, batch, rtol=1e-6))
    True
    >>> events = scorer.flush_events()  # the alarms of the stream so far
    >>> list(events.columns[:3])
    ['start', 'end', 'n_flagged']
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
        if update_every is not None and (
            not isinstance(update_every, numbers.Integral)
            or isinstance(update_every, bool)
            or update_every < 1
        ):
            raise ValueError(
                f"update_every must be None or an int >= 1, got {update_every!r}."
            )
        if threshold_window is not None and (
            not isinstance(threshold_window, numbers.Integral)
            or isinstance(threshold_window, bool)
            or threshold_window < 2
        ):
            raise ValueError(
                "threshold_window must be None or an int >= 2 (rows), got "
                f"{threshold_window!r}."
            )
        if learn_from not in LEARN_FROM:
            raise ValueError(
                f"learn_from must be one of {LEARN_FROM}, got {learn_from!r}."
            )
        if merge_gap is None:
            merge_gap = int(detector.window_size_)
        merge_gap = _check_count(merge_gap, "merge_gap", 0)
        n_top_features = _check_count(n_top_features, "n_top_features", 0)
        self.detector = detector
        self.update_every = None if update_every is None else int(update_every)
        self.learn_from = learn_from
        self.window_size_ = int(detector.window_size_)
        self.n_steps_ = 0
        # raw rows: the context of the next row, then the rows since the last
        # update (with update_every), whose errors wait in _pending_errors
        self._rows = np.empty((0, detector.n_features_in_))
        self._pending_errors = np.empty(0)
        # the thresholds those rows were judged against (learn_from="normal")
        self._pending_thresholds = np.empty(0)
        self.threshold_window = None
        self._recent_errors = np.empty(0)
        if threshold_window is not None:
            self.threshold_window = int(threshold_window)
            held = np.asarray(detector.__dict__.get("heldout_errors_", []), float)
            self._recent_errors = held[len(held) - min(len(held), threshold_window) :]
        if context is not None and len(context):
            self._rows = self._context(check_series(detector, context, reset=False))
        self.merge_gap, self.n_top_features = merge_gap, n_top_features
        names = getattr(detector, "feature_names_in_", None)
        self._event_stream = EventStream(
            merge_gap=merge_gap,
            n_top_features=n_top_features,
            feature_names=None if names is None else list(names),
        )
        self._closed_events = []  # tables of closed events not yet taken
        # stream position of the event stream's first row: the rows it was not
        # given (before a load, and unflagged while no event was open)
        self._event_offset = 0
        self._last_flag = None  # stream position of the last flagged row

    def push(self, X):
        """Score new rows, in order; update the detector when it is time.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            The next rows of the stream (any number, including 0), with the
            features the detector was fitted on (by name for a DataFrame).

        Returns
        -------
        result : StreamResult
            ``scores``, ``flags`` and ``thresholds`` of the rows, in order.
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
            errors = self._score(rows)
            judged_by = self._thresholds(errors)
            scores.append(errors)
            thresholds.append(judged_by)
            # a row with fewer than window_size - 1 rows before it (the warm-up
            # of a stream without context) is scored by its prefix, as
            # score_samples scores the start of a series, but not flagged
            warmed_up = len(self._rows) + np.arange(take) >= self.window_size_ - 1
            flags.append((errors > judged_by) & warmed_up)
            self._push_events(rows, flags[-1], errors)
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
        names = getattr(detector, "feature_names_in_", None)
        columns = getattr(X, "columns", None)
        if names is not None and columns is not None:
            columns = [str(c) for c in columns]
            if columns != list(names):
                raise ValueError(
                    f"X has the columns {columns}, but the detector was fitted "
                    f"on {list(names)}, in that order."
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
        n_sigmas = info.get("n_sigmas", detector.n_sigmas)
        thresholds = k_sigma_threshold(means, stds, n_sigmas)
        # fewer than 2 errors seen (a detector without held-out errors): its own
        thresholds[np.isnan(thresholds)] = detector.threshold_
        return thresholds

    def _context(self, rows):
        """The last ``window_size - 1`` rows (all of them when fewer)."""
        keep = self.window_size_ - 1
        return rows[len(rows) - min(keep, len(rows)) :]

    def _score(self, rows):
        context = self._context(self._rows)
        data = np.vstack([context, rows])
        return self.detector._errors(data, n_context=len(context))

    # ------------------------------------------------------------ events

    def _push_events(self, rows, flags, errors):
        """Give the event stream the next rows (before ``n_steps_`` and the
        context move past them)."""
        flagged = np.flatnonzero(flags)
        event_open = (
            self._last_flag is not None
            and self.n_steps_ - 1 - self._last_flag <= self.merge_gap
        )
        if not event_open and not len(flagged):
            # the event stream would keep none of these rows and close nothing:
            # skip its table-making (about 2 ms a push, as much as scoring a row)
            self._event_offset += len(flags)
            return
        if len(flagged):
            self._last_flag = self.n_steps_ + int(flagged[-1])
        contributions = None
        if self.n_top_features:
            # the same context and network as the scores, before any update
            context = self._context(self._rows)
            contributions = self.detector._core().contributions(
                np.vstack([context, rows]), n_context=len(context)
            )
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

        An event is closed once more than ``merge_gap`` unflagged rows follow
        its last flag: no later row can join it then. The events of all calls
        (and of :meth:`flush_events` at the end) are those that
        :meth:`LSTMAutoencoderDetector.events` finds in the flags and scores
        of the whole stream (``StreamResult.flags`` and ``scores``), whatever
        the chunk sizes; ``start``, ``end`` and ``peak`` count rows from the
        scorer's first pushed row (``context`` rows do not count).

        The scorer keeps the rows since the start of the open event (their
        flags and scores, and contributions with ``n_top_features``) and the
        events not yet taken; :meth:`save` writes both, so a scorer read back
        with :meth:`load` gives the events of one that never stopped.

        Returns
        -------
        events : pandas.DataFrame
            One row per event, in time order, in the format of
            :meth:`LSTMAutoencoderDetector.events` (without the ``*_time``
            columns); empty, with the same columns, when none closed.
        """
        import pandas as pd

        closed, self._closed_events = self._closed_events, []
        if not closed:
            return flag_events(np.zeros(0, bool), np.zeros(0))
        return pd.concat(closed, ignore_index=True)

    def flush_events(self):
        """Close the open event, if any; return it with the events not taken yet.

        Call it at the end of a stream (or whenever an alarm must be reported
        before it is over): the open event ends at its last flagged row so far,
        and a later flag starts a new event, even within ``merge_gap`` rows.

        Returns
        -------
        events : pandas.DataFrame
            As for :meth:`take_events`.
        """
        self._keep_events(self._event_stream.flush())
        self._last_flag = None
        return self.take_events()

    def _update(self):
        """Learn from the rows since the last update, then forget them."""
        detector, rows = self.detector, self._rows
        errors = self._pending_errors
        n_context = len(rows) - len(errors)
        window = self.window_size_
        # windows that end at one of the new rows
        ends = np.arange(max(n_context, window - 1), len(rows))
        starts = ends - (window - 1)
        if self.learn_from == "normal":
            flagged = errors > self._pending_thresholds
            errors = errors[~flagged]
            marks = np.r_[0, np.cumsum(np.r_[np.zeros(n_context), flagged])]
            starts = starts[marks[ends + 1] == marks[starts]]
        try:
            detector._learn(rows, errors, starts)
        except TrainingDivergedError as exc:
            # the detector is as it was; a stream goes on rather than losing
            # the scores of the rows pushed with this update's last row
            warnings.warn(
                f"StreamingScorer skipped the update at stream row {self.n_steps_} "
                f"and goes on with the detector as it was. {exc}",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        self._rows = self._context(rows)
        self._pending_errors = np.empty(0)
        self._pending_thresholds = np.empty(0)

    # ------------------------------------------------------------ saving

    def _state(self):
        """Return the fitted attributes that hold the scorer's state in a file."""
        state = {
            "stream_info_": {
                "n_steps": int(self.n_steps_),
                "update_every": int(self.update_every or 0),
                "learn_from": self.learn_from,
                "threshold_window": int(self.threshold_window or 0),
                # the events' settings; the open event and the events not
                # taken are arrays of their own (_events_state)
                "merge_gap": int(self.merge_gap),
                "n_top_features": int(self.n_top_features),
            }
        }
        if len(self._recent_errors):
            state["stream_recent_errors_"] = self._recent_errors.copy()
        if len(self._rows):
            state["stream_rows_"] = self._rows.copy()
        if len(self._pending_errors):
            state["stream_errors_"] = self._pending_errors.copy()
            if self.threshold_window is not None:
                state["stream_thresholds_"] = self._pending_thresholds.copy()
        state.update(self._events_state())
        return state

    def _feature_names(self):
        names = getattr(self.detector, "feature_names_in_", None)
        return None if names is None else list(names)

    def _events_state(self):
        """The rows of the open event and the events not taken, as arrays."""
        state = {}
        kept = self._event_stream.state()
        if len(kept["flags"]):
            state["stream_open_flags_"] = kept["flags"]
            state["stream_open_scores_"] = kept["scores"]
            if kept["contributions"] is not None:
                state["stream_open_contributions_"] = kept["contributions"]
        if not self._closed_events:
            return state
        import pandas as pd

        closed = pd.concat(self._closed_events, ignore_index=True)
        self._closed_events = [closed]  # the same events, taken later
        columns = ["start", "end", "n_flagged", "peak"]
        state["stream_closed_events_"] = closed[columns].to_numpy(np.int64)
        state["stream_closed_scores_"] = closed[["peak_score", "mean_score"]].to_numpy(
            np.float64
        )
        width = max(len(f) for f in closed["features"])
        if width:
            names = self._feature_names()
            position = {n: i for i, n in enumerate(names or [])}
            features = np.full((len(closed), width), -1, dtype=np.int64)
            for row, listed in enumerate(closed["features"]):
                features[row, : len(listed)] = [
                    position[f] if names is not None else f for f in listed
                ]
            state["stream_closed_features_"] = features
        return state

    def save(self, path):
        """Write the detector and the scorer's state to a safe model file.

        Same format as :func:`skae.save_model`, plus the context rows, the
        errors waiting for the next update, the step counter, the events'
        settings, the rows of the open event and the events not taken yet;
        :meth:`load` resumes the stream where it stopped: the open event goes
        on, and :meth:`take_events` returns the saved events first, so no
        alarm is lost or split by stopping and resuming a stream (say, ``skae
        stream --save`` interrupted between writing scores and events).

        Parameters
        ----------
        path : str or os.PathLike
            Where to write (``.skae`` is a good suffix).
        """
        from ._persistence import save_model

        save_model(self, path)

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
            The scorer where it stopped; a fresh scorer (no context, no updates)
            when the file holds a detector only.

        Raises
        ------
        ValueError
            When the file is not a valid model file, or its stream state does not
            fit the detector (the message names the field).
        """
        from ._persistence import _load_model_and_state

        detector, state = _load_model_and_state(path, device)
        if not state:
            return cls(detector)
        return cls._from_state(detector, state, path)

    @classmethod
    def _from_state(cls, detector, state, path):
        info = state.get("stream_info_")
        if info is None:
            raise ValueError(f"{path}: the stream state lacks stream_info_.")
        n_steps, update_every = info.get("n_steps"), info.get("update_every")
        window = info.get("threshold_window", 0)
        for name, value in (
            ("n_steps", n_steps),
            ("update_every", update_every),
            ("threshold_window", window),
        ):
            if not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"{path}: stream_info_[{name!r}] must be an int >= 0, got "
                    f"{value!r}."
                )
        events = {}
        for name in ("merge_gap", "n_top_features"):  # absent from older files
            value = info.get(name)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                raise ValueError(
                    f"{path}: stream_info_[{name!r}] must be an int >= 0, got "
                    f"{value!r}."
                )
            if value is not None:
                events[name] = value
        scorer = cls(
            detector,
            update_every=update_every or None,
            learn_from=info.get("learn_from"),
            threshold_window=window or None,
            **events,
        )
        recent = state.get("stream_recent_errors_", np.empty(0))
        if len(recent) > (window or 0):
            raise ValueError(
                f"{path}: the stream state is inconsistent: {len(recent)} recent "
                f"errors (stream_recent_errors_) for threshold_window={window}."
            )
        scorer._recent_errors = recent
        rows = state.get("stream_rows_", np.empty((0, detector.n_features_in_)))
        errors = state.get("stream_errors_", np.empty(0))
        if (
            len(errors) >= (update_every or 1)
            or len(errors) > n_steps
            or not len(errors) <= len(rows) <= len(errors) + scorer.window_size_ - 1
        ):
            raise ValueError(
                f"{path}: the stream state is inconsistent: {len(rows)} rows "
                f"(stream_rows_) and {len(errors)} waiting errors (stream_errors_) "
                f"after {n_steps} steps with update_every={update_every}."
            )
        judged_by = state.get("stream_thresholds_")
        if judged_by is None and not (window and len(errors)):
            judged_by = np.full(len(errors), detector.threshold_)
        if judged_by is None or len(judged_by) != len(errors):
            n_judged = 0 if judged_by is None else len(judged_by)
            raise ValueError(
                f"{path}: the stream state is inconsistent: {len(errors)} waiting "
                f"errors (stream_errors_) and {n_judged} thresholds they were "
                f"judged against (stream_thresholds_), threshold_window={window}."
            )
        scorer.n_steps_ = n_steps
        scorer._rows, scorer._pending_errors = rows, errors
        scorer._pending_thresholds = judged_by
        scorer._load_events(state, path)
        return scorer

    def _load_events(self, state, path):
        """Restore the open event and the events not taken, checked."""
        flags = state.get("stream_open_flags_", np.empty(0, bool))
        scores = state.get("stream_open_scores_", np.empty(0))
        contributions = state.get("stream_open_contributions_")
        n_kept = len(flags)
        if (
            len(scores) != n_kept
            or n_kept > self.n_steps_
            or (contributions is not None and len(contributions) != n_kept)
            or n_kept
            and (contributions is not None) != bool(self.n_top_features)
        ):
            raise ValueError(
                f"{path}: the stream state is inconsistent: the open event has "
                f"{n_kept} flags (stream_open_flags_), {len(scores)} scores "
                "(stream_open_scores_) and "
                f"{'no' if contributions is None else len(contributions)} rows of "
                "contributions (stream_open_contributions_), after "
                f"{self.n_steps_} steps with n_top_features={self.n_top_features}."
            )
        try:
            # the kept rows are the stream's last: count the event stream's rows
            # from the first of them
            self._event_stream = EventStream.from_state(
                {"n_steps": n_kept, "flags": flags, "scores": scores}
                | ({} if contributions is None else {"contributions": contributions}),
                merge_gap=self.merge_gap,
                n_top_features=self.n_top_features,
                feature_names=self._feature_names(),
            )
        except ValueError as exc:
            raise ValueError(
                f"{path}: the open event (stream_open_flags_, stream_open_scores_) "
                f"is refused: {exc}"
            ) from exc
        self._event_offset = self.n_steps_ - n_kept
        self._last_flag = (
            self._event_offset + int(np.flatnonzero(flags)[-1]) if n_kept else None
        )
        closed = _closed_events(state, self, path, first_open=self._event_offset)
        self._closed_events = [] if closed is None else [closed]


def _closed_events(state, scorer, path, *, first_open):
    """The events table of the closed events a file holds (None when none)."""
    positions = state.get("stream_closed_events_")
    values = state.get("stream_closed_scores_")
    features = state.get("stream_closed_features_")
    if positions is None and values is None and features is None:
        return None
    n_events = None if positions is None else len(positions)
    width = 0 if features is None else features.shape[1]
    if (
        positions is None
        or values is None
        or len(values) != n_events
        or (features is not None and len(features) != n_events)
        or width > min(scorer.n_top_features, scorer.detector.n_features_in_)
    ):
        raise ValueError(
            f"{path}: the stream state is inconsistent: the events not taken "
            "need stream_closed_events_ and stream_closed_scores_ with a row "
            "per event, and stream_closed_features_ (when any) as many rows "
            f"of at most n_top_features={scorer.n_top_features} features."
        )
    start, end, n_flagged, peak = positions.T
    last = min(first_open, scorer.n_steps_) - 1
    problems = {
        "start <= peak <= end": (start <= peak) & (peak <= end),
        "1 <= n_flagged <= end - start + 1": (1 <= n_flagged)
        & (n_flagged <= end - start + 1),
        "each starting after the one before ends": np.r_[True, start[1:] > end[:-1]],
        f"each ending before the open event (step {last + 1})": end <= last,
        "peak_score >= 0": values[:, 0] >= 0,
    }
    if features is not None:
        listed = features >= 0
        # the listed features come first, each once
        problems["features listed first, each once"] = (
            listed[:, :-1] >= listed[:, 1:]
        ).all(axis=1) & np.array(
            [len(set(row[row >= 0])) == np.sum(row >= 0) for row in features]
        )
    for demand, holds in problems.items():
        if not np.all(holds):
            raise ValueError(
                f"{path}: the stream state is inconsistent: the events not taken "
                f"(stream_closed_events_, ...) must have {demand}."
            )
    names = scorer._feature_names()
    column = [()] * n_events
    if features is not None:
        column = [
            tuple(int(i) if names is None else names[i] for i in row[row >= 0])
            for row in features
        ]
    import pandas as pd

    table = pd.DataFrame(
        {
            "start": start,
            "end": end,
            "n_flagged": n_flagged,
            "peak": peak,
            "peak_score": values[:, 0],
            "mean_score": values[:, 1],
        }
    )
    table["features"] = pd.Series(column, dtype=object)
    return table
