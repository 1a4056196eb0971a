"""Steps of the gated cells, LSTM and GRU, in numpy (chapter 5).

Both cells stack their gates' weights in one matrix ``W`` whose columns read
the input x_t and the previous state h_{t-1} side by side, in torch's gate
order, so that a cell here and ``torch.nn.LSTMCell`` / ``torch.nn.GRUCell``
with the same numbers agree: torch's ``weight_ih`` and ``weight_hh`` side by
side are ``W``, and its two biases added are ``b`` (for the GRU's candidate
the two halves stay apart, because torch multiplies only the hidden half by
the reset gate).

LSTM (Hochreiter and Schmidhuber, 1997; with the forget gate of Gers et al.,
2000); W_i = [W_ix, W_ih] is the matrix that reads [x_t; h_{t-1}], and so on:
    i_t = sigmoid(W_ix x_t + W_ih h_{t-1} + b_i), likewise f_t and e_t (output gate)
    c~_t = tanh(W_cx x_t + W_ch h_{t-1} + b_c)
    c_t = f_t * c_{t-1} + i_t * c~_t,  h_t = e_t * tanh(c_t)

GRU (Cho et al., 2014), with update gate u_t (torch's z_t) and candidate h~_t
(torch's n_t):
    r_t = sigmoid(W_rx x_t + W_rh h_{t-1} + b_r), likewise u_t
    reset "after" (torch): h~_t = tanh(W_hx x_t + b_hx + r_t * (W_hh h_{t-1} + b_hh))
    reset "before" (Cho et al., Dive into Deep Learning):
                           h~_t = tanh(W_hx x_t + b_hx + W_hh (r_t * h_{t-1}) + b_hh),
                           which uses only the sum b_h = b_hx + b_hh
    h_t = (1 - u_t) * h~_t + u_t * h_{t-1}
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bptt.validation import as_float_array, require_shape

RESETS = ("after", "before")


def sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function, written with tanh so that large |a| cannot overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


class LSTMStepCache(NamedTuple):
    """What a backward step of the LSTM needs from one forward step.

    The field names are the code's, kept because tests read them: ``z`` is
    [x_t; h_{t-1}], not the book's pre-activation z_t; ``g`` (the candidate
    c~_t) and ``o`` (the output gate e_t of the book) are the letters of torch's
    documentation.
    """

    z: np.ndarray  # (B, d + h), x_t and h_{t-1} side by side
    i: np.ndarray  # (B, h) input gate i_t
    f: np.ndarray  # (B, h) forget gate f_t
    g: np.ndarray  # (B, h) candidate cell c~_t
    o: np.ndarray  # (B, h) output gate e_t
    c_prev: np.ndarray  # (B, h) c_{t-1}
    c: np.ndarray  # (B, h) c_t
    W: np.ndarray  # (4h, d + h), rows: i, f, c~, e


def _check_cell(x, h_prev, W, b, rows: int, biases: int) -> tuple[np.ndarray, ...]:
    x, h_prev = as_float_array("x", x, 2), as_float_array("h_prev", h_prev, 2)
    W, b = as_float_array("W", W, 2), as_float_array("b", b, 1)
    (B, d), h = x.shape, h_prev.shape[1]
    require_shape("h_prev", h_prev, (B, h))
    require_shape("W", W, (rows * h, d + h))
    require_shape("b", b, (biases * h,))
    return x, h_prev, W, b


def lstm_step_forward(x, h_prev, c_prev, W, b) -> tuple[np.ndarray, np.ndarray, LSTMStepCache]:
    """One LSTM step.

    Parameters
    ----------
    x : (B, d); h_prev, c_prev : (B, h); W : (4h, d + h); b : (4h,).

    Returns
    -------
    h, c : (B, h) the new hidden and cell states; cache : LSTMStepCache.
    """
    x, h_prev, W, b = _check_cell(x, h_prev, W, b, 4, 4)
    c_prev = as_float_array("c_prev", c_prev, 2)
    require_shape("c_prev", c_prev, h_prev.shape)
    z = np.concatenate([x, h_prev], axis=1)
    i, f, g, o = np.split(z @ W.T + b, 4, axis=1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c_prev + i * g
    return o * np.tanh(c), c, LSTMStepCache(z, i, f, g, o, c_prev, c, W)


class _GRUStep(NamedTuple):
    r: np.ndarray  # (B, h) reset gate
    u: np.ndarray  # (B, h) update gate
    hidden: np.ndarray  # (B, h) W_hh h_{t-1} + b_hh ("after") or W_hh (r * h_{t-1}) + b_hh ("before")
    candidate: np.ndarray  # (B, h) h~_t
    h: np.ndarray  # (B, h) h_t


def _gru_step(x, h_prev, W, b, reset: str) -> _GRUStep:
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
    x, h_prev, W, b = _check_cell(x, h_prev, W, b, 3, 4)
    d, h = x.shape[1], h_prev.shape[1]
    r, u = np.split(sigmoid(np.concatenate([x, h_prev], axis=1) @ W[:2 * h].T + b[:2 * h]), 2,
                    axis=1)
    W_hx, W_hh = W[2 * h:, :d], W[2 * h:, d:]
    from_input = x @ W_hx.T + b[2 * h:3 * h]
    if reset == "after":
        hidden = h_prev @ W_hh.T + b[3 * h:]
        candidate = np.tanh(from_input + r * hidden)
    else:
        hidden = (r * h_prev) @ W_hh.T + b[3 * h:]
        candidate = np.tanh(from_input + hidden)
    return _GRUStep(r, u, hidden, candidate, (1.0 - u) * candidate + u * h_prev)


def gru_step_forward(x, h_prev, W, b, reset: str = "after") -> np.ndarray:
    """One GRU step: x (B, d), h_prev (B, h), W (3h, d + h), b (4h,) -> h (B, h).

    The rows of ``W`` are r, u, h~; ``b`` holds b_r, b_u, then b_hx and b_hh.
    ``reset`` is "after" (torch: the reset gate multiplies W_hh h_{t-1} + b_hh)
    or "before" (Cho et al. and Dive into Deep Learning: it multiplies h_{t-1}).
    """
    return _gru_step(x, h_prev, W, b, reset).h


def gru_step_backward(dh, x, h_prev, W, b, reset: str = "after") -> tuple[np.ndarray, ...]:
    """Backward through one GRU step of ``gru_step_forward``, same arguments (chapter 5).

    dh (B, h) is the total derivative dL/dh_t. Returns dx (B, d),
    dh_prev (B, h), dW (3h, d + h), db (4h,): the derivatives of L through
    this step, each with the shape of its variable.
    """
    step = _gru_step(x, h_prev, W, b, reset)
    x, h_prev, W = (np.asarray(a, dtype=np.float64) for a in (x, h_prev, W))
    dh = as_float_array("dh", dh, 2)
    require_shape("dh", dh, h_prev.shape)
    d, h = x.shape[1], h_prev.shape[1]
    W_hx, W_hh = W[2 * h:, :d], W[2 * h:, d:]
    d_candidate = dh * (1.0 - step.u) * (1.0 - step.candidate ** 2)   # dL/d(pre-activation of h~)
    du = dh * (h_prev - step.candidate)
    dh_prev = dh * step.u
    if reset == "after":
        dr = d_candidate * step.hidden
        d_hidden = d_candidate * step.r
        dW_hh = d_hidden.T @ h_prev
        dh_prev += d_hidden @ W_hh
    else:
        d_hidden = d_candidate
        dW_hh = d_hidden.T @ (step.r * h_prev)
        d_reset_input = d_hidden @ W_hh                  # dL/d(r * h_{t-1})
        dr = d_reset_input * h_prev
        dh_prev += d_reset_input * step.r
    d_gates = np.concatenate([dr * step.r * (1.0 - step.r), du * step.u * (1.0 - step.u)], axis=1)
    d_side_by_side = d_gates @ W[:2 * h]             # through the gates' input [x_t; h_{t-1}]
    dh_prev += d_side_by_side[:, d:]
    dx = d_side_by_side[:, :d] + d_candidate @ W_hx
    dW = np.concatenate([d_gates.T @ np.concatenate([x, h_prev], axis=1),
                         np.concatenate([d_candidate.T @ x, dW_hh], axis=1)])
    db = np.concatenate([d_gates.sum(axis=0), d_candidate.sum(axis=0), d_hidden.sum(axis=0)])
    return dx, dh_prev, dW, db
