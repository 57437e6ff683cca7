"""``skae fit`` and ``skae score``, and the model files, tables and outputs that
``skae stream`` shares with them."""

import functools
import math
import numbers
import os
import stat
import sys
import time
from pathlib import Path

from ._cli_parser import DataError, UsageError
from ._codec import file_kind
from ._scaling import MAX_SCALED_MAGNITUDE

SAFE_SUFFIX = ".skae"
PICKLE_SUFFIXES = (".joblib", ".pkl")
STDOUT = "-"  # --out - writes to standard output
N_TOP_FEATURES = 3  # the features listed per event in an events file
# the options of skae fit that are the detector's parameters of the same names
_FIT_PARAMETERS = (
    "window_size hidden_size max_epochs contamination device precision "
    "random_state causal"
).split()


def say(*parts, file=None):
    print(*parts, file=sys.stdout if file is None else file, flush=True)


def _quiet(*parts, file=None):
    """``say`` for -q: nothing."""


def one_line(error):
    text = " ".join(str(error).split())
    return text or type(error).__name__


def check_output(path, option):
    """Refuse an output path that cannot be written, before any work is done."""
    if option in ("--out", "--events") and path == STDOUT:
        return
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise DataError(f"cannot write {option} {path}: it is a directory")
    if not folder.is_dir():
        raise DataError(f"cannot write {option} {path}: no folder {folder}")
    if not os.access(folder, os.W_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        raise DataError(f"cannot write {option} {path}: permission denied")


def check_event_options(args, command):
    if args.events is not None:
        check_output(args.events, "--events")
    elif args.merge_gap is not None:
        raise UsageError(
            f"argument --merge-gap: it sets the events of --events, which is "
            f"not given (see 'skae {command} --help')"
        )


def load_model(path):
    """Load a fitted detector: a .skae file only through the safe loader."""
    from . import _persistence
    from ._detector import LSTMAutoencoderDetector

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        mode = path.stat().st_mode  # follows a link
    except FileNotFoundError:
        raise DataError(f"{path}: no such model file") from None
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror or error}") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"{path}: is a directory, not a model file")
    if not stat.S_ISREG(mode):  # /dev/zero, a pipe: never read from
        raise DataError(
            f"{path}: not a regular file ({file_kind(mode)}); MODEL "
            "must be a model file from 'skae fit'"
        )
    if suffix == SAFE_SUFFIX:
        try:
            model = _persistence.load_model(path)
        except (ValueError, TypeError, OSError, RuntimeError) as error:
            raise DataError(
                f"{path}: not a valid {SAFE_SUFFIX} model file ({one_line(error)})"
            ) from None
    elif suffix in PICKLE_SUFFIXES:
        import joblib

        print(
            f"skae: warning: {path} is a joblib pickle: loading it runs code from "
            "the file; only load files you made or trust (a .skae file is safe)",
            file=sys.stderr,
            flush=True,
        )
        try:
            model = joblib.load(path)
        except Exception as error:  # unpickling can raise almost anything
            raise DataError(
                f"{path}: not a model file written by 'skae fit' "
                f"({type(error).__name__}: {one_line(error)})"
            ) from None
    else:
        raise DataError(
            f"{path}: not a model file; MODEL must be a {SAFE_SUFFIX} file from "
            f"'skae fit', or a {' or '.join(PICKLE_SUFFIXES)} joblib file you trust"
        )
    if not isinstance(model, LSTMAutoencoderDetector) or not hasattr(
        model, "threshold_"
    ):
        raise DataError(
            f"{path}: holds a {type(model).__name__}, not a fitted skae detector"
        )
    threshold = model.threshold_
    if (
        not isinstance(threshold, numbers.Real)
        or isinstance(threshold, bool)
        or not math.isfinite(threshold)
    ):
        raise DataError(
            f"{path}: the model's threshold is {threshold!r}, not a finite number"
        )
    return model


def out_of_reach(X, detector):
    """Return ``(row, column, whole column?)`` of the first value of ``X`` that
    the detector's network cannot take, or None when it takes them all."""
    import numpy as np

    try:
        detector._core().scale(X)
        return None
    except ValueError:  # a value too far from the training data: find it
        with np.errstate(all="ignore"):
            scaled = (X - detector.mean_) / detector.scale_
    bad = ~(np.abs(scaled) <= MAX_SCALED_MAGNITUDE)
    row, column = np.argwhere(bad)[0]
    return row, column, bool(bad[:, column].all())


def scaling_of(detector, column):
    mean, scale = detector.mean_[column], detector.scale_[column]
    return f"mean_ {mean:.6g} and scale_ {scale:.6g}"


