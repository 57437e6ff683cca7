"""Score a Dask array series chunk by chunk, with the context a window needs.

A step's score comes from the windows covering it, which reach ``window_size -
1`` steps to either side, so each chunk is scored with that many steps borrowed
from each neighbour (:func:`dask.array.map_overlap`) and keeps its own steps.
For a step to see the windows it sees in memory, its block must start on the
scoring grid and borrow the full reach: :func:`_scoring_chunks` chooses chunk
boundaries so that both hold, and Dask may not rechunk them. Dask is imported
inside the function, so ``import skae`` does not need it.
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
        ``getattr(detector, method)(X.compute())`` up to the network's float32
        rounding (relative differences up to about ``1e-7``). Chunk boundaries
        move left onto the scoring grid (``score_stride_``), and chunks shorter
        than ``window_size - 1`` merge with a neighbour. Bad values inside a
        chunk raise the detector's ``ValueError`` when computed.

    Raises
    ------
    TypeError
        When ``X`` is not a Dask array of numbers.
    ValueError
        When ``X`` is not 2-D, has the wrong number of features, unknown chunk
        sizes, is shorter than one window, or ``method`` is unknown.

    See Also
    --------
    LSTMAutoencoderDetector.score_samples : in-memory scoring.

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
    """Return the time chunks to score: on the scoring grid, none shorter than a
    window's reach.

    A chunk ``[c, e)`` is scored from ``c - (window_size - 1)`` to ``e +
    (window_size - 1)``; its steps see the windows they see in memory when ``c -
    (window_size - 1)`` is a multiple of ``stride`` (or ``c`` is 0) and the chunk
    and its neighbours are at least ``window_size - 1`` long. Each boundary moves
    left to the nearest step on the grid; then, left to right, a boundary closer
    than that to the previous one kept, or to the end, is dropped (which keeps
    the others on the grid).
    """
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
