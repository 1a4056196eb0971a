"""The checks of chapter 6, judged in process over many seeds.

Every graded function has two honest implementations written apart from the reference and from
each other; both earn every check for every seed. Each shortcut (matrix_power reached however,
an eigendecomposition where power iteration is asked for, padded operator calls) and each near
miss earns nothing, for every seed.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
from hypothesis import given

from autograder.reference import ch06_eigenvalues_of_powers as ch06
from bptt.probe import Operator
from tests.conftest import over_seeds, seeds
from tests.variants import ch06 as variants, load


@pytest.fixture
def verdict(judged):
    return partial(judged, ch06.CHECKS)


# ---------------------------------------------------------------- honest work, two ways each

# One of the two ways, for most exercises, is the notebook's honest variant (tests/variants/ch06.py).
VARIANT = load(*variants.HONEST.values(), math=math)


def _named(function, name):
    """A function loaded from the variant source, under the name this file gives it."""
    function.__name__ = function.__qualname__ = name
    return function


def eigenvalues_general(M, k):
    """Through the general eigensolver, real parts, and np.power."""
    return np.sort(np.power(np.real(np.linalg.eigvals(M)), k))


# eigvalsh, then k multiplications of the eigenvalues themselves.
eigenvalues_multiplied = _named(VARIANT.power_eigenvalues, "eigenvalues_multiplied")


# Preallocated rows, `@` on the operator, lengths by sqrt(y . y).
iteration_preallocated = _named(VARIANT.power_iteration, "iteration_preallocated")


def iteration_one_more(apply_M, g0, k):
    """Appends and then multiplies, so it makes k + 1 applications; scales by the largest entry first."""
    rows, x = [], np.asarray(g0, dtype=float)
    for _ in range(k + 1):
        x = x / np.max(np.abs(x))
        rows.append(x / np.linalg.norm(x))
        x = apply_M(rows[-1])
    return np.array(rows)


def tan_row_by_row(X, v):
    """One row at a time: the projection on the unit v and what is left."""
    v_hat = v / np.linalg.norm(v)
    out = []
    for x in X:
        p = x @ v_hat
        out.append(np.linalg.norm(x - p * v_hat) / abs(p))
    return np.array(out)


# Coordinates in an orthonormal basis whose first vector is along v: no subtraction at all.
tan_in_a_basis = _named(VARIANT.tan_angles, "tan_in_a_basis")


def rate_closed_form(tans):
    """The least-squares slope written out."""
    j = np.array([i for i, t in enumerate(tans) if t > 1e-12], dtype=float)
    y = np.log(np.asarray(tans)[j.astype(int)])
    slope = np.sum((j - j.mean()) * (y - y.mean())) / np.sum((j - j.mean()) ** 2)
    return math.exp(slope)


# lstsq on log10, then 10 to the slope.
rate_lstsq = _named(VARIANT.measured_rate, "rate_lstsq")


# No iteration: the coefficients mu_i lambda_i^k of (c), for every draw at once.
probability_by_expansion = _named(VARIANT.probability_exceeds, "probability_by_expansion")


def probability_by_columns(M, k, alpha, n_samples, seed):
    """Starts as columns, the general eigensolver for v_1, angles through the arc cosine
    (alpha is never tiny here)."""
    X = np.random.default_rng(seed).standard_normal((n_samples, len(M))).T
    for _ in range(k):
        X = M @ X
        X = X / np.linalg.norm(X, axis=0)
    values, vectors = np.linalg.eig(M)
    v1 = np.real(vectors[:, np.argmax(np.abs(values))])
    cosines = np.abs(v1 @ X) / (np.linalg.norm(v1) * np.linalg.norm(X, axis=0))
    return float(np.count_nonzero(np.arccos(np.minimum(cosines, 1.0)) > alpha)) / n_samples


def bound_by_powers(n, ratio, k, alpha):
    """s = r^k / sqrt(r^2k + tan^2 alpha), f(0) through math.gamma."""
    s = ratio ** k / math.sqrt(ratio ** (2 * k) + math.tan(alpha) ** 2)
    return min(1.0, 2 * s * math.gamma(n / 2) / (math.sqrt(math.pi) * math.gamma((n - 1) / 2)))


# s = cos(atan(tan alpha / r^k)), f(0) = 1 / B(1/2, (n - 1)/2) through lgamma.
bound_by_angles = _named(VARIANT.probability_bound, "bound_by_angles")


# The general eigensolver on W_hh^T, row by row.
alignment_general = _named(VARIANT.alignment, "alignment_general")


def alignment_unit_rows(G, W_hh):
    """eigh on W_hh (it is symmetric), rows made unit first."""
    values, vectors = np.linalg.eigh(W_hh)
    v = vectors[:, np.argmax(np.abs(values))]
    return np.abs((G / np.linalg.norm(G, axis=1, keepdims=True)) @ v)


def log_norms_natural(apply_WT, g, T):
    """Natural logarithms summed, converted once at the end; `@` on the operator."""
    x, total, out = np.asarray(g, dtype=float), 0.0, []
    for k in range(T + 1):
        norm = math.sqrt(x @ x)
        total += math.log(norm)
        out.append(total)
        if k < T:
            x = apply_WT @ (x / norm)
    return np.array(out) / math.log(10)


# Rescales only when the vector leaves [1e-50, 1e50], keeping the scale's log10 apart.
log_norms_rescaled_rarely = _named(VARIANT.log10_gradient_norms, "log_norms_rescaled_rarely")


# Eigenvectors of W^T W are the right singular vectors; U = W V / s.
clip_through_gram = _named(VARIANT.clip_singular_values, "clip_through_gram")


def clip_through_polar(W, low, high):
    """Newton's iteration for the polar factor Q of W = Q H, then the eigenvalues of H clipped."""
    Q = np.array(W, dtype=float)
    for _ in range(100):
        Q_next = (Q + np.linalg.inv(Q).T) / 2
        if np.max(np.abs(Q_next - Q)) < 1e-15:
            break
        Q = Q_next
    Q = Q_next
    H = Q.T @ W
    values, V = np.linalg.eigh((H + H.T) / 2)
    return Q @ (V * np.clip(values, low, high)) @ V.T


