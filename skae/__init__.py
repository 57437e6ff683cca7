"""skae: LSTM autoencoders for time-series anomaly detection, the scikit-learn way.

Public names
------------
LSTMAutoencoderDetector
    The scikit-learn outlier detector.
SlidingWindowTransformer
    Series to windows, and window values back to time steps.
LSTMAutoencoder
    The torch module, usable on its own.
LSTMEncoderTransformer
    Sequences (or the steps of a series) to latent codes, for Pipelines.
"""

from ._detector import LSTMAutoencoderDetector
from ._encoder import LSTMEncoderTransformer
from ._module import LSTMAutoencoder
from ._windowing import SlidingWindowTransformer

__version__ = "0.1.0"

__all__ = [
    "LSTMAutoencoder",
    "LSTMAutoencoderDetector",
    "LSTMEncoderTransformer",
    "SlidingWindowTransformer",
    "__version__",
]
