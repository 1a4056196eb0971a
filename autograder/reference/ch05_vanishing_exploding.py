"""How the exercises of chapter 5 ("Vanishing and exploding gradients") are graded (instructor only).

The student writes, in numpy: clipping by the global norm and elementwise;
the norms ||dh_T/dh_k||_2 of a vector RNN with a tanh, sigmoid or ReLU
activation, for every k; and the backward step of the LSTM of
``bptt.gated``. A written answer on why clipping helps against exploding
but not vanishing gradients is graded by hand.

A visible check is graded on the notebook's case and on fresh cases of the
same shapes drawn from the grader's seed; a hidden check draws all its numbers
from the seed. Clipped gradients are compared in units of the threshold, so
that gradients of 1e-60 are judged as strictly as gradients near 1. The ReLU
cases of the norms put two pre-activations 1e-10 from the kink, where
differences of the forward pass fail (``_near_the_kink``). Both LSTM
checks include a step with B = 64, d = 32, h = 128 (``LARGE_LSTM``): its
backward pass takes about a millisecond, while differencing the forward pass
entry by entry (finite differences or the complex step) needs some 10^5
forward passes, minutes, far past the 30 s a cell may run.
"""

from __future__ import annotations

import numpy as np

from bptt.gated import lstm_step_forward
from bptt.probe import ACTIVATIONS
from autograder.reference.judging import Case, Check, against, compare_named

TOL = 1e-10
LSTM_GRADS = ("dx", "dh_prev", "dc_prev", "dW", "db")
LARGE_LSTM = (64, 32, 128)  # B, d, h
ACTIVATION_NAMES = ("tanh", "sigmoid", "relu")


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


# The numbers of the notebook's visible cells. Each function repeats its cell's code
# (clip_data, norms_data, lstm_data) draw for draw; the tests hold them to it.

def visible_gradients() -> dict:
    """The gradients of cell ``clip_data``, clipped there with gamma = 1."""
    rng = np.random.default_rng(50)
    return {"W": 4.0 * rng.standard_normal((3, 2)), "b": 4.0 * rng.standard_normal(3)}


def _rnn(rng: np.random.Generator, T: int, d: int, h: int, scale: float) -> tuple:
    """X (T, d), h0 (h,), W_hx (h, d), W_hh (h, h), b_h (h,); W_hh has a spectral norm near 2 scale."""
    return (rng.standard_normal((T, d)), 0.5 * rng.standard_normal(h),
            rng.standard_normal((h, d)) / np.sqrt(d), scale * rng.standard_normal((h, h)) / np.sqrt(h),
            0.1 * rng.standard_normal(h))


VISIBLE_RNN = (8, 2, 4, 1.5)  # T, d, h, scale


def visible_rnn() -> tuple:
    """X, h0, W_hx, W_hh, b_h of cell ``norms_data``."""
    return _rnn(np.random.default_rng(51), *VISIBLE_RNN)


def _lstm(rng: np.random.Generator, B: int, d: int, h: int, bias: float = 0.5) -> tuple:
    """(dh, dc, cache) of one LSTM step: x, h_prev, c_prev, W, b drawn in that order, then dh, dc."""
    x, h_prev, c_prev = rng.standard_normal((B, d)), rng.standard_normal((B, h)), rng.standard_normal((B, h))
    W, b = rng.standard_normal((4 * h, d + h)) / np.sqrt(d + h), bias * rng.standard_normal(4 * h)
    dh, dc = rng.standard_normal((B, h)), rng.standard_normal((B, h))
    _, _, cache = lstm_step_forward(x, h_prev, c_prev, W, b)
    return dh, dc, cache


VISIBLE_LSTM = (3, 2, 4)  # B, d, h


def visible_lstm() -> tuple:
    """dh, dc and the cache of cell ``lstm_data``."""
    return _lstm(np.random.default_rng(52), *VISIBLE_LSTM)


def _lstm_gradient(position: int):
    return lambda: lstm_step_backward(*visible_lstm())[position]


VISIBLE_DATA = {
    **{f"clip_elementwise/{key}": (lambda key=key: clip_elementwise(visible_gradients(), 1.0)[key])
       for key in ("W", "b")},
    **{f"norms/{name}": (lambda name=name: jacobian_norms(*visible_rnn(), name))
       for name in ACTIVATION_NAMES},
    **{f"lstm/{name}": _lstm_gradient(position)
       for position, name in enumerate(("x", "h_prev", "c_prev", "W", "b"))},
}


# Cases. rng(seed, i) is the i-th independent stream of the grader's secret seed.

def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _gradients(rng: np.random.Generator, shapes: dict, scale: float) -> dict:
    return {name: scale * rng.standard_normal(shape) for name, shape in shapes.items()}


def _each_of_norm(rng: np.random.Generator, shapes: dict, norm: float) -> dict:
    """Gradients of random directions, each array of Euclidean norm ``norm``."""
    grads = _gradients(rng, shapes, 1.0)
    return {name: norm * g / np.linalg.norm(g) for name, g in grads.items()}


