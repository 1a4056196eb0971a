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


def random_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """An (n, n) orthogonal matrix drawn uniformly (Haar): QR of a Gaussian matrix, signs fixed."""
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def symmetric_with_eigenvalues(eigenvalues, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A symmetric M = V diag(eigenvalues) V^T with random orthonormal eigenvectors (chapter 6).

    Returns M (n, n) and V (n, n), whose column i is the eigenvector of eigenvalues[i].
    """
    eigenvalues = as_float_array("eigenvalues", eigenvalues, 1)
    V = random_orthogonal(len(eigenvalues), rng)
    return (V * eigenvalues) @ V.T, V
