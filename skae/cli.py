"""The ``skae`` command: ``skae demo``, ``skae fit``, ``skae score``, ``skae stream``.

Run ``skae --help`` (or ``python -m skae --help``) for the options. Errors are one
line on stderr, ``skae: error: ...``, with exit status 2 for a wrong command line and
1 for a problem with the data or the model file. The options live in
:mod:`skae._cli_parser`, ``fit`` and ``score`` in :mod:`skae._cli_commands`; this
module runs the command and holds ``skae stream``, which scores rows as they arrive.
"""

import math
import os
import sys
from pathlib import Path

from . import _cli_commands as commands
from ._cli_commands import N_TOP_FEATURES, SAFE_SUFFIX, STDOUT, one_line
from ._cli_parser import CommandError, DataError, UsageError, build_parser

__all__ = ["build_parser", "main"]


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
    handlers = {
        "demo": _demo,
        "fit": commands.fit,
        "score": commands.score,
        "stream": _stream,
    }
    try:
        args = parser.parse_args(argv)
        handlers[args.command](args)
    except CommandError as error:
        print(f"skae: error: {error}", file=sys.stderr)
        return error.status
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
            f"skae: error: {type(error).__name__}: {one_line(error)}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        print("skae: interrupted", file=sys.stderr)
        return 130
    return 0


def _demo(args):
    from ._demo import run_demo

    run_demo(plot_path=args.plot, quick=args.quick, random_state=args.random_state)


def _stream(args):
    import warnings

    import numpy as np

    scorer = _open_stream(args)
    columns = events = None
    try:
        for batch in _batches(sys.stdin.fileno(), args.sep):
            if columns is None:
                (line_number, header), batch = batch[0], batch[1:]
                columns = _Columns(header, line_number, scorer.detector, args)
                timed = columns.time is not None
                time_name = f"{columns.names[columns.time]}," if timed else ""
                sys.stdout.write(f"{time_name}score,is_anomaly\n")
                sys.stdout.flush()
                events = _EventsFile(args.events, timed)
                if not batch:
                    continue
            values = columns.values(batch)
            stamps = columns.stamps(batch)
            with warnings.catch_warnings():
                # an array for a model fitted on named columns: matched by name
                warnings.filterwarnings("ignore", message="X does not have valid")
                try:
                    result = scorer.push(values)
                except (ValueError, TypeError) as error:
                    raise DataError(one_line(error)) from None
            lines = []
            for stamp, score, flag in zip(
                stamps, result.scores, result.flags, strict=True
            ):
                stamp = "" if stamp is None else _csv_cell(stamp, args.sep) + args.sep
                lines.append(f"{stamp}{score:.9g}{args.sep}{int(flag)}\n")
            if columns.time is not None:
                flagged = np.flatnonzero(result.flags)
                events.remember(
                    scorer.n_steps_ - len(batch) + flagged,
                    [stamps[i] for i in flagged],
                )
            # the events first: a row's answer means its events are in the file
            events.write(scorer.take_events())
            sys.stdout.write("".join(lines))
            sys.stdout.flush()
    finally:
        if events is not None:
            # without --save the open event ends with the input (or Ctrl-C);
            # with it, the open event goes on in the saved state
            try:
                if args.save is None:
                    events.write(scorer.flush_events())
            finally:
                events.close()
        if args.save is not None and columns is not None:
            scorer.save(args.save)
            print(f"skae: saved the stream's state to {args.save}", file=sys.stderr)
    if columns is None:
        raise DataError("no header line on standard input")
    if events.path is not None:
        written = commands.n_events(events.n_written)
        print(f"skae: {written} written to {args.events}", file=sys.stderr)