VISIBLE_SHAPES = {"W": (3, 2), "b": (3,)}
RNN_SHAPES = {"W_hx": (5, 3), "W_hh": (5, 5), "b_h": (5,), "W_qh": (2, 5), "b_q": (2,)}


def _clip_visible_cases(seed: int, by_norm: bool) -> list[Case]:
    fresh = _gradients(_rng(seed, 0), VISIBLE_SHAPES, 4.0)
    cases = [Case("the notebook's gradients, gamma = 1", (visible_gradients(), 1.0)),
             Case("fresh gradients of the same shapes, gamma = 1", (fresh, 1.0))]
    if by_norm:
        cases.append(Case("fresh gradients, gamma = 1000 (nothing to clip)", (fresh, 1e3)))
    return cases


def _clip_norm_hidden_cases(seed: int) -> list[Case]:
    exact = _gradients(_rng(seed, 4), {"W": (2, 2), "b": (3,)}, 1.0)
    exact_norm = float(np.linalg.norm(np.concatenate([g.ravel() for g in exact.values()])))
    return [
        Case("one array, norm about 40, gamma = 5", (_gradients(_rng(seed, 1), {"W": (4, 4)}, 10.0), 5.0)),
        Case("five arrays of an RNN, norm about 1.5, gamma = 5 (nothing to clip)",
             (_gradients(_rng(seed, 2), RNN_SHAPES, 0.2), 5.0)),
        Case("all zeros, gamma = 1", ({"W": np.zeros((3, 3)), "b": np.zeros(3)}, 1.0)),
        Case("a tight threshold, gamma = 0.3", (_gradients(_rng(seed, 3), {"W": (5, 1), "b": (1,)}, 2.0), 0.3)),
        Case("a global norm exactly gamma", (exact, exact_norm)),
        Case("six arrays, each of norm 0.6 gamma, together 1.47 gamma, gamma = 2",
             (_each_of_norm(_rng(seed, 5), {**RNN_SHAPES, "h0": (5,)}, 1.2), 2.0)),
        Case("an array of three dimensions and a vector, gamma = 0.5",
             (_gradients(_rng(seed, 6), {"K": (2, 3, 4), "b": (4,)}, 1.0), 0.5)),
        Case("huge gradients (about 1e60), gamma = 1e59",
             (_gradients(_rng(seed, 7), {"W": (3, 4), "b": (3,)}, 1e60), 1e59)),
        Case("tiny gradients (about 1e-60), gamma = 1e-61",
             (_gradients(_rng(seed, 8), {"W": (3, 4), "b": (3,)}, 1e-60), 1e-61)),
    ]


def _with_entries_at(rng: np.random.Generator, gamma: float) -> dict:
    """Gradients of which some entries are exactly gamma or -gamma."""
    grads = _gradients(rng, {"W": (4, 3), "b": (4,)}, 2 * gamma)
    grads["W"][0, :2] = gamma, -gamma
    grads["b"][1] = -gamma
    return grads


def _clip_elementwise_hidden_cases(seed: int) -> list[Case]:
    return [
        Case("one array, gamma = 5", (_gradients(_rng(seed, 1), {"W": (4, 4)}, 10.0), 5.0)),
        Case("five arrays of an RNN, gamma = 0.3", (_gradients(_rng(seed, 2), RNN_SHAPES, 1.0), 0.3)),
        Case("every entry inside, gamma = 5 (nothing to clip)",
             (_gradients(_rng(seed, 3), RNN_SHAPES, 0.5), 5.0)),
        Case("all zeros, gamma = 1", ({"W": np.zeros((3, 3)), "b": np.zeros(3)}, 1.0)),
        Case("entries exactly at gamma and -gamma, gamma = 0.7", (_with_entries_at(_rng(seed, 4), 0.7), 0.7)),
        Case("an array of three dimensions and a vector, gamma = 0.5",
             (_gradients(_rng(seed, 5), {"K": (2, 3, 4), "b": (4,)}, 1.0), 0.5)),
        Case("huge gradients (about 1e60), gamma = 1e59",
             (_gradients(_rng(seed, 6), {"W": (3, 4), "b": (3,)}, 1e60), 1e59)),
        Case("tiny gradients (about 1e-60), gamma = 1e-61",
             (_gradients(_rng(seed, 7), {"W": (3, 4), "b": (3,)}, 1e-60), 1e-61)),
    ]


def _in_units_of(value, gamma: float):
    """``value / gamma`` as float64 when it is numeric; anything else is left for the comparison to report."""
    if value is None:
        return None
    try:
        return np.asarray(value, dtype=np.float64) / gamma
    except (TypeError, ValueError):
        return value


def _clip_verdict(reference):
    """Compare every clipped array with the reference's, both divided by gamma."""
    def verdict(case: Case, result) -> str | None:
        grads, gamma = case.value
        expected = {name: g / gamma for name, g in reference(grads, gamma).items()}
        if isinstance(result, dict):
            result = {name: _in_units_of(g, gamma) for name, g in result.items()}
        message = compare_named(result, expected, TOL)
        if message and " is off: " in message:
            message += " (values in units of gamma)"
        return message
    return verdict


