"""Safe model files: parameters and fitted values as JSON, weights as safetensors.

``joblib``/``pickle`` files run code when they are loaded, so they must only be
loaded from trusted sources. A skae model file cannot: it is a zip archive with
exactly two members, stored uncompressed,

- ``skae.json``: the format and its version, the skae and torch versions, the
  detector's parameters, its fitted attributes (arrays as typed lists), the
  training history, and SHA-256 digests of the weights and of the JSON content;
- ``weights.safetensors``: the network's ``state_dict`` in the safetensors format
  (raw tensors and a JSON header, no code).

Loading reads nothing but a regular file of at most :data:`MAX_FILE_BYTES`, parses
JSON and safetensors only, never pickle, and checks both digests.
The digests catch truncation, corruption and edits that did not recompute them;
they are not a signature (anyone can write a new, consistent file). So every field
is then checked as if the file were hostile: each parameter and each fitted
attribute (:data:`_FITTED`, one line per attribute) for its type, shape, range and
consistency, and the weights' names, shapes and dtypes against the network the
parameters describe, all before a network is allocated. A forged file is refused
with a ``ValueError`` naming the field, or scores exactly as its stored weights say.
"""

import hashlib
import json
import math
import os
import re
import stat
import tempfile
import warnings
import zipfile
from numbers import Integral
from typing import NamedTuple

import numpy as np

from ._detector import LSTMAutoencoderDetector
from ._scaling import _CONSTANT_RELATIVE_STD, MAX_SCALED_MAGNITUDE
from ._validation import check_is_fitted

FORMAT = "skae-model"
FORMAT_VERSION = 1
_JSON_NAME = "skae.json"
_WEIGHTS_NAME = "weights.safetensors"
_ARRAY_TAG = "__ndarray__"
_FLOAT_TAG = "__float__"
_ARRAY_KINDS = "biufU"
_FITTED_NAME = re.compile(r"^[a-z][a-z0-9_]*_$")
# fitted attributes held by the network rather than by the JSON
_NET_ATTRIBUTES = ("net_", "history_")
# torch devices a file may name (never "meta" and the like)
_DEVICE = re.compile(r"cpu|mps|cuda(:[0-9]{1,4})?")
# integer parameters beyond int64 are absurd; more threads than this crash torch
_MAX_INT, _MAX_THREADS = 2**63 - 1, 1024
_MAX_STRING_ARRAY_BYTES = 2**24
MAX_FILE_BYTES = 2**33
"""The largest model file, in bytes, that :func:`load_model` reads and
:func:`save_model` writes: 8 GiB, twice the weights of the largest network skae
builds (2**30 float32 values). A larger file, or one that is not a regular file
(a link to ``/dev/zero``, a pipe), is refused before anything is read from it."""
# zip general-purpose flags a skae file may carry: a data descriptor after a
# member, UTF-8 names; never encryption (bit 0) or patched data
_ZIP_FLAGS = 0x08 | 0x800
_ZIP_ENCRYPTED = 0x01


class _Field(NamedTuple):
    """What one fitted attribute may hold; see :data:`_FITTED`."""

    kind: str  # a key of _KINDS
    shape: tuple = ()  # arrays: "F" is n_features_in_, None any length >= 1
    # (test(value, detector) -> bool(s), what it demands: text or text(detector))
    rule: tuple = None
    required: object = True  # or a test(detector, names in the file) -> bool


_KINDS = {  # kind: (test of the decoded value, what it must be)
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "float": (lambda v: isinstance(v, float) and math.isfinite(v), "a finite float"),
    "floats": (
        lambda v: (
            isinstance(v, np.ndarray)
            and v.dtype.kind == "f"
            and v.dtype.itemsize == 8
            and bool(np.isfinite(v).all())
        ),
        "a finite float64 array",
    ),
    "ints": (
        lambda v: isinstance(v, np.ndarray) and v.dtype.kind == "i",
        "an integer array",
    ),
    "bools": (
        lambda v: isinstance(v, np.ndarray) and v.dtype.kind == "b",
        "a boolean array",
    ),
    "names": (
        lambda v: isinstance(v, np.ndarray) and v.dtype == object,
        "an array of strings",
    ),
    "indices": (
        lambda v: (
            v is None
            or isinstance(v, list)
            and all(type(i) is int for i in v)
            and v == sorted(set(v))
        ),
        "None or a list of increasing feature indices",
    ),
    "device": (
        lambda v: isinstance(v, str) and _DEVICE.fullmatch(v) is not None,
        "a torch device: 'cpu', 'cuda', 'cuda:N' or 'mps'",
    ),
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "info": (
        lambda v: (
            isinstance(v, dict)
            and len(v) <= 32
            and all(
                isinstance(x, str) or isinstance(x, (int, float)) and math.isfinite(x)
                for x in v.values()
            )
        ),
        "a small dict of finite numbers and strings",
    ),
}
_GAUSSIAN = {"error_mean_", "error_covariance_", "error_precision_"}


