"""Reference backward pass of the tanh RNN with softmax cross-entropy (chapter 4 exercises).

Loss convention: L is the mean cross-entropy over the T steps and B sequences,
so every gradient carries the factor 1/(T B).
"""

from __future__ import annotations

import numpy as np

from bptt.rnn import TanhRNNCache, TanhStepCache, softmax
from bptt.validation import as_class_indices, as_float_array, require_shape


def softmax_cross_entropy_backward(O: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """dL/do_t = (softmax(o_t) - y_t) / (T B), y_t one-hot; O (T, B, q), targets (T, B) -> (T, B, q)."""
    O = as_float_array("O", O, 3)
    targets = as_class_indices("targets", targets, O.shape[:2], O.shape[2])
    dO = softmax(O)
    np.put_along_axis(dO, targets[..., None],
                      np.take_along_axis(dO, targets[..., None], axis=-1) - 1.0, axis=-1)
    return dO / (O.shape[0] * O.shape[1])


def tanh_step_backward(dh: np.ndarray, cache: TanhStepCache
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backward through ``h = tanh(W_hx x + W_hh h_prev + b_h)``.

    dh (B, h) is the total derivative dL/dh; returns dx (B, d), dh_prev (B, h),
    dW_hx (h, d), dW_hh (h, h), db_h (h,).
    """
    delta = dh * (1.0 - cache.h ** 2)
    return (delta @ cache.W_hx, delta @ cache.W_hh, delta.T @ cache.x,
            delta.T @ cache.h_prev, delta.sum(axis=0))


def tanh_rnn_backward(dO: np.ndarray, cache: TanhRNNCache, xi=None) -> dict[str, np.ndarray]:
    """BPTT through the tanh RNN; dO (T, B, q) holds dL/do_t.

    Returns the gradients W_hx, W_hh, b_h, W_qh, b_q, X (T, B, d), h0 (B, h)
    and H (T, B, h), the total derivatives dL/dh_t. With multipliers ``xi``
    (T,) of ``bptt.truncation`` (chapter 3), what step t passes back to
    h_{t-1} is multiplied by xi[t]: the truncated and randomized gradients.
    """
    H, W_qh = cache.H, cache.W_qh
    dO = as_float_array("dO", dO, 3)
    require_shape("dO", dO, H.shape[:2] + W_qh.shape[:1])
    first = cache.steps[0]
    grads = {"W_hx": np.zeros_like(first.W_hx), "W_hh": np.zeros_like(first.W_hh),
             "b_h": np.zeros(H.shape[2]), "W_qh": np.einsum("tbq,tbh->qh", dO, H),
             "b_q": dO.sum(axis=(0, 1)), "X": np.zeros(H.shape[:2] + first.x.shape[1:]),
             "H": np.zeros_like(H)}
    dh_next = np.zeros_like(H[0])
    for t in reversed(range(H.shape[0])):
        grads["H"][t] = dh_next + dO[t] @ W_qh
        grads["X"][t], dh_next, dW_hx, dW_hh, db_h = tanh_step_backward(grads["H"][t],
                                                                        cache.steps[t])
        if xi is not None:
            dh_next = xi[t] * dh_next
        grads["W_hx"] += dW_hx
        grads["W_hh"] += dW_hh
        grads["b_h"] += db_h
    grads["h0"] = dh_next
    return grads
