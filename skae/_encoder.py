"""Sequence compression as a scikit-learn transformer: data in, latent codes out."""

from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)

from ._detector import LSTMAutoencoderDetector
from ._fit_inputs import validate
from ._threads import estimator_threads
from ._validation import (
    _fit_context,
    check_is_fitted,
    check_sequences,
    check_series,
    is_sequence_input,
)


class LSTMEncoderTransformer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Compress sequences into LSTM-autoencoder codes, for clustering or classification.

    ``fit`` trains an :class:`LSTMAutoencoderDetector` (``detector_``);
    ``transform`` returns a code of ``hidden_size`` numbers per sequence, or per
    time step of a series (that of the window ending at the step).

    Parameters
    ----------
    window_size, stride, hidden_size, num_layers, dropout, decoder_feed, \
max_epochs, batch_size, lr, patience, validation_fraction, standardize, device, \
random_state, verbose, noise_std, precision
        As for :class:`LSTMAutoencoderDetector` (same defaults); ``hidden_size``
        is the size of the code. ``validation_fraction`` holds out the last
        sequences: shuffle a set that is ordered by class.

    Attributes
    ----------
    detector_ : LSTMAutoencoderDetector
        The fitted autoencoder.
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
    >>> from skae import LSTMEncoderTransformer
    >>> t = np.arange(40)[:, None]
    >>> X = [np.sin(t[: 30 + i] / (2 + 4 * (i % 2))) for i in range(20)]
    >>> encoder = LSTMEncoderTransformer(hidden_size=4, max_epochs=2, random_state=0)
    >>> encoder.fit_transform(X).shape
    (20, 4)
    """

    _parameter_constraints = {
        name: LSTMAutoencoderDetector._parameter_constraints[name]
        for name in (
            *("window_size", "stride", "hidden_size", "num_layers", "dropout"),
            *("decoder_feed", "max_epochs", "batch_size", "lr", "patience"),
            *("validation_fraction", "standardize", "device", "random_state"),
            *("verbose", "noise_std", "precision"),
        )
    }

    def __init__(
        self,
        *,
        window_size=32,
        stride=1,
        hidden_size=64,
        num_layers=1,
        dropout=0.0,
        decoder_feed="repeat",
        max_epochs=300,
        batch_size=64,
        lr=3e-3,
        patience=10,
        validation_fraction=0.2,
        standardize=True,
        device="auto",
        random_state=None,
        verbose=0,
        noise_std=0.0,
        precision="auto",
    ):
        self.window_size = window_size
        self.stride = stride
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.decoder_feed = decoder_feed
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.standardize = standardize
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.noise_std = noise_std
        self.precision = precision

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder whose encoder makes the codes.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray
            One series, or sequences.
        y : None
            Ignored (so that a ``Pipeline`` can pass labels on to its classifier).

        Returns
        -------
        self : LSTMEncoderTransformer
        """
        data = validate(self, X)
        detector = LSTMAutoencoderDetector(**self.get_params())
        detector.n_features_in_ = self.n_features_in_  # X is validated here once
        self.detector_ = detector._fit(data)
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
        core = self.detector_._core()
        if is_sequence_input(X):
            data = check_sequences(self, X, reset=False)
            with estimator_threads(self.detector_, data):
                return core.codes(data, self.detector_.stride)
        X = check_series(self, X, reset=False)
        with estimator_threads(self.detector_, X):
            return core.step_codes(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags
