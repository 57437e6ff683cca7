"""A detector's model file: its schema, and the network rebuilt from checked weights.

Every field (:data:`FITTED`, and a scorer's state by its own schema) is checked as
if the file were hostile, and the weights against the network of the fitted
architecture, before a network is allocated: a forged file is refused naming the
field, or scores exactly as its stored weights say.
"""

import math
import os
import re
import types
import warnings
from numbers import Integral

import numpy as np

from . import _codec
from ._codec import WEIGHTS_NAME, Field
from ._detector import LSTMAutoencoderDetector
from ._scaling import _CONSTANT_RELATIVE_STD, MAX_SCALED_MAGNITUDE
from ._validation import check_is_fitted

FITTED_NAME = re.compile(r"^[a-z][a-z0-9_]*_$")
DEVICE = re.compile(r"cpu|mps|cuda(:[0-9]{1,4})?")  # never "meta" and the like
_DEVICES = "a torch device: 'cpu', 'cuda', 'cuda:N' or 'mps'"
ARCHITECTURE = ("hidden_size", "num_layers", "decoder_feed")
"""The parameters that shape the weights, fixed at fit (``hidden_size_``, ...)."""
# integers beyond int64 are absurd; more threads than this crash torch
_MAX_INT, _MAX_THREADS = 2**63 - 1, 1024
# parameters a file may lack (added to the format after its first files)
_ADDED_PARAMS = {"causal": False, "forget_half_life": None, "detect_flatlines": False}
_ADDED_PARAMS["precision"] = "float32"


def _gaussian(detector, names):
    # the three come together, and anomaly_score="mahalanobis" scores with them
    return detector.anomaly_score_ == "mahalanobis" or bool(
        {"error_mean_", "error_covariance_", "error_precision_"} & names
    )


def _flatlines(detector, names):
    return bool({"flatline_reference_", "flatline_weight_"} & names)


def _one_of(*choices):
    return (lambda v, d: v in choices, f"must be one of {choices}")


def _of_errors(statistic, what):
    # after partial_fit, mu and sigma weigh every error seen, and heldout_errors_
    # holds only the most recent ones
    return (
        lambda v, d: (
            v >= 0
            if hasattr(d, "heldout_weight_")
            else math.isclose(
                v, statistic(d.heldout_errors_), rel_tol=1e-9, abs_tol=1e-300
            )
        ),
        f"must be the {what} of heldout_errors_ (>= 0 after partial_fit)",
    )


def _scale_fits_mean(scale, detector):
    if detector.standardize is False:  # fit_scaling leaves the data as they are
        return (scale == 1) & (detector.mean_ == 0)
    # fit divides a feature that varies less than this by at least as much
    return (scale > 0) & (scale >= _CONSTANT_RELATIVE_STD * np.abs(detector.mean_))


_AT_LEAST_1 = (lambda v, d: v >= 1, "must be >= 1")
_SIZE = (lambda v, d: 1 <= v <= _MAX_INT, f"must be in [1, {_MAX_INT}]")
_NON_NEGATIVE = (lambda v, d: v >= 0, "must be >= 0")
_SCALE = (
    _scale_fits_mean,
    lambda d: (
        "must be 1, with mean_ 0, when standardize=False"
        if d.standardize is False
        else f"must be > 0 and at least {_CONSTANT_RELATIVE_STD:.3g} * |mean_| (fit "
        "divides a feature that varies less by that much; mean_ is "
        f"{_codec.short(d.mean_)})"
    ),
)
_OFFSET = (lambda v, d: v == -d.threshold_, "must be -threshold_")
_DEVICE = (lambda v, d: DEVICE.fullmatch(v) is not None, f"must be {_DEVICES}")
_STRIDE = (lambda v, d: 1 <= v <= d.window_size_, "must be in [1, window_size]")
_INDICES = (
    lambda v, d: all(0 <= i < d.n_features_in_ for i in v or ()),
    "must be feature indices below n_features_in_",
)
_PRECISION = (
    lambda v, d: np.array_equal(v, v.T) and np.linalg.eigvalsh(v).min() > 0,
    "must be symmetric positive definite",
)