def _open_stream(args):
    """Check the options of ``skae stream`` and return its scorer."""
    from ._streaming import StreamingScorer

    if args.save is not None:
        if Path(args.save).suffix.lower() != SAFE_SUFFIX:
            raise UsageError(
                f"argument --save: the name must end in {SAFE_SUFFIX}, got "
                f"{args.save!r} (see 'skae stream --help')"
            )
        commands.check_output(args.save, "--save")
    if args.events == STDOUT:
        raise UsageError(
            "argument --events: standard output holds the scores of the rows; "
            "give a file (see 'skae stream --help')"
        )
    commands.check_event_options(args, "stream")
    path = Path(args.model)
    detector = commands.load_model(path)  # checks the file, refuses what is not one
    if not detector._fitted_setting("causal"):
        raise DataError(
            f"{path}: skae stream needs a causal model (causal=True), whose score of "
            "a row uses no later row and whose threshold was set on such scores; "
            "this one was fitted without --causal: fit one with 'skae fit "
            "SERIES.csv --model MODEL.skae --causal'"
        )
    try:
        if path.suffix.lower() == SAFE_SUFFIX:  # it may hold a stream's state
            scorer = StreamingScorer.load(path)
        else:
            scorer = StreamingScorer(detector)
        if scorer.n_steps_ > 0:  # a resumed stream keeps its settings
            return scorer
        return StreamingScorer(
            scorer.detector,
            update_every=args.update_every,
            learn_from=args.learn_from,
            threshold_window=args.threshold_window,
            context=scorer._rows,
            merge_gap=args.merge_gap,
            # contributions are computed only for rows near an alarm
            n_top_features=N_TOP_FEATURES,
        )
    except ValueError as error:
        raise DataError(f"{path}: {one_line(error)}") from None


# the longest line skae stream takes: far more than any row of numbers needs,
# and a bound on what a line that never ends (cat /dev/zero) can take
_MAX_LINE_BYTES = 1 << 24


def _batches(fd, sep):
    """Yield lists of ``(line_number, fields)`` of the CSV lines read from ``fd``.

    ``os.read`` returns whatever the pipe holds, so rows that arrive together
    are scored together while a lone row is scored at once.
    """
    pending, line_number = b"", 0
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            lines, pending = [pending] if pending.strip() else [], b""
        else:
            *lines, pending = (pending + data).split(b"\n")
            if len(pending) > _MAX_LINE_BYTES:
                raise DataError(
                    f"line {line_number + len(lines) + 1} is longer than "
                    f"{_MAX_LINE_BYTES:,} bytes with no end of line; skae stream "
                    "reads CSV lines"
                )
        batch = []
        for line in lines:
            line_number += 1
            text = line.decode("utf-8", errors="replace").rstrip("\r")
            if line_number == 1:
                text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark
            if text.strip():
                batch.append((line_number, _fields(text, sep, line_number)))
        if batch:
            yield batch
        if not data:
            return


def _fields(text, sep, line_number):
    import csv

    try:
        return next(csv.reader([text], delimiter=sep))
    except csv.Error as error:
        if "\r" in text:
            problem = (
                "holds a carriage return inside a field; end lines with \\n or "
                "\\r\\n, and quote a field that holds one"
            )
        elif "field limit" in str(error):
            problem = f"has a field longer than {csv.field_size_limit():,} characters"
        else:
            problem = f"is not a CSV line ({error})"
        raise DataError(f"line {line_number} {problem}") from None


