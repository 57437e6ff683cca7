"""Plots of a detection and of training: series, scores, threshold, labels, losses.

They need matplotlib (``pip install "skae[plot]"``), imported inside each function.
"""

import numpy as np

from ._labels import runs

_LABEL_COLOR = "tab:orange"
_FLAG_COLOR = "tab:red"
_SCORE_COLOR = "tab:blue"
_EVENT_COLOR = "tab:red"


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skae.plotting needs matplotlib: pip install 'skae[plot]' "
            "(or pip install matplotlib)."
        ) from error
    return plt


def _x_values(n_timesteps, timestamps):
    if timestamps is None:
        return np.arange(n_timesteps)
    x = np.asarray(timestamps)
    if x.shape != (n_timesteps,):
        raise ValueError(
            f"timestamps has shape {x.shape}, but the series has {n_timesteps} time "
            "steps: give one timestamp per time step."
        )
    return x


# a run shorter than this share of the series is too narrow to see as a span
_MIN_VISIBLE_SHARE = 1 / 300


def _shade(ax, x, starts, stops, mark_short=False, **style):
    """Shade each span from ``x[start]`` to ``x[stop]`` (stops exclusive, so that
    one step has a width); with ``mark_short``, a span too narrow to see also gets
    a vertical line."""
    color = style.get("color")
    for i, (start, stop) in enumerate(zip(starts, stops, strict=True)):
        label = style.pop("label", None) if i == 0 else None
        ax.axvspan(x[start], x[min(stop, len(x) - 1)], label=label, **style)
        if mark_short and stop - start < _MIN_VISIBLE_SHARE * len(x):
            ax.axvline(x[start], color=color, lw=1.2, alpha=0.8, zorder=1)


def _check_events(events, n_timesteps):
    """Return the ``start``, ``end`` and ``peak`` positions of an events table."""
    columns = getattr(events, "columns", None)
    if columns is None:
        raise TypeError(
            "events must be a DataFrame of alarm events (columns start, end and "
            f"peak, as a detector's events give), got {type(events).__name__}."
        )
    missing = [c for c in ("start", "end", "peak") if c not in columns]
    if missing:
        raise ValueError(f"events lacks the column(s) {missing}.")
    positions = []
    for name in ("start", "end", "peak"):
        values = np.asarray(events[name])
        if len(values) and values.dtype.kind not in "iu":
            raise ValueError(
                f"events' {name} must hold integer step positions, got dtype "
                f"{values.dtype}."
            )
        if len(values) and (values.min() < 0 or values.max() >= n_timesteps):
            raise ValueError(
                f"events' {name} must hold step positions in [0, {n_timesteps}) of "
                f"the series; got values from {values.min()} to {values.max()}."
            )
        positions.append(values.astype(np.int64))
    starts, ends, peaks = positions
    if np.any(ends < starts) or np.any((peaks < starts) | (peaks > ends)):
        raise ValueError(
            "events must have start <= peak <= end in every row (end inclusive)."
        )
    return starts, ends, peaks


def _datetime_index(X):
    """Return the DatetimeIndex of a pandas object, or None."""
    index = getattr(X, "index", None)
    if index is not None and np.issubdtype(np.asarray(index).dtype, np.datetime64):
        return index
    return None


