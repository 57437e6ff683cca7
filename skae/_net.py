"""Running a trained network on data: the device, batching, every forward pass.

This is the only code that calls an :class:`LSTMAutoencoder` to score,
reconstruct or encode data (training is :mod:`skae._training`). Each function
takes the trained module (in eval mode) and scaled NumPy data, and returns NumPy
float64. The module runs under :func:`torch.inference_mode` and in eval mode
(:func:`inference`: never with dropout, whatever its ``training`` flag was),
batch by batch, on its own device (which measured faster than skorch's
``predict`` path, see ``shared/PERFORMANCE.md``); an output that is not finite
is a clear ValueError, and squared errors are taken in float64, so that a large
one does not overflow.

A series is converted once to a float32 tensor; its windows are strided views of
it (:meth:`torch.Tensor.unfold`), in the batches of
:func:`skae._windowing.window_batches` (the grid ``0, stride, ...`` and an
end-aligned tail window), and per-position values go back to time steps through
:class:`skae._windowing.StepAccumulator`, which holds the tail rule. So memory
grows with ``n_timesteps * n_features``, never with ``n_timesteps *
window_size``. Equal-length sequences are run as slices of one array;
variable-length ones in batches of similar length, padded by :func:`pad_batch`.
"""

import contextlib

import numpy as np
import torch

from ._windowing import StepAccumulator, window_batches

# Windows (or sequences) per forward pass when scoring; 64 to 256 measured
# fastest on CPU.
BATCH_SIZE = 256
# Most padded time steps in one scoring batch of variable-length sequences (256
# windows of 128 steps): batch tensors stay small whatever the longest sequence.
MAX_BATCH_STEPS = 32768

DEVICE_FORMS = (
    '"auto", "cpu", "cuda", "cuda:N" (N a GPU index) or "mps" (Apple GPUs, where '
    "available)"
)


def _mps_available():
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def resolve_device(device):
    """Return the torch device string to train on.

    ``"auto"`` picks ``"cuda"`` when a GPU is visible and ``"cpu"`` otherwise; an
    explicit CUDA device on a machine without one is an error, not a silent fallback.

    Parameters
    ----------
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Returns
    -------
    device : str

    Raises
    ------
    ValueError
        For a string that is not one of these forms, or names a device this
        machine does not have.
    """
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
    """Run the block under :func:`torch.inference_mode`, ``module`` in eval mode.

    Scores must not depend on the module's ``training`` flag: in train mode,
    dropout between stacked LSTM layers would make them random. Training
    (``fit``, ``partial_fit``) leaves the module in eval mode, but code outside
    skae may have switched it (``net_.module_.train()``), so the flag is set
    here, to eval only, and left so: no scoring ever needs train mode.
    """
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
    """Return ``(x - x_hat) ** 2`` elementwise, for arrays or tensors, in their dtype.

    Scoring passes float64 (a large deviation squared would overflow float32);
    the training loss, float32 tensors.
    """
    return (x - x_hat) ** 2


NON_FINITE_OUTPUT = (
    "The network's output is not finite for this input: X has values too far "
    "outside the range of the training data for the float32 network. Check X for "
    "extreme values or rescale it."
)


def _checked(output):
    """Return ``output``; a NaN or infinity in it is a clear error.

    Inputs are checked before they get here, so a NaN or infinity here means values
    so large (relative to the training data) that the float32 network overflows.
    """
    if not bool(torch.isfinite(output).all()):
        raise ValueError(NON_FINITE_OUTPUT)
    return output


def _numpy(tensor):
    return tensor.detach().to("cpu", torch.float64).numpy()


def _series_tensor(module, series):
    series = np.ascontiguousarray(series, dtype=np.float32)
    return torch.as_tensor(series, device=module_device(module))


def _window_batches(x, window_size, stride, batch_size):
    """Yield ``(starts, tail, windows)``: the windows of a series tensor ``x`` in
    the batches of :func:`skae._windowing.window_batches`, each batch one
    contiguous tensor ``(len(starts), window_size, n_features)`` cut from a view."""
    view = x.unfold(0, window_size, 1)  # (n_windows, n_features, window_size)
    batch_size = batch_size or BATCH_SIZE
    for starts, tail in window_batches(len(x), window_size, stride, batch_size):
        batch = view[int(starts[0]) : int(starts[-1]) + 1 : stride]
        yield starts, tail, batch.transpose(1, 2).contiguous()


def local_mean(errors, radius):
    """Return the mean of each window's errors over the positions within ``radius``.

    This is ``score_smoothing``: a step's value inside a window becomes the mean of
    that window's values at the steps within ``radius`` of it, cut at the window's
    ends. It only looks inside one window, so a step's score still depends on the
    windows that cover it and nothing else.

    Parameters
    ----------
    errors : Tensor of shape (n_windows, window_size, ...)
        Errors per window and position (and per feature, on further axes).
    radius : int
        Half-width of the neighbourhood, in positions; ``0`` returns ``errors``.

    Returns
    -------
    smoothed : Tensor of the shape and dtype of ``errors``
        ``smoothed[w, p] = errors[w, max(0, p - radius) : p + radius + 1].mean(0)``.

    Examples
    --------
    >>> import torch
    >>> from skae._net import local_mean
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
    """Squared errors of a batch of windows, ``(n_windows, window_size, n_values)``:
    per feature, or their mean (one value) with ``mean_features``; smoothed inside
    each window over ``smoothing`` positions on either side."""
    errors = squared_error(windows.double(), _checked(module(windows)).double())
    if mean_features:
        errors = errors.mean(dim=-1, keepdim=True)
    return local_mean(errors, smoothing)


def _step_means(module, series, window_size, stride, batch_size, n_values, run):
    """Mean over the windows covering each step of ``run(windows)``, a per-position
    tensor ``(n_windows, window_size, n_values)``."""
    steps = StepAccumulator(len(series), window_size, (n_values,))
    with inference(module):
        x = _series_tensor(module, series)
        batches = _window_batches(x, window_size, stride, batch_size)
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
    """Return each step's squared errors: the mean over the windows covering it.

    Parameters
    ----------
    module : LSTMAutoencoder
    series : ndarray of shape (n_timesteps, n_features)
        At least one window long.
    window_size : int
    stride : int
        Steps between the starts of consecutive windows; at most ``window_size``
        so that every step is covered by a grid window or by the tail window.
    smoothing : int, default=0
        Inside each window, replace each position's error by the mean over the
        positions within ``smoothing`` of it (:func:`local_mean`)
        before averaging over windows.
    mean_features : bool, default=False
        Average the errors over features inside each batch, so that one value per
        step is accumulated (the squared-error score needs no more).
    batch_size : int, default=None
        Windows per forward pass; None is ``BATCH_SIZE``.

    Returns
    -------
    errors : ndarray of shape (n_timesteps, n_features), or (n_timesteps, 1) with \
``mean_features``
    """
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
    """Return the reconstruction of a (scaled) series, ``(n_timesteps,
    n_features)``: each step's mean over the reconstructions of all the windows
    covering it (stride 1)."""
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

    Step ``t`` is judged by the window that ends at ``t``: its squared errors at
    its last ``smoothing + 1`` positions, averaged. A step with fewer than
    ``window_size - 1`` steps before it (in ``series``) is judged by the prefix
    ``series[: t + 1]`` instead, which the LSTM reads like any sequence. So the
    value of step ``t`` depends on ``series[max(0, t - window_size + 1) : t + 1]``
    only: appending data changes no value, and the latency is 0.

    Parameters
    ----------
    module, series, window_size
        As for :func:`series_errors`, but ``series`` may be shorter than a window.
    smoothing : int, default=0
        Average the errors of the last ``smoothing + 1`` positions of the window
        (of the prefix, when it is shorter): the causal half of
        ``score_smoothing``.
    mean_features : bool, default=False
        Average over features first; the result then has one column.
    n_context : int, default=0
        The first ``n_context`` steps are context only: they are read by the
        windows of later steps but get no value themselves.
    batch_size : int, default=None
        Windows per forward pass; None is ``BATCH_SIZE``.

    Returns
    -------
    errors : ndarray of shape (n_timesteps - n_context, n_features), or \
(n_timesteps - n_context, 1) with ``mean_features``
    """
    n_timesteps, n_features = series.shape
    positions = smoothing + 1
    result = np.empty((n_timesteps - n_context, 1 if mean_features else n_features))
    with inference(module):
        x = _series_tensor(module, series)
        # the first steps: prefixes, one short forward pass each
        for t in range(n_context, min(window_size - 1, n_timesteps)):
            errors = _window_errors(module, x[None, : t + 1], 0, mean_features)
            result[t - n_context] = _numpy(errors[0, -positions:].mean(dim=0))
        first_window = max(n_context, window_size - 1) - (window_size - 1)
        if n_timesteps < window_size or first_window > n_timesteps - window_size:
            return result
        # (n_windows, n_features, window_size), a view of x; window j ends at
        # step j + window_size - 1
        windows = x.unfold(0, window_size, 1)
        n_windows = n_timesteps - window_size + 1
        batch_size = batch_size or BATCH_SIZE
        for start in range(first_window, n_windows, batch_size):
            stop = min(start + batch_size, n_windows)
            batch = windows[start:stop].transpose(1, 2).contiguous()
            errors = _window_errors(module, batch, 0, mean_features)
            first_step = start + window_size - 1 - n_context
            result[first_step : first_step + stop - start] = _numpy(
                errors[:, -positions:].mean(dim=1)
            )
    return result


