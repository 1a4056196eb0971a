"""Hidden checks for the chapter 4 exercises, run by nbgrader when it grades.

Each ``grade_*`` function computes the expected values with the reference
implementation first, then calls the student's function on fresh copies of the
inputs while every implementation that could answer for it is disarmed (see
``forbid_delegation``), and compares in float64 with ``rel_error``.
"""

from __future__ import annotations

import copy
import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from bptt.checks import assert_close, assert_gradients_close
from bptt.gradcheck import TOL_AUTOGRAD, TOL_NUMERIC
from bptt.reference import tanh_rnn as reference
from bptt.rnn import tanh_rnn_forward, tanh_step_forward
from bptt.tasks import tanh_problem


class DelegationError(AssertionError):
    """A graded function called an implementation that answers the exercise for it."""


# Every function that computes a gradient the exercises ask for; a graded
# function that reaches any of them has not done the work itself.
FORBIDDEN = {
    "bptt.reference.tanh_rnn": ("softmax_cross_entropy_backward", "tanh_step_backward",
                                "tanh_rnn_backward"),
    "bptt.rnn": ("linear_step_backward", "linear_rnn_backward"),
    "bptt.gradcheck": ("numerical_gradient",),
    "bptt.autograd": ("linear_rnn_autograd", "tanh_rnn_autograd"),
    # The one Python-level entry into torch's autograd engine: backward(),
    # torch.autograd.grad and torch.func all pass through it.
    "torch.autograd.graph": ("_engine_run_backward",),
}

_tripped: list[str] = []


def _record_trip() -> None:
    # Frame 1 is the tripwire running under the forbidden function's name.
    _tripped.append(sys._getframe(1).f_code.co_qualname)


def _tripwire(*args, **kwargs):
    import bptt.reference.grading as grading

    grading._record_trip()
    raise grading.DelegationError("graded code may not call this function")


@contextmanager
def forbid_delegation(exercise: str) -> Iterator[None]:
    """Disarm every function in ``FORBIDDEN`` for the duration of the block.

    The code object of each function is swapped, so references the student
    captured before (``from torch.autograd import grad as g``) are disarmed too.
    A call is recorded even if the student's code catches the exception.

    Raises
    ------
    DelegationError
        After the block, if anything forbidden was called.
    """
    swapped = []
    for module_name, names in FORBIDDEN.items():
        module = importlib.import_module(module_name)
        for name in names:
            function = getattr(module, name)
            trip = _tripwire.__code__.replace(co_name=function.__code__.co_name,
                                              co_qualname=function.__code__.co_qualname)
            swapped.append((function, function.__code__))
            function.__code__ = trip
    _tripped.clear()
    try:
        yield
    except DelegationError:
        pass
    finally:
        for function, code in swapped:
            function.__code__ = code
    if _tripped:
        called = ", ".join(sorted(set(_tripped)))
        _tripped.clear()
        raise DelegationError(f"{exercise} called {called}; the exercise asks you to compute "
                              "this yourself, so this part earns no points")


def call_own_work(exercise: str, function: Callable, *args):
    """``function(*deep copies of args)`` under ``forbid_delegation``; returns its result."""
    args = copy.deepcopy(args)
    result = None
    with forbid_delegation(exercise):
        result = function(*args)
    return result


def assert_own_work(exercise: str, function: Callable, *args) -> None:
    """Raise ``DelegationError`` if ``function(*args)`` calls anything forbidden.

    Returns nothing on purpose: as the last line of a test cell, a returned
    value would become the cell's output, which nbgrader reads as a score.
    """
    call_own_work(exercise, function, *args)


def _tanh_case(seed: int, T: int, B: int, d: int, h: int, q: int):
    problem = tanh_problem(seed, T, B, d, h, q)
    Z, cache = tanh_rnn_forward(problem.X, problem.h0, problem.params)
    return problem, Z, cache


SHAPES = [(101, 1, 1, 2, 3, 2), (102, 4, 3, 5, 4, 3), (103, 9, 2, 3, 6, 5), (104, 2, 5, 1, 2, 4)]


def grade_softmax_cross_entropy_backward(student: Callable) -> None:
    """Check dL/dZ on several shapes, and on logits large enough to overflow exp."""
    for seed, T, B, _, _, q in SHAPES:
        rng = np.random.default_rng(seed)
        for scale in (3.0, 800.0):
            Z = scale * rng.standard_normal((T, B, q))
            targets = rng.integers(0, q, size=(T, B))
            expected = reference.softmax_cross_entropy_backward(Z, targets)
            actual = call_own_work("softmax_cross_entropy_backward", student, Z, targets)
            assert_close(f"dL/dZ for T={T}, B={B}, q={q}, logits of size ~{scale:g}",
                         actual, expected, TOL_AUTOGRAD)


