"""How the exercises of chapter 6 ("Eigenvalues of M^k") are graded (instructor only).

The student computes the eigenvalues of M^k without forming M^k, runs power
iteration, measures tan of the angle to the top eigenvector and its rate,
estimates P(theta_k > alpha) by Monte Carlo and evaluates the bound derived in
(c), measures how d L/d h_t of a linear RNN aligns with the top eigenvector,
computes log-norms of (W_hh^T)^k g stably, confines the singular values of W_hh
to an interval, and studies the powers of a non-normal matrix. Four written
answers (the proof for M^k, the formal statement, what it means for RNNs, the
remedies) are graded by hand.

Where an exercise asks for repeated products (power iteration, the log-norms,
the norms of powers), the matrix reaches the student's function as a
``bptt.probe.Operator``: it can only be applied, and the verdict requires as
many applications as the result has steps, each to the previous result. So
``np.linalg.matrix_power`` and eigendecompositions have nothing to work on.

Every check draws its cases from the grader's seed: a visible check is graded
on the case the notebook shows and on fresh cases of the same shapes, a hidden
one on cases drawn whole from the seed. Spectra, angles and sizes are drawn
in ranges where honest work is exact to far below the tolerances (see the
comments at each check).
"""

from __future__ import annotations

import math

import numpy as np

from autograder.reference.judging import Case, Check
from bptt.checks import mismatch
from bptt.probe import Operator, chain_mismatch
from bptt.rnn import linear_rnn_backward, linear_rnn_forward
from bptt.spectral import random_orthogonal, symmetric_with_eigenvalues, with_spectral_radius

ASSIGNMENT = "ch06-eigenvalues-of-powers"
TOL = 1e-10
ENTRYWISE = 1e-8  # relative error allowed entry by entry, where values span many decades
TAN_TOL = 1e-5  # entrywise, for angles down to 1e-9: rounding moves such a tangent by about 1e-7
NON_NORMAL_STEPS = 200  # the norms of the example's powers are followed up to this power
PEAK = 10.0  # what they must reach
EIGENVALUE_MODULI = (0.5, 0.95)  # where the example's eigenvalues must lie


# ---------------------------------------------------------------- reference answers


def power_eigenvalues(M, k: int) -> np.ndarray:
    """Eigenvalues of M^k for symmetric M (n, n), in ascending order, without forming M^k."""
    return np.sort(np.linalg.eigvalsh(M) ** k)


def power_iteration(M, g0, k: int) -> np.ndarray:
    """(k + 1, n) unit iterates g_j = M g_{j-1} / ||M g_{j-1}||, g_0 = g0 / ||g0||."""
    X = [g0 / np.linalg.norm(g0)]
    for _ in range(k):
        y = M @ X[-1]
        X.append(y / np.linalg.norm(y))
    return np.array(X)


def tan_angles(X, v) -> np.ndarray:
    """(m,) tan of the angle between each row of X (m, n) and the line of v (n,)."""
    v = v / np.linalg.norm(v)
    along = X @ v
    return np.linalg.norm(X - np.outer(along, v), axis=1) / np.abs(along)


def measured_rate(tans) -> float:
    """exp of the least-squares slope of log tan_j against j, over the j with tan_j > 1e-12."""
    j = np.flatnonzero(tans > 1e-12)
    return float(np.exp(np.polyfit(j, np.log(tans[j]), 1)[0]))


def top_eigenvector(M) -> np.ndarray:
    """The unit eigenvector of the eigenvalue of largest modulus of symmetric M."""
    values, vectors = np.linalg.eigh(M)
    return vectors[:, np.argmax(np.abs(values))]


def probability_exceeds(M, k: int, alpha: float, n_samples: int, seed: int) -> float:
    """Monte Carlo P(theta_k > alpha) for g0 ~ N(0, I): rows of rng.standard_normal((n_samples, n))."""
    X = np.random.default_rng(seed).standard_normal((n_samples, len(M)))
    for _ in range(k):
        X = X @ M.T
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    return float(np.mean(tan_angles(X, top_eigenvector(M)) > math.tan(alpha)))


