"""A corpus of hostile inputs to skae, and how each one ends.

Builds three groups of bad (and a few valid but unusual) inputs and runs each one
under a 60 s timeout:

1. ``detector``: arrays, DataFrames, lists, sparse and masked matrices and
   parameter values given to ``LSTMAutoencoderDetector.fit`` and to
   ``score_samples``/``predict`` of a fitted tiny detector (``window_size=8,
   hidden_size=4, max_epochs=1, random_state=0, n_threads=1``);
2. ``model file``: a saved tiny model with ``skae.json`` edited and both digests
   recomputed as ``skae.save_model`` computes them (so only ``load_model``'s
   checks of the content stand in the way), and files that are truncated, hold
   other members, compressed members, pickles, or JSON that no encoder writes;
3. ``CLI``: ``python -m skae`` in a subprocess on hand-made CSV and model files.

Each outcome falls in one class:

- ``clear error``: the expected exception (``ValueError``/``TypeError``, or the
  one a case names) whose message holds the case's keyword (a parameter, field or
  column name, ``NaN``, ...); on the CLI: exit status 1 or 2 and exactly one
  ``skae: error:`` line on stderr holding the keyword (plus a ``skae: warning:``
  line where the CLI documents one), no traceback;
- ``accepted``: a valid input that gives a finite output of the right shape;
- ``obscure error``: another exception type, a message without the keyword, a
  traceback or more stderr lines on the CLI, or a valid input refused;
- ``silent wrong output``: no error where one was due, a non-finite or
  wrongly shaped output, or the caller's data modified (every input is compared
  with a deep copy taken before the call), or a side effect a case forbids;
- ``hang``: the 60 s timeout fired.

Prints the torch thread count, a Markdown table of the counts per group and in
total, the peak memory of loading the files that declare a huge network, and every
case that is neither a clear error nor accepted (with ``--all``, every case).

Run from the repository root (about six minutes on two busy cores, one of them
spent waiting for the case that hangs)::

    python -m benchmarks.robustness.hostile_inputs [--all] [--group G] [--jobs N]

Cases that could take the whole process down (absurd sizes and thread counts)
run in a subprocess of their own (``--one NAME``, this file run as a script:
it needs skae only), ``--jobs`` at a time with the CLI cases.
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

import skae
from skae import LSTMAutoencoderDetector, TrainingDivergedError

TIMEOUT = 60
TINY = dict(window_size=8, hidden_size=4, max_epochs=1, random_state=0, n_threads=1)
# subprocesses import the skae that this process imported
SKAE_ROOT = Path(skae.__file__).resolve().parents[1]

CLEAR, ACCEPTED = "clear error", "accepted"
OBSCURE, SILENT, HANG = "obscure error", "silent wrong output", "hang"
CLASSES = (CLEAR, ACCEPTED, OBSCURE, SILENT, HANG)
GROUPS = ("detector", "model file", "CLI")


class Hang(BaseException):
    """Raised by the alarm; a BaseException so that no ``except Exception`` eats it."""


@dataclass
class Case:
    """One hostile input.

    ``run()`` makes the call; ``keyword`` is what a clear error message must hold
    (case-insensitive), or None when the input is valid and must be accepted, in
    which case ``check(output)`` returns what is wrong with the output, or None.
    ``data`` is the caller's object, which must come out unchanged.
    """

    group: str
    name: str
    run: object
    keyword: str | None
    check: object = None
    data: object = None
    errors: tuple = (ValueError, TypeError)
    isolate: bool = False  # run in a subprocess of its own
    after: object = None  # () -> a forbidden side effect seen afterwards, or None


# ------------------------------------------------------------------ helpers


def noise(n=200, f=2, seed=0):
    t = np.arange(n)[:, None]
    rng = np.random.default_rng(seed)
    return np.sin(t / 5 + np.arange(f)) + 0.1 * rng.normal(size=(n, f))


def tiny(**params):
    return LSTMAutoencoderDetector(**{**TINY, **params})


def with_value(X, index, value):
    X = np.array(X, dtype=float)
    X[index] = value
    return X


def _fingerprint(x):
    """A comparable summary of ``x`` that changes when its content changes."""
    if isinstance(x, pd.DataFrame):
        return (
            "frame",
            repr(list(x.columns)),
            repr(list(x.dtypes)),
            repr(x.index.tolist()),
            repr(x.to_dict("list")),
        )
    if sp.issparse(x):
        x = x.tocoo()
        return ("sparse", x.shape, x.row.tobytes(), x.col.tobytes(), x.data.tobytes())
    if isinstance(x, np.ma.MaskedArray):
        return ("masked", _fingerprint(x.data), np.ma.getmaskarray(x).tobytes())
    if isinstance(x, np.ndarray):
        body = repr(x.tolist()) if x.dtype.kind == "O" else x.tobytes()
        return ("array", x.dtype.str, x.shape, x.flags.writeable, body)
    if isinstance(x, torch.Tensor):
        return ("tensor", tuple(x.shape), x.numpy().tobytes())
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(_fingerprint(v) for v in x))
    return ("other", repr(x))


@contextlib.contextmanager
def deadline(seconds):
    def alarm(signum, frame):
        raise Hang()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _short(text, limit=160):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def classify(case):
    """Run an in-process case; return ``(outcome class, detail)``."""
    before = None if case.data is None else _fingerprint(case.data)
    try:
        with deadline(TIMEOUT):
            output = case.run()
    except Hang:
        return HANG, f"no answer within {TIMEOUT} s"
    except Exception as exc:
        error = f"{type(exc).__name__}: {_short(exc)}"
        if case.keyword is None:
            return OBSCURE, f"valid input refused: {error}"
        if not isinstance(exc, case.errors):
            return OBSCURE, f"wrong exception type: {error}"
        if case.keyword.lower() not in str(exc).lower():
            return OBSCURE, f"message lacks {case.keyword!r}: {error}"
        outcome = CLEAR, error
    else:
        if case.keyword is not None:
            return SILENT, f"no error (expected one naming {case.keyword!r})"
        try:
            problem = case.check(output) if case.check else None
        except Exception as exc:
            problem = f"checking the output failed: {type(exc).__name__}: {exc}"
        if problem:
            return SILENT, problem
        outcome = ACCEPTED, "output finite and of the right shape"
    if before is not None and _fingerprint(case.data) != before:
        return SILENT, "the caller's data was modified"
    if case.after is not None and (effect := case.after()):
        return SILENT, effect
    return outcome


# ------------------------------------------------- group 1: the detector


def _scores_ok(scores, n):
    scores = np.asarray(scores)
    if scores.shape != (n,):
        return f"output shape {scores.shape}, expected ({n},)"
    if not np.isfinite(scores).all():
        return "non-finite output"
    return None


def _fitted_ok(X_score, n):
    """Check a fitted detector: finite threshold, finite scores of X_score."""

    def check(detector):
        if not np.isfinite(detector.threshold_):
            return f"threshold_ = {detector.threshold_}"
        return _scores_ok(detector.score_samples(X_score), n)

    return check


def _predict_ok(n):
    def check(labels):
        labels = np.asarray(labels)
        if labels.shape != (n,) or not set(np.unique(labels)) <= {-1, 1}:
            return f"predict gave {labels!r}"
        return None

    return check


def detector_cases():
    """Bad inputs and parameters for fit, score_samples and predict."""
    X = noise()
    fitted = tiny().fit(X)
    frame_fitted = tiny().fit(pd.DataFrame(X, columns=["a", "b"]))
    cases = []

    def fit(name, data, keyword, check=None, errors=(ValueError, TypeError), **kw):
        cases.append(
            Case(
                "detector",
                f"fit: {name}",
                lambda: tiny(**kw).fit(data),
                keyword,
                check,
                data,
                errors,
            )
        )

    def score(name, data, keyword, n=None, detector=fitted):
        """score_samples and predict, as two cases."""
        for method, check in (
            ("score_samples", lambda out: _scores_ok(out, n)),
            ("predict", _predict_ok(n)),
        ):
            cases.append(
                Case(
                    "detector",
                    f"{method}: {name}",
                    lambda m=method: getattr(detector, m)(data),
                    keyword,
                    check if keyword is None else None,
                    data,
                )
            )

    n, f = X.shape
    # non-finite values, in the training part, the held-out tail and one feature
    for value, word in ((np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")):
        for where, index in (
            ("first step", (0, 0)),
            ("middle", (n // 2, 1)),
            ("held-out tail", (n - 1, 0)),
            ("whole feature", (slice(None), 1)),
        ):
            fit(f"{value} at {where}", with_value(X, index, value), word)
        score(f"{value} at step 10", with_value(X, (10, 0), value), word)
        fit(
            f"3-D sequences with {value}",
            with_value(X.reshape(25, 8, 2), (3, 2, 1), value),
            word,
        )
        fit(
            f"ragged list, {value} in sequence 2",
            [X[:20], X[20:50], with_value(X[50:90], (5, 0), value)],
            word,
        )
    # dimensions and sizes
    fit("0-D array", np.array(1.0), "scalar")
    fit("Python float", 3.0, "scalar")
    fit("1-D array", X[:, 0].copy(), "1D")
    fit("4-D array", X.reshape(5, 5, 8, 2), "4 dimensions")
    fit("pandas Series (1-D)", pd.Series(X[:, 0]), "2-dimensional")
    fit("series shorter than a window (5 < 8)", X[:5], "window_size")
    fit("empty array (0, 2)", np.empty((0, 2)), "0 sample")
    fit("no features (200, 0)", np.empty((200, 0)), "0 feature")
    fit("empty list", [], "array=[]")
    fit("empty 3-D array (0, 8, 2)", np.empty((0, 8, 2)), "0 sequences")
    fit("10 steps: held-out part shorter than a window", X[:10], "window")
    fit("one sequence: nothing to hold out", [X[:20]], "sequence")
    score("1-D array", X[:, 0].copy(), "1D")
    score("0-D array", np.array(1.0), "scalar")
    score("4-D array", X.reshape(5, 5, 8, 2), "4 dimensions")
    score("3 features for a 2-feature model", noise(f=3), "features")
    score("1 feature for a 2-feature model", X[:, :1].copy(), "features")
    score("series shorter than a window (5 < 8)", X[:5], "window_size")
    score("empty array (0, 2)", np.empty((0, 2)), "0 sample")
    score("3-D sequences with 3 features", noise(f=3)[:192].reshape(24, 8, 3), "feat")
    # types
    strings = np.array([["a", "b"]] * 40)
    fit("array of strings", strings, "string")
    fit("object array of floats", X.astype(object), None)
    cases[-1].check = _fitted_ok(X, n)
    obj_none = X.astype(object)
    obj_none[3, 0] = None
    fit("object array holding None", obj_none, "NaN")
    fit("complex array", X + 1j, "complex")
    score("complex array", X + 1j, "complex")
    score("array of strings", np.array([["1.0", "x"]] * 40), "string")
    fit("Python ints beyond float64", [[10**400, 1]] * 30, "too large")
    fit("bool array", X > 0, None, _fitted_ok(X > 0, n))
    fit("int8 array", (X * 10).astype(np.int8), None, _fitted_ok(X, n))
    fit("float32 array", X.astype(np.float32), None, _fitted_ok(X, n))
    fit("Fortran-ordered array", np.asfortranarray(X), None, _fitted_ok(X, n))
    fit("strided view X[::2]", X[::2], None, _fitted_ok(X, n))
    read_only = X.copy()
    read_only.flags.writeable = False
    fit("read-only array", read_only, None, _fitted_ok(X, n))
    fit("list of lists", X.tolist(), None, _fitted_ok(X, n))
    fit("torch tensor", torch.tensor(X), None, _fitted_ok(X, n))
    fit("a string", "abc", "string")
    fit("None", None, "scalar")
    fit("a dict of columns", {"a": X[:, 0], "b": X[:, 1]}, "dict")
    # DataFrames
    frame = pd.DataFrame(X, columns=["a", "b"])
    stamps = pd.date_range("2024-01-01", periods=n, freq="h")
    fit(
        "DataFrame, category column",
        frame.assign(cat=pd.Categorical(["x"] * n)),
        "'cat'",
    )
    fit("DataFrame, datetime column", frame.assign(when=stamps), "'when'")
    fit(
        "DataFrame, timedelta column",
        frame.assign(gap=pd.to_timedelta(np.arange(n), unit="s")),
        "'gap'",
    )
    fit("DataFrame, text column", frame.assign(txt=["word"] * n), "'txt'")
    mixed = frame.assign(mix=[1.5] * (n - 1) + ["oops"])
    fit("DataFrame, mixed numbers and text in one column", mixed, "'mix'")
    fit(
        "DataFrame, nullable Int64 with pd.NA",
        frame.assign(c=pd.array([1] * (n - 1) + [None], dtype="Int64")),
        "NaN",
    )
    fit(
        "DataFrame, tz-aware datetime column",
        frame.assign(when=stamps.tz_localize("UTC")),
        "'when'",
    )
    fit(
        "DataFrame, mixed str and int column names",
        frame.set_axis(["a", 0], axis=1),
        "str",
    )
    fit("DataFrame, bool column", frame.assign(flag=X[:, 0] > 0), None, None)
    cases[-1].check = _fitted_ok(frame.assign(flag=X[:, 0] > 0), n)
    fit("DataFrame of numbers", frame, None, _fitted_ok(frame, n))
    score(
        "DataFrame with other column names",
        pd.DataFrame(X, columns=["x", "y"]),
        "feature names",
        detector=frame_fitted,
    )
    score(
        "DataFrame with a category column",
        frame.assign(b=pd.Categorical(["x"] * n)),
        "'b'",
        detector=frame_fitted,
    )
    # lists of sequences
    fit("list of 1-D arrays", [X[:, 0].copy(), X[:, 1].copy()], "1-D arrays")
    fit("ragged list with 2 and 3 features", [X[:30], noise(40, 3)], "same number")
    fit("ragged list with an empty member", [X[:30], X[:0], X[:20]], "sequence 1")
    fit(
        "ragged list with a 3-D member", [X[:30], X[:32].reshape(4, 8, 2)], "sequence 1"
    )
    fit("ragged list with a scalar member", [X[:30], 3.0], "sequence 1")
    score("ragged list with 3 features", [noise(20, 3), noise(30, 3)], "features")
    score("list of 1-D arrays", [X[:, 0].copy(), X[:, 1].copy()], "1-D arrays")
    score("ragged list with an empty member", [X[:30], X[:0]], "sequence 1")
    # masked, sparse, huge
    masked = np.ma.masked_array(X, mask=np.zeros_like(X, dtype=bool))
    masked.mask[7, 1] = True
    fit("masked array with a masked value", masked, "masked")
    score("masked array with a masked value", masked, "masked", n)
    fit("masked array, nothing masked", np.ma.masked_array(X), None, _fitted_ok(X, n))
    fit("ragged list, masked member", [X[:30], masked[:40]], "masked")
    for kind in ("csr_matrix", "csc_matrix", "coo_matrix", "csr_array"):
        sparse = getattr(sp, kind)(X)
        fit(f"sparse {kind}", sparse, "sparse")
        score(f"sparse {kind}", sparse, "sparse")
    huge = noise() * 1e300
    fit("values 1e300, standardize=True", huge, None, _fitted_ok(huge, n))
    fit("values 1e300, standardize=False", huge, "scaling", standardize=False)
    fit("values near float64 max (1.7e308)", noise() * 0 + 1.7e308, None)
    cases[-1].check = _fitted_ok(noise() * 0 + 1.7e308, n)
    score("one value 1e300 at step 10", with_value(X, (10, 0), 1e300), "row 10")
    score("one value 1e39 at step 10", with_value(X, (10, 0), 1e39), "row 10")
    score("one value 1e20 at step 10", with_value(X, (10, 0), 1e20), None, n)
    # valid scoring inputs
    score("valid series", X, None, n)
    score("exactly one window (8 steps)", X[:8], None, 8)
    score("float32 series", X.astype(np.float32), None, n)
    score("read-only series", read_only, None, n)
    score("list of 3 sequences", [X[:20], X[20:50], X[50:58]], None, 3)
    unfitted = tiny()
    score("on an unfitted detector", X, "fit", detector=unfitted)
    cases.extend(parameter_cases(X))
    return cases


# values a parameter must refuse: bools for numbers, out of range, wrong types
_BAD_PARAMS = {
    "window_size": [True, 0, -1, 8.5, 8.0, "8", None],
    "stride": [True, 0, -1, 1.0, "1", None],
    "hidden_size": [True, 0, -1, 4.0, "4", None],
    "num_layers": [True, 0, -1, 1.5, None],
    "dropout": [True, -0.1, 1.0, np.nan, "0", None],
    "decoder_feed": ["fancy", 1, None],
    "max_epochs": [True, 0, -1, 1.5, "1", None],
    "batch_size": [True, 0, -1, 2.5, None],
    "lr": [True, 0, -1, np.nan, np.inf, "0.1", None],
    "patience": [True, 0, -1, 2.5, None],
    "validation_fraction": [True, 0, 1, -0.1, 1.5, np.nan, None],
    "contamination": [True, 0, 0.6, -0.1, np.nan, "high", None],
    "n_sigmas": [True, -1, np.nan, np.inf, "6", None],
    "standardize": ["yes", 1, None],
    "device": ["foo", "cuda:99", "cuda", "meta", "", None, 0],
    "random_state": ["seed", -1, 2**40, 1.5],
    "verbose": [-1, "loud", 0.5],
    "noise_std": [True, -1, np.nan, np.inf, "0"],
    "anomaly_score": ["abs", None],
    "score_stride": [True, 0, -1, 2.0, "fast", None],
    "max_windows_per_epoch": [True, 0, -1, 10.5, "all"],
    "n_threads": [True, 0, -1, 1.0, 1025, "two", "2"],
    "score_smoothing": [True, -1, 1.5, None],
    "centered_features": [[5], [-3], ["nope"], [0.5], [True], [[0]], "a", 3],
}
# the keyword when the message names the problem rather than the parameter
_PARAM_KEYWORD = {("device", "'cuda:99'"): "cuda", ("device", "'cuda'"): "cuda"}
# absurd sizes, each in a process of its own
_ABSURD_PARAMS = {
    "hidden_size": [10**5, 10**9],
    "num_layers": [10**4],
    "n_threads": [10**6],
    "window_size": [10**12],
    "batch_size": [10**12],
    "random_state": [2**64],
}


def parameter_cases(X):
    cases = []
    for name, values in _BAD_PARAMS.items():
        for value in values:
            keyword = _PARAM_KEYWORD.get((name, repr(value)), name)
            cases.append(
                Case(
                    "detector",
                    f"param: {name}={value!r}",
                    lambda p={name: value}: tiny(**p).fit(X),
                    keyword,
                    data=X,
                )
            )
    for name, values in _ABSURD_PARAMS.items():
        for value in values:
            valid = name == "batch_size"
            cases.append(
                Case(
                    "detector",
                    f"param: {name}={value!r} (absurd size)",
                    lambda p={name: value}: tiny(**p).fit(X),
                    None if valid else "window_size" if name == "window_size" else name,
                    _fitted_ok(X, len(X)) if valid else None,
                    X,
                    isolate=True,
                )
            )
    cases.append(
        Case(
            "detector",
            "param: lr=1e6 (diverges)",
            lambda: tiny(lr=1e6, max_epochs=5).fit(X * 100),
            "diverg",
            errors=(TrainingDivergedError,),
            data=X,
        )
    )
    return cases


# ---------------------------------------------- group 2: tampered model files


def _canonical(obj, allow_nan=False):
    # the canonical JSON of skae/_persistence.py: sorted keys, no spaces, UTF-8
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), allow_nan=allow_nan
    ).encode("utf-8")


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _read_members(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("skae.json")), archive.read(
            "weights.safetensors"
        )


def _write_members(path, members, compression=zipfile.ZIP_STORED):
    with (
        warnings.catch_warnings(),  # "Duplicate name": wanted here
        zipfile.ZipFile(path, "w", compression=compression) as archive,
    ):
        warnings.simplefilter("ignore")
        for name, data in members:
            archive.writestr(name, data)
    return path


def forge(source, target, edit=None, weights=None, raw=None, digest=True):
    """Copy ``source`` with ``edit(model)`` applied and both digests recomputed.

    ``weights`` replaces the weights member (bytes); ``raw(model) -> bytes`` writes
    the JSON document itself (for text that no encoder writes).
    """
    document, old_weights = _read_members(source)
    weights = old_weights if weights is None else weights
    model = document["model"]
    if digest:
        model["weights"]["sha256"] = _sha256(weights)
    if edit is not None:
        edit(model)
    if raw is not None:
        text = raw(document)
    else:
        if digest:
            document["model_sha256"] = _sha256(_canonical(model))
        text = _canonical(document)
    return _write_members(
        target, [("skae.json", text), ("weights.safetensors", weights)]
    )


def _set(part, **values):
    def edit(model):
        for key, value in values.items():
            if value is _DROP:
                del model[part][key]
            else:
                model[part][key] = value

    return edit


_DROP = object()


def _floats(values):
    array = np.asarray(values, dtype=np.float64)
    return {"__ndarray__": array.tolist(), "dtype": "<f8", "shape": list(array.shape)}


def _network_bytes(hidden, layers, n_features=2):
    """float32 bytes of the weights of the network a tiny model file declares."""
    lstm = 4 * hidden * (2 * hidden) + 8 * hidden  # one layer fed hidden_size inputs
    first = 4 * hidden * (n_features + hidden) + 8 * hidden
    return 4 * (first + (2 * layers - 1) * lstm + n_features * (hidden + 1))


def _nested(depth, leaf="0"):
    return "[" * depth + leaf + "]" * depth


class _Marker:
    """Unpickling this opens (creates) a file: the proof that a pickle ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _no_marker(marker):
    return lambda: "a pickle ran: the marker file exists" if marker.exists() else None


