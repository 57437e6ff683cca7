"""All skorch and torch glue: datasets, the net, device choice, seeding, inference.

Training goes through skorch (its loop, callbacks and epoch table); scoring runs the
module directly under :func:`torch.inference_mode`, batch by batch, which measured
faster than skorch's ``predict`` path (see ``shared/PERFORMANCE.md``). Everything that
leaves this module is NumPy float64.
"""

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import unpack_data
from skorch.helper import predefined_split
from skorch.utils import to_tensor
from torch.utils.data import Dataset

from ._module import LSTMAutoencoder
from ._window_batches import WindowBatches


def resolve_device(device):
    """Return the torch device string to train on.

    ``"auto"`` picks ``"cuda"`` when a GPU is visible and ``"cpu"`` otherwise; an
    explicit CUDA device on a machine without one is an error, not a silent fallback.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            'machine; use device="cpu" or device="auto".'
        )
    return str(device)


def module_device(module):
    """Return the device the module's parameters live on."""
    return next(module.parameters()).device


class WindowDataset(Dataset):
    """Windows of a series, cut on demand from one tensor (no copy per window)."""

    def __init__(self, series, window_size, starts):
        self.series = torch.as_tensor(np.ascontiguousarray(series, dtype=np.float32))
        self.window_size = window_size
        self.starts = np.asarray(starts)

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, i):
        start = int(self.starts[i])
        return self.series[start : start + self.window_size], 0


class SequenceDataset(Dataset):
    """Sequences of possibly different lengths."""

    def __init__(self, sequences):
        self.sequences = [
            torch.as_tensor(np.ascontiguousarray(s, dtype=np.float32))
            for s in sequences
        ]

    def __len__(self):
        return len(self.sequences)

    def __getitem__(self, i):
        return self.sequences[i], 0


def pad_batch(sequences):
    """Return ``{"x": padded, "lengths": lengths}``; no lengths when all are equal."""
    lengths = torch.tensor([len(s) for s in sequences])
    padded = torch.nn.utils.rnn.pad_sequence(sequences, batch_first=True)
    if bool((lengths == lengths[0]).all()):
        return {"x": padded}
    return {"x": padded, "lengths": lengths}


def collate_sequences(batch):
    """Collate ``(sequence, 0)`` pairs into a padded batch for skorch."""
    return pad_batch([item[0] for item in batch]), torch.zeros(len(batch))


def squared_errors(x, x_hat, lengths=None):
    """Return per-position squared errors averaged over features, shape (batch, T).

    Positions past a sequence's length are set to zero.
    """
    errors = (x - x_hat).pow(2).mean(dim=-1)
    if lengths is not None:
        mask = (
            torch.arange(x.shape[1], device=x.device)[None, :]
            < lengths.to(x.device)[:, None]
        )
        errors = errors * mask
    return errors


class AutoencoderNet(NeuralNet):
    """A skorch net whose target is its input: ``L = mean_t ||x_t - x^_t||^2``.

    Padded steps of variable-length batches are masked out of the loss.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Return the mean squared reconstruction error of the batch (``y_true`` is
        unused: the target is ``X``)."""
        if isinstance(X, dict):
            x = to_tensor(X["x"], device=self.device)
            lengths = X.get("lengths")
        else:
            x, lengths = to_tensor(X, device=self.device), None
        if lengths is None:
            return self.criterion_(y_pred, x)
        errors = squared_errors(x, y_pred, lengths)
        return errors.sum() / lengths.to(errors.device).sum()


