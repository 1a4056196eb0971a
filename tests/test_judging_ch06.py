"""The checks of chapter 6, judged in process: honest work passes, near misses do not."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest

from autograder.reference import ch06_eigenvalues_of_powers as ch06


@pytest.fixture
def verdict(judged):
    return partial(judged, ch06.CHECKS)


OWN = {"eigenvalues": ch06.power_eigenvalues, "iteration": ch06.power_iteration,
       "tan": ch06.tan_angles, "rate": ch06.measured_rate, "probability": ch06.probability_exceeds,
       "bound": ch06.probability_bound, "alignment": ch06.alignment,
       "log_norms": ch06.log10_gradient_norms, "orthogonal": ch06.nearest_orthogonal,
       "power_norms": ch06.power_norms,
       "non_normal": lambda n: 0.9 * np.eye(n) + 5.0 * np.eye(n, k=1)}


def own(check_id: str):
    return OWN[check_id[5:].removesuffix("_visible").removesuffix("_hidden")]


@pytest.mark.parametrize("check_id", sorted(ch06.CHECKS))
def test_own_work_passes(verdict, check_id):
    assert verdict(check_id, own(check_id)) is None


def test_forming_the_power_fails(verdict):
    assert "is off" in verdict("test_eigenvalues_hidden", lambda M, k: np.sort(
        np.linalg.eigvalsh(np.linalg.matrix_power(M, k))))


def test_matrix_power_is_not_power_iteration(verdict):
    def via_matrix_power(M, x0, k):
        rows = [np.linalg.matrix_power(M, j) @ x0 for j in range(k + 1)]
        return np.array([r / np.linalg.norm(r) for r in rows])

    with np.errstate(all="ignore"):
        assert "NaN or infinite" in verdict("test_iteration_hidden", via_matrix_power)


def test_tangent_of_arccos_loses_tiny_angles(verdict):
    def through_arccos(X, v):
        cosines = np.abs(X @ v) / (np.linalg.norm(X, axis=1) * np.linalg.norm(v))
        return np.tan(np.arccos(np.minimum(cosines, 1.0)))

    assert "is off" in verdict("test_tan_hidden", through_arccos)


def test_largest_instead_of_largest_modulus_fails(verdict):
    def by_value(M, k, alpha, n_samples, seed):
        X = np.random.default_rng(seed).standard_normal((n_samples, len(M)))
        for _ in range(k):
            X = X @ M.T
            X /= np.linalg.norm(X, axis=1, keepdims=True)
        return float(np.mean(ch06.tan_angles(X, np.linalg.eigh(M)[1][:, -1]) > math.tan(alpha)))

    assert "further than" in verdict("test_probability_hidden", by_value)


def test_other_draws_pass(verdict):
    assert verdict("test_probability_hidden", lambda M, k, alpha, n, seed:
                   ch06.probability_exceeds(M, k, alpha, n, seed + 123)) is None


def test_norms_without_renormalising_fail(verdict):
    def naive(W_hh, g, T):
        x, logs = np.asarray(g, dtype=float), []
        for _ in range(T + 1):
            logs.append(np.log10(np.linalg.norm(x)))
            x = W_hh.T @ x
        return np.array(logs)

    with np.errstate(all="ignore"):
        assert "NaN or infinite" in verdict("test_log_norms_hidden", naive)


def test_qr_is_not_the_nearest_orthogonal_matrix(verdict):
    assert "is off" in verdict("test_orthogonal_hidden", lambda W: np.linalg.qr(W)[0])


def test_a_normal_contraction_does_not_grow(verdict):
    assert "reach a norm of only" in verdict("test_non_normal", lambda n: 0.9 * np.eye(n))


def test_the_bound_holds_where_it_is_checked():
    for case in ch06._probability_cases(False):
        M, k, alpha, _, _ = case.value
        values = np.sort(np.abs(np.linalg.eigvalsh(M)))[::-1]
        assert case.secret <= ch06.probability_bound(len(M), values[1] / values[0], k, alpha)