def _gaussian(detector, names):
    # the three come together, and anomaly_score="mahalanobis" scores with them
    anomaly_score = getattr(detector, "anomaly_score_", detector.anomaly_score)
    return anomaly_score == "mahalanobis" or bool(_GAUSSIAN & names)


def _flatline_check(detector, names):
    # the reference and its weight come together
    return bool({"flatline_reference_", "flatline_weight_"} & names)


def _close(value, expected):
    return math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-300)


# rules: (test(value, detector) -> bool or bool array, what it demands)
_AT_LEAST_1 = (lambda v, d: v >= 1, "must be >= 1")
_NON_NEGATIVE = (lambda v, d: v >= 0, "must be >= 0")
_POSITIVE = (lambda v, d: v > 0, "must be > 0")
_OFFSET = (lambda v, d: v == -d.threshold_, "must be -threshold_")
_STRIDE = (
    lambda v, d: 1 <= v <= getattr(d, "window_size_", d.window_size),
    "must be in [1, window_size]",
)


def _one_of(*choices):
    return (lambda v, d: v in choices, f"must be one of {choices}")


_INDICES = (
    lambda v, d: all(0 <= i < d.n_features_in_ for i in v or ()),
    "must be feature indices below n_features_in_",
)


def _statistic_of_errors(statistic, what):
    # after partial_fit, mu and sigma are weighted over every error seen
    # (heldout_weight_ their total weight), and heldout_errors_ holds only the
    # most recent errors
    return (
        lambda v, d: (
            v >= 0
            if hasattr(d, "heldout_weight_")
            else _close(v, statistic(d.heldout_errors_))
        ),
        f"must be the {what} of heldout_errors_ (>= 0 after partial_fit)",
    )


def _scale_fits_mean(scale, detector):
    if detector.standardize is False:  # fit_scaling leaves the data as they are
        return (scale == 1) & (detector.mean_ == 0)
    # fit_scaling treats a feature that varies less than this as constant, and
    # then divides by at least as much
    return (scale > 0) & (scale >= _CONSTANT_RELATIVE_STD * np.abs(detector.mean_))


_SCALE = (
    _scale_fits_mean,
    lambda d: (
        "must be 1, with mean_ 0, when standardize=False"
        if d.standardize is False
        else f"must be > 0 and at least {_CONSTANT_RELATIVE_STD:.3g} * |mean_| "
        "(fit divides a feature that varies less by that much; mean_ is "
        f"{_short(d.mean_)})"
    ),
)
_FEATURE_OR_NONE = (
    lambda v, d: (v >= -1) & (v < d.n_features_in_),
    "must be feature numbers below n_features_in_, or -1 for none",
)
_MEAN = _statistic_of_errors(np.mean, "mean")
_STD = _statistic_of_errors(np.std, "standard deviation")
_PRECISION = (
    lambda v, d: np.array_equal(v, v.T) and np.linalg.eigvalsh(v).min() > 0,
    "must be symmetric positive definite",
)

