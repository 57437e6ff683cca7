"""Score a Dask array series chunk by chunk, with the context a window needs.

A time step's score is the mean over the grid windows that cover it (windows start
at ``0, score_stride_, 2 * score_stride_, ...``; an end-aligned tail window fills
only the steps no grid window covers), and those windows reach ``window_size - 1``
steps to either side. Each chunk is therefore scored together with ``window_size -
1`` steps borrowed from each neighbour (:func:`dask.array.map_overlap`, no padding
at the ends of the series), and only its own steps are kept.

For a step to see the same windows as in memory, the block it is scored in must
start on the scoring grid and borrow the full ``window_size - 1`` steps from its
neighbours. We choose the chunk boundaries ourselves so that both hold (see
:func:`_scoring_chunks`) and forbid Dask to rechunk behind our back: a chunk shorter
than ``window_size - 1`` would otherwise be topped up by Dask with steps from its
neighbour, moving a boundary off the grid (the cause of wrong scores near a short
last chunk). Dask is imported inside the function, so ``import skae`` does not need
it.
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
        ``2 * (window_size - 1)`` neighbouring steps. Any chunk sizes are
        accepted; see ``scores`` for how they are adjusted.
    method : {"score_samples", "decision_function", "predict"}, \
default="score_samples"
        Which per-time-step output of the detector to compute.

    Returns
    -------
    scores : dask.array.Array of shape (n_timesteps,)
        float64 (``int64`` for ``"predict"``). Every time step is scored from
        exactly the windows that in-memory scoring uses for it, so the values
        equal ``getattr(detector, method)(X.compute())`` up to the network's
        float32 rounding: a window's result can change in its last bit with the
        other windows of its forward pass, and those differ between the two
        (measured: relative differences up to about ``1e-7``). Chunked like ``X``
        along time, except that each chunk boundary ``c`` moves left to the
        nearest step with ``c - (window_size - 1)`` a multiple of
        ``detector.score_stride_`` (no move when that is 1), and chunks then
        shorter than ``window_size - 1`` are merged with a neighbour (empty
        chunks disappear). Call ``.compute()`` for a NumPy array, or store it
        with ``.to_zarr`` and the like. Input errors inside a chunk (NaN,
        infinity) raise the detector's ``ValueError`` when the result is
        computed.

    Raises
    ------
    TypeError
        When ``X`` is not a Dask array of numbers.
    ValueError
        When ``X`` is not 2-D, has the wrong number of features, unknown chunk
        sizes, is shorter than one window, or ``method`` is unknown.

    See Also
    --------
    LSTMAutoencoderDetector.score_samples : in-memory scoring, which this equals
        up to float32 rounding.

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
    window_size = getattr(detector, "window_size_", detector.window_size)
    check_length(X.shape[0], window_size)

    depth = window_size - 1
    time_chunks = _scoring_chunks(
        X.chunks[0], window_size, getattr(detector, "score_stride_", 1)
    )
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
    (window_size - 1)`` (clipped to the series), and its own steps then see exactly
    the windows they see in memory provided that

    - ``c - (window_size - 1)`` is a multiple of ``stride`` (or ``c`` is 0), so that
      the block's grid windows are the series' grid windows;
    - the chunk and its neighbours are at least ``window_size - 1`` long, so that
      each block borrows the full ``window_size - 1`` steps from its neighbour
      (Dask's ``map_overlap`` would otherwise rechunk by itself, moving
      boundaries off the grid).

    Each boundary of ``chunks`` moves left to the nearest step that satisfies the
    first condition; then, from left to right, a boundary is dropped (its two
    chunks merged) when it is fewer than ``window_size - 1`` steps from the
    previous boundary kept or from the end of the series. Dropping boundaries
    keeps the others on the grid, so one pass is enough.
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
