"""Chapter 3's package: multipliers, the truncated gradients in numpy and torch, the tasks."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bptt import rel_error
from bptt.autograd import TruncationSampler, tanh_regression_autograd
from bptt.influence import steady_state_derivative, train_online, window_derivatives
from bptt.progress import progress, shown_when_done
from autograder.reference.tanh_rnn import tanh_rnn_backward
from bptt.streaming import train_stream
from bptt.tasks import adding_problem, influence_balancing, lagged_adding_stream
from bptt.rnn import TANH_PARAMS, squared_loss, tanh_rnn_forward
from bptt.truncation import (constant_schedule, delayed_schedule, full_multipliers,
                             randomized_multipliers, regular_multipliers, segments)

TOL = 1e-10


class ch03:
    """The numpy gradients of the vector tanh RNN that the torch helpers of chapter 3 are checked
    against (the chapter's exercises now use a scalar model, in autograder.reference.ch03_truncation)."""

    @staticmethod
    def problem(seed, T, B, d, h, q):
        """(X, Y, h0, params) of a random tanh RNN with regression targets."""
        rng = np.random.default_rng(seed)
        params = {"W_hx": rng.standard_normal((h, d)) / np.sqrt(d),
                  "W_hh": 1.2 * rng.standard_normal((h, h)) / np.sqrt(h),
                  "b_h": 0.1 * rng.standard_normal(h),
                  "W_qh": rng.standard_normal((q, h)) / np.sqrt(h), "b_q": 0.1 * rng.standard_normal(q)}
        return (rng.standard_normal((T, B, d)), rng.standard_normal((T, B, q)),
                0.5 * rng.standard_normal((B, h)), params)

    @staticmethod
    def randomized_gradient(X, Y, h0, params, xi=None):
        """dL/dw with the multipliers xi (T,) on the links h_{t-1} -> h_t; None: the full gradient."""
        Z, cache = tanh_rnn_forward(X, h0, params)
        _, dO = squared_loss(Z, Y)
        grads = tanh_rnn_backward(dO, cache, None if xi is None else np.asarray(xi, dtype=float))
        return {name: grads[name] for name in TANH_PARAMS}

    @staticmethod
    def full_gradient(X, Y, h0, params):
        return ch03.randomized_gradient(X, Y, h0, params)

    @staticmethod
    def truncated_gradient(X, Y, h0, params, tau):
        """Chunks of tau steps, the state carried, each chunk's losses scaled by 1/(T B)."""
        T, B = X.shape[:2]
        grads = {name: np.zeros_like(value, dtype=float) for name, value in params.items()}
        h = np.asarray(h0, dtype=float)
        for start in range(0, T, tau):
            Z, cache = tanh_rnn_forward(X[start:start + tau], h, params)
            chunk = tanh_rnn_backward((Z - Y[start:start + tau]) / (T * B), cache)
            for name in grads:
                grads[name] += chunk[name]
            h = cache.H[-1]
        return grads, h


def worst(a: dict, b: dict) -> float:
    return max(rel_error(a[k], b[k]) for k in b)


def test_regular_multipliers_cut_where_chunks_start():
    np.testing.assert_array_equal(regular_multipliers(7, 3), [0, 1, 1, 0, 1, 1, 0])
    np.testing.assert_array_equal(full_multipliers(4), [0, 1, 1, 1])
    assert segments(regular_multipliers(7, 3)) == [(0, 3), (3, 6), (6, 7)]


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_bad_lengths_are_refused(bad):
    with pytest.raises(ValueError, match="must be a positive integer"):
        regular_multipliers(5, bad)


def test_randomized_multipliers_have_mean_one():
    rng = np.random.default_rng(0)
    xi = np.concatenate([randomized_multipliers(50, constant_schedule(0.6), rng)[1:]
                         for _ in range(400)])
    assert set(np.unique(xi)) == {0.0, 1 / 0.6}
    assert abs(xi.mean() - 1) < 4 * xi.std() / np.sqrt(len(xi))


def test_delayed_schedule_never_cuts_a_young_segment():
    xi = randomized_multipliers(2000, delayed_schedule(6, 0.5), np.random.default_rng(1))
    lengths = [stop - start for start, stop in segments(xi)][:-1]
    assert min(lengths) >= 6 and set(xi[xi > 0]) == {1.0, 2.0}


@settings(max_examples=25, deadline=None)
@given(T=st.integers(1, 9), tau=st.integers(1, 11), seed=st.integers(0, 1000))
def test_chunk_by_chunk_equals_one_pass_with_regular_multipliers(T, tau, seed):
    X, Y, h0, params = ch03.problem(seed, T, 2, 2, 3, 2)
    grads, h_T = ch03.truncated_gradient(X, Y, h0, params, tau)
    assert worst(grads, ch03.randomized_gradient(X, Y, h0, params, regular_multipliers(T, tau))) <= TOL
    assert rel_error(h_T, tanh_regression_autograd(X, h0, params, Y)[2]) <= TOL


@pytest.mark.parametrize("kind", ["full", "regular", "randomized", "scaled"])
def test_numpy_and_torch_agree(kind):
    T = 15
    X, Y, h0, params = ch03.problem(3, T, 2, 3, 4, 2)
    rng = np.random.default_rng(4)
    xi = {"full": full_multipliers(T), "regular": regular_multipliers(T, 4),
          "randomized": randomized_multipliers(T, constant_schedule(0.7), rng),
          "scaled": rng.choice([0.0, 0.5, 3.0], size=T)}[kind]
    expected = ch03.randomized_gradient(X, Y, h0, params, xi)
    assert worst(tanh_regression_autograd(X, h0, params, Y, xi)[1], expected) <= TOL
    assert worst(TruncationSampler(X, h0, params, Y)(xi), expected) <= TOL
    if kind == "full":
        assert worst(expected, ch03.full_gradient(X, Y, h0, params)) <= TOL


def test_randomized_truncation_is_unbiased_and_regular_truncation_is_not():
    """4000 draws on a fixed sequence: the exact gradient lies inside the Monte Carlo error."""
    T = 20
    X, Y, h0, params = ch03.problem(5, T, 2, 2, 3, 1)
    sampler, rng = TruncationSampler(X, h0, params, Y), np.random.default_rng(6)
    samples = np.array([sampler(randomized_multipliers(T, constant_schedule(0.75), rng))["W_hh"]
                        for _ in range(4000)])
    exact = ch03.full_gradient(X, Y, h0, params)["W_hh"]
    error = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    assert np.max(np.abs(samples.mean(axis=0) - exact) / error) < 4
    truncated = ch03.truncated_gradient(X, Y, h0, params, 3)[0]["W_hh"]
    assert np.max(np.abs(truncated - exact) / error) > 20


def test_influence_balancing_derivatives_match_autograd():
    system = influence_balancing()
    W_hh, x = torch.tensor(system.W_hh), torch.tensor(system.x)
    h0 = torch.ones(len(system.x), dtype=torch.float64)
    for K in (1, 5, 41, 120):
        w = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        h = h0
        for _ in range(K):
            h = W_hh @ h + w * x
        (grad,) = torch.autograd.grad(h[0], w)
        assert abs(grad.item() - window_derivatives(system, K)[-1]) <= 1e-10 * K
    assert steady_state_derivative(system) == pytest.approx(2 * (2 * 10 - 23), abs=1e-12)
    derivatives = window_derivatives(system, 200)
    assert derivatives[39] > 0 > derivatives[40], "the balance point of the sliding window moved"


def test_truncation_shorter_than_the_balance_point_diverges():
    system, steps = influence_balancing(), 30000
    full = train_online(system, full_multipliers(steps), 3e-5, 0.5)
    short = train_online(system, regular_multipliers(steps, 10), 3e-5, 0.5)
    randomized = train_online(system, randomized_multipliers(steps, constant_schedule(0.95),
                                                             np.random.default_rng(0)), 3e-5, 0.5)
    assert full.w[-1] == pytest.approx(-1 / 6, abs=1e-6)
    assert randomized.w[-1] == pytest.approx(-1 / 6, abs=1e-4)
    assert np.isnan(short.w[-1]) and np.nanmax(np.abs(short.w)) > 1e6


def test_adding_problem_targets_are_the_marked_sums():
    X, Y = adding_problem(0, 10, 5)
    assert X.shape == (10, 5, 2) and Y.shape == (5, 1)
    np.testing.assert_array_equal(X[..., 1].sum(axis=0), 2.0)
    assert X[:5, :, 1].sum() == 5 and X[5:, :, 1].sum() == 5
    np.testing.assert_allclose(Y[:, 0], (X[..., 0] * X[..., 1]).sum(axis=0))


def test_lagged_stream_adds_the_value_lag_steps_back():
    X, Y = lagged_adding_stream(0, 12, 3, 4)
    np.testing.assert_array_equal(Y[4:], X[4:] + X[:-4])
    np.testing.assert_array_equal(Y[:4], X[:4])


def test_carried_state_beats_windows_and_training_is_repeatable():
    carried = train_stream(2, 8, True, chunks=150)
    windows = train_stream(2, 8, False, chunks=150)
    np.testing.assert_array_equal(carried.train_loss, train_stream(2, 8, True, chunks=150).train_loss)
    assert carried.position_loss[:2].mean() < 0.2 * windows.position_loss[:2].mean()


def test_progress_bar_ends_full_and_prints_no_times():
    out = io.StringIO()
    assert list(progress(range(7), 7, "run", updates=3, file=out)) == list(range(7))
    text = out.getvalue()
    assert text.endswith(f"\rrun [{'#' * 30}] 7/7\n") and "s/it" not in text


def test_a_loop_left_early_ends_its_line_and_output_arrives_in_one_piece(capsys):
    with shown_when_done():
        for step in progress(range(10), 10, "run"):
            if step == 3:
                break
        print("after")
    assert capsys.readouterr().out.endswith("3/10\nafter\n")
