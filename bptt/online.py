"""Online gradients for the linear RNN on one stream (chapter 7).

The model is the linear RNN of ``bptt.rnn`` without biases, run on a single
stream: ``h_t = W_hx x_t + W_hh h_{t-1}``, ``o_t = W_qh h_t``, with the per-step
loss ``l_t = 1/2 |o_t - y_t|^2`` and ``L = 1/T sum_t l_t``. A stream is ``X``
of shape ``(T, d)``, ``Y`` of shape ``(T, q)`` and a start state ``h0`` of shape
``(h,)``. This module is written for the linear RNN on purpose: the chapter's
exercise notebook grades the tanh RNN with softmax cross-entropy instead.

The recurrent parameters form one vector theta of N = h d + h h entries, in
this order (row-major, as ``np.ravel`` lays them out):

    theta = (W_hx[0, 0], ..., W_hx[0, d-1], W_hx[1, 0], ..., W_hx[h-1, d-1],
             W_hh[0, 0], ..., W_hh[h-1, h-1]).

``W_qh`` is not in theta: it acts on h_t only, so its gradient is the exact
partial derivative ``(o_t - y_t) h_t^T`` at every step, with no recurrence.

- RTRL (Williams and Zipser, 1989) carries K_t = dh_t/dtheta (h, N), a total
  derivative, by K_t = J_t K_{t-1} + F_t with the partial derivatives
  J_t = dh_t/dh_{t-1} = W_hh and F_t = dh_t/dtheta (h_{t-1} held fixed).
- UORO (Tallec and Ollivier, 2018) carries a rank-one estimate s~_t theta~_t^T
  of K_t, unbiased for every t.
- Truncated BPTT cuts and rescales the backward pass with the multipliers xi
  of ``bptt.truncation`` (chapter 3) and updates at every cut.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from bptt.progress import progress
from bptt.rnn import LINEAR_PARAMS, check_rnn_inputs
from bptt.truncation import Schedule, randomized_multipliers, regular_multipliers, segments

EPS = 1e-7  # keeps UORO's scaling numbers c_0, c_1 finite when a norm is zero
METHODS = ("rtrl", "uoro", "truncated", "randomized")

Draw = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


class RTRLState(NamedTuple):
    """What RTRL carries from step to step."""

    h: np.ndarray  # (h,) the state h_t
    K: np.ndarray  # (h, N) the sensitivity K_t = dh_t/dtheta


class UOROState(NamedTuple):
    """What UORO carries from step to step; s and theta may have a leading sample axis."""

    h: np.ndarray  # (h,) the state h_t
    s: np.ndarray  # (h,) or (n, h): s~_t
    theta: np.ndarray  # (N,) or (n, N): theta~_t


class OnlineRun(NamedTuple):
    """The course of one online run."""

    loss: np.ndarray  # (T,) l_t at every step, before that step's update; NaN after divergence
    params: dict  # W_hx, W_hh, W_qh at the end


def theta_size(h: int, d: int) -> int:
    """N = h d + h h, the number of recurrent parameters."""
    return h * d + h * h


def flatten(grads: dict) -> np.ndarray:
    """(N,) theta-ordered vector of the W_hx (h, d) and W_hh (h, h) entries of ``grads``."""
    return np.concatenate([np.ravel(grads["W_hx"]), np.ravel(grads["W_hh"])])


def unflatten(theta: np.ndarray, h: int, d: int) -> dict[str, np.ndarray]:
    """W_hx (..., h, d) and W_hh (..., h, h) from theta (..., N); a leading axis is kept."""
    theta = np.asarray(theta)
    lead = theta.shape[:-1]
    return {"W_hx": theta[..., :h * d].reshape(*lead, h, d),
            "W_hh": theta[..., h * d:].reshape(*lead, h, h)}


def check_stream(X, Y, h0, params: dict
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Validate one stream; return X (T, d), Y (T, q), h0 (h,) and params as float64 arrays."""
    X = np.asarray(X, dtype=np.float64)
    h0 = np.asarray(h0, dtype=np.float64)
    if X.ndim != 2 or h0.ndim != 1:
        raise ValueError(f"one stream needs X of shape (T, d) and h0 of shape (h,), "
                         f"got {X.shape} and {h0.shape}")
    X3, h02, P = check_rnn_inputs(X[:, None, :], h0[None], params, LINEAR_PARAMS)
    Y = np.asarray(Y, dtype=np.float64)
    expected = (X.shape[0], P["W_qh"].shape[0])
    if Y.shape != expected or not np.all(np.isfinite(Y)):
        raise ValueError(f"Y must be a finite array of shape {expected}, got {Y.shape}")
    return X3[:, 0], Y, h02[0], P


