"""Recurrent networks in numpy: forward passes, and the linear RNN's backward pass.

Chapter 4, "BPTT in detail", explains every function here. Arrays are
time-major: inputs ``X`` have shape ``(T, B, d)``, hidden states ``(T, B, h)``,
outputs ``(T, B, q)``. Weights follow the book's notation, ``W_hx`` is
``(h, d)``, ``W_hh`` is ``(h, h)``, ``W_qh`` is ``(q, h)``, so for one example
``h_t = W_hx x_t + W_hh h_{t-1}``; with a batch in rows this reads
``H_t = X_t W_hx^T + H_{t-1} W_hh^T``.

Loss convention (the book's notation page, equation 9.7.10): L is the mean of the per-step
losses over the T time steps and over the B sequences of a batch,
``L = 1/(T B) sum_t sum_b l(o_tb, y_tb)``; every gradient here is of that L.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bptt.validation import as_class_indices, as_float_array, require_keys, require_shape

LINEAR_PARAMS = ("W_hx", "W_hh", "W_qh")
TANH_PARAMS = ("W_hx", "W_hh", "b_h", "W_qh", "b_q")


class LinearStepCache(NamedTuple):
    """What ``linear_step_backward`` needs from one step of the linear RNN."""

    x: np.ndarray  # (B, d)
    h_prev: np.ndarray  # (B, h)
    W_hx: np.ndarray  # (h, d)
    W_hh: np.ndarray  # (h, h)


class LinearRNNCache(NamedTuple):
    """What ``linear_rnn_backward`` needs from a whole sequence."""

    steps: list[LinearStepCache]  # T entries
    H: np.ndarray  # (T, B, h), h_1 .. h_T
    W_qh: np.ndarray  # (q, h)


class TanhStepCache(NamedTuple):
    """What a backward step of the tanh RNN needs from one forward step."""

    x: np.ndarray  # (B, d)
    h_prev: np.ndarray  # (B, h)
    h: np.ndarray  # (B, h), tanh of the pre-activation z
    W_hx: np.ndarray  # (h, d)
    W_hh: np.ndarray  # (h, h)


class TanhRNNCache(NamedTuple):
    """What a backward pass of the tanh RNN needs from a whole sequence."""

    steps: list[TanhStepCache]  # T entries
    H: np.ndarray  # (T, B, h), h_1 .. h_T
    W_qh: np.ndarray  # (q, h)


def check_rnn_inputs(X, h0, params: dict, names: tuple[str, ...]
                     ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Validate a sequence, an initial state and parameters; return them as float64 arrays.

    X is ``(T, B, d)``, h0 is ``(B, h)``; parameter shapes follow from W_hx and W_qh.
    """
    require_keys("params", params, names)
    P = {k: as_float_array(k, params[k], 1 if k.startswith("b_") else 2) for k in names}
    X = as_float_array("X", X, 3)
    h0 = as_float_array("h0", h0, 2)
    T, B, d = X.shape
    h, q = P["W_hx"].shape[0], P["W_qh"].shape[0]
    require_shape("W_hx", P["W_hx"], (h, d))
    require_shape("W_hh", P["W_hh"], (h, h))
    require_shape("W_qh", P["W_qh"], (q, h))
    require_shape("h0", h0, (B, h))
    if "b_h" in P:
        require_shape("b_h", P["b_h"], (h,))
        require_shape("b_q", P["b_q"], (q,))
    return X, h0, P


def _unroll(step, X: np.ndarray, h0: np.ndarray, *weights) -> tuple[np.ndarray, list]:
    """Apply ``step(x, h_prev, *weights) -> (h, cache)`` along time.

    X is (T, B, d) and h0 (B, h); returns the states h_1 .. h_T as (T, B, h)
    and the T step caches.
    """
    h, states, caches = h0, [], []
    for x in X:
        h, cache = step(x, h, *weights)
        states.append(h)
        caches.append(cache)
    return np.stack(states), caches


def linear_step_forward(x: np.ndarray, h_prev: np.ndarray, W_hx: np.ndarray,
                        W_hh: np.ndarray) -> tuple[np.ndarray, LinearStepCache]:
    """One step of the linear RNN (9.7.9): ``h = W_hx x + W_hh h_prev``.

    Parameters
    ----------
    x : (B, d) inputs at this step.
    h_prev : (B, h) previous hidden state.
    W_hx : (h, d); W_hh : (h, h).

    Returns
    -------
    h : (B, h) new hidden state.
    cache : LinearStepCache for ``linear_step_backward``.
    """
    h = x @ W_hx.T + h_prev @ W_hh.T
    return h, LinearStepCache(x, h_prev, W_hx, W_hh)


