"""Chapter 6 (ch06-eigenvalues-of-powers) graded end to end: whole-notebook variants.

ANSWERS[label] maps solution-cell grade_ids to their new source (the other cells keep their
stubs); EXPECTED[label] is the automatic score `make grade` must give. The notebook has 29 points:
21 automatic, 8 by hand (written_power, written_formal, written_rnn, written_remedies).
"""

HONEST = {
    "eigenvalues": '''
def power_eigenvalues(M, k):
    values, out = np.linalg.eigvalsh(M), np.ones(len(M))
    for _ in range(k):
        out = out * values
    return np.sort(out)
''',
    "iteration": '''
def power_iteration(apply_M, g0, k):
    X = np.empty((k + 1, len(g0)))
    X[0] = g0 / math.sqrt(g0 @ g0)
    for j in range(1, k + 1):
        y = apply_M @ X[j - 1]
        X[j] = y / math.sqrt(y @ y)
    return X
''',
    "tan": '''
def tan_angles(X, v):
    Q = np.linalg.qr(np.asarray(v, dtype=float)[:, None], mode="complete")[0]
    C = X @ Q
    return np.linalg.norm(C[:, 1:], axis=1) / np.abs(C[:, 0])


def measured_rate(tans):
    keep = np.asarray(tans) > 1e-12
    j = np.arange(len(tans))[keep]
    design = np.stack([j, np.ones_like(j)], axis=1).astype(float)
    return 10.0 ** np.linalg.lstsq(design, np.log10(np.asarray(tans)[keep]), rcond=None)[0][0]
''',
    "probability": '''
def probability_exceeds(M, k, alpha, n_samples, seed):
    G = np.random.default_rng(seed).standard_normal((n_samples, len(M)))
    values, V = np.linalg.eigh(M)
    top = np.argmax(np.abs(values))
    C = (G @ V) * (values / abs(values[top])) ** k
    rest = np.sqrt(np.sum(C ** 2, axis=1) - C[:, top] ** 2)
    return float(np.mean(rest > math.tan(alpha) * np.abs(C[:, top])))


def probability_bound(n, ratio, k, alpha):
    s = math.cos(math.atan(math.tan(alpha) / ratio ** k))
    return min(1.0, 2 * s * math.exp(math.lgamma(n / 2) - math.lgamma(0.5) - math.lgamma((n - 1) / 2)))
''',
    "alignment": '''
def alignment(G, W_hh):
    values, vectors = np.linalg.eig(W_hh.T)
    v = np.real(vectors[:, np.argmax(np.abs(values))])
    v /= np.linalg.norm(v)
    return np.array([abs(row @ v) / np.linalg.norm(row) for row in G])
''',
    "remedies": '''
def log10_gradient_norms(apply_WT, g, T):
    x, scale, out = np.asarray(g, dtype=float), 0.0, []
    for _ in range(T + 1):
        norm = np.linalg.norm(x)
        out.append(scale + math.log10(norm))
        if not 1e-50 <= norm <= 1e50:
            x, scale = x / norm, scale + math.log10(norm)
        x = apply_WT(x)
    return np.array(out)


def clip_singular_values(W, low, high):
    values, V = np.linalg.eigh(W.T @ W)
    s = np.sqrt(values)
    return (W @ V / s * np.clip(s, low, high)) @ V.T
''',
    "transient": '''
def power_norms(apply_W, k_max):
    powers = [np.eye(apply_W.shape[0])]
    for _ in range(k_max):
        powers.append(apply_W @ powers[-1])
    return np.array([math.sqrt(max(np.linalg.eigvalsh(P.T @ P)[-1], 0.0)) for P in powers])


def non_normal_example(n):
    T = 0.7 * np.eye(n)
    T[0, -1] = 30.0
    Q = np.linalg.qr(np.random.default_rng(n).standard_normal((n, n)))[0]
    return Q @ T @ Q.T
''',
}

