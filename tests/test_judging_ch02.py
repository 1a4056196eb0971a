"""The checks of chapter 2, judged in process: honest work passes whatever the seed, shortcuts do not.

Each graded function has two answers written here apart from the reference, each with another
structure (recursion over t or products per pair, a Kronecker layout or scalar loops, logs or a
running product); both earn every check over the seed sweep. Then every shortcut and common
mistake earns nothing, visible or hidden: products in the wrong order, the partial derivative for
the total one, an activation assumed instead of the slopes given, differencing (complex step,
finite differences, torch) of a forward pass rebuilt from the data, and every looser or other bound
(the Frobenius norm, the spectral radius, the chapter's beta_W^(t-k), the product of the one-step
norms, the slopes of the wrong steps).
"""

from __future__ import annotations

from functools import partial, reduce

import numpy as np
import pytest
from hypothesis import given

from autograder.reference import ch02_gradient_analysis as ch02
from autograder.release import visible_data
from tests.conftest import over_seeds, seeds
from tests.variants import ch02 as variants, load


@pytest.fixture
def verdict(judged):
    return partial(judged, ch02.CHECKS)


def variant(answer: dict, function: str, name: str):
    """``function`` as an end-to-end variant's source defines it, under the ``name`` tests show."""
    loaded = getattr(load(*answer.values()), function)
    loaded.__name__ = loaded.__qualname__ = name
    return loaded


# --- Two honest answers per exercise, each unlike the reference --------------------------------

# C[t] from C[t - 1]: every coefficient of step t is J_t times that of step t - 1.
coefficients_by_recursion = variant(variants.HONEST, "lemma_coefficients", "coefficients_by_recursion")


def coefficients_per_pair(c):
    """Each coefficient on its own, as a reduction over the list J_t, ..., J_{i+1}."""
    T, n, _ = c.shape
    C = np.zeros((T, T, n, n))
    for t in range(T):
        for i in range(t + 1):
            C[t, i] = reduce(np.matmul, [c[j] for j in range(t, i, -1)], np.eye(n))
    return C


# Share i is the recursion run with b_i alone: linearity, one run per step.
contributions_by_masking = variant(variants.HONEST, "contributions", "contributions_by_masking")


def contributions_by_columns(b, c):
    """All shares of step t at once: J_t applied to the shares of step t - 1, plus b_t on the diagonal."""
    T, n = b.shape
    K = np.zeros((T, T, n))
    for t in range(T):
        if t:
            K[t, :t] = K[t - 1, :t] @ c[t].T
        K[t, t] = b[t]
    return K


# dh_t/dW_hh as an (h, h*h) matrix, the direct term a Kronecker product.
rtrl_kronecker = variant(variants.HONEST, "dh_dWhh", "rtrl_kronecker")


def rtrl_scalar_loops(H, h0, W_hh, slopes):
    """Entry by entry, the recursion as written in the notebook."""
    T, n = H.shape
    D = np.zeros((T, n, n, n))
    for t in range(T):
        previous = h0 if t == 0 else H[t - 1]
        for i in range(n):
            for j in range(n):
                for k in range(n):
                    carried = sum(W_hh[i, m] * D[t - 1, m, j, k] for m in range(n)) if t else 0.0
                    D[t, i, j, k] = slopes[t, i] * ((previous[k] if i == j else 0.0) + carried)
    return D


# J_t first, then J_{t-1}, ... multiplied on the right.
product_from_the_right = variant(variants.HONEST, "jacobian_product", "product_from_the_right")


def product_multi_dot(slopes, W_hh, t, k):
    factors = [np.diag(slopes[j - 1]) @ W_hh for j in range(t, k, -1)]
    return np.linalg.multi_dot([np.eye(len(W_hh)), np.eye(len(W_hh))] + factors)


def bound_running_product(slopes, W_hh, t, k):
    """The one-step bounds multiplied step by step; beta_W from the eigenvalues of W^T W."""
    beta_W = np.sqrt(np.max(np.linalg.eigvalsh(W_hh.T @ W_hh)))
    bound = 1.0
    for j in range(k + 1, t + 1):
        bound *= max(abs(s) for s in slopes[j - 1]) * beta_W
    return bound


# The sum of the logarithms; beta_W as the first singular value; a zero slope row gives 0.
bound_by_logs = variant(variants.HONEST, "jacobian_bound", "bound_by_logs")


