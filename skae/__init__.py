"""skae: LSTM autoencoders for time-series anomaly detection, the scikit-learn way.

The detector, the window transformer, the encoder, the torch module, safe model
files, Dask and streaming scoring; metrics, plots and data sets live in
:mod:`skae.metrics`, :mod:`skae.plotting` and :mod:`skae.datasets`.
"""

from ._dask import score_dask
from ._detector import LSTMAutoencoderDetector
from ._encoder import LSTMEncoderTransformer
from ._module import LSTMAutoencoder
from ._persistence import load_model, save_model
from ._streaming import StreamingScorer, StreamResult
from ._training import TrainingDivergedError
from ._version import __version__
from ._windowing import SlidingWindowTransformer

__all__ = [
    "LSTMAutoencoder",
    "LSTMAutoencoderDetector",
    "LSTMEncoderTransformer",
    "SlidingWindowTransformer",
    "StreamResult",
    "StreamingScorer",
    "TrainingDivergedError",
    "__version__",
    "load_model",
    "save_model",
    "score_dask",
]