# Every fitted attribute a model file may hold, one line each, checked in this
# order (a rule may use the attributes above it): kind, shape, rule, required. An
# attribute that ``fit`` starts to set needs a line here: save_model refuses to
# write, and load_model to read, any other.
_FITTED = {
    "n_features_in_": _Field("int", rule=_AT_LEAST_1),
    "threshold_": _Field("float", rule=_NON_NEGATIVE),
    "offset_": _Field("float", rule=_OFFSET),
    "mean_": _Field("floats", ("F",)),
    "scale_": _Field("floats", ("F",), _SCALE),
    "device_": _Field("device"),
    # fixed at fit since skae 0.2 (older files score with the parameters)
    "window_size_": _Field("int", rule=_AT_LEAST_1, required=False),
    "score_smoothing_": _Field("int", rule=_NON_NEGATIVE, required=False),
    "anomaly_score_": _Field(
        "str", rule=_one_of("squared_error", "mahalanobis"), required=False
    ),
    "threshold_info_": _Field("info", required=False),
    "score_stride_": _Field("int", rule=_STRIDE),
    "centered_features_": _Field("indices", rule=_INDICES),
    "heldout_errors_": _Field("floats", (None,), _NON_NEGATIVE),
    # causal scores and partial_fit (issue 16); absent from older files
    "causal_": _Field("bool", required=False),
    "heldout_weight_": _Field("float", rule=_POSITIVE, required=False),
    "n_partial_fits_": _Field("int", rule=_NON_NEGATIVE, required=False),
    "heldout_mean_": _Field("float", rule=_MEAN),
    "heldout_std_": _Field("float", rule=_STD),
    "feature_names_in_": _Field("names", ("F",), required=False),
    "error_mean_": _Field("floats", ("F",), _NON_NEGATIVE, required=_gaussian),
    "error_covariance_": _Field("floats", ("F", "F"), required=_gaussian),
    "error_precision_": _Field("floats", ("F", "F"), _PRECISION, required=_gaussian),
    # detect_flatlines (issue 15); absent from older files
    "flatline_reference_": _Field(
        "floats", ("F",), _NON_NEGATIVE, required=_flatline_check
    ),
    "flatline_weight_": _Field("float", rule=_NON_NEGATIVE, required=_flatline_check),
    # a StreamingScorer's state (StreamingScorer.save); load_model drops it
    "stream_info_": _Field("info", required=False),
    "stream_rows_": _Field("floats", (None, "F"), required=False),
    "stream_errors_": _Field("floats", (None,), _NON_NEGATIVE, required=False),
    "stream_recent_errors_": _Field("floats", (None,), _NON_NEGATIVE, required=False),
    "stream_thresholds_": _Field("floats", (None,), required=False),
    # the stream's open event (its rows' flags, scores and contributions) and
    # the events closed but not taken (StreamingScorer.take_events)
    "stream_open_flags_": _Field("bools", (None,), required=False),
    "stream_open_scores_": _Field("floats", (None,), _NON_NEGATIVE, required=False),
    "stream_open_contributions_": _Field("floats", (None, "F"), required=False),
    # start, end, n_flagged, peak; peak_score, mean_score; features by column
    # number, -1 after the last listed
    "stream_closed_events_": _Field("ints", (None, 4), _NON_NEGATIVE, required=False),
    "stream_closed_scores_": _Field("floats", (None, 2), _NON_NEGATIVE, required=False),
    "stream_closed_features_": _Field(
        "ints", (None, None), _FEATURE_OR_NONE, required=False
    ),
}
_STREAM_STATE = (
    "stream_info_",
    "stream_rows_",
    "stream_errors_",
    "stream_recent_errors_",
    "stream_thresholds_",
    "stream_open_flags_",
    "stream_open_scores_",
    "stream_open_contributions_",
    "stream_closed_events_",
    "stream_closed_scores_",
    "stream_closed_features_",
)
# parameters added after the format's first version: older files get the default
_LATER_PARAMS = {"causal": False, "forget_half_life": None, "detect_flatlines": False}


def save_model(detector, path):
    """Write a fitted detector to a safe model file that loads without pickle.

    Parameters
    ----------
    detector : LSTMAutoencoderDetector or StreamingScorer
        A fitted detector (on its own, not inside a Pipeline: save the other
        steps separately, or use joblib with trusted files), or a
        :class:`StreamingScorer`, whose detector is saved with the scorer's
        state (read it back with :meth:`StreamingScorer.load`).
    path : str or os.PathLike
        Where to write; ``.skae`` is a good suffix. The file is written to a
        temporary name first and then renamed, so a crash never leaves half a
        file under ``path``.

    Raises
    ------
    TypeError
        When ``detector`` is not an ``LSTMAutoencoderDetector``, or one of its
        parameters or fitted attributes cannot be stored as JSON, or it has a
        fitted attribute (a name ending in ``_``) that the format does not know.
    ValueError
        When the file would be larger than ``MAX_FILE_BYTES`` (8 GiB), which
        :func:`load_model` refuses to read.

    See Also
    --------
    load_model : read the file back.

    Notes
    -----
    A ``random_state`` given as a ``RandomState`` instance cannot be stored; it is
    saved as ``None`` with a warning (it only matters for fitting again).

    Examples
    --------
    >>> import numpy as np
    >>> import skae
    >>> X = np.sin(np.arange(300) / 5).reshape(-1, 1)
    >>> detector = skae.LSTMAutoencoderDetector(
    ...     window_size=8, hidden_size=4, max_epochs=2, random_state=0
    ... ).fit(X)
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skae")
    >>> skae.save_model(detector, path)
    >>> restored = skae.load_model(path)
    >>> bool(np.array_equal(restored.score_samples(X), detector.score_samples(X)))
    True
    """
    from safetensors.torch import save as save_tensors

    from ._streaming import StreamingScorer

    stream_state = {}
    if isinstance(detector, StreamingScorer):
        stream_state = detector._state()
        detector = detector.detector
    if not isinstance(detector, LSTMAutoencoderDetector):
        raise TypeError(
            "save_model writes an LSTMAutoencoderDetector, got "
            f"{type(detector).__name__}."
        )
    check_is_fitted(detector)
    fitted = {
        name: value
        for name, value in vars(detector).items()
        if _FITTED_NAME.match(name) and name not in _NET_ATTRIBUTES
    }
    fitted.update(stream_state)
    unknown = sorted(set(fitted) - set(_FITTED))
    if unknown:
        raise TypeError(
            f"Cannot store the fitted attributes {unknown}: the model format does "
            "not know them (each needs a line in skae._persistence._FITTED)."
        )
    weights = save_tensors(
        {
            name: tensor.detach().cpu().contiguous()
            for name, tensor in detector.net_.module_.state_dict().items()
        }
    )
    model = {
        "class": type(detector).__name__,
        "versions": _versions(),
        "params": _encode_params(detector),
        "fitted": {name: _encode(value, name) for name, value in fitted.items()},
        "history": _encode(list(detector.history_), "history_"),
        "weights": {"file": _WEIGHTS_NAME, "sha256": _sha256(weights)},
    }
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_sha256": _sha256(_canonical(model)),
        "model": model,
    }
    members = {_JSON_NAME: _canonical(document), _WEIGHTS_NAME: weights}
    size = sum(len(data) for data in members.values())
    if size > MAX_FILE_BYTES:
        raise ValueError(
            f"Cannot save this detector: its file would hold more than {size:,} "
            f"bytes, beyond the {MAX_FILE_BYTES:,} that load_model reads "
            "(skae._persistence.MAX_FILE_BYTES)."
        )
    _write_zip(path, members)