def linear_step_backward(dh: np.ndarray, cache: LinearStepCache
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward through one linear step.

    Parameters
    ----------
    dh : (B, h) total derivative dL/dh of the loss with respect to this step's output.
    cache : from ``linear_step_forward``.

    Returns
    -------
    dx : (B, d); dh_prev : (B, h), the part of dL/dh_prev that flows through this
    step; dW_hx : (h, d); dW_hh : (h, h), this step's share of the weight gradients.
    """
    dx = dh @ cache.W_hx
    dh_prev = dh @ cache.W_hh
    dW_hx = dh.T @ cache.x
    dW_hh = dh.T @ cache.h_prev
    return dx, dh_prev, dW_hx, dW_hh


def linear_rnn_forward(X: np.ndarray, h0: np.ndarray, params: dict
                       ) -> tuple[np.ndarray, LinearRNNCache]:
    """Run the linear RNN (9.7.9) over a batch of sequences.

    Parameters
    ----------
    X : (T, B, d) inputs; h0 : (B, h) initial state;
    params : dict with W_hx (h, d), W_hh (h, h), W_qh (q, h).

    Returns
    -------
    O : (T, B, q) outputs ``o_t = W_qh h_t``.
    cache : LinearRNNCache for ``linear_rnn_backward``.
    """
    X, h0, P = check_rnn_inputs(X, h0, params, LINEAR_PARAMS)
    H, steps = _unroll(linear_step_forward, X, h0, P["W_hx"], P["W_hh"])
    return H @ P["W_qh"].T, LinearRNNCache(steps, H, P["W_qh"])


def linear_rnn_backward(dO: np.ndarray, cache: LinearRNNCache) -> dict[str, np.ndarray]:
    """Backpropagation through time for the linear RNN, equations (9.7.12)-(9.7.16).

    Parameters
    ----------
    dO : (T, B, q) partial derivatives dL/do_t of the loss (9.7.11).
    cache : from ``linear_rnn_forward``.

    Returns
    -------
    dict with the gradients ``W_hx`` (h, d), ``W_hh`` (h, h), ``W_qh`` (q, h),
    ``X`` (T, B, d), ``h0`` (B, h), and ``H`` (T, B, h): the total derivatives
    dL/dh_t of the recursion (9.7.13)-(9.7.14).
    """
    H, W_qh = cache.H, cache.W_qh
    dO = as_float_array("dO", dO, 3)
    require_shape("dO", dO, H.shape[:2] + W_qh.shape[:1])
    T = H.shape[0]
    grads = {"W_qh": np.einsum("tbq,tbh->qh", dO, H),
             "W_hx": np.zeros_like(cache.steps[0].W_hx),
             "W_hh": np.zeros_like(cache.steps[0].W_hh),
             "X": np.zeros(H.shape[:2] + cache.steps[0].x.shape[1:]),
             "H": np.zeros_like(H)}
    dh_next = np.zeros_like(H[0])
    for t in reversed(range(T)):
        dh = dh_next + dO[t] @ W_qh
        grads["H"][t] = dh
        grads["X"][t], dh_next, dW_hx, dW_hh = linear_step_backward(dh, cache.steps[t])
        grads["W_hx"] += dW_hx
        grads["W_hh"] += dW_hh
    grads["h0"] = dh_next
    return grads


def squared_loss(O: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """Squared loss ``l(o, y) = 1/2 |o - y|^2`` averaged over time and batch.

    Parameters
    ----------
    O : (T, B, q) outputs; Y : (T, B, q) targets.

    Returns
    -------
    L : float, ``1/(T B) sum_t sum_b l(o_tb, y_tb)``.
    dO : (T, B, q), the partial derivatives dL/do_t, ``(o_t - y_t) / (T B)``.
    """
    O = as_float_array("O", O, 3)
    Y = as_float_array("Y", Y, 3)
    require_shape("Y", Y, O.shape)
    scale = 1.0 / (O.shape[0] * O.shape[1])
    diff = O - Y
    return 0.5 * scale * float(np.sum(diff * diff)), scale * diff


def tanh_step_forward(x: np.ndarray, h_prev: np.ndarray, W_hx: np.ndarray, W_hh: np.ndarray,
                      b_h: np.ndarray) -> tuple[np.ndarray, TanhStepCache]:
    """One step of the tanh RNN: ``h = tanh(W_hx x + W_hh h_prev + b_h)``.

    Parameters
    ----------
    x : (B, d); h_prev : (B, h); W_hx : (h, d); W_hh : (h, h); b_h : (h,).

    Returns
    -------
    h : (B, h) new hidden state.
    cache : TanhStepCache for the backward step.
    """
    h = np.tanh(x @ W_hx.T + h_prev @ W_hh.T + b_h)
    return h, TanhStepCache(x, h_prev, h, W_hx, W_hh)


def tanh_rnn_forward(X: np.ndarray, h0: np.ndarray, params: dict
                     ) -> tuple[np.ndarray, TanhRNNCache]:
    """Run the tanh RNN with an affine output layer over a batch of sequences.

    Parameters
    ----------
    X : (T, B, d) inputs; h0 : (B, h) initial state;
    params : dict with W_hx (h, d), W_hh (h, h), b_h (h,), W_qh (q, h), b_q (q,).

    Returns
    -------
    O : (T, B, q) outputs ``o_t = W_qh h_t + b_q``, the logits that the softmax
    turns into class probabilities.
    cache : TanhRNNCache for a backward pass.
    """
    X, h0, P = check_rnn_inputs(X, h0, params, TANH_PARAMS)
    H, steps = _unroll(tanh_step_forward, X, h0, P["W_hx"], P["W_hh"], P["b_h"])
    return H @ P["W_qh"].T + P["b_q"], TanhRNNCache(steps, H, P["W_qh"])


def softmax(Z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, shifted by the maximum so large logits cannot overflow."""
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(O: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy of softmax(o_t) against integer targets.

    Parameters
    ----------
    O : (T, B, q) logits o_t; targets : (T, B) integer classes y_t in ``[0, q)``.

    Returns
    -------
    L : float, ``-1/(T B) sum_t sum_b log softmax(o_tb)[y_tb]``.
    """
    O = as_float_array("O", O, 3)
    targets = as_class_indices("targets", targets, O.shape[:2], O.shape[2])
    shifted = O - O.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)
    return -float(picked.mean())