def _output_grads(h: np.ndarray, y: np.ndarray, W_qh: np.ndarray
                  ) -> tuple[float, np.ndarray, np.ndarray]:
    """l_t, the partial derivative dl_t/dh_t (h,) and dl_t/dW_qh (q, h) at the state h (h,)."""
    error = W_qh @ h - y
    return 0.5 * float(error @ error), W_qh.T @ error, np.outer(error, h)


def rtrl_start(h0: np.ndarray, d: int) -> RTRLState:
    """RTRL's state before step 1: h_0 and K_0 = 0 (h_0 is given, not a function of theta)."""
    h = len(h0)
    return RTRLState(np.array(h0, dtype=np.float64), np.zeros((h, theta_size(h, d))))


def rtrl_step(state: RTRLState, x: np.ndarray, y: np.ndarray, params: dict
              ) -> tuple[RTRLState, float, dict[str, np.ndarray]]:
    """One step of RTRL: h_t, K_t = J_t K_{t-1} + F_t, and the gradient of l_t.

    Parameters
    ----------
    state : h_{t-1} (h,) and K_{t-1} (h, N).
    x : (d,) input x_t; y : (q,) target y_t; params : W_hx (h, d), W_hh (h, h), W_qh (q, h).

    Returns
    -------
    state : h_t and K_t.
    loss : l_t.
    grads : dl_t/dW_hx (h, d), dl_t/dW_hh (h, h), dl_t/dW_qh (q, h), the total derivatives.
    """
    W_hx, W_hh = params["W_hx"], params["W_hh"]
    h, d = W_hx.shape
    h_prev = state.h
    h_new = W_hx @ x + W_hh @ h_prev
    K = W_hh @ state.K  # J_t K_{t-1}: the h^2 N = O(h^4) product that dominates
    # F_t has one non-zero block per row: row i holds x_t at W_hx[i, :] and h_{t-1} at W_hh[i, :].
    # K is a fresh C-ordered product, so the reshapes below are views and the adds land in K.
    rows = np.arange(h)
    K[:, :h * d].reshape(h, h, d)[rows, rows] += x
    K[:, h * d:].reshape(h, h, h)[rows, rows] += h_prev
    loss, dl_dh, dW_qh = _output_grads(h_new, y, params["W_qh"])
    grads = unflatten(dl_dh @ K, h, d)
    grads["W_qh"] = dW_qh
    return RTRLState(h_new, K), loss, grads


def rtrl_gradient(X, Y, h0, params: dict) -> tuple[float, dict[str, np.ndarray]]:
    """L and its exact gradient, accumulated online by RTRL.

    X (T, d), Y (T, q), h0 (h,), params W_hx (h, d), W_hh (h, h), W_qh (q, h).
    Returns (L, grads) with grads W_hx, W_hh, W_qh of L = 1/T sum_t l_t.
    """
    X, Y, h0, P = check_stream(X, Y, h0, params)
    state, total = rtrl_start(h0, X.shape[1]), 0.0
    sums = {name: np.zeros_like(P[name]) for name in LINEAR_PARAMS}
    for x, y in zip(X, Y):
        state, loss, grads = rtrl_step(state, x, y, P)
        total += loss
        for name in LINEAR_PARAMS:
            sums[name] += grads[name]
    T = len(X)
    return total / T, {name: value / T for name, value in sums.items()}


