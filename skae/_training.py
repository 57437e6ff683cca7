"""Training through skorch: the net, its callbacks, sequence batches, seeding.

``fit`` (:func:`fit_net`) and ``partial_fit`` (:func:`continue_training`) both
run skorch's loop on an :class:`AutoencoderNet` with the same callbacks. A
training run draws all its randomness from its own CPU :class:`torch.Generator`,
so fits in parallel threads are reproducible; dropout, which torch draws from
its global generator, runs under a lock with that generator seeded from the
run's own.
"""

import copy
import math
import re
import sys
import threading
from typing import NamedTuple

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    GradientNormClipping,
    LRScheduler,
    PrintLog,
)
from skorch.dataset import unpack_data
from skorch.helper import predefined_split
from skorch.utils import to_tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from . import _inference
from ._inference import module_device, squared_error
from ._module import LSTMAutoencoder
from ._window_batches import WindowBatches, WindowDataset

# Gradients are clipped to this L2 norm, so one bad batch cannot throw the
# weights far off at a learning rate large enough to learn fast.
GRADIENT_CLIP_NORM = 1.0
# Fewest windows in an epoch on a series: ``patience`` epochs of a short series
# are then still enough optimiser steps to judge a plateau.
MIN_WINDOWS_PER_EPOCH = 1024
# A held-out loss is a new best when it is this much (relative) below the best.
REL_TOLERANCE = 1e-2
# The learning rate is multiplied by this after a plateau of the held-out loss.
LR_DECAY = 0.5
# How many times the loss of predicting zero (plus one) the training loss may
# reach before training counts as diverged; see StopOnDivergence.
DIVERGENCE_FACTOR = 1e4
# The precisions a training step may run in; "auto" picks bfloat16 where the
# device has bfloat16 matrix units (see resolve_precision).
PRECISIONS = ("auto", "float32", "bfloat16")
# Most weights a network may have (4 GiB of float32): a typo such as
# hidden_size=100_000 would otherwise fail deep inside torch's allocator.
MAX_PARAMETERS = 2**30


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


class LengthBucketSampler(Sampler):
    """Batches of sequences of similar length, so padding stays small.

    With ``shuffle``, each epoch sorts pools of ``pool_batches`` batches of a
    random permutation by length, cuts them into batches and shuffles those
    (draws from ``generator``); without, batches are consecutive runs of the
    length-sorted sequences.
    """

    def __init__(self, lengths, batch_size, shuffle, pool_batches=16, generator=None):
        self.lengths = torch.as_tensor(np.asarray(lengths, dtype=np.int64))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.pool_batches = pool_batches
        self.generator = generator

    def __len__(self):
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True)
            yield from (b.tolist() for b in order.split(self.batch_size))
            return
        permutation = torch.randperm(len(self.lengths), generator=self.generator)
        batches = []
        for pool in permutation.split(self.batch_size * self.pool_batches):
            pool = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches.extend(pool.split(self.batch_size))
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i].tolist()


def length_bucketed_loader(
    dataset, batch_size, shuffle=False, generator=None, **kwargs
):
    """Return a ``DataLoader`` of length-bucketed batches of a :class:`SequenceDataset`
    (it draws a seed from ``generator`` at every pass too)."""
    sampler = LengthBucketSampler(
        [len(s) for s in dataset.sequences], batch_size, shuffle, generator=generator
    )
    return DataLoader(dataset, batch_sampler=sampler, generator=generator, **kwargs)


def collate_sequences(batch):
    """Collate ``(sequence, 0)`` pairs into one padded batch."""
    return _inference.pad_batch([item[0] for item in batch]), torch.zeros(len(batch))


def squared_errors(x, x_hat, lengths=None):
    """Return squared errors averaged over features, ``(batch, T)``; zero past
    each sequence's length."""
    errors = squared_error(x, x_hat).mean(dim=-1)
    if lengths is not None:
        steps = torch.arange(x.shape[1], device=x.device)
        errors = errors * (steps[None, :] < lengths.to(x.device)[:, None])
    return errors


