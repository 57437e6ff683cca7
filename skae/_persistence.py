"""Safe model files: parameters and fitted values as JSON, weights as safetensors.

``joblib``/``pickle`` files run code when they are loaded, so they must only be
loaded from trusted sources. A skae model file cannot: it is a zip archive with
exactly two members, stored uncompressed,

- ``skae.json``: the format and its version, the skae and torch versions, the
  detector's parameters, its fitted attributes (arrays as typed lists), the
  training history, and SHA-256 digests of the weights and of the JSON content;
- ``weights.safetensors``: the network's ``state_dict`` in the safetensors format
  (raw tensors and a JSON header, no code).

Loading parses JSON and safetensors only, never pickle, checks both digests, and
rebuilds the network from the parameters. The digests catch truncation, corruption
and edits that did not recompute them; they are not a signature (anyone can write a
new, consistent file), so they protect integrity, while the format itself
guarantees that loading an untrusted file cannot run code.
"""

import hashlib
import json
import os
import re
import tempfile
import warnings
import zipfile
from numbers import Integral

import numpy as np

from ._detector import LSTMAutoencoderDetector
from ._validation import check_is_fitted

FORMAT = "skae-model"
FORMAT_VERSION = 1
_JSON_NAME = "skae.json"
_WEIGHTS_NAME = "weights.safetensors"
_ARRAY_TAG = "__ndarray__"
_FLOAT_TAG = "__float__"
_ARRAY_KINDS = "biufU"
_FITTED_NAME = re.compile(r"^[a-z][a-z0-9_]*_$")
# fitted attributes a model file must have; others are restored when present
_REQUIRED_FITTED = (
    "threshold_",
    "offset_",
    "mean_",
    "scale_",
    "n_features_in_",
    "device_",
)
# fitted attributes held by the network rather than by the JSON
_NET_ATTRIBUTES = ("net_", "history_")


def save_model(detector, path):
    """Write a fitted detector to a safe model file that loads without pickle.

    Parameters
    ----------
    detector : LSTMAutoencoderDetector
        A fitted detector (on its own, not inside a Pipeline: save the other
        steps separately, or use joblib with trusted files).
    path : str or os.PathLike
        Where to write; ``.skae`` is a good suffix. The file is written to a
        temporary name first and then renamed, so a crash never leaves half a
        file under ``path``.

    Raises
    ------
    TypeError
        When ``detector`` is not an ``LSTMAutoencoderDetector``, or one of its
        parameters or fitted attributes cannot be stored as JSON.

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

    if not isinstance(detector, LSTMAutoencoderDetector):
        raise TypeError(
            "save_model writes an LSTMAutoencoderDetector, got "
            f"{type(detector).__name__}."
        )
    check_is_fitted(detector)
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
        "fitted": {
            name: _encode(value, name)
            for name, value in vars(detector).items()
            if _FITTED_NAME.match(name) and name not in _NET_ATTRIBUTES
        },
        "history": _encode(list(detector.history_), "history_"),
        "weights": {"file": _WEIGHTS_NAME, "sha256": _sha256(weights)},
    }
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_sha256": _sha256(_canonical(model)),
        "model": model,
    }
    _write_zip(path, {_JSON_NAME: _canonical(document), _WEIGHTS_NAME: weights})


def load_model(path, *, device=None):
    """Read a detector written by :func:`save_model`, without unpickling anything.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    device : str, default=None
        Torch device to score on. ``None`` uses the device the model was trained
        on when it is available here and the CPU otherwise (so a model trained on
        a GPU loads on a CPU-only machine); ``"auto"`` uses a GPU when there is
        one.

    Returns
    -------
    detector : LSTMAutoencoderDetector
        The fitted detector, scoring exactly as the saved one did on the same
        device.

    Raises
    ------
    ValueError
        When the file is not a skae model file, is truncated or corrupted, was
        modified after saving (a digest does not match), was written by a newer
        format version, or its weights do not fit its parameters. The message
        names the problem.

    See Also
    --------
    save_model : write the file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    from . import _net

    path = os.fspath(path)
    members = _read_zip(path)
    try:
        document = json.loads(
            members[_JSON_NAME].decode("utf-8"), parse_constant=_refuse_constant
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: {_JSON_NAME} is not valid JSON ({exc}).") from exc
    model = _check_document(document, path)

    weights = members[_WEIGHTS_NAME]
    if _sha256(weights) != model["weights"].get("sha256"):
        raise ValueError(
            f"{path}: {_WEIGHTS_NAME} does not match the SHA-256 recorded in "
            f"{_JSON_NAME}: the weights were modified or corrupted after saving."
        )
    try:
        state_dict = load_tensors(weights)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path}: cannot read {_WEIGHTS_NAME} ({exc}).") from exc

    try:
        detector = _rebuild_detector(model, path)
        target = _target_device(detector.device_, device, _net)
        detector.net_ = _rebuild_net(detector, state_dict, target, _net)
    except RecursionError as exc:
        raise ValueError(f"{path}: {_JSON_NAME} is nested too deeply.") from exc
    from skorch.history import History

    detector.net_.history = History(_decode(model["history"], "history"))
    detector.history_ = detector.net_.history
    return detector