def beyond_reach(detector, column, model):
    """Say that a value of ``column`` is out of the network's reach, and why."""
    return (
        f"beyond {MAX_SCALED_MAGNITUDE:g} of the training data's standard deviations "
        f"({scaling_of(detector, column)} in {model}): the network cannot take it"
    )


def events_csv(events):
    """An events table as an events file holds it: features joined by ';'."""
    table = events.copy()
    table["features"] = [";".join(map(str, f)) for f in table["features"]]
    return table


def n_events(n):
    return f"{n} alarm event{'' if n == 1 else 's'}"


def fit(args):
    from ._detector import LSTMAutoencoderDetector

    model = Path(args.model)
    if model.suffix.lower() not in (SAFE_SUFFIX, *PICKLE_SUFFIXES):
        raise UsageError(
            f"argument --model: the name must end in {SAFE_SUFFIX} (safe format) or "
            f"{' or '.join(PICKLE_SUFFIXES)} (joblib pickle), got {str(model)!r} "
            "(see 'skae fit --help')"
        )
    check_output(model, "--model")
    talk = _quiet if args.quiet else say
    X = _read(args, args.columns, talk).features
    if args.train_size is not None:
        if args.train_size > len(X):
            raise DataError(
                f"--train-size {args.train_size} is more than the {len(X)} rows of "
                f"{args.series}"
            )
        X = X.iloc[: args.train_size]
    detector = LSTMAutoencoderDetector(
        **{name: getattr(args, name) for name in _FIT_PARAMETERS},
        detect_flatlines=(
            "auto" if args.detect_flatlines is None else args.detect_flatlines
        ),
        verbose=int(args.verbose),
    )
    # on standard error, so that it shows while standard output goes to a file
    talk(
        f"skae: training on {len(X)} rows (window_size={args.window_size}, "
        f"hidden_size={args.hidden_size}) for at most {args.max_epochs} epochs; "
        "this may take a while" + ("" if args.verbose else " (-v prints each epoch)"),
        file=sys.stderr,
    )
    start = time.perf_counter()
    try:
        detector.fit(X)
    except (ValueError, TypeError) as error:
        raise DataError(one_line(error)) from None
    except (RuntimeError, MemoryError) as error:  # torch out of memory, say
        raise DataError(f"training failed: {one_line(error)}") from None
    history = detector.history_
    talk(
        f"trained {len(history)} epochs in {time.perf_counter() - start:.1f} s on "
        f"{detector.device_} in {detector.precision_}; "
        f"held-out loss {history[-1, 'valid_loss']:.4g}; "
        f"threshold {detector.threshold_:.4g}"
    )
    try:
        if model.suffix.lower() == SAFE_SUFFIX:
            from ._persistence import save_model

            save_model(detector, model)
        else:
            import joblib

            joblib.dump(detector, model)
    except OSError as error:
        raise DataError(f"cannot write {model}: {error.strerror or error}") from None
    except ValueError as error:  # too large for a model file
        raise DataError(f"cannot write {model}: {one_line(error)}") from None
    talk(f"saved the model to {model}")


def score(args):
    import pandas as pd

    from ._events import flag_events

    if args.events == STDOUT and args.out == STDOUT:
        raise UsageError(
            "arguments --out and --events: only one of them can be '-' (standard "
            "output) (see 'skae score --help')"
        )
    check_output(args.out, "--out")
    if args.plot is not None:
        check_output(args.plot, "--plot")
    check_event_options(args, "score")
    talk = say
    if STDOUT in (args.out, args.events):  # standard output is for the table alone
        talk = functools.partial(say, file=sys.stderr)
    detector = load_model(args.model)
    names = getattr(detector, "feature_names_in_", None)
    series = _read(args, None if names is None else list(names), talk)
    X = series.features
    if names is None and X.shape[1] != detector.n_features_in_:
        raise DataError(
            f"{args.series} has {X.shape[1]} feature column(s), but the model was "
            f"fitted on {detector.n_features_in_}"
        )
    try:
        scores, contributions = _scores_of(detector, X, names, args.events)
    except (ValueError, TypeError, OSError) as error:
        _refuse_out_of_reach(X, detector, args)
        raise DataError(one_line(error)) from None
    is_anomaly = (scores > detector.threshold_).astype(int)
    out = pd.DataFrame({"score": scores, "is_anomaly": is_anomaly})
    stamps = None if series.timestamps is None else series.timestamps.to_numpy()
    if series.timestamp_column is not None:
        out.insert(0, series.timestamp_column, stamps)
    merge_gap = args.merge_gap
    if merge_gap is None:
        merge_gap = int(detector._fitted_setting("window_size"))
    events = None
    if args.events is not None:
        events = flag_events(
            scores > detector.threshold_,  # decision_function < 0, as predict
            scores,
            contributions=contributions,
            feature_names=list(X.columns),
            index=stamps,
            merge_gap=merge_gap,
            n_top_features=N_TOP_FEATURES,
        )
    _write_csv(out, args.out)
    summary = (
        f"flagged {int(is_anomaly.sum())} of {len(out)} time steps "
        f"(threshold {detector.threshold_:.4g})"
    )
    if series.labels is not None:
        summary += "; " + _label_summary(series.labels, scores, is_anomaly)
    talk(summary)
    if args.out != STDOUT:
        talk(f"wrote {args.out}")
    if events is not None:
        _write_csv(events_csv(events), args.events)
        where = "standard output" if args.events == STDOUT else args.events
        print(
            f"skae: {n_events(len(events))} ({events['n_flagged'].sum()} flagged "
            f"steps; runs of flags at most {merge_gap} steps apart merged) written "
            f"to {where}",
            file=sys.stderr,
            flush=True,
        )
    if args.plot is not None:
        save_plot(
            args.plot,
            100,
            series.features.to_numpy(),
            scores,
            threshold=detector.threshold_,
            y=series.labels,
            timestamps=stamps,
            feature_names=list(X.columns),
            title=Path(args.series).name,
            events=events,
        )
        talk(f"wrote {args.plot}")


