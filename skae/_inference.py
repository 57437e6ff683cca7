"""Running a trained network on data: the device, batching, every forward pass.

The only code that runs an :class:`LSTMAutoencoder` outside training. Each
function takes the trained module and scaled NumPy data and returns NumPy
float64; the module runs in eval mode under :func:`torch.inference_mode`, batch
by batch on its own device. Squared errors are taken in float64, and an output
that is not finite is a ValueError. A series becomes one float32 tensor whose
windows are cut batch by batch (:mod:`skae._window_batches`) and averaged back
onto time steps by :class:`skae._windowing.StepAccumulator`, so memory grows
with ``n_timesteps * n_features``, not with ``window_size``. Sequences of
different lengths run in batches of similar length, padded by :func:`pad_batch`.
"""

import contextlib

import numpy as np
import torch

from ._window_batches import cut_windows, scoring_batches
from ._windowing import StepAccumulator

# Windows (or sequences) per forward pass when scoring.
BATCH_SIZE = 256
# Most padded time steps in one scoring batch of sequences of different lengths.
MAX_BATCH_STEPS = 32768

DEVICE_FORMS = (
    '"auto", "cpu", "cuda", "cuda:N" (N a GPU index) or "mps" (Apple GPUs, where '
    "available)"
)


def _mps_available():
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(device):
    """Return the torch device string for ``device`` (``"auto"``: ``"cuda"`` when
    a GPU is visible, else ``"cpu"``); a ValueError for an unknown form or a
    device this machine does not have."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"device={device!r} is not a device skae can use; use {DEVICE_FORMS}."
        )
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on "
                'this machine; use device="cpu" or device="auto".'
            )
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f"device={device!r} was requested but this machine has {count} "
                f"CUDA device(s), cuda:0 to cuda:{count - 1}."
            )
    if parsed.type == "mps" and not _mps_available():
        raise ValueError(
            f"device={device!r} was requested but MPS is not available on this "
            'machine; use device="cpu" or device="auto".'
        )
    return str(device)


@contextlib.contextmanager
def inference(module):
    """Run the block under :func:`torch.inference_mode` with ``module`` set to
    eval mode (and left so), so dropout never makes scores random."""
    if module.training:
        module.eval()
    with torch.inference_mode():
        yield


def module_device(module):
    """Return the device the module's parameters live on."""
    return next(module.parameters()).device


def pad_batch(sequences):
    """Return ``{"x": padded, "lengths": lengths}``; no lengths when all are equal."""
    lengths = torch.tensor([len(s) for s in sequences])
    padded = torch.nn.utils.rnn.pad_sequence(sequences, batch_first=True)
    if bool((lengths == lengths[0]).all()):
        return {"x": padded}
    return {"x": padded, "lengths": lengths}


def squared_error(x, x_hat):
    """Return ``(x - x_hat) ** 2`` for arrays or tensors, in their dtype."""
    return (x - x_hat) ** 2


NON_FINITE_OUTPUT = (
    "The network's output is not finite for this input: X has values too far "
    "outside the range of the training data for the float32 network. Check X for "
    "extreme values or rescale it."
)


def _checked(output):
    """Return ``output``; a ValueError when it holds a NaN or infinity (inputs
    are checked, so the float32 network overflowed)."""
    if not bool(torch.isfinite(output).all()):
        raise ValueError(NON_FINITE_OUTPUT)
    return output


def _numpy(tensor):
    return tensor.detach().to("cpu", torch.float64).numpy()


def _series_tensor(module, series):
    series = np.ascontiguousarray(series, dtype=np.float32)
    return torch.as_tensor(series, device=module_device(module))


def local_mean(errors, radius):
    """Return ``score_smoothing`` of errors ``(n_windows, window_size, ...)``:
    ``smoothed[w, p] = errors[w, max(0, p - radius) : p + radius + 1].mean(0)``.

    Examples
    --------
    >>> import torch
    >>> from skae._inference import local_mean
    >>> local_mean(torch.tensor([[0.0, 0.0, 3.0, 0.0]]), 1)
    tensor([[0.0000, 1.0000, 1.0000, 1.5000]])
    """
    if radius == 0:
        return errors
    window_size = errors.shape[1]
    cumulative = torch.cat(
        [torch.zeros_like(errors[:, :1]), torch.cumsum(errors, dim=1)], dim=1
    )
    positions = torch.arange(window_size, device=errors.device)
    low = (positions - radius).clamp(min=0)
    high = (positions + radius).clamp(max=window_size - 1) + 1
    counts = (high - low).to(errors.dtype).reshape(1, -1, *([1] * (errors.ndim - 2)))
    return (cumulative[:, high] - cumulative[:, low]) / counts


def _window_errors(module, windows, smoothing=0, mean_features=False):
    """Return the squared errors of a batch of windows, per feature or their mean,
    smoothed by :func:`local_mean`: ``(n_windows, window_size, n_values)``."""
    errors = squared_error(windows.double(), _checked(module(windows)).double())
    if mean_features:
        errors = errors.mean(dim=-1, keepdim=True)
    return local_mean(errors, smoothing)


def _step_means(module, series, window_size, stride, batch_size, n_values, run):
    """Return each step's mean over the windows covering it of ``run(windows)``,
    a tensor ``(n_windows, window_size, n_values)``."""
    steps = StepAccumulator(len(series), window_size, (n_values,))
    with inference(module):
        x = _series_tensor(module, series)
        batches = scoring_batches(x, window_size, stride, batch_size or BATCH_SIZE)
        for starts, tail, windows in batches:
            steps.add(starts, _numpy(run(windows)), tail=tail)
    return steps.result()


def series_errors(
    module,
    series,
    window_size,
    stride,
    *,
    smoothing=0,
    mean_features=False,
    batch_size=None,
):
    """Return each step's squared errors, ``(n_timesteps, n_features)``: the mean
    over the windows covering it, smoothed inside each window by :func:`local_mean`
    of radius ``smoothing``; with ``mean_features``, averaged over features
    (one column). ``batch_size`` None is ``BATCH_SIZE``."""
    return _step_means(
        module,
        series,
        window_size,
        stride,
        batch_size,
        1 if mean_features else series.shape[1],
        lambda windows: _window_errors(module, windows, smoothing, mean_features),
    )


def series_reconstruction(module, series, window_size, *, batch_size=None):
    """Return each step's mean over the reconstructions of the windows covering it
    (stride 1), ``(n_timesteps, n_features)``."""
    return _step_means(
        module,
        series,
        window_size,
        1,
        batch_size,
        series.shape[1],
        lambda windows: _checked(module(windows)),
    )


def causal_series_errors(
    module,
    series,
    window_size,
    *,
    smoothing=0,
    mean_features=False,
    n_context=0,
    batch_size=None,
):
    """Return per-step errors that use no data after the step (causal scores).

    Step ``t`` gets the mean squared error over the last ``smoothing + 1``
    positions of the window that ends at ``t``, or of the prefix
    ``series[: t + 1]`` when that is shorter than a window; the first
    ``n_context`` steps are read but get no value. Otherwise as
    :func:`series_errors`.
    """
    n_timesteps, n_features = series.shape
    positions, batch_size = smoothing + 1, batch_size or BATCH_SIZE
    result = np.empty((n_timesteps - n_context, 1 if mean_features else n_features))
    with inference(module):
        x = _series_tensor(module, series)
        # the first steps: prefixes, one short forward pass each
        for t in range(n_context, min(window_size - 1, n_timesteps)):
            errors = _window_errors(module, x[None, : t + 1], 0, mean_features)
            result[t - n_context] = _numpy(errors[0, -positions:].mean(dim=0))
        # window j ends at step j + window_size - 1
        first_window = max(n_context, window_size - 1) - (window_size - 1)
        starts = np.arange(first_window, n_timesteps - window_size + 1)
        for first in range(0, len(starts), batch_size):
            batch = starts[first : first + batch_size]
            windows = cut_windows(x, batch, window_size)
            errors = _window_errors(module, windows, 0, mean_features)
            steps = batch + window_size - 1 - n_context
            result[steps] = _numpy(errors[:, -positions:].mean(dim=1))
    return result