def bfloat16_support(device_type):
    """Return ``(runs, fast)``: whether torch trains an LSTM under bfloat16
    autocast on ``device_type`` (on a CPU oneDNN needs AVX-512; it refuses on
    AVX2), and whether that is faster than float32 (a GPU that supports it, a
    CPU with AVX-512 BF16 instructions, as every CPU with AMX has)."""
    if device_type == "cuda":
        return (torch.cuda.is_bf16_supported(),) * 2
    if device_type != "cpu":
        return False, False
    # torch versions without these probes: try when asked, never by default
    runs = getattr(torch.cpu, "_is_avx512_supported", lambda: True)()
    return runs, getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()


def resolve_precision(precision, device, sequences=False):
    """Return ``"float32"`` or ``"bfloat16"``, the precision of training steps on
    ``device`` (``"auto"``: bfloat16 where it runs and is fast, for a series;
    packed sequences under bfloat16 fitted differently in threads than
    serially); a ValueError when bfloat16 cannot run there."""
    runs, fast = bfloat16_support(torch.device(device).type)
    if precision == "bfloat16" and not runs:
        raise ValueError(
            f"precision='bfloat16' cannot train on device {str(device)!r}: torch "
            "refuses an LSTM under bfloat16 autocast there (oneDNN needs AVX-512 "
            "on a CPU). Use precision='float32', or 'auto', which picks bfloat16 "
            "only where it runs and is faster."
        )
    if precision == "auto":
        return "bfloat16" if runs and fast and not sequences else "float32"
    return precision


def draws_dropout(module):
    """Return True when a training step of ``module`` draws dropout masks."""
    return any(
        isinstance(layer, torch.nn.RNNBase) and layer.num_layers > 1 and layer.dropout
        for layer in module.modules()
    )


def _cuda_indices(device):
    """Return ``[index]`` of a CUDA device, ``[]`` for any other device."""
    device = torch.device(device)
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


# Held while a training step draws dropout masks from torch's global generator.
_GLOBAL_RNG_LOCK = threading.Lock()


