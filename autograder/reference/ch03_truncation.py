"""How the exercises of chapter 3 ("Truncation") are graded (instructor only).

The student writes, in numpy, for the tanh RNN with an affine output and the
squared loss L = 1/(T B) sum_t sum_b 1/2 |o_t - y_t|^2: the gradient of
regular truncation computed chunk by chunk with the state carried across
chunks; the randomized estimate for given multipliers xi (9.7.8); and a
Monte Carlo estimate of the mean of the randomized dL/dW_hh with its
standard error. The first two are compared with the reference to 1e-10; the
third is judged statistically against the exact gradient, with fixed seeds.
"""

from __future__ import annotations

import numpy as np

from bptt.rnn import TANH_PARAMS, squared_loss, tanh_rnn_forward
from autograder.reference.judging import Case, Check, compare, compare_named
from autograder.reference.tanh_rnn import tanh_rnn_backward
from bptt.truncation import constant_schedule, randomized_multipliers

TOL = 1e-10
MAX_Z = 5.0  # the Monte Carlo mean may sit this many standard errors from the truth
SE_RATIO = (0.5, 2.0)  # and its standard error within this factor of the reference's


def _gradients(X, Y, h0, params, xi=None) -> dict[str, np.ndarray]:
    Z, cache = tanh_rnn_forward(X, h0, params)
    _, dO = squared_loss(Z, Y)
    grads = tanh_rnn_backward(dO, cache, xi)
    return {name: grads[name] for name in TANH_PARAMS}


def full_gradient(X, Y, h0, params) -> dict[str, np.ndarray]:
    """The exact gradient of L: X (T, B, d), Y (T, B, q), h0 (B, h)."""
    return _gradients(X, Y, h0, params)


def truncated_gradient(X, Y, h0, params, tau):
    """Regular truncation every ``tau`` steps, one chunk at a time, the state carried forward.

    Each chunk's loss keeps the whole sequence's factor 1/(T B), so the chunks'
    gradients add up to an estimate of dL/dw. Returns (grads, h_T (B, h)).
    """
    T, B = X.shape[:2]
    grads = {name: np.zeros_like(np.asarray(value, dtype=np.float64))
             for name, value in params.items()}
    h = np.asarray(h0, dtype=np.float64)
    for start in range(0, T, tau):
        Z, cache = tanh_rnn_forward(X[start:start + tau], h, params)
        chunk = tanh_rnn_backward((Z - Y[start:start + tau]) / (T * B), cache)
        for name in grads:
            grads[name] += chunk[name]
        h = cache.H[-1]
    return grads, h


def randomized_gradient(X, Y, h0, params, xi) -> dict[str, np.ndarray]:
    """The estimate with multipliers ``xi`` (T,) on the links h_{t-1} -> h_t (9.7.8)."""
    return _gradients(X, Y, h0, params, np.asarray(xi, dtype=np.float64))