def load_model(path, *, device=None):
    """Read a detector written by :func:`save_model`, without unpickling anything.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    device : str, default=None
        Torch device to score on: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
        ``"mps"``. ``None`` uses the device the model was trained on when it is
        available here and the CPU otherwise (so a model trained on a GPU loads on
        a CPU-only machine); ``"auto"`` uses a GPU when there is one.

    Returns
    -------
    detector : LSTMAutoencoderDetector
        The fitted detector, scoring exactly as the saved one did on the same
        device.

    Raises
    ------
    ValueError
        When the file is not a regular file (a device such as ``/dev/zero``, a
        pipe) or holds more than ``skae._persistence.MAX_FILE_BYTES`` bytes
        (8 GiB), both refused before anything is read; when it is not a skae
        model file, is truncated or corrupted, uses zip features that a skae
        file never uses (encryption, a newer zip version), was modified after
        saving (a digest does not match), was written by a newer format
        version, or holds a parameter, a fitted attribute or weights that
        no ``fit`` could have produced: of the wrong type, shape or range,
        inconsistent with each other (``offset_ != -threshold_``, a ``scale_``
        smaller than ``fit`` ever divides by next to ``mean_``), unknown, or
        weights that do not fit the parameters or are so large that scores
        would overflow. The message names the field.
        Everything is checked before a network is allocated, so the network
        allocated is never larger than the weights the file holds.

    See Also
    --------
    save_model : write the file.

    Notes
    -----
    The digests detect corruption, not a forger: anyone can write a consistent
    file. A forged file that passes the checks scores exactly as its stored
    weights and fitted values say; loading any file never runs code. A file
    written from a :class:`StreamingScorer` loads as its detector here.
    """
    detector, _ = _load_model_and_state(path, device)
    return detector


