"""Deterministic random problems for the course's RNNs (chapter 4 and the tests).

Every generator takes a seed and builds its own ``np.random.Generator``, so the
same call gives the same arrays on every machine and in every build.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bptt.spectral import with_spectral_radius


class LinearProblem(NamedTuple):
    """A linear RNN (9.7.9) with inputs and regression targets."""

    X: np.ndarray  # (T, B, d)
    h0: np.ndarray  # (B, h)
    params: dict  # W_hx (h, d), W_hh (h, h), W_qh (q, h)
    Y: np.ndarray  # (T, B, q)


class TanhProblem(NamedTuple):
    """A tanh RNN with a softmax output, inputs and class targets."""

    X: np.ndarray  # (T, B, d)
    h0: np.ndarray  # (B, h)
    params: dict  # W_hx, W_hh, b_h, W_qh, b_q
    targets: np.ndarray  # (T, B) integers in [0, q)


def _check_sizes(**sizes: int) -> None:
    for name, size in sizes.items():
        if int(size) != size or size < 1:
            raise ValueError(f"{name} must be a positive integer, got {size!r}")


def _gaussian(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """(rows, cols) Gaussian weights with variance 1/cols, so activations stay of order one."""
    return rng.standard_normal((rows, cols)) / np.sqrt(cols)


def linear_problem(seed: int, T: int, B: int, d: int, h: int, q: int,
                   spectral_radius: float | None = None) -> LinearProblem:
    """Random linear RNN problem; ``W_hh`` is rescaled to ``spectral_radius`` if given."""
    _check_sizes(T=T, B=B, d=d, h=h, q=q)
    rng = np.random.default_rng(seed)
    W_hh = _gaussian(rng, h, h)
    if spectral_radius is not None:
        W_hh = with_spectral_radius(W_hh, spectral_radius)
    params = {"W_hx": _gaussian(rng, h, d), "W_hh": W_hh, "W_qh": _gaussian(rng, q, h)}
    return LinearProblem(rng.standard_normal((T, B, d)), rng.standard_normal((B, h)), params,
                         rng.standard_normal((T, B, q)))


def tanh_problem(seed: int, T: int, B: int, d: int, h: int, q: int) -> TanhProblem:
    """Random tanh RNN problem with ``q`` classes."""
    _check_sizes(T=T, B=B, d=d, h=h, q=q)
    rng = np.random.default_rng(seed)
    params = {"W_hx": _gaussian(rng, h, d), "W_hh": _gaussian(rng, h, h),
              "b_h": 0.1 * rng.standard_normal(h), "W_qh": _gaussian(rng, q, h),
              "b_q": 0.1 * rng.standard_normal(q)}
    return TanhProblem(rng.standard_normal((T, B, d)), 0.5 * rng.standard_normal((B, h)), params,
                       rng.integers(0, q, size=(T, B)))
