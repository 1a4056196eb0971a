"""The helper package's forward and backward passes against torch.autograd and central differences.

Tolerances (COURSE.md): analytic against torch.autograd <= 1e-10, analytic
against central differences <= 1e-6, all in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import bptt
from bptt.autograd import linear_rnn_autograd, tanh_rnn_autograd
from bptt.spectral import random_orthogonal, symmetric_with_eigenvalues
from autograder.reference.tanh_rnn import (softmax_cross_entropy_backward, tanh_rnn_backward,
                                     tanh_step_backward)

sizes = st.tuples(st.integers(0, 2**31 - 1), st.integers(1, 7), st.integers(1, 3),
                  st.integers(1, 4), st.integers(1, 5), st.integers(1, 4))
small_sizes = st.tuples(st.integers(0, 2**31 - 1), st.integers(1, 4), st.integers(1, 2),
                        st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))


def linear_loss(problem) -> float:
    O, _ = bptt.linear_rnn_forward(problem.X, problem.h0, problem.params)
    return bptt.squared_loss(O, problem.Y)[0]


def linear_gradients(problem):
    O, cache = bptt.linear_rnn_forward(problem.X, problem.h0, problem.params)
    loss, dO = bptt.squared_loss(O, problem.Y)
    return loss, bptt.linear_rnn_backward(dO, cache)


def tanh_loss(problem) -> float:
    O, _ = bptt.tanh_rnn_forward(problem.X, problem.h0, problem.params)
    return bptt.softmax_cross_entropy(O, problem.targets)


def tanh_gradients(problem):
    O, cache = bptt.tanh_rnn_forward(problem.X, problem.h0, problem.params)
    dO = softmax_cross_entropy_backward(O, problem.targets)
    grads = tanh_rnn_backward(dO, cache)
    grads["O"] = dO
    return bptt.softmax_cross_entropy(O, problem.targets), grads


class Model(NamedTuple):
    """One RNN of the package: how to make a problem, its loss and its gradients."""

    problem: Callable
    loss: Callable
    gradients: Callable  # the hand-written backward pass under test
    autograd: Callable  # (X, h0, params, targets) -> (loss, grads)
    params: tuple[str, ...]


MODELS = {
    "linear": Model(bptt.linear_problem, linear_loss, linear_gradients, linear_rnn_autograd,
                    bptt.LINEAR_PARAMS),
    "tanh": Model(bptt.tanh_problem, tanh_loss, tanh_gradients, tanh_rnn_autograd,
                  bptt.TANH_PARAMS),
}


def assert_all_close(actual: dict, expected: dict, tol: float) -> None:
    for key, value in expected.items():
        error = bptt.rel_error(actual[key], value)
        assert error <= tol, f"dL/d{key}: rel_error {error:.2e} > {tol:.0e}"


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=40, deadline=None)
@given(case=sizes)
@example(case=(0, 1, 1, 1, 1, 1))
def test_backward_matches_autograd(name, case):
    model = MODELS[name]
    problem = model.problem(*case)
    loss, grads = model.gradients(problem)
    targets = problem[-1]  # Y or targets: the last field of either problem
    torch_loss, expected = model.autograd(problem.X, problem.h0, problem.params, targets)
    assert abs(loss - torch_loss) <= 1e-12 * max(1.0, abs(loss))
    assert_all_close(grads, expected, bptt.TOL_AUTOGRAD)


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=15, deadline=None)
@given(case=small_sizes)
@example(case=(1, 1, 1, 1, 1, 2))
def test_backward_matches_central_differences(name, case):
    model = MODELS[name]
    problem = model.problem(*case)
    _, grads = model.gradients(problem)
    loss = lambda: model.loss(problem)  # noqa: E731  (reads the arrays perturbed in place)
    arrays = {**{key: problem.params[key] for key in model.params}, "h0": problem.h0,
              "X": problem.X}
    for key, array in arrays.items():
        numeric = bptt.numerical_gradient(loss, array)
        error = bptt.rel_error(grads[key], numeric)
        # Rounding limits central differences to about u |L| / eps ~ 1e-10 in absolute
        # terms, which is more than 1e-6 of a gradient that is itself tiny.
        floor = np.max(np.abs(grads[key] - numeric)) <= 1e-9
        assert error <= bptt.TOL_NUMERIC or floor, f"dL/d{key}: rel_error {error:.1e}"


def test_single_time_step_has_no_recurrent_gradient_from_the_future():
    problem = bptt.linear_problem(seed=3, T=1, B=2, d=3, h=4, q=2)
    _, grads = linear_gradients(problem)
    # With T = 1, dL/dh_1 has only the path through o_1 (9.7.13).
    _, dO = bptt.squared_loss(*(bptt.linear_rnn_forward(problem.X, problem.h0,
                                                         problem.params)[0], problem.Y))
    np.testing.assert_allclose(grads["H"][0], dO[0] @ problem.params["W_qh"], rtol=0, atol=1e-15)


def test_step_backward_pairs_match_their_sequence_versions():
    problem = bptt.tanh_problem(seed=4, T=1, B=3, d=2, h=4, q=3)
    P = problem.params
    _, cache = bptt.tanh_step_forward(problem.X[0], problem.h0, P["W_hx"], P["W_hh"], P["b_h"])
    dh = np.random.default_rng(0).standard_normal((3, 4))
    dx, dh_prev, dW_hx, dW_hh, db_h = tanh_step_backward(dh, cache)
    h_fn = lambda: float(np.sum(bptt.tanh_step_forward(problem.X[0], problem.h0, P["W_hx"],  # noqa: E731
                                                       P["W_hh"], P["b_h"])[0] * dh))
    for got, array in ((dx, problem.X[0]), (dh_prev, problem.h0), (dW_hx, P["W_hx"]),
                       (dW_hh, P["W_hh"]), (db_h, P["b_h"])):
        assert bptt.rel_error(got, bptt.numerical_gradient(h_fn, array)) <= bptt.TOL_NUMERIC


def test_generators_are_deterministic():
    a, b = bptt.tanh_problem(7, 3, 2, 2, 3, 4), bptt.tanh_problem(7, 3, 2, 2, 3, 4)
    for x, y in zip(a[:2] + a[3:], b[:2] + b[3:]):
        np.testing.assert_array_equal(x, y)
    for key in bptt.TANH_PARAMS:
        np.testing.assert_array_equal(a.params[key], b.params[key])
    assert not np.array_equal(a.X, bptt.tanh_problem(8, 3, 2, 2, 3, 4).X)


@pytest.mark.parametrize("radius", [0.5, 1.0, 1.3])
def test_spectral_radius_rescaling(radius):
    problem = bptt.linear_problem(0, 2, 1, 2, 6, 2, spectral_radius=radius)
    assert abs(bptt.spectral_radius(problem.params["W_hh"]) - radius) <= 1e-12


def test_rel_error_definition():
    assert bptt.rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert bptt.rel_error([0.0], [0.0]) == 0.0
    assert bptt.rel_error([1.0], [3.0]) == pytest.approx(0.5)
    # The scale is the largest |a| + |b| over all entries, not entry by entry.
    assert bptt.rel_error([100.0, 1e-3], [100.0, 2e-3]) == pytest.approx(1e-3 / 200.0)
    with pytest.raises(ValueError, match="one shape"):
        bptt.rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_restores_its_input():
    x = np.random.default_rng(0).standard_normal((2, 3))
    before = x.copy()
    grad = bptt.numerical_gradient(lambda: float(np.sum(np.sin(x))), x)
    np.testing.assert_array_equal(x, before)
    assert bptt.rel_error(grad, np.cos(before)) <= 1e-9
    with pytest.raises(ValueError, match="float64"):
        bptt.numerical_gradient(lambda: 0.0, x.astype(np.float32))


@given(n=st.integers(1, 8), seed=st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_symmetric_matrices_have_the_eigenpairs_they_were_built_with(n, seed):
    rng = np.random.default_rng(seed)
    eigenvalues = rng.uniform(-3, 3, size=n)
    M, V = symmetric_with_eigenvalues(eigenvalues, rng)
    np.testing.assert_allclose(M, M.T, atol=1e-12)
    np.testing.assert_allclose(M @ V, V * eigenvalues, atol=1e-12)
    Q = random_orthogonal(n, rng)
    np.testing.assert_allclose(Q.T @ Q, np.eye(n), atol=1e-12)