def monte_carlo_gradient(X, Y, h0, params, pi, n, seed):
    """Mean and standard error (each (h, h)) of n randomized estimates of dL/dW_hh.

    The multipliers of sample i are ``randomized_multipliers(T, constant_schedule(pi), rng)``,
    drawn in turn from ``rng = np.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    schedule = constant_schedule(pi)
    samples = np.array([randomized_gradient(X, Y, h0, params,
                                            randomized_multipliers(len(X), schedule, rng))["W_hh"]
                        for _ in range(n)])
    return samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(n)


def problem(seed: int, T: int, B: int, d: int, h: int, q: int):
    """(X, Y, h0, params) of a random tanh RNN with regression targets."""
    rng = np.random.default_rng(seed)
    params = {"W_hx": rng.standard_normal((h, d)) / np.sqrt(d),
              "W_hh": 1.2 * rng.standard_normal((h, h)) / np.sqrt(h),
              "b_h": 0.1 * rng.standard_normal(h),
              "W_qh": rng.standard_normal((q, h)) / np.sqrt(h), "b_q": 0.1 * rng.standard_normal(q)}
    return (rng.standard_normal((T, B, d)), rng.standard_normal((T, B, q)),
            0.5 * rng.standard_normal((B, h)), params)


def _truncation_cases(visible: bool) -> list[Case]:
    sizes = ([(60, 12, 2, 2, 3, 1, 5)] if visible else
             [(61, 9, 1, 1, 1, 1, 1), (62, 10, 3, 2, 4, 2, 4), (63, 7, 2, 3, 3, 1, 7),
              (64, 8, 2, 1, 2, 2, 20), (65, 13, 1, 2, 5, 1, 3)])
    return [Case(f"T={T}, B={B}, h={h}, tau={tau}", (*problem(seed, T, B, d, h, q), tau))
            for seed, T, B, d, h, q, tau in sizes]


def _truncation_verdict(case: Case, result) -> str | None:
    grads, h_T = truncated_gradient(*case.value)
    if not isinstance(result, list) or len(result) != 2:
        return "expected a tuple (grads, h_T)"
    return compare_named(result[0], grads, TOL) or compare("h_T", result[1], h_T, TOL)


def _multipliers(rng: np.random.Generator, T: int, pattern: str) -> np.ndarray:
    if pattern == "ones":
        return np.r_[0.0, np.ones(T - 1)]
    if pattern == "scaled":
        return rng.choice([0.0, 1.25, 2.5, 4.0], size=T)
    return randomized_multipliers(T, constant_schedule(0.7), rng)


def _randomized_cases(visible: bool) -> list[Case]:
    sizes = ([(70, 10, 2, 2, 3, 1, "drawn")] if visible else
             [(71, 9, 1, 1, 1, 1, "scaled"), (72, 10, 3, 2, 4, 2, "drawn"),
              (73, 6, 2, 3, 3, 1, "ones"), (74, 12, 2, 1, 2, 2, "scaled")])
    cases = []
    for seed, T, B, d, h, q, pattern in sizes:
        X, Y, h0, params = problem(seed, T, B, d, h, q)
        xi = _multipliers(np.random.default_rng(seed + 1000), T, pattern)
        cases.append(Case(f"T={T}, B={B}, h={h}, xi={np.round(xi, 2).tolist()}",
                          (X, Y, h0, params, xi)))
    return cases


def _monte_carlo_cases(visible: bool) -> list[Case]:
    sizes = ([(80, 6, 2, 2, 3, 0.8, 400, 5)] if visible else
             [(81, 8, 2, 2, 3, 0.7, 500, 11), (82, 6, 1, 1, 2, 0.6, 600, 12),
              (83, 7, 3, 2, 4, 0.8, 400, 13)])
    cases = []
    for seed, T, B, d, h, p, n, draw_seed in sizes:
        X, Y, h0, params = problem(seed, T, B, d, h, 1)
        exact = full_gradient(X, Y, h0, params)["W_hh"]
        _, se = monte_carlo_gradient(X, Y, h0, params, p, n, draw_seed)
        cases.append(Case(f"T={T}, h={h}, p={p}, n={n}", (X, Y, h0, params, p, n, draw_seed),
                          secret=(exact, se)))
    return cases


def monte_carlo_verdict(case: Case, result) -> str | None:
    """Right if the mean is within MAX_Z reference standard errors of dL/dW_hh and
    the standard error is within SE_RATIO of the reference's."""
    exact, se = case.secret
    if not isinstance(result, list) or len(result) != 2:
        return "expected a tuple (mean, standard_error)"
    mean, error = result
    for name, value in (("the mean", mean), ("the standard error", error)):
        if not isinstance(value, np.ndarray) or value.shape != exact.shape:
            shape = getattr(value, "shape", type(value).__name__)
            return f"{name}: expected an array of shape {exact.shape}, got {shape}"
        if not np.all(np.isfinite(value)):
            return f"{name} contains NaN or infinite values"
    ratio = error / se
    if not (ratio.min() >= SE_RATIO[0] and ratio.max() <= SE_RATIO[1]):
        return (f"the standard error is off: between {ratio.min():.2f} and {ratio.max():.2f} "
                f"times what {case.value[5]} samples give")
    z = np.max(np.abs(mean - exact) / se)
    if not z <= MAX_Z:
        return (f"the mean is {z:.1f} standard errors from the exact dL/dW_hh: "
                f"the estimator is biased")
    return None


CHECKS = {
    "test_truncated_visible": Check("call", lambda: _truncation_cases(True), _truncation_verdict),
    "test_truncated_hidden": Check("call", lambda: _truncation_cases(False), _truncation_verdict),
    "test_randomized_visible": Check(
        "call", lambda: _randomized_cases(True),
        lambda case, result: compare_named(result, randomized_gradient(*case.value), TOL)),
    "test_randomized_hidden": Check(
        "call", lambda: _randomized_cases(False),
        lambda case, result: compare_named(result, randomized_gradient(*case.value), TOL)),
    "test_monte_carlo_visible": Check("call", lambda: _monte_carlo_cases(True), monte_carlo_verdict),
    "test_monte_carlo_hidden": Check("call", lambda: _monte_carlo_cases(False), monte_carlo_verdict),
}