def probability_bound(n: int, ratio: float, k: int, alpha: float) -> float:
    """min(1, 2 s f(0)): P(|c| < s) with s^2 = 1 / (1 + tan^2 alpha / ratio^(2k)), n >= 3."""
    s = 1.0 / math.sqrt(1.0 + math.tan(alpha) ** 2 / ratio ** (2 * k))
    density = math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2)) / math.sqrt(math.pi)
    return min(1.0, 2.0 * s * density)


def alignment(G, W_hh) -> np.ndarray:
    """(T,) |cos| between each row of G (T, h) and the top eigenvector of W_hh^T (symmetric)."""
    v = top_eigenvector(W_hh.T)
    return np.abs(G @ v) / np.linalg.norm(G, axis=1)


def log10_gradient_norms(W_T, g, T: int) -> np.ndarray:
    """(T + 1,) log10 ||W_T^k g|| for k = 0..T (W_T holds W_hh^T), renormalising at every step."""
    logs, x, total = [], np.asarray(g, dtype=np.float64), 0.0
    for _ in range(T + 1):
        norm = np.linalg.norm(x)
        total += math.log10(norm)
        logs.append(total)
        x = W_T @ (x / norm)
    return np.array(logs)


def clip_singular_values(W, low: float, high: float) -> np.ndarray:
    """The matrix nearest to W in the Frobenius norm whose singular values lie in [low, high]."""
    U, s, Vt = np.linalg.svd(W)
    return (U * np.clip(s, low, high)) @ Vt


def power_norms(W, K: int) -> np.ndarray:
    """(K + 1,) spectral norms ||W^k||_2 for k = 0..K."""
    norms, P = [], np.eye(len(W))
    for _ in range(K + 1):
        norms.append(np.linalg.norm(P, 2))
        P = W @ P
    return np.array(norms)


# ---------------------------------------------------------------- what the notebook shows


def visible_M() -> tuple[np.ndarray, np.ndarray]:
    """The notebook's M (4, 4) and its eigenvectors V, as its setup cell builds them.

    lambda_1 = -2 < 0 < lambda_2, so the eigenvector of the largest eigenvalue is not v_1."""
    return symmetric_with_eigenvalues(np.array([-2.0, 1.2, 0.7, 0.3]), np.random.default_rng(0))


def visible_g0() -> np.ndarray:
    """The notebook's starting vector for power iteration (4,)."""
    return np.random.default_rng(1).standard_normal(4)


VISIBLE_ANGLES = np.array([1e-9, 0.3, 1.2])
PROBABILITY_KS = (0, 2, 4, 8, 16)
VISIBLE_BOUNDS = ((4, 0.6, 0, 0.1), (3, 1e-3, 1, math.pi / 4), (4, 0.6, 8, 0.1), (10, 0.9, 20, 0.05))
CLIP_BOUNDS = ((1.0, 1.0), (0.5, 1.2))


def visible_tans() -> np.ndarray:
    """(81,) tan theta_j of 80 steps of power iteration on the notebook's M, from seed 2: from
    j = 60 or so they sit at the rounding floor, below the 1e-12 that the fit leaves out."""
    M, V = visible_M()
    return tan_angles(power_iteration(M, np.random.default_rng(2).standard_normal(4), 80), V[:, 0])


def visible_rnn() -> tuple[np.ndarray, np.ndarray]:
    """The notebook's G (60, 5), rows dL/dh_t for the loss of the last step only, and its W_hh."""
    T, h = 60, 5
    W_hh, _ = symmetric_with_eigenvalues(np.array([-1.05, 0.9, 0.6, 0.3, 0.1]), np.random.default_rng(5))
    data = np.random.default_rng(6)
    params = {"W_hx": data.standard_normal((h, 2)), "W_hh": W_hh, "W_qh": data.standard_normal((1, h))}
    X, Y = data.standard_normal((T, 1, 2)), data.standard_normal((T, 1, 1))
    O, cache = linear_rnn_forward(X, np.zeros((1, h)), params)
    dO = np.zeros_like(O)
    dO[-1] = O[-1] - Y[-1]  # L = l(o_T, y_T) = 1/2 ||o_T - y_T||^2: no factor 1/T
    return linear_rnn_backward(dO, cache)["H"][:, 0], W_hh


