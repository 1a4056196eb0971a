"""How the exercises of chapter 6 ("Eigenvalues of M^k") are graded (instructor only).

The student computes the eigenvalues of M^k without forming M^k, runs power
iteration, measures tan of the angle to the top eigenvector and its rate,
estimates P(theta_k > alpha) by Monte Carlo and evaluates its bound, measures
how d L/d h_t of a linear RNN aligns with the top eigenvector, computes
log-norms of (W_hh^T)^k g stably, projects W_hh on the orthogonal matrices,
and studies the powers of a non-normal matrix. Three written answers (the
proof for M^k, the formal statement, what it means for RNNs) are graded by hand.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.reference.judging import Case, Check, against
from bptt.spectral import spectral_radius, symmetric_with_eigenvalues

TOL = 1e-10
ENTRYWISE = 1e-8  # relative error allowed entry by entry, where values span many decades
MIN_GROWTH = 10.0  # what a transient-growth example must reach within MAX_POWER steps
MAX_POWER = 100


def power_eigenvalues(M, k: int) -> np.ndarray:
    """Eigenvalues of M^k for symmetric M (n, n), in ascending order, without forming M^k."""
    return np.sort(np.linalg.eigvalsh(M) ** k)


def power_iteration(M, x0, k: int) -> np.ndarray:
    """(k + 1, n) unit iterates x_j = M x_{j-1} / ||M x_{j-1}||, x_0 = x0 / ||x0||."""
    X = [x0 / np.linalg.norm(x0)]
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
    """Monte Carlo P(theta_k > alpha) for x0 ~ N(0, I): rows of rng.standard_normal((n_samples, n))."""
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


def log10_gradient_norms(W_hh, g, T: int) -> np.ndarray:
    """(T + 1,) log10 ||(W_hh^T)^k g|| for k = 0..T, renormalising at every step."""
    logs, x, total = [], np.asarray(g, dtype=np.float64), 0.0
    for _ in range(T + 1):
        norm = np.linalg.norm(x)
        total += math.log10(norm)
        logs.append(total)
        x = W_hh.T @ (x / norm)
    return np.array(logs)


def nearest_orthogonal(W) -> np.ndarray:
    """The orthogonal matrix nearest to W in the Frobenius norm: U V^T from W = U S V^T."""
    U, _, Vt = np.linalg.svd(W)
    return U @ Vt


def power_norms(W, K: int) -> np.ndarray:
    """(K + 1,) spectral norms ||W^k||_2 for k = 0..K."""
    norms, P = [], np.eye(len(W))
    for _ in range(K + 1):
        norms.append(np.linalg.norm(P, 2))
        P = W @ P
    return np.array(norms)


def _unreadable(name: str, actual, shape: tuple) -> str | None:
    """Why ``actual`` is not a finite array of ``shape``, or None."""
    if not isinstance(actual, np.ndarray) or actual.shape != shape:
        return f"{name}: expected shape {shape}, got {getattr(actual, 'shape', type(actual).__name__)}"
    if not np.all(np.isfinite(actual)):
        return f"{name}: contains NaN or infinite values (overflow or underflow?)"
    return None


def _entrywise(name: str, actual, expected: np.ndarray, tol: float = ENTRYWISE) -> str | None:
    """Like ``compare``, but relative to each entry, so tiny entries must be right too."""
    message = _unreadable(name, actual, expected.shape)
    if message:
        return message
    worst = np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300))
    if not worst <= tol:
        return f"{name} is off: an entry has relative error {worst:.2e}, above {tol:.0e}"
    return None


def _symmetric(seed: int, eigenvalues) -> np.ndarray:
    return symmetric_with_eigenvalues(np.asarray(eigenvalues, dtype=np.float64),
                                      np.random.default_rng(seed))[0]


def _eigenvalue_cases(visible: bool) -> list[Case]:
    specs = ([(120, [2.0, -1.2, 0.7, 0.3], 5), (120, [2.0, -1.2, 0.7, 0.3], 40)] if visible else
             [(121, [3.0, -2.0, 0.5, 0.1], 40), (122, [1.5, -1.5, 0.2], 25), (123, [0.8], 7),
              (124, [1.1, 0.9, -0.4, 0.05, 0.6, -0.2], 0)])
    return [Case(f"eigenvalues {vals}, k={k}", (_symmetric(seed, vals), k)) for seed, vals, k in specs]


def _iteration_cases(visible: bool) -> list[Case]:
    specs = ([(130, [200.0, -120.0, 0.5], 200)] if visible else
             [(131, [50.0, 20.0, -5.0, 1.0], 300), (132, [-3.0, 2.5, 0.1], 30), (133, [0.01, 0.001], 400),
              (134, [1.0], 3)])
    return [Case(f"eigenvalues {vals}, k={k}",
                 (_symmetric(seed, vals), np.random.default_rng(seed + 1).standard_normal(len(vals)), k))
            for seed, vals, k in specs]


def _tan_cases(visible: bool) -> list[Case]:
    cases = []
    for seed, vals, k in ([(140, [2.0, 1.0, 0.5], 8)] if visible else
                          [(141, [3.0, 1.0, -0.5, 0.2], 40), (142, [1.0, 0.99], 5)]):
        M = _symmetric(seed, vals)
        X = power_iteration(M, np.random.default_rng(seed).standard_normal(len(vals)), k)
        cases.append(Case(f"eigenvalues {vals}, k={k}", (X, top_eigenvector(M) * (k + 2))))
    return cases


def _rate_cases() -> list[Case]:
    cases = []
    for seed, vals, k in ((150, [2.0, 1.0, 0.5], 30), (151, [-4.0, 3.0, 1.0, 0.1], 60)):
        M = _symmetric(seed, vals)
        X = power_iteration(M, np.random.default_rng(seed).standard_normal(len(vals)), k)
        cases.append(Case(f"eigenvalues {vals}, k={k}", (tan_angles(X, top_eigenvector(M)),)))
    return cases


REFERENCE_SAMPLES = 40_000


def _probability_cases(visible: bool) -> list[Case]:
    specs = ([(160, [2.0, 1.6, 0.5, 0.2], 5, 0.3, 2000, 7)] if visible else
             [(161, [1.0, 0.9, 0.8, 0.1, -0.3], 10, 0.2, 3000, 8), (162, [-3.0, 2.7, 1.0], 8, 0.1, 2000, 9)])
    cases = []
    for seed, vals, k, alpha, samples, draw in specs:
        M = _symmetric(seed, vals)
        truth = probability_exceeds(M, k, alpha, REFERENCE_SAMPLES, draw + 1000)
        cases.append(Case(f"eigenvalues {vals}, k={k}, alpha={alpha}, {samples} samples",
                          (M, k, alpha, samples, draw), secret=truth))
    return cases


def _probability_verdict(case: Case, result) -> str | None:
    if not isinstance(result, np.ndarray) or result.shape != ():
        return f"expected a number, got {getattr(result, 'shape', type(result).__name__)}"
    p, samples = case.secret, case.value[3]
    slack = 4 * math.sqrt(p * (1 - p) / samples) + 4 * math.sqrt(p * (1 - p) / REFERENCE_SAMPLES) \
        + 1 / samples
    if not abs(float(result) - p) <= slack:
        return (f"the estimate {float(result):.4f} is further than {slack:.4f} from the reference estimate "
                f"{p:.4f} (a Monte Carlo share over {REFERENCE_SAMPLES} samples)")
    return None


def _bound_cases(visible: bool) -> list[Case]:
    specs = [(4, 0.8, 5, 0.3)] if visible else [(3, 0.5, 1, 0.1), (10, 0.9, 20, 0.05),
                                                  (50, 0.99, 3, 1.0), (6, 0.3, 0, 0.2)]
    return [Case(f"n={n}, ratio={r}, k={k}, alpha={a}", (n, r, k, a)) for n, r, k, a in specs]


def _alignment_cases(visible: bool) -> list[Case]:
    cases = []
    for seed, vals, T in ([(170, [1.2, 0.9, -0.5], 12)] if visible else
                          [(171, [0.95, -0.9, 0.3, 0.1], 30), (172, [-1.1, 1.0, 0.2], 20)]):
        rng = np.random.default_rng(seed)
        W_hh = _symmetric(seed, vals)
        G = rng.standard_normal((T, len(vals)))
        for t in range(T - 2, -1, -1):  # dL/dh_t = W_hh^T dL/dh_{t+1} + a fresh output term
            G[t] = W_hh.T @ G[t + 1] + 0.1 * G[t]
        cases.append(Case(f"eigenvalues {vals}, T={T}", (G, W_hh)))
    return cases


def _log_norm_cases(visible: bool) -> list[Case]:
    specs = ([(180, 6, 1.3, 50)] if visible else
             [(181, 4, 5.0, 1000), (182, 5, 0.2, 1000), (183, 3, 1.0, 10), (184, 1, 2.0, 0)])
    cases = []
    for seed, h, radius, T in specs:
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((h, h))
        W *= radius / spectral_radius(W)
        cases.append(Case(f"h={h}, spectral radius {radius}, T={T}", (W, rng.standard_normal(h), T)))
    return cases


def _orthogonal_cases(visible: bool) -> list[Case]:
    specs = [(190, 3)] if visible else [(191, 1), (192, 5), (193, 8)]
    return [Case(f"{n} x {n}", (np.random.default_rng(seed).standard_normal((n, n)),)) for seed, n in specs]


def _power_norm_cases(visible: bool) -> list[Case]:
    specs = [([[0.9, 2.0], [0.0, 0.8]], 20)] if visible else [
        ([[0.5, 5.0, 0.0], [0.0, 0.5, 5.0], [0.0, 0.0, 0.5]], 60), ([[1.0]], 5), ([[0.0, 1.0], [0.0, 0.0]], 4)]
    return [Case(f"W_hh = {W}, k_max={K}", (np.array(W), K)) for W, K in specs]


def _non_normal_verdict(case: Case, result) -> str | None:
    n = case.value[0]
    message = _unreadable("the matrix", result, (n, n))
    if message:
        return message
    radius = spectral_radius(result)
    if not radius < 1:
        return f"its spectral radius is {radius:.3g}, not below 1"
    peak = power_norms(result, MAX_POWER).max()
    if not peak >= MIN_GROWTH:
        return f"its powers reach a norm of only {peak:.3g} within {MAX_POWER} steps, not {MIN_GROWTH:g}"
    return None


def _entrywise_against(reference, name):
    return lambda case, result: _entrywise(name, result, np.asarray(reference(*case.value), dtype=np.float64))


def _log_verdict(case: Case, result) -> str | None:
    expected = log10_gradient_norms(*case.value)
    message = _unreadable("log10 norms", result, expected.shape)
    if message:
        return message
    worst = np.max(np.abs(result - expected))
    return None if worst <= 1e-8 else f"log10 norms are off by up to {worst:.2e}"


def _pair(kind_cases, verdict):
    return (Check("call", lambda: kind_cases(True), verdict), Check("call", lambda: kind_cases(False), verdict))


CHECKS = {}
for _name, _cases, _verdict in (
        ("eigenvalues", _eigenvalue_cases, _entrywise_against(power_eigenvalues, "eigenvalues of M^k")),
        ("iteration", _iteration_cases, against(power_iteration, "the iterates", TOL)),
        ("tan", _tan_cases, _entrywise_against(tan_angles, "tan theta_j")),
        ("probability", _probability_cases, _probability_verdict),
        ("bound", _bound_cases, against(probability_bound, "the bound", TOL)),
        ("alignment", _alignment_cases, against(alignment, "|cos| with the top eigenvector", TOL)),
        ("log_norms", _log_norm_cases, _log_verdict),
        ("orthogonal", _orthogonal_cases, against(nearest_orthogonal, "the nearest orthogonal matrix", TOL)),
        ("power_norms", _power_norm_cases, _entrywise_against(power_norms, "||W_hh^k||"))):
    CHECKS[f"test_{_name}_visible"], CHECKS[f"test_{_name}_hidden"] = _pair(_cases, _verdict)
CHECKS["test_rate"] = Check("call", _rate_cases, against(measured_rate, "the measured rate", 1e-8))
CHECKS["test_non_normal"] = Check("call", lambda: [Case(f"n={n}", (n,)) for n in (2, 3, 5, 8)],
                                  _non_normal_verdict)
