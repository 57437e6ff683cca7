"""The options of the ``skae`` command, the checks of their values, and its errors."""

import argparse

SAFE_SUFFIX = ".skae"
PICKLE_SUFFIXES = (".joblib", ".pkl")
MODEL_SUFFIXES = (SAFE_SUFFIX, *PICKLE_SUFFIXES)
STDOUT = "-"  # --out - writes to standard output

# the largest count an option takes: beyond it, numpy's 64-bit integers overflow
_MOST = 10**18

_EPILOG_TRUST = (
    "A model file named *.skae is written with skae.save_model and loads without "
    "running code from it. A name ending in .joblib or .pkl gives a joblib (pickle) "
    "file: loading one runs code from it, so only score joblib files you made or "
    "trust. No other name is accepted."
)


class UsageError(Exception):
    """A wrong command line (exit status 2)."""


class DataError(Exception):
    """A problem with an input file or the model (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, ``skae: error: ...``."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")

    def parse_args(self, args=None, namespace=None):
        """Parse like argparse, pointing an unknown option to its command's help."""
        args, extras = self.parse_known_args(args, namespace)
        if extras:
            prog = self.prog
            if getattr(args, "command", None) is not None:
                prog = f"{self.prog} {args.command}"
            raise UsageError(
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


def _count(least):
    """Return the converter of an integer option whose values start at ``least``."""

    def convert(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a positive integer, got {text!r}"
            ) from None
        if value > _MOST:
            raise argparse.ArgumentTypeError(
                f"must be at most {_MOST:.0e}, got {value}"
            )
        if value < least:
            raise argparse.ArgumentTypeError(
                f"must be a positive integer, got {value}"
                if least == 1
                else f"must be an integer >= {least}, got {value}"
            )
        return value

    return convert


def _column_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one column name")
    return names


def build_parser():
    """Return the ``skae`` argument parser (sub-commands ``demo``, ``fit``,
    ``score``, ``stream``).

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

    def command(name, help, description, epilog=_EPILOG_TRUST):
        return commands.add_parser(
            name, help=help, description=description, epilog=epilog
        )

    demo = command(
        "demo",
        "fit on a NAB series shipped with skae and report what was found",
        "Fit a detector on a NAB series shipped with skae, score it and print how "
        "many labelled anomaly windows were caught.",
        epilog=None,
    )
    demo.add_argument("--quick", action="store_true", help="a smaller, faster run")
    demo.add_argument("--plot", metavar="PATH", help="save a plot of the detection")
    _seed(demo, 0, "seed (default: 0)")
    fit = command(
        "fit",
        "train a detector on a CSV series and save it",
        "Train a detector on the series in a CSV file (rows are time steps) and "
        "save it. The timestamp column is found by name (timestamp, datetime, "
        "time, date) or by parsing; label columns (anomaly, label, ...) are left "
        "out; every other numeric column is a feature.",
    )
    _add_fit_options(fit, defaults)
    score = command(
        "score",
        "score a CSV series with a saved detector",
        "Score every time step of a CSV series with a saved detector. The output "
        "CSV has the timestamp (when there is one), 'score' (the reconstruction "
        "error: higher is more anomalous) and 'is_anomaly' (1 where the score "
        "exceeds the model's threshold).",
    )
    _add_score_options(score)
    stream = command(
        "stream",
        "score CSV rows from standard input as they arrive",
        "Read CSV rows from standard input (a header line first) and write one "
        "line per row to standard output as soon as it is scored: the timestamp "
        "(when there is one), 'score' and 'is_anomaly'. The model must have been "
        "fitted with causal=True, so that a row's score uses no later row. "
        "Example: tail -n +1 -f metrics.csv | skae stream model.skae",
    )
    _add_stream_options(stream)
    return parser


def _seed(parser, default, help):
    parser.add_argument(
        "--random-state", type=int, default=default, metavar="N", help=help
    )


def _add_fit_options(fit, defaults):
    fit.add_argument("series", metavar="SERIES.csv", help="the training series")
    fit.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help="where to save: MODEL.skae for the safe format, or MODEL.joblib "
        "(MODEL.pkl) for a joblib pickle",
    )
    _add_table_options(fit, columns=True)
    fit.add_argument(
        "--train-size",
        type=_count(1),
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
            type=_count(1),
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
        help="also flag stretches where a value is stuck (repeated or nearly "
        "so); on by default for a series",
    )
    _seed(fit, None, "seed, for a reproducible fit on the same machine")
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


def _add_score_options(score):
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


def _add_stream_options(stream):
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
        type=_count(1),
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
        type=_count(2),
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


def _add_event_options(parser, help):
    parser.add_argument("--events", metavar="EVENTS.csv", help=help)
    parser.add_argument(
        "--merge-gap",
        type=_count(0),
        metavar="N",
        help="with --events, runs of flags at most N rows apart form one event "
        "(default: the model's window_size; a resumed stream keeps its own)",
    )


def _add_table_options(parser, columns):
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
    for flag, dayfirst, help in (
        ("--dayfirst", True, "read dates such as 01/02/2024 day first (1 February)"),
        (
            "--monthfirst",
            False,
            "read them month first (2 January); by default the reading that "
            "parses every date, and an error when both do and disagree",
        ),
    ):
        order.add_argument(
            flag, dest="dayfirst", action="store_const", const=dayfirst, help=help
        )
