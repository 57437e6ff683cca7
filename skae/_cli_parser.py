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


class CommandError(Exception):
    """A problem the command reports in one line, ``skae: error: ...``."""

    status = 1


class UsageError(CommandError):
    """A wrong command line (exit status 2)."""

    status = 2


class DataError(CommandError):
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
        if least <= value <= _MOST:
            return value
        if value > _MOST:
            problem = f"must be at most {_MOST:.0e}"
        else:
            problem = "must be " + (
                "a positive integer" if least == 1 else f"an integer >= {least}"
            )
        raise argparse.ArgumentTypeError(f"{problem}, got {value}")

    return convert


def _column_list(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one column name")
    return names


# what each command and option does, as 'skae COMMAND --help' says it: the help
# of "COMMAND --option", or else of "--option"; "COMMAND?" describes the command
_HELP = {
    "demo": "fit on a NAB series shipped with skae and report what was found",
    "demo?": "Fit a detector on a NAB series shipped with skae, score it and print "
    "how many labelled anomaly windows were caught.",
    "demo --quick": "a smaller, faster run",
    "demo --plot": "save a plot of the detection",
    "demo --random-state": "seed (default: 0)",
    "fit": "train a detector on a CSV series and save it",
    "fit?": "Train a detector on the series in a CSV file (rows are time steps) and "
    "save it. The timestamp column is found by name (timestamp, datetime, time, "
    "date) or by parsing; label columns (anomaly, label, ...) are left out; every "
    "other numeric column is a feature.",
    "fit series": "the training series",
    "fit --model": "where to save: MODEL.skae for the safe format, or MODEL.joblib "
    "(MODEL.pkl) for a joblib pickle",
    "--columns": "feature columns, comma-separated (default: every numeric column "
    "that is not the timestamp or a label)",
    "--timestamp-column": "the timestamp column, if any",
    "--sep": "field separator (sniffed)",
    "--dayfirst": "read dates such as 01/02/2024 day first (1 February)",
    "--monthfirst": "read them month first (2 January); by default the reading "
    "that parses every date, and an error when both do and disagree",
    "fit --train-size": "train on the first N rows only (default: all rows)",
    "fit --window-size": "time steps per window, about one cycle of the series "
    "(default: {window_size})",
    "fit --hidden-size": "size of the LSTM states and of the latent code (default: "
    "{hidden_size})",
    "fit --max-epochs": "most epochs; training stops earlier, when the held-out "
    "loss has converged (default: {max_epochs})",
    "fit --contamination": "'auto': the threshold comes from the held-out errors "
    "(the larger of mu + {n_sigmas:g} sigma and max + (max - median)); a float: "
    "the share of anomalies in the training data (default: auto)",
    "fit --device": "cpu, cuda, cuda:N or auto (default: auto)",
    "fit --precision": "arithmetic of the training steps: bfloat16 (mixed "
    "precision), float32, or auto: bfloat16 on a CPU with AVX-512 BF16 or a GPU "
    "that has it, else float32 (default: auto)",
    "fit --causal": "score each step with no data after it (what 'skae stream' "
    "needs; the threshold is set on scores made the same way)",
    "fit --detect-flatlines": "also flag stretches where a value is stuck "
    "(repeated or nearly so); on by default for a series",
    "fit --random-state": "seed, for a reproducible fit on the same machine",
    "fit --verbose": "print the training and held-out loss of every epoch",
    "fit --quiet": "print nothing but errors (by default, what was read and "
    "trained on standard output, and that training started on standard error)",
    "score": "score a CSV series with a saved detector",
    "score?": "Score every time step of a CSV series with a saved detector. The "
    "output CSV has the timestamp (when there is one), 'score' (the reconstruction "
    "error: higher is more anomalous) and 'is_anomaly' (1 where the score exceeds "
    "the model's threshold).",
    "score model": "a model file from skae fit",
    "score series": "the series to score",
    "score --out": "where to write the scores; '-' writes them to standard output "
    "(the messages then go to standard error)",
    "score --plot": "also save a plot (needs matplotlib)",
    "score --events": "also write the alarm events (one row per interval of "
    "flags: start, end, peak and mean score, top features) as CSV; '-' writes "
    "them to standard output when --out does not",
    "--merge-gap": "with --events, runs of flags at most N rows apart form one "
    "event (default: the model's window_size; a resumed stream keeps its own)",
    "stream": "score CSV rows from standard input as they arrive",
    "stream?": "Read CSV rows from standard input (a header line first) and write "
    "one line per row to standard output as soon as it is scored: the timestamp "
    "(when there is one), 'score' and 'is_anomaly'. The model must have been "
    "fitted with causal=True, so that a row's score uses no later row. Example: "
    "tail -n +1 -f metrics.csv | skae stream model.skae",
    "stream model": "a causal model file; a .skae file written by --save resumes "
    "its stream",
    "stream --timestamp-column": "the timestamp column, echoed to the output "
    "(default: a column named timestamp, datetime, time or date, if any)",
    "stream --sep": "field separator (default: ',')",
    "stream --update-every": "keep learning: update the model every N rows "
    "(default: never; a resumed stream keeps the settings it was saved with)",
    "stream --learn-from": "with --update-every, learn from the rows judged "
    "normal, or from all (default: normal)",
    "stream --threshold-window": "judge each row against mu + n_sigmas * sigma of "
    "the errors of the N rows before it (N >= 2), so the threshold follows a "
    "drifting series (default: the model's fixed threshold; a resumed stream "
    "keeps the setting it was saved with)",
    "stream --save": "at the end of the input (or on Ctrl-C), save the model and "
    "the stream's state here; 'skae stream STATE.skae' resumes from it",
    "stream --events": "append each alarm event to this CSV file as soon as it "
    "closes (more than the merge gap of rows after its last flag), the header "
    "once; the event still open at the end of the input is written then, or kept "
    "in --save's state to go on in the next run",
}


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
    for name, add_options in (
        ("demo", _demo_options),
        ("fit", _fit_options),
        ("score", _score_options),
        ("stream", _stream_options),
    ):
        command = commands.add_parser(
            name,
            help=_HELP[name],
            description=_HELP[name + "?"],
            epilog=None if name == "demo" else _EPILOG_TRUST,
        )
        add_options(_Options(command, name, defaults))
    return parser


class _Options:
    """Adds the options of one command, each with its help from ``_HELP``."""

    def __init__(self, parser, command, defaults):
        self.parser, self.command, self.defaults = parser, command, defaults

    def add(self, *flags, group=None, **options):
        help = _HELP.get(f"{self.command} {flags[-1]}") or _HELP[flags[-1]]
        target = self.parser if group is None else group
        target.add_argument(*flags, help=help.format_map(self.defaults), **options)

    def either(self):
        """Return a group of options of which at most one may be given."""
        return self.parser.add_mutually_exclusive_group()


def _demo_options(options):
    options.add("--quick", action="store_true")
    options.add("--plot", metavar="PATH")
    options.add("--random-state", type=int, default=0, metavar="N")


def _fit_options(options):
    add = options.add
    add("series", metavar="SERIES.csv")
    add("--model", required=True, metavar="MODEL")
    _table_options(options, columns=True)
    add("--train-size", type=_count(1), metavar="N")
    for name in ("window_size", "hidden_size", "max_epochs"):
        default = options.defaults[name]
        add("--" + name.replace("_", "-"), type=_count(1), default=default, metavar="N")
    add("--contamination", type=_contamination, default="auto", metavar="auto|FLOAT")
    add("--device", default="auto")
    add("--precision", choices=("auto", "float32", "bfloat16"), default="auto")
    add("--causal", action="store_true")
    add("--detect-flatlines", action=argparse.BooleanOptionalAction)
    add("--random-state", type=int, metavar="N")
    talk = options.either()
    add("-v", "--verbose", action="store_true", group=talk)
    add("-q", "--quiet", action="store_true", group=talk)


def _score_options(options):
    add = options.add
    add("model", metavar="MODEL")
    add("series", metavar="SERIES.csv")
    add("--out", required=True, metavar="SCORES.csv")
    add("--plot", metavar="PLOT.png")
    _event_options(options)
    _table_options(options, columns=False)


def _stream_options(options):
    add = options.add
    add("model", metavar="MODEL")
    add("--timestamp-column", metavar="NAME")
    add("--sep", default=",", metavar="CHAR")
    add("--update-every", type=_count(1), metavar="N")
    add("--learn-from", choices=("normal", "all"), default="normal")
    add("--threshold-window", type=_count(2), metavar="N")
    add("--save", metavar="STATE.skae")
    _event_options(options)


def _event_options(options):
    options.add("--events", metavar="EVENTS.csv")
    options.add("--merge-gap", type=_count(0), metavar="N")


def _table_options(options, columns):
    if columns:
        options.add("--columns", type=_column_list, metavar="A,B,...")
    options.add("--timestamp-column", metavar="NAME")
    options.add("--sep", metavar="CHAR")
    order = options.either()
    for flag, dayfirst in (("--dayfirst", True), ("--monthfirst", False)):
        options.add(
            flag, dest="dayfirst", action="store_const", const=dayfirst, group=order
        )
