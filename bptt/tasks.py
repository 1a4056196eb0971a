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


def adding_problem(seed: int, T: int, B: int) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem, chapters 3 and 5: a variant of a task of Hochreiter and
    Schmidhuber (1997), as used by Le et al. (2015).

    Each sequence holds T pairs (value, marker): values uniform in [0, 1], two
    markers set, one in the first half and one in the second. The target, read
    after the last step, is the sum of the two marked values.

    Returns X (T, B, 2) and Y (B, 1).
    """
    _check_sizes(T=T, B=B)
    if T < 2:
        raise ValueError(f"the adding problem needs T >= 2, got {T}")
    rng = np.random.default_rng(seed)
    values = rng.random((T, B))
    first = rng.integers(0, T // 2, size=B)
    second = rng.integers(T // 2, T, size=B)
    markers = np.zeros((T, B))
    markers[first, np.arange(B)] = 1.0
    markers[second, np.arange(B)] = 1.0
    Y = (values * markers).sum(axis=0)[:, None]
    return np.stack([values, markers], axis=-1), Y


def lagged_adding_stream(seed: int, T: int, B: int, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """A stream version of the adding problem for truncated training (chapter 3).

    Values v_t are uniform in [-1, 1]; the target at every step is
    v_t + v_{t - lag}, with v_s = 0 before the stream starts. Predicting it
    needs a memory of exactly ``lag`` steps.

    Returns X (T, B, 1) and Y (T, B, 1).
    """
    _check_sizes(T=T, B=B, lag=lag)
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1.0, 1.0, size=(T, B, 1))
    past = np.concatenate([np.zeros((lag, B, 1)), values[:-lag]])[:T]
    return values, values + past


class InfluenceBalancing(NamedTuple):
    """The influence-balancing system of Tallec and Ollivier (2017), chapter 3.

    The state follows h_t = W_hh h_{t-1} + w x with W_hh = (I + S)/2, S the
    upward shift, so each coordinate feeds the one above it; the constant input
    x is +1 on the first ``positive`` coordinates and -1 on the rest. The loss at
    each step is l_t = 1/2 (h_{t,1} - 1)^2. A change of w raises h_1 at once but
    lowers it in the long run when ``positive`` < h/2.
    """

    W_hh: np.ndarray  # (h, h)
    x: np.ndarray  # (h,)


def influence_balancing(h: int = 23, positive: int = 10) -> InfluenceBalancing:
    """The system with ``h`` coordinates, the first ``positive`` of them pushed up by w."""
    _check_sizes(h=h, positive=positive)
    if positive > h:
        raise ValueError(f"positive must be at most h = {h}, got {positive}")
    W_hh = 0.5 * (np.eye(h) + np.eye(h, k=1))
    return InfluenceBalancing(W_hh, np.where(np.arange(h) < positive, 1.0, -1.0))