def rademacher(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Independent entries +1 or -1 with probability 1/2 each, from one ``rng.integers`` call."""
    return 2.0 * rng.integers(0, 2, size=shape) - 1.0


def uoro_start(h0: np.ndarray, d: int, samples: int | None = None) -> UOROState:
    """UORO's state before step 1: h_0, s~_0 = 0 and theta~_0 = 0 (for ``samples`` chains)."""
    h = len(h0)
    lead = () if samples is None else (samples,)
    return UOROState(np.array(h0, dtype=np.float64), np.zeros(lead + (h,)),
                     np.zeros(lead + (theta_size(h, d),)))


def _norm(a: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis, kept as an axis of length one."""
    return np.sqrt((a * a).sum(axis=-1, keepdims=True))


def uoro_step(state: UOROState, x: np.ndarray, y: np.ndarray, params: dict, nu: np.ndarray
              ) -> tuple[UOROState, float, dict[str, np.ndarray]]:
    """One step of UORO with the random signs ``nu`` (Tallec and Ollivier, 2018, Algorithm 1).

    With J_t s~ = W_hh s~_{t-1} (forward mode) and F_t^T nu (reverse mode, an N-vector),

        c_0 = sqrt((|theta~_{t-1}| + eps) / (|J_t s~_{t-1}| + eps)),
        c_1 = sqrt((|F_t^T nu| + eps) / (|nu| + eps)),          eps = 1e-7,
        s~_t = c_0 J_t s~_{t-1} + c_1 nu,   theta~_t = theta~_{t-1} / c_0 + F_t^T nu / c_1.

    Parameters
    ----------
    state : h_{t-1} (h,), s~_{t-1} (h,) and theta~_{t-1} (N,), or (n, h) and (n, N) for n
        independent chains on the same stream (the parameters are then shared and fixed).
    x : (d,); y : (q,); params : W_hx (h, d), W_hh (h, h), W_qh (q, h).
    nu : (h,) or (n, h), the random signs of this step.

    Returns
    -------
    state : h_t, s~_t, theta~_t.
    loss : l_t.
    grads : the estimate (dl_t/dh_t . s~_t) theta~_t of dl_t/dW_hx (h, d) and dl_t/dW_hh
        (h, h), with the chains' axis first if there is one, and the exact dl_t/dW_qh (q, h).
    """
    W_hx, W_hh = params["W_hx"], params["W_hh"]
    h, d = W_hx.shape
    h_prev = state.h
    h_new = W_hx @ x + W_hh @ h_prev
    forward = state.s @ W_hh.T  # J_t s~_{t-1}, one row per chain
    lead = nu.shape[:-1]
    reverse = np.concatenate([(nu[..., :, None] * x).reshape(*lead, h * d),
                              (nu[..., :, None] * h_prev).reshape(*lead, h * h)], axis=-1)
    c0 = np.sqrt((_norm(state.theta) + EPS) / (_norm(forward) + EPS))
    c1 = np.sqrt((_norm(reverse) + EPS) / (_norm(nu) + EPS))
    s = c0 * forward + c1 * nu
    theta = state.theta / c0 + reverse / c1
    loss, dl_dh, dW_qh = _output_grads(h_new, y, params["W_qh"])
    grads = unflatten((s @ dl_dh)[..., None] * theta, h, d)
    grads["W_qh"] = dW_qh
    return UOROState(h_new, s, theta), loss, grads


def uoro_estimates(X, Y, h0, params: dict, rng: np.random.Generator, samples: int | None = None,
                   draw: Draw = rademacher) -> tuple[float, dict[str, np.ndarray]]:
    """L and UORO estimates of its gradient, with the parameters held fixed.

    X (T, d), Y (T, q), h0 (h,), params W_hx, W_hh, W_qh. With ``samples = n`` it runs n
    independent chains side by side and the W_hx, W_hh estimates get a leading axis of n.
    Step t draws its signs with one call ``draw(rng, (h,))``, or ``draw(rng, (n, h))``.
    Returns (L, grads) with grads W_hx, W_hh, W_qh of L = 1/T sum_t l_t.
    """
    X, Y, h0, P = check_stream(X, Y, h0, params)
    h = len(h0)
    state, total = uoro_start(h0, X.shape[1], samples), 0.0
    shape = (h,) if samples is None else (samples, h)
    sums: dict[str, np.ndarray | float] = dict.fromkeys(LINEAR_PARAMS, 0.0)
    for x, y in zip(X, Y):
        state, loss, grads = uoro_step(state, x, y, P, draw(rng, shape))
        total += loss
        for name in LINEAR_PARAMS:
            sums[name] = sums[name] + grads[name]
    T = len(X)
    return total / T, {name: value / T for name, value in sums.items()}


def uoro_gradient(X, Y, h0, params: dict, rng: np.random.Generator,
                  draw: Draw = rademacher) -> tuple[float, dict[str, np.ndarray]]:
    """L and one unbiased UORO estimate of its gradient (``uoro_estimates`` with one chain)."""
    return uoro_estimates(X, Y, h0, params, rng, None, draw)


def _segment_grads(X: np.ndarray, Y: np.ndarray, h_start: np.ndarray, xi: np.ndarray, P: dict
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Losses l_t (n,), the last state (h,) and the summed gradients of one segment.

    X (n, d), Y (n, q) and xi (n,) belong to the n steps of a segment that starts from the
    state h_start (h,), held fixed. The backward pass multiplies the message that step t
    sends back to h_{t-1} by xi_t; the segment's first multiplier is not used.
    """
    H = np.empty((len(X) + 1, len(h_start)))
    H[0] = h_start
    for t, x in enumerate(X):
        H[t + 1] = P["W_hx"] @ x + P["W_hh"] @ H[t]
    E = H[1:] @ P["W_qh"].T - Y  # (n, q) errors o_t - y_t
    grads = {"W_qh": E.T @ H[1:], "W_hx": np.zeros_like(P["W_hx"]),
             "W_hh": np.zeros_like(P["W_hh"])}
    message = np.zeros(len(h_start))  # the part of dL/dh_t that comes from step t + 1
    for t in reversed(range(len(X))):
        dh = P["W_qh"].T @ E[t] + message
        grads["W_hx"] += np.outer(dh, X[t])
        grads["W_hh"] += np.outer(dh, H[t])
        message = xi[t] * (P["W_hh"].T @ dh)
    return 0.5 * np.sum(E * E, axis=1), H[-1], grads


def truncated_gradient(X, Y, h0, params: dict, xi) -> tuple[float, dict[str, np.ndarray]]:
    """L and the gradient with the backward pass cut and rescaled by the multipliers ``xi``.

    X (T, d), Y (T, q), h0 (h,), params W_hx, W_hh, W_qh; xi (T,) from ``bptt.truncation``:
    ``full_multipliers`` gives the exact gradient, ``regular_multipliers(T, tau)`` truncated
    BPTT in chunks of tau steps, ``randomized_multipliers`` randomized truncation. The stream
    is processed one segment (between cuts) at a time, the state carried across cuts.
    Returns (L, grads) with grads W_hx, W_hh, W_qh of L = 1/T sum_t l_t.
    """
    X, Y, h0, P = check_stream(X, Y, h0, params)
    xi = np.asarray(xi, dtype=np.float64)
    if xi.shape != (len(X),):
        raise ValueError(f"xi must have shape {(len(X),)}, got {xi.shape}")
    h, total = h0, 0.0
    sums = {name: np.zeros_like(P[name]) for name in LINEAR_PARAMS}
    for start, stop in segments(xi):
        part = slice(start, stop)
        losses, h, grads = _segment_grads(X[part], Y[part], h, xi[part], P)
        total += losses.sum()
        for name in LINEAR_PARAMS:
            sums[name] += grads[name]
    T = len(X)
    return total / T, {name: value / T for name, value in sums.items()}


def _stream_multipliers(method: str, T: int, tau: int | None, schedule: Schedule | None,
                        rng: np.random.Generator) -> np.ndarray:
    if method == "truncated":
        if tau is None:
            raise ValueError("truncated BPTT needs tau")
        return regular_multipliers(T, tau)
    if schedule is None:
        raise ValueError("randomized truncation needs a schedule from bptt.truncation")
    return randomized_multipliers(T, schedule, rng)


def train_online(method: str, X, Y, h0, params: dict, lr: float, *, tau: int | None = None,
                 schedule: Schedule | None = None, seed: int = 0, clip: float | None = None,
                 label: str = "", limit: float = 1e6) -> OnlineRun:
    """Plain gradient descent on one stream, online, with one of four gradient methods.

    The state is never reset. "rtrl" and "uoro" update W_hx, W_hh and W_qh after every
    step with their gradient of l_t (UORO's estimate for W_hx and W_hh), carrying K_t or
    s~_t, theta~_t across the updates. "truncated" (chunks of ``tau`` steps) and
    "randomized" (cuts drawn with ``schedule``) hold the parameters fixed within a
    segment and update at its end with the sum of the segment's gradients of l_t, so every
    method moves the parameters by ``lr`` times one gradient of l_t per step.
    ``seed`` seeds UORO's signs (all drawn at the start, one row of h per step) and the
    randomized cuts. With ``clip``, an update whose gradient (all three weights as one
    vector) is longer than ``clip`` is scaled down to that length (clipping by norm,
    chapter 5). A run whose loss passes ``limit`` has diverged; its later losses are NaN.

    X (T, d), Y (T, q), h0 (h,), params W_hx (h, d), W_hh (h, h), W_qh (q, h); the
    arrays passed in are not changed.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    X, Y, h0, P = check_stream(X, Y, h0, params)
    P = {name: value.copy() for name, value in P.items()}
    T, rng = len(X), np.random.default_rng(seed)
    losses = np.full(T, np.nan)

    def update(grads):
        scale = lr
        if clip is not None:
            norm = np.sqrt(sum(float((grads[name] ** 2).sum()) for name in LINEAR_PARAMS))
            scale = lr if norm <= clip else lr * clip / norm
        for name in LINEAR_PARAMS:
            P[name] -= scale * grads[name]

    if method in ("rtrl", "uoro"):
        state = rtrl_start(h0, X.shape[1]) if method == "rtrl" else uoro_start(h0, X.shape[1])
        signs = rademacher(rng, (T, len(h0))) if method == "uoro" else None
        steps = range(T)
        for t in progress(steps, T, label) if label else steps:
            if method == "rtrl":
                state, losses[t], grads = rtrl_step(state, X[t], Y[t], P)
            else:
                state, losses[t], grads = uoro_step(state, X[t], Y[t], P, signs[t])
            if not losses[t] <= limit:
                losses[t:] = np.nan
                break
            update(grads)
        return OnlineRun(losses, P)

    xi = _stream_multipliers(method, T, tau, schedule, rng)
    parts = segments(xi)
    h = h0
    for start, stop in progress(parts, len(parts), label) if label else parts:
        part = slice(start, stop)
        losses[part], h, grads = _segment_grads(X[part], Y[part], h, xi[part], P)
        if not np.all(losses[part] <= limit):
            losses[start:] = np.nan
            break
        update(grads)
    return OnlineRun(losses, P)
