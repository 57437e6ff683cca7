"""The safe model file: a zip of a JSON document and safetensors weights, no pickle.

Exactly two members, stored uncompressed: ``skae.json`` (format, version, the
SHA-256 of its ``model`` entry, and that entry, which records the SHA-256 of the
weights) and ``weights.safetensors``. Digests catch corruption, not forgery, so
the owners of the content declare :class:`Field` schemas that :func:`check_fields`
checks value by value. NumPy only.
"""

import hashlib
import json
import math
import os
import stat
import tempfile
import zipfile
from numbers import Integral
from typing import NamedTuple

import numpy as np

FORMAT, FORMAT_VERSION = "skae-model", 1
JSON_NAME, WEIGHTS_NAME = "skae.json", "weights.safetensors"
# the largest file read or written, twice the largest network's weights; a file
# that is larger, or not a regular file (/dev/zero, a pipe), is never read
MAX_FILE_BYTES = 2**33
_ARRAY, _FLOAT, _ARRAY_KINDS = "__ndarray__", "__float__", "biufU"
_MAX_STRING_ARRAY_BYTES = 2**24
# zip flags a member may carry (a data descriptor, UTF-8 names), and encryption
_ZIP_FLAGS, _ZIP_ENCRYPTED = 0x08 | 0x800, 0x01


class Field(NamedTuple):
    """What one stored value may hold."""

    kind: str  # a key of KINDS
    shape: tuple = ()  # arrays: "F" is n_features_in_, None any length >= 1
    rule: tuple = None  # (test(value, owner) -> bool(s), demand or demand(owner))
    required: object = True  # or required(owner, names in the file) -> bool


def _array_of(kind, itemsize=None):
    return lambda v: (
        isinstance(v, np.ndarray)
        and v.dtype.kind == kind
        and (itemsize is None or v.dtype.itemsize == itemsize)
    )