def _concise_dates(ax):
    """Label a date axis briefly: only what changes from one tick to the next."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _check_1d(name, values, n_timesteps):
    values = np.asarray(values)
    if values.ndim != 1 or len(values) != n_timesteps:
        raise ValueError(
            f"{name} must have shape ({n_timesteps},), one value per time step of "
            f"the series; got shape {values.shape}."
        )
    return values


def plot_scores(
    X,
    anomaly_scores,
    *,
    threshold=None,
    y=None,
    timestamps=None,
    feature_names=None,
    train_size=None,
    title=None,
    log_scale=True,
    figsize=(10, 5),
    events=None,
):
    """Plot a series above its anomaly scores, with threshold, flags and labels.

    The top panel shows the series (features standardised when there are
    several) with the flagged steps marked, the bottom one the score and the
    threshold; labels and alarm events are shaded in both.

    Parameters
    ----------
    X : array-like of shape (n_timesteps,) or (n_timesteps, n_features)
        The series that was scored. A DataFrame's column names and DatetimeIndex
        are used unless ``feature_names`` and ``timestamps`` are given.
    anomaly_scores : array-like of shape (n_timesteps,)
        Higher is more anomalous, for example the reconstruction error
        ``-detector.score_samples(X)``.
    threshold : float, default=None
        Steps whose score exceeds it are marked as flagged, for example
        ``detector.threshold_``.
    y : array-like of shape (n_timesteps,), default=None
        Labels, ``1`` = anomaly and ``0`` = normal; runs of ``1`` are shaded.
    timestamps : array-like of shape (n_timesteps,), default=None
        Values for the time axis; the step index when None.
    feature_names : list of str, default=None
        Legend entries for the features.
    train_size : int, default=None
        When given, a vertical line marks the end of the training part.
    title : str, default=None
        Title of the figure.
    log_scale : bool, default=True
        Draw positive scores on a logarithmic axis.
    figsize : tuple of float, default=(10, 5)
        Size of the figure in inches.
    events : pandas.DataFrame, default=None
        Alarm events with the step positions ``start``, ``end`` (inclusive) and
        ``peak``, as a detector's events give them; peaks are marked on the score.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure; its two axes are ``fig.axes``.

    See Also
    --------
    plot_detection : The same plot straight from a fitted detector.
    """
    plt = _pyplot()
    if feature_names is None and hasattr(X, "columns"):
        feature_names = [str(c) for c in X.columns]
    if timestamps is None:
        timestamps = _datetime_index(X)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(
            f"X must be a series of shape (n_timesteps, n_features); got {X.ndim} "
            "dimensions."
        )
    n_timesteps, n_features = X.shape
    scores = _check_1d("anomaly_scores", anomaly_scores, n_timesteps).astype(float)
    x = _x_values(n_timesteps, timestamps)
    if feature_names is None:
        feature_names = [f"feature {j}" for j in range(n_features)]
    if y is not None:
        y = _check_1d("y", y, n_timesteps)
    if events is not None:
        event_starts, event_ends, peaks = _check_events(events, n_timesteps)
        n_events = len(event_starts)
        event_label = f"alarm ({n_events} event{'' if n_events == 1 else 's'})"

    fig, (ax_series, ax_score) = plt.subplots(
        2, 1, sharex=True, figsize=figsize, height_ratios=[3, 2], layout="constrained"
    )
    values = X
    if n_features == 1:
        ax_series.plot(x, X[:, 0], lw=0.7, color="0.25")
        ax_series.set_ylabel(feature_names[0])
    else:  # standardised, to share one axis
        spread = X.std(axis=0)
        values = (X - X.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
        for j in range(n_features):
            ax_series.plot(x, values[:, j], lw=0.7, label=feature_names[j])
        ax_series.set_ylabel("standardised value")

    if threshold is not None:
        flagged = scores > threshold
        label = f"flagged ({int(flagged.sum())} steps)"
        if n_features == 1:
            ax_series.scatter(
                x[flagged], values[flagged, 0], s=6, color=_FLAG_COLOR, zorder=3,
                label=label,
            )  # fmt: skip
        else:
            # several lines: mark the flagged steps as a strip along the bottom
            _shade(
                ax_series, x, *runs(flagged), ymin=0, ymax=0.04, color=_FLAG_COLOR,
                lw=0, label=label,
            )  # fmt: skip
    for ax in (ax_series, ax_score):  # labels, then events, shaded in both panels
        top = ax is ax_series
        if y is not None:
            _shade(
                ax, x, *runs(y == 1), mark_short=True, color=_LABEL_COLOR, alpha=0.25,
                lw=0, label="labelled anomaly" if top else None,
            )  # fmt: skip
        if events is not None:
            _shade(
                ax, x, event_starts, event_ends + 1, color=_EVENT_COLOR, alpha=0.12,
                lw=0, label=event_label if top else None,
            )  # fmt: skip
    ax_score.plot(x, scores, lw=0.7, color=_SCORE_COLOR, label="anomaly score")
    if events is not None and len(peaks):
        ax_score.scatter(
            x[peaks], scores[peaks], marker="v", s=30, color=_EVENT_COLOR, zorder=4,
            label="event peak",
        )  # fmt: skip
    if threshold is not None:
        ax_score.axhline(threshold, color=_FLAG_COLOR, ls="--", lw=1, label="threshold")
    finite = scores[np.isfinite(scores)]
    if log_scale and finite.size and np.all(finite > 0):
        ax_score.set_yscale("log")
        # the lowest errors are noise: keep the axis on the range that matters
        ax_score.set_ylim(bottom=np.percentile(finite, 0.5))
    ax_score.set_ylabel("anomaly score")
    ax_score.set_xlabel("time" if timestamps is not None else "time step")
    if train_size is not None:
        for ax in (ax_series, ax_score):
            ax.axvline(x[train_size - 1], color="0.4", lw=1, ls=":")
        ax_series.annotate(
            "end of training",
            (x[train_size - 1], 0),
            xycoords=("data", "axes fraction"),
            xytext=(3, 3),
            textcoords="offset points",
            va="bottom",
            fontsize="small",
            color="0.3",
        )
    for ax in (ax_series, ax_score):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(
                loc="upper left",
                bbox_to_anchor=(1.01, 1),
                fontsize="small",
                frameon=False,
            )
    if title is not None:
        fig.suptitle(title)
    if timestamps is not None and np.issubdtype(x.dtype, np.datetime64):
        _concise_dates(ax_score)
    return fig


def plot_detection(
    detector, X, y=None, *, timestamps=None, train_size=None, title=None, **kwargs
):
    """Plot a fitted detector's view of a series: scores, threshold and flags.

    Parameters
    ----------
    detector : LSTMAutoencoderDetector
        A fitted detector.
    X : array-like or DataFrame of shape (n_timesteps, n_features)
        The series to score.
    y, timestamps, train_size, title, **kwargs
        As for :func:`plot_scores`; ``feature_names`` defaults to the
        detector's ``feature_names_in_``.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    feature_names = kwargs.pop("feature_names", None)
    if feature_names is None:
        feature_names = getattr(detector, "feature_names_in_", None)
    if timestamps is None:
        timestamps = _datetime_index(X)
    scores = -detector.score_samples(X)
    return plot_scores(
        np.asarray(X, dtype=np.float64),
        scores,
        threshold=detector.threshold_,
        y=y,
        timestamps=timestamps,
        feature_names=None if feature_names is None else list(feature_names),
        train_size=train_size,
        title=title,
        **kwargs,
    )


