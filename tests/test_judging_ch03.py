"""The checks of chapter 3, judged in process: honest work passes, near misses do not."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from autograder.reference import ch03_truncation as ch03
from bptt.truncation import constant_schedule, randomized_multipliers


@pytest.fixture
def verdict(judged):
    return partial(judged, ch03.CHECKS)


OWN = {"truncated": ch03.truncated_gradient, "randomized": ch03.randomized_gradient,
       "monte": ch03.monte_carlo_gradient}


@pytest.mark.parametrize("check_id", sorted(ch03.CHECKS))
def test_own_work_passes(verdict, check_id):
    assert verdict(check_id, OWN[check_id.split("_")[1]]) is None


@pytest.mark.parametrize("check_id", ["test_monte_carlo_visible", "test_monte_carlo_hidden"])
def test_other_honest_draws_pass(verdict, check_id):
    """Any seed of the draws passes: the check is statistical, not a replay of ours."""
    def other_seed(X, Y, h0, params, pi, n, seed):
        return ch03.monte_carlo_gradient(X, Y, h0, params, pi, n, seed + 7)

    assert verdict(check_id, other_seed) is None


def test_chunk_losses_scaled_by_their_own_length_fail(verdict):
    def per_chunk_mean(X, Y, h0, params, tau):
        grads, h_T = ch03.truncated_gradient(X, Y, h0, params, tau)
        return {k: v * len(X) / min(tau, len(X)) for k, v in grads.items()}, h_T

    assert "is off" in verdict("test_truncated_hidden", per_chunk_mean)


def test_restarting_every_chunk_from_h0_fails(verdict):
    def no_carry(X, Y, h0, params, tau):
        T, B = X.shape[:2]
        grads = {k: np.zeros_like(v) for k, v in params.items()}
        for start in range(0, T, tau):
            chunk, _ = ch03.truncated_gradient(X[start:start + tau], Y[start:start + tau], h0,
                                               params, tau)
            for k in grads:
                grads[k] += chunk[k] * len(X[start:start + tau]) / T
        return grads, ch03.truncated_gradient(X, Y, h0, params, tau)[1]

    assert "is off" in verdict("test_truncated_visible", no_carry)


def test_ignoring_the_multipliers_fails(verdict):
    assert "is off" in verdict("test_randomized_hidden",
                               lambda X, Y, h0, params, xi: ch03.full_gradient(X, Y, h0, params))


def test_cutting_without_rescaling_is_biased(verdict):
    def unscaled(X, Y, h0, params, pi, n, seed):
        rng = np.random.default_rng(seed)
        samples = np.array([
            ch03.randomized_gradient(X, Y, h0, params, (randomized_multipliers(
                len(X), constant_schedule(pi), rng) > 0).astype(float))["W_hh"] for _ in range(n)])
        return samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(n)

    message = verdict("test_monte_carlo_hidden", unscaled)
    assert message and ("biased" in message or "standard error is off" in message)


def test_exact_gradient_with_a_made_up_error_fails(verdict):
    def exact(X, Y, h0, params, pi, n, seed):
        g = ch03.full_gradient(X, Y, h0, params)["W_hh"]
        return g, np.full_like(g, 1e-3)

    assert "standard error is off" in verdict("test_monte_carlo_visible", exact)


def test_standard_deviation_is_not_the_standard_error(verdict):
    def deviation(X, Y, h0, params, pi, n, seed):
        mean, error = ch03.monte_carlo_gradient(X, Y, h0, params, pi, n, seed)
        return mean, error * np.sqrt(n)

    assert "standard error is off" in verdict("test_monte_carlo_hidden", deviation)