FITTED = {
    "n_features_in_": Field("int", rule=_AT_LEAST_1),
    "threshold_": Field("float", rule=_NON_NEGATIVE),
    "offset_": Field("float", rule=_OFFSET),
    "mean_": Field("floats", ("F",)),
    "scale_": Field("floats", ("F",), _SCALE),
    "device_": Field("str", rule=_DEVICE),
    "precision_": Field("str", rule=_one_of("float32", "bfloat16"), required=False),
    "window_size_": Field("int", rule=_AT_LEAST_1),
    "score_smoothing_": Field("int", rule=_NON_NEGATIVE),
    "anomaly_score_": Field("str", rule=_one_of("squared_error", "mahalanobis")),
    "hidden_size_": Field("int", rule=_SIZE, required=False),
    "num_layers_": Field("int", rule=_SIZE, required=False),
    "decoder_feed_": Field("str", rule=_one_of("repeat", "state"), required=False),
    "threshold_info_": Field("info"),
    "score_stride_": Field("int", rule=_STRIDE),
    "centered_features_": Field("indices", rule=_INDICES),
    "heldout_errors_": Field("floats", (None,), _NON_NEGATIVE),
    "causal_": Field("bool"),
    "heldout_weight_": Field(
        "float", rule=(lambda v, d: v > 0, "must be > 0"), required=False
    ),
    "n_partial_fits_": Field("int", rule=_NON_NEGATIVE, required=False),
    "heldout_mean_": Field("float", rule=_of_errors(np.mean, "mean")),
    "heldout_std_": Field("float", rule=_of_errors(np.std, "standard deviation")),
    "feature_names_in_": Field("names", ("F",), required=False),
    "error_mean_": Field("floats", ("F",), _NON_NEGATIVE, required=_gaussian),
    "error_covariance_": Field("floats", ("F", "F"), required=_gaussian),
    "error_precision_": Field("floats", ("F", "F"), _PRECISION, required=_gaussian),
    "flatline_reference_": Field("floats", ("F",), _NON_NEGATIVE, required=_flatlines),
    "flatline_weight_": Field("float", rule=_NON_NEGATIVE, required=_flatlines),
}
"""Every fitted attribute a detector's file may hold, checked in this order (a rule
may read those above it). An attribute ``fit`` starts to set needs a line here."""

