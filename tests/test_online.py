"""Chapter 7's online gradients for the linear RNN: RTRL, UORO and truncated BPTT on one stream."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bptt
from bptt.autograd import linear_rnn_autograd
from bptt.online import (EPS, OnlineRun, UOROState, flatten, rademacher, rtrl_gradient, rtrl_start,
                         rtrl_step, theta_size, train_online, truncated_gradient, unflatten,
                         uoro_estimates, uoro_gradient, uoro_step)
from bptt.truncation import (constant_schedule, full_multipliers, randomized_multipliers,
                             regular_multipliers)

PARAMS = bptt.LINEAR_PARAMS
# seed, T, d, h, q
sizes = st.tuples(st.integers(0, 2**31 - 1), st.integers(1, 12), st.integers(1, 3),
                  st.integers(1, 5), st.integers(1, 3))


def stream(seed, T, d, h, q, radius=0.9):
    """X (T, d), Y (T, q), h0 (h,), params of a random linear RNN on one stream."""
    p = bptt.linear_problem(seed, T=T, B=1, d=d, h=h, q=q,
                            spectral_radius=radius if h > 1 else None)
    return p.X[:, 0], p.Y[:, 0], p.h0[0], p.params


def bptt_gradient(X, Y, h0, params):
    """L = 1/T sum_t l_t and its gradient by bptt.rnn's BPTT, with a batch of one."""
    O, cache = bptt.linear_rnn_forward(X[:, None], h0[None], params)
    loss, dO = bptt.squared_loss(O, Y[:, None])  # dO = (o_t - y_t) / T: the same L
    grads = bptt.linear_rnn_backward(dO, cache)
    return loss, {name: grads[name] for name in PARAMS}


def assert_close(actual, expected, tol):
    for name in PARAMS:
        error = bptt.rel_error(actual[name], expected[name])
        assert error <= tol, f"dL/d{name}: rel_error {error:.1e} > {tol:.0e}"


@settings(max_examples=30, deadline=None)
@given(case=sizes)
def test_rtrl_equals_bptt(case):
    X, Y, h0, params = stream(*case)
    loss, grads = rtrl_gradient(X, Y, h0, params)
    expected_loss, expected = bptt_gradient(X, Y, h0, params)
    assert abs(loss - expected_loss) <= 1e-12 * max(1.0, expected_loss)
    assert_close(grads, expected, 1e-12)


@settings(max_examples=15, deadline=None)
@given(case=sizes)
def test_rtrl_equals_autograd(case):
    X, Y, h0, params = stream(*case)
    _, grads = rtrl_gradient(X, Y, h0, params)
    _, expected = linear_rnn_autograd(X[:, None], h0[None], params, Y[:, None])
    assert_close(grads, expected, bptt.TOL_AUTOGRAD)


def test_rtrl_sensitivity_is_the_total_derivative():
    """K_t, column by column, is the change of h_t under a change of one entry of theta."""
    X, _, h0, params = stream(1, T=6, d=2, h=3, q=1)
    state = rtrl_start(h0, 2)
    for x in X:
        state, _, _ = rtrl_step(state, x, np.zeros(1), params)

    def h_T(theta):
        P = dict(params, **unflatten(theta, 3, 2))
        _, cache = bptt.linear_rnn_forward(X[:, None], h0[None], P)
        return cache.H[-1, 0]

    theta = flatten(params)
    columns = []
    for k in range(theta.size):
        step = np.zeros_like(theta)
        step[k] = 1e-6
        columns.append((h_T(theta + step) - h_T(theta - step)) / 2e-6)
    assert bptt.rel_error(state.K, np.stack(columns, axis=1)) <= bptt.TOL_NUMERIC


def test_flatten_order_is_documented():
    W_hx, W_hh = np.arange(6.0).reshape(3, 2), 10 + np.arange(9.0).reshape(3, 3)
    theta = flatten({"W_hx": W_hx, "W_hh": W_hh})
    assert theta.size == theta_size(3, 2) == 15
    assert theta[2 * 1 + 1] == W_hx[1, 1] and theta[6 + 3 * 2 + 0] == W_hh[2, 0]
    back = unflatten(theta, 3, 2)
    assert np.array_equal(back["W_hx"], W_hx) and np.array_equal(back["W_hh"], W_hh)