class AutoencoderNet(NeuralNet):
    """A skorch net whose target is its input: ``L = mean_t ||x_t - x^_t||^2``.

    Padded steps are masked out of the loss. With ``noise_std > 0``, training
    steps read the input plus Gaussian noise drawn from ``generator`` (a
    denoising autoencoder); ``generator`` also seeds dropout.
    """

    @property
    def _default_callbacks(self):
        return [
            (name, PlainPrintLog() if name == "print_log" else callback)
            for name, callback in super()._default_callbacks
        ]

    def __init__(
        self, *args, noise_std=0.0, generator=None, precision="float32", **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.noise_std = noise_std
        self.generator = generator
        self.precision = precision

    def _corrupt(self, X):
        """Return ``X`` plus noise, drawn on the CPU so any device gets the same."""
        if isinstance(X, dict):
            return {**X, "x": self._corrupt(X["x"])}
        x = to_tensor(X, device=self.device)
        noise = torch.randn(x.shape, generator=self.generator, dtype=x.dtype)
        return x + self.noise_std * noise.to(x.device)

    def train_step(self, batch, **fit_params):
        """Run one training step; with dropout, under the lock with the global
        generator seeded from the net's own and restored afterwards."""
        if self.generator is None or not draws_dropout(self.module_):
            return super().train_step(batch, **fit_params)
        seed = int(torch.randint(2**62, (), generator=self.generator))
        with (
            _GLOBAL_RNG_LOCK,
            torch.random.fork_rng(devices=_cuda_indices(self.device)),
        ):
            torch.manual_seed(seed)
            return super().train_step(batch, **fit_params)

    def train_step_single(self, batch, **fit_params):
        """Compute the loss of the input (plus noise) against its clean self, and
        backprop; the forward pass under bfloat16 autocast with that precision.

        Autocast is entered per step: around a whole fit its cache would keep
        the first step's bfloat16 copies of the weights, and nothing would learn.
        The weights, their gradients and Adam's state stay float32.
        """
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        bfloat16 = self.precision == "bfloat16"
        device_type = torch.device(self.device).type
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bfloat16):
            x = self._corrupt(Xi) if self.noise_std else Xi
            y_pred = self.infer(x, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Return the mean squared error of the reconstruction of ``X``; in float64
        for the held-out loss, whose data may lie far outside the training range."""
        if isinstance(X, dict):
            x, lengths = to_tensor(X["x"], device=self.device), X.get("lengths")
        else:
            x, lengths = to_tensor(X, device=self.device), None
        if not training:
            x, y_pred = x.double(), y_pred.double()
        if lengths is None:
            return self.criterion_(y_pred, x)
        errors = squared_errors(x, y_pred, lengths)
        return errors.sum() / lengths.to(errors.device).sum()


class TrainingDivergedError(FloatingPointError, ValueError):
    """Raised by ``fit`` and ``partial_fit`` when training diverges.

    That is, when a loss stops being finite or the training loss grows orders
    of magnitude beyond the scale of the data, usually from a far too large
    ``lr``. A ``partial_fit`` that raises it leaves the detector as it was.
    """


def _mean_square(X):
    """Return ``mean(x ** 2)`` over the real (unpadded) values of a batch."""
    x, lengths = (X["x"], X.get("lengths")) if isinstance(X, dict) else (X, None)
    x = torch.as_tensor(x).double()
    if lengths is None:
        return float(x.pow(2).mean())
    errors = squared_errors(x, torch.zeros_like(x), lengths)
    return float(errors.sum() / lengths.to(errors.device).sum())


class StopOnDivergence(Callback):
    """Raise :class:`TrainingDivergedError` as soon as training diverges.

    It diverges when a loss (after a training batch, or an epoch's held-out
    loss) is not finite, or when the training loss summed over the batches so
    far exceeds ``factor`` times the sum of ``mean(x ** 2) + 1`` (the loss of
    predicting zero, plus the scale of a fresh network's outputs). With
    ``judge_last_step``, the weights after the last step are judged on the last
    batch too, for training without a held-out loss.
    """

    def __init__(self, factor=DIVERGENCE_FACTOR, judge_last_step=False):
        self.factor = factor
        self.judge_last_step = judge_last_step

    def initialize(self):
        self.loss_sum_ = self.reference_sum_ = 0.0
        self.last_X_ = None
        return self

    def _judge(self, net, loss, X, when):
        if not math.isfinite(loss):
            self._raise(net, f"the training loss became {loss}{when}")
        self.loss_sum_ += loss
        self.reference_sum_ += _mean_square(X) + 1.0
        if self.loss_sum_ > self.factor * self.reference_sum_:
            self._raise(
                net,
                f"the training loss grew to {loss:.3g}{when}, more than "
                f"{self.factor:g} times the loss of predicting zero (plus one)",
            )

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            X = unpack_data(batch)[0]
            if self.judge_last_step:
                self.last_X_ = X
            loss = net.history[-1, "batches", -1, "train_loss"]
            self._judge(net, loss, X, f" in epoch {len(net.history)}")

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("valid_loss")
        if loss is not None and not math.isfinite(loss):
            self._raise(
                net, f"the held-out loss became {loss} in epoch {len(net.history)}"
            )

    def on_train_end(self, net, **kwargs):
        if self.judge_last_step and self.last_X_ is not None:
            X = self.last_X_
            y_pred = net.evaluation_step((X, None))
            loss = float(net.get_loss(y_pred, None, X=X, training=True))
            self.loss_sum_ = self.reference_sum_ = 0.0
            self._judge(net, loss, X, " after the last step")

    @staticmethod
    def _raise(net, what):
        raise TrainingDivergedError(
            f"Training diverged: {what}, so the weights are no longer usable. Use "
            f"a smaller learning rate (lr={net.lr:g} now), and keep "
            "standardize=True or rescale data with very large values."
        )


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class PlainPrintLog(PrintLog):
    """skorch's epoch table, without colour codes unless stdout is a terminal."""

    def _sink(self, text, verbose):
        if not verbose:
            return
        isatty = getattr(sys.stdout, "isatty", None)
        if not (isatty is not None and isatty()):
            text = _ANSI_ESCAPE.sub("", str(text))
        self.sink(text)


def training_callbacks(judge_last_step=False):
    """Return the callbacks of every training: divergence stop, gradient clipping."""
    return [
        ("stop_on_divergence", StopOnDivergence(judge_last_step=judge_last_step)),
        ("gradient_clipping", GradientNormClipping(GRADIENT_CLIP_NORM)),
    ]


def convergence_callbacks(patience):
    """Return :func:`training_callbacks`, a learning rate that halves after
    ``max(1, patience // 3)`` epochs without a new best held-out loss, and early
    stopping after ``patience`` such epochs that keeps the best weights."""
    plateau = {"threshold": REL_TOLERANCE, "threshold_mode": "rel"}
    return [
        *training_callbacks(),
        (
            "lr_schedule",
            LRScheduler(
                policy="ReduceLROnPlateau",
                monitor="valid_loss",
                factor=LR_DECAY,
                patience=max(1, patience // 3),
                **plateau,
            ),
        ),
        (
            "early_stopping",
            EarlyStopping(
                monitor="valid_loss", patience=patience, load_best=True, **plateau
            ),
        ),
    ]


class NetConfig(NamedTuple):
    """The network and training parameters of an autoencoder, named as the
    detector's parameters (:meth:`of` reads them from one)."""

    hidden_size: int
    num_layers: int
    dropout: float
    decoder_feed: str
    max_epochs: int
    batch_size: int
    lr: float
    patience: int
    noise_std: float
    max_windows_per_epoch: int | None
    precision: str

    @classmethod
    def of(cls, estimator):
        """Return the configuration that an estimator's parameters hold."""
        return cls(*(getattr(estimator, name) for name in cls._fields))


def _autoencoder_net(module, *, generator, **kwargs):
    """Return an :class:`AutoencoderNet` training with Adam, seeded by ``generator``."""
    return AutoencoderNet(
        module,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.Adam,
        generator=generator,
        iterator_train__shuffle=True,
        iterator_train__generator=generator,
        iterator_valid__generator=generator,
        **kwargs,
    )


def make_net(
    config,
    *,
    n_features,
    centered_features=None,
    device="cpu",
    verbose=0,
    train_split=None,
    sequences=False,
    generator=None,
):
    """Return an uninitialised :class:`AutoencoderNet` of the :class:`NetConfig`
    ``config``, as :func:`fit_net` trains it and a saved model rebuilds it."""
    if sequences:
        iterators = {
            "iterator_train": length_bucketed_loader,
            "iterator_valid": length_bucketed_loader,
            "iterator_train__collate_fn": collate_sequences,
            "iterator_valid__collate_fn": collate_sequences,
        }
    else:
        iterators = {
            "iterator_train": WindowBatches,
            "iterator_valid": WindowBatches,
            "iterator_train__max_windows": config.max_windows_per_epoch,
            "iterator_train__min_windows": MIN_WINDOWS_PER_EPOCH,
            "iterator_valid__max_windows": config.max_windows_per_epoch,
        }
    architecture = ("hidden_size", "num_layers", "dropout", "decoder_feed")
    return _autoencoder_net(
        LSTMAutoencoder,
        **{f"module__{name}": getattr(config, name) for name in architecture},
        module__n_features=n_features,
        module__centered_features=centered_features,
        module__generator=generator,
        lr=config.lr,
        max_epochs=config.max_epochs,
        batch_size=config.batch_size,
        noise_std=config.noise_std,
        generator=generator,
        precision=resolve_precision(config.precision, device),
        **iterators,
        train_split=train_split,
        callbacks=convergence_callbacks(config.patience),
        device=device,
        verbose=verbose,
    )


def check_network_size(config, n_features):
    """Raise a ValueError naming the parameters when the network would have more
    than ``MAX_PARAMETERS`` weights, counted before anything is allocated."""
    hidden_size, num_layers = config.hidden_size, config.num_layers

    def layers(n_in):
        first = 4 * hidden_size * (n_in + hidden_size + 2)
        return first + (num_layers - 1) * 4 * hidden_size * (2 * hidden_size + 2)

    decoder_in = hidden_size if config.decoder_feed == "repeat" else 1
    total = layers(n_features) + layers(decoder_in) + (hidden_size + 1) * n_features
    if total > MAX_PARAMETERS:
        raise ValueError(
            f"hidden_size={hidden_size} with num_layers={num_layers} and "
            f"{n_features} feature(s) makes a network of {total:,} weights "
            f"({4 * total / 2**30:,.1f} GiB in float32), more than the "
            f"{MAX_PARAMETERS:,} skae allows; use a smaller hidden_size or "
            "num_layers."
        )


def _generator(seed):
    """Return a CPU generator seeded with ``seed``, or unpredictably when None."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


def fit_net(
    train_dataset,
    valid_dataset,
    config,
    *,
    n_features,
    centered_features,
    device,
    verbose,
    seed,
):
    """Train a new network of the :class:`NetConfig` ``config``, stopping early on
    the loss of ``valid_dataset``, and return the net; ``seed`` None draws one."""
    check_network_size(config, n_features)
    net = make_net(
        config,
        n_features=n_features,
        centered_features=centered_features,
        device=device,
        verbose=verbose,
        train_split=predefined_split(valid_dataset),
        sequences=isinstance(train_dataset, SequenceDataset),
        generator=_generator(seed),
    )
    net.fit(train_dataset, y=None)
    net.module_.eval()
    return net


def continue_training(
    module,
    series,
    window_size,
    starts,
    *,
    batch_size,
    lr,
    seed,
    noise_std=0.0,
    max_windows=None,
    precision="float32",
):
    """Train ``module`` for one epoch over the windows at ``starts``, as
    ``partial_fit`` does; return the mean training loss (NaN without windows).

    The epoch trains a copy of ``module`` with a fresh Adam and the callbacks of
    ``fit``, visiting ``max_windows`` windows (None: each once) in random orders
    drawn from ``seed``, its steps in ``precision``. The copy's weights replace
    the module's only when it has not diverged (else
    :class:`TrainingDivergedError`).
    """
    if len(starts) == 0:
        return float("nan")
    generator = _generator(seed)
    # the draw that came first when partial_fit seeded dropout once per call;
    # kept so that the window order and the noise are drawn as before
    torch.randint(2**62, (), generator=generator)
    n_visits = len(starts) if max_windows is None else max_windows
    net = _autoencoder_net(
        copy.deepcopy(module),
        generator=generator,
        lr=lr,
        batch_size=batch_size,
        noise_std=noise_std,
        precision=resolve_precision(precision, module_device(module)),
        iterator_train=WindowBatches,
        iterator_train__max_windows=n_visits,
        iterator_train__min_windows=n_visits,
        train_split=None,
        callbacks=training_callbacks(judge_last_step=True),
        device=str(module_device(module)),
        verbose=0,
    ).initialize()
    dataset = WindowDataset(series, window_size, starts)
    try:
        # not net.partial_fit, which would swallow a KeyboardInterrupt and
        # keep the half-trained weights
        net.notify("on_train_begin", X=dataset, y=None)
        net.fit_loop(dataset, epochs=1)
        net.notify("on_train_end", X=dataset, y=None)
    except TrainingDivergedError as error:
        raise TrainingDivergedError(
            f"partial_fit left the detector as it was. {error}"
        ) from None
    net.module_.eval()
    module.load_state_dict(net.module_.state_dict())
    return float(net.history[-1, "train_loss"])