def visible_log_norm_case() -> tuple[np.ndarray, np.ndarray, int]:
    """The notebook's W_hh (6, 6) of spectral radius 1.3, g (6,) and T = 50."""
    W = with_spectral_radius(np.random.default_rng(9).standard_normal((6, 6)), 1.3)
    return W, np.random.default_rng(10).standard_normal(6), 50


def visible_log_norms() -> np.ndarray:
    W, g, T = visible_log_norm_case()
    return log10_gradient_norms(W.T, g, T)


def visible_w_clip() -> np.ndarray:
    """The notebook's W (3, 3) for the nearest matrices."""
    return np.random.default_rng(11).standard_normal((3, 3))


VISIBLE_W_NORMS = np.array([[0.9, 2.0], [0.0, 0.8]])

VISIBLE_DATA = {
    "eigenvalues_5": lambda: power_eigenvalues(visible_M()[0], 5),
    "eigenvalues_40": lambda: power_eigenvalues(visible_M()[0], 40),
    "iterates": lambda: power_iteration(visible_M()[0], visible_g0(), 10),
    "rate_tans": visible_tans,
    "rate": lambda: np.array(measured_rate(visible_tans())),
    "probability": lambda: np.array([probability_exceeds(visible_M()[0], k, 0.1, 4000, 1)
                                     for k in PROBABILITY_KS]),
    "bound": lambda: np.array([probability_bound(*args) for args in VISIBLE_BOUNDS]),
    "alignment": lambda: alignment(*visible_rnn()),
    "log_norms": visible_log_norms,
    "clip_orthogonal": lambda: clip_singular_values(visible_w_clip(), *CLIP_BOUNDS[0]),
    "clip_interval": lambda: clip_singular_values(visible_w_clip(), *CLIP_BOUNDS[1]),
    "power_norms": lambda: power_norms(VISIBLE_W_NORMS, 20),
}


# ---------------------------------------------------------------- drawing cases from the seed


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def _spectrum(rng, n: int, top: float, smallest: float, ratio: float = 0.8,
              sign: float | None = None) -> np.ndarray:
    """n eigenvalues with random signs: lambda_1 of modulus ``top`` (and sign ``sign`` if given),
    the others log-uniform in [smallest, ratio * top] (so |lambda_2 / lambda_1| <= ratio), the
    smallest at ``smallest``."""
    signs = rng.choice([-1.0, 1.0], n)
    if sign is not None:
        signs[0] = sign
    if n == 1:
        return np.array([top * signs[0]])
    rest = np.exp(rng.uniform(math.log(smallest), math.log(ratio * top), n - 1))
    rest[0] = smallest
    return np.concatenate([[top], rest]) * signs


def _symmetric(rng, eigenvalues) -> np.ndarray:
    return symmetric_with_eigenvalues(np.asarray(eigenvalues, dtype=np.float64), rng)[0]


# ---------------------------------------------------------------- verdicts


def _readable(name: str, actual, shape: tuple) -> tuple[np.ndarray | None, str | None]:
    """``actual`` as a float array and None, or None and why it is not a finite array of ``shape``."""
    try:
        array = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.shape != shape:
        return None, f"{name}: expected shape {shape}, got {getattr(array, 'shape', type(actual).__name__)}"
    if not np.all(np.isfinite(array)):
        return None, f"{name}: contains NaN or infinite values (overflow or underflow?)"
    return array, None


def _entrywise(name: str, actual, expected: np.ndarray, tol: float = ENTRYWISE) -> str | None:
    """Like ``mismatch``, but relative to each entry, so tiny entries must be right too."""
    actual, message = _readable(name, actual, expected.shape)
    if message:
        return message
    relative = np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300)
    worst = int(np.argmax(relative))
    if not relative.flat[worst] <= tol:
        index = tuple(int(i) for i in np.unravel_index(worst, expected.shape))
        return (f"{name} is off: entry {index} is "
                f"{actual.flat[worst]:.6g}, expected {expected.flat[worst]:.6g} (relative error "
                f"{relative.flat[worst]:.2e}, above {tol:.0e})")
    return None


