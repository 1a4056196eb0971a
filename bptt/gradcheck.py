"""Gradient checking by central differences (chapter 4, "Gradient checking").

The course compares gradients with ``rel_error`` and states its tolerances in
float64: analytic against central differences at most 1e-6, analytic against
torch.autograd at most 1e-10.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TOL_NUMERIC = 1e-6
TOL_AUTOGRAD = 1e-10


def rel_error(a, b) -> float:
    """Relative error ``max|a - b| / max(1e-8, |a| + |b|)`` of two arrays of one shape.

    The denominator is the largest entry of ``|a| + |b|``, so the measure is
    scaled to the size of the gradient as a whole and entries near zero do
    not blow it up.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs arrays of one shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``.

    ``x`` is changed in place, one entry at a time, and restored exactly, so
    ``f`` can read it through a closure (the CS231n idiom).

    Parameters
    ----------
    f : callable with no arguments that returns a float and depends on ``x``.
    x : float64 array of any shape, perturbed in place.
    eps : step of the difference quotient ``(f(x + eps) - f(x - eps)) / (2 eps)``.

    Returns
    -------
    grad : array of ``x.shape``.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise ValueError("numerical_gradient needs a float64 numpy array to perturb in place")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        f_plus = f()
        x[index] = saved - eps
        f_minus = f()
        x[index] = saved
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad
