"""Forward steps of the gated cells, LSTM and GRU, in numpy (chapter 5).

Both cells stack their gates' weights in one matrix that acts on the
concatenation z = [x; h_prev], in torch's gate order, so that a cell here
and ``torch.nn.LSTMCell`` / ``torch.nn.GRUCell`` with the same numbers agree:
torch's ``weight_ih`` and ``weight_hh`` side by side are ``W``, and its two
biases added are ``b`` (for the GRU's candidate the two halves stay apart,
because torch multiplies only the hidden half by the reset gate).

LSTM (Hochreiter and Schmidhuber, 1997; with a forget gate):
    i, f, o = sigmoid(W_i z + b_i), sigmoid(W_f z + b_f), sigmoid(W_o z + b_o)
    g = tanh(W_g z + b_g),  c = f * c_prev + i * g,  h = o * tanh(c)

GRU (Cho et al., 2014):
    r, u = sigmoid(W_r z + b_r), sigmoid(W_u z + b_u)
    n = tanh(W_nx x + b_nx + r * (W_nh h_prev + b_nh)),  h = (1 - u) * n + u * h_prev
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bptt.validation import as_float_array, require_shape


def sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function, written with tanh so that large |a| cannot overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


class LSTMStepCache(NamedTuple):
    """What a backward step of the LSTM needs from one forward step."""

    z: np.ndarray  # (B, d + h), [x; h_prev]
    i: np.ndarray  # (B, h) input gate
    f: np.ndarray  # (B, h) forget gate
    g: np.ndarray  # (B, h) candidate
    o: np.ndarray  # (B, h) output gate
    c_prev: np.ndarray  # (B, h)
    c: np.ndarray  # (B, h)
    W: np.ndarray  # (4h, d + h), rows: i, f, g, o


def _check_cell(x, h_prev, W, b, gates: int) -> tuple[np.ndarray, ...]:
    x, h_prev = as_float_array("x", x, 2), as_float_array("h_prev", h_prev, 2)
    W, b = as_float_array("W", W, 2), as_float_array("b", b, 1)
    (B, d), h = x.shape, h_prev.shape[1]
    require_shape("h_prev", h_prev, (B, h))
    require_shape("W", W, (gates * h, d + h))
    require_shape("b", b, (gates * h,))
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
    x, h_prev, W, b = _check_cell(x, h_prev, W, b, 4)
    c_prev = as_float_array("c_prev", c_prev, 2)
    require_shape("c_prev", c_prev, h_prev.shape)
    z = np.concatenate([x, h_prev], axis=1)
    i, f, g, o = np.split(z @ W.T + b, 4, axis=1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c_prev + i * g
    return o * np.tanh(c), c, LSTMStepCache(z, i, f, g, o, c_prev, c, W)


def gru_step_forward(x, h_prev, W, b) -> np.ndarray:
    """One GRU step: x (B, d), h_prev (B, h), W (3h, d + h), b (4h,) -> h (B, h).

    The rows of ``W`` are r, u, n; ``b`` holds b_r, b_u, then b_nx and b_nh.
    """
    x, h_prev = as_float_array("x", x, 2), as_float_array("h_prev", h_prev, 2)
    W, b = as_float_array("W", W, 2), as_float_array("b", b, 1)
    d, h = x.shape[1], h_prev.shape[1]
    require_shape("W", W, (3 * h, d + h))
    require_shape("b", b, (4 * h,))
    z = np.concatenate([x, h_prev], axis=1)
    r, u = np.split(sigmoid(z @ W[:2 * h].T + b[:2 * h]), 2, axis=1)
    W_n = W[2 * h:]
    n = np.tanh(x @ W_n[:, :d].T + b[2 * h:3 * h] + r * (h_prev @ W_n[:, d:].T + b[3 * h:]))
    return (1.0 - u) * n + u * h_prev