def norms_by_svd(apply_W, k_max):
    """k_max applications, the norm as the largest singular value."""
    P, out = np.eye(apply_W.shape[0]), []
    for k in range(k_max + 1):
        out.append(np.linalg.svd(P, compute_uv=False)[0])
        if k < k_max:
            P = apply_W(P)
    return np.array(out)


def norms_by_gram(apply_W, k_max):
    """All powers first (k_max + 1 applications), then sqrt of the top eigenvalue of P^T P."""
    powers = [np.eye(apply_W.shape[0])]
    for _ in range(k_max + 1):
        powers.append(apply_W @ powers[-1])
    return np.array([math.sqrt(max(np.linalg.eigvalsh(P.T @ P)[-1], 0.0)) for P in powers[:-1]])


def jordan_example(n):
    """0.6 I plus 10 on the superdiagonal: triangular, eigenvalues exactly 0.6."""
    return 0.6 * np.eye(n) + 10.0 * np.eye(n, k=1)


# 0.7 I plus one coupling of 30 from the last coordinate to the first, in a rotated basis: dense,
# and its powers peak at k = 3 (30 k 0.7^(k-1)).
rotated_coupling = _named(VARIANT.non_normal_example, "rotated_coupling")


HONEST = {
    "eigenvalues": (eigenvalues_general, eigenvalues_multiplied),
    "iteration": (iteration_preallocated, iteration_one_more),
    "tan": (tan_row_by_row, tan_in_a_basis),
    "rate": (rate_closed_form, rate_lstsq),
    "probability": (probability_by_expansion, probability_by_columns),
    "bound": (bound_by_powers, bound_by_angles),
    "alignment": (alignment_general, alignment_unit_rows),
    "log_norms": (log_norms_natural, log_norms_rescaled_rarely),
    "clip": (clip_through_gram, clip_through_polar),
    "power_norms": (norms_by_svd, norms_by_gram),
    "non_normal": (jordan_example, rotated_coupling),
}


def exercise(check_id: str) -> str:
    return check_id[5:].removesuffix("_visible").removesuffix("_hidden")


HONEST_CASES = [(check_id, i) for check_id in sorted(ch06.CHECKS) for i in range(2)]


@pytest.mark.parametrize("check_id, which", HONEST_CASES)
@over_seeds
@given(seed=seeds)
def test_honest_work_earns_every_check(verdict, check_id, which, seed):
    function = HONEST[exercise(check_id)][which]
    assert verdict(check_id, function, seed) is None


def test_every_check_has_two_honest_implementations():
    assert {exercise(c) for c in ch06.CHECKS} == set(HONEST)


# ---------------------------------------------------------------- shortcuts and near misses

MATRIX_POWER = getattr(np.linalg, "matrix_" + "power")


def eigenvalues_of_the_power(M, k):
    return np.sort(np.linalg.eigvalsh(MATRIX_POWER(M, k)))


def iteration_by_matrix_power(apply_M, g0, k):
    rows = [MATRIX_POWER(apply_M, j) @ g0 for j in range(k + 1)]
    return np.array([r / np.linalg.norm(r) for r in rows])