def window_codes(module, series, window_size, stride, *, batch_size=None):
    """Return the latent code of each window of a series: the grid ``0, stride,
    ...`` and, when it misses the last steps, the end-aligned tail window.

    Returns
    -------
    codes : ndarray of shape (n_windows, hidden_size)
    """
    with inference(module):
        x = _series_tensor(module, series)
        batches = _window_batches(x, window_size, stride, batch_size)
        return np.concatenate(
            [_numpy(_checked(module.encode(windows))) for _, _, windows in batches]
        )


def step_codes(module, series, window_size, *, batch_size=None):
    """Return one code per step: the code of the window that ends at the step.

    A step with fewer than ``window_size - 1`` steps before it gets the code of
    the prefix up to it: the encoder's last-layer state after reading
    ``series[: t + 1]``, which is what :meth:`LSTMAutoencoder.encode` returns for
    that prefix.

    Returns
    -------
    codes : ndarray of shape (n_timesteps, hidden_size)
    """
    n_timesteps = len(series)
    head = min(window_size, n_timesteps)
    codes = np.empty((n_timesteps, module.hidden_size))
    with inference(module):
        x = _series_tensor(module, series)
        output, _ = module.encoder(x[None, :head])
        codes[:head] = _numpy(output[0])
        if n_timesteps > window_size:
            for starts, _, windows in _window_batches(x, window_size, 1, batch_size):
                codes[starts + window_size - 1] = _numpy(
                    _checked(module.encode(windows))
                )
    return codes


def equal_length_errors(module, sequences, batch_size=None, *, mean=False):
    """Return the squared errors of equal-length (scaled) sequences, one float64
    array ``(n_sequences, seq_len, n_features)``, of the same shape; with
    ``mean``, each sequence's mean squared error, ``(n_sequences,)``, taken per
    batch (no per-position array).

    Each batch is a slice of one float32 tensor: no padding, sorting or
    per-sequence work (:func:`sequence_errors` of a list of them gives the same
    values). The errors are taken against the float64 input.
    """
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
    """Yield index arrays of consecutive runs of the length-sorted sequences.

    A batch holds at most ``batch_size`` sequences and, unless it is a single
    sequence, at most ``max_steps`` padded time steps (members times the longest
    member), so the padding of all batches together stays a small share of the
    total length.
    """
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
    """Return ``run(x, lengths)`` of each sequence, in the order of ``sequences``,
    from batches of similar length (:func:`length_sorted_batches`); a sequence's
    result does not depend on which others share its batch."""
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
    """Return the reconstruction of each of a list of (scaled) sequences of any
    lengths: a list of arrays ``(seq_len_i, n_features)``."""
    padded = _by_length(module, sequences, batch_size, module)
    return [r[: len(s)] for r, s in zip(padded, sequences, strict=True)]


def sequence_errors(module, sequences, *, batch_size=None):
    """Return the per-position, per-feature squared errors of (scaled) sequences:
    one array of their shape for one array ``(n_sequences, seq_len, n_features)``
    (:func:`equal_length_errors`), a list of arrays for a list."""
    if isinstance(sequences, np.ndarray):
        return equal_length_errors(module, sequences, batch_size)
    reconstructions = sequence_reconstructions(module, sequences, batch_size=batch_size)
    return [
        squared_error(np.asarray(s, dtype=np.float64), r)
        for s, r in zip(sequences, reconstructions, strict=True)
    ]


def sequence_codes(module, sequences, *, batch_size=None):
    """Return the latent code of each of a list of (scaled) sequences of any
    lengths, shape ``(n_sequences, hidden_size)``."""
    return np.stack(_by_length(module, sequences, batch_size, module.encode))