def fit_net(
    train_dataset,
    valid_dataset,
    *,
    n_features,
    hidden_size,
    num_layers,
    dropout,
    decoder_feed,
    max_epochs,
    batch_size,
    lr,
    patience,
    device,
    verbose,
    seed,
    max_windows_per_epoch=None,
):
    """Train an :class:`LSTMAutoencoder` through skorch and return the net.

    Early stopping watches the loss on ``valid_dataset`` and restores the best
    weights. With ``seed`` set, all of torch's randomness (initial weights, batch
    order, dropout) is drawn from a generator seeded with it, inside
    :func:`torch.random.fork_rng` so the caller's global generator is untouched.
    Windows of a series are batched by :class:`WindowBatches` (one indexing op per
    batch); ``max_windows_per_epoch`` bounds an epoch to a random sample of the
    training windows and the held-out loss to a fixed, evenly spaced subset.
    """
    if isinstance(train_dataset, SequenceDataset):
        iterators = {
            "iterator_train__collate_fn": collate_sequences,
            "iterator_valid__collate_fn": collate_sequences,
        }
    else:
        iterators = {
            "iterator_train": WindowBatches,
            "iterator_valid": WindowBatches,
            "iterator_train__max_windows": max_windows_per_epoch,
            "iterator_valid__max_windows": max_windows_per_epoch,
        }
    net = AutoencoderNet(
        LSTMAutoencoder,
        module__n_features=n_features,
        module__hidden_size=hidden_size,
        module__num_layers=num_layers,
        module__dropout=dropout,
        module__decoder_feed=decoder_feed,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        **iterators,
        train_split=predefined_split(valid_dataset),
        callbacks=[
            (
                "early_stopping",
                EarlyStopping(monitor="valid_loss", patience=patience, load_best=True),
            )
        ],
        device=device,
        verbose=verbose,
    )
    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        net.fit(train_dataset, y=None)
    net.module_.eval()
    return net


def _to_numpy(tensor):
    return tensor.detach().to("cpu", torch.float64).numpy()


def window_errors(module, windows):
    """Return per-position reconstruction errors of a batch of windows.

    Parameters
    ----------
    module : LSTMAutoencoder
    windows : ndarray of shape (n_windows, window_size, n_features)

    Returns
    -------
    errors : ndarray of shape (n_windows, window_size, n_features)
        Squared error of every value (average over the last axis for the
        per-position error).
    """
    device = module_device(module)
    with torch.inference_mode():
        x = torch.as_tensor(
            np.ascontiguousarray(windows, dtype=np.float32), device=device
        )
        return _to_numpy((x - module(x)).pow(2))


def window_reconstructions(module, windows):
    """Return the reconstruction of a batch of windows, same shape as ``windows``."""
    device = module_device(module)
    with torch.inference_mode():
        x = torch.as_tensor(
            np.ascontiguousarray(windows, dtype=np.float32), device=device
        )
        return _to_numpy(module(x))


def window_codes(module, windows):
    """Return the latent codes of a batch of windows, shape (n_windows, hidden)."""
    device = module_device(module)
    with torch.inference_mode():
        x = torch.as_tensor(
            np.ascontiguousarray(windows, dtype=np.float32), device=device
        )
        return _to_numpy(module.encode(x))


def sequence_outputs(module, sequences, batch_size, what):
    """Run the module over variable-length sequences, batch by batch.

    Sequences are batched in order of length so that padding stays small; a
    sequence's result does not depend on which others share its batch.

    Parameters
    ----------
    module : LSTMAutoencoder
    sequences : list of ndarray of shape (seq_len_i, n_features)
    batch_size : int
    what : {"errors", "reconstruction", "codes"}
        ``"errors"``: per-position, per-feature squared errors
        ``(seq_len_i, n_features)``; ``"reconstruction"``: ``(seq_len_i,
        n_features)``; ``"codes"``: ``(hidden_size,)``.

    Returns
    -------
    outputs : list of ndarray, in the order of ``sequences``
    """
    device = module_device(module)
    order = np.argsort([len(s) for s in sequences], kind="stable")
    outputs = [None] * len(sequences)
    with torch.inference_mode():
        for first in range(0, len(order), batch_size):
            index = order[first : first + batch_size]
            batch = pad_batch(
                [torch.as_tensor(sequences[i], dtype=torch.float32) for i in index]
            )
            x = batch["x"].to(device)
            lengths = batch.get("lengths")
            if what == "codes":
                result = _to_numpy(module.encode(x, lengths))
            else:
                x_hat = module(x, lengths)
                out = x_hat if what == "reconstruction" else (x - x_hat).pow(2)
                result = _to_numpy(out)
            for row, i in enumerate(index):
                out_i = result[row]
                outputs[i] = out_i if what == "codes" else out_i[: len(sequences[i])]
    return outputs


__all__ = [
    "AutoencoderNet",
    "SequenceDataset",
    "WindowDataset",
    "fit_net",
    "resolve_device",
    "sequence_outputs",
    "unpack_data",
    "window_codes",
    "window_errors",
    "window_reconstructions",
]
