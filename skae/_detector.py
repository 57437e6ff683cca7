"""The scikit-learn estimator, composing input checks, windows, net and threshold."""

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils import check_random_state

from . import _net, _training
from ._core import FittedAutoencoder
from ._events import _check_count, flag_events
from ._flatlines import FLATLINE_FACTOR, fit_reference, flatline_length
from ._forgetting import error_buffer_size, merge_errors
from ._scaling import apply_scaling, fit_scaling, warn_dominant_values
from ._scoring import ANOMALY_SCORES, fit_error_gaussian
from ._threads import uses_torch_threads
from ._threshold import (
    above_heldout_threshold,
    contamination_threshold,
    k_sigma_threshold,
    split_point,
    threshold_from_heldout,
)
from ._validation import (
    Integral,
    NumberInterval,
    Real,
    StrOptions,
    _fit_context,
    check_is_fitted,
    check_sequences,
    check_series,
    feature_indices,
    is_sequence_input,
)
from ._windowing import check_length, window_starts

# what partial_fit adds to a fitted detector; fit removes it
_PARTIAL_FIT_STATE = ("heldout_weight_", "n_partial_fits_")
_FLATLINE_STATE = ("flatline_reference_", "flatline_weight_")


class LSTMAutoencoderDetector(OutlierMixin, BaseEstimator):
    """Time-series anomaly detector built on an LSTM autoencoder.

    The detector learns to reconstruct windows of normal data and flags what it
    cannot reconstruct. Three input forms are accepted:

    - a 2-D array or DataFrame ``(n_timesteps, n_features)``: one time series, rows
      are time steps. The detector cuts it into sliding windows and gives every time
      step a score, the mean over the windows that cover it of the squared
      reconstruction error at that step (averaged, inside each window, with the
      steps within ``score_smoothing`` of it);
    - a 3-D array ``(n_sequences, seq_len, n_features)``: equal-length sequences,
      one score each;
    - a list of 2-D arrays of different lengths: variable-length sequences, one
      score each.

    Training holds out the last ``validation_fraction`` of the data (a contiguous
    tail of a series, or the last sequences), which the network never trains on: it
    drives early stopping and, with ``contamination="auto"``, sets the threshold
    ``tau = mu + n_sigmas * sigma`` of its reconstruction errors.

    Parameters
    ----------
    window_size : int, default=32
        Time steps per window when X is a series.
    stride : int, default=1
        Steps between the starts of consecutive training windows, and of the
        windows :meth:`encode` returns (scoring uses ``score_stride``).
    hidden_size : int, default=64
        Size of the LSTM states and of the latent code.
    num_layers : int, default=1
        Stacked LSTM layers in the encoder and in the decoder (at most 64).
    dropout : float, default=0.0
        Dropout between stacked LSTM layers.
    decoder_feed : {"repeat", "state"}, default="repeat"
        How the decoder receives the latent code: repeated as its input at every
        step, or as its initial hidden state.
    max_epochs : int, default=300
        Most epochs; an upper bound, as training normally stops earlier, when
        the held-out loss has converged (``patience``). For a series an epoch is
        one pass over the training windows, but at least 1,024 windows (several
        passes over a short series) and at most ``max_windows_per_epoch``; for
        sequences, one pass over the training sequences.
    batch_size : int, default=64
        Windows (or sequences) per training step.
    lr : float, default=3e-3
        Adam's first learning rate. Gradients are clipped to an L2 norm of 1, and
        the rate halves after ``patience // 3`` epochs without a new best
        held-out loss, so a first rate this large learns fast and still settles.
    patience : int, default=10
        Epochs without a new best held-out loss before training stops; the
        weights of the best epoch are kept. By then the learning rate has halved
        about three times without a gain: the held-out loss has converged. On
        NAB and SKAB (``benchmarks/speed/convergence.py``) a fit with ten times the
        budget (``max_epochs`` and ``patience``) lowered the best held-out loss
        further on some clean periodic series; see ``benchmarks/README.md``.
    validation_fraction : float in (0, 1), default=0.2
        Share of the data held out, taken from the end.
    contamination : "auto" or float in (0, 0.5], default="auto"
        ``"auto"``: the threshold comes from the held-out errors, by
        ``threshold_rule``. A float: the expected share of anomalies in the
        training data; the threshold is that quantile of the training data's
        errors, as in scikit-learn's outlier detectors.
    n_sigmas : float, default=6.0
        The ``k`` of ``mu + k * sigma``. Chosen on SKAB and NAB together
        with ``score_smoothing=8``, whose averaging narrows ``sigma``: 6 gave
        the best SKAB F1 within 0.001 at the lowest false-alarm rate (see
        ``benchmarks/README.md``).
    threshold_rule : {"above_heldout", "mean_k_sigma", "pot"}, \
default="above_heldout"
        How ``contamination="auto"`` turns the held-out errors into the
        threshold. ``"above_heldout"``: the larger of ``mu + n_sigmas *
        sigma`` and ``max + (max - median)`` of the held-out errors. The
        held-out part is normal data the network never trained on, so none
        of it is flagged, and the threshold keeps a margin above its largest
        error as wide as that error's distance from the typical one: data
        to score are longer than the held-out part and reach higher by
        chance. ``"mean_k_sigma"``: ``mu + n_sigmas * sigma`` alone (the
        seed's rule; it flagged 2.2 % of the normal steps of a planted base
        whose held-out part was calmer than its test part).
        ``"pot"``: peaks over threshold (Siffer et al., 2017 [3]_): a
        generalized Pareto tail is fitted to the largest 5 % of the held-out
        errors and the threshold is the error that a normal step exceeds with
        probability ``false_alarm_risk``. It needs at least 200 held-out
        errors (a warning says so below that). The planted-anomaly benchmark
        chose the default (see ``benchmarks/README.md``). To flag more or
        fewer steps without refitting, see ``threshold_``.
    false_alarm_risk : float in (0, 1), default=1e-4
        With ``threshold_rule="pot"``: the probability that a normal step is
        flagged, as estimated from the tail of the held-out errors. ``1e-4``
        means about one false alarm in 10,000 normal steps, if the data to
        score behave like the held-out part. Smaller is a higher threshold.
    standardize : bool, default=True
        Scale each feature to zero mean and unit variance with statistics of the
        training part (not of the data being scored). A few extreme values can
        set a feature's standard deviation alone and squeeze the others: fit
        then warns (a ``UserWarning`` naming the feature and the value) when
        the 1 % of values farthest from the median make it more than 10 times
        that of the rest. The scaling stays the plain standard deviation;
        remove such values if they are errors, or scale robustly yourself and
        pass ``False`` (see the user guide, "The model").
    device : str, default="auto"
        Torch device to train and score on; ``"auto"`` uses a GPU when there is one.
    random_state : int, RandomState instance or None, default=None
        Seeds the fit's own random generator (initial weights, batch order,
        training noise), so that ``fit`` is reproducible on the same machine,
        also when several fits run at once in threads; torch's global generator
        is left alone. ``None`` draws a fresh seed. With ``num_layers > 1`` and
        ``dropout > 0`` on CPU, training steps of concurrent fits take turns (a
        lock) so that dropout stays reproducible; on a GPU, cuDNN draws dropout
        from a state of its own that the seed does not reach.
    verbose : int, default=0
        ``1`` prints skorch's table of training and held-out loss per epoch.
    noise_std : float, default=0.0
        Train a denoising autoencoder: Gaussian noise of this standard deviation
        (in standardized units) is added to the training inputs while the loss
        targets the clean input. ``0`` turns it off. Scoring never adds noise.
    anomaly_score : {"squared_error", "mahalanobis"}, default="squared_error"
        ``"squared_error"``: a step's score is the mean over features of its
        squared reconstruction error. ``"mahalanobis"``: the squared Mahalanobis
        distance of its absolute error vector to a Gaussian fitted on the held-out
        errors (Malhotra et al., 2016 [1]_). The threshold is ``mu + k * sigma`` of
        the held-out scores either way.
    score_stride : int or "auto", default="auto"
        Steps between the starts of the windows that score a series: each step's
        score is the mean over about ``window_size / score_stride`` windows, so
        scoring costs about ``1 / score_stride`` of scoring every window.
        ``"auto"`` is ``max(1, window_size // 4)``, which on SKAB and NAB ranked
        anomalies as well as every window did (AUC-PR within 0.003; see
        ``benchmarks/README.md``). Values above ``window_size`` are clipped to it.
        The threshold is set with the same stride. Windows start at
        ``0, score_stride, 2 * score_stride, ...`` counted from the first step
        given, plus one window aligned to the end, so a step's score depends on
        its position relative to the start of the series given (scoring a series
        in chunks gives the same scores when each chunk's start, context
        included, is a multiple of ``score_stride_``).
    max_windows_per_epoch : int or None, default=4096
        Bounds the cost of an epoch on a long series: each epoch trains on a
        fresh random sample of at most this many training windows, and the
        held-out loss uses at most this many evenly spaced held-out windows.
        ``None`` uses every window in every epoch. A series with fewer
        training windows is passed over whole (at least 1,024 windows per
        epoch). Ignored for sequence input.
    n_threads : int, "auto" or None, default="auto"
        Torch intra-op threads during ``fit``, scoring, ``feature_contributions``,
        ``encode`` and ``reconstruct``, restored afterwards. ``"auto"`` decides
        when each call starts: one thread when the model is small (one gate
        product of an LSTM step, ``batch_size * 4 * hidden_size * (hidden_size +
        n_features)`` multiply-adds, below 500,000: e.g. ``hidden_size=16``),
        else as many threads as there are cores that other processes are not
        running on (read from ``/proc/stat``), never more than torch's setting
        nor the CPU affinity. Torch's threads wait for each other at every
        operation, so on a 2-core machine with other work running, two threads
        made training 4 to 100 times slower than one; idle, they were faster for
        ``hidden_size`` 64 and 256 (see ``benchmarks/README.md``). Where
        ``/proc/stat`` is missing (macOS, Windows), ``"auto"`` keeps torch's
        setting: set ``n_threads=1`` on a loaded machine there. An integer fixes
        the count. ``None`` keeps torch's setting, which follows joblib's process
        workers (``GridSearchCV(n_jobs=k)`` starts each with ``cpu_count // k``
        threads) and ``threadpoolctl.threadpool_limits``; both also cap
        ``"auto"``.
    score_smoothing : int, default=8
        For a series: inside each window, a step's squared error is replaced by
        the mean of that window's errors at the steps within ``score_smoothing``
        of it (cut at the window's ends) before the windows covering the step are
        averaged. Only windows covering the step are used, so appending data
        still changes only the last ``window_size - 1`` scores. ``0`` scores each
        step by its own error. Anomalies are rarely one step long: on SKAB and
        NAB the smoothed scores ranked anomalies better (see
        ``benchmarks/README.md``). Sequence input is scored by each sequence's
        mean error either way.
    centered_features : array-like of int or str, default=None
        Features whose level the model is not asked to judge: inside each window
        (or sequence) they are centred on their own mean before encoding, and the
        mean is added back to the reconstruction, so a slow drift of their level
        (a temperature, a load) is not an anomaly, only a change of their shape
        within a window is. Column indices, or names when X is a DataFrame.
        ``None`` centres nothing. A domain setting: on SKAB, centring the two
        temperature sensors cut false alarms from 42 % to 9 % of normal steps.
    causal : bool, default=False
        Score a series causally, as a stream must: step ``t`` is judged by the
        window that ends at ``t`` (its errors at the last ``score_smoothing + 1``
        positions, averaged), and a step with fewer than ``window_size - 1``
        steps before it by the prefix of the series up to it. The score of step
        ``t`` then depends on no data after ``t`` (latency 0), at the cost of one
        window per step (``score_stride`` does not apply). The held-out errors
        behind the threshold are scored the same way, each with the
        ``window_size - 1`` steps before it. Needed by :class:`StreamingScorer`,
        which scores the first ``window_size - 1`` rows of a stream without
        context by their prefixes too, but does not flag them.
        ``False`` (offline) averages the windows covering a step on both sides,
        so a score sees up to ``window_size - 1`` later steps.
    forget_half_life : float or None, default=None
        For :meth:`partial_fit`: the age, in time steps, at which an error's
        weight in the threshold's statistics has halved. ``None`` never
        forgets: every error seen counts once. A smaller value follows drift
        faster and lets a long anomaly raise the threshold sooner.
    detect_flatlines : "auto" or bool, default="auto"
        Also flag stretches where a feature is stuck: a sensor repeating its
        last value, which an autoencoder reconstructs easily. A stretch of half
        a window in which some feature moves less than 1 % of its typical step
        size ``|x[t] - x[t-1]|`` over the fit data scores above ``threshold_``
        (a held value about six times it); features whose fit data repeat a
        value exactly at more than 1 % of their steps, or are ever that still,
        are left out (:mod:`skae._flatlines`). Everywhere else the score is the
        error and the threshold is the same: a calm stretch that still moves,
        however much calmer than the fit data, scores as without the check.
        ``"auto"``: on for a series, off for sequences; ``True`` with sequences
        is an error.

    Attributes
    ----------
    threshold_ : float
        The threshold ``tau``, in the units of the anomaly score: a step (or
        sequence) whose score exceeds it is an anomaly.
    offset_ : float
        ``-threshold_``, so that ``decision_function = score_samples - offset_``.
    heldout_errors_ : ndarray of shape (n_heldout,)
        Reconstruction errors of the held-out part (per time step or per sequence)
        that ``threshold_`` came from with ``contamination="auto"``.
    heldout_mean_, heldout_std_ : float
        ``mu`` and ``sigma`` of ``heldout_errors_``.
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`LSTMAutoencoder`.
    history_ : skorch.History
        Training and held-out loss per epoch.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Per-feature statistics used by ``standardize``.
    device_ : str
        The device the model was trained on.
    error_mean_, error_covariance_, error_precision_ : ndarray
        With ``anomaly_score="mahalanobis"`` only: the mean ``(n_features_in_,)``,
        the shrunk covariance and its inverse ``(n_features_in_, n_features_in_)``
        of the held-out absolute error vectors.
    score_stride_ : int
        The scoring stride used by the threshold and by scoring.
    window_size_, score_smoothing_, anomaly_score_
        The values of these parameters at ``fit``, which scoring uses:
        like ``score_stride_``, they shape the scores that ``threshold_`` was
        set on, so ``set_params`` changes them only at the next ``fit``.
    causal_ : bool
        Whether scores are causal (``causal`` at ``fit``).
    heldout_weight_ : float
        After :meth:`partial_fit` only: the total weight of the errors behind
        ``heldout_mean_`` and ``heldout_std_``, which are then weighted over
        every error seen (with forgetting), while ``heldout_errors_`` keeps the
        most recent ones (at most 10,000).
    n_partial_fits_ : int
        After :meth:`partial_fit` only: how many updates followed ``fit``.
    flatline_reference_ : ndarray of shape (n_features_in_,)
        With ``detect_flatlines`` only: three hundredths of the median mean step
        size of the fit data's half-window stretches, per feature, in
        standardized units (``0`` turns a feature's check off).
    flatline_weight_ : float
        With ``detect_flatlines`` only: the score of a stretch moving a third of
        the reference, ``threshold_`` at ``fit``, per unit of the log ratio
        (:mod:`skae._flatlines`).
    threshold_info_ : dict
        What ``threshold_`` came from: the rule (``"above_heldout"``,
        ``"mean_k_sigma"``, ``"pot"`` or ``"contamination"``), the number,
        mean, standard deviation and maximum of the held-out errors, and the
        rule's own figures (for ``"above_heldout"``: ``k_sigma_value``, the
        ``median`` and ``binding``, ``"k_sigma"`` or ``"max"``, whichever set
        the threshold; for ``"pot"``: the initial level, the number of peaks,
        the fitted shape and scale, and the risk). A detector fitted on
        sequences also has ``fitted_on="sequences"``: its scores are one per
        sequence, so :meth:`partial_fit` and :class:`StreamingScorer`, which
        take a series, refuse it.
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
    ``score_samples`` is the negated reconstruction error: higher is more normal.
    A step's score depends only on the fitted model and the windows covering it, so
    appending data changes the scores of the last ``window_size - 1`` steps only.
    For a series, :meth:`events` returns the steps that :meth:`predict` flags as
    alarms: intervals with their start, end, peak and mean score and the features
    that contributed most.

    As with scikit-learn's estimators, one detector is not meant to be fitted
    and used at once from two threads: scoring while :meth:`partial_fit` (or
    :meth:`fit`) runs on the same detector is not supported, and may score with
    weights and a threshold from before, after or between the update's steps.
    Score a copy (``copy.deepcopy(detector)``) in the other thread, or take
    turns (a lock). Scoring itself never runs with dropout: it puts the network
    in eval mode, whatever its ``training`` flag was, and ``partial_fit``
    trains a copy of the network, so a scorer never sees it in train mode.

    References
    ----------
    .. [1] Malhotra, P. et al. (2016). LSTM-based encoder-decoder for multi-sensor
       anomaly detection. ICML Anomaly Detection Workshop.
    .. [2] Srivastava, N., Mansimov, E. and Salakhutdinov, R. (2015). Unsupervised
       learning of video representations using LSTMs. ICML.
    .. [3] Siffer, A., Fouque, P.-A., Termier, A. and Largouet, C. (2017). Anomaly
       detection in streams with extreme value theory. KDD.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import LSTMAutoencoderDetector
    >>> t = np.arange(600)
    >>> X = np.sin(2 * np.pi * t / 25).reshape(-1, 1)
    >>> detector = LSTMAutoencoderDetector(
    ...     window_size=16, hidden_size=8, max_epochs=3, random_state=0
    ... ).fit(X)
    >>> detector.score_samples(X).shape
    (600,)
    >>> set(np.unique(detector.predict(X))) <= {-1, 1}
    True
    """

    _parameter_constraints = {
        "window_size": [NumberInterval(Integral, 1, None, closed="left")],
        "stride": [NumberInterval(Integral, 1, None, closed="left")],
        "hidden_size": [NumberInterval(Integral, 1, None, closed="left")],
        "num_layers": [NumberInterval(Integral, 1, 64, closed="both")],
        "dropout": [NumberInterval(Real, 0, 1, closed="left")],
        "decoder_feed": [StrOptions({"repeat", "state"})],
        "max_epochs": [NumberInterval(Integral, 1, None, closed="left")],
        "batch_size": [NumberInterval(Integral, 1, None, closed="left")],
        "lr": [NumberInterval(Real, 0, None, closed="neither")],
        "patience": [NumberInterval(Integral, 1, None, closed="left")],
        "validation_fraction": [NumberInterval(Real, 0, 1, closed="neither")],
        "contamination": [
            StrOptions({"auto"}),
            NumberInterval(Real, 0, 0.5, closed="right"),
        ],
        "n_sigmas": [NumberInterval(Real, 0, None, closed="left")],
        "threshold_rule": [StrOptions({"above_heldout", "mean_k_sigma", "pot"})],
        "false_alarm_risk": [NumberInterval(Real, 0, 1, closed="neither")],
        "standardize": ["boolean"],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "noise_std": [NumberInterval(Real, 0, None, closed="left")],
        "anomaly_score": [StrOptions(set(ANOMALY_SCORES))],
        "score_stride": [
            StrOptions({"auto"}),
            NumberInterval(Integral, 1, None, closed="left"),
        ],
        "max_windows_per_epoch": [
            None,
            NumberInterval(Integral, 1, None, closed="left"),
        ],
        "n_threads": [
            None,
            StrOptions({"auto"}),
            NumberInterval(Integral, 1, 1024, closed="both"),
        ],
        "score_smoothing": [NumberInterval(Integral, 0, None, closed="left")],
        "centered_features": [None, "array-like"],
        "causal": ["boolean"],
        "forget_half_life": [None, NumberInterval(Real, 0, None, closed="neither")],
        "detect_flatlines": [StrOptions({"auto"}), "boolean"],
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

    # ------------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    @uses_torch_threads
    def fit(self, X, y=None):
        """Train the autoencoder on normal data and set the threshold.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray
            Normal history: one series, equal-length sequences, or a list of
            variable-length sequences ``(seq_len_i, n_features)``.
        y : None
            Ignored; present for API consistency (labels are never needed to fit).

        Returns
        -------
        self : LSTMAutoencoderDetector
            The fitted detector.
        """
        self.__dict__.pop("offset_", None)
        device = _net.resolve_device(self.device)
        self.score_stride_ = self._resolve_score_stride()
        # what shapes the scores and so offset_: fixed here, read by scoring
        self.window_size_ = self.window_size
        self.score_smoothing_ = self.score_smoothing
        self.anomaly_score_ = self.anomaly_score
        self.causal_ = bool(self.causal)
        # partial_fit's running state and the flatline check start afresh
        for name in (*_PARTIAL_FIT_STATE, *_FLATLINE_STATE):
            self.__dict__.pop(name, None)
        heldout_context = 0
        if is_sequence_input(X):
            if not isinstance(self.detect_flatlines, str) and self.detect_flatlines:
                raise ValueError(
                    "detect_flatlines=True checks a series for flat stretches; "
                    "for sequences set detect_flatlines=False"
                )
            sequences = check_sequences(self, X, reset=True)
            n_train = split_point(
                len(sequences), self.validation_fraction, 1, "sequences"
            )
            self._set_scaling(np.concatenate(sequences[:n_train]), rows=False)
            scaled = [apply_scaling(s, self.mean_, self.scale_) for s in sequences]
            train = _training.SequenceDataset(scaled[:n_train])
            valid = _training.SequenceDataset(scaled[n_train:])
            heldout = sequences[n_train:]
            data = sequences
        else:
            X = check_series(self, X, reset=True)
            check_length(len(X), self.window_size)
            n_train = split_point(
                len(X), self.validation_fraction, self.window_size, "time steps"
            )
            self._set_scaling(X[:n_train])
            scaled = apply_scaling(X, self.mean_, self.scale_)
            train = _training.WindowDataset(
                scaled, self.window_size, self._training_starts(n_train)
            )
            valid = _training.WindowDataset(
                scaled,
                self.window_size,
                n_train + self._training_starts(len(X) - n_train),
            )
            heldout = X[n_train:]
            if self.causal_:
                # causal held-out scores read the window_size - 1 steps before
                # them, as every step of a stream does (no short prefixes)
                heldout_context = self.window_size - 1
                heldout = X[n_train - heldout_context :]
            data = X

        seed = None
        if self.random_state is not None:
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        self.device_ = device
        self.centered_features_ = feature_indices(self, self.centered_features)
        self.net_ = _training.fit_net(
            train,
            valid,
            _training.NetConfig.of(self),
            n_features=self.n_features_in_,
            centered_features=self.centered_features_,
            device=device,
            verbose=self.verbose,
            seed=seed,
        )
        self.history_ = self.net_.history

        if self.anomaly_score_ == "mahalanobis":
            self.error_mean_, self.error_covariance_, self.error_precision_ = (
                fit_error_gaussian(
                    self._core().step_feature_errors(heldout, n_context=heldout_context)
                )
            )
        else:  # no stale Gaussian from an earlier fit
            for name in ("error_mean_", "error_covariance_", "error_precision_"):
                self.__dict__.pop(name, None)
        self.heldout_errors_ = self._errors(heldout, heldout_context)
        tau, info = threshold_from_heldout(
            self.heldout_errors_,
            self.threshold_rule,
            risk=self.false_alarm_risk,
            n_sigmas=self.n_sigmas,
        )
        self.heldout_mean_, self.heldout_std_ = info["mean"], info["std"]
        if self.contamination == "auto":
            self.threshold_ = tau
        else:
            self.threshold_ = contamination_threshold(
                self._errors(data), self.contamination
            )
            info = {"rule": "contamination", "contamination": self.contamination}
        if is_sequence_input(data):
            # scores are one per sequence; partial_fit and StreamingScorer,
            # which take a series, refuse such a detector (see
            # _fitted_on_sequences); kept here so that model files hold it
            info = {**info, "fitted_on": "sequences"}
        self.threshold_info_ = info
        self._fit_flatlines(data)
        self.offset_ = -self.threshold_
        return self

    def _fit_flatlines(self, data):
        """Set the flatline check of ``detect_flatlines`` from the fit series."""
        if not self.detect_flatlines or is_sequence_input(data):
            return  # False, or "auto" with sequences
        length = flatline_length(self.window_size_)
        scaled = apply_scaling(data, self.mean_, self.scale_)
        self.flatline_reference_ = fit_reference(scaled, length)
        self.flatline_weight_ = self.threshold_ / np.log(FLATLINE_FACTOR)

    def _resolve_score_stride(self):
        if self.score_stride == "auto":
            return max(1, self.window_size // 4)
        return min(self.score_stride, self.window_size)

    def _training_starts(self, n_timesteps):
        grid_starts, tail_start = window_starts(
            n_timesteps, self.window_size, self.stride
        )
        return grid_starts if tail_start is None else np.r_[grid_starts, tail_start]

    def _set_scaling(self, X_train, *, rows=True):
        self.mean_, self.scale_ = fit_scaling(X_train, self.standardize)
        if self.standardize:
            names = getattr(self, "feature_names_in_", None)
            warn_dominant_values(X_train, names, rows=rows)

    # ------------------------------------------------------ incremental learning

    @uses_torch_threads
    def partial_fit(self, X, y=None):
        """Judge new data with the current model, then keep learning from it.

        As scikit-learn's incremental learners (``SGDOneClassSVM.partial_fit``,
        ``MiniBatchKMeans.partial_fit``) do, this continues from the current
        state at a bounded cost. Two things happen, in this order:

        1. ``X`` is scored by the current model. Those errors, made before the
           model learned from ``X`` (so ``X`` is held-out data for the model
           that scores it), update the threshold's statistics, which forget
           old errors at the rate ``forget_half_life`` sets:
           ``threshold_rule="mean_k_sigma"`` uses the weighted mean and
           standard deviation; ``"above_heldout"`` the larger of that and
           ``max + (max - median)`` of the most recent errors
           (``heldout_errors_``, a buffer of at most 10,000); ``"pot"`` and a
           float ``contamination`` are re-estimated from the most recent
           errors.
        2. The network trains from its current weights for one epoch of the
           least size ``fit`` uses, 1,024 windows of ``X`` (cycling through
           them in fresh random orders when ``X`` has fewer; at most
           ``max_windows_per_epoch``), with a fresh Adam optimiser at ``lr``,
           in an order drawn from ``random_state`` and the number of calls so
           far. The cost of a call is therefore bounded: scoring ``X`` once and
           1,024 training windows.

        A detector that is not fitted yet is fitted with :meth:`fit`, as the
        first ``partial_fit`` of scikit-learn's incremental learners
        initialises them. Parameters are read at each call (like
        ``SGDOneClassSVM.partial_fit``), except the score settings fixed by
        ``fit`` (``window_size_``, ``score_smoothing_``, ``causal_``, ...).
        ``error_mean_`` and ``error_precision_`` (``anomaly_score=
        "mahalanobis"``) and ``mean_``, ``scale_`` stay as ``fit`` set them.

        A call is all or nothing: when training diverges (the rules of
        ``fit``, checked after every step, the last one included), it raises
        :class:`~skae.TrainingDivergedError` and leaves the detector as it was
        before the call, weights, threshold and every fitted attribute.

        Do not score this detector from another thread while ``partial_fit``
        runs (see the Notes of the class): score a copy
        (``copy.deepcopy(detector)``) there, or take turns with a lock.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features)
            New normal data, at least ``window_size`` steps; a 2-D series only.
        y : None
            Ignored.

        Returns
        -------
        self : LSTMAutoencoderDetector

        Raises
        ------
        TrainingDivergedError
            When training diverges (say, after ``set_params(lr=...)`` far too
            large); the detector is then as it was.
        ValueError
            When ``X`` is not a 2-D series of the fitted features, at least a
            window long, or the detector was fitted on sequences.
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
        if is_sequence_input(X):
            raise ValueError(
                "partial_fit takes a 2-D series (n_timesteps, n_features); to "
                "learn from new sequences, fit again on all of them."
            )
        X = check_series(self, X, reset=False)
        window_size = self._fitted_setting("window_size")
        check_length(len(X), window_size)
        errors = self._errors(X)
        starts, _ = window_starts(len(X), window_size, 1)
        self._learn(X, errors, starts)
        return self

    def _learn(self, X, errors, starts):
        """Update the threshold from ``errors`` (made before learning), then
        train on the windows of the validated series ``X`` at ``starts``.

        All or nothing: when training diverges (or anything else fails), the
        detector is left as it was, weights and every fitted attribute.
        """
        saved = dict(self.__dict__)
        core = self._core()
        count = self.__dict__.get("n_partial_fits_", 0)
        seed = None
        if isinstance(self.random_state, Integral):
            seed = (int(self.random_state) * 1_000_003 + count + 1) % (2**63 - 1)
        try:
            self._update_threshold(errors)
            if len(starts):
                # trains a copy of the module, and changes the module only
                # when the pass has not diverged
                _training.continue_training(
                    core.module,
                    core.scale(X),
                    core.window_size,
                    starts,
                    batch_size=self.batch_size,
                    lr=self.lr,
                    seed=seed,
                    noise_std=self.noise_std,
                    max_windows=min(
                        _training.MIN_WINDOWS_PER_EPOCH,
                        self.max_windows_per_epoch or _training.MIN_WINDOWS_PER_EPOCH,
                    ),
                )
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        self.n_partial_fits_ = count + 1

    def _update_threshold(self, errors):
        """Merge new errors into the threshold's statistics and reset it."""
        errors = np.asarray(errors, dtype=np.float64)
        half_life = self.forget_half_life
        weight = self.__dict__.get("heldout_weight_", float(len(self.heldout_errors_)))
        weight, mean, variance = merge_errors(
            weight, self.heldout_mean_, self.heldout_std_**2, errors, half_life
        )
        std = float(np.sqrt(variance))
        recent = np.concatenate([self.heldout_errors_, errors])
        recent = recent[-error_buffer_size(half_life) :]
        if self.contamination != "auto":
            threshold = contamination_threshold(recent, self.contamination)
            info = {"rule": "contamination", "contamination": self.contamination}
        elif self.threshold_rule == "pot":
            threshold, info = threshold_from_heldout(
                recent, "pot", risk=self.false_alarm_risk
            )
        else:
            threshold = k_sigma_threshold(mean, std, self.n_sigmas)
            info = {"rule": self.threshold_rule, "n_sigmas": float(self.n_sigmas)}
            if self.threshold_rule == "above_heldout":
                threshold, details = above_heldout_threshold(recent, threshold)
                info.update(details)
        info.update(
            n_errors=int(recent.size),
            mean=float(mean),
            std=std,
            max=float(recent.max()),
            weight=float(weight),
        )
        if half_life is not None:
            info["forget_half_life"] = float(half_life)
        self.heldout_errors_ = recent
        self.heldout_mean_, self.heldout_std_ = float(mean), std
        self.heldout_weight_ = float(weight)
        self.threshold_ = float(threshold)
        self.threshold_info_ = info
        self.offset_ = -self.threshold_

    def _fitted_on_sequences(self):
        """Return True when ``fit`` was given sequences, not one series."""
        info = self.__dict__.get("threshold_info_", {})
        return info.get("fitted_on") == "sequences"

    def __sklearn_is_fitted__(self):
        # offset_ is set last in fit and removed when fit starts, so a fit that
        # failed (say, TrainingDivergedError) never leaves a half-fitted model
        return hasattr(self, "offset_")

    # ----------------------------------------------------------------- scoring

    def _validate(self, X):
        """Check a fitted detector and X; return ``(is_sequences, data)``."""
        check_is_fitted(self)
        if is_sequence_input(X):
            return True, check_sequences(self, X, reset=False)
        X = check_series(self, X, reset=False)
        check_length(len(X), self._fitted_setting("window_size"))
        return False, X

    def _fitted_setting(self, name):
        """Return the value of parameter ``name`` that ``fit`` fixed.

        Models fitted before skae fixed it (older pickles) use the parameter.
        """
        return self.__dict__.get(f"{name}_", getattr(self, name))

    def _core(self):
        """The fitted autoencoder this detector scores with (layer 3)."""
        return FittedAutoencoder.of(self)

    def _errors(self, data, n_context=0):
        """Anomaly score per time step (series) or per sequence (list)."""
        return self._core().errors(data, n_context=n_context)

    @uses_torch_threads
    def feature_contributions(self, X):
        """Return each feature's share of the anomaly score: which sensor it was.

        Parameters
        ----------
        X : array-like or list of ndarray
            Data to explain, in any form :meth:`score_samples` takes.

        Returns
        -------
        contributions : ndarray of shape (n_timesteps, n_features) or \
(n_sequences, n_features)
            One row per value of ``score_samples(X)``, one column per feature;
            each row sums to ``-score_samples(X)`` for that row. With
            ``anomaly_score="squared_error"`` the terms are the features' squared
            errors divided by ``n_features_in_`` (never negative); with
            ``"mahalanobis"`` they are the terms ``(e - mu)_f (Sigma^-1 (e - mu))_f``
            of the distance, negative where a feature's error makes the step more
            typical. For sequences, a row is the mean over the sequence's steps.
        """
        _, data = self._validate(X)
        return self._core().contributions(data)

    @uses_torch_threads
    def score_samples(self, X):
        """Return the negated anomaly score (reconstruction error): higher is normal.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray
            Data to score, in one of the forms ``fit`` accepts.

        Returns
        -------
        scores : ndarray of shape (n_timesteps,) or (n_sequences,)
            One score per time step of a series, or per sequence.
        """
        _, data = self._validate(X)
        return -self._errors(data)

    def decision_function(self, X):
        """Return ``score_samples(X) - offset_``: negative means anomaly.

        Parameters
        ----------
        X : array-like or list of ndarray
            Data to score, in any form :meth:`score_samples` takes.

        Returns
        -------
        decision : ndarray of shape (n_timesteps,) or (n_sequences,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Return ``-1`` for anomalies and ``+1`` for normal steps or sequences.

        Parameters
        ----------
        X : array-like or list of ndarray
            Data to classify, in any form :meth:`score_samples` takes.

        Returns
        -------
        labels : ndarray of shape (n_timesteps,) or (n_sequences,), dtype int
            ``-1`` where the reconstruction error exceeds ``threshold_``.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    @uses_torch_threads
    def events(self, X, *, merge_gap=None, n_top_features=3):
        """Return the alarms of a series as events: one row per interval of flags.

        The flags are those of :meth:`predict` (a step is flagged where
        ``score_samples(X) - offset_ < 0``, computed once here), so every step
        that ``predict`` flags lies in exactly one event, and an event starts and
        ends on a flagged step. Runs of flags separated by at most ``merge_gap``
        unflagged steps form one event.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features)
            One series, as :meth:`score_samples` takes it; a DataFrame's index
            labels the events (``start_time``, ``end_time``, ``peak_time``).
            Sequences (a 3-D array, a list of 2-D arrays) are refused: their
            scores are one per sequence, with no time to make intervals of.
        merge_gap : int or None, default=None
            Runs of flags separated by at most this many unflagged steps form
            one event. ``None`` means ``window_size_``: a step's score averages
            the windows covering it (with ``causal``, reads the window ending
            at it), so one disturbance raises the scores of the steps within a
            window's reach of it, and those scores can dip below the threshold
            and rise again inside that reach; flags that close together are
            one alarm. ``0`` makes each run of flags an event.
        n_top_features : int, default=3
            The features listed per event, by their contributions
            (:meth:`feature_contributions`) summed over the event's flagged
            steps, largest first; named by ``feature_names_in_`` when the
            detector was fitted on a DataFrame, else column numbers. ``0``
            lists none and skips the per-feature pass.

        Returns
        -------
        events : pandas.DataFrame
            One row per event, in time order, with the columns ``start`` and
            ``end`` (positions of the first and last flagged steps, ``end``
            inclusive), ``n_flagged``, ``peak`` and ``peak_score`` (the
            highest-scored flagged step), ``mean_score`` (over the flagged
            steps), ``features`` (a tuple), and with a DataFrame also
            ``start_time``, ``end_time`` and ``peak_time``. Scores are anomaly
            scores, ``-score_samples(X)``: higher is more anomalous. Without
            flags the table is empty, with the same columns.

        Raises
        ------
        ValueError
            When ``X`` is not one 2-D series, or ``merge_gap`` or
            ``n_top_features`` is not an int >= 0.

        See Also
        --------
        predict : the per-step flags the events are made of.
        StreamingScorer.take_events : the same events, from a stream.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import LSTMAutoencoderDetector
        >>> X = np.sin(np.arange(600) / 4).reshape(-1, 1)
        >>> detector = LSTMAutoencoderDetector(
        ...     window_size=16, hidden_size=8, max_epochs=3, random_state=0
        ... ).fit(X[:400])
        >>> X_test = X[400:].copy()
        >>> X_test[100:110] += 3.0
        >>> events = detector.events(X_test)
        >>> list(events.columns[:4])
        ['start', 'end', 'n_flagged', 'peak']
        >>> flagged = detector.predict(X_test) == -1
        >>> int(events["n_flagged"].sum()) == int(flagged.sum())
        True
        """
        check_is_fitted(self)
        if is_sequence_input(X):
            raise ValueError(
                "events need one series (n_timesteps, n_features): a 3-D array or "
                "a list of 2-D arrays holds sequences, whose scores are one per "
                "sequence; use predict for them, or pass each series on its own."
            )
        if merge_gap is None:
            merge_gap = self._fitted_setting("window_size")
        merge_gap = _check_count(merge_gap, "merge_gap", 0)
        n_top_features = _check_count(n_top_features, "n_top_features", 0)
        _, data = self._validate(X)
        core = self._core()
        contributions = core.contributions(data) if n_top_features else None
        if contributions is not None and core.anomaly_score != "squared_error":
            # what core.errors computes for this score: the very same numbers
            scores = contributions.sum(axis=1)
        else:
            # the squared-error score is a mean over features taken per batch,
            # which the sum of the contributions matches only up to rounding
            scores = core.errors(data)
        flags = -scores - self.offset_ < 0  # decision_function < 0, as predict
        names = getattr(self, "feature_names_in_", None)
        return flag_events(
            flags,
            scores,
            contributions=contributions,
            feature_names=None if contributions is None else names,
            index=X.index if hasattr(X, "columns") else None,
            merge_gap=merge_gap,
            n_top_features=n_top_features,
        )

    def score(self, X, y=None):
        """Return the mean of ``score_samples(X)``: higher means better reconstruction.

        This lets ``GridSearchCV`` tune the detector without labels. To tune with
        labels, use :func:`skae.metrics.anomaly_scorer`.

        Parameters
        ----------
        X : array-like
            Data to score, in one of the forms ``fit`` accepts.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    # ------------------------------------------------ compression and denoising

    @uses_torch_threads
    def encode(self, X):
        """Return the latent codes: the compressed form of each window or sequence.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray
            For a series, the codes are those of the windows that
            ``SlidingWindowTransformer(window_size, stride).transform(X)`` returns.

        Returns
        -------
        codes : ndarray of shape (n_windows, hidden_size) or (n_sequences, hidden_size)
        """
        _, data = self._validate(X)
        return self._core().codes(data, self.stride)

    @uses_torch_threads
    def reconstruct(self, X):
        """Return the reconstruction of X, in X's units and shape.

        For a series, the reconstructions of all windows are averaged back into one
        series: a denoised copy of X (``score_stride`` does not apply here).

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray

        Returns
        -------
        X_hat : ndarray of X's shape, or list of ndarray for a list
        """
        is_sequences, data = self._validate(X)
        recon = self._core().reconstruct(data)
        if is_sequences and isinstance(X, np.ndarray):
            return np.stack(recon)
        return recon