def _applied(result, count: int, start, matrix, name: str, values) -> str | None:
    """Verdict on an Operator check: the applications, then ``values(result)``, then the chain."""
    if not isinstance(result, dict) or not {"result", "calls", "inputs"} <= set(result):
        return "the check's record is incomplete"
    calls = result["calls"]
    calls = int(calls) if isinstance(calls, np.ndarray) and calls.shape == () else -1
    inputs = result["inputs"] if isinstance(result["inputs"], list) else []
    if not count <= calls <= count + 1:
        return chain_mismatch(matrix, start, inputs, calls, count, name)
    return values(result["result"]) or chain_mismatch(matrix, start, inputs, calls, count, name)


def _eigenvalue_verdict(case: Case, result) -> str | None:
    M, k = case.value
    return _entrywise(f"eigenvalues of M^{k}", result, power_eigenvalues(M, k))


def _iteration_verdict(case: Case, result) -> str | None:
    operator, g0, k = case.value
    M = operator._matrix
    return _applied(result, k, g0, M, "apply_M", lambda X: mismatch(
        "the iterates", X, power_iteration(M, g0, k), TOL))


def _tan_verdict(case: Case, result) -> str | None:
    return _entrywise("tan theta", result, tan_angles(*case.value), TAN_TOL)


def _rate_verdict(case: Case, result) -> str | None:
    return mismatch("the measured rate", result, measured_rate(*case.value), ENTRYWISE)


def _probability_verdict(case: Case, result) -> str | None:
    """The share on the draws the exercise prescribes; one sample may fall either way of alpha."""
    result, message = _readable("the estimate", result, ())
    if message:
        return message
    share, samples = case.secret, case.value[3]
    if not abs(float(result) - share) <= 1.5 / samples:
        return (f"the estimate {float(result):.6f} is not the share {share:.6f} of the {samples} "
                "starting vectors drawn as the exercise says whose angle exceeds alpha")
    return None


def _bound_verdict(case: Case, result) -> str | None:
    expected = np.array(probability_bound(*case.value))
    return _entrywise("the bound", result, expected)


def _alignment_verdict(case: Case, result) -> str | None:
    return mismatch("|cos| with the top eigenvector", result, alignment(*case.value), 1e-9)


def _log_norm_verdict(case: Case, result) -> str | None:
    operator, g, T = case.value
    W_T = operator._matrix
    expected = log10_gradient_norms(W_T, g, T)

    def values(logs) -> str | None:
        logs, message = _readable("log10 norms", logs, expected.shape)
        if message:
            return message
        worst = int(np.argmax(np.abs(logs - expected)))
        if not abs(logs[worst] - expected[worst]) <= 1e-8:
            return (f"log10 norms are off: at k = {worst} got {logs[worst]:.10g}, "
                    f"expected {expected[worst]:.10g}")
        return None

    return _applied(result, T, g, W_T, "apply_WT", values)


def _clip_verdict(case: Case, result) -> str | None:
    return mismatch("the nearest matrix with singular values in [low, high]", result,
                    clip_singular_values(*case.value), TOL)


def _power_norm_verdict(case: Case, result) -> str | None:
    operator, K = case.value
    W = operator._matrix
    return _applied(result, K, np.eye(len(W)), W, "apply_W", lambda norms: _entrywise(
        "||W_hh^k||", norms, power_norms(W, K)))


