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
save_model, load_model
    Safe model files (JSON and safetensors; loading never unpickles).
score_dask
    Score a Dask array series chunk by chunk, on a cluster if one is connected.
StreamingScorer
    Score rows as they arrive with a causal detector, and keep learning.
TrainingDivergedError
    Raised by ``fit`` when the loss stops being finite.
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