# ------------------------------------------------------------------- writing


def _versions():
    import torch

    from . import __version__

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


def _read_zip(path):
    """Return ``{name: bytes}`` of the two members, or a ValueError saying why not."""
    expected = {_JSON_NAME, _WEIGHTS_NAME}
    try:
        with zipfile.ZipFile(path) as archive:
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
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ValueError(
                        f"{path}: member {info.filename} is compressed; skae model "
                        "files store their members uncompressed."
                    )
            return {info.filename: archive.read(info) for info in infos}
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        # a truncated archive fails to parse, or to seek or read past its end
        raise ValueError(
            f"{path} is not a skae model file, or it is truncated or corrupted ({exc})."
        ) from exc


def _refuse_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


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
    if set(value) != {_ARRAY_TAG, "dtype", "shape"}:
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
            array = np.array(value[_ARRAY_TAG], dtype=np.dtype(dtype))
        array = array.reshape(shape)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{name}: malformed array entry ({exc}).") from exc
    return array


def _rebuild_detector(model, path):
    known = LSTMAutoencoderDetector().get_params(deep=False)
    params = {k: _decode(v, k) for k, v in model["params"].items()}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"{path} has parameters {unknown} that this skae does not know; it was "
            "written by a newer skae."
        )
    detector = LSTMAutoencoderDetector(**params)
    detector._validate_params()

    fitted = model["fitted"]
    missing = [name for name in _REQUIRED_FITTED if name not in fitted]
    if missing:
        raise ValueError(f"{path}: {_JSON_NAME} lacks fitted attributes {missing}.")
    for name, value in fitted.items():
        if not _FITTED_NAME.match(name) or name in _NET_ATTRIBUTES:
            raise ValueError(f"{path}: unexpected fitted attribute {name!r}.")
        setattr(detector, name, _decode(value, name))
    n_features = detector.n_features_in_
    if not isinstance(n_features, int) or n_features < 1:
        raise ValueError(f"{path}: invalid n_features_in_ {n_features!r}.")
    for name in ("mean_", "scale_"):
        array = getattr(detector, name)
        if not isinstance(array, np.ndarray) or array.shape != (n_features,):
            raise ValueError(
                f"{path}: {name} must be an array of shape ({n_features},)."
            )
    if not isinstance(detector.device_, str):
        raise ValueError(f"{path}: invalid device_ {detector.device_!r}.")
    return detector


def _target_device(trained_on, device, _net):
    import torch

    if device is not None:
        return _net.resolve_device(device)
    if trained_on.startswith("cuda") and not torch.cuda.is_available():
        return "cpu"
    return _net.resolve_device(trained_on)


def _rebuild_net(detector, state_dict, device, _net):
    import torch

    net = _net.make_net(
        n_features=detector.n_features_in_,
        hidden_size=detector.hidden_size,
        num_layers=detector.num_layers,
        dropout=detector.dropout,
        decoder_feed=detector.decoder_feed,
        max_epochs=detector.max_epochs,
        batch_size=detector.batch_size,
        lr=detector.lr,
        patience=detector.patience,
        noise_std=detector.noise_std,
        centered_features=getattr(detector, "centered_features_", None),
        device=device,
        verbose=detector.verbose,
    )
    # initialising draws random weights; keep the caller's generator untouched
    with torch.random.fork_rng(devices=[]):
        net.initialize()
    try:
        net.module_.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"The weights do not fit the network described by the parameters ({exc})."
        ) from exc
    net.module_.eval()
    return net