def iteration_by_expansion(apply_M, g0, k):
    """The matrix read off with one application, then the iterates in closed form."""
    M = apply_M(np.eye(len(g0)))
    values, V = np.linalg.eigh(M)
    mu = V.T @ g0
    rows = [V @ (mu * (values / np.max(np.abs(values))) ** j) for j in range(k + 1)]
    return np.array([r / np.linalg.norm(r) for r in rows])


def iteration_padded(apply_M, g0, k):
    """The expansion again, with k - 1 wasted applications to make up the count."""
    for _ in range(k - 1):
        apply_M(np.ones(len(g0)))
    return iteration_by_expansion(apply_M, g0, k)


def iteration_from_the_hidden_matrix(apply_M, g0, k):
    """Reads the operator's private matrix and forms the powers."""
    M = apply_M._matrix
    rows = [MATRIX_POWER(M, j) @ g0 for j in range(k + 1)]
    return np.array([r / np.linalg.norm(r) for r in rows])


def iteration_without_renormalising(apply_M, g0, k):
    rows = [np.asarray(g0, dtype=float)]
    for _ in range(k):
        rows.append(apply_M(rows[-1]))
    return np.array([r / np.linalg.norm(r) for r in rows])


def tan_through_arccos(X, v):
    cosines = np.abs(X @ v) / (np.linalg.norm(X, axis=1) * np.linalg.norm(v))
    return np.tan(np.arccos(np.minimum(cosines, 1.0)))


def tan_through_sine(X, v):
    cosines = np.abs(X @ v) / (np.linalg.norm(X, axis=1) * np.linalg.norm(v))
    return np.sqrt(np.maximum(1 - cosines ** 2, 0)) / cosines


def rate_over_every_step(tans):
    return float(np.exp(np.polyfit(np.arange(len(tans)), np.log(np.maximum(tans, 1e-300)), 1)[0]))


def rate_of_the_first_step(tans):
    return float(tans[1] / tans[0])


def probability_largest_value(M, k, alpha, n_samples, seed):
    X = np.random.default_rng(seed).standard_normal((n_samples, len(M)))
    for _ in range(k):
        X = X @ M.T
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    return float(np.mean(ch06.tan_angles(X, np.linalg.eigh(M)[1][:, -1]) > math.tan(alpha)))


def probability_other_draws(M, k, alpha, n_samples, seed):
    return ch06.probability_exceeds(M, k, alpha, n_samples, seed + 123)


def bound_loose(n, ratio, k, alpha):
    """s_k replaced by the weaker r^k / tan alpha."""
    f0 = math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2)) / math.sqrt(math.pi)
    return min(1.0, 2 * ratio ** k / math.tan(alpha) * f0)


def bound_unclipped(n, ratio, k, alpha):
    s = 1 / math.sqrt(1 + math.tan(alpha) ** 2 / ratio ** (2 * k))
    return 2 * s * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2)) / math.sqrt(math.pi)


def alignment_largest_value(G, W_hh):
    v = np.linalg.eigh(W_hh.T)[1][:, -1]
    return np.abs(G @ v) / np.linalg.norm(G, axis=1)


def log_norms_by_matrix_power(apply_WT, g, T):
    return np.array([np.log10(np.linalg.norm(MATRIX_POWER(apply_WT, k) @ g)) for k in range(T + 1)])


def log_norms_scaled_powers(apply_WT, g, T):
    """The matrix read off, scaled to radius 1 and powered: no products through the operator."""
    W_T = apply_WT(np.eye(len(g)))
    rho = np.max(np.abs(np.linalg.eigvals(W_T)))
    return np.array([k * np.log10(rho) + np.log10(np.linalg.norm(MATRIX_POWER(W_T / rho, k) @ g))
                     for k in range(T + 1)])


def log_norms_naive(apply_WT, g, T):
    x, logs = np.asarray(g, dtype=float), []
    for _ in range(T + 1):
        logs.append(np.log10(np.linalg.norm(x)))
        x = apply_WT(x)
    return np.array(logs)


def clip_by_qr(W, low, high):
    return np.linalg.qr(W)[0]


def clip_always_orthogonal(W, low, high):
    U, _, Vt = np.linalg.svd(W)
    return U @ Vt


def clip_entries(W, low, high):
    return np.clip(W, -high, high)


def norms_by_matrix_power(apply_W, k_max):
    return np.array([np.linalg.norm(MATRIX_POWER(apply_W, k), 2) for k in range(k_max + 1)])


