"""The checks of chapter 2, judged in process: honest work passes, near misses do not."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from autograder.reference import ch02_gradient_analysis as ch02


@pytest.fixture
def verdict(judged):
    return partial(judged, ch02.CHECKS)


OWN = {"coefficients": ch02.lemma_coefficients, "closed": ch02.lemma_closed_form,
       "rtrl": ch02.dh_dWhh, "product": ch02.jacobian_product, "bound": ch02.jacobian_bound}


@pytest.mark.parametrize("check_id", sorted(ch02.CHECKS))
def test_own_work_passes(verdict, check_id):
    assert verdict(check_id, OWN[check_id.split("_")[1]]) is None


def test_closed_form_equals_the_recursion():
    rng = np.random.default_rng(0)
    b, c = rng.standard_normal((6, 3)), rng.standard_normal((6, 3, 3))
    a, expected = np.zeros(3), []
    for t in range(6):
        a = b[t] + c[t] @ a
        expected.append(a)
    np.testing.assert_allclose(ch02.lemma_closed_form(b, c), expected, rtol=1e-12, atol=1e-12)


def test_products_in_the_wrong_order_fail(verdict):
    def reversed_product(H, W_hh, t, k):
        product = np.eye(W_hh.shape[0])
        for j in range(k + 1, t + 1):
            product = product @ ((1 - H[j - 1] ** 2)[:, None] * W_hh)
        return product

    assert "dh_t/dh_k is off" in verdict("test_product_hidden", reversed_product)


def test_partial_instead_of_total_derivative_fails(verdict):
    def direct_only(X, h0, W_hx, W_hh, b_h):
        H = ch02.tanh_states(X, h0, W_hx, W_hh, b_h)
        previous = np.vstack([h0, H[:-1]])
        n = len(h0)
        return np.einsum("ti,ij,tk->tijk", 1 - H ** 2, np.eye(n), previous)

    assert "dh_t/dW_hh is off" in verdict("test_rtrl_visible", direct_only)


def test_frobenius_norm_is_not_the_bound(verdict):
    assert "the bound is off" in verdict(
        "test_bound_hidden", lambda W, gap: float(np.linalg.norm(W) ** gap))