STEP_OUTPUTS = ("dx", "dh_prev", "dW_hx", "dW_hh", "db_h")


def _check_step_outputs(label: str, actual, expected) -> None:
    if not isinstance(actual, tuple | list) or len(actual) != len(expected):
        raise AssertionError(f"{label}: expected a tuple of {len(expected)} arrays "
                             f"{STEP_OUTPUTS}, got {type(actual).__name__}")
    for name, got, want in zip(STEP_OUTPUTS, actual, expected):
        assert_close(f"{name} ({label})", got, want, TOL_AUTOGRAD)


def grade_tanh_step_backward(student: Callable) -> None:
    """Check all five outputs of one backward step on several shapes and seeds."""
    for seed, _, B, d, h, q in SHAPES:
        problem, _, _ = _tanh_case(seed, 1, B, d, h, q)
        P = problem.params
        _, cache = tanh_step_forward(problem.X[0], problem.h0, P["W_hx"], P["W_hh"], P["b_h"])
        dh = np.random.default_rng(seed + 1000).standard_normal((B, h))
        expected = reference.tanh_step_backward(dh, cache)
        actual = call_own_work("tanh_step_backward", student, dh, cache)
        _check_step_outputs(f"B={B}, d={d}, h={h}, seed {seed}", actual, expected)


RNN_KEYS = ("W_qh", "b_q", "W_hx", "W_hh", "b_h", "h0")


def grade_tanh_rnn_backward(student: Callable, keys: tuple[str, ...] = RNN_KEYS) -> None:
    """Check the gradients ``keys`` of a whole BPTT pass on several shapes, T = 1 included."""
    for seed, T, B, d, h, q in SHAPES:
        problem, Z, cache = _tanh_case(seed, T, B, d, h, q)
        dZ = reference.softmax_cross_entropy_backward(Z, problem.targets)
        expected = reference.tanh_rnn_backward(dZ, cache)
        actual = call_own_work("tanh_rnn_backward", student, dZ, cache)
        try:
            assert_gradients_close(actual, {k: expected[k] for k in keys}, TOL_AUTOGRAD)
        except AssertionError as error:
            raise AssertionError(f"T={T}, B={B}, d={d}, h={h}, q={q}: {error}") from None


def _sine_problem(seed: int, shape: tuple[int, ...]):
    """x, A and the gradient A cos(x) of sum(A sin x), all of ``shape``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    A = rng.standard_normal(shape)
    return x, A, A * np.cos(x)


def _wrong_gradients(grad: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients with the mistakes a check must catch: a factor, a sign, one bad entry."""
    one_entry = grad.copy()
    one_entry.flat[-1] += 0.5
    return {"scaled by 1.1": 1.1 * grad, "of the wrong sign": -grad,
            "with one wrong entry": one_entry}


def grade_directional_check(student: Callable) -> None:
    """Accept right gradients, reject wrong ones, call f twice per direction, restore x."""
    for seed, shape, directions in ((1, (3,), 1), (2, (2, 3), 3), (3, (2, 1, 3), 4)):
        x, A, grad = _sine_problem(seed, shape)
        original = x.copy()
        calls = []

        def f():
            calls.append(1)
            return float(np.sum(A * np.sin(x)))

        label = f"x of shape {shape}, {directions} direction(s)"
        with forbid_delegation("directional_check"):
            right = student(f, x, grad.copy(), np.random.default_rng(seed), directions, 1e-5)
        if not np.array_equal(x, original):
            raise AssertionError(f"directional_check changed x ({label}): restore it exactly")
        if len(calls) != 2 * directions:
            raise AssertionError(f"f was called {len(calls)} times for {label}; "
                                 f"expected {2 * directions}")
        right = float(right)
        if not right <= 1e-7:
            raise AssertionError(f"a right gradient ({label}) got {right:.2e}; expected <= 1e-7")
        for mistake, wrong_grad in _wrong_gradients(grad).items():
            with forbid_delegation("directional_check"):
                wrong = float(student(f, x, wrong_grad, np.random.default_rng(seed + 7),
                                      directions, 1e-5))
            if not wrong >= 1e-3:
                raise AssertionError(f"a gradient {mistake} ({label}) got {wrong:.2e}; "
                                     "expected >= 1e-3")