def model_file_cases(folder, memory):
    """Tampered model files; ``memory`` gets the peak-memory measurements."""
    X = noise()
    frame = pd.DataFrame(X, columns=["a", "b"])
    detector = tiny().fit(frame)
    base = folder / "base.skae"
    skae.save_model(detector, base)
    expected_scores = detector.score_samples(frame)
    threshold = detector.threshold_
    counter = iter(range(10**6))
    cases = []

    def load_case(name, path, keyword, check=None, errors=(ValueError,), **kw):
        cases.append(
            Case(
                "model file",
                name,
                lambda: skae.load_model(path, **kw),
                keyword,
                check,
                errors=errors,
            )
        )

    def forged(name, keyword, check=None, **forge_args):
        path = forge(base, folder / f"f{next(counter)}.skae", **forge_args)
        load_case(name, path, keyword, check)
        return path

    def fitted(name, keyword, **values):
        return forged(f"fitted {name}", keyword, edit=_set("fitted", **values))

    def param(name, keyword, **values):
        return forged(f"param {name}", keyword, edit=_set("params", **values))

    nan, inf, ninf = ({"__float__": v} for v in ("nan", "inf", "-inf"))
    fitted('threshold_ = "abc"', "threshold_", threshold_="abc")
    fitted("threshold_ = [1.0]", "threshold_", threshold_=[1.0])
    fitted("threshold_ = None", "threshold_", threshold_=None)
    fitted("threshold_ = true", "threshold_", threshold_=True)
    fitted("threshold_ = NaN (tagged)", "threshold_", threshold_=nan)
    fitted("threshold_ = -inf (tagged)", "threshold_", threshold_=ninf)
    fitted("threshold_ = inf (tagged)", "threshold_", threshold_=inf)
    fitted(
        "threshold_ = malformed float tag", "threshold_", threshold_={"__float__": "1"}
    )
    fitted("threshold_ = -1, offset_ = 1", "threshold_", threshold_=-1.0, offset_=1.0)
    fitted("threshold_ = 1 (a JSON integer)", "threshold_", threshold_=1, offset_=-1)
    fitted("threshold_ missing", "threshold_", threshold_=_DROP)
    fitted("offset_ = -threshold_ + 5", "offset_", offset_=-threshold + 5)
    fitted("scale_ = -1", "scale_", scale_=_floats([-1.0, -1.0]))
    fitted("scale_ = 0", "scale_", scale_=_floats([0.0, 1.0]))
    fitted("scale_ of 3 features", "scale_", scale_=_floats([1.0, 1.0, 1.0]))
    strings = {"__ndarray__": ["a", "b"], "dtype": "<U1", "shape": [2]}
    fitted("mean_ as strings", "mean_", mean_=strings)
    fitted("mean_ as a plain list", "mean_", mean_=[0.0, 0.0])
    fitted("mean_ as float32", "mean_", mean_={**_floats([0, 0]), "dtype": "<f4"})
    fitted("mean_ complex dtype", "mean_", mean_={**_floats([0, 0]), "dtype": "<c16"})
    fitted("mean_ object dtype", "mean_", mean_={**_floats([0, 0]), "dtype": "object"})
    fitted("mean_ void dtype", "mean_", mean_={**_floats([0, 0]), "dtype": "|V8"})
    fitted(
        "mean_ 10^8-wide string dtype",
        "mean_",
        mean_={"__ndarray__": ["a"] * 64, "dtype": "<U100000000", "shape": [64]},
    )
    fitted(
        "mean_ shape [1000000] with 2 values",
        "mean_",
        mean_={**_floats([0, 0]), "shape": [10**6]},
    )
    fitted("mean_ with an extra key", "mean_", mean_={**_floats([0, 0]), "x": 1})
    fitted('device_ = "meta"', "device_", device_="meta")
    fitted("device_ = 5", "device_", device_=5)
    fitted('device_ = "cuda:99999"', "device_", device_="cuda:99999")
    fitted("score_stride_ = 0", "score_stride_", score_stride_=0)
    fitted("score_stride_ = 9 > window_size", "score_stride_", score_stride_=9)
    fitted("score_stride_ = 2.5", "score_stride_", score_stride_=2.5)
    fitted("n_features_in_ = 0", "n_features_in_", n_features_in_=0)
    fitted("n_features_in_ = true", "n_features_in_", n_features_in_=True)
    fitted("n_features_in_ = 3", "mean_", n_features_in_=3)
    fitted("n_features_in_ = 10^30", "mean_", n_features_in_=10**30)
    fitted("heldout_mean_ + 1", "heldout_mean_", heldout_mean_=10.0)
    fitted(
        "heldout_errors_ negative", "heldout_errors_", heldout_errors_=_floats([-1.0])
    )
    fitted("heldout_errors_ empty", "heldout_errors_", heldout_errors_=_floats([]))
    fitted("centered_features_ = [5]", "centered_features_", centered_features_=[5])
    fitted(
        "centered_features_ = [1, 0]", "centered_features_", centered_features_=[1, 0]
    )
    names = {"__ndarray__": ["a"], "dtype": "object", "shape": [1]}
    fitted("feature_names_in_ of 1 name", "feature_names_in_", feature_names_in_=names)
    fitted("unknown fitted evil_", "evil_", evil_=1)
    # parameters
    param("window_size = true", "window_size", window_size=True)
    param("window_size = 0", "window_size", window_size=0)
    param("window_size = 10^30", "window_size", window_size=10**30)
    param('lr = "x"', "lr", lr="x")
    param("n_threads = 10^6", "n_threads", n_threads=10**6)
    param('device = "meta"', "device", device="meta")
    param('decoder_feed = "x"', "decoder_feed", decoder_feed="x")
    param('random_state = "x"', "random_state", random_state="x")
    param("unknown parameter evil", "evil", evil=1)
    param("window_size missing", "window_size", window_size=_DROP)
    for hidden in (5000, 20000):
        path = param(
            f"hidden_size = {hidden}, weights of 4", "weights", hidden_size=hidden
        )
        memory[f"hidden_size = {hidden}"] = path, _network_bytes(hidden, 1)
    path = param(
        "num_layers = 10^6, weights of 1 layer", "num_layers", num_layers=10**6
    )
    memory["num_layers = 10^6"] = path, _network_bytes(4, 10**6)
    memory["the untampered file (reference)"] = base, _network_bytes(4, 1)
    # the document
    forged('class = "Other"', "Other", edit=lambda m: m.update({"class": "Other"}))
    forged("history = [1, 2]", "history", edit=lambda m: m.update(history=[1, 2]))
    deep = {"x": 0}
    for _ in range(50):
        deep = {"x": deep}
    forged(
        "history of a dict 50 deep", "history", edit=lambda m: m.update(history=[deep])
    )

    def document_edit(**values):
        def raw(document):
            document["model_sha256"] = _sha256(_canonical(document["model"]))
            return _canonical({**document, **values})

        return raw

    forged("format_version = 2", "format version", raw=document_edit(format_version=2))
    forged(
        'format_version = "1"', "format_version", raw=document_edit(format_version="1")
    )
    forged('format = "pickle"', "skae-model", raw=document_edit(format="pickle"))
    forged(
        "threshold_ edited, digest not recomputed",
        "SHA-256",
        edit=_set("fitted", threshold_=0.0),
        digest=False,
    )
    _, weights = _read_members(base)
    changed = bytearray(weights)
    changed[-1] ^= 1
    forged(
        "weights edited, digest not recomputed",
        "SHA-256",
        weights=bytes(changed),
        digest=False,
    )
    forged(
        "weights: raw JSON text, not safetensors", "weights.safetensors", weights=b"{}"
    )
    buffer = io.BytesIO()
    torch.save({"head.bias": torch.zeros(2)}, buffer)
    forged(
        "weights: a torch.save pickle", "weights.safetensors", weights=buffer.getvalue()
    )
    header = json.dumps(
        {
            "head.bias": {
                "dtype": "F32",
                "shape": [10**9],
                "data_offsets": [0, 4 * 10**9],
            }
        }
    ).encode()
    lying = len(header).to_bytes(8, "little") + header + b"\0" * 8
    forged(
        "weights: safetensors header claiming 4 GB",
        "weights.safetensors",
        weights=lying,
    )
    from safetensors.torch import load as load_tensors
    from safetensors.torch import save as save_tensors

    state = load_tensors(weights)

    def tensors(**changes):
        new = dict(state)
        for key, value in changes.items():
            if value is None:
                del new[key]
            else:
                new[key] = value
        return save_tensors(new)

    forged(
        "weights: head.bias of shape (3,)",
        "head.bias",
        weights=tensors(**{"head.bias": torch.zeros(3)}),
    )
    forged(
        "weights: NaN in head.bias",
        "NaN",
        weights=tensors(**{"head.bias": torch.full((2,), float("nan"))}),
    )
    forged(
        "weights: float64 head.bias",
        "float32",
        weights=tensors(**{"head.bias": torch.zeros(2, dtype=torch.float64)}),
    )
    forged("weights: an extra tensor", "tensor", weights=tensors(evil=torch.zeros(1)))
    forged(
        "weights: head.bias missing", "tensor", weights=tensors(**{"head.bias": None})
    )
    # JSON that no encoder writes

    def text_with(placeholder_value, marker="__PLACEHOLDER__"):
        def raw(document):
            document["model"]["fitted"]["threshold_"] = marker
            text = (
                _canonical(document["model"])
                .decode()
                .replace(f'"{marker}"', placeholder_value)
            )
            model_digest = _sha256(text.encode())
            body = _canonical(
                {**document, "model": marker, "model_sha256": model_digest}
            )
            return body.decode().replace(f'"{marker}"', text).encode()

        return raw

    forged("JSON constant NaN in threshold_", "NaN", raw=text_with("NaN"))
    forged(
        "JSON constant Infinity in threshold_", "Infinity", raw=text_with("Infinity")
    )
    forged("JSON number 1e999 in threshold_", "range", raw=text_with("1e999"))
    forged(
        "JSON nested 100,000 deep in threshold_", "JSON", raw=text_with(_nested(10**5))
    )
    forged("JSON nested 900 deep in threshold_", "nested", raw=text_with(_nested(900)))
    forged(
        "JSON not UTF-8",
        "JSON",
        raw=lambda d: _canonical(d).replace(b'"skae-model"', b'"skae-mod\xe9l"'),
    )
    forged("JSON top level a list", "not a skae model file", raw=lambda d: b"[1, 2]")
    forged("JSON truncated", "JSON", raw=lambda d: _canonical(d)[:-10])
    # the file itself
    data = base.read_bytes()
    for cut in (10, 100, len(data) // 2, len(data) - 22, len(data) - 1):
        path = folder / f"cut{cut}.skae"
        path.write_bytes(data[:cut])
        load_case(
            f"zip truncated to {cut} of {len(data)} bytes", path, "skae model file"
        )
    document, weights = _read_members(base)
    json_bytes = _canonical(document)
    members = [("skae.json", json_bytes), ("weights.safetensors", weights)]
    for name, extra in (
        ("an extra member", [("evil.py", b"print(1)")]),
        ("a duplicated skae.json", [("skae.json", json_bytes)]),
    ):
        path = _write_members(folder / f"f{next(counter)}.skae", members + extra)
        load_case(f"zip with {name}", path, "exactly")
    path = _write_members(folder / f"f{next(counter)}.skae", members[:1])
    load_case("zip without the weights", path, "exactly")
    path = _write_members(
        folder / f"f{next(counter)}.skae",
        [("../skae.json", json_bytes), ("weights.safetensors", weights)],
    )
    load_case("zip member named ../skae.json", path, "exactly")
    path = _write_members(folder / "deflated.skae", members, zipfile.ZIP_DEFLATED)
    load_case("zip with deflated members", path, "compressed")
    bomb = folder / "bomb.skae"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("skae.json", json_bytes, compress_type=zipfile.ZIP_STORED)
        with archive.open("weights.safetensors", "w") as member:
            zeros = b"\0" * 2**20
            for _ in range(256):
                member.write(zeros)
    load_case("zip bomb: weights of 256 MiB of zeros deflated", bomb, "compressed")
    pickled = folder / "pickled.skae"
    pickled.write_bytes(pickle.dumps(detector))
    load_case("a pickle of the detector named .skae", pickled, "skae model file")
    marker = folder / "pickle-ran.txt"
    evil = folder / "evil.skae"
    evil.write_bytes(pickle.dumps(_Marker(str(marker))))
    cases.append(
        Case(
            "model file",
            "a code-running pickle named evil.skae",
            lambda: skae.load_model(evil),
            "skae model file",
            errors=(ValueError,),
            after=_no_marker(marker),
        )
    )
    path = forge(
        base,
        folder / "pickled-weights.skae",
        weights=pickle.dumps(_Marker(str(marker))),
    )
    cases.append(
        Case(
            "model file",
            "weights member a code-running pickle (digest recomputed)",
            lambda: skae.load_model(path),
            "weights.safetensors",
            errors=(ValueError,),
            after=_no_marker(marker),
        )
    )
    text = folder / "text.skae"
    text.write_text("timestamp,value\n2024-01-01,1.0\n")
    load_case("a CSV named .skae", text, "skae model file")
    empty = folder / "empty.skae"
    empty.write_bytes(b"")
    load_case("an empty file", empty, "skae model file")
    load_case("a directory", folder, "directory", errors=(OSError,))
    load_case(
        "a missing file", folder / "missing.skae", "no such file", errors=(OSError,)
    )
    load_case('load_model(device="foo")', base, "device", device="foo")
    load_case('load_model(device="cuda:99")', base, "cuda:99", device="cuda:99")
    # valid forgeries must load and score as stored

    def scores_as_stored(model):
        return _scores_ok(model.score_samples(frame), len(frame)) or (
            None
            if np.allclose(model.score_samples(frame), expected_scores)
            else "scores differ from the saved model's"
        )

    forged(
        'device_ = "cuda:9999" (loads on the CPU)',
        None,
        scores_as_stored,
        edit=_set("fitted", device_="cuda:9999"),
    )
    load_case("the untampered file", base, None, scores_as_stored)
    return cases


def measure_load(path):
    """In a fresh process: how far the peak RSS rises above the RSS before
    ``load_model(path)`` (Linux: the peak is reset first through
    ``/proc/self/clear_refs``; elsewhere ``ru_maxrss``, which only sees a rise
    above the peak of importing torch)."""
    code = """
import json, resource, sys, skae, torch
def status(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ":"))
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before, peak = status("VmRSS"), lambda: status("VmHWM")
except OSError:
    rusage = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before, peak = rusage(), rusage
try:
    skae.load_model(sys.argv[1])
    result = "loaded"
except ValueError as exc:
    result = type(exc).__name__
print(json.dumps([(peak() - before) / 1024, result]))
"""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
    )
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        return None, f"exit {out.returncode}: {_short(out.stderr)}", seconds
    delta, result = json.loads(out.stdout.strip().splitlines()[-1])
    return delta, result, seconds