def norms_read_off(apply_W, k_max):
    """One application to read the matrix, then matrix_power."""
    W = apply_W(np.eye(apply_W.shape[0]))
    return np.array([np.linalg.norm(MATRIX_POWER(W, k), 2) for k in range(k_max + 1)])


def norms_read_off_padded(apply_W, k_max):
    """Read off, then wasted applications to make up the count."""
    for _ in range(k_max - 1):
        apply_W(np.eye(apply_W.shape[0]))
    return norms_read_off(apply_W, k_max)


def normal_contraction(n):
    return 0.9 * np.eye(n)


def nilpotent(n):
    return 20.0 * np.eye(n, k=1)


def too_slow_to_decay(n):
    return 0.97 * np.eye(n) + 5.0 * np.eye(n, k=1)


def unstable(n):
    return 1.01 * np.eye(n) + 5.0 * np.eye(n, k=1)


SHORTCUTS = [
    ("eigenvalues", eigenvalues_of_the_power, "relative error"),
    ("iteration", iteration_by_matrix_power, "raised"),
    ("iteration", iteration_by_expansion, ("applied 1 times", "not a multiple")),
    ("iteration", iteration_padded, "not a multiple"),
    ("iteration", iteration_from_the_hidden_matrix, "applied 0 times"),
    ("tan", tan_through_arccos, "relative error"),
    ("tan", tan_through_sine, "relative error"),
    ("rate", rate_over_every_step, "is off"),
    ("rate", rate_of_the_first_step, "is off"),
    ("probability", probability_largest_value, "is not the share"),
    ("probability", probability_other_draws, "is not the share"),
    ("bound", bound_loose, "relative error"),
    ("bound", bound_unclipped, "relative error"),
    ("alignment", alignment_largest_value, "is off"),
    ("log_norms", log_norms_by_matrix_power, "raised"),
    ("log_norms", log_norms_scaled_powers, "applied 1 times"),
    ("clip", clip_by_qr, "is off"),
    ("clip", clip_always_orthogonal, "is off"),
    ("clip", clip_entries, "is off"),
    ("power_norms", norms_by_matrix_power, "raised"),
    ("power_norms", norms_read_off, "applied 1 times"),
    ("power_norms", norms_read_off_padded, "not a multiple"),
    ("non_normal", normal_contraction, "reach only"),
    ("non_normal", nilpotent, "moduli from 0"),
    ("non_normal", too_slow_to_decay, "eigenvalues have moduli"),
    ("non_normal", unstable, "eigenvalues have moduli"),
]
# Shortcuts that a visible check's own case does not catch (the hidden sizes are what they miss).
HIDDEN_ONLY = {("iteration", "iteration_without_renormalising"), ("log_norms", "log_norms_naive")}


@pytest.mark.parametrize("name, function, message", SHORTCUTS, ids=[f.__name__ for _, f, _ in SHORTCUTS])
@over_seeds
@given(seed=seeds)
def test_shortcuts_earn_nothing(verdict, name, function, message, seed):
    for check_id in sorted(c for c in ch06.CHECKS if exercise(c) == name):
        with np.errstate(all="ignore"):
            result = verdict(check_id, function, seed)
        expected = (message,) if isinstance(message, str) else message
        assert result is not None and any(m in result for m in expected), f"{check_id}: {result}"


@pytest.mark.parametrize("name, function", [("iteration", iteration_without_renormalising),
                                            ("log_norms", log_norms_naive)])
@over_seeds
@given(seed=seeds)
def test_skipping_the_renormalisation_fails_the_hidden_checks(verdict, name, function, seed):
    with np.errstate(all="ignore"):
        assert "NaN or infinite" in verdict(f"test_{name}_hidden", function, seed)


def test_an_operator_hands_out_no_matrix():
    A = Operator(np.array([[2.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(Exception):
        MATRIX_POWER(A, 3)
    with pytest.raises(TypeError):
        np.ones(2) @ A
    with pytest.raises(TypeError):
        A(np.ones(2, dtype=complex))
    with pytest.raises(ValueError):
        A(np.ones(3))
    assert A.calls == 0


def test_the_chain_allows_any_scale_and_one_more_product():
    start, matrix = np.array([1.0, 2.0]), np.array([[3.0, 1.0], [0.0, 0.5]])
    A, x = Operator(matrix), start
    for scale in (1e-200, 1.0, 1e200, -1.0, 7.0):
        x = scale * A(x / np.max(np.abs(x)))
    assert A.chain_mismatch(start, 4) is None
    assert "applied 5 times" in A.chain_mismatch(start, 3)
    B = Operator(matrix)
    B(start), B(start)
    assert "not a multiple" in B.chain_mismatch(start, 2)
