"""Training through skorch: datasets, batching, the net, its callbacks, seeding.

Training goes through skorch (its loop, callbacks and epoch table); the trained
module is then run by :mod:`skae._net`, the only code that runs it on data outside
training.

Randomness: a fit owns a :class:`torch.Generator`, seeded from ``random_state``, that
draws the initial weights, the batch order and the training noise, so that fits in
parallel threads (``GridSearchCV(n_jobs=k)`` with a threading backend) give the
results they give one after another, and torch's global generator is never used.
The one exception is dropout between stacked LSTM layers, which torch draws from the
global generator: those training steps run under a process-wide lock, with the
global generator seeded from the fit's own one and restored afterwards (on CUDA,
cuDNN keeps a dropout state of its own, which a fit's seed does not reach).
"""

import contextlib
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

from . import _net
from ._module import LSTMAutoencoder
from ._net import module_device, squared_error
from ._window_batches import WindowBatches


def _cuda_indices(device):
    """Return ``[index]`` of a CUDA device string, ``[]`` for any other device."""
    device = torch.device(device)
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


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


class LengthBucketSampler(Sampler):
    """Batches of sequences of similar length, so padding stays proportional to
    the total length.

    Each epoch draws a random permutation, cuts it into pools of ``pool_batches``
    batches, sorts each pool by length and cuts it into batches, then shuffles the
    order of the batches. Without ``shuffle`` the batches are simply consecutive
    runs of the length-sorted sequences.

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
    generator : torch.Generator, default=None
        Generator of all random draws; ``None`` uses torch's global generator.
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
        n = len(self.lengths)
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True)
            yield from (b.tolist() for b in order.split(self.batch_size))
            return
        permutation = torch.randperm(n, generator=self.generator)
        batches = []
        for pool in permutation.split(self.batch_size * self.pool_batches):
            pool = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches.extend(pool.split(self.batch_size))
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i].tolist()


def length_bucketed_loader(
    dataset, batch_size, shuffle=False, generator=None, **kwargs
):
    """A ``DataLoader`` over a :class:`SequenceDataset` with length-bucketed batches.

    Takes the arguments skorch gives its iterators (``batch_size``, ``shuffle``,
    ``collate_fn``, ``generator``, ...). The ``DataLoader`` gets the generator
    too: it draws a seed from it at every pass, even without worker processes.
    """
    sampler = LengthBucketSampler(
        [len(s) for s in dataset.sequences], batch_size, shuffle, generator=generator
    )
    return DataLoader(dataset, batch_sampler=sampler, generator=generator, **kwargs)


def collate_sequences(batch):
    """Collate ``(sequence, 0)`` pairs into a padded batch for skorch.

    The padding is :func:`skae._net.pad_batch`, looked up at each call, so that
    training and scoring batches are padded (and can be watched) in one place.
    """
    return _net.pad_batch([item[0] for item in batch]), torch.zeros(len(batch))


def squared_errors(x, x_hat, lengths=None):
    """Return per-position squared errors averaged over features, shape (batch, T).

    Positions past a sequence's length are set to zero.
    """
    errors = squared_error(x, x_hat).mean(dim=-1)
    if lengths is not None:
        mask = (
            torch.arange(x.shape[1], device=x.device)[None, :]
            < lengths.to(x.device)[:, None]
        )
        errors = errors * mask
    return errors


def draws_dropout(module):
    """Return True when a training step of ``module`` draws dropout masks."""
    return any(
        isinstance(layer, torch.nn.RNNBase) and layer.num_layers > 1 and layer.dropout
        for layer in module.modules()
    )


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
    generator : torch.Generator, default=None
        The fit's own (CPU) generator, for the training noise and for seeding
        dropout; ``None`` uses torch's global generator.
    """

    @property
    def _default_callbacks(self):
        return [
            (name, PlainPrintLog() if name == "print_log" else callback)
            for name, callback in super()._default_callbacks
        ]

    def __init__(self, *args, noise_std=0.0, generator=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.noise_std = noise_std
        self.generator = generator

    def _corrupt(self, X):
        """Return ``X`` plus noise drawn from the net's generator.

        The noise is drawn on the CPU and then moved, so a seed gives the same
        noise on any device.
        """
        if isinstance(X, dict):
            return {**X, "x": self._corrupt(X["x"])}
        x = to_tensor(X, device=self.device)
        noise = torch.randn(x.shape, generator=self.generator, dtype=x.dtype)
        return x + self.noise_std * noise.to(x.device)

    def train_step(self, batch, **fit_params):
        """Run one training step; see the module docstring on dropout and seeds.

        Dropout masks come from torch's global generator, so with dropout and a
        generator of its own, the step holds a process-wide lock, seeds the
        global generator from the net's generator and restores it afterwards:
        the masks then depend on this fit's seed only, whatever other fits do
        in other threads.
        """
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
        unused: the target is ``X``).

        The held-out loss is computed in float64: held-out data may lie far
        outside the range of the (standardised) training data, and its squared
        errors must not overflow float32 when the weights themselves are fine.
        """
        if isinstance(X, dict):
            x = to_tensor(X["x"], device=self.device)
            lengths = X.get("lengths")
        else:
            x, lengths = to_tensor(X, device=self.device), None
        if not training:
            x, y_pred = x.double(), y_pred.double()
        if lengths is None:
            return self.criterion_(y_pred, x)
        errors = squared_errors(x, y_pred, lengths)
        return errors.sum() / lengths.to(errors.device).sum()


# Held while a training step draws dropout masks from torch's global generator.
_GLOBAL_RNG_LOCK = threading.Lock()


class TrainingDivergedError(FloatingPointError, ValueError):
    """Raised by ``fit`` and ``partial_fit`` when training diverges.

    That is, when the training or held-out loss stops being finite, or the
    training loss grows orders of magnitude beyond the scale of the data (see
    :class:`StopOnDivergence`). Such weights are broken, so training stops at
    once rather than returning a model whose scores would be NaN or huge (a
    ``partial_fit`` that raises it leaves the detector as it was). The usual
    causes are a learning rate ``lr`` that is far too large, or (with
    ``standardize=False``) data whose magnitudes overflow the network's float32
    arithmetic. It is a :class:`FloatingPointError` and, so that code which
    catches bad input with ``except ValueError`` catches it too, a
    :class:`ValueError`.
    """


# How many times the loss of predicting zero (plus one) the training loss may
# reach before training counts as diverged; see StopOnDivergence.
DIVERGENCE_FACTOR = 1e4


def _mean_square(X):
    """Return ``mean(x ** 2)`` over the real (unpadded) values of a batch."""
    if isinstance(X, dict):
        x, lengths = X["x"], X.get("lengths")
    else:
        x, lengths = X, None
    x = torch.as_tensor(x).double()
    if lengths is None:
        return float(x.pow(2).mean())
    errors = squared_errors(x, torch.zeros_like(x), lengths)
    return float(errors.sum() / lengths.to(errors.device).sum())


class DivergenceGuard:
    """The rules of :class:`StopOnDivergence`, on the running sums of one run.

    ``fit`` (through the callback) and ``partial_fit`` (through
    :func:`continue_training`) judge their training batches by this one object.

    Parameters
    ----------
    factor : float
        How many times the reference the training loss may reach.
    """

    def __init__(self, factor):
        self.factor = factor
        self.loss_sum = 0.0
        self.reference_sum = 0.0

    def problem(self, loss, X, when=""):
        """Return why training diverged after a batch, or None when it did not.

        Parameters
        ----------
        loss : float
            The batch's training loss.
        X : Tensor or dict
            The batch's (clean) inputs, as skorch unpacks them.
        when : str, default=""
            Where it happened, for the message (``" in epoch 3"``).
        """
        if not math.isfinite(loss):
            return f"the training loss became {loss}{when}"
        self.loss_sum += loss
        self.reference_sum += _mean_square(X) + 1.0
        if self.loss_sum > self.factor * self.reference_sum:
            return (
                f"the training loss grew to {loss:.3g}{when}, more than "
                f"{self.factor:g} times the loss of predicting zero (plus one)"
            )
        return None


class StopOnDivergence(Callback):
    """Stop training with :class:`TrainingDivergedError` when it diverges.

    Two rules, both checked after every training batch (so a diverged optimiser
    does not run another epoch on broken weights), the first also on the
    held-out loss after every epoch:

    - a loss is NaN or infinite;
    - the training loss, summed over all batches so far, exceeds ``factor``
      times the sum over the same batches of ``mean(x ** 2) + 1``.

    ``mean(x ** 2)`` is the loss of predicting zero, and ``+ 1`` covers a freshly
    initialised network, whose outputs are of order one: any network whose
    outputs stay within the scale of the data or of its initial outputs has a
    loss below about ``2 * (mean(x ** 2) + 1)``, so the default ``factor=1e4``
    only fires when the outputs are a hundred times too large, which normal
    training never reaches (``lr=1e6`` does at the second batch). The sums run
    over the whole fit, so a batch of unusually small values cannot fire it.
    ``partial_fit`` applies the same rules (:class:`DivergenceGuard`).

    Parameters
    ----------
    factor : float, default=1e4
        How many times the reference the training loss may reach.
    """

    def __init__(self, factor=DIVERGENCE_FACTOR):
        self.factor = factor

    def initialize(self):
        self.guard_ = DivergenceGuard(self.factor)
        return self

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        # skorch has just recorded the batch's loss as a Python float
        loss = net.history[-1, "batches", -1, "train_loss"]
        epoch = len(net.history)
        problem = self.guard_.problem(
            loss, unpack_data(batch)[0], when=f" in epoch {epoch}"
        )
        if problem is not None:
            self._raise(net, problem)

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1].get("valid_loss")
        if loss is not None and not math.isfinite(loss):
            self._raise(
                net, f"the held-out loss became {loss} in epoch {len(net.history)}"
            )

    @staticmethod
    def _raise(net, what):
        raise TrainingDivergedError(
            f"Training diverged: {what}, so the weights are no longer usable. Use "
            f"a smaller learning rate (lr={net.lr:g} now), and keep "
            "standardize=True or rescale data with very large values."
        )


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class PlainPrintLog(PrintLog):
    """skorch's epoch table, without colour codes unless stdout is a terminal.

    :class:`~skorch.callbacks.PrintLog` colours the best values with ANSI escape
    codes, which are noise in a file (``skae fit -v > log``). Like it, this prints
    only when the net's ``verbose`` is set.
    """

    def _sink(self, text, verbose):
        if not verbose:
            return
        isatty = getattr(sys.stdout, "isatty", None)
        if not (isatty is not None and isatty()):
            text = _ANSI_ESCAPE.sub("", str(text))
        self.sink(text)


# Gradients are clipped to this L2 norm: a first learning rate large enough to
# learn fast must not let one bad batch throw the LSTM's weights far off.
GRADIENT_CLIP_NORM = 1.0
# An epoch on a series is at least this many windows (several passes over a short
# series), so that ``patience`` epochs are enough optimiser steps to judge a
# plateau of the held-out loss whatever the length of the series.
MIN_WINDOWS_PER_EPOCH = 1024
# A held-out loss is a new best when it is this much (relative) below the best so
# far: smaller gains, which clean periodic series keep making for hundreds of
# epochs, neither reset the patience nor delay the learning-rate decay.
REL_TOLERANCE = 1e-2
# The learning rate is multiplied by this after a plateau of the held-out loss.
LR_DECAY = 0.5


def convergence_callbacks(patience):
    """Return the callbacks that train to convergence and stop there.

    - gradient-norm clipping at :data:`GRADIENT_CLIP_NORM`;
    - the learning rate halves (:data:`LR_DECAY`) after ``max(1, patience // 3)``
      epochs without a new best held-out loss (skorch's ``LRScheduler`` with
      ``ReduceLROnPlateau``), so the noise of the last epochs shrinks and the
      held-out loss settles instead of wandering;
    - training stops after ``patience`` epochs without a new best held-out loss
      (skorch's ``EarlyStopping``) and keeps the best epoch's weights: by then
      the learning rate has been halved about three times without a gain;
    - a diverging loss raises :class:`TrainingDivergedError`.

    Parameters
    ----------
    patience : int
        Epochs without improvement before training stops.

    Returns
    -------
    callbacks : list of (str, skorch.callbacks.Callback)
    """
    return [
        ("stop_on_divergence", StopOnDivergence()),
        ("gradient_clipping", GradientNormClipping(GRADIENT_CLIP_NORM)),
        (
            "lr_schedule",
            LRScheduler(
                policy="ReduceLROnPlateau",
                monitor="valid_loss",
                factor=LR_DECAY,
                patience=max(1, patience // 3),
                threshold=REL_TOLERANCE,
                threshold_mode="rel",
            ),
        ),
        (
            "early_stopping",
            EarlyStopping(
                monitor="valid_loss",
                patience=patience,
                threshold=REL_TOLERANCE,
                threshold_mode="rel",
                load_best=True,
            ),
        ),
    ]


class NetConfig(NamedTuple):
    """The network and training parameters of an autoencoder: the one list of them.

    Their defaults are those of :class:`LSTMAutoencoderDetector`, whose parameters
    of these names fill a configuration through :meth:`of`.
    """

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

    @classmethod
    def of(cls, estimator):
        """Return the configuration that an estimator's parameters hold."""
        return cls(*(getattr(estimator, name) for name in cls._fields))


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
    """Return an uninitialised :class:`AutoencoderNet` for an :class:`LSTMAutoencoder`
    of the :class:`NetConfig` ``config``.

    ``fit_net`` trains one, passing its ``generator`` (initial weights, batch
    order, noise, dropout seeds); loading a saved model rebuilds one with the
    same architecture and then sets its weights.
    """
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
    iterators["iterator_train__generator"] = generator
    iterators["iterator_valid__generator"] = generator
    architecture = ("hidden_size", "num_layers", "dropout", "decoder_feed")
    return AutoencoderNet(
        LSTMAutoencoder,
        **{f"module__{name}": getattr(config, name) for name in architecture},
        module__n_features=n_features,
        module__centered_features=centered_features,
        module__generator=generator,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.Adam,
        lr=config.lr,
        max_epochs=config.max_epochs,
        batch_size=config.batch_size,
        noise_std=config.noise_std,
        generator=generator,
        iterator_train__shuffle=True,
        **iterators,
        train_split=train_split,
        callbacks=convergence_callbacks(config.patience),
        device=device,
        verbose=verbose,
    )


# Most weights a network may have: 2**30 float32 values are 4 GiB, far beyond what
# an LSTM autoencoder of a time series needs, and a typo such as
# hidden_size=100_000 would otherwise fail deep inside torch's allocator.
MAX_PARAMETERS = 2**30


def check_network_size(config, n_features):
    """Raise a ValueError naming the parameters when the network is too large.

    Counted before anything is allocated: an LSTM layer with ``n_in`` inputs has
    ``4 * hidden_size * (n_in + hidden_size + 2)`` weights and biases.
    """
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
    """Train an :class:`LSTMAutoencoder` of the :class:`NetConfig` ``config``
    through skorch and return the net.

    Early stopping watches the loss on ``valid_dataset`` and restores the best
    weights; a diverging loss raises :class:`TrainingDivergedError`. All the fit's
    randomness (initial weights, batch order, training noise, dropout seeds) is
    drawn from its own :class:`torch.Generator`, seeded with ``seed`` (a fresh,
    unpredictable seed when it is None), so that fits running in parallel threads
    are reproducible and torch's global generator is untouched.
    Variable-length sequences are batched by length (:class:`LengthBucketSampler`);
    windows of a series by :class:`WindowBatches` (one indexing op per batch), where
    ``max_windows_per_epoch`` bounds an epoch to a random sample of the training
    windows and the held-out loss to a fixed, evenly spaced subset.
    """
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


def _generator(seed):
    """Return a CPU generator seeded with ``seed``, or unpredictably when None."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


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
):
    """Train ``module`` for one pass over windows of a series; all or nothing.

    This is the training step of ``partial_fit``: it continues from the current
    weights with a fresh Adam optimiser (so that it depends on nothing a model
    file does not store), clips gradients at :data:`GRADIENT_CLIP_NORM` and stops
    on divergence (:class:`DivergenceGuard`) as ``fit`` does, and visits
    ``max_windows`` windows: one epoch in the sense of
    ``max_windows_per_epoch``, cycling through fresh random orders of the given
    windows when there are fewer (a chunk of 50 new windows is visited about
    10 times for 512), drawn from a generator seeded with ``seed``. Its cost is
    therefore ``max_windows`` forward and backward passes, whatever the number
    of windows given.

    The pass trains a copy of ``module``, whose weights replace the module's
    only when the pass has ended without diverging: ``module`` itself is never
    put in train mode (scoring never sees dropout or half-trained weights from
    here), and a diverged pass leaves it untouched.

    Parameters
    ----------
    module : LSTMAutoencoder
        The trained module, in eval mode; it stays in eval mode.
    series : ndarray of shape (n_timesteps, n_features)
        The (scaled) series.
    window_size : int
        Length of a window.
    starts : ndarray of int
        Start of each window that may be trained on.
    batch_size : int
        Windows per optimiser step.
    lr : float
        Adam's learning rate.
    seed : int or None
        Seed of the window order and of the training noise; None draws one.
    noise_std : float, default=0.0
        Gaussian noise added to the inputs (a denoising autoencoder), as in ``fit``.
    max_windows : int or None, default=None
        Windows visited; None visits every one once.

    Returns
    -------
    loss : float
        The mean training loss over the pass (NaN when there was no window).

    Raises
    ------
    TrainingDivergedError
        When the loss stops being finite or grows beyond ``DIVERGENCE_FACTOR``
        times the loss of predicting zero (plus one), summed over the pass;
        ``module`` is then as it was.
    """
    generator = _generator(seed)
    if len(starts) == 0:
        return float("nan")
    n_visits = len(starts) if max_windows is None else max_windows
    # exactly n_visits windows, cycling through fresh orders of a short series
    batches = WindowBatches(
        WindowDataset(series, window_size, starts),
        batch_size,
        shuffle=True,
        max_windows=n_visits,
        min_windows=n_visits,
        generator=generator,
    )
    device = module_device(module)
    trained = copy.deepcopy(module)
    optimizer = torch.optim.Adam(trained.parameters(), lr=lr)
    dropout_seed = int(torch.randint(2**62, (), generator=generator))
    guard = DivergenceGuard(DIVERGENCE_FACTOR)
    losses = []
    trained.train()
    with contextlib.ExitStack() as stack:
        if draws_dropout(trained):  # see AutoencoderNet.train_step
            stack.enter_context(_GLOBAL_RNG_LOCK)
            stack.enter_context(torch.random.fork_rng(devices=[]))
            torch.manual_seed(dropout_seed)
        for x, _ in batches:
            inputs = x
            if noise_std:
                noise = torch.randn(x.shape, generator=generator)
                inputs = x + noise_std * noise
            x, inputs = x.to(device), inputs.to(device)
            loss = torch.nn.functional.mse_loss(trained(inputs), x)
            value = loss.item()
            problem = guard.problem(value, x)
            if problem is not None:
                raise _partial_fit_diverged(problem, lr)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained.parameters(), GRADIENT_CLIP_NORM)
            optimizer.step()
            losses.append(value * len(x))
    trained.eval()
    # the last step is judged too: a pass of one batch would otherwise never
    # be, and its step alone can break the weights
    with torch.no_grad():
        value = torch.nn.functional.mse_loss(trained(x), x).item()
    problem = DivergenceGuard(DIVERGENCE_FACTOR).problem(
        value, x, " after the last step"
    )
    if problem is not None:
        raise _partial_fit_diverged(problem, lr)
    module.load_state_dict(trained.state_dict())
    return sum(losses) / n_visits


def _partial_fit_diverged(problem, lr):
    return TrainingDivergedError(
        f"Training diverged in partial_fit: {problem}, so the weights would no "
        "longer be usable; the detector is left as it was before the call. Use "
        f"a smaller learning rate (lr={lr:g} now)."
    )