# ------------------------------------------------------------ group 3: CLI


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(SKAE_ROOT), env.get("PYTHONPATH")) if p
    )
    return env


@dataclass
class CliCase:
    name: str
    args: list
    keyword: str | None  # None: must succeed (exit 0)
    check: object = None  # (stdout, stderr, seconds) -> problem or None
    warning: bool = False  # a "skae: warning:" line is documented here
    group: str = "CLI"
    isolate: bool = False


def run_cli(case, folder):
    start = time.perf_counter()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "skae", *case.args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=folder,
            env=_env(),
        )
    except subprocess.TimeoutExpired:
        return HANG, f"no answer within {TIMEOUT} s"
    seconds = time.perf_counter() - start
    # skae fit says on standard error what it trains on: progress, not a complaint
    lines = [
        line
        for line in out.stderr.splitlines()
        if line.strip() and not line.startswith("skae: training on ")
    ]
    problem = case.check(out.stdout, out.stderr, seconds) if case.check else None
    if "Traceback" in out.stderr:
        return OBSCURE, f"traceback: {_short(out.stderr[-300:])}"
    if case.keyword is None:
        if out.returncode != 0:
            return OBSCURE, f"valid input refused (exit {out.returncode}): {lines}"
        if lines:
            return OBSCURE, f"stderr not empty: {_short(lines)}"
        return (SILENT, problem) if problem else (ACCEPTED, _short(out.stdout, 80))
    if out.returncode == 0:
        return SILENT, f"exit 0 (expected an error naming {case.keyword!r})"
    if problem:
        return SILENT, problem
    errors = [line for line in lines if line.startswith("skae: error:")]
    warnings = [line for line in lines if line.startswith("skae: warning:")]
    allowed = 1 + (len(warnings) if case.warning else 0)
    detail = f"exit {out.returncode}: {_short(' | '.join(lines), 220)}"
    if out.returncode not in (1, 2) or len(errors) != 1 or len(lines) != allowed:
        return OBSCURE, detail
    if case.keyword.lower() not in errors[0].lower():
        return OBSCURE, f"message lacks {case.keyword!r}: {detail}"
    return CLEAR, detail