def plot_history(history, *, ax=None, log_scale=False):
    """Plot the training and held-out loss per epoch, marking the best epoch.

    Parameters
    ----------
    history : LSTMAutoencoderDetector or skorch.History
        A fitted detector or its ``history_``.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.
    log_scale : bool, default=False
        Draw the losses on a logarithmic axis.

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    plt = _pyplot()
    history = getattr(history, "history_", history)
    try:
        epochs = np.asarray(history[:, "epoch"])
        train_loss = np.asarray(history[:, "train_loss"], dtype=float)
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(
            "history must be a fitted detector or a skorch History with "
            "'epoch' and 'train_loss' entries."
        ) from error
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    ax.plot(epochs, train_loss, marker="o", ms=3, label="training loss")
    try:
        valid_loss = np.asarray(history[:, "valid_loss"], dtype=float)
    except KeyError:
        valid_loss = None
    if valid_loss is not None:
        ax.plot(epochs, valid_loss, marker="o", ms=3, label="held-out loss")
        best = int(np.argmin(valid_loss))
        label = f"best epoch ({epochs[best]}), weights kept"
        ax.scatter(
            [epochs[best]], [valid_loss[best]], s=80, facecolors="none", edgecolors="k",
            zorder=3, label=label,
        )  # fmt: skip
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared reconstruction error")
    ax.legend(fontsize="small")
    return ax


def plot_feature_scores(
    feature_scores,
    *,
    feature_names=None,
    y=None,
    timestamps=None,
    ax=None,
    title=None,
):
    """Draw per-feature anomaly scores as a heat map, features by time.

    Shows which sensor a detection comes from.

    Parameters
    ----------
    feature_scores : array-like of shape (n_timesteps, n_features)
        Per-feature scores, higher is more anomalous, such as each feature's
        squared reconstruction error.
    feature_names : list of str, default=None
        Row labels.
    y : array-like of shape (n_timesteps,), default=None
        Labels, ``1`` = anomaly; drawn as a strip above the map.
    timestamps : array-like of shape (n_timesteps,), default=None
        Values for the time axis; the step index when None.
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.
    title : str, default=None
        Title of the axes.

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    plt = _pyplot()
    import matplotlib.dates as mdates
    from matplotlib.colors import LogNorm

    scores = np.asarray(feature_scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(
            "feature_scores must have shape (n_timesteps, n_features); got "
            f"{scores.ndim} dimensions."
        )
    n_timesteps, n_features = scores.shape
    if feature_names is None:
        feature_names = [f"feature {j}" for j in range(n_features)]
    if len(feature_names) != n_features:
        raise ValueError(
            f"feature_names has {len(feature_names)} names for {n_features} features."
        )
    if ax is None:
        _, ax = plt.subplots(
            figsize=(10, 0.35 * n_features + 1.6), layout="constrained"
        )
    x = _x_values(n_timesteps, timestamps)
    is_time = timestamps is not None and np.issubdtype(x.dtype, np.datetime64)
    x_num = mdates.date2num(x) if is_time else x.astype(float)
    extent = (x_num[0], x_num[-1], n_features - 0.5, -0.5)
    positive = scores[scores > 0]
    vmin = max(positive.min(), np.percentile(positive, 1)) if positive.size else None
    norm = None if vmin is None else LogNorm(vmin=vmin)
    image = ax.imshow(
        np.where(scores > 0, scores, np.nan).T,
        aspect="auto",
        interpolation="nearest",
        extent=extent,
        norm=norm,
        cmap="viridis",
    )
    ticks, tick_labels = list(range(n_features)), list(feature_names)
    if y is not None:
        # the labels as one more row above the features
        y = _check_1d("y", y, n_timesteps)
        starts, ends = runs(y == 1)
        for start, end in zip(starts, ends, strict=True):
            stop = x_num[min(end, n_timesteps - 1)]
            ax.fill_between([x_num[start], stop], -1.4, -0.6, color=_LABEL_COLOR, lw=0)
        ax.set_ylim(n_features - 0.5, -1.5)
        ticks, tick_labels = [-1, *ticks], ["labelled anomaly", *tick_labels]
    ax.set_yticks(ticks, tick_labels, fontsize="small")
    if is_time:
        ax.xaxis_date()
        _concise_dates(ax)
    ax.set_xlabel("time" if timestamps is not None else "time step")
    ax.figure.colorbar(image, ax=ax, label="error", pad=0.01)
    if title is not None:
        ax.set_title(title, loc="left")
    return ax


__all__ = ["plot_detection", "plot_feature_scores", "plot_history", "plot_scores"]