def _load_model_and_state(path, device):
    """Return the detector of a model file and the stream state it holds
    (``{}`` when none), popped off the detector."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors
    from skorch.history import History

    from . import _net, _training

    path = os.fspath(path)
    members = _read_zip(path)
    try:
        document = json.loads(
            members[_JSON_NAME].decode("utf-8"),
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: {_JSON_NAME} is not valid JSON ({exc}).") from exc
    try:
        model = _check_document(document, path)
        detector = _rebuild_detector(model, path)
        history = _decode(model["history"], "history")
        if not all(isinstance(epoch, dict) and _plain(epoch, 3) for epoch in history):
            raise ValueError(
                f"{path}: the training history must be a list of dicts of numbers "
                "and strings (and lists of such dicts)."
            )
    except RecursionError as exc:
        raise ValueError(f"{path}: {_JSON_NAME} is nested too deeply.") from exc
    target = _target_device(detector.device_, device, _net)

    weights = members[_WEIGHTS_NAME]
    if _sha256(weights) != model["weights"].get("sha256"):
        raise ValueError(
            f"{path}: {_WEIGHTS_NAME} does not match the SHA-256 recorded in "
            f"{_JSON_NAME}: the weights were modified or corrupted after saving."
        )
    try:  # allocates what the file holds, no more
        state_dict = load_tensors(weights)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path}: cannot read {_WEIGHTS_NAME} ({exc}).") from exc
    problem = _weights_problem(state_dict, detector)
    if problem:
        raise ValueError(
            f"{path}: the weights do not fit the parameters (n_features_in_="
            f"{detector.n_features_in_}, hidden_size={detector.hidden_size}, "
            f"num_layers={detector.num_layers}, decoder_feed="
            f"{detector.decoder_feed!r}): {problem}."
        )
    problem = _reach_problem(state_dict, detector.num_layers)
    if problem:
        raise ValueError(f"{path}: {_WEIGHTS_NAME} holds absurd weights: {problem}.")
    detector.net_ = _rebuild_net(detector, state_dict, target, _training)
    detector.net_.history = History(history)
    detector.history_ = detector.net_.history
    state = {n: detector.__dict__.pop(n) for n in _STREAM_STATE if n in vars(detector)}
    return detector, state


# ------------------------------------------------------------------- writing


def _versions():
    import torch

    from ._version import __version__

    return {"skae": __version__, "torch": torch.__version__, "numpy": np.__version__}


def _encode_params(detector):
    params = detector.get_params(deep=False)
    random_state = params.get("random_state")
    if random_state is not None and not isinstance(random_state, Integral):
        warnings.warn(
            "random_state is a RandomState instance, which a model file cannot "
            "store; it is saved as None (it only matters for fitting again).",
            UserWarning,
        )
        params["random_state"] = None
    return {name: _encode(value, name) for name, value in params.items()}


def _encode(value, name):
    """Return a JSON-ready form of ``value``; arrays and non-finite floats tagged."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, (bool, str)):
            return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, float):
        return value if np.isfinite(value) else {_FLOAT_TAG: repr(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O" and all(isinstance(v, str) for v in value.flat):
            dtype = "object"
        elif value.dtype.kind in _ARRAY_KINDS:
            dtype = value.dtype.str
        else:
            raise TypeError(f"Cannot store {name} as JSON: array of {value.dtype}.")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise TypeError(f"Cannot store {name}: it holds NaN or infinity.")
        return {_ARRAY_TAG: value.tolist(), "dtype": dtype, "shape": value.shape}
    if isinstance(value, (list, tuple)):
        return [_encode(v, name) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _encode(v, f"{name}[{k!r}]") for k, v in value.items()}
    raise TypeError(
        f"Cannot store {name} as JSON: {type(value).__name__} is not a number, "
        "string, array, list or dict."
    )


def _canonical(obj):
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _write_zip(path, members):
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".skae-", suffix=".tmp", dir=directory)
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED) as archive,
        ):
            for name, data in members.items():
                archive.writestr(name, data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ------------------------------------------------------------------- reading


def _open_model_file(path):
    """Open ``path`` for reading if it is a regular file of at most
    :data:`MAX_FILE_BYTES`; a ValueError saying why not, before any read."""
    try:
        mode = os.stat(path).st_mode  # follows links, and opens nothing
    except (FileNotFoundError, PermissionError):
        raise
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the model file ({exc}).") from exc
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "Is a directory", path)
    if not stat.S_ISREG(mode):
        raise ValueError(
            f"{path} is not a regular file (it is {_file_kind(mode)}); a skae model "
            "file is a regular file, read only up to its end."
        )
    stream = open(path, "rb")  # noqa: SIM115 - closed by the caller
    size = os.fstat(stream.fileno()).st_size  # the file opened, not a swapped link
    if size > MAX_FILE_BYTES:
        stream.close()
        raise ValueError(
            f"{path} holds {size:,} bytes, more than the {MAX_FILE_BYTES:,} a skae "
            "model file may hold (skae._persistence.MAX_FILE_BYTES)."
        )
    return stream, size


def _file_kind(mode):
    for test, kind in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _read_zip(path):
    """Return ``{name: bytes}`` of the two members, or a ValueError saying why not.

    Nothing beyond the file's size (at most :data:`MAX_FILE_BYTES`) is read."""
    expected = {_JSON_NAME, _WEIGHTS_NAME}
    stream, size = _open_model_file(path)
    try:
        with stream, zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if sorted(names) != sorted(expected):
                raise ValueError(
                    f"{path} is not a skae model file: it holds {sorted(names)}, "
                    f"while a skae model file holds exactly {sorted(expected)}. "
                    "(skae never loads pickle or torch.save files with load_model; "
                    "joblib.load runs code and is only for trusted files.)"
                )
            for info in infos:
                problem = _member_problem(info)
                if problem:
                    raise ValueError(
                        f"{path}: member {info.filename} {problem}; skae model "
                        "files store their members as plain, uncompressed zip "
                        "entries."
                    )
            if sum(info.compress_size for info in infos) > size:
                raise ValueError(
                    f"{path}: its members claim more bytes than the file's {size:,}: "
                    "it is truncated or corrupted."
                )
            return {info.filename: archive.read(info) for info in infos}
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        # a truncated archive fails to parse, or to seek or read past its end
        raise ValueError(
            f"{path} is not a skae model file, or it is truncated or corrupted ({exc})."
        ) from exc
    except RuntimeError as exc:
        # zipfile's RuntimeError and NotImplementedError: a zip feature such as a
        # newer zip version, which no skae model file uses
        raise ValueError(
            f"{path} is not a skae model file: it uses a zip feature that skae "
            f"model files never use ({exc})."
        ) from exc