def _read(args, columns, talk):
    """Read ``args.series`` with the table options given, and say what it holds."""
    from ._table import TableError, read_series

    try:
        series = read_series(
            args.series,
            columns=columns,
            timestamp_column=args.timestamp_column,
            sep=args.sep,
            dayfirst=args.dayfirst,
        )
    except TableError as error:
        raise DataError(str(error)) from None
    n_rows, n_features = series.features.shape
    text = f"read {args.series}: {n_rows} rows, {n_features} feature(s) "
    text += "[" + ", ".join(series.features.columns) + "]"
    if series.timestamp_column is not None:
        text += f", timestamps in {series.timestamp_column!r}"
    if series.label_column is not None:
        text += f", labels in {series.label_column!r} (not used as a feature)"
    talk(text)
    return series


def _scores_of(detector, X, names, events):
    """The anomaly score of each step and, with ``events``, each feature's share.

    Both come from one pass where the score is a sum of the shares (the
    Mahalanobis score); the squared error is a mean taken per batch, scored
    as ``score_samples`` does. Either way the flags are ``predict``'s.
    """
    data = X if names is not None else X.to_numpy()
    if events is None:
        return -detector.score_samples(data), None
    contributions = detector.feature_contributions(data)
    if detector._fitted_setting("anomaly_score") != "squared_error":
        return contributions.sum(axis=1), contributions
    return -detector.score_samples(data), contributions


def _refuse_out_of_reach(X, detector, args):
    """Name the file's cell that the network cannot take, in the file's terms,
    and the model file when a whole column is out of its reach."""
    found = out_of_reach(X.to_numpy(), detector)
    if found is None:
        return
    row, column, whole_column = found
    name, model = X.columns[column], args.model
    if whole_column:
        raise DataError(
            f"{model}: every value of column {name!r} of {args.series} lies beyond "
            f"{MAX_SCALED_MAGNITUDE:g} of the model's standard deviations from its "
            f"mean ({scaling_of(detector, column)}, the training data's): the model "
            "file does not fit this series, or it is corrupt"
        )
    raise DataError(
        f"{args.series}: column {name!r}, row {row + 1} (counted from 1 after the "
        f"header) holds {X.iat[row, column]:.6g}, "
        f"{beyond_reach(detector, column, model)}; check the file for corrupt values"
    )


def _write_csv(table, path):
    """Write ``table`` as CSV to ``path``, or to standard output for ``-``."""
    try:
        if path == STDOUT:
            table.to_csv(sys.stdout, index=False)
            sys.stdout.flush()
        else:
            table.to_csv(path, index=False)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise DataError(f"cannot write {path}: {error.strerror or error}") from None


def _label_summary(labels, scores, is_anomaly):
    from sklearn.metrics import average_precision_score

    from ._labels import caught_runs

    _, _, caught = caught_runs(labels == 1, is_anomaly)
    text = f"caught {caught.sum()} of {len(caught)} labelled anomaly windows"
    if 0 < labels.sum() < len(labels):
        text += f", AUC-PR {average_precision_score(labels, scores):.3f}"
    return text


def save_plot(path, dpi, *args, **kwargs):
    """Save ``skae.plotting.plot_scores(*args, **kwargs)`` to ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        raise DataError("--plot needs matplotlib: pip install 'skae[plot]'") from None
    import matplotlib.pyplot as plt

    from .plotting import plot_scores

    fig = plot_scores(*args, **kwargs)
    try:
        fig.savefig(path, dpi=dpi)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot write {path}: {one_line(error)}") from None
    finally:
        plt.close(fig)