KINDS = {  # kind: (test of the decoded value, what it must be)
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "float": (lambda v: isinstance(v, float) and math.isfinite(v), "a finite float"),
    "floats": (
        lambda v: _array_of("f", 8)(v) and bool(np.isfinite(v).all()),
        "a finite float64 array",
    ),
    "ints": (_array_of("i"), "an integer array"),
    "bools": (_array_of("b"), "a boolean array"),
    "names": (_array_of("O"), "an array of strings"),
    "indices": (
        lambda v: (
            v is None
            or isinstance(v, list)
            and all(type(i) is int for i in v)
            and v == sorted(set(v))
        ),
        "None or a list of increasing feature indices",
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


def check_fields(owner, schema, stored, path):
    """Decode and check each stored value by its ``schema`` line, in the schema's
    order, and set it on ``owner`` (a rule may read the values above it)."""
    refuse_unknown(stored, schema, "fitted attributes", path, ", or not by skae")
    for name, field in schema.items():
        required = field.required
        if callable(required):
            required = required(owner, set(stored))
        if name not in stored:
            if required:
                raise ValueError(f"{path}: {JSON_NAME} lacks the fitted {name}.")
            continue
        value = decoded(stored[name], name, path)
        test, kind = KINDS[field.kind]
        shape = tuple(owner.n_features_in_ if n == "F" else n for n in field.shape)
        if not test(value) or shape and not _has_shape(value, shape):
            shape_text = f" of shape {shape}".replace("None", "n") if shape else ""
            raise ValueError(
                f"{path}: fitted {name} must be {kind}{shape_text}, got {short(value)}."
            )
        if field.kind in ("floats", "ints"):  # native byte order, 64 bits
            value = value.astype(np.float64 if field.kind == "floats" else np.int64)
        if field.rule and not np.all(field.rule[0](value, owner)):
            demand = field.rule[1]
            demand = demand(owner) if callable(demand) else demand
            raise ValueError(f"{path}: fitted {name} {demand}, got {short(value)}.")
        setattr(owner, name, value)


def _has_shape(array, shape):
    return array.ndim == len(shape) and all(
        size >= 1 if n is None else size == n
        for n, size in zip(shape, array.shape, strict=True)
    )


def refuse_unknown(names, known, what, path, or_else=""):
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(
            f"{path} has {what} {unknown} that this skae does not know; it was "
            f"written by a newer skae{or_else}."
        )


def short(value):
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def plain(value, depth):
    """Whether ``value`` is a scalar, or lists and dicts of them ``depth`` deep."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if depth == 0:
        return False
    if isinstance(value, list):
        return all(plain(v, depth - 1) for v in value)
    return isinstance(value, dict) and all(
        isinstance(k, str) and plain(v, depth - 1) for k, v in value.items()
    )


# ------------------------------------------------------------------- values


def encode(value, name):
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
        return value if np.isfinite(value) else {_FLOAT: repr(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O" and all(isinstance(v, str) for v in value.flat):
            dtype = "object"
        elif value.dtype.kind in _ARRAY_KINDS:
            dtype = value.dtype.str
        else:
            raise TypeError(f"Cannot store {name} as JSON: array of {value.dtype}.")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise TypeError(f"Cannot store {name}: it holds NaN or infinity.")
        return {_ARRAY: value.tolist(), "dtype": dtype, "shape": value.shape}
    if isinstance(value, (list, tuple)):
        return [encode(v, name) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: encode(v, f"{name}[{k!r}]") for k, v in value.items()}
    raise TypeError(
        f"Cannot store {name} as JSON: {type(value).__name__} is not a number, "
        "string, array, list or dict."
    )


def decode(value, name):
    """The inverse of :func:`encode`, accepting nothing but the tagged forms."""
    if isinstance(value, list):
        return [decode(v, name) for v in value]
    if not isinstance(value, dict):
        return value
    if _ARRAY in value:
        return decode_array(value, name)
    if _FLOAT in value:
        text = value[_FLOAT]
        if set(value) != {_FLOAT} or text not in ("inf", "-inf", "nan"):
            raise ValueError(f"{name}: malformed float entry {value!r}.")
        return float(text)
    return {k: decode(v, f"{name}[{k!r}]") for k, v in value.items()}


def decode_array(value, name):
    if set(value) != {_ARRAY, "dtype", "shape"} or not isinstance(value[_ARRAY], list):
        raise ValueError(f"{name}: malformed array entry.")
    dtype, shape = value["dtype"], value["shape"]
    try:
        if dtype == "object":
            array = np.empty(len(value[_ARRAY]), dtype=object)
            array[:] = value[_ARRAY]
            if not all(isinstance(v, str) for v in array):
                raise ValueError("object arrays may only hold strings")
        else:
            if not isinstance(dtype, str) or np.dtype(dtype).kind not in _ARRAY_KINDS:
                raise ValueError(f"dtype {dtype!r} is not allowed")
            if np.dtype(dtype).kind == "U":  # a wide one must not multiply the JSON
                size = np.array(value[_ARRAY], dtype=object).size
                if size * np.dtype(dtype).itemsize > _MAX_STRING_ARRAY_BYTES:
                    raise ValueError(f"dtype {dtype!r} is too wide for {size} items")
            with np.errstate(over="ignore"):  # an overflow to inf is refused later
                array = np.array(value[_ARRAY], dtype=np.dtype(dtype))
        return array.reshape(shape)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{name}: malformed array entry ({exc}).") from exc


def decoded(value, name, path):
    """:func:`decode`, with the file named in the error."""
    try:
        return decode(value, name)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    except RecursionError as exc:
        raise ValueError(f"{path}: {JSON_NAME} is nested too deeply.") from exc


# ------------------------------------------------------------------- the file


def canonical(obj):
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def write(path, model, weights):
    """Write ``model`` (a JSON-ready dict) and the safetensors bytes ``weights``."""
    model = {**model, "weights": {"file": WEIGHTS_NAME, "sha256": sha256(weights)}}
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_sha256": sha256(canonical(model)),
        "model": model,
    }
    members = {JSON_NAME: canonical(document), WEIGHTS_NAME: weights}
    size = sum(len(data) for data in members.values())
    if size > MAX_FILE_BYTES:
        raise ValueError(
            f"Cannot save this detector: its file would hold more than {size:,} "
            f"bytes, beyond the {MAX_FILE_BYTES:,} that load_model reads "
            "(skae._codec.MAX_FILE_BYTES)."
        )
    # through a temporary name, so that a crash never leaves half a file
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


def read(path, class_name):
    """Return the checked ``model`` entry of a file holding a ``class_name``, and
    its weights' bytes; a ValueError saying why not."""
    members = _read_zip(path)
    try:
        document = json.loads(
            members[JSON_NAME].decode("utf-8"),
            parse_constant=_finite,  # NaN, Infinity
            parse_float=_finite,  # 1e999
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: {JSON_NAME} is not valid JSON ({exc}).") from exc
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
    if not isinstance(model, dict) or sha256(canonical(model)) != document.get(
        "model_sha256"
    ):
        raise ValueError(
            f"{path}: the content of {JSON_NAME} does not match its SHA-256: the "
            "file was modified or corrupted after saving."
        )
    entries = dict(params=dict, fitted=dict, history=list, weights=dict)
    for key, kind in {"class": str, **entries}.items():
        if not isinstance(model.get(key), kind):
            raise ValueError(f"{path}: {JSON_NAME} lacks a valid '{key}' entry.")
    if model["class"] != class_name:
        raise ValueError(
            f"{path} holds a {model['class']!r}; this skae loads {class_name} files."
        )
    weights = members[WEIGHTS_NAME]
    if sha256(weights) != model["weights"].get("sha256"):
        raise ValueError(
            f"{path}: {WEIGHTS_NAME} does not match the SHA-256 recorded in "
            f"{JSON_NAME}: the weights were modified or corrupted after saving."
        )
    return model, weights


def file_kind(mode):
    """What a file that is not a regular file is, in words."""
    kinds = {stat.S_ISCHR: "character device", stat.S_ISBLK: "block device"}
    kinds |= {stat.S_ISFIFO: "named pipe", stat.S_ISSOCK: "socket"}
    kind = next((kind for test, kind in kinds.items() if test(mode)), None)
    return "not a regular file" if kind is None else f"a {kind}"


def _open(path):
    """Open a regular file of at most MAX_FILE_BYTES; refuse others unread."""
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
            f"{path} is not a regular file (it is {file_kind(mode)}); a skae model "
            "file is a regular file, read only up to its end."
        )
    stream = open(path, "rb")  # noqa: SIM115 - closed by the caller
    size = os.fstat(stream.fileno()).st_size  # the file opened, not a swapped link
    if size > MAX_FILE_BYTES:
        stream.close()
        raise ValueError(
            f"{path} holds {size:,} bytes, more than the {MAX_FILE_BYTES:,} a skae "
            "model file may hold (skae._codec.MAX_FILE_BYTES)."
        )
    return stream, size


def _read_zip(path):
    """Return ``{name: bytes}`` of the two members; read nothing past the file."""
    expected = sorted({JSON_NAME, WEIGHTS_NAME})
    stream, size = _open(path)
    try:
        with stream, zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            names = sorted(info.filename for info in infos)
            if names != expected:
                raise ValueError(
                    f"{path} is not a skae model file: it holds {names}, while a "
                    f"skae model file holds exactly {expected}. (skae never loads "
                    "pickle or torch.save files with load_model; joblib.load runs "
                    "code and is only for trusted files.)"
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
        raise ValueError(
            f"{path} is not a skae model file, or it is truncated or corrupted ({exc})."
        ) from exc
    except RuntimeError as exc:  # and NotImplementedError: a newer zip feature
        raise ValueError(
            f"{path} is not a skae model file: it uses a zip feature that skae "
            f"model files never use ({exc})."
        ) from exc


def _member_problem(info):
    if info.flag_bits & _ZIP_ENCRYPTED:
        return "is encrypted"
    if info.flag_bits & ~_ZIP_FLAGS:
        return f"sets the zip flags {info.flag_bits:#06x}"
    if info.compress_type != zipfile.ZIP_STORED:
        return "is compressed"
    return None


def _finite(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value
