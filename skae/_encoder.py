"""Sequence compression as a scikit-learn transformer: data in, latent codes out."""

import inspect

from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)

from ._core import FittedAutoencoder
from ._detector import LSTMAutoencoderDetector
from ._threads import estimator_threads
from ._validation import (
    _fit_context,
    check_is_fitted,
    check_sequences,
    check_series,
    is_sequence_input,
)

# The autoencoder's parameters that this transformer shares with the detector.
_SHARED = (
    "window_size",
    "stride",
    "hidden_size",
    "num_layers",
    "dropout",
    "decoder_feed",
    "max_epochs",
    "batch_size",
    "lr",
    "patience",
    "validation_fraction",
    "standardize",
    "device",
    "random_state",
    "verbose",
    "noise_std",
)


def _detector_init(names, qualname):
    """Return an ``__init__`` that stores the keyword-only parameters ``names``,
    with the signature, and so the defaults, of the detector's (and Python's
    messages for wrong arguments, ``qualname`` naming it).

    scikit-learn reads an estimator's parameters from its ``__init__`` signature;
    deriving this one writes the defaults once, in the detector's ``__init__``.
    """
    detector = inspect.signature(LSTMAutoencoderDetector.__init__).parameters
    signature = inspect.Signature([detector["self"], *(detector[n] for n in names)])

    def __init__(self, **params):
        try:
            arguments = signature.bind(self, **params)
        except TypeError as exc:
            raise TypeError(f"{qualname}() {exc}") from None
        arguments.apply_defaults()
        for name in names:
            setattr(self, name, arguments.arguments[name])

    __init__.__signature__ = signature
    __init__.__qualname__ = qualname
    return __init__


class LSTMEncoderTransformer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Compress sequences into LSTM-autoencoder codes, for clustering or classification.

    ``fit`` trains an LSTM autoencoder (an :class:`LSTMAutoencoderDetector`, kept as
    ``detector_``); ``transform`` returns the encoder's latent code, a vector of
    ``hidden_size`` numbers, in place of each sample:

    - a 3-D array ``(n_sequences, seq_len, n_features)`` or a list of 2-D arrays of
      different lengths: one code per sequence, shape ``(n_sequences,
      hidden_size)``. This is the form for ``Pipeline(encoder, KMeans())`` over a
      set of sequences, or ``Pipeline(encoder, LogisticRegression())`` with one
      label per sequence;
    - a 2-D array ``(n_timesteps, n_features)``, one time series: one code per
      time step (a row stays a time step), shape ``(n_timesteps, hidden_size)``.
      Row ``t`` is the code of the window of ``window_size`` steps that *ends* at
      ``t``; the first ``window_size - 1`` steps get the code of the series'
      prefix up to them (the encoder reads any length). A step's code therefore
      summarises its recent past only, which suits per-step labels and
      segmenting a series into regimes.

    Parameters
    ----------
    window_size : int, default=32
        Time steps per training window when fitted on a series, and the span a
        step's code summarises in ``transform``.
    stride : int, default=1
        Steps between the starts of consecutive training windows (a series only).
    hidden_size : int, default=64
        Size of the code. A window of ``window_size`` steps and ``n_features``
        features is compressed ``window_size * n_features / hidden_size`` times.
    num_layers : int, default=1
        Stacked LSTM layers.
    dropout : float, default=0.0
        Dropout between stacked LSTM layers.
    decoder_feed : {"repeat", "state"}, default="repeat"
        How the decoder receives the code during training.
    max_epochs : int, default=300
        Most epochs; training normally stops earlier, when the held-out loss has
        converged. On a series, an epoch is one pass over the training windows,
        at least 1,024 and at most 4,096 windows (the detector's default
        ``max_windows_per_epoch``); a set of sequences is passed over whole.
    batch_size : int, default=64
        Windows or sequences per training step.
    lr : float, default=3e-3
        Adam's first learning rate; it halves after ``patience // 3`` epochs
        without improvement of the held-out loss.
    patience : int, default=10
        Epochs without improvement of the held-out loss before training stops.
    validation_fraction : float in (0, 1), default=0.2
        Share of the data held out for early stopping, taken from the end (the
        last sequences of a set: shuffle a set that is ordered by class).
    standardize : bool, default=True
        Scale each feature with statistics of the training part first.
    device : str, default="auto"
        Torch device; ``"auto"`` uses a GPU when there is one.
    random_state : int, RandomState instance or None, default=None
        Makes ``fit`` reproducible.
    verbose : int, default=0
        ``1`` prints the training table.
    noise_std : float, default=0.0
        Train as a denoising autoencoder with this input noise (standardized
        units).

    Attributes
    ----------
    detector_ : LSTMAutoencoderDetector
        The fitted autoencoder (its ``reconstruct`` and ``score_samples`` tell how
        much the compression loses).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, when X was a DataFrame.

    See Also
    --------
    LSTMAutoencoderDetector.encode : the codes of a detector's windows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.cluster import KMeans
    >>> from sklearn.pipeline import make_pipeline
    >>> from skae import LSTMEncoderTransformer
    >>> t = np.arange(40)[:, None]
    >>> slow = [np.sin(t[: 30 + i] / 6) for i in range(10)]
    >>> fast = [np.sin(t[: 30 + i] / 2) for i in range(10)]
    >>> X = [s for pair in zip(slow, fast) for s in pair]
    >>> encoder = LSTMEncoderTransformer(hidden_size=4, max_epochs=2, random_state=0)
    >>> encoder.fit_transform(X).shape
    (20, 4)
    >>> pipe = make_pipeline(encoder, KMeans(n_clusters=2, n_init=10, random_state=0))
    >>> pipe.fit_predict(X).shape
    (20,)
    """

    _parameter_constraints = {
        name: LSTMAutoencoderDetector._parameter_constraints[name] for name in _SHARED
    }

    __init__ = _detector_init(_SHARED, "LSTMEncoderTransformer.__init__")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder whose encoder makes the codes.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray
            One series, equal-length sequences, or variable-length sequences.
        y : None
            Ignored (so that a ``Pipeline`` can pass labels on to its classifier).

        Returns
        -------
        self : LSTMEncoderTransformer
        """
        if is_sequence_input(X):
            data = check_sequences(self, X, reset=True)
        else:
            data = check_series(self, X, reset=True)
        params = {name: getattr(self, name) for name in _SHARED}
        self.detector_ = LSTMAutoencoderDetector(**params).fit(data)
        self._n_features_out = self.hidden_size
        return self

    def transform(self, X):
        """Return the latent code of each sequence, or of each time step of a series.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray
            Sequences, or one series (of any length).

        Returns
        -------
        codes : ndarray of shape (n_sequences, hidden_size) or \
(n_timesteps, hidden_size)
        """
        check_is_fitted(self)
        if is_sequence_input(X):
            return self.detector_.encode(check_sequences(self, X, reset=False))
        X = check_series(self, X, reset=False)
        with estimator_threads(self.detector_, X):  # as the detector's methods
            return FittedAutoencoder.of(self.detector_).step_codes(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags
