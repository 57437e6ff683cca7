"""The scikit-learn estimator: fit trains the net and sets the threshold."""

from sklearn.base import BaseEstimator, OutlierMixin

from . import _fit_inputs, _inference, _training, _validation
from ._core import FittedAutoencoder, ScoringMixin
from ._forgetting import merge_into
from ._scoring import ANOMALY_SCORES
from ._threads import uses_torch_threads
from ._threshold import threshold_from_heldout
from ._validation import Integral, Real, StrOptions, _fit_context
from ._windowing import check_length, window_starts

# the parameters fit fixes as ``name_``: they shape the network and the scores
_FIXED = ("window_size", "score_smoothing", "anomaly_score", "hidden_size")
_FIXED += ("num_layers", "decoder_feed")
# fitted state that only some fits, or partial_fit, set: fit removes it first
_OPTIONAL = ("heldout_weight_", "n_partial_fits_", "flatline_weight_", "error_mean_")
_OPTIONAL += ("flatline_reference_", "error_covariance_", "error_precision_")


def _interval(kind, low, high=None, closed="left"):
    return [_validation.NumberInterval(kind, low, high, closed=closed)]


class LSTMAutoencoderDetector(ScoringMixin, OutlierMixin, BaseEstimator):
    """Time-series anomaly detector built on an LSTM autoencoder.

    It learns to reconstruct windows of normal data and flags what it cannot
    reconstruct. X is one series ``(n_timesteps, n_features)``, scored per time
    step, or sequences (a 3-D array, or a list of 2-D arrays of any lengths),
    scored per sequence. ``fit`` holds out the end of the data to stop training
    and set the threshold. The :ref:`user_guide` explains each step.

    Parameters
    ----------
    window_size : int, default=32
        Time steps per window of a series.
    stride : int, default=1
        Steps between training windows (and :meth:`encode`'s windows).
    hidden_size : int, default=64
        Size of the LSTM states and of the latent code.
    num_layers : int, default=1
        Stacked LSTM layers in the encoder and in the decoder (at most 64).
    dropout : float, default=0.0
        Dropout between stacked LSTM layers.
    decoder_feed : {"repeat", "state"}, default="repeat"
        The code as the decoder's input at every step, or its initial state.
    max_epochs : int, default=300
        Most epochs; training normally stops earlier (``patience``).
    batch_size : int, default=64
        Windows (or sequences) per training step.
    lr : float, default=3e-3
        Adam's first learning rate, halved after ``patience // 3`` epochs
        without a new best held-out loss.
    patience : int, default=10
        Epochs without a new best held-out loss before training stops.
    validation_fraction : float in (0, 1), default=0.2
        Share of the data held out, taken from the end.
    contamination : "auto" or float in (0, 0.5], default="auto"
        ``"auto"``: the threshold comes from the held-out errors by
        ``threshold_rule``; a float: that quantile of the training errors.
    n_sigmas : float, default=6.0
        The ``k`` of ``mu + k * sigma`` of the held-out errors.
    threshold_rule : {"above_heldout", "mean_k_sigma", "pot"}, \
default="above_heldout"
        The larger of ``mu + k * sigma`` and ``max + (max - median)`` of the
        held-out errors; ``mu + k * sigma`` alone; or peaks over threshold [2]_.
    false_alarm_risk : float in (0, 1), default=1e-4
        For ``"pot"``: the probability that a normal step is flagged.
    standardize : bool, default=True
        Scale each feature by the training part's mean and standard deviation.
    device : str, default="auto"
        Torch device; ``"auto"`` uses a GPU when there is one.
    random_state : int, RandomState instance or None, default=None
        Seeds the fit's own generator, so ``fit`` is reproducible, in threads too.
    verbose : int, default=0
        ``1`` prints the training and held-out loss per epoch.
    noise_std : float, default=0.0
        Gaussian noise on the training inputs (a denoising autoencoder).
    anomaly_score : {"squared_error", "mahalanobis"}, default="squared_error"
        A step's mean squared error, or the Mahalanobis distance of its error
        vector to the held-out errors' Gaussian [1]_.
    score_stride : int or "auto", default="auto"
        Steps between the windows that score a series (``"auto"``:
        ``max(1, window_size // 4)``; at most ``window_size``).
    max_windows_per_epoch : int or None, default=4096
        Most training windows per epoch on a series; None uses them all.
    n_threads : int, "auto" or None, default="auto"
        Torch threads while fitting and scoring (``"auto"``: one for a small
        model, else the idle cores; None: torch's setting).
    score_smoothing : int, default=8
        A step's error inside a window is averaged with those of the steps
        within this distance (``0``: its own).
    centered_features : array-like of int or str, default=None
        Features centred on their mean inside each window, so that a drift of
        their level is no anomaly.
    causal : bool, default=False
        Score step ``t`` by the window ending at ``t`` (no later data), as
        :class:`StreamingScorer` needs.
    forget_half_life : float or None, default=None
        For :meth:`partial_fit`: the age in steps at which an error's weight in
        the threshold halves; None never forgets.
    detect_flatlines : "auto" or bool, default="auto"
        Also flag stretches where a feature is stuck (``"auto"``: for a series).
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the training steps: ``"bfloat16"`` runs their forward
        pass under bfloat16 autocast (mixed precision; the weights stay
        float32, and scoring is float32 always); ``"auto"`` does so on a GPU
        or CPU with bfloat16 units (AMX or AVX-512 BF16), where it trains
        faster, for a series (sequences train in float32), and uses float32
        elsewhere. ``precision_`` is the one used.

    Attributes
    ----------
    threshold_ : float
        A step whose anomaly score (``-score_samples``) exceeds it is flagged.
    offset_ : float
        ``-threshold_``: ``decision_function = score_samples - offset_``.
    threshold_info_ : dict
        The rule that set ``threshold_`` and its figures.
    heldout_errors_ : ndarray of shape (n_heldout,)
        Anomaly scores of the held-out part (after :meth:`partial_fit`, the latest).
    heldout_mean_, heldout_std_, heldout_weight_ : float
        Their mean, standard deviation and, after :meth:`partial_fit`, weight.
    n_partial_fits_ : int
        Updates by :meth:`partial_fit` since ``fit``.
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`LSTMAutoencoder`.
    history_ : skorch.History
        Training and held-out loss per epoch.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        The scaling of the data.
    device_ : str
        The device the model was trained on.
    precision_ : {"float32", "bfloat16"}
        The arithmetic of its training steps (``precision`` resolved).
    window_size_, score_smoothing_, anomaly_score_, score_stride_, causal_
        The score settings at ``fit``.
    hidden_size_, num_layers_, decoder_feed_
        The shape of the network at ``fit``.
    centered_features_ : list of int or None
        Column indices of ``centered_features``.
    error_mean_, error_covariance_, error_precision_ : ndarray
        With ``anomaly_score="mahalanobis"``: the held-out errors' Gaussian.
    flatline_reference_, flatline_weight_
        With the flatline check: each feature's usual activity, and the score
        per unit of stillness.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when X was a DataFrame.

    See Also
    --------
    sklearn.ensemble.IsolationForest : the outlier-detector API this follows.
    SlidingWindowTransformer : the windows this detector cuts from a series.

    Notes
    -----
    What shapes scores or the network is fixed at ``fit``: ``set_params`` acts
    at the next ``fit``. Score a ``copy.deepcopy`` while :meth:`partial_fit` runs.

    References
    ----------
    .. [1] Malhotra, P. et al. (2016). LSTM-based encoder-decoder for multi-sensor
       anomaly detection. ICML Anomaly Detection Workshop.
    .. [2] Siffer, A., Fouque, P.-A., Termier, A. and Largouet, C. (2017). Anomaly
       detection in streams with extreme value theory. KDD.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import LSTMAutoencoderDetector
    >>> X = np.sin(2 * np.pi * np.arange(600) / 25).reshape(-1, 1)
    >>> detector = LSTMAutoencoderDetector(
    ...     window_size=16, hidden_size=8, max_epochs=3, random_state=0
    ... ).fit(X)
    >>> detector.score_samples(X).shape
    (600,)
    """

    _parameter_constraints = {
        "window_size": _interval(Integral, 1),
        "stride": _interval(Integral, 1),
        "hidden_size": _interval(Integral, 1),
        "num_layers": _interval(Integral, 1, 64, "both"),
        "dropout": _interval(Real, 0, 1),
        "decoder_feed": [StrOptions({"repeat", "state"})],
        "max_epochs": _interval(Integral, 1),
        "batch_size": _interval(Integral, 1),
        "lr": _interval(Real, 0, None, "neither"),
        "patience": _interval(Integral, 1),
        "validation_fraction": _interval(Real, 0, 1, "neither"),
        "contamination": [StrOptions({"auto"}), *_interval(Real, 0, 0.5, "right")],
        "n_sigmas": _interval(Real, 0),
        "threshold_rule": [StrOptions({"above_heldout", "mean_k_sigma", "pot"})],
        "false_alarm_risk": _interval(Real, 0, 1, "neither"),
        "standardize": ["boolean"],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "noise_std": _interval(Real, 0),
        "anomaly_score": [StrOptions(set(ANOMALY_SCORES))],
        "score_stride": [StrOptions({"auto"}), *_interval(Integral, 1)],
        "max_windows_per_epoch": [None, *_interval(Integral, 1)],
        "n_threads": [
            None,
            StrOptions({"auto"}),
            *_interval(Integral, 1, 1024, "both"),
        ],
        "score_smoothing": _interval(Integral, 0),
        "centered_features": [None, "array-like"],
        "causal": ["boolean"],
        "forget_half_life": [None, *_interval(Real, 0, None, "neither")],
        "detect_flatlines": [StrOptions({"auto"}), "boolean"],
        "precision": [StrOptions(set(_training.PRECISIONS))],
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
        contamination="auto",
        n_sigmas=6.0,
        threshold_rule="above_heldout",
        false_alarm_risk=1e-4,
        standardize=True,
        device="auto",
        random_state=None,
        verbose=0,
        noise_std=0.0,
        anomaly_score="squared_error",
        score_stride="auto",
        max_windows_per_epoch=4096,
        n_threads="auto",
        score_smoothing=8,
        centered_features=None,
        causal=False,
        forget_half_life=None,
        detect_flatlines="auto",
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
        self.contamination = contamination
        self.n_sigmas = n_sigmas
        self.threshold_rule = threshold_rule
        self.false_alarm_risk = false_alarm_risk
        self.standardize = standardize
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.noise_std = noise_std
        self.anomaly_score = anomaly_score
        self.score_stride = score_stride
        self.max_windows_per_epoch = max_windows_per_epoch
        self.n_threads = n_threads
        self.score_smoothing = score_smoothing
        self.centered_features = centered_features
        self.causal = causal
        self.forget_half_life = forget_half_life
        self.detect_flatlines = detect_flatlines
        self.precision = precision

    # ------------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on normal data and set the threshold.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray
            Normal history: one series, or sequences.
        y : None
            Ignored.

        Returns
        -------
        self : LSTMAutoencoderDetector
        """
        return self._fit(_fit_inputs.validate(self, X))

    @uses_torch_threads
    def _fit(self, data):
        """Fit on ``data`` validated by :func:`skae._fit_inputs.validate`."""
        # offset_ goes first and comes back last: a failed fit is not fitted
        for name in ("offset_", "_fitted_core", *_OPTIONAL):
            self.__dict__.pop(name, None)
        self.device_ = _inference.resolve_device(self.device)
        self.precision_ = _training.resolve_precision(
            self.precision, self.device_, sequences=isinstance(data, list)
        )
        inputs = _fit_inputs.prepare(self, data)
        for name in _FIXED:
            setattr(self, f"{name}_", getattr(self, name))
        self.causal_ = bool(self.causal)
        self.score_stride_ = _fit_inputs.score_stride(self)
        self.mean_, self.scale_ = inputs.mean, inputs.scale
        features = _validation.feature_indices(self, self.centered_features)
        self.centered_features_ = features
        self.net_ = _training.fit_net(
            inputs.train,
            inputs.valid,
            _training.NetConfig.of(self)._replace(precision=self.precision_),
            n_features=self.n_features_in_,
            centered_features=features,
            device=self.device_,
            verbose=self.verbose,
            seed=_fit_inputs.seed(self.random_state),
        )
        self.history_ = self.net_.history
        core = FittedAutoencoder(self)
        heldout, n_context = inputs.heldout, inputs.n_context
        if self.anomaly_score_ == "mahalanobis":
            gaussian = core.fit_gaussian(heldout, n_context=n_context)
            self.error_mean_, self.error_covariance_, self.error_precision_ = gaussian
        self.heldout_errors_ = core.errors(heldout, n_context=n_context)
        rule = self.threshold_rule
        self.threshold_, info = self._threshold(self.heldout_errors_, rule)
        self.heldout_mean_, self.heldout_std_ = info["mean"], info["std"]
        if self.contamination != "auto":
            self.threshold_, info = self._threshold(core.errors(data), "contamination")
        if isinstance(data, list):  # see _fitted_on_sequences
            info = {**info, "fitted_on": "sequences"}
        self.threshold_info_ = info
        if self.detect_flatlines and inputs.scaled is not None:
            flatlines = core.fit_flatlines(inputs.scaled, self.threshold_)
            self.flatline_reference_, self.flatline_weight_ = flatlines
        self._fitted_core = core
        self.offset_ = -self.threshold_
        return self

    def _threshold(self, errors, rule, **statistics):
        """Return ``(threshold, info)`` of ``rule`` on ``errors``."""
        return threshold_from_heldout(
            errors,
            rule,
            n_sigmas=self.n_sigmas,
            risk=self.false_alarm_risk,
            contamination=self.contamination,
            **statistics,
        )

    # ------------------------------------------------------ incremental learning

    @uses_torch_threads
    def partial_fit(self, X, y=None):
        """Judge new data with the current model, then keep learning from it.

        The errors of ``X`` update the threshold's statistics (forgetting at
        ``forget_half_life``), then the network trains for one epoch of 1,024
        windows of ``X``; the score settings and the scaling stay as ``fit``
        set them. An unfitted detector is fitted. All or nothing: a diverging
        update raises :class:`~skae.TrainingDivergedError` and changes nothing.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features)
            New normal data, at least ``window_size`` steps.
        y : None
            Ignored.

        Returns
        -------
        self : LSTMAutoencoderDetector
        """
        if not self.__sklearn_is_fitted__():
            return self.fit(X)
        self._validate_params()
        if self._fitted_on_sequences():
            raise ValueError(
                "partial_fit learns from a 2-D series, but this detector was "
                "fitted on sequences (a 3-D array or a list of 2-D arrays). To "
                "learn from new sequences, fit again on all of them."
            )
        if _validation.is_sequence_input(X):
            raise ValueError(
                "partial_fit takes a 2-D series (n_timesteps, n_features); to "
                "learn from new sequences, fit again on all of them."
            )
        X = _validation.check_series(self, X, reset=False)
        check_length(len(X), self.window_size_)
        starts, _ = window_starts(len(X), self.window_size_, 1)
        self._learn(X, self._errors(X), starts)
        return self

    def _learn(self, X, errors, starts):
        """Update the threshold, then train on ``X``; all or nothing."""
        saved = dict(self.__dict__)
        count = self.__dict__.get("n_partial_fits_", 0)
        seed = None
        if isinstance(self.random_state, Integral):
            seed = (int(self.random_state) * 1_000_003 + count + 1) % (2**63 - 1)
        windows = self.max_windows_per_epoch or _training.MIN_WINDOWS_PER_EPOCH
        try:
            self._update_threshold(errors)
            self._core().learn(
                X,
                starts,
                batch_size=self.batch_size,
                lr=self.lr,
                seed=seed,
                noise_std=self.noise_std,
                max_windows=min(_training.MIN_WINDOWS_PER_EPOCH, windows),
                precision=self.precision,
            )
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        self.n_partial_fits_ = count + 1

    def _update_threshold(self, errors):
        """Merge new errors into the threshold's statistics and reset it."""
        half_life = self.forget_half_life
        weight = self.__dict__.get("heldout_weight_", float(len(self.heldout_errors_)))
        old = (self.heldout_errors_, self.heldout_mean_, self.heldout_std_, weight)
        recent, weight, mean, std = merge_into(*old, errors, half_life)
        rule = self.threshold_rule if self.contamination == "auto" else "contamination"
        threshold, info = self._threshold(recent, rule, mean=mean, std=std)
        info.update(n_errors=recent.size, mean=mean, std=std, max=float(recent.max()))
        info["weight"] = weight
        if half_life is not None:
            info["forget_half_life"] = float(half_life)
        self.heldout_errors_, self.heldout_weight_ = recent, weight
        self.heldout_mean_, self.heldout_std_ = mean, std
        self.threshold_, self.threshold_info_ = float(threshold), info
        self.offset_ = -self.threshold_

    def _fitted_on_sequences(self):
        """Return True when ``fit`` was given sequences, not one series."""
        return self.__dict__.get("threshold_info_", {}).get("fitted_on") == "sequences"

    def __sklearn_is_fitted__(self):
        return hasattr(self, "offset_")