def _member_problem(info):
    """What a zip entry uses that a skae file never does, or None."""
    if info.flag_bits & _ZIP_ENCRYPTED:
        return "is encrypted"
    if info.flag_bits & ~_ZIP_FLAGS:
        return f"sets the zip flags {info.flag_bits:#06x}"
    if info.compress_type != zipfile.ZIP_STORED:
        return "is compressed"
    return None


def _refuse_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _check_document(document, path):
    """Check the format, its version and the content digest; return the model."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a skae model file (no '{FORMAT}' format).")
    version = document.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{path}: invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {version}, newer than the version "
            f"{FORMAT_VERSION} this skae reads; upgrade skae to load it."
        )
    model = document.get("model")
    if not isinstance(model, dict) or _sha256(_canonical(model)) != document.get(
        "model_sha256"
    ):
        raise ValueError(
            f"{path}: the content of {_JSON_NAME} does not match its SHA-256: the "
            "file was modified or corrupted after saving."
        )
    for key, kind in (
        ("class", str),
        ("params", dict),
        ("fitted", dict),
        ("history", list),
        ("weights", dict),
    ):
        if not isinstance(model.get(key), kind):
            raise ValueError(f"{path}: {_JSON_NAME} lacks a valid '{key}' entry.")
    if model["class"] != LSTMAutoencoderDetector.__name__:
        raise ValueError(
            f"{path} holds a {model['class']!r}; this skae loads "
            f"{LSTMAutoencoderDetector.__name__} files."
        )
    return model


def _decode(value, name):
    """Inverse of :func:`_encode`, accepting nothing but the tagged forms."""
    if isinstance(value, list):
        return [_decode(v, name) for v in value]
    if not isinstance(value, dict):
        return value
    if _ARRAY_TAG in value:
        return _decode_array(value, name)
    if _FLOAT_TAG in value:
        text = value[_FLOAT_TAG]
        if set(value) != {_FLOAT_TAG} or text not in ("inf", "-inf", "nan"):
            raise ValueError(f"{name}: malformed float entry {value!r}.")
        return float(text)
    return {k: _decode(v, f"{name}[{k!r}]") for k, v in value.items()}


def _decode_array(value, name):
    if set(value) != {_ARRAY_TAG, "dtype", "shape"} or not isinstance(
        value[_ARRAY_TAG], list
    ):
        raise ValueError(f"{name}: malformed array entry.")
    dtype, shape = value["dtype"], value["shape"]
    try:
        if dtype == "object":
            array = np.empty(len(value[_ARRAY_TAG]), dtype=object)
            array[:] = value[_ARRAY_TAG]
            if not all(isinstance(v, str) for v in array):
                raise ValueError("object arrays may only hold strings")
        else:
            if not isinstance(dtype, str) or np.dtype(dtype).kind not in _ARRAY_KINDS:
                raise ValueError(f"dtype {dtype!r} is not allowed")
            if np.dtype(dtype).kind == "U":  # a wide one must not multiply the JSON
                size = np.array(value[_ARRAY_TAG], dtype=object).size
                if size * np.dtype(dtype).itemsize > _MAX_STRING_ARRAY_BYTES:
                    raise ValueError(f"dtype {dtype!r} is too wide for {size} items")
            with np.errstate(over="ignore"):  # an overflow to inf is refused later
                array = np.array(value[_ARRAY_TAG], dtype=np.dtype(dtype))
        array = array.reshape(shape)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{name}: malformed array entry ({exc}).") from exc
    return array


def _short(value):
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _plain(value, depth):
    """Whether ``value`` is a scalar, or lists and dicts of them ``depth`` deep."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if depth == 0:
        return False
    if isinstance(value, list):
        return all(_plain(v, depth - 1) for v in value)
    return isinstance(value, dict) and all(
        isinstance(k, str) and _plain(v, depth - 1) for k, v in value.items()
    )


def _flat_features(value):
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.ndim == 1 else None
    return isinstance(value, list) and all(
        isinstance(v, str) or type(v) is int for v in value
    )


# rules beyond the detector's _parameter_constraints
_PARAMS = {
    "device": (
        lambda v: v == "auto" or _DEVICE.fullmatch(v) is not None,
        "must be 'auto' or a torch device: 'cpu', 'cuda', 'cuda:N' or 'mps'",
    ),
    "n_threads": (
        lambda v: v is None or v == "auto" or v <= _MAX_THREADS,
        f"must be None, 'auto' or at most {_MAX_THREADS}",
    ),
    "centered_features": (
        lambda v: v is None or _flat_features(v),
        "must be None or a flat list of feature indices or names",
    ),
}


def _param_problem(name, value):
    """What a valid parameter value still fails (a bool for an int...), or None."""
    constraints = LSTMAutoencoderDetector._parameter_constraints.get(name, ())
    if isinstance(value, bool):
        takes_bool = any(c in ("boolean", "verbose") for c in constraints)
        return None if takes_bool else "must not be a bool"
    if isinstance(value, int) and abs(value) > _MAX_INT:
        return "is out of range"
    test, demand = _PARAMS.get(name, (None, None))
    return None if test is None or test(value) else demand


def _decoded(value, name, path):
    try:
        return _decode(value, name)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _refuse_unknown(names, known, what, path, or_else=""):
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(
            f"{path} has {what} {unknown} that this skae does not know; it was "
            f"written by a newer skae{or_else}."
        )


def _rebuild_detector(model, path):
    """Return the detector of the checked parameters and fitted attributes."""
    known = LSTMAutoencoderDetector().get_params(deep=False)
    params = {k: _decoded(v, k, path) for k, v in model["params"].items()}
    _refuse_unknown(params, known, "parameters", path)
    for name, default in _LATER_PARAMS.items():
        params.setdefault(name, default)
    missing = sorted(set(known) - set(params))
    if missing:
        raise ValueError(f"{path}: {_JSON_NAME} lacks the parameters {missing}.")
    detector = LSTMAutoencoderDetector(**params)
    try:
        detector._validate_params()
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    for name, value in params.items():
        problem = _param_problem(name, value)
        if problem:
            got = _short(value)
            raise ValueError(f"{path}: parameter {name} {problem}, got {got}.")
    _check_fitted(detector, model["fitted"], path)
    return detector


def _check_fitted(detector, fitted, path):
    """Set the fitted attributes on ``detector``, each checked by its _FITTED line."""
    _refuse_unknown(fitted, _FITTED, "fitted attributes", path, ", or not by skae")
    for name, field in _FITTED.items():
        required = field.required
        if callable(required):
            required = required(detector, set(fitted))
        if name not in fitted:
            if required:
                raise ValueError(f"{path}: {_JSON_NAME} lacks the fitted {name}.")
            continue
        value = _decoded(fitted[name], name, path)
        test, kind = _KINDS[field.kind]
        shape = tuple(detector.n_features_in_ if n == "F" else n for n in field.shape)
        if not test(value) or shape and not _has_shape(value, shape):
            shape_text = f" of shape {shape}".replace("None", "n") if shape else ""
            raise ValueError(
                f"{path}: fitted {name} must be {kind}{shape_text}, got "
                f"{_short(value)}."
            )
        if field.kind in ("floats", "ints"):  # native byte order, 64 bits
            value = value.astype(np.float64 if field.kind == "floats" else np.int64)
        if field.rule and not np.all(field.rule[0](value, detector)):
            demand = field.rule[1]
            demand = demand(detector) if callable(demand) else demand
            raise ValueError(f"{path}: fitted {name} {demand}, got {_short(value)}.")
        setattr(detector, name, value)


def _has_shape(array, shape):
    """Whether ``array`` has ``shape``, where None is any size of at least 1."""
    return array.ndim == len(shape) and all(
        size >= 1 if n is None else size == n
        for n, size in zip(shape, array.shape, strict=True)
    )


def _state_dict_shapes(n_features, hidden, n_layers, decoder_feed, centered):
    """The shapes of LSTMAutoencoder's state_dict, derived without building it."""
    shapes = {}
    decoder_input = hidden if decoder_feed == "repeat" else 1
    for lstm, n_input in (("encoder", n_features), ("decoder", decoder_input)):
        for layer in range(n_layers):
            shapes[f"{lstm}.weight_ih_l{layer}"] = (4 * hidden, n_input)
            shapes[f"{lstm}.weight_hh_l{layer}"] = (4 * hidden, hidden)
            shapes[f"{lstm}.bias_ih_l{layer}"] = (4 * hidden,)
            shapes[f"{lstm}.bias_hh_l{layer}"] = (4 * hidden,)
            n_input = hidden
    shapes["head.weight"], shapes["head.bias"] = (n_features, hidden), (n_features,)
    if centered:
        shapes["center_mask"] = (n_features,)
    return shapes


