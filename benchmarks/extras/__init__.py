"""Extras: Mahalanobis score, compression, denoising, ragged input, explanations."""