def transcribed_uoro_step(h_prev, s, theta, x, y, params, nu):
    """Tallec and Ollivier's update written out with the dense F_t (h, N) and J_t = W_hh."""
    W_hx, W_hh, W_qh = params["W_hx"], params["W_hh"], params["W_qh"]
    h, d = W_hx.shape
    F = np.zeros((h, h * d + h * h))
    for i in range(h):
        F[i, i * d:(i + 1) * d] = x
        F[i, h * d + i * h:h * d + (i + 1) * h] = h_prev
    h_new = W_hx @ x + W_hh @ h_prev
    forward, reverse = W_hh @ s, F.T @ nu
    c0 = np.sqrt((np.linalg.norm(theta) + 1e-7) / (np.linalg.norm(forward) + 1e-7))
    c1 = np.sqrt((np.linalg.norm(reverse) + 1e-7) / (np.linalg.norm(nu) + 1e-7))
    s_new = c0 * forward + c1 * nu
    theta_new = theta / c0 + reverse / c1
    error = W_qh @ h_new - y
    estimate = ((W_qh.T @ error) @ s_new) * theta_new
    return h_new, s_new, theta_new, estimate, np.outer(error, h_new)


@settings(max_examples=30, deadline=None)
@given(case=sizes, fresh=st.booleans())
def test_uoro_step_matches_the_formulas(case, fresh):
    seed, _, d, h, q = case
    X, Y, h0, params = stream(seed, 1, d, h, q)
    rng = np.random.default_rng(seed)
    N = theta_size(h, d)
    s, theta = (np.zeros(h), np.zeros(N)) if fresh else (rng.standard_normal(h),
                                                          rng.standard_normal(N))
    nu = rademacher(rng, (h,))
    state, loss, grads = uoro_step(UOROState(h0, s, theta), X[0], Y[0], params, nu)
    h_new, s_new, theta_new, estimate, dW_qh = transcribed_uoro_step(h0, s, theta, X[0], Y[0],
                                                                     params, nu)
    assert EPS == 1e-7
    for ours, reference in ((state.h, h_new), (state.s, s_new), (state.theta, theta_new),
                            (flatten(grads), estimate), (grads["W_qh"], dW_qh)):
        assert bptt.rel_error(ours, reference) <= 1e-12
    assert abs(loss - 0.5 * np.sum((params["W_qh"] @ h_new - Y[0]) ** 2)) <= 1e-12


def test_uoro_chains_side_by_side_equal_single_chains():
    X, Y, h0, params = stream(2, T=6, d=2, h=3, q=2)
    signs = rademacher(np.random.default_rng(0), (6, 4, 3))  # (T, chains, h)

    def replay(order):
        steps = iter(order)
        return lambda rng, shape: next(steps)

    _, together = uoro_estimates(X, Y, h0, params, None, samples=4, draw=replay(signs))
    for k in range(4):
        _, alone = uoro_gradient(X, Y, h0, params, None, draw=replay(signs[:, k]))
        for name in ("W_hx", "W_hh"):
            assert bptt.rel_error(together[name][k], alone[name]) <= 1e-12
        assert bptt.rel_error(together["W_qh"], alone["W_qh"]) == 0


def largest_z(estimates: np.ndarray, exact: np.ndarray) -> float:
    """max over coordinates of |mean - exact| / standard error, for estimates (n, N)."""
    se = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    return float(np.max(np.abs(estimates.mean(axis=0) - exact) / se))


def uoro_draws(X, Y, h0, params, n, draw=rademacher, seed=0):
    _, grads = uoro_estimates(X, Y, h0, params, np.random.default_rng(seed), n, draw)
    return np.concatenate([grads["W_hx"].reshape(n, -1), grads["W_hh"].reshape(n, -1)], axis=1)