def _non_normal_verdict(case: Case, result) -> str | None:
    """The example's eigenvalues lie in EIGENVALUE_MODULI, its norms rise at every step to a
    peak of at least PEAK and are below 1 again at power NON_NORMAL_STEPS."""
    n = case.value[0]
    result, message = _readable("the matrix", result, (n, n))
    if message:
        return message
    moduli = np.abs(np.linalg.eigvals(result))
    low, high = EIGENVALUE_MODULI
    if not (low <= moduli.min() and moduli.max() <= high):
        return (f"its eigenvalues have moduli from {moduli.min():.3g} to {moduli.max():.3g}, "
                f"not all between {low} and {high}")
    with np.errstate(over="ignore", invalid="ignore"):  # as the notebook's visible check computes them
        powers = [np.linalg.matrix_power(result, k) for k in range(NON_NORMAL_STEPS + 1)]
    norms = np.array([np.linalg.norm(P, 2) if np.all(np.isfinite(P)) else np.inf for P in powers])
    if not np.all(np.isfinite(norms)):
        return f"the norms of its powers overflow before the power {NON_NORMAL_STEPS}"
    peak = int(np.argmax(norms))
    if not norms[peak] >= PEAK:
        return f"the norms of its powers reach only {norms[peak]:.3g}, not {PEAK:g}"
    falls = np.flatnonzero(np.diff(norms[:peak + 1]) <= 0)
    if falls.size:
        return (f"the norm does not rise at every step up to its peak at k = {peak}: "
                f"||W^{falls[0] + 1}|| = {norms[falls[0] + 1]:.4g} is not above ||W^{falls[0]}|| = "
                f"{norms[falls[0]]:.4g}")
    if not norms[-1] < 1:
        return f"||W^{NON_NORMAL_STEPS}|| = {norms[-1]:.3g} has not fallen below 1"
    return None


# ---------------------------------------------------------------- the cases of each check


def _eigenvalue_cases(seed: int, visible: bool) -> list[Case]:
    """Spectra whose extreme moduli differ so much at k = 40 that forming M^k loses the small ones.

    eigvalsh is accurate to a few eps * ||M|| <= 1e-15, so a small eigenvalue (>= 0.05) has
    relative error below 1e-13 and its 40th power below 1e-11: far inside 1e-8.
    """
    def fresh(stream: int, n: int) -> np.ndarray:
        rng = _rng(seed, stream)
        return _symmetric(rng, _spectrum(rng, n, rng.uniform(1.5, 3.0), rng.uniform(0.05, 0.3)))

    if visible:
        M, M_fresh = visible_M()[0], fresh(1, 4)
        return [Case(f"the notebook's M, k={k}", (M, k)) for k in (5, 40)] + \
               [Case(f"another 4 x 4 M, k={k}", (M_fresh, k)) for k in (5, 40)]
    rng = _rng(seed, 2)
    a, b = rng.uniform(0.5, 2.0), rng.uniform(0.05, 0.4)
    return [Case("4 x 4, k=40", (fresh(3, 4), 40)),
            Case("eigenvalues a, -a, b (a tie in modulus), k=24", (_symmetric(rng, [a, -a, b]), 24)),
            Case("1 x 1, k=7", (fresh(4, 1), 7)),
            Case("6 x 6, k=0", (fresh(5, 6), 0)),
            Case("5 x 5, k=13", (fresh(6, 5), 13))]


def _iteration_cases(seed: int, visible: bool) -> list[Case]:
    """|lambda_2 / lambda_1| <= 0.8, so rounding errors in the direction die out as fast as they
    arise and honest iterates agree to about 1e-15. Top eigenvalues of 50 over 300 steps and of
    0.01 over 400 steps overflow or underflow float64 unless every step renormalises."""
    def case(stream: int, n: int, top: float, k: int, label: str) -> Case:
        rng = _rng(seed, stream)
        M = _symmetric(rng, _spectrum(rng, n, top, top * rng.uniform(0.01, 0.2)))
        return Case(f"{label}, k={k}", (Operator(M), rng.standard_normal(n), k))

    if visible:
        return [Case("the notebook's M, k=10", (Operator(visible_M()[0]), visible_g0(), 10)),
                case(10, 4, 2.0, 10, "another 4 x 4 M")]
    return [case(11, 4, 50.0, 300, "4 x 4, |lambda_1| = 50"),
            case(12, 3, 0.01, 400, "3 x 3, |lambda_1| = 0.01"),
            case(13, 1, 1.5, 3, "1 x 1"),
            case(14, 5, 3.0, 0, "5 x 5"),
            case(15, 6, 1.0, 40, "6 x 6, |lambda_1| = 1")]