def window_codes(module, series, window_size, stride, *, batch_size=None):
    """Return the latent codes of the grid windows and the tail window,
    ``(n_windows, hidden_size)``."""
    with inference(module):
        x = _series_tensor(module, series)
        batches = scoring_batches(x, window_size, stride, batch_size or BATCH_SIZE)
        return np.concatenate(
            [_numpy(_checked(module.encode(windows))) for _, _, windows in batches]
        )


def step_codes(module, series, window_size, *, batch_size=None):
    """Return the code of the window that ends at each step (of the prefix up to
    it, for the first steps), ``(n_timesteps, hidden_size)``."""
    n_timesteps = len(series)
    head = min(window_size, n_timesteps)
    codes = np.empty((n_timesteps, module.hidden_size))
    with inference(module):
        x = _series_tensor(module, series)
        output, _ = module.encoder(x[None, :head])
        codes[:head] = _numpy(output[0])
        if n_timesteps > window_size:
            batches = scoring_batches(x, window_size, 1, batch_size or BATCH_SIZE)
            for starts, _, windows in batches:
                codes[starts + window_size - 1] = _numpy(
                    _checked(module.encode(windows))
                )
    return codes


def equal_length_errors(module, sequences, batch_size=None, *, mean=False):
    """Return the squared errors of equal-length sequences, of their shape, or
    with ``mean`` each sequence's mean, ``(n_sequences,)``; batches are slices
    of one tensor, so no padding."""
    device = module_device(module)
    errors = np.empty(sequences.shape[:1] if mean else sequences.shape)
    inputs = torch.as_tensor(np.ascontiguousarray(sequences, dtype=np.float32))
    batch_size = batch_size or BATCH_SIZE
    with inference(module):
        for start in range(0, len(sequences), batch_size):
            batch = slice(start, start + batch_size)
            x_hat = _numpy(_checked(module(inputs[batch].to(device))))
            squared = squared_error(sequences[batch], x_hat)
            errors[batch] = squared.mean(axis=(1, 2)) if mean else squared
    return errors


def length_sorted_batches(lengths, batch_size, max_steps=MAX_BATCH_STEPS):
    """Yield index arrays of consecutive runs of the length-sorted sequences,
    each of at most ``batch_size`` sequences and (unless one) ``max_steps``
    padded time steps."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    batch = []
    for i in order:
        if batch and (
            len(batch) == batch_size or (len(batch) + 1) * lengths[i] > max_steps
        ):
            yield np.array(batch)
            batch = []
        batch.append(i)
    if batch:
        yield np.array(batch)


def _by_length(module, sequences, batch_size, run):
    """Return ``run(x, lengths)`` of each sequence, in order, from batches of
    similar length (:func:`length_sorted_batches`)."""
    device = module_device(module)
    outputs = [None] * len(sequences)
    lengths = [len(s) for s in sequences]
    with inference(module):
        for index in length_sorted_batches(lengths, batch_size or BATCH_SIZE):
            batch = pad_batch(
                [torch.as_tensor(sequences[i], dtype=torch.float32) for i in index]
            )
            result = _numpy(_checked(run(batch["x"].to(device), batch.get("lengths"))))
            for row, i in enumerate(index):
                outputs[i] = result[row]
    return outputs


def sequence_reconstructions(module, sequences, *, batch_size=None):
    """Return the reconstruction of each of a list of sequences."""
    padded = _by_length(module, sequences, batch_size, module)
    return [r[: len(s)] for r, s in zip(padded, sequences, strict=True)]


def sequence_errors(module, sequences, *, batch_size=None):
    """Return the squared errors of sequences: an array for an array
    (:func:`equal_length_errors`), a list of arrays for a list."""
    if isinstance(sequences, np.ndarray):
        return equal_length_errors(module, sequences, batch_size)
    reconstructions = sequence_reconstructions(module, sequences, batch_size=batch_size)
    return [
        squared_error(np.asarray(s, dtype=np.float64), r)
        for s, r in zip(sequences, reconstructions, strict=True)
    ]


def sequence_codes(module, sequences, *, batch_size=None):
    """Return the latent code of each of a list of sequences."""
    return np.stack(_by_length(module, sequences, batch_size, module.encode))