def zero_or_one(rng, shape):
    """A wrong draw: entries 0 or 1, so E[nu nu^T] is not the identity."""
    return rng.integers(0, 2, size=shape).astype(np.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uoro_is_unbiased_and_a_biased_draw_is_caught(seed):
    X, Y, h0, params = stream(seed, T=6, d=2, h=3, q=2)
    exact = flatten(rtrl_gradient(X, Y, h0, params)[1])
    assert largest_z(uoro_draws(X, Y, h0, params, 20_000), exact) <= 5
    assert largest_z(uoro_draws(X, Y, h0, params, 20_000, zero_or_one), exact) > 5


def test_uoro_gradient_one_chain_at_a_time_is_unbiased():
    X, Y, h0, params = stream(4, T=5, d=2, h=3, q=1)
    _, exact = rtrl_gradient(X, Y, h0, params)
    rng = np.random.default_rng(0)
    draws = [uoro_gradient(X, Y, h0, params, rng)[1] for _ in range(1500)]
    assert all(bptt.rel_error(g["W_qh"], exact["W_qh"]) <= 1e-12 for g in draws)
    assert largest_z(np.stack([flatten(g) for g in draws]), flatten(exact)) <= 5


@settings(max_examples=20, deadline=None)
@given(case=sizes, extra=st.integers(0, 3))
def test_truncation_as_long_as_the_stream_is_exact(case, extra):
    X, Y, h0, params = stream(*case)
    T = len(X)
    _, exact = bptt_gradient(X, Y, h0, params)
    for xi in (full_multipliers(T), regular_multipliers(T, T + extra)):
        assert_close(truncated_gradient(X, Y, h0, params, xi)[1], exact, 1e-12)


@settings(max_examples=20, deadline=None)
@given(case=sizes, tau=st.integers(1, 5))
def test_truncated_gradient_is_rtrl_on_each_chunk(case, tau):
    """Chunks of tau steps, the state carried: each chunk's exact gradient, weighted by T_k / T."""
    X, Y, h0, params = stream(*case)
    T = len(X)
    expected = {name: np.zeros_like(params[name]) for name in PARAMS}
    h = h0
    for start in range(0, T, tau):
        part = slice(start, start + tau)
        _, grads = rtrl_gradient(X[part], Y[part], h, params)
        for name in PARAMS:
            expected[name] += len(X[part]) / T * grads[name]
        _, cache = bptt.linear_rnn_forward(X[part, None], h[None], params)
        h = cache.H[-1, 0]
    assert_close(truncated_gradient(X, Y, h0, params, regular_multipliers(T, tau))[1],
                 expected, 1e-12)


@settings(max_examples=20, deadline=None)
@given(case=sizes)
def test_randomized_truncation_is_the_forward_recursion_with_multipliers(case):
    """Reverse mode with messages scaled by xi_t equals K~_t = F_t + xi_t J_t K~_{t-1}."""
    seed = case[0]
    X, Y, h0, params = stream(*case)
    xi = randomized_multipliers(len(X), constant_schedule(0.6), np.random.default_rng(seed))
    h, d = params["W_hx"].shape
    K, h_t, total = np.zeros((h, theta_size(h, d))), h0, np.zeros(theta_size(h, d))
    for x, y, xi_t in zip(X, Y, xi):
        F = np.concatenate([np.kron(np.eye(h), x[None]), np.kron(np.eye(h), h_t[None])], axis=1)
        K = F + xi_t * params["W_hh"] @ K
        h_t = params["W_hx"] @ x + params["W_hh"] @ h_t
        total += params["W_qh"].T @ (params["W_qh"] @ h_t - y) @ K
    _, grads = truncated_gradient(X, Y, h0, params, xi)
    assert bptt.rel_error(flatten(grads), total / len(X)) <= 1e-12


def test_randomized_truncation_mean_is_the_exact_gradient():
    X, Y, h0, params = stream(5, T=8, d=1, h=3, q=1)
    exact = flatten(rtrl_gradient(X, Y, h0, params)[1])
    rng = np.random.default_rng(0)
    draws = np.stack([flatten(truncated_gradient(
        X, Y, h0, params, randomized_multipliers(8, constant_schedule(0.7), rng))[1])
        for _ in range(2000)])
    assert largest_z(draws, exact) <= 5
    biased = flatten(truncated_gradient(X, Y, h0, params, regular_multipliers(8, 2))[1])
    assert bptt.rel_error(biased, exact) > 1e-3


@pytest.mark.parametrize("method", ["rtrl", "uoro", "truncated", "randomized"])
def test_online_training_is_deterministic_and_leaves_its_inputs(method):
    X, Y, h0, params = stream(6, T=40, d=2, h=3, q=1, radius=0.5)
    saved = {name: value.copy() for name, value in params.items()}
    options = {"tau": 4, "schedule": constant_schedule(0.8), "seed": 3}
    first = train_online(method, X, Y, h0, params, 0.01, **options)
    second = train_online(method, X, Y, h0, params, 0.01, **options)
    assert isinstance(first, OnlineRun) and first.loss.shape == (40,)
    assert np.array_equal(first.loss, second.loss)
    assert all(np.array_equal(params[name], saved[name]) for name in PARAMS)
    assert all(np.array_equal(first.params[name], second.params[name]) for name in PARAMS)
    assert not all(np.array_equal(first.params[name], saved[name]) for name in PARAMS)


@pytest.mark.parametrize("method", ["rtrl", "uoro", "truncated", "randomized"])
def test_online_training_without_steps_records_the_forward_losses(method):
    X, Y, h0, params = stream(7, T=15, d=2, h=3, q=2)
    run = train_online(method, X, Y, h0, params, 0.0, tau=4, schedule=constant_schedule(0.8))
    O, _ = bptt.linear_rnn_forward(X[:, None], h0[None], params)
    expected = 0.5 * np.sum((O[:, 0] - Y) ** 2, axis=1)
    assert bptt.rel_error(run.loss, expected) <= 1e-12


def test_online_rtrl_step_uses_the_step_gradient():
    """Two steps by hand: update with dl_1/dtheta, then carry K_1 into step 2."""
    X, Y, h0, params = stream(8, T=2, d=2, h=3, q=1)
    lr = 0.05
    run = train_online("rtrl", X, Y, h0, params, lr)
    state, _, grads = rtrl_step(rtrl_start(h0, 2), X[0], Y[0], params)
    P = {name: params[name] - lr * grads[name] for name in PARAMS}
    state, _, grads = rtrl_step(state, X[1], Y[1], P)
    for name in PARAMS:
        assert bptt.rel_error(run.params[name], P[name] - lr * grads[name]) <= 1e-12


def test_clipping_bounds_every_update():
    X, Y, h0, params = stream(9, T=1, d=2, h=3, q=2)
    _, grads = rtrl_gradient(X, Y, h0, params)
    norm = np.linalg.norm(np.concatenate([np.ravel(grads[name]) for name in PARAMS]))
    run = train_online("rtrl", X, Y, h0, params, 1.0, clip=norm / 4)
    moved = np.concatenate([np.ravel(params[name] - run.params[name]) for name in PARAMS])
    assert abs(np.linalg.norm(moved) - norm / 4) <= 1e-12 * norm


def test_diverging_run_is_marked():
    X, Y, h0, params = stream(10, T=200, d=1, h=2, q=1)
    run = train_online("rtrl", X, Y, h0, dict(params, W_hh=1.5 * np.eye(2)), 0.0, limit=1e3)
    assert np.isnan(run.loss[-1]) and np.isfinite(run.loss[0])


def test_bad_input_is_refused():
    X, Y, h0, params = stream(11, T=5, d=2, h=3, q=1)
    with pytest.raises(ValueError):
        rtrl_gradient(X[:, None], Y, h0, params)
    with pytest.raises(ValueError):
        uoro_gradient(X, Y[:, :0], h0, params, np.random.default_rng(0))
    with pytest.raises(ValueError):
        truncated_gradient(X, Y, h0, params, np.ones(4))
    with pytest.raises(ValueError):
        train_online("bptt", X, Y, h0, params, 0.1)
    with pytest.raises(ValueError):
        train_online("truncated", X, Y, h0, params, 0.1)
