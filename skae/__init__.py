"""skae: LSTM autoencoders for time-series anomaly detection, the scikit-learn way."""

__version__ = "0.1.0"