KINK = 1e-10  # how far from 0 the ReLU cases put two pre-activations


def _near_the_kink(rnn: tuple) -> tuple:
    """The RNN with x_{T-1} and x_T changed so that, under the ReLU, the pre-activation z_{T-1,i}
    is -KINK and z_{T,i} is +KINK (T >= 2), for the unit i and input j of the largest |W_hx[i, j]|.

    relu' jumps there, so a difference of the forward pass with a step above 1e-10 straddles
    the kink and reads a slope between 0 and 1, and a smaller step loses six digits to
    rounding; the chain rule is unaffected, since rounding moves z by about 1e-15.
    """
    X, h0, W_hx, W_hh, b_h = rnn
    i, j = np.unravel_index(np.argmax(np.abs(W_hx)), W_hx.shape)
    X, h, T = X.copy(), h0, len(X)
    for t, x in enumerate(X):
        if t >= T - 2:
            target = -KINK if t == T - 2 else KINK
            x[j] = 0.0
            x[j] = (target - (W_hx[i] @ x + W_hh[i] @ h + b_h[i])) / W_hx[i, j]
        h = np.maximum(W_hx @ x + W_hh @ h + b_h, 0.0)
    return X, h0, W_hx, W_hh, b_h


def _norm_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        T, d, h, scale = VISIBLE_RNN
        fresh = _rnn(_rng(seed, 0), T, d, h, scale)
        return ([Case(f"the notebook's RNN, {name}", (*visible_rnn(), name)) for name in ACTIVATION_NAMES]
                + [Case(f"a fresh RNN of the same sizes, {name}", (*fresh, name)) for name in ("tanh", "sigmoid")]
                + [Case("a fresh RNN of the same sizes, relu, two pre-activations 1e-10 from the kink",
                        (*_near_the_kink(fresh), "relu"))])
    specs = [(10, 2, 5, 2.0, "sigmoid"), (6, 3, 3, 0.5, "sigmoid"), (9, 3, 4, 1.2, "relu"),
             (14, 2, 6, 0.8, "relu"), (1, 1, 1, 0.7, "tanh"), (12, 2, 6, 1.5, "tanh")]
    cases = []
    for i, (T, d, h, scale, name) in enumerate(specs, 1):
        rnn, label = _rnn(_rng(seed, i), T, d, h, scale), f"T={T}, d={d}, h={h}, {name}, W_hh scaled by {scale}"
        if name == "relu":
            rnn, label = _near_the_kink(rnn), label + ", two pre-activations 1e-10 from the kink"
        cases.append(Case(label, (*rnn, name)))
    return cases


def _lstm_cases(seed: int, visible: bool) -> list[Case]:
    large = Case("B={}, d={}, h={}: a backward pass takes milliseconds here".format(*LARGE_LSTM),
                 _lstm(_rng(seed, 9), *LARGE_LSTM))
    if visible:
        B, d, h = VISIBLE_LSTM
        return [Case(f"the notebook's step, B={B}, d={d}, h={h}", visible_lstm()),
                Case(f"a fresh step of the same sizes, B={B}, d={d}, h={h}", _lstm(_rng(seed, 0), B, d, h)),
                large]
    specs = [(1, 1, 1, 0.5), (4, 3, 2, 0.5), (2, 5, 3, 0.5), (5, 2, 4, 8.0)]
    return [Case(f"B={B}, d={d}, h={h}" + (", large biases: many gates near 0 or 1" if bias > 1 else ""),
                 _lstm(_rng(seed, i), B, d, h, bias))
            for i, (B, d, h, bias) in enumerate(specs, 1)] + [large]


def _lstm_verdict(case: Case, result) -> str | None:
    expected = dict(zip(LSTM_GRADS, lstm_step_backward(*case.value)))
    return compare_named(result, expected, TOL, order=LSTM_GRADS)


NORMS = against(jacobian_norms, "||dh_T/dh_k|| for k = 0..T", TOL)

CHECKS = {
    "test_clip_norm_visible": Check("call", lambda seed: _clip_visible_cases(seed, True),
                                    _clip_verdict(clip_by_norm)),
    "test_clip_norm_hidden": Check("call", _clip_norm_hidden_cases, _clip_verdict(clip_by_norm)),
    "test_clip_elementwise_visible": Check("call", lambda seed: _clip_visible_cases(seed, False),
                                           _clip_verdict(clip_elementwise)),
    "test_clip_elementwise_hidden": Check("call", _clip_elementwise_hidden_cases,
                                          _clip_verdict(clip_elementwise)),
    "test_norms_visible": Check("call", lambda seed: _norm_cases(seed, True), NORMS),
    "test_norms_hidden": Check("call", lambda seed: _norm_cases(seed, False), NORMS),
    "test_lstm_visible": Check("call", lambda seed: _lstm_cases(seed, True), _lstm_verdict),
    "test_lstm_hidden": Check("call", lambda seed: _lstm_cases(seed, False), _lstm_verdict),
}
