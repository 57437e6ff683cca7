"""Safe model files: :func:`save_model` and :func:`load_model`.

``joblib``/``pickle`` files run code when they are loaded, so they must only be
loaded from trusted sources. A skae model file cannot: it is a zip of JSON
(parameters, fitted values, history) and safetensors weights (:mod:`skae._codec`),
read without pickle and checked field by field (:mod:`skae._model_files`).
"""

from . import _model_files
from ._streaming import STATE, StreamingScorer


def save_model(detector, path):
    """Write a fitted detector to a safe model file that loads without pickle.

    Parameters
    ----------
    detector : LSTMAutoencoderDetector or StreamingScorer
        A fitted detector (on its own, not inside a Pipeline), or a
        :class:`StreamingScorer`, saved with its state (see
        :meth:`StreamingScorer.save`).
    path : str or os.PathLike
        Where to write; ``.skae`` is a good suffix. The file is written under a
        temporary name and then renamed, so a crash never leaves half a file.

    Raises
    ------
    TypeError
        When ``detector`` is not an ``LSTMAutoencoderDetector``, or holds a value
        the format cannot store.
    ValueError
        When the file would be larger than ``skae._codec.MAX_FILE_BYTES``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import skae
    >>> X = np.sin(np.arange(300) / 5).reshape(-1, 1)
    >>> detector = skae.LSTMAutoencoderDetector(
    ...     window_size=8, hidden_size=4, max_epochs=2, random_state=0
    ... ).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skae")
    >>> skae.save_model(detector, path)
    >>> restored = skae.load_model(path)
    >>> bool(np.array_equal(restored.score_samples(X), detector.score_samples(X)))
    True
    """
    if isinstance(detector, StreamingScorer):
        detector.save(path)
    else:
        _model_files.write(detector, path)


def load_model(path, *, device=None):
    """Read a detector written by :func:`save_model`, without unpickling anything.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    device : str, default=None
        Torch device to score on: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``
        or ``"auto"`` (a GPU when there is one). ``None`` uses the device the
        model was trained on when it is available here, and the CPU otherwise.

    Returns
    -------
    detector : LSTMAutoencoderDetector
        The fitted detector, scoring as the saved one did, with the architecture
        it was fitted with. A file of a :class:`StreamingScorer` loads as its
        detector.

    Raises
    ------
    ValueError
        When the file is not a skae model file of at most
        ``skae._codec.MAX_FILE_BYTES`` bytes, is corrupted, or holds a value no
        ``fit`` writes (the message names the field). Everything is checked
        before a network is allocated; loading never runs code from the file.
    """
    detector, _ = _model_files.read(path, device, STATE)
    return detector
