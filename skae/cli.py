"""The ``skae`` command: ``skae demo``, ``skae fit``, ``skae score``, ``skae stream``.

Run ``skae --help`` (or ``python -m skae --help``) for the options. Errors are one
line on stderr, ``skae: error: ...``, with exit status 2 for a wrong command line and
1 for a problem with the data or the model file.
"""

import argparse
import functools
import math
import numbers
import os
import stat
import sys
import time
from pathlib import Path

_SAFE_SUFFIX = ".skae"
_STDOUT = "-"  # --out - writes to standard output
_PICKLE_SUFFIXES = (".joblib", ".pkl")
_MODEL_SUFFIXES = (_SAFE_SUFFIX, *_PICKLE_SUFFIXES)

_EPILOG_TRUST = (
    "A model file named *.skae is written with skae.save_model and loads without "
    "running code from it. A name ending in .joblib or .pkl gives a joblib (pickle) "
    "file: loading one runs code from it, so only score joblib files you made or "
    "trust. No other name is accepted."
)

_PICKLE_WARNING = (
    "skae: warning: {path} is a joblib pickle: loading it runs code from the file; "
    "only load files you made or trust (a .skae file is safe)"
)


class _UsageError(Exception):
    """A wrong command line (exit status 2)."""


class _DataError(Exception):
    """A problem with an input file or the model (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, ``skae: error: ...``."""

    def error(self, message):
        raise _UsageError(f"{message} (see '{self.prog} --help')")

    def parse_args(self, args=None, namespace=None):
        """Parse like argparse, pointing an unknown option to its command's help."""
        args, extras = self.parse_known_args(args, namespace)
        if extras:
            prog = self.prog
            if getattr(args, "command", None) is not None:
                prog = f"{self.prog} {args.command}"
            raise _UsageError(
                f"unrecognized arguments: {' '.join(extras)} (see '{prog} --help')"
            )
        return args


def _contamination(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be 'auto' or a number in (0, 0.5], got {text!r}"
        ) from None
    if not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"must be in (0, 0.5], got {value}")
    return value


# the largest count an option takes: beyond it, numpy's 64-bit integers overflow
_MOST = 10**18


def _positive_int(text, least=1):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer, got {text!r}"
        ) from None
    if value > _MOST:
        raise argparse.ArgumentTypeError(f"must be at most {_MOST:.0e}, got {value}")
    if value < least:
        raise argparse.ArgumentTypeError(
            f"must be an integer >= {least}, got {value}"
            if least != 1
            else f"must be a positive integer, got {value}"
        )
    return value


def _column_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one column name")
    return names


def build_parser():
    """Return the ``skae`` argument parser (sub-commands ``demo``, ``fit``, ``score``).

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    from ._detector import LSTMAutoencoderDetector
    from ._version import __version__

    # the detector's defaults, so the help cannot drift from them
    defaults = LSTMAutoencoderDetector().get_params()

    parser = _Parser(
        prog="skae",
        description="LSTM-autoencoder anomaly detection for time series.",
        epilog="Run 'skae COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"skae {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo",
        help="fit on a NAB series shipped with skae and report what was found",
        description="Fit a detector on a NAB series shipped with skae, score it and "
        "print how many labelled anomaly windows were caught.",
    )
    demo.add_argument("--quick", action="store_true", help="a smaller, faster run")
    demo.add_argument("--plot", metavar="PATH", help="save a plot of the detection")
    demo.add_argument(
        "--random-state", type=int, default=0, metavar="N", help="seed (default: 0)"
    )

    fit = commands.add_parser(
        "fit",
        help="train a detector on a CSV series and save it",
        description="Train a detector on the series in a CSV file (rows are time "
        "steps) and save it. The timestamp column is found by name (timestamp, "
        "datetime, time, date) or by parsing; label columns (anomaly, label, ...) are "
        "left out; every other numeric column is a feature.",
        epilog=_EPILOG_TRUST,
    )
    fit.add_argument("series", metavar="SERIES.csv", help="the training series")
    fit.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help="where to save: MODEL.skae for the safe format, or MODEL.joblib "
        "(MODEL.pkl) for a joblib pickle",
    )
    _add_table_options(fit)
    fit.add_argument(
        "--train-size",
        type=_positive_int,
        metavar="N",
        help="train on the first N rows only (default: all rows)",
    )
    for name, what in (
        ("window_size", "time steps per window, about one cycle of the series"),
        ("hidden_size", "size of the LSTM states and of the latent code"),
        (
            "max_epochs",
            "most epochs; training stops earlier, when the held-out loss has converged",
        ),
    ):
        fit.add_argument(
            "--" + name.replace("_", "-"),
            type=_positive_int,
            default=defaults[name],
            metavar="N",
            help=f"{what} (default: {defaults[name]})",
        )
    fit.add_argument(
        "--contamination",
        type=_contamination,
        default="auto",
        metavar="auto|FLOAT",
        help="'auto': the threshold comes from the held-out errors (the larger "
        f"of mu + {defaults['n_sigmas']:g} sigma and max + (max - median)); a "
        "float: the share of anomalies in the training data (default: auto)",
    )
    fit.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)"
    )
    fit.add_argument(
        "--causal",
        action="store_true",
        help="score each step with no data after it (what 'skae stream' needs; "
        "the threshold is set on scores made the same way)",
    )
    fit.add_argument(
        "--detect-flatlines",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also flag stretches where a value is stuck (repeated or nearly "
        "so); on by default for a series",
    )
    fit.add_argument(
        "--random-state",
        type=int,
        default=None,
        metavar="N",
        help="seed, for a reproducible fit on the same machine",
    )
    talk = fit.add_mutually_exclusive_group()
    talk.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print the training and held-out loss of every epoch",
    )
    talk.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing but errors (by default, what was read and trained on "
        "standard output, and that training started on standard error)",
    )

    score = commands.add_parser(
        "score",
        help="score a CSV series with a saved detector",
        description="Score every time step of a CSV series with a saved detector. "
        "The output CSV has the timestamp (when there is one), 'score' (the "
        "reconstruction error: higher is more anomalous) and 'is_anomaly' (1 where "
        "the score exceeds the model's threshold).",
        epilog=_EPILOG_TRUST,
    )
    score.add_argument("model", metavar="MODEL", help="a model file from skae fit")
    score.add_argument("series", metavar="SERIES.csv", help="the series to score")
    score.add_argument(
        "--out",
        required=True,
        metavar="SCORES.csv",
        help="where to write the scores; '-' writes them to standard output (the "
        "messages then go to standard error)",
    )
    score.add_argument(
        "--plot", metavar="PLOT.png", help="also save a plot (needs matplotlib)"
    )
    _add_event_options(
        score,
        "also write the alarm events (one row per interval of flags: start, end, "
        "peak and mean score, top features) as CSV; '-' writes them to standard "
        "output when --out does not",
    )
    _add_table_options(score, columns=False)

    stream = commands.add_parser(
        "stream",
        help="score CSV rows from standard input as they arrive",
        description="Read CSV rows from standard input (a header line first) and "
        "write one line per row to standard output as soon as it is scored: the "
        "timestamp (when there is one), 'score' and 'is_anomaly'. The model must "
        "have been fitted with causal=True, so that a row's score uses no later "
        "row. Example: tail -n +1 -f metrics.csv | skae stream model.skae",
        epilog=_EPILOG_TRUST,
    )
    stream.add_argument(
        "model",
        metavar="MODEL",
        help="a causal model file; a .skae file written by --save resumes its stream",
    )
    stream.add_argument(
        "--timestamp-column",
        metavar="NAME",
        help="the timestamp column, echoed to the output (default: a column named "
        "timestamp, datetime, time or date, if any)",
    )
    stream.add_argument(
        "--sep", default=",", metavar="CHAR", help="field separator (default: ',')"
    )
    stream.add_argument(
        "--update-every",
        type=_positive_int,
        metavar="N",
        help="keep learning: update the model every N rows (default: never; a "
        "resumed stream keeps the settings it was saved with)",
    )
    stream.add_argument(
        "--learn-from",
        choices=("normal", "all"),
        default="normal",
        help="with --update-every, learn from the rows judged normal, or from all "
        "(default: normal)",
    )
    stream.add_argument(
        "--threshold-window",
        type=lambda text: _positive_int(text, least=2),
        metavar="N",
        help="judge each row against mu + n_sigmas * sigma of the errors of the N "
        "rows before it (N >= 2), so the threshold follows a drifting series "
        "(default: the model's fixed threshold; a resumed stream keeps the "
        "setting it was saved with)",
    )
    stream.add_argument(
        "--save",
        metavar="STATE.skae",
        help="at the end of the input (or on Ctrl-C), save the model and the "
        "stream's state here; 'skae stream STATE.skae' resumes from it",
    )
    _add_event_options(
        stream,
        "append each alarm event to this CSV file as soon as it closes (more than "
        "the merge gap of rows after its last flag), the header once; the event "
        "still open at the end of the input is written then, or kept in --save's "
        "state to go on in the next run",
    )
    return parser


def _add_event_options(parser, help):
    parser.add_argument("--events", metavar="EVENTS.csv", help=help)
    parser.add_argument(
        "--merge-gap",
        type=lambda text: _positive_int(text, least=0),
        metavar="N",
        help="with --events, runs of flags at most N rows apart form one event "
        "(default: the model's window_size; a resumed stream keeps its own)",
    )


def _add_table_options(parser, columns=True):
    if columns:
        parser.add_argument(
            "--columns",
            type=_column_list,
            metavar="A,B,...",
            help="feature columns, comma-separated (default: every numeric column "
            "that is not the timestamp or a label)",
        )
    parser.add_argument(
        "--timestamp-column", metavar="NAME", help="the timestamp column, if any"
    )
    parser.add_argument("--sep", metavar="CHAR", help="field separator (sniffed)")
    order = parser.add_mutually_exclusive_group()
    order.add_argument(
        "--dayfirst",
        dest="dayfirst",
        action="store_const",
        const=True,
        help="read dates such as 01/02/2024 day first (1 February)",
    )
    order.add_argument(
        "--monthfirst",
        dest="dayfirst",
        action="store_const",
        const=False,
        help="read them month first (2 January); by default the reading that "
        "parses every date, and an error when both do and disagree",
    )


def _say(*parts, file=None):
    print(*parts, file=sys.stdout if file is None else file, flush=True)


def _read(args, columns, say=_say):
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
        raise _DataError(str(error)) from None
    say(_describe(series, args.series))
    return series


def _describe(series, path):
    n_rows, n_features = series.features.shape
    text = f"read {path}: {n_rows} rows, {n_features} feature(s) "
    text += "[" + ", ".join(series.features.columns) + "]"
    if series.timestamp_column is not None:
        text += f", timestamps in {series.timestamp_column!r}"
    if series.label_column is not None:
        text += f", labels in {series.label_column!r} (not used as a feature)"
    return text


def _check_output(path, option):
    """Refuse an output path that cannot be written, before any work is done."""
    if option in ("--out", "--events") and path == _STDOUT:
        return
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise _DataError(f"cannot write {option} {path}: it is a directory")
    if not folder.is_dir():
        raise _DataError(f"cannot write {option} {path}: no folder {folder}")
    if not os.access(folder, os.W_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        raise _DataError(f"cannot write {option} {path}: permission denied")


def _fit(args):
    import joblib

    from ._detector import LSTMAutoencoderDetector

    model = Path(args.model)
    if model.suffix.lower() not in _MODEL_SUFFIXES:
        raise _UsageError(
            f"argument --model: the name must end in {_SAFE_SUFFIX} (safe format) or "
            f"{' or '.join(_PICKLE_SUFFIXES)} (joblib pickle), got {str(model)!r} "
            "(see 'skae fit --help')"
        )
    _check_output(model, "--model")
    say = _quiet if args.quiet else _say
    series = _read(args, args.columns, say)
    X = series.features
    if args.train_size is not None:
        if args.train_size > len(X):
            raise _DataError(
                f"--train-size {args.train_size} is more than the {len(X)} rows of "
                f"{args.series}"
            )
        X = X.iloc[: args.train_size]
    detector = LSTMAutoencoderDetector(
        window_size=args.window_size,
        hidden_size=args.hidden_size,
        max_epochs=args.max_epochs,
        contamination=args.contamination,
        device=args.device,
        random_state=args.random_state,
        causal=args.causal,
        detect_flatlines=(
            "auto" if args.detect_flatlines is None else args.detect_flatlines
        ),
        verbose=int(args.verbose),
    )
    # on standard error, so that it shows while standard output goes to a file
    say(
        f"skae: training on {len(X)} rows (window_size={args.window_size}, "
        f"hidden_size={args.hidden_size}) for at most {args.max_epochs} epochs; "
        "this may take a while" + ("" if args.verbose else " (-v prints each epoch)"),
        file=sys.stderr,
    )
    start = time.perf_counter()
    try:
        detector.fit(X)
    except (ValueError, TypeError) as error:
        raise _DataError(_one_line(error)) from None
    except (RuntimeError, MemoryError) as error:  # torch out of memory, say
        raise _DataError(f"training failed: {_one_line(error)}") from None
    seconds = time.perf_counter() - start
    history = detector.history_
    say(
        f"trained {len(history)} epochs in {seconds:.1f} s on {detector.device_}; "
        f"held-out loss {history[-1, 'valid_loss']:.4g}; "
        f"threshold {detector.threshold_:.4g}"
    )
    try:
        if model.suffix.lower() == _SAFE_SUFFIX:
            from ._persistence import save_model

            save_model(detector, model)
        else:
            joblib.dump(detector, model)
    except OSError as error:
        raise _DataError(f"cannot write {model}: {error.strerror or error}") from None
    except ValueError as error:  # too large for a model file
        raise _DataError(f"cannot write {model}: {_one_line(error)}") from None
    say(f"saved the model to {model}")


def _quiet(*parts, file=None):
    """``_say`` for -q: nothing."""


def _load_model(path):
    """Load a model: a .skae file only through the safe loader, never a pickle."""
    from ._detector import LSTMAutoencoderDetector
    from ._persistence import _file_kind

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        mode = path.stat().st_mode  # follows a link
    except FileNotFoundError:
        raise _DataError(f"{path}: no such model file") from None
    except OSError as error:
        raise _DataError(f"cannot read {path}: {error.strerror or error}") from None
    if stat.S_ISDIR(mode):
        raise _DataError(f"{path}: is a directory, not a model file")
    if not stat.S_ISREG(mode):  # /dev/zero, a pipe: never read from
        raise _DataError(
            f"{path}: not a regular file ({_file_kind(mode)}); MODEL must be a model "
            "file from 'skae fit'"
        )
    if suffix not in _MODEL_SUFFIXES:
        raise _DataError(
            f"{path}: not a model file; MODEL must be a {_SAFE_SUFFIX} file from "
            f"'skae fit', or a {' or '.join(_PICKLE_SUFFIXES)} joblib file you trust"
        )
    if suffix == _SAFE_SUFFIX:
        from ._persistence import load_model

        try:
            model = load_model(path)
        except (ValueError, TypeError, OSError, RuntimeError) as error:
            raise _DataError(
                f"{path}: not a valid {_SAFE_SUFFIX} model file ({_one_line(error)})"
            ) from None
    else:
        import joblib

        print(_PICKLE_WARNING.format(path=path), file=sys.stderr, flush=True)
        try:
            model = joblib.load(path)
        except Exception as error:  # unpickling can raise almost anything
            raise _DataError(
                f"{path}: not a model file written by 'skae fit' "
                f"({type(error).__name__}: {_one_line(error)})"
            ) from None
    if not isinstance(model, LSTMAutoencoderDetector) or not hasattr(
        model, "threshold_"
    ):
        raise _DataError(
            f"{path}: holds a {type(model).__name__}, not a fitted skae detector"
        )
    threshold = model.threshold_
    if (
        not isinstance(threshold, numbers.Real)
        or isinstance(threshold, bool)
        or not math.isfinite(threshold)
    ):
        raise _DataError(
            f"{path}: the model's threshold is {threshold!r}, not a finite number"
        )
    return model


def _check_event_options(args, command):
    if args.events is None:
        if args.merge_gap is not None:
            raise _UsageError(
                f"argument --merge-gap: it sets the events of --events, which is "
                f"not given (see 'skae {command} --help')"
            )
        return
    _check_output(args.events, "--events")


def _score(args):
    import pandas as pd

    if args.events == _STDOUT and args.out == _STDOUT:
        raise _UsageError(
            "arguments --out and --events: only one of them can be '-' (standard "
            "output) (see 'skae score --help')"
        )
    _check_output(args.out, "--out")
    if args.plot is not None:
        _check_output(args.plot, "--plot")
    _check_event_options(args, "score")
    to_stdout = _STDOUT in (args.out, args.events)
    if to_stdout:  # standard output is for the scores (or events) alone
        say = functools.partial(_say, file=sys.stderr)
    else:
        say = _say
    detector = _load_model(args.model)
    names = getattr(detector, "feature_names_in_", None)
    series = _read(args, None if names is None else list(names), say)
    X = series.features
    if names is None and X.shape[1] != detector.n_features_in_:
        raise _DataError(
            f"{args.series} has {X.shape[1]} feature column(s), but the model was "
            f"fitted on {detector.n_features_in_}"
        )
    _check_scale(X, detector, args.series, args.model)
    try:
        scores, contributions = _scores_of(detector, X, names, args.events)
    except (ValueError, TypeError, OSError) as error:
        raise _DataError(_one_line(error)) from None
    is_anomaly = (scores > detector.threshold_).astype(int)
    out = pd.DataFrame({"score": scores, "is_anomaly": is_anomaly})
    if series.timestamp_column is not None:
        out.insert(0, series.timestamp_column, series.timestamps.to_numpy())
    events = None
    if args.events is not None:
        events = _score_events(args, detector, series, scores, contributions)
    _write_csv(out, args.out)
    summary = (
        f"flagged {int(is_anomaly.sum())} of {len(out)} time steps "
        f"(threshold {detector.threshold_:.4g})"
    )
    if series.labels is not None:
        summary += "; " + _label_summary(series.labels, scores, is_anomaly)
    say(summary)
    if args.out != _STDOUT:
        say(f"wrote {args.out}")
    if events is not None:
        _write_score_events(args, events, _merge_gap(args, detector))
    if args.plot is not None:
        _plot(args, series, scores, detector.threshold_, say, events=events)


# the features listed per event in an events file
_N_TOP_FEATURES = 3


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


def _score_events(args, detector, series, scores, contributions):
    """The events of the flags, as ``detector.events`` makes them."""
    from ._events import flag_events

    timestamps = series.timestamps
    return flag_events(
        scores > detector.threshold_,  # decision_function < 0, as predict
        scores,
        contributions=contributions,
        feature_names=list(series.features.columns),
        index=None if timestamps is None else timestamps.to_numpy(),
        merge_gap=_merge_gap(args, detector),
        n_top_features=_N_TOP_FEATURES,
    )


def _merge_gap(args, detector):
    if args.merge_gap is not None:
        return args.merge_gap
    return int(detector._fitted_setting("window_size"))


def _events_csv(events):
    """An events table as an events file holds it: features joined by ';'."""
    table = events.copy()
    table["features"] = [";".join(map(str, f)) for f in table["features"]]
    return table


def _write_csv(table, path):
    """Write ``table`` as CSV to ``path``, or to standard output for ``-``."""
    try:
        if path == _STDOUT:
            table.to_csv(sys.stdout, index=False)
            sys.stdout.flush()
        else:
            table.to_csv(path, index=False)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise _DataError(f"cannot write {path}: {error.strerror or error}") from None


def _write_score_events(args, events, merge_gap):
    _write_csv(_events_csv(events), args.events)
    where = "standard output" if args.events == _STDOUT else args.events
    print(
        f"skae: {_n_events(len(events))} ({events['n_flagged'].sum()} flagged "
        f"steps; runs of flags at most {merge_gap} steps apart merged) written "
        f"to {where}",
        file=sys.stderr,
        flush=True,
    )


def _n_events(n):
    return f"{n} alarm event{'' if n == 1 else 's'}"


def _check_scale(X, detector, path, model):
    """Name the file's cell that the network cannot take, in the file's terms,
    and the model file when a whole column is out of its reach."""
    import numpy as np

    from ._scaling import MAX_SCALED_MAGNITUDE

    with np.errstate(all="ignore"):
        scaled = (X.to_numpy() - detector.mean_) / detector.scale_
    bad = ~(np.abs(scaled) <= MAX_SCALED_MAGNITUDE)
    if not bad.any():
        return
    row, column = np.argwhere(bad)[0]
    name = X.columns[column]
    statistics = (
        f"mean_ {detector.mean_[column]:.6g} and scale_ {detector.scale_[column]:.6g}"
    )
    if bad[:, column].all():
        raise _DataError(
            f"{model}: every value of column {name!r} of {path} lies beyond "
            f"{MAX_SCALED_MAGNITUDE:g} of the model's standard deviations from its "
            f"mean ({statistics}, the training data's): the model file does not "
            "fit this series, or it is corrupt"
        )
    raise _DataError(
        f"{path}: column {name!r}, row {row + 1} (counted from 1 after the header) "
        f"holds {X.iat[row, column]:.6g}, beyond {MAX_SCALED_MAGNITUDE:g} of the "
        f"training data's standard deviations ({statistics} in {model}): the "
        "network cannot take it; check the file for corrupt values"
    )


def _label_summary(labels, scores, is_anomaly):
    from sklearn.metrics import average_precision_score

    from ._labels import caught_runs

    _, _, caught = caught_runs(labels == 1, is_anomaly)
    text = f"caught {caught.sum()} of {len(caught)} labelled anomaly windows"
    if 0 < labels.sum() < len(labels):
        text += f", AUC-PR {average_precision_score(labels, scores):.3f}"
    return text


def _plot(args, series, scores, threshold, say, events=None):
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        raise _DataError("--plot needs matplotlib: pip install 'skae[plot]'") from None
    import matplotlib.pyplot as plt

    from .plotting import plot_scores

    fig = plot_scores(
        series.features.to_numpy(),
        scores,
        threshold=threshold,
        y=series.labels,
        timestamps=None if series.timestamps is None else series.timestamps.to_numpy(),
        feature_names=list(series.features.columns),
        title=Path(args.series).name,
        events=events,
    )
    try:
        fig.savefig(args.plot, dpi=100)
    except (OSError, ValueError) as error:
        raise _DataError(f"cannot write {args.plot}: {_one_line(error)}") from None
    finally:
        plt.close(fig)
    say(f"wrote {args.plot}")


# the longest line skae stream takes: far more than any row of numbers needs,
# and a bound on what a line that never ends (cat /dev/zero) can take
_MAX_LINE_BYTES = 1 << 24


class _Rows:
    """CSV lines from a file descriptor, as they arrive, in batches.

    ``os.read`` returns whatever the pipe holds, so rows that arrive together
    are scored together while a lone row is scored at once.
    """

    def __init__(self, fd, sep):
        self.fd, self.sep = fd, sep
        self.pending = b""
        self.line_number = 0

    def batches(self):
        """Yield lists of ``(line_number, fields)`` until the end of the input."""
        while True:
            data = os.read(self.fd, 1 << 16)
            if not data:
                lines = [self.pending] if self.pending.strip() else []
                self.pending = b""
            else:
                *lines, self.pending = (self.pending + data).split(b"\n")
                if len(self.pending) > _MAX_LINE_BYTES:
                    raise _DataError(
                        f"line {self.line_number + len(lines) + 1} is longer than "
                        f"{_MAX_LINE_BYTES:,} bytes with no end of line; skae stream "
                        "reads CSV lines"
                    )
            batch = []
            for line in lines:
                self.line_number += 1
                text = line.decode("utf-8", errors="replace").rstrip("\r")
                if self.line_number == 1:
                    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark
                if text.strip():
                    batch.append((self.line_number, self._fields(text)))
            if batch:
                yield batch
            if not data:
                return

    def _fields(self, text):
        import csv

        try:
            return next(csv.reader([text], delimiter=self.sep))
        except csv.Error as error:
            if "\r" in text:
                problem = (
                    "holds a carriage return inside a field; end lines with \\n or "
                    "\\r\\n, and quote a field that holds one"
                )
            elif "field limit" in str(error):
                problem = (
                    f"has a field longer than {csv.field_size_limit():,} characters"
                )
            else:
                problem = f"is not a CSV line ({error})"
            raise _DataError(f"line {self.line_number} {problem}") from None


def _stream_columns(header, detector, timestamp_column):
    """Return ``(timestamp index or None, feature indices)`` in the header."""
    from ._table import _LABEL_NAMES, _TIME_NAMES

    names = [name.strip() for name in header]
    if timestamp_column is not None:
        if timestamp_column not in names:
            raise _DataError(
                f"no timestamp column {timestamp_column!r} in the header {names}"
            )
        time_index = names.index(timestamp_column)
    else:
        found = [i for i, n in enumerate(names) if n.lower() in _TIME_NAMES]
        time_index = found[0] if found else None
    expected = getattr(detector, "feature_names_in_", None)
    if expected is not None:
        missing = [str(n) for n in expected if str(n) not in names]
        if missing:
            raise _DataError(
                f"the header lacks the model's feature column(s) {missing}; it has "
                f"{names}"
            )
        return time_index, [names.index(str(n)) for n in expected]
    features = [
        i
        for i, n in enumerate(names)
        if i != time_index and n.lower() not in _LABEL_NAMES
    ]
    if len(features) != detector.n_features_in_:
        raise _DataError(
            f"the header has {len(features)} feature column(s) "
            f"{[names[i] for i in features]}, but the model was fitted on "
            f"{detector.n_features_in_}"
        )
    return time_index, features


def _stream_values(batch, features, names):
    import numpy as np

    values = np.empty((len(batch), len(features)))
    for row, (line_number, fields) in enumerate(batch):
        for column, index in enumerate(features):
            cell = fields[index].strip() if index < len(fields) else ""
            try:
                values[row, column] = float(cell)
            except ValueError:
                raise _DataError(
                    f"line {line_number}: column {names[index]!r} holds {cell!r}, "
                    "not a number"
                ) from None
            if not math.isfinite(values[row, column]):
                raise _DataError(
                    f"line {line_number}: column {names[index]!r} holds {cell!r}; "
                    "values must be finite"
                )
    return values


def _field(fields, index):
    return fields[index].strip() if index < len(fields) else ""


def _check_stream_scale(values, batch, detector, names, features, model):
    """Name the line and column of a value the network cannot take."""
    import numpy as np

    from ._scaling import MAX_SCALED_MAGNITUDE

    with np.errstate(all="ignore"):
        scaled = (values - detector.mean_) / detector.scale_
    bad = ~(np.abs(scaled) <= MAX_SCALED_MAGNITUDE)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise _DataError(
            f"line {batch[row][0]}: column {names[features[column]]!r} holds "
            f"{values[row, column]:.6g}, beyond {MAX_SCALED_MAGNITUDE:g} of the "
            f"training data's standard deviations (mean_ {detector.mean_[column]:.6g} "
            f"and scale_ {detector.scale_[column]:.6g} in {model}): the network "
            "cannot take it"
        )


def _stream(args):
    import warnings

    import numpy as np

    from ._streaming import StreamingScorer

    if args.save is not None:
        if Path(args.save).suffix.lower() != _SAFE_SUFFIX:
            raise _UsageError(
                f"argument --save: the name must end in {_SAFE_SUFFIX}, got "
                f"{args.save!r} (see 'skae stream --help')"
            )
        _check_output(args.save, "--save")
    if args.events == _STDOUT:
        raise _UsageError(
            "argument --events: standard output holds the scores of the rows; "
            "give a file (see 'skae stream --help')"
        )
    _check_event_options(args, "stream")
    path = Path(args.model)
    detector = _load_model(path)  # checks the file, refuses what is not a model
    if not detector.__dict__.get("causal_", False):
        raise _DataError(
            f"{path}: skae stream needs a causal model (causal=True), whose score of "
            "a row uses no later row and whose threshold was set on such scores; "
            "this one was fitted without --causal: fit one with 'skae fit "
            "SERIES.csv --model MODEL.skae --causal'"
        )
    try:
        if path.suffix.lower() == _SAFE_SUFFIX:
            scorer = StreamingScorer.load(path)
            detector = scorer.detector
        else:
            scorer = StreamingScorer(detector)
        if scorer.n_steps_ == 0:  # a fresh stream: the command line's settings
            scorer = StreamingScorer(
                detector,
                update_every=args.update_every,
                learn_from=args.learn_from,
                threshold_window=args.threshold_window,
                context=scorer._rows,
                merge_gap=args.merge_gap,
                # contributions are computed only for rows near an alarm
                n_top_features=_N_TOP_FEATURES,
            )
    except ValueError as error:
        raise _DataError(f"{path}: {_one_line(error)}") from None

    from ._table import TableError, TimestampOrder

    rows = _Rows(sys.stdin.fileno(), args.sep)
    out = sys.stdout
    time_index = features = names = order = None
    events = None
    try:
        for batch in rows.batches():
            if features is None:
                (header_line, header), batch = batch[0], batch[1:]
                names = [name.strip() for name in header]
                time_index, features = _stream_columns(
                    header, detector, args.timestamp_column
                )
                time_name = "" if time_index is None else f"{names[time_index]},"
                if time_index is not None:
                    order = TimestampOrder(names[time_index])
                out.write(f"{time_name}score,is_anomaly\n")
                out.flush()
                events = _EventsFile(args.events, time_index is not None)
                if not batch:
                    continue
            for line_number, fields in batch:
                if len(fields) > len(names):
                    raise _DataError(
                        f"line {line_number} has {len(fields)} fields, but the "
                        f"header has {len(names)} (line {header_line}): a separator "
                        "too many in that row, or a column name missing from the "
                        "header"
                    )
            values = _stream_values(batch, features, names)
            _check_stream_scale(values, batch, detector, names, features, path)
            if order is not None:
                try:
                    order.check(
                        [line for line, _ in batch],
                        [_field(fields, time_index) for _, fields in batch],
                    )
                except TableError as error:
                    raise _DataError(str(error)) from None
            with warnings.catch_warnings():
                # an array for a model fitted on named columns: matched by name
                warnings.filterwarnings("ignore", message="X does not have valid")
                try:
                    result = scorer.push(values)
                except (ValueError, TypeError) as error:
                    raise _DataError(_one_line(error)) from None
            lines = []
            for (_, fields), score, flag in zip(
                batch, result.scores, result.flags, strict=True
            ):
                stamp = ""
                if time_index is not None:
                    stamp = _csv_cell(_field(fields, time_index), args.sep) + args.sep
                lines.append(f"{stamp}{score:.9g}{args.sep}{int(flag)}\n")
            flagged = np.flatnonzero(result.flags)
            if time_index is not None:
                events.remember(
                    scorer.n_steps_ - len(batch) + flagged,
                    [_field(batch[i][1], time_index) for i in flagged],
                )
            # the events first: a row's answer means its events are in the file
            events.write(scorer.take_events())
            out.write("".join(lines))
            out.flush()
    finally:
        if events is not None:
            # without --save the open event ends with the input (or Ctrl-C);
            # with it, the open event goes on in the saved state
            try:
                if args.save is None:
                    events.write(scorer.flush_events())
            finally:
                events.close()
        if args.save is not None and features is not None:
            scorer.save(args.save)
            print(f"skae: saved the stream's state to {args.save}", file=sys.stderr)
    if features is None:
        raise _DataError("no header line on standard input")
    if events is not None and events.path is not None:
        print(
            f"skae: {_n_events(events.n_written)} written to {args.events}",
            file=sys.stderr,
        )


class _EventsFile:
    """The alarm events of ``skae stream --events``, appended as they close.

    The timestamps of an event's start, end and peak (flagged rows, all three)
    are the rows' own strings; only those of the flagged rows not yet in a
    written event are kept.
    """

    def __init__(self, path, timestamps):
        from ._events import EVENT_COLUMNS, INDEX_COLUMNS

        self.path, self.timestamps = path, timestamps
        self.columns = list(EVENT_COLUMNS) + (list(INDEX_COLUMNS) if timestamps else [])
        self.stamps = {}  # stream position of a flagged row: its timestamp
        self.n_written = 0
        self.file = None
        if path is None:
            return
        header = ",".join(self.columns)
        try:
            with open(path, "a+", encoding="utf-8") as existing:
                existing.seek(0)
                first = existing.readline().rstrip("\r\n")
        except OSError as error:
            raise _DataError(
                f"cannot write --events {path}: {error.strerror or error}"
            ) from None
        if first and first != header:
            raise _DataError(
                f"--events {path} holds other columns ({first!r}); give a new "
                "file or one that an earlier 'skae stream --events' with the same "
                "header wrote"
            )
        self.file = open(path, "a", encoding="utf-8", newline="")  # noqa: SIM115
        if not first:
            self.file.write(header + "\n")
            self.file.flush()

    def remember(self, positions, stamps):
        """Keep the timestamps of flagged rows, by stream position."""
        if self.file is not None:
            self.stamps.update(zip(positions.tolist(), stamps, strict=True))

    def write(self, events):
        """Append ``events`` (a table from the scorer) and flush the file."""
        if self.file is None or not len(events):
            return
        if self.timestamps:
            for name, column in zip(
                ("start_time", "end_time", "peak_time"),
                ("start", "end", "peak"),
                strict=True,
            ):
                # a row scored before a resumed stream's start has no stamp here
                events[name] = [self.stamps.get(int(p), "") for p in events[column]]
            last = int(events["end"].max())
            self.stamps = {p: t for p, t in self.stamps.items() if p > last}
        try:
            _events_csv(events)[self.columns].to_csv(
                self.file, header=False, index=False
            )
            self.file.flush()
        except OSError as error:
            raise _DataError(
                f"cannot write --events {self.path}: {error.strerror or error}"
            ) from None
        self.n_written += len(events)

    def close(self):
        if self.file is not None:
            self.file.close()


def _csv_cell(text, sep):
    if sep in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _demo(args):
    try:
        from ._demo import run_demo
    except ImportError:
        raise _DataError("the demo is not available in this version of skae") from None
    run_demo(plot_path=args.plot, quick=args.quick, random_state=args.random_state)


def _one_line(error):
    text = " ".join(str(error).split())
    return text or type(error).__name__


def main(argv=None):
    """Run the ``skae`` command line and return its exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 1 for a problem with the data or the model file, 2 for a
        wrong command line.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = {"demo": _demo, "fit": _fit, "score": _score, "stream": _stream}[
            args.command
        ]
        handler(args)
    except _UsageError as error:
        print(f"skae: error: {error}", file=sys.stderr)
        return 2
    except _DataError as error:
        print(f"skae: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader of standard output left (skae score --out - | head): stop
        # quietly, as Unix tools do, and keep Python from failing to flush at exit
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # not a real file
            pass
        return 1
    except (ValueError, TypeError, OSError) as error:
        # a last resort: the promise is one line, never a traceback
        print(
            f"skae: error: {type(error).__name__}: {_one_line(error)}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        print("skae: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
