"""The hidden checks of chapter 4: right answers pass, wrong or delegated ones fail, and say why."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bptt
import bptt.gradcheck
import bptt.reference.tanh_rnn as reference
from bptt.reference import grading
from bptt.reference.grading import DelegationError


def own_softmax_backward(Z, targets):
    T, B, q = Z.shape
    dZ = bptt.softmax(Z)
    dZ[np.arange(T)[:, None], np.arange(B), targets] -= 1.0
    return dZ / (T * B)


def own_step_backward(dh, cache):
    delta = dh * (1 - cache.h ** 2)
    return (delta @ cache.W_hx, delta @ cache.W_hh, delta.T @ cache.x, delta.T @ cache.h_prev,
            delta.sum(0))


def own_directional_check(f, x, grad, rng, num_directions=3, eps=1e-5):
    original = x.copy()
    worst = 0.0
    for _ in range(num_directions):
        v = rng.standard_normal(x.shape)
        x[...] = original + eps * v
        up = f()
        x[...] = original - eps * v
        down = f()
        x[...] = original
        worst = max(worst, bptt.rel_error((up - down) / (2 * eps), np.sum(grad * v)))
    return worst


def test_own_work_passes_every_check():
    grading.grade_softmax_cross_entropy_backward(own_softmax_backward)
    grading.grade_tanh_step_backward(own_step_backward)
    grading.grade_tanh_rnn_backward(_own_rnn_backward)
    grading.grade_directional_check(own_directional_check)


def _own_rnn_backward(dZ, cache):
    grads = {"W_qh": np.einsum("tbq,tbh->qh", dZ, cache.H), "b_q": dZ.sum((0, 1)),
             "W_hx": 0.0, "W_hh": 0.0, "b_h": 0.0}
    carried = np.zeros_like(cache.H[0])
    for t in reversed(range(len(cache.steps))):
        _, carried, dW_hx, dW_hh, db_h = own_step_backward(carried + dZ[t] @ cache.W_qh,
                                                           cache.steps[t])
        grads["W_hx"] = grads["W_hx"] + dW_hx
        grads["W_hh"] = grads["W_hh"] + dW_hh
        grads["b_h"] = grads["b_h"] + db_h
    grads["h0"] = carried
    return grads


def test_missing_factor_is_reported_with_its_size():
    with pytest.raises(AssertionError, match=r"dL/dZ for T=1, B=1, q=2.*rel_error"):
        grading.grade_softmax_cross_entropy_backward(
            lambda Z, y: own_softmax_backward(Z, y) * Z.shape[0] * Z.shape[1] * 2)


def test_naive_softmax_fails_on_large_logits():
    def naive(Z, targets):
        E = np.exp(Z)
        P = E / E.sum(-1, keepdims=True)
        onehot = np.eye(Z.shape[-1])[targets]
        return (P - onehot) / (Z.shape[0] * Z.shape[1])

    with np.errstate(all="ignore"), pytest.raises(AssertionError, match="NaN or infinite"):
        grading.grade_softmax_cross_entropy_backward(naive)


def test_wrong_step_output_is_named():
    def forgot_tanh_derivative(dh, cache):
        return (dh @ cache.W_hx, dh @ cache.W_hh, dh.T @ cache.x, dh.T @ cache.h_prev, dh.sum(0))

    with pytest.raises(AssertionError, match=r"^dx \(B=1"):
        grading.grade_tanh_step_backward(forgot_tanh_derivative)


def test_wrong_return_type_is_explained():
    with pytest.raises(AssertionError, match="tuple of 5 arrays"):
        grading.grade_tanh_step_backward(lambda dh, cache: None)
    with pytest.raises(AssertionError, match="dict of gradients"):
        grading.grade_tanh_rnn_backward(lambda dZ, cache: [1, 2])


def test_truncated_backward_fails_on_longer_sequences():
    def one_step_only(dZ, cache):
        grads = _own_rnn_backward(dZ[-1:], cache._replace(steps=cache.steps[-1:], H=cache.H[-1:]))
        grads["W_qh"] = np.einsum("tbq,tbh->qh", dZ, cache.H)
        grads["b_q"] = dZ.sum((0, 1))
        return grads

    with pytest.raises(AssertionError, match=r"T=4.*dL/d(W_hx|W_hh|b_h|h0) is off"):
        grading.grade_tanh_rnn_backward(one_step_only)


def test_directional_check_must_restore_x():
    def leaves_x_perturbed(f, x, grad, rng, num_directions=3, eps=1e-5):
        error = own_directional_check(f, x, grad, rng, num_directions, eps)
        x += 1e-3
        return error

    with pytest.raises(AssertionError, match="changed x"):
        grading.grade_directional_check(leaves_x_perturbed)


def test_entrywise_check_is_not_a_directional_one():
    def entrywise(f, x, grad, rng, num_directions=3, eps=1e-5):
        numeric = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            keep = x[i]
            x[i] = keep + eps
            up = f()
            x[i] = keep - eps
            numeric[i] = (up - f()) / (2 * eps)
            x[i] = keep
        return bptt.rel_error(numeric, grad)

    expected = r"f was called 6 times for x of shape \(3,\), 1 direction\(s\); expected 2"
    with pytest.raises(AssertionError, match=expected):
        grading.grade_directional_check(entrywise)


def test_a_check_that_accepts_everything_fails():
    def lenient(f, x, grad, rng, num_directions=3, eps=1e-5):
        own_directional_check(f, x, grad, rng, num_directions, eps)
        return 0.0

    with pytest.raises(AssertionError, match="a gradient scaled by 1.1 .* expected >= 1e-3"):
        grading.grade_directional_check(lenient)


@pytest.mark.parametrize("delegate", [
    lambda dh, cache: reference.tanh_step_backward(dh, cache),
    lambda dh, cache: bptt.reference.tanh_rnn.tanh_step_backward(dh, cache),
])
def test_delegating_to_the_reference_is_caught(delegate):
    with pytest.raises(DelegationError, match="tanh_step_backward called tanh_step_backward"):
        grading.grade_tanh_step_backward(delegate)


def test_captured_reference_is_caught_even_when_the_error_is_swallowed():
    captured = reference.tanh_rnn_backward

    def sneaky(dZ, cache):
        try:
            return captured(dZ, cache)
        except Exception:
            return _own_rnn_backward(dZ, cache)

    with pytest.raises(DelegationError, match="called tanh_rnn_backward"):
        grading.grade_tanh_rnn_backward(sneaky)


def test_torch_autograd_is_caught():
    def via_torch(Z, targets):
        leaf = torch.tensor(Z, requires_grad=True)
        loss = torch.nn.functional.cross_entropy(leaf.reshape(-1, Z.shape[-1]),
                                                 torch.tensor(targets).reshape(-1))
        (grad,) = torch.autograd.grad(loss, leaf)
        return grad.numpy()

    def via_backward(Z, targets):
        leaf = torch.tensor(Z, requires_grad=True)
        torch.nn.functional.cross_entropy(leaf.reshape(-1, Z.shape[-1]),
                                          torch.tensor(targets).reshape(-1)).backward()
        return leaf.grad.numpy()

    for cheat in (via_torch, via_backward):
        with pytest.raises(DelegationError, match="_engine_run_backward"):
            grading.grade_softmax_cross_entropy_backward(cheat)


def test_package_numerical_gradient_is_caught():
    def via_package(f, x, grad, rng, num_directions=3, eps=1e-5):
        return bptt.rel_error(bptt.numerical_gradient(f, x, eps), grad)

    with pytest.raises(DelegationError, match="numerical_gradient"):
        grading.grade_directional_check(via_package)


def test_tripwires_are_removed_afterwards():
    with pytest.raises(DelegationError):
        grading.grade_tanh_step_backward(reference.tanh_step_backward)
    problem = bptt.linear_problem(0, 3, 1, 2, 2, 2)
    O, cache = bptt.linear_rnn_forward(problem.X, problem.h0, problem.params)
    assert bptt.linear_rnn_backward(O, cache)["W_hh"].shape == (2, 2)
    assert bptt.gradcheck.numerical_gradient(lambda: 1.0, np.zeros(2)).shape == (2,)
    leaf = torch.ones(2, dtype=torch.float64, requires_grad=True)
    (leaf * leaf).sum().backward()
    assert leaf.grad.tolist() == [2.0, 2.0]


def test_forbidden_functions_can_be_disarmed():
    # A function with a closure cannot take the tripwire's code object: keep them plain.
    import importlib

    for module_name, names in grading.FORBIDDEN.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert not getattr(module, name).__code__.co_freevars, f"{module_name}.{name}"