HONEST = {
    "coefficients": [ch02.lemma_coefficients, coefficients_by_recursion, coefficients_per_pair],
    "contributions": [ch02.contributions, contributions_by_masking, contributions_by_columns],
    "rtrl": [ch02.dh_dWhh, rtrl_kronecker, rtrl_scalar_loops],
    "product": [ch02.jacobian_product, product_from_the_right, product_multi_dot],
    "bound": [ch02.jacobian_bound, bound_running_product, bound_by_logs],
}
HONEST_CASES = [(f"test_{part}_{kind}", f) for part, functions in HONEST.items()
                for kind in ("visible", "hidden") for f in functions]


def test_every_check_is_covered():
    assert {check for check, _ in HONEST_CASES} == set(ch02.CHECKS)


@pytest.mark.parametrize("check_id,function", HONEST_CASES,
                         ids=[f"{c}-{f.__name__}" for c, f in HONEST_CASES])
@over_seeds
@given(seed=seeds)
def test_honest_work_earns_every_check(verdict, check_id, function, seed):
    assert verdict(check_id, function, seed) is None


def test_the_answers_agree_with_the_lemma_and_the_recursion():
    """The closed form's shares sum to the recursion; D is the recursion of the lemma's b_t, c_t."""
    rng = np.random.default_rng(0)
    b, c = rng.standard_normal((6, 3)), rng.standard_normal((6, 3, 3))
    a, expected = np.zeros(3), []
    for t in range(6):
        a = b[t] + c[t] @ a
        expected.append(a)
    np.testing.assert_allclose(ch02.contributions(b, c).sum(axis=1), expected, rtol=1e-12, atol=1e-12)
    H, h0, W_hh, slopes = ch02.trajectory(rng, 5, 3, "tanh")
    D = ch02.dh_dWhh(H, h0, W_hh, slopes)
    # The product from step k reproduces how a change at h_k moves h_t: D_t's carried part.
    assert np.allclose(ch02.jacobian_product(slopes, W_hh, 5, 4) @ D[3][:, 0, 0]
                       + slopes[4] * np.eye(3)[0] * H[3][0], D[4][:, 0, 0], rtol=1e-12, atol=1e-12)


def test_the_trajectories_are_those_of_their_activation():
    """The slopes are phi'(z) of a real forward pass: a tanh RNN has slopes 1 - h^2."""
    H, _, _, slopes = ch02.trajectory(np.random.default_rng(1), 6, 4, "tanh")
    np.testing.assert_allclose(slopes, 1 - H ** 2, rtol=1e-12)
    H, _, _, slopes = ch02.visible_rnn()
    np.testing.assert_allclose(slopes, H * (1 - H), rtol=1e-12)


def test_the_visible_data_is_the_reference_on_the_visible_cases():
    data = visible_data(ch02.ASSIGNMENT)
    b, c = ch02.visible_lemma()
    np.testing.assert_array_equal(data["C"], ch02.lemma_coefficients(c))
    H, h0, W_hh, slopes = (data[f"rnn/{key}"] for key in ("H", "h0", "W_hh", "slopes"))
    np.testing.assert_array_equal(data["D"], ch02.dh_dWhh(H, h0, W_hh, slopes))
    for t in range(len(H) + 1):
        for k in range(t + 1):
            assert data["norms"][t, k] <= data["bounds"][t, k] * (1 + 1e-12)


# --- Shortcuts and mistakes earn nothing, visible or hidden ------------------------------------

def coefficients_reversed(c):
    T, n, _ = c.shape
    C = np.zeros((T, T, n, n))
    for t in range(T):
        for i in range(t + 1):
            C[t, i] = reduce(np.matmul, [c[j] for j in range(i + 1, t + 1)], np.eye(n))
    return C


def coefficients_two_factors(c):
    """Right for two factors or fewer: the first and last factor only."""
    T, n, _ = c.shape
    C = np.zeros((T, T, n, n))
    for t in range(T):
        C[t, t] = np.eye(n)
        for i in range(t):
            C[t, i] = c[t] if i == t - 1 else c[t] @ c[i + 1]
    return C


def coefficients_transposed(c):
    return ch02.lemma_coefficients(np.swapaxes(c, 1, 2))


# The recursion's a_t put on the diagonal: the sums are right, the shares are not.
contributions_sum_on_the_diagonal = variant(variants.RECURSION_FOR_SHARES, "contributions",
                                            "contributions_sum_on_the_diagonal")


def contributions_reversed(b, c):
    return np.einsum("tinm,im->tin", coefficients_reversed(c), b)