def _rows_at_angles(rng, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (m, n) at angles in [1e-9, 1.4] from the line of v (n,), the first below 1e-8.

    Rows and v have random lengths and signs. In float64 such a row is at its angle up to about
    1e-16 absolute, so honest tangents agree to about 1e-7 relative at 1e-9, inside TAN_TOL;
    the cosine of an angle below 1e-8 rounds to 1, so a tangent taken through it is 0.
    """
    basis = random_orthogonal(n, rng)
    v_hat = basis[:, 0]
    angles = np.exp(rng.uniform(math.log(1e-9), math.log(1.4), m))
    angles[0] = rng.uniform(1e-9, 1e-8)
    rows = []
    for angle in angles:
        w = basis[:, 1:] @ rng.standard_normal(n - 1)
        w /= np.linalg.norm(w)
        rows.append(rng.uniform(0.1, 10) * rng.choice([-1.0, 1.0]) * (math.cos(angle) * v_hat
                                                                       + math.sin(angle) * w))
    return np.array(rows), v_hat * rng.uniform(0.5, 5.0) * rng.choice([-1.0, 1.0])


def _tan_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        rows = np.stack([np.cos(VISIBLE_ANGLES), np.sin(VISIBLE_ANGLES), np.zeros(3)], axis=1)
        return [Case("angles 1e-9, 0.3, 1.2", (rows, np.array([2.0, 0.0, 0.0]))),
                Case("3 other rows in R^3", _rows_at_angles(_rng(seed, 20), 3, 3))]
    return [Case(f"{m} rows in R^{n}", _rows_at_angles(_rng(seed, 21 + i), m, n))
            for i, (m, n) in enumerate(((6, 4), (1, 2), (10, 8)))]


def _rate_cases(seed: int) -> list[Case]:
    """tan theta_j of power iteration, long enough to reach the rounding floor (below 1e-12)."""
    cases = [Case("the notebook's tangents", (visible_tans(),))]
    for i, n in enumerate((4, 3, 5)):
        rng = _rng(seed, 30 + i)
        ratio = rng.uniform(0.3, 0.9)
        values = np.concatenate([[1.0, ratio], rng.uniform(0.01, 0.9 * ratio, n - 2)])
        M, V = symmetric_with_eigenvalues(values * rng.choice([-1.0, 1.0], n), rng)
        k = int(math.ceil(-40 / math.log(ratio))) + 5  # ratio^k < 1e-17
        X = power_iteration(M, rng.standard_normal(n), k)
        cases.append(Case(f"n={n}, |lambda_2/lambda_1| = {ratio:.2f}, {k} steps", (tan_angles(X, V[:, 0]),)))
    return cases


def _probability_cases(seed: int, visible: bool) -> list[Case]:
    """The notebook's M, the fresh visible M and one hidden M have lambda_1 < 0 < lambda_2, so
    the eigenvector of the largest eigenvalue is not v_1 there. The secret is the share on the
    very draws the exercise prescribes."""
    def case(M, k: int, alpha: float, samples: int, draw_seed: int, label: str) -> Case:
        return Case(f"{label}, k={k}, alpha={alpha:.3g}, {samples} samples", (M, k, alpha, samples, draw_seed),
                    secret=probability_exceeds(M, k, alpha, samples, draw_seed))

    rng = _rng(seed, 40)

    def draw() -> int:
        return int(rng.integers(2**31))

    if visible:
        M = visible_M()[0]
        fresh = _symmetric(rng, [-2.0, rng.uniform(1.2, 1.8), rng.uniform(0.2, 1.0), rng.uniform(0.05, 0.2)])
        return [case(M, k, 0.1, 4000, 1, "the notebook's M") for k in PROBABILITY_KS] + \
               [case(fresh, k, rng.uniform(0.05, 0.3), 4000, draw(), "another 4 x 4 M") for k in (3, 8)]
    first = _symmetric(rng, np.concatenate([[1.0], rng.uniform(0.6, 0.95, 2), rng.uniform(-0.3, 0.3, 2)]))
    negative = _symmetric(rng, [-3.0, 3.0 * rng.uniform(0.8, 0.95), rng.uniform(0.1, 1.0)])
    # Many draws, so that a share over other draws misses the exact one by more than 1.5 samples:
    # per case it falls that close with probability about 0.01, and the cases are independent.
    return [case(first, 10, rng.uniform(0.1, 0.3), 20_000, draw(), "5 x 5"),
            case(negative, 8, rng.uniform(0.05, 0.2), 20_000, draw(), "3 x 3, lambda_1 < 0"),
            case(_symmetric(rng, _spectrum(rng, 6, 1.0, 0.05)), 0, 1.0, 10_000, draw(), "6 x 6")]


def _bound_args(rng) -> tuple[int, float, int, float]:
    """(n, ratio, k, alpha) with tan(alpha) / ratio^k <= 1e6, where every honest form of s_k
    (through atan and cos too) is exact to 1e-10, and n <= 60, where math.gamma does not overflow."""
    while True:
        n, ratio = int(rng.integers(3, 61)), float(rng.uniform(0.3, 0.99))
        k, alpha = int(rng.integers(0, 25)), float(rng.uniform(0.02, 1.2))
        if math.tan(alpha) / ratio ** k <= 1e6:
            return n, ratio, k, alpha


def _bound_cases(seed: int, visible: bool) -> list[Case]:
    rng = _rng(seed, 50)
    specs = list(VISIBLE_BOUNDS) + [_bound_args(rng)] if visible else \
        [(3, 0.5, 1, 0.1), (int(rng.integers(4, 10)), 0.8, 0, float(rng.uniform(0.02, 0.2)))] + \
        [_bound_args(rng) for _ in range(3)]
    return [Case(f"n={n}, ratio={r:.4g}, k={k}, alpha={a:.4g}", (n, r, k, a)) for n, r, k, a in specs]


def _recursion_gradients(rng, T: int, W_hh: np.ndarray) -> np.ndarray:
    """(T, h) rows like dL/dh_t: each is W_hh^T times the next plus a fresh output term."""
    G = rng.standard_normal((T, len(W_hh)))
    for t in range(T - 2, -1, -1):
        G[t] = W_hh.T @ G[t + 1] + 0.1 * G[t]
    return G


def _alignment_cases(seed: int, visible: bool) -> list[Case]:
    """|lambda_2 / lambda_1| <= 0.85, so v_1 is exact to about 1e-15 whichever solver finds it.
    One hidden case has lambda_1 < 0, where the eigenvector of the largest eigenvalue is not v_1."""
    def case(stream: int, T: int, h: int, sign: float | None = None) -> Case:
        rng = _rng(seed, stream)
        W = _symmetric(rng, _spectrum(rng, h, rng.uniform(0.9, 1.2), 0.05, 0.85, sign))
        label = f"T={T}, h={h}" + (", lambda_1 < 0" if sign is not None else "")
        return Case(label, (_recursion_gradients(rng, T, W), W))

    if visible:
        G, W = visible_rnn()
        return [Case("the notebook's G", (G, W)), case(60, 60, 5, sign=-1.0)]
    return [case(61, 30, 4), case(62, 20, 3, sign=-1.0), case(63, 1, 2)]


def _log_norm_cases(seed: int, visible: bool) -> list[Case]:
    """Radius 5 and 0.2 over T = 1000 leave float64 (10^700, 10^-700) unless every step
    renormalises; honest sums of 1000 logarithms agree to about 1e-12."""
    def case(stream: int, h: int, radius: float, T: int) -> Case:
        rng = _rng(seed, stream)
        W = with_spectral_radius(rng.standard_normal((h, h)), radius)
        return Case(f"h={h}, spectral radius {radius}, T={T}", (Operator(W.T), rng.standard_normal(h), T))

    if visible:
        W, g, T = visible_log_norm_case()
        return [Case("the notebook's W_hh, T=50", (Operator(W.T), g, T)), case(70, 6, 1.3, 50)]
    return [case(71, 4, 5.0, 1000), case(72, 5, 0.2, 1000), case(73, 3, 1.0, 10), case(74, 1, 2.0, 0)]


def _with_singular_values(rng, n: int) -> np.ndarray:
    """(n, n) with singular values log-uniform in [0.1, 4]: the result is exact to about 1e-14."""
    s = np.exp(rng.uniform(math.log(0.1), math.log(4.0), n))
    return (random_orthogonal(n, rng) * s) @ random_orthogonal(n, rng).T


def _clip_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        W, W_fresh = visible_w_clip(), _with_singular_values(_rng(seed, 80), 3)
        return [Case(f"{label}, [{lo}, {hi}]", (A, lo, hi)) for label, A in
                (("the notebook's W", W), ("another 3 x 3 W", W_fresh)) for lo, hi in CLIP_BOUNDS]
    specs = ((1, 1.0, 1.0), (2, 0.0, 1.0), (5, 0.5, 2.0), (8, 0.8, 1.25), (5, 1.0, 1.0))
    return [Case(f"{n} x {n}, [{lo}, {hi}]", (_with_singular_values(_rng(seed, 81 + i), n), lo, hi))
            for i, (n, lo, hi) in enumerate(specs)]


def _power_norm_cases(seed: int, visible: bool) -> list[Case]:
    """Non-normal, normal, 1 x 1 and nilpotent matrices (whose powers are exactly 0)."""
    rng = _rng(seed, 90)
    if visible:
        fresh = np.array([[rng.uniform(0.5, 0.95), rng.uniform(1.0, 4.0)], [0.0, rng.uniform(0.5, 0.95)]])
        return [Case("the notebook's W_hh, k_max=20", (Operator(VISIBLE_W_NORMS), 20)),
                Case("another 2 x 2 W_hh, k_max=20", (Operator(fresh), 20))]
    jordan = rng.uniform(0.3, 0.7) * np.eye(3) + rng.uniform(2.0, 6.0) * np.eye(3, k=1)
    dense = with_spectral_radius(rng.standard_normal((5, 5)), 0.9)
    nilpotent = rng.uniform(1.0, 5.0) * np.eye(3, k=1)
    return [Case("3 x 3 Jordan block, k_max=60", (Operator(jordan), 60)),
            Case("5 x 5 random, k_max=30", (Operator(dense), 30)),
            Case("1 x 1, k_max=5", (Operator([[rng.uniform(-2, 2)]]), 5)),
            Case("3 x 3 nilpotent, k_max=5", (Operator(nilpotent), 5))]


def _non_normal_cases(seed: int) -> list[Case]:
    rng = _rng(seed, 100)
    return [Case(f"n={n}", (n,)) for n in (2, 3, 5, 8, *rng.integers(2, 13, 2).tolist())]


# ---------------------------------------------------------------- the checks

CHECKS = {}
for _name, _kind, _cases, _verdict in (
        ("eigenvalues", "call", _eigenvalue_cases, _eigenvalue_verdict),
        ("iteration", "operator", _iteration_cases, _iteration_verdict),
        ("tan", "call", _tan_cases, _tan_verdict),
        ("probability", "call", _probability_cases, _probability_verdict),
        ("bound", "call", _bound_cases, _bound_verdict),
        ("alignment", "call", _alignment_cases, _alignment_verdict),
        ("log_norms", "operator", _log_norm_cases, _log_norm_verdict),
        ("clip", "call", _clip_cases, _clip_verdict),
        ("power_norms", "operator", _power_norm_cases, _power_norm_verdict)):
    CHECKS[f"test_{_name}_visible"] = Check(_kind, lambda seed, c=_cases: c(seed, True), _verdict)
    CHECKS[f"test_{_name}_hidden"] = Check(_kind, lambda seed, c=_cases: c(seed, False), _verdict)
CHECKS["test_rate"] = Check("call", _rate_cases, _rate_verdict)
CHECKS["test_non_normal"] = Check("call", _non_normal_cases, _non_normal_verdict)
