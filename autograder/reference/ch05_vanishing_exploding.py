"""How the exercises of chapter 5 ("Vanishing and exploding gradients") are graded (instructor only).

The student writes, in numpy: clipping by the global norm and elementwise;
the norms ||dh_T/dh_k||_2 of a vector RNN with a tanh, sigmoid or ReLU
activation, for every k; and the backward step of the LSTM of
``bptt.gated``. A written answer on why clipping helps against exploding
but not vanishing gradients is graded by hand.
"""

from __future__ import annotations

import numpy as np

from bptt.gated import lstm_step_forward
from bptt.probe import ACTIVATIONS
from autograder.reference.judging import Case, Check, against, compare_named

TOL = 1e-10
LSTM_GRADS = ("dx", "dh_prev", "dc_prev", "dW", "db")


def clip_by_norm(grads: dict, gamma: float) -> dict:
    """Every gradient times min(1, gamma / ||g||), ||g|| the norm of all of them together."""
    norm = np.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values()))
    scale = 1.0 if norm <= gamma else gamma / norm
    return {name: scale * np.asarray(g, dtype=np.float64) for name, g in grads.items()}


def clip_elementwise(grads: dict, gamma: float) -> dict:
    """Every entry clipped to [-gamma, gamma]."""
    return {name: np.clip(np.asarray(g, dtype=np.float64), -gamma, gamma)
            for name, g in grads.items()}


def _slope(activation: str, z: np.ndarray, h: np.ndarray) -> np.ndarray:
    """phi'(z) from the pre-activation z and the state h = phi(z)."""
    if activation == "tanh":
        return 1.0 - h ** 2
    if activation == "sigmoid":
        return h * (1.0 - h)
    return (z > 0).astype(np.float64)


def jacobian_norms(X, h0, W_hx, W_hh, b_h, activation: str) -> np.ndarray:
    """(T + 1,) spectral norms ||dh_T/dh_k||_2 for k = 0..T; X (T, d), h0 (h,)."""
    h, slopes = h0, []
    for x in X:
        z = W_hx @ x + W_hh @ h + b_h
        h = ACTIVATIONS[activation](z)
        slopes.append(_slope(activation, z, h))
    norms, product = [1.0], np.eye(len(h0))
    for slope in reversed(slopes):
        product = product @ (slope[:, None] * W_hh)
        norms.append(np.linalg.norm(product, 2))
    return np.array(norms[::-1])


def lstm_step_backward(dh, dc, cache):
    """Backward through one LSTM step.

    dh (B, h): total derivative dL/dh_t; dc (B, h): what reaches c_t from later
    steps through c_{t+1}. Returns dx (B, d), dh_prev (B, h), dc_prev (B, h),
    dW (4h, d + h), db (4h,). The cache's field names are the code's: ``g`` is
    the candidate c~_t and ``o`` the output gate e_t (torch's documentation
    writes g_t and o_t), ``z`` holds [x_t; h_{t-1}] (not the pre-activation).
    """
    tanh_c = np.tanh(cache.c)
    dc_total = dc + dh * cache.o * (1.0 - tanh_c ** 2)
    # dL/d(pre-activation) of each gate, in the order of the rows of W: i, f, c~, e.
    d_pre = np.concatenate([dc_total * cache.g * cache.i * (1.0 - cache.i),
                            dc_total * cache.c_prev * cache.f * (1.0 - cache.f),
                            dc_total * cache.i * (1.0 - cache.g ** 2),
                            dh * tanh_c * cache.o * (1.0 - cache.o)], axis=1)
    d_side_by_side = d_pre @ cache.W
    d = cache.z.shape[1] - cache.c.shape[1]
    return (d_side_by_side[:, :d], d_side_by_side[:, d:], dc_total * cache.f,
            d_pre.T @ cache.z, d_pre.sum(axis=0))


def _gradients(seed: int, sizes: list[tuple[int, ...]], scale: float) -> dict:
    rng = np.random.default_rng(seed)
    return {f"W{k}": scale * rng.standard_normal(shape) for k, shape in enumerate(sizes)}