# matrix_power reached through getattr, wherever powers are asked for; M^k formed for its eigenvalues.
MATRIX_POWER = {
    "eigenvalues": '''
def power_eigenvalues(M, k):
    return np.sort(np.linalg.eigvalsh(getattr(np.linalg, "matrix_" + "power")(M, k)))
''',
    "iteration": '''
def power_iteration(apply_M, g0, k):
    rows = [getattr(np.linalg, "matrix_" + "power")(apply_M, j) @ g0 for j in range(k + 1)]
    return np.array([row / np.linalg.norm(row) for row in rows])
''',
    "remedies": '''
def log10_gradient_norms(apply_WT, g, T):
    power = getattr(np.linalg, "matrix_" + "power")
    return np.array([np.log10(np.linalg.norm(power(apply_WT, k) @ g)) for k in range(T + 1)])
''',
    "transient": '''
def power_norms(apply_W, k_max):
    power = getattr(np.linalg, "matrix_" + "power")
    return np.array([np.linalg.norm(power(apply_W, k), 2) for k in range(k_max + 1)])
''',
}

# The matrix read off the operator with one product (or out of its private field), then closed
# forms and matrix_power, with wasted products to make up the count.
READ_OFF = {
    "iteration": '''
def power_iteration(apply_M, g0, k):
    for _ in range(k - 1):
        apply_M(np.ones(len(g0)))
    M = apply_M(np.eye(len(g0)))
    values, V = np.linalg.eigh(M)
    mu = V.T @ g0
    rows = [V @ (mu * (values / np.max(np.abs(values))) ** j) for j in range(k + 1)]
    return np.array([r / np.linalg.norm(r) for r in rows])
''',
    "remedies": '''
def log10_gradient_norms(apply_WT, g, T):
    W_T = apply_WT._matrix
    rho = np.max(np.abs(np.linalg.eigvals(W_T)))
    power = getattr(np.linalg, "matrix_" + "power")
    return np.array([k * np.log10(rho) + np.log10(np.linalg.norm(power(W_T / rho, k) @ g))
                     for k in range(T + 1)])
''',
    "transient": '''
def power_norms(apply_W, k_max):
    n = apply_W.shape[0]
    for _ in range(k_max - 1):
        apply_W(np.eye(n))
    W = apply_W(np.eye(n))
    power = getattr(np.linalg, "matrix_" + "power")
    return np.array([np.linalg.norm(power(W, k), 2) for k in range(k_max + 1)])
''',
}

# Wrong in the ways the checks name: arccos tangents, the largest eigenvalue instead of the largest
# modulus, the loose threshold, the nearest orthogonal matrix whatever the interval, nilpotent and
# normal examples.
NEAR_MISSES = {
    "tan": '''
def tan_angles(X, v):
    cosines = np.abs(X @ v) / (np.linalg.norm(X, axis=1) * np.linalg.norm(v))
    return np.tan(np.arccos(np.minimum(cosines, 1.0)))


def measured_rate(tans):
    return float(np.exp(np.polyfit(np.arange(len(tans)), np.log(np.maximum(tans, 1e-300)), 1)[0]))
''',
    "probability": '''
def probability_exceeds(M, k, alpha, n_samples, seed):
    X = np.random.default_rng(seed).standard_normal((n_samples, len(M)))
    for _ in range(k):
        X = X @ M.T
        X /= np.linalg.norm(X, axis=1, keepdims=True)
    v = np.linalg.eigh(M)[1][:, -1]
    return float(np.mean(np.arccos(np.abs(X @ v) / np.linalg.norm(X, axis=1)) > alpha))


def probability_bound(n, ratio, k, alpha):
    f0 = math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2)) / math.sqrt(math.pi)
    return min(1.0, 2 * ratio ** k / math.tan(alpha) * f0)
''',
    "alignment": '''
def alignment(G, W_hh):
    v = np.linalg.eigh(W_hh.T)[1][:, -1]
    return np.abs(G @ v) / np.linalg.norm(G, axis=1)
''',
    "remedies": '''
def clip_singular_values(W, low, high):
    U, _, Vt = np.linalg.svd(W)
    return U @ Vt
''',
    "transient": '''
def non_normal_example(n):
    return 20.0 * np.eye(n, k=1)
''',
}

ANSWERS = {"honest": HONEST, "matrix_power": MATRIX_POWER, "read_off": READ_OFF, "near_misses": NEAR_MISSES}
EXPECTED = {"honest": 21, "matrix_power": 0, "read_off": 0, "near_misses": 0}