_PARAMS = {  # rules beyond the detector's _parameter_constraints
    "device": (
        lambda v: v == "auto" or DEVICE.fullmatch(v) is not None,
        f"must be 'auto' or {_DEVICES}",
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


def _flat_features(value):
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.ndim == 1 else None
    return isinstance(value, list) and all(
        isinstance(v, str) or type(v) is int for v in value
    )


# ------------------------------------------------------------------- writing


def write(detector, path, state=None, state_schema=None):
    """Write a fitted detector, and a scorer's ``state`` by its ``state_schema``."""
    from safetensors.torch import save as save_tensors

    if not isinstance(detector, LSTMAutoencoderDetector):
        raise TypeError(
            "save_model writes an LSTMAutoencoderDetector, got "
            f"{type(detector).__name__}."
        )
    check_is_fitted(detector)
    module = detector.net_.module_
    fitted = {
        name: value
        for name, value in vars(detector).items()
        if FITTED_NAME.match(name) and name not in ("net_", "history_")
    }
    # the architecture the weights have, whatever set_params did since
    fitted.update({f"{name}_": getattr(module, name) for name in ARCHITECTURE})
    fitted.update(state or {})
    unknown = sorted(set(fitted) - set(FITTED) - set(state_schema or ()))
    if unknown:
        raise TypeError(
            f"Cannot store the fitted attributes {unknown}: the model format does "
            "not know them (each needs a line in skae._model_files.FITTED)."
        )
    weights = save_tensors(
        {
            name: tensor.detach().cpu().contiguous()
            for name, tensor in module.state_dict().items()
        }
    )
    model = {
        "class": type(detector).__name__,
        "versions": _versions(),
        "params": _encode_params(detector),
        "fitted": {name: _codec.encode(value, name) for name, value in fitted.items()},
        "history": _codec.encode(list(detector.history_), "history_"),
    }
    _codec.write(path, model, weights)


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
    return {name: _codec.encode(value, name) for name, value in params.items()}


# ------------------------------------------------------------------- reading


def read(path, device, state_schema):
    """Return the detector of a model file and the scorer state it holds (checked
    by ``state_schema``; ``{}`` when none)."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors
    from skorch.history import History

    path = os.fspath(path)
    model, weights = _codec.read(path, LSTMAutoencoderDetector.__name__)
    detector = _rebuild_detector(model["params"], path)
    stored = model["fitted"]
    _codec.check_fields(
        detector, FITTED, {n: v for n, v in stored.items() if n in FITTED}, path
    )
    state = types.SimpleNamespace(n_features_in_=detector.n_features_in_)
    rest = {n: v for n, v in stored.items() if n not in FITTED}
    _codec.check_fields(state, state_schema, rest, path)
    del state.n_features_in_
    history = _codec.decoded(model["history"], "history", path)
    if not all(isinstance(epoch, dict) and _codec.plain(epoch, 3) for epoch in history):
        raise ValueError(
            f"{path}: the training history must be a list of dicts of numbers "
            "and strings (and lists of such dicts)."
        )
    target = _device(detector.device_, device)
    try:  # allocates what the file holds, no more
        state_dict = load_tensors(weights)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path}: cannot read {WEIGHTS_NAME} ({exc}).") from exc
    architecture = {
        n: vars(detector).get(f"{n}_", getattr(detector, n)) for n in ARCHITECTURE
    }
    problem = _weights_problem(state_dict, detector, architecture)
    if problem:
        shape = ", ".join(f"{n}={v!r}" for n, v in architecture.items())
        raise ValueError(
            f"{path}: the weights do not fit the network (n_features_in_="
            f"{detector.n_features_in_}, {shape}): {problem}."
        )
    problem = _reach_problem(state_dict, architecture["num_layers"])
    if problem:
        raise ValueError(f"{path}: {WEIGHTS_NAME} holds absurd weights: {problem}.")
    for name, value in architecture.items():
        setattr(detector, f"{name}_", value)
    detector.net_ = _rebuild_net(detector, architecture, state_dict, target)
    detector.net_.history = History(history)
    detector.history_ = detector.net_.history
    return detector, vars(state)


def _rebuild_detector(stored, path):
    """Return a detector of the checked parameters."""
    known = LSTMAutoencoderDetector().get_params(deep=False)
    params = {k: _codec.decoded(v, k, path) for k, v in stored.items()}
    _codec.refuse_unknown(params, known, "parameters", path)
    params = _ADDED_PARAMS | params
    missing = sorted(set(known) - set(params))
    if missing:
        raise ValueError(f"{path}: {_codec.JSON_NAME} lacks the parameters {missing}.")
    detector = LSTMAutoencoderDetector(**params)
    try:
        detector._validate_params()
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    for name, value in params.items():
        problem = _param_problem(name, value)
        if problem:
            got = _codec.short(value)
            raise ValueError(f"{path}: parameter {name} {problem}, got {got}.")
    return detector


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


def _weights_problem(state_dict, detector, architecture):
    """Why the tensors are not the weights of the network ``architecture``
    describes, or None; the network is built on the meta device, allocating
    nothing."""
    import torch

    from ._module import LSTMAutoencoder

    centered = detector.centered_features_ or []
    n_tensors = 8 * architecture["num_layers"] + 2 + bool(centered)
    if len(state_dict) != n_tensors:  # before num_layers sizes a loop
        return f"{WEIGHTS_NAME} holds {len(state_dict)} tensors, they need {n_tensors}"
    try:
        with torch.device("meta"):
            network = LSTMAutoencoder(
                detector.n_features_in_, **architecture, centered_features=centered
            )
    except (RuntimeError, ValueError, OverflowError) as exc:
        return f"no network has this architecture ({exc})"
    expected = {name: tuple(t.shape) for name, t in network.state_dict().items()}
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

    The encoder reads scaled data of magnitude at most MAX_SCALED_MAGNITUDE
    (twice that for a centred feature), every other layer LSTM states in [-1, 1].
    A gate whose largest input stays below half float32's largest value cannot
    overflow; a head that reconstructs beyond MAX_SCALED_MAGNITUDE reconstructs
    nothing scoring accepts. Trained weights are orders of magnitude below both.
    """
    import torch

    def reach(weight, bias, largest_input):
        rows = weight.abs().sum(dim=1, dtype=torch.float64) * largest_input
        return rows + bias.abs().to(torch.float64)

    limit = float(torch.finfo(torch.float32).max) / 2
    for lstm in ("encoder", "decoder"):
        for layer in range(num_layers):
            largest = 2 * MAX_SCALED_MAGNITUDE if (lstm, layer) == ("encoder", 0) else 1
            gates = sum(
                reach(
                    state_dict[f"{lstm}.weight_{kind}_l{layer}"],
                    state_dict[f"{lstm}.bias_{kind}_l{layer}"],
                    largest if kind == "ih" else 1,
                )
                for kind in ("ih", "hh")
            ).max()
            if not gates <= limit:
                return (
                    f"the weights of {lstm} layer {layer} can take a gate to "
                    f"{float(gates):.3g}, beyond float32's range: "
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


def _device(trained_on, device):
    """``device``, checked; by default where the model was trained when that is
    available here, and the CPU when it is not."""
    import torch

    from ._inference import resolve_device

    if device is None:
        try:
            return resolve_device(trained_on)
        except ValueError:
            return "cpu"
    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"device must be None or {_DEVICES}, got {device!r}.")
    return resolve_device(str(device))


def _rebuild_net(detector, architecture, state_dict, device):
    import torch

    from ._training import NetConfig, make_net

    net = make_net(
        NetConfig.of(detector)._replace(**architecture),
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