def _csv(path, text):
    Path(path).write_text(text)
    return str(path)


def _series_text(n=120, stamps=None, cells=None):
    t = np.arange(n)
    stamps = (
        pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M")
        if stamps is None
        else stamps
    )
    rows = ["timestamp,a,b"]
    for i in range(n):
        a, b = np.sin(t[i] / 5), np.cos(t[i] / 7)
        rows.append(f"{stamps[i]},{a:.6f},{b:.6f}")
    for (row, column), value in (cells or {}).items():
        parts = rows[row + 1].split(",")
        parts[column] = value
        rows[row + 1] = ",".join(parts)
    return "\n".join(rows) + "\n"


def cli_cases(folder):
    f = Path(folder)
    good = _csv(f / "good.csv", _series_text())
    X = pd.read_csv(good)[["a", "b"]]
    model = f / "model.skae"
    skae.save_model(tiny().fit(X), model)
    small = ["--window-size", "8", "--hidden-size", "4", "--max-epochs", "1"]
    fit = ["fit", good, "--model", "out.skae", *small, "--random-state", "0"]
    days = [f"0{d}/02/2024 {h:02d}:00" for d in (1, 2, 3) for h in range(24)]
    descending = list(reversed(_series_text().splitlines()[1:]))
    repeated = pd.date_range("2024-01-01", periods=120, freq="h").strftime(
        "%Y-%m-%d %H:%M"
    )
    repeated = list(repeated)
    repeated[50] = repeated[49]
    marker = f / "cli-pickle-ran.txt"
    evil = f / "evil.skae"
    evil.write_bytes(pickle.dumps(_Marker(str(marker))))
    model_dict = f / "dict.joblib"
    import joblib

    joblib.dump({"threshold_": 1.0}, model_dict)
    forged = forge(model, f / "threshold.skae", edit=_set("fitted", threshold_="abc"))
    (f / "latin1.csv").write_bytes("temp\xe9rature,a\n1,2\n3,4\n".encode("latin-1"))
    (f / "garbage.csv").write_bytes(bytes(range(256)) * 20)
    score_out = ["--out", "scores.csv"]

    def no_escape(stdout, stderr, seconds):
        return (
            "ANSI escape codes in piped output" if "\x1b[" in stdout + stderr else None
        )

    def scores_written(stdout, stderr, seconds):
        scores = pd.read_csv(f / "scores.csv")
        if len(scores) != 120 or not np.isfinite(scores["score"]).all():
            return f"scores.csv has {len(scores)} rows, or non-finite scores"
        return None

    def before_training(stdout, stderr, seconds):
        if "training" in stdout or seconds > 20:
            return f"failed only after training ({seconds:.1f} s)"
        return None

    def marker_absent(stdout, stderr, seconds):
        return "a pickle ran: the marker file exists" if marker.exists() else None

    return [
        CliCase("fit a valid CSV", fit, None),
        CliCase(
            "fit -v, output piped",
            [*fit[:3], "verbose.skae", *fit[4:], "-v"],
            None,
            no_escape,
        ),
        CliCase(
            "score a valid CSV",
            ["score", str(model), good, *score_out],
            None,
            scores_written,
        ),
        CliCase(
            "ambiguous day-first dates",
            ["fit", _csv(f / "days.csv", _series_text(72, days)), "--model", "m.skae"],
            "--dayfirst",
        ),
        CliCase(
            "descending timestamps",
            [
                "fit",
                _csv(f / "desc.csv", "timestamp,a,b\n" + "\n".join(descending)),
                "--model",
                "m.skae",
            ],
            "increasing order",
        ),
        CliCase(
            "duplicated timestamps",
            [
                "fit",
                _csv(f / "dup.csv", _series_text(stamps=repeated)),
                "--model",
                "m.skae",
            ],
            "repeats",
        ),
        CliCase(
            'a cell "oops"',
            [
                "fit",
                _csv(f / "oops.csv", _series_text(cells={(40, 1): "oops"})),
                "--model",
                "m.skae",
            ],
            "oops",
        ),
        CliCase(
            "an empty cell",
            [
                "score",
                str(model),
                _csv(f / "hole.csv", _series_text(cells={(40, 2): ""})),
                *score_out,
            ],
            "missing",
        ),
        CliCase(
            'a cell "inf"',
            [
                "fit",
                _csv(f / "inf.csv", _series_text(cells={(40, 2): "inf"})),
                "--model",
                "m.skae",
            ],
            "infinite",
        ),
        CliCase(
            "a cell 1e300 when scoring",
            [
                "score",
                str(model),
                _csv(f / "big.csv", _series_text(cells={(40, 1): "1e300"})),
                *score_out,
            ],
            "row 41",
        ),
        CliCase(
            "empty file",
            ["fit", _csv(f / "empty.csv", ""), "--model", "m.skae"],
            "empty",
        ),
        CliCase(
            "header only",
            ["fit", _csv(f / "header.csv", "timestamp,a,b\n"), "--model", "m.skae"],
            "no rows",
        ),
        CliCase(
            "no numeric column",
            [
                "fit",
                _csv(
                    f / "text.csv",
                    "timestamp,name\n"
                    + "".join(f"2024-01-01 {h:02d}:00,x{h}\n" for h in range(20)),
                ),
                "--model",
                "m.skae",
            ],
            "numeric",
        ),
        CliCase(
            "only timestamp and label columns",
            [
                "fit",
                _csv(
                    f / "label.csv",
                    "timestamp,anomaly\n"
                    + "".join(f"2024-01-01 {h:02d}:00,0\n" for h in range(20)),
                ),
                "--model",
                "m.skae",
            ],
            "numeric",
        ),
        CliCase(
            "binary garbage as the CSV",
            ["fit", str(f / "garbage.csv"), "--model", "m.skae"],
            "garbage.csv",
        ),
        CliCase(
            "a Latin-1 CSV",
            ["fit", str(f / "latin1.csv"), "--model", "m.skae"],
            "latin1.csv",
        ),
        CliCase(
            "series shorter than the window",
            [
                "fit",
                _csv(f / "short.csv", _series_text(5)),
                "--model",
                "m.skae",
                *small,
            ],
            "window_size",
        ),
        CliCase(
            "the series is a directory",
            ["fit", str(f), "--model", "m.skae"],
            "directory",
        ),
        CliCase(
            "the series is missing",
            ["fit", str(f / "nope.csv"), "--model", "m.skae"],
            "no such file",
        ),
        CliCase(
            "--columns names a missing column", [*fit, "--columns", "a,nope"], "nope"
        ),
        CliCase(
            "--timestamp-column names a missing column",
            [*fit, "--timestamp-column", "when"],
            "when",
        ),
        CliCase(
            "score: a model file that is a CSV",
            ["score", good, good, *score_out],
            "not a model file",
        ),
        CliCase(
            "score: a CSV named model.skae",
            ["score", _csv(f / "csv.skae", _series_text(10)), good, *score_out],
            ".skae",
        ),
        CliCase(
            "score: a code-running pickle named evil.skae",
            ["score", str(evil), good, *score_out],
            "evil.skae",
            marker_absent,
        ),
        CliCase(
            "score: a .joblib holding a dict",
            ["score", str(model_dict), good, *score_out],
            "dict",
            warning=True,
        ),
        CliCase(
            'score: a forged model (threshold_ "abc")',
            ["score", str(forged), good, *score_out],
            "threshold_",
        ),
        CliCase(
            "score: missing model file",
            ["score", str(f / "gone.skae"), good, *score_out],
            "no such model",
        ),
        CliCase(
            "score: CSV without column b",
            [
                "score",
                str(model),
                _csv(f / "onlya.csv", "a\n" + "1.0\n" * 20),
                *score_out,
            ],
            "'b'",
        ),
        CliCase(
            "score: --out in a missing folder",
            ["score", str(model), good, "--out", "/missing/dir/s.csv"],
            "no folder",
        ),
        CliCase(
            "fit --model /missing/dir/m.skae",
            ["fit", good, "--model", "/missing/dir/m.skae", *small],
            "no folder",
            before_training,
        ),
        CliCase("fit --model m.txt", ["fit", good, "--model", "m.txt"], "--model"),
        CliCase("fit --device foo", [*fit, "--device", "foo"], "device"),
        CliCase("fit --device cuda:99", [*fit, "--device", "cuda:99"], "cuda"),
        CliCase("fit --window-size 0", [*fit, "--window-size", "0"], "--window-size"),
        CliCase(
            "fit --window-size abc", [*fit, "--window-size", "abc"], "--window-size"
        ),
        CliCase(
            "fit --contamination 2", [*fit, "--contamination", "2"], "--contamination"
        ),
        CliCase(
            "fit --train-size 100000", [*fit, "--train-size", "100000"], "--train-size"
        ),
        CliCase(
            "fit --hidden-size 100000", [*fit, "--hidden-size", "100000"], "hidden"
        ),
        CliCase(
            "fit --window-size 100000", [*fit, "--window-size", "100000"], "window"
        ),
        CliCase("demo --bogus", ["demo", "--bogus"], "--bogus"),
        CliCase("no command", [], "required"),
    ]