class _Columns:
    """The header of a stream: where its timestamp and the model's features are."""

    def __init__(self, header, line_number, detector, args):
        from ._table import _LABEL_NAMES, _TIME_NAMES, TimestampOrder

        self.names = names = [name.strip() for name in header]
        self.line_number, self.detector, self.model = line_number, detector, args.model
        time_column = args.timestamp_column
        if time_column is None:
            found = [i for i, n in enumerate(names) if n.lower() in _TIME_NAMES]
            self.time = found[0] if found else None
        elif time_column in names:
            self.time = names.index(time_column)
        else:
            raise DataError(
                f"no timestamp column {time_column!r} in the header {names}"
            )
        self.order = None if self.time is None else TimestampOrder(names[self.time])
        expected = getattr(detector, "feature_names_in_", None)
        if expected is not None:
            missing = [str(n) for n in expected if str(n) not in names]
            if missing:
                raise DataError(
                    f"the header lacks the model's feature column(s) {missing}; it "
                    f"has {names}"
                )
            self.features = [names.index(str(n)) for n in expected]
            return
        self.features = [
            i
            for i, n in enumerate(names)
            if i != self.time and n.lower() not in _LABEL_NAMES
        ]
        if len(self.features) != detector.n_features_in_:
            raise DataError(
                f"the header has {len(self.features)} feature column(s) "
                f"{[names[i] for i in self.features]}, but the model was fitted on "
                f"{detector.n_features_in_}"
            )

    def values(self, batch):
        """Return the features of the rows of ``batch``, refusing what the model
        cannot score: a row too long, a cell that is not a finite number, a value
        beyond the network's reach."""
        import numpy as np

        names = self.names
        for line_number, fields in batch:
            if len(fields) > len(names):
                raise DataError(
                    f"line {line_number} has {len(fields)} fields, but the header "
                    f"has {len(names)} (line {self.line_number}): a separator too "
                    "many in that row, or a column name missing from the header"
                )
        values = np.empty((len(batch), len(self.features)))
        for (line_number, fields), row in zip(batch, values, strict=True):
            for column, index in enumerate(self.features):
                cell = _field(fields, index)
                try:
                    row[column] = float(cell)
                    if math.isfinite(row[column]):
                        continue
                    problem = "; values must be finite"
                except ValueError:
                    problem = ", not a number"
                raise DataError(
                    f"line {line_number}: column {names[index]!r} holds {cell!r}"
                    + problem
                )
        found = commands.out_of_reach(values, self.detector)
        if found is not None:
            row, column, _ = found
            reach = commands.beyond_reach(self.detector, column, self.model)
            raise DataError(
                f"line {batch[row][0]}: column {names[self.features[column]]!r} "
                f"holds {values[row, column]:.6g}, {reach}"
            )
        return values

    def stamps(self, batch):
        """Return the timestamps of the rows of ``batch`` (None without), checked
        to go forward."""
        from ._table import TableError

        if self.time is None:
            return [None] * len(batch)
        stamps = [_field(fields, self.time) for _, fields in batch]
        try:
            self.order.check([line for line, _ in batch], stamps)
        except TableError as error:
            raise DataError(str(error)) from None
        return stamps


def _field(fields, index):
    return fields[index].strip() if index < len(fields) else ""


def _csv_cell(text, sep):
    if sep in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


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
            self.file = open(path, "a+", encoding="utf-8", newline="")  # noqa: SIM115
            self.file.seek(0)
            first = self.file.readline().rstrip("\r\n")
        except OSError as error:
            raise DataError(
                f"cannot write --events {path}: {error.strerror or error}"
            ) from None
        if first and first != header:
            self.close()
            raise DataError(
                f"--events {path} holds other columns ({first!r}); give a new "
                "file or one that an earlier 'skae stream --events' with the same "
                "header wrote"
            )
        if not first:  # appended: a file in "a+" mode writes at its end
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
            for column in ("start", "end", "peak"):
                # a row scored before a resumed stream's start has no stamp here
                stamps = [self.stamps.get(int(p), "") for p in events[column]]
                events[f"{column}_time"] = stamps
            last = int(events["end"].max())
            self.stamps = {p: t for p, t in self.stamps.items() if p > last}
        try:
            commands.events_csv(events)[self.columns].to_csv(
                self.file, header=False, index=False
            )
            self.file.flush()
        except OSError as error:
            raise DataError(
                f"cannot write --events {self.path}: {error.strerror or error}"
            ) from None
        self.n_written += len(events)

    def close(self):
        if self.file is not None:
            self.file.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
