"""Spectral quantities of recurrent weight matrices (chapters 4 and 6)."""

from __future__ import annotations

import numpy as np

from bptt.validation import as_float_array


def spectral_radius(W: np.ndarray) -> float:
    """Largest modulus of the eigenvalues of the square matrix ``W`` (h, h)."""
    W = as_float_array("W", W, 2)
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be square, got shape {W.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def with_spectral_radius(W: np.ndarray, radius: float) -> np.ndarray:
    """``W`` (h, h) rescaled so that its spectral radius equals ``radius`` > 0."""
    if not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"radius must be a positive number, got {radius!r}")
    current = spectral_radius(W)
    if current == 0:
        raise ValueError("W is nilpotent (spectral radius 0) and cannot be rescaled")
    return np.asarray(W, dtype=np.float64) * (radius / current)