def rtrl_direct_only(H, h0, W_hh, slopes):
    """The partial derivative for the total one."""
    previous = np.vstack([h0, H[:-1]])
    return np.einsum("ti,ij,tk->tijk", slopes, np.eye(len(h0)), previous)


def rtrl_slope_outside_the_carried_term(H, h0, W_hh, slopes):
    n = len(h0)
    D, carried, previous = [], np.zeros((n, n, n)), h0
    for h, s in zip(H, slopes):
        carried = s[:, None, None] * np.einsum("ij,k->ijk", np.eye(n), previous) + \
            np.einsum("il,ljk->ijk", W_hh, carried)
        D.append(carried)
        previous = h
    return np.array(D)


def rtrl_transposed_weight(H, h0, W_hh, slopes):
    return ch02.dh_dWhh(H, h0, W_hh.T, slopes)


def rtrl_assuming(slope_of_state):
    """The recursion with slopes computed from the states for one assumed activation."""
    def rtrl(H, h0, W_hh, slopes):
        return ch02.dh_dWhh(H, h0, W_hh, slope_of_state(H))
    rtrl.__name__ = f"rtrl_assuming_{slope_of_state.__name__}"
    return rtrl


def tanh(H):
    return 1 - H ** 2


def sigmoid(H):
    return H * (1 - H)


def rebuilt_tanh_forward(H, h0, W_hh):
    """The only forward pass the data allows: assume tanh and recover the input terms u_t."""
    with np.errstate(all="ignore"):
        u = np.arctanh(H) - np.vstack([h0, H[:-1]]) @ W_hh.T

    def forward(W):
        state, out = h0.astype(W.dtype), []
        for u_t in u:
            state = np.tanh(u_t + W @ state)
            out.append(state)
        return np.array(out)
    return forward


def rtrl_complex_step(H, h0, W_hh, slopes):
    """Complex-step differentiation of the rebuilt tanh forward pass, entry by entry of W_hh."""
    n = len(h0)
    forward, D = rebuilt_tanh_forward(H, h0, W_hh), np.zeros((len(H), n, n, n))
    with np.errstate(all="ignore"):
        for j in range(n):
            for k in range(n):
                W = W_hh.astype(complex)
                W[j, k] += 1e-30j
                D[:, :, j, k] = forward(W).imag / 1e-30
    return D


rtrl_central_differences = variant(variants.FINITE_DIFFERENCES, "dh_dWhh", "rtrl_central_differences")


def rtrl_torch(H, h0, W_hh, slopes):
    """torch.func.jacrev of the rebuilt tanh forward pass (torch is here, not in the sandbox)."""
    pytest.importorskip("torch")
    with np.errstate(all="ignore"):
        return load(variants.TORCH["rtrl"]).dh_dWhh(H, h0, W_hh, slopes)


# The activations whose inverse and complex form the guesser below holds (its GUESSES).
GUESSABLE = ("tanh", "sigmoid", "softsign")


# The best attack without the recursion: find the activation whose slopes fit the states,
# rebuild the forward pass from it and differentiate that by the complex step.
rtrl_guessing_the_activation = variant(variants.COMPLEX_STEP, "dh_dWhh", "rtrl_guessing_the_activation")


product_reversed = variant(variants.REVERSED, "jacobian_product", "product_reversed")


def product_columns_scaled(slopes, W_hh, t, k):
    """W_hh diag(phi') instead of diag(phi') W_hh."""
    product = np.eye(len(W_hh))
    for j in range(k + 1, t + 1):
        product = (W_hh * slopes[j - 1][None, :]) @ product
    return product


def product_slopes_one_step_late(slopes, W_hh, t, k):
    padded = np.vstack([slopes, np.ones_like(slopes[:1])])
    return ch02.jacobian_product(padded[1:], W_hh, t, k)


def bound_frobenius(slopes, W_hh, t, k):
    steepest = np.linalg.norm(slopes[k:t], axis=1) if t > k else np.ones(0)
    return float(np.prod(steepest) * np.linalg.norm(W_hh) ** (t - k))


def bound_frobenius_weight(slopes, W_hh, t, k):
    return ch02.jacobian_bound(slopes, W_hh, t, k) * (np.linalg.norm(W_hh) / np.linalg.norm(W_hh, 2)) ** (t - k)


def bound_spectral_radius(slopes, W_hh, t, k):
    ratio = np.max(np.abs(np.linalg.eigvals(W_hh))) / np.linalg.norm(W_hh, 2)
    return ch02.jacobian_bound(slopes, W_hh, t, k) * ratio ** (t - k)


