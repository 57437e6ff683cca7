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
from torch.utils.data import DataLoader, Dataset, Sampler

from ._module import LSTMAutoencoder


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


class LengthBucketSampler(Sampler):
    """Batches of sequences of similar length, so padding stays proportional to
    the total length.

    Each epoch draws a random permutation, cuts it into pools of ``pool_batches``
    batches, sorts each pool by length and cuts it into batches, then shuffles the
    order of the batches. Without ``shuffle`` the batches are simply consecutive
    runs of the length-sorted sequences. All randomness comes from torch's global
    generator, which :func:`fit_net` seeds.

    Parameters
    ----------
    lengths : sequence of int
        Length of each sequence of the dataset.
    batch_size : int
        Sequences per batch.
    shuffle : bool
        Draw new batches in a random order every epoch.
    pool_batches : int, default=16
        Batches per sorted pool: larger pools pad less, smaller pools mix more.
    """

    def __init__(self, lengths, batch_size, shuffle, pool_batches=16):
        self.lengths = torch.as_tensor(np.asarray(lengths, dtype=np.int64))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.pool_batches = pool_batches

    def __len__(self):
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        n = len(self.lengths)
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True)
            yield from (b.tolist() for b in order.split(self.batch_size))
            return
        permutation = torch.randperm(n)
        batches = []
        for pool in permutation.split(self.batch_size * self.pool_batches):
            pool = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches.extend(pool.split(self.batch_size))
        for i in torch.randperm(len(batches)).tolist():
            yield batches[i].tolist()


def length_bucketed_loader(dataset, batch_size, shuffle=False, **kwargs):
    """A ``DataLoader`` over a :class:`SequenceDataset` with length-bucketed batches.

    Takes the arguments skorch gives its iterators (``batch_size``, ``shuffle``,
    ``collate_fn``, ...).
    """
    sampler = LengthBucketSampler(
        [len(s) for s in dataset.sequences], batch_size, shuffle
    )
    return DataLoader(dataset, batch_sampler=sampler, **kwargs)


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

    Padded steps of variable-length batches are masked out of the loss. With
    ``noise_std > 0`` it trains a denoising autoencoder: during training steps the
    module reads its input plus Gaussian noise of that standard deviation, while
    the loss compares the output with the clean input. Validation and inference
    see clean inputs.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`.
    noise_std : float, default=0.0
        Standard deviation of the training noise, in the units of the input.
    """

    def __init__(self, *args, noise_std=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.noise_std = noise_std

    def _corrupt(self, X):
        """Return ``X`` plus noise, drawn from torch's (seeded) global generator."""
        if isinstance(X, dict):
            return {**X, "x": self._corrupt(X["x"])}
        x = to_tensor(X, device=self.device)
        return x + self.noise_std * torch.randn_like(x)

    def train_step_single(self, batch, **fit_params):
        """Compute the loss of a noisy input against its clean self, and backprop."""
        if not self.noise_std:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(self._corrupt(Xi), **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

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
    noise_std=0.0,
):
    """Train an :class:`LSTMAutoencoder` through skorch and return the net.

    Early stopping watches the loss on ``valid_dataset`` and restores the best
    weights. With ``seed`` set, all of torch's randomness (initial weights, batch
    order, dropout, training noise) is drawn from a generator seeded with it, inside
    :func:`torch.random.fork_rng` so the caller's global generator is untouched.
    Variable-length sequences are batched by length (:class:`LengthBucketSampler`).
    """
    ragged = isinstance(train_dataset, SequenceDataset)
    collate = collate_sequences if ragged else None
    iterator = length_bucketed_loader if ragged else DataLoader
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
        noise_std=noise_std,
        iterator_train=iterator,
        iterator_valid=iterator,
        iterator_train__shuffle=True,
        iterator_train__collate_fn=collate,
        iterator_valid__collate_fn=collate,
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


def prefix_codes(module, series):
    """Return the code of every prefix of a short series, shape (n_steps, hidden).

    Row ``t`` is the encoder's last-layer state after reading ``series[: t + 1]``,
    which is what :meth:`LSTMAutoencoder.encode` returns for that prefix.
    """
    device = module_device(module)
    with torch.inference_mode():
        x = torch.as_tensor(
            np.ascontiguousarray(series, dtype=np.float32), device=device
        )
        output, _ = module.encoder(x.unsqueeze(0))
        return _to_numpy(output[0])


# Most padded time steps in one scoring batch of variable-length sequences (256
# windows of 128 steps): batch tensors stay small whatever the longest sequence.
MAX_BATCH_STEPS = 32768


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


def sequence_outputs(module, sequences, batch_size, what):
    """Run the module over variable-length sequences, batch by batch.

    Sequences are batched in order of length (:func:`length_sorted_batches`) so
    that padding stays small; a sequence's result does not depend on which others
    share its batch.

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
    outputs = [None] * len(sequences)
    with torch.inference_mode():
        for index in length_sorted_batches([len(s) for s in sequences], batch_size):
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
    "LengthBucketSampler",
    "SequenceDataset",
    "WindowDataset",
    "fit_net",
    "length_bucketed_loader",
    "length_sorted_batches",
    "prefix_codes",
    "resolve_device",
    "sequence_outputs",
    "unpack_data",
    "window_codes",
    "window_errors",
    "window_reconstructions",
]