def _weights_problem(state_dict, detector):
    """Why the tensors are not the weights of the network that the checked
    parameters describe, or None; nothing is allocated."""
    import torch

    centered = detector.centered_features_ or []
    n_tensors = 8 * detector.num_layers + 2 + bool(centered)
    if len(state_dict) != n_tensors:  # before num_layers sizes a loop
        return f"{_WEIGHTS_NAME} holds {len(state_dict)} tensors, they need {n_tensors}"
    expected = _state_dict_shapes(
        detector.n_features_in_,
        detector.hidden_size,
        detector.num_layers,
        detector.decoder_feed,
        bool(centered),
    )
    for name in sorted(set(expected) | set(state_dict)):
        tensor, shape = state_dict.get(name), expected.get(name)
        if tensor is None or shape is None:
            return f"tensor {name!r} is {'unexpected' if shape is None else 'missing'}"
        if tuple(tensor.shape) != shape:
            return f"tensor {name!r} has shape {tuple(tensor.shape)}, they need {shape}"
        if tensor.dtype != torch.float32:
            return f"tensor {name!r} is {tensor.dtype}, not torch.float32"
        if not torch.isfinite(tensor).all():
            return f"tensor {name!r} holds NaN or infinity"
    if centered:
        mask = torch.zeros(detector.n_features_in_)
        mask[centered] = 1.0
        if not torch.equal(state_dict["center_mask"], mask):
            return "tensor 'center_mask' does not match centered_features_"
    return None


def _reach_problem(state_dict, num_layers):
    """Why finite weights could still give a NaN or infinite score, or None.

    Scoring feeds the encoder scaled data of magnitude at most
    MAX_SCALED_MAGNITUDE (twice that once a feature is centred); every other
    layer reads LSTM states in [-1, 1]. A gate whose largest input (sum of
    |weight| * largest input, plus the biases) stays below half float32's
    largest value cannot overflow, and then nothing downstream can either. The
    head turns states in [-1, 1] into the reconstruction of scaled data, so a
    head that can reach beyond MAX_SCALED_MAGNITUDE reconstructs nothing that
    scoring accepts. Trained weights are many orders of magnitude below both.
    """
    import torch

    def reach(weight, bias, largest_input):
        rows = weight.abs().sum(dim=1, dtype=torch.float64) * largest_input
        return rows + bias.abs().to(torch.float64)

    limit = float(torch.finfo(torch.float32).max) / 2
    for lstm in ("encoder", "decoder"):
        for layer in range(num_layers):
            largest = 2 * MAX_SCALED_MAGNITUDE if (lstm, layer) == ("encoder", 0) else 1
            name = f"{lstm}.weight_ih_l{layer}"
            gates = (
                reach(state_dict[name], state_dict[f"{lstm}.bias_ih_l{layer}"], largest)
                + reach(
                    state_dict[f"{lstm}.weight_hh_l{layer}"],
                    state_dict[f"{lstm}.bias_hh_l{layer}"],
                    1,
                )
            ).max()
            if not gates <= limit:
                return (
                    f"the weights of {lstm} layer {layer} ({name!r} and the rest) can "
                    f"take a gate to {float(gates):.3g}, beyond float32's range: "
                    "scores would overflow to NaN or infinity, and no fit writes "
                    "such weights"
                )
    head = reach(state_dict["head.weight"], state_dict["head.bias"], 1).max()
    if not head <= MAX_SCALED_MAGNITUDE:
        return (
            f"tensors 'head.weight' and 'head.bias' can reconstruct values up to "
            f"{float(head):.3g}, beyond the {MAX_SCALED_MAGNITUDE:g} that scaled data "
            "ever reaches, so every score would be absurd; no fit writes such weights"
        )
    return None


def _available(device):
    import torch

    kind, _, index = device.partition(":")
    if kind == "cuda":
        return torch.cuda.is_available() and int(index or 0) < torch.cuda.device_count()
    if kind == "mps":
        return torch.backends.mps.is_available()
    return True


def _target_device(trained_on, device, _net):
    """``device``, checked, or else where the model was trained when that is
    available here, and the CPU when it is not."""
    import torch

    if device is None:
        return trained_on if _available(trained_on) else "cpu"
    if isinstance(device, torch.device):
        device = str(device)
    if not (isinstance(device, str) and _PARAMS["device"][0](device)):
        raise ValueError(
            "device must be None, 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got "
            f"{device!r}."
        )
    target = _net.resolve_device(device)
    if not _available(target):
        raise ValueError(f"device={device!r} is not available on this machine.")
    return target


def _rebuild_net(detector, state_dict, device, _training):
    import torch

    net = _training.make_net(
        _training.NetConfig.of(detector),
        n_features=detector.n_features_in_,
        centered_features=detector.centered_features_,
        device=device,
        verbose=detector.verbose,
    )
    # initialising draws random weights; keep the caller's generator untouched
    with torch.random.fork_rng(devices=[]):
        net.initialize()
    net.module_.load_state_dict(state_dict, strict=True)  # checked to fit
    net.module_.eval()
    return net