# The chapter's beta_W^(t-k), slopes ignored.
bound_of_the_page = variant(variants.PAGE_BOUND, "jacobian_bound", "bound_of_the_page")


def bound_steepest_slope_overall(slopes, W_hh, t, k):
    """(beta_phi beta_W)^(t-k) with beta_phi the steepest slope of the whole sequence."""
    return float((np.max(np.abs(slopes)) * np.linalg.norm(W_hh, 2)) ** (t - k))


def bound_one_step_norms(slopes, W_hh, t, k):
    """The product of the ||J_j||_2: tighter, but not the bound asked for."""
    return float(np.prod([np.linalg.norm(slopes[j - 1][:, None] * W_hh, 2) for j in range(k + 1, t + 1)]))


def bound_slopes_one_step_late(slopes, W_hh, t, k):
    padded = np.vstack([slopes, np.ones_like(slopes[:1])])
    return ch02.jacobian_bound(padded[1:], W_hh, t, k)


def bound_mean_slope(slopes, W_hh, t, k):
    mean = np.mean(np.abs(slopes[k:t]), axis=1) if t > k else np.ones(0)
    return float(np.prod(mean) * np.linalg.norm(W_hh, 2) ** (t - k))


WRONG = {
    "coefficients": [coefficients_reversed, coefficients_two_factors, coefficients_transposed],
    "contributions": [contributions_sum_on_the_diagonal, contributions_reversed],
    "rtrl": [rtrl_direct_only, rtrl_slope_outside_the_carried_term, rtrl_transposed_weight,
             rtrl_assuming(tanh), rtrl_assuming(sigmoid), rtrl_complex_step,
             rtrl_central_differences, rtrl_torch, rtrl_guessing_the_activation],
    "product": [product_reversed, product_columns_scaled, product_slopes_one_step_late],
    "bound": [bound_frobenius, bound_frobenius_weight, bound_spectral_radius, bound_of_the_page,
              bound_steepest_slope_overall, bound_one_step_norms, bound_slopes_one_step_late,
              bound_mean_slope],
}
WRONG_CASES = [(f"test_{part}_{kind}", f) for part, functions in WRONG.items()
               for kind in ("visible", "hidden") for f in functions]


@pytest.mark.parametrize("check_id,function", WRONG_CASES,
                         ids=[f"{c}-{f.__name__}" for c, f in WRONG_CASES])
@over_seeds
@given(seed=seeds)
def test_shortcuts_and_mistakes_earn_nothing(verdict, check_id, function, seed):
    assert verdict(check_id, function, seed) is not None


def test_a_table_of_the_visible_answers_earns_nothing(verdict):
    """Answers read from bptt/data fit the notebook's cases, never the fresh ones."""
    data = visible_data(ch02.ASSIGNMENT)
    assert verdict("test_coefficients_visible", lambda c: data["C"]) is not None
    assert verdict("test_contributions_visible", lambda b, c: data["K"]) is not None
    assert verdict("test_rtrl_visible", lambda H, h0, W, s: data["D"]) is not None
    assert verdict("test_product_visible", lambda s, W, t, k: data["product"]) is not None
    assert verdict("test_bound_visible", lambda s, W, t, k: data["bounds"][t, k]) is not None


def test_the_rebuilt_forward_pass_passes_only_where_the_activation_was_guessed():
    """The shortcuts above are real: where they guess the activation right, they find dh_t/dW_hh."""
    data = ch02.trajectory(np.random.default_rng(5), 4, 3, "tanh")
    expected = ch02.dh_dWhh(*data)
    assert np.abs(rtrl_complex_step(*data) - expected).max() < 1e-12
    assert np.abs(rtrl_central_differences(*data) - expected).max() < 1e-6
    assert np.abs(rtrl_torch(*data) - expected).max() < 1e-12
    for activation in GUESSABLE:
        data = ch02.trajectory(np.random.default_rng(6), 4, 3, activation)
        assert np.abs(rtrl_guessing_the_activation(*data) - ch02.dh_dWhh(*data)).max() < 1e-12


@pytest.mark.parametrize("check_id", ["test_rtrl_visible", "test_rtrl_hidden"])
def test_wrong_messages_say_what_is_off(verdict, check_id):
    message = verdict(check_id, rtrl_direct_only)
    assert "dh_t/dW_hh is off" in message and "rel_error" in message


def test_the_frobenius_bound_is_named_in_the_message(verdict):
    assert "the bound is off" in verdict("test_bound_visible", bound_frobenius)
