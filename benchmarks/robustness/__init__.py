"""Robustness: hostile inputs, chunked Dask scoring and the safe model format."""