# ------------------------------------------------------------------ driver


def build(group, folder, memory):
    if group == "detector":
        return detector_cases()
    if group == "model file":
        return model_file_cases(folder, memory)
    return cli_cases(folder)


def run_isolated(case):
    start = time.perf_counter()
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--one", case.name],
            capture_output=True,
            text=True,
            timeout=TIMEOUT + 30,  # the child's own alarm fires first
            env=_env(),
        )
    except subprocess.TimeoutExpired:
        return HANG, f"no answer within {TIMEOUT} s (process killed)"
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        return OBSCURE, (
            f"process died (exit {out.returncode}) after "
            f"{time.perf_counter() - start:.0f} s: {_short(out.stderr[-300:])}"
        )
    return tuple(json.loads(lines[-1]))


def _since(start):
    return f"{time.perf_counter() - start:.0f} s"


def _in_subprocess(item):
    case, folder = item
    return run_cli(case, folder) if isinstance(case, CliCase) else run_isolated(case)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", choices=GROUPS, action="append")
    parser.add_argument("--all", action="store_true", help="list every case")
    parser.add_argument(
        "--jobs", type=int, default=2, help="subprocess cases run at once (2)"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.one:  # a child running one isolated detector case
        case = next(c for c in detector_cases() if c.name == args.one)
        print(json.dumps(classify(case)))
        return
    print(
        f"torch threads: {torch.get_num_threads()}; skae {skae.__version__}, "
        f"torch {torch.__version__}, numpy {np.__version__}, pandas {pd.__version__}"
    )
    start = time.perf_counter()
    cases, memory = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for group in args.group or GROUPS:
            folder = Path(tmp) / group.replace(" ", "-")
            folder.mkdir()
            cases += [(case, folder) for case in build(group, folder, memory)]
        # in this process one at a time (the alarm), then the subprocesses
        outcomes = {
            i: classify(case)
            for i, (case, _) in enumerate(cases)
            if isinstance(case, Case) and not case.isolate
        }
        print(f"{len(outcomes)} cases in this process: {_since(start)}", flush=True)
        rest = [i for i in range(len(cases)) if i not in outcomes]
        with ThreadPoolExecutor(args.jobs) as pool:
            done = pool.map(_in_subprocess, [cases[i] for i in rest])
            outcomes.update(zip(rest, done, strict=True))
        print(f"{len(rest)} cases in subprocesses: {_since(start)}", flush=True)
        results = [(case, *outcomes[i]) for i, (case, _) in enumerate(cases)]
        measured = {
            name: (*measure_load(path), declared)
            for name, (path, declared) in memory.items()
        }
    report(results, measured, args.all, time.perf_counter() - start)


def _bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def report(results, measured, every, seconds):
    print()
    print(
        "| group | inputs tried | clear errors | accepted (correct output) "
        "| obscure errors | silent wrong outputs | hangs |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    groups = [g for g in GROUPS if any(r[0].group == g for r in results)]
    for label, rows in [
        (g, [r for r in results if r[0].group == g]) for g in groups
    ] + [("**total**", results)]:
        counts = [sum(r[1] == c for r in rows) for c in CLASSES]
        print(f"| {label} | {len(rows)} | " + " | ".join(map(str, counts)) + " |")
    if measured:
        print(
            "\nPeak memory of load_model (growth of the peak RSS of a fresh process):\n"
        )
        print("| file | weights it declares | peak RSS growth | result | time |")
        print("|---|---:|---:|---|---:|")
        for name, (delta, result, secs, declared) in measured.items():
            size = "?" if delta is None else f"{delta:.1f} MiB"
            print(f"| {name} | {_bytes(declared)} | {size} | {result} | {secs:.1f} s |")
    shown = [r for r in results if every or r[1] not in (CLEAR, ACCEPTED)]
    print(
        f"\n{'Every case' if every else 'Cases neither a clear error nor accepted'}: "
        f"{len(shown)}"
    )
    for case, outcome, detail in shown:
        print(f"- [{case.group}] {case.name}: {outcome.upper()}: {detail}")
    print(f"\nrun time: {seconds:.0f} s")


if __name__ == "__main__":
    main()
