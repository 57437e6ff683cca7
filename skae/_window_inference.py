"""Batched inference over the windows of a long series, in bounded memory.

The series is converted once to a float32 tensor on the model's device; batches of
windows are strided views of it (:meth:`torch.Tensor.unfold`), so the only copies
are one batch at a time. Per-position outputs are summed per time step on the
device and divided by the number of covering windows at the end, so memory grows
with ``n_timesteps * n_features``, never with ``n_timesteps * window_size``.

Windows follow :func:`skae._windowing.window_starts`: a grid ``0, stride, ...``
plus an end-aligned tail window that only fills the steps no grid window covers,
which keeps the promise that appending data changes only the values of the last
``window_size - 1`` steps.
"""

import numpy as np
import torch

from ._net import NON_FINITE_OUTPUT, module_device
from ._scoring import local_mean
from ._windowing import window_starts

OUTPUTS = ("errors", "reconstruction")


def _outputs(module, x, what, smoothing=0, mean_features=False):
    x_hat = module(x)
    if not bool(torch.isfinite(x_hat).all()):
        raise ValueError(NON_FINITE_OUTPUT)
    if what == "reconstruction":
        return x_hat
    # in float64: a large deviation squared would overflow float32 to inf
    errors = (x.double() - x_hat.double()).pow(2)
    if mean_features:
        errors = errors.mean(dim=-1, keepdim=True)
    return local_mean(errors, smoothing)


def _grid_counts(n_timesteps, window_size, grid_starts):
    """Return how many grid windows cover each step (a difference array)."""
    diff = np.zeros(n_timesteps + 1)
    diff[grid_starts] += 1
    diff[grid_starts + window_size] -= 1
    return np.cumsum(diff[:-1])


def series_step_means(
    module,
    series,
    window_size,
    stride,
    batch_size,
    what,
    smoothing=0,
    mean_features=False,
):
    """Return the mean over covering windows of a per-position output, per step.

    Parameters
    ----------
    module : LSTMAutoencoder
        The trained module, in eval mode.
    series : ndarray of shape (n_timesteps, n_features)
        The (scaled) series, at least one window long.
    window_size : int
        Length of a window.
    stride : int
        Steps between the starts of consecutive windows; at most ``window_size``
        so that every step is covered by a grid window or by the tail window.
    batch_size : int
        Windows per forward pass.
    what : {"errors", "reconstruction"}
        ``"errors"``: squared reconstruction error of every value;
        ``"reconstruction"``: the reconstructed values.
    smoothing : int, default=0
        With ``what="errors"``: inside each window, replace each position's error
        by the mean over the positions within ``smoothing`` of it
        (:func:`skae._scoring.local_mean`) before averaging over windows.
    mean_features : bool, default=False
        With ``what="errors"``: average the errors over features inside each
        batch, so that only one value per step is accumulated (the squared-error
        score needs no more); the result then has one column.

    Returns
    -------
    values : ndarray of shape (n_timesteps, n_features) or (n_timesteps, 1), float64
    """
    if what not in OUTPUTS:
        raise ValueError(f"what must be one of {OUTPUTS}, got {what!r}.")
    n_timesteps, n_features = series.shape
    n_values = 1 if mean_features and what == "errors" else n_features
    grid_starts, tail_start = window_starts(n_timesteps, window_size, stride)
    device = module_device(module)
    with torch.inference_mode():
        x = torch.as_tensor(
            np.ascontiguousarray(series, dtype=np.float32), device=device
        )
        # (n_windows, n_features, window_size), a view of x
        windows = x.unfold(0, window_size, 1)
        sums = torch.zeros(n_timesteps, n_values, dtype=torch.float64, device=device)
        positions = torch.arange(window_size, device=device)
        for first in range(0, len(grid_starts), batch_size):
            count = min(batch_size, len(grid_starts) - first)
            start = first * stride
            batch = windows[start : start + (count - 1) * stride + 1 : stride]
            values = _outputs(
                module,
                batch.transpose(1, 2).contiguous(),
                what,
                smoothing,
                mean_features,
            )
            index = start + (
                torch.arange(count, device=device)[:, None] * stride + positions
            )
            sums.index_add_(0, index.reshape(-1), values.reshape(-1, n_values).double())
        counts = _grid_counts(n_timesteps, window_size, grid_starts)
        if tail_start is not None:
            # the tail window fills only the steps after the last grid window
            uncovered = int(grid_starts[-1]) + window_size
            tail = windows[tail_start : tail_start + 1].transpose(1, 2).contiguous()
            values = _outputs(module, tail, what, smoothing, mean_features)
            values = values[0, uncovered - tail_start :]
            sums[uncovered:] = values.double()
            counts[uncovered:] = 1
        result = sums.cpu().numpy()
    result /= counts[:, None]
    return result


def causal_step_errors(
    module,
    series,
    window_size,
    batch_size,
    smoothing=0,
    mean_features=False,
    n_context=0,
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
    module : LSTMAutoencoder
        The trained module, in eval mode.
    series : ndarray of shape (n_timesteps, n_features)
        The (scaled) series, at least one step long.
    window_size : int
        Length of a window.
    batch_size : int
        Windows per forward pass.
    smoothing : int, default=0
        Average the errors of the last ``smoothing + 1`` positions of the window
        (of the prefix, when it is shorter): the causal half of
        ``score_smoothing``.
    mean_features : bool, default=False
        Average over features first; the result then has one column.
    n_context : int, default=0
        The first ``n_context`` steps are context only: they are read by the
        windows of later steps but get no value themselves.

    Returns
    -------
    values : ndarray of shape (n_timesteps - n_context, n_features) or \
(n_timesteps - n_context, 1), float64
    """
    n_timesteps, n_features = series.shape
    n_values = 1 if mean_features else n_features
    positions = smoothing + 1
    device = module_device(module)
    result = np.empty((n_timesteps - n_context, n_values))
    with torch.inference_mode():
        x = torch.as_tensor(
            np.ascontiguousarray(series, dtype=np.float32), device=device
        )
        # the first steps: prefixes, one short forward pass each
        for t in range(n_context, min(window_size - 1, n_timesteps)):
            errors = _outputs(module, x[None, : t + 1], "errors", 0, mean_features)
            result[t - n_context] = _to_numpy(errors[0, -positions:].mean(dim=0))
        first_window = max(n_context, window_size - 1) - (window_size - 1)
        if n_timesteps < window_size or first_window > n_timesteps - window_size:
            return result
        # (n_windows, n_features, window_size), a view of x; window j ends at
        # step j + window_size - 1
        windows = x.unfold(0, window_size, 1)
        n_windows = n_timesteps - window_size + 1
        for start in range(first_window, n_windows, batch_size):
            stop = min(start + batch_size, n_windows)
            batch = windows[start:stop].transpose(1, 2).contiguous()
            errors = _outputs(module, batch, "errors", 0, mean_features)
            first_step = start + window_size - 1 - n_context
            result[first_step : first_step + stop - start] = _to_numpy(
                errors[:, -positions:].mean(dim=1)
            )
    return result


def _to_numpy(tensor):
    return tensor.to("cpu", torch.float64).numpy()