def _clip_cases(visible: bool, by_norm: bool) -> list[Case]:
    if visible:
        return [Case("two gradients, large norm", (_gradients(90, [(3, 2), (3,)], 4.0), 1.0))]
    specs = [(91, [(4, 4)], 10.0, 5.0, "one large gradient"),
             (92, [(2, 3), (2,), (1, 2)], 0.1, 5.0, "a small norm, left alone"),
             (93, [(3, 3), (3,)], 0.0, 1.0, "all zeros"),
             (94, [(5, 1), (1,)], 2.0, 0.3, "a tight threshold")]
    return [Case(label, (_gradients(seed, sizes, scale), gamma if by_norm else gamma / 3))
            for seed, sizes, scale, gamma, label in specs]


def _rnn(seed: int, T: int, d: int, h: int, scale: float):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((T, d)), 0.5 * rng.standard_normal(h),
            rng.standard_normal((h, d)) / np.sqrt(d), scale * rng.standard_normal((h, h)) / np.sqrt(h),
            0.1 * rng.standard_normal(h))


def _norm_cases(visible: bool) -> list[Case]:
    specs = ([(100, 8, 2, 4, 1.0, "tanh")] if visible else
             [(101, 10, 2, 5, 2.0, "sigmoid"), (102, 9, 3, 4, 1.2, "relu"),
              (103, 1, 1, 1, 0.7, "tanh"), (104, 12, 2, 6, 1.5, "tanh")])
    return [Case(f"T={T}, h={h}, {act}, W_hh scale {scale}", (*_rnn(seed, T, d, h, scale), act))
            for seed, T, d, h, scale, act in specs]


def _lstm_cases(visible: bool) -> list[Case]:
    specs = [(110, 3, 2, 4)] if visible else [(111, 1, 1, 1), (112, 4, 3, 2), (113, 2, 5, 3)]
    cases = []
    for seed, B, d, h in specs:
        rng = np.random.default_rng(seed)
        _, _, cache = lstm_step_forward(rng.standard_normal((B, d)), rng.standard_normal((B, h)),
                                        rng.standard_normal((B, h)),
                                        rng.standard_normal((4 * h, d + h)) / np.sqrt(d + h),
                                        0.5 * rng.standard_normal(4 * h))
        cases.append(Case(f"B={B}, d={d}, h={h}", (rng.standard_normal((B, h)),
                                                   rng.standard_normal((B, h)), cache)))
    return cases


def _lstm_verdict(case: Case, result) -> str | None:
    expected = dict(zip(LSTM_GRADS, lstm_step_backward(*case.value)))
    return compare_named(result, expected, TOL, order=LSTM_GRADS)


def _clip_verdict(reference):
    return lambda case, result: compare_named(result, reference(*case.value), TOL)


CHECKS = {
    "test_clip_norm_visible": Check("call", lambda: _clip_cases(True, True), _clip_verdict(clip_by_norm)),
    "test_clip_norm_hidden": Check("call", lambda: _clip_cases(False, True), _clip_verdict(clip_by_norm)),
    "test_clip_elementwise_visible": Check("call", lambda: _clip_cases(True, False),
                                           _clip_verdict(clip_elementwise)),
    "test_clip_elementwise_hidden": Check("call", lambda: _clip_cases(False, False),
                                          _clip_verdict(clip_elementwise)),
    "test_norms_visible": Check("call", lambda: _norm_cases(True),
                                against(jacobian_norms, "||dh_T/dh_k||", TOL)),
    "test_norms_hidden": Check("call", lambda: _norm_cases(False),
                               against(jacobian_norms, "||dh_T/dh_k||", TOL)),
    "test_lstm_visible": Check("call", lambda: _lstm_cases(True), _lstm_verdict),
    "test_lstm_hidden": Check("call", lambda: _lstm_cases(False), _lstm_verdict),
}
