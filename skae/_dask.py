"""Score a Dask array series chunk by chunk, with the context a window needs.

A time step's score is the mean over the windows that cover it, and those windows
reach ``window_size - 1`` steps to either side. Each chunk is therefore scored
together with ``window_size - 1`` steps borrowed from each neighbour
(:func:`dask.array.map_overlap`, no padding at the ends of the series), and only its
own steps are kept: every step sees exactly the windows it sees in memory, so the
scores equal in-memory scoring up to float rounding. Dask is imported inside the
function, so ``import skae`` does not need it.
"""

import numpy as np

from ._validation import check_is_fitted
from ._windowing import check_length

_METHODS = ("score_samples", "decision_function", "predict")


def score_dask(detector, X, *, method="score_samples"):
    """Return the per-time-step scores of a Dask array series, as a lazy Dask array.

    Parameters
    ----------
    detector : LSTMAutoencoderDetector
        A fitted detector. It is put into the task graph once and shipped to the
        workers (on a ``dask.distributed`` cluster, each worker loads it once).
    X : dask.array.Array of shape (n_timesteps, n_features)
        One time series, chunked along time (chunks along features are merged).
        It may be far larger than memory: each task holds one chunk and
        ``2 * (window_size - 1)`` neighbouring steps. Chunks shorter than
        ``window_size - 1`` are merged with their neighbours.
    method : {"score_samples", "decision_function", "predict"}, \
default="score_samples"
        Which per-time-step output of the detector to compute.

    Returns
    -------
    scores : dask.array.Array of shape (n_timesteps,)
        Chunked like ``X`` along time; float64 (``int64`` for ``"predict"``). Call
        ``.compute()`` for a NumPy array, or store it with ``.to_zarr`` and the
        like. Input errors inside a chunk (NaN, infinity) raise the detector's
        ``ValueError`` when the result is computed.

    Raises
    ------
    TypeError
        When ``X`` is not a Dask array of numbers.
    ValueError
        When ``X`` is not 2-D, has the wrong number of features, unknown chunk
        sizes, is shorter than one window, or ``method`` is unknown.

    See Also
    --------
    LSTMAutoencoderDetector.score_samples : in-memory scoring, which this equals.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> import skae
    >>> X = np.sin(np.arange(400) / 5).reshape(-1, 1)
    >>> detector = skae.LSTMAutoencoderDetector(
    ...     window_size=8, hidden_size=4, max_epochs=2, random_state=0
    ... ).fit(X)
    >>> lazy = skae.score_dask(detector, da.from_array(X, chunks=(100, 1)))
    >>> bool(np.allclose(lazy.compute(), detector.score_samples(X)))
    True
    """
    import dask
    import dask.array as da

    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
    check_is_fitted(detector)
    if not isinstance(X, da.Array):
        raise TypeError(
            "score_dask scores a dask.array.Array; got "
            f"{type(X).__name__}. Use detector.{method}(X) for in-memory data, or "
            "dask.array.from_array(X, chunks=...) to chunk it."
        )
    if X.ndim != 2:
        raise ValueError(
            "Expected a 2-D Dask array of shape (n_timesteps, n_features), got "
            f"{X.ndim} dimension(s)."
        )
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must hold numbers, got dtype {X.dtype}.")
    if any(np.isnan(size) for chunks in X.chunks for size in chunks):
        raise ValueError(
            "X has unknown chunk sizes; call X.compute_chunk_sizes() first."
        )
    if X.shape[1] != detector.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(detector).__name__} is "
            f"expecting {detector.n_features_in_} features as input."
        )
    window_size = detector.window_size
    check_length(X.shape[0], window_size)

    # one chunk across features; drop empty chunks, which would get too little
    # context at the ends of the series
    time_chunks = tuple(size for size in X.chunks[0] if size > 0)
    stride = getattr(detector, "score_stride_", 1)
    if stride > 1:
        time_chunks = _align_chunks(time_chunks, window_size, stride)
    X = X.rechunk((time_chunks, X.shape[1]))
    out_dtype = np.int64 if method == "predict" else np.float64
    return X.map_overlap(
        _score_block,
        depth={0: window_size - 1, 1: 0},
        boundary="none",
        trim=True,
        drop_axis=1,
        dtype=out_dtype,
        meta=np.empty((0,), dtype=out_dtype),
        detector=dask.delayed(detector, pure=True),
        method=method,
    )


def _align_chunks(chunks, window_size, stride):
    """Move chunk boundaries so that each block's windows fall on the global grid.

    With a scoring stride, windows start at ``0, stride, ...`` from the start of the
    series scored. A chunk starting at ``c`` is scored from ``c - (window_size -
    1)``, so that must be a multiple of ``stride`` for the chunk to see the same
    windows as the whole series; each boundary moves left to the nearest such step.
    """
    boundaries = np.cumsum(chunks)[:-1]
    aligned = boundaries - (boundaries - (window_size - 1)) % stride
    aligned = np.unique(aligned[aligned > 0])
    edges = np.r_[0, aligned, int(np.sum(chunks))]
    return tuple(int(size) for size in np.diff(edges))


def _score_block(block, detector, method):
    """Score one chunk with its borrowed context (trimmed off by Dask afterwards)."""
    names = getattr(detector, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        block = pd.DataFrame(block, columns=names)
    return getattr(detector, method)(block)
