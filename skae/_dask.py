"""Score a Dask array series chunk by chunk, each chunk with the ``window_size -
1`` steps of context it borrows from either neighbour."""

import numpy as np

from ._validation import check_is_fitted
from ._windowing import check_length

_METHODS = ("score_samples", "decision_function", "predict")


def score_dask(detector, X, *, method="score_samples"):
    """Return the per-time-step scores of a Dask array series, as a lazy Dask array.

    Parameters
    ----------
    detector : LSTMAutoencoderDetector
        A fitted detector, put into the task graph once.
    X : dask.array.Array of shape (n_timesteps, n_features)
        One time series, chunked along time; it may be larger than memory, as
        a task holds one chunk and ``2 * (window_size - 1)`` neighbouring steps.
    method : {"score_samples", "decision_function", "predict"}, \
default="score_samples"
        Which per-time-step output of the detector to compute.

    Returns
    -------
    scores : dask.array.Array of shape (n_timesteps,)
        ``getattr(detector, method)(X.compute())`` up to float32 rounding. Chunk
        boundaries move onto the scoring grid; bad values raise when computed.

    Raises
    ------
    TypeError
        When ``X`` is not a Dask array of numbers.
    ValueError
        When ``X`` is not 2-D, has other features, unknown chunk sizes or fewer
        steps than a window, or ``method`` is unknown.

    See Also
    --------
    LSTMAutoencoderDetector.score_samples : in-memory scoring.
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
    window_size = detector.window_size_
    check_length(X.shape[0], window_size)
    depth = window_size - 1
    time_chunks = _scoring_chunks(X.chunks[0], window_size, detector.score_stride_)
    X = X.rechunk((time_chunks, X.shape[1]))
    out_dtype = np.int64 if method == "predict" else np.float64
    return X.map_overlap(
        _score_block,
        depth={0: depth, 1: 0},
        boundary="none",
        trim=True,
        # our chunks are all at least depth long; Dask's own rechunking would move
        # boundaries off the scoring grid, so have it raise rather than rechunk
        allow_rechunk=False,
        drop_axis=1,
        dtype=out_dtype,
        meta=np.empty((0,), dtype=out_dtype),
        detector=dask.delayed(detector, pure=True),
        method=method,
    )


def _scoring_chunks(chunks, window_size, stride):
    """Return the time chunks to score: each boundary moves left onto the scoring
    grid, and one closer than ``window_size - 1`` to the last kept or the end goes."""
    n_timesteps = int(np.sum(chunks))
    min_size = max(window_size - 1, 1)
    edges = np.cumsum(chunks)[:-1]
    edges = edges - (edges - (window_size - 1)) % stride
    kept = [0]
    for edge in np.unique(edges).tolist():
        if edge - kept[-1] >= min_size and n_timesteps - edge >= min_size:
            kept.append(edge)
    kept.append(n_timesteps)
    return tuple(int(size) for size in np.diff(kept))


def _score_block(block, detector, method):
    """Score one chunk with its borrowed context (trimmed off by Dask afterwards)."""
    names = getattr(detector, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        block = pd.DataFrame(block, columns=names)
    return getattr(detector, method)(block)
