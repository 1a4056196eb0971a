"""End-to-end variants of chapter 3 (ch03-truncation/truncation.ipynb) for tests/test_grade_chapters.py.

ANSWERS maps a label to the solution cells it replaces (by nbgrader grade_id: "truncated",
"randomized", "monte_carlo"); the other solution cells keep their stubs. EXPECTED is the score
out of 8 that `make grade` must give.
"""

# Honest, written unlike the solution: reverse mode with the messages scaled by xi_t, and a
# running vector of path weights for the Monte Carlo mean (ddof=0).
HONEST = {
    "truncated": '''
def _backward(X, Y, H, Z, params, xi, dphi, scale):
    grads, message = {"w_x": 0.0, "w_h": 0.0}, np.zeros(H.shape[1])
    for t in range(len(X), 0, -1):
        delta = (message + (H[t] - Y[t - 1]) / scale) * dphi(Z[t - 1])
        grads["w_x"] += float(delta @ X[t - 1])
        grads["w_h"] += float(delta @ H[t - 1])
        message = xi[t - 1] * params["w_h"] * delta
    return grads


def _run(X, h0, params, phi):
    H, Z = [np.asarray(h0, dtype=float)], []
    for x in X:
        Z.append(params["w_x"] * x + params["w_h"] * H[-1])
        H.append(phi(Z[-1]))
    return np.array(H), np.array(Z)


def truncated_gradient(X, Y, h0, params, tau, phi, dphi):
    grads, h = {"w_x": 0.0, "w_h": 0.0}, h0
    for start in range(0, len(X), tau):
        H, Z = _run(X[start:start + tau], h, params, phi)
        cut = np.ones(len(Z))
        cut[0] = 0.0
        chunk = _backward(X[start:start + tau], Y[start:start + tau], H, Z, params, cut, dphi, Y.size)
        grads = {k: grads[k] + chunk[k] for k in grads}
        h = H[-1]
    return grads, h
''',
    "randomized": '''
def randomized_gradient(X, Y, h0, params, xi, phi, dphi):
    H, Z = _run(X, h0, params, phi)
    return _backward(X, Y, H, Z, params, xi, dphi, Y.size)
''',
    "monte_carlo": '''
def monte_carlo_gradient(G, shortest, p, n, seed):
    rng, T, samples = np.random.default_rng(seed), len(G), []
    for _ in range(n):
        xi, w, estimate = randomized_multipliers(T, delayed_schedule(shortest, p), rng), np.zeros(T), 0.0
        for t in range(T):
            w = xi[t] * w
            w[t] = 1.0
            estimate += G[t] @ w
        samples.append(estimate)
    return float(np.mean(samples)), float(np.std(samples) / np.sqrt(n))
''',
}

# Shortcuts: the full gradient for every estimate, and the exact expectation with a made-up error.
FULL = {
    "truncated": '''
def truncated_gradient(X, Y, h0, params, tau, phi, dphi):
    T, B = X.shape
    grads, h, a_x, a_h = {"w_x": 0.0, "w_h": 0.0}, np.asarray(h0, float), np.zeros(B), np.zeros(B)
    for t in range(T):
        z = params["w_x"] * X[t] + params["w_h"] * h
        a_x = dphi(z) * (X[t] + params["w_h"] * a_x)
        a_h = dphi(z) * (h + params["w_h"] * a_h)
        h = phi(z)
        grads["w_x"] += float(np.sum((h - Y[t]) * a_x)) / (T * B)
        grads["w_h"] += float(np.sum((h - Y[t]) * a_h)) / (T * B)
    return grads, h
''',
    "randomized": '''
def randomized_gradient(X, Y, h0, params, xi, phi, dphi):
    return truncated_gradient(X, Y, h0, params, len(X), phi, dphi)[0]
''',
    "monte_carlo": '''
def monte_carlo_gradient(G, shortest, p, n, seed):
    return float(np.sum(G)), 1e-3
''',
}

# Mistakes: chunks restarted from h0 and averaged over their own length, the multipliers used
# without their scale (cut only), and one draw of the multipliers reused for every sample.
MISTAKES = {
    "truncated": '''
def truncated_gradient(X, Y, h0, params, tau, phi, dphi):
    T, B = X.shape
    grads = {"w_x": 0.0, "w_h": 0.0}
    for start in range(0, T, tau):
        h, a_x, a_h = np.asarray(h0, float), np.zeros(B), np.zeros(B)
        stop = min(start + tau, T)
        for t in range(start, stop):
            z = params["w_x"] * X[t] + params["w_h"] * h
            a_x = dphi(z) * (X[t] + params["w_h"] * a_x)
            a_h = dphi(z) * (h + params["w_h"] * a_h)
            h = phi(z)
            grads["w_x"] += float(np.sum((h - Y[t]) * a_x)) / ((stop - start) * B)
            grads["w_h"] += float(np.sum((h - Y[t]) * a_h)) / ((stop - start) * B)
    return grads, h
''',
    "randomized": '''
def randomized_gradient(X, Y, h0, params, xi, phi, dphi):
    T, B = X.shape
    grads, h, a_x, a_h = {"w_x": 0.0, "w_h": 0.0}, np.asarray(h0, float), np.zeros(B), np.zeros(B)
    for t in range(T):
        keep = 1.0 if xi[t] > 0 else 0.0
        z = params["w_x"] * X[t] + params["w_h"] * h
        a_x = dphi(z) * (X[t] + keep * params["w_h"] * a_x)
        a_h = dphi(z) * (h + keep * params["w_h"] * a_h)
        h = phi(z)
        grads["w_x"] += float(np.sum((h - Y[t]) * a_x)) / (T * B)
        grads["w_h"] += float(np.sum((h - Y[t]) * a_h)) / (T * B)
    return grads
''',
    "monte_carlo": '''
def monte_carlo_gradient(G, shortest, p, n, seed):
    xi = randomized_multipliers(len(G), delayed_schedule(shortest, p), np.random.default_rng(seed))
    T = len(G)
    estimate = sum(G[t - 1, i - 1] * np.prod(xi[i:t]) for t in range(1, T + 1) for i in range(1, t + 1))
    samples = np.full(n, estimate)
    return float(samples.mean()), float(samples.std(ddof=1) / np.sqrt(n))
''',
}

# A hard-coded tanh (np.tanh and 1 - h^2 in place of phi and dphi) in parts 1 and 2: right on
# the tanh cases, wrong on the softsign and sigmoid ones, visible and hidden.
HARD_TANH = {
    "truncated": '''
def truncated_gradient(X, Y, h0, params, tau, phi, dphi):
    T, B = X.shape
    grads, h = {"w_x": 0.0, "w_h": 0.0}, np.asarray(h0, float)
    for start in range(0, T, tau):
        a_x, a_h = np.zeros(B), np.zeros(B)
        for t in range(start, min(start + tau, T)):
            h_new = np.tanh(params["w_x"] * X[t] + params["w_h"] * h)
            a_x = (1 - h_new ** 2) * (X[t] + params["w_h"] * a_x)
            a_h = (1 - h_new ** 2) * (h + params["w_h"] * a_h)
            h = h_new
            grads["w_x"] += float(np.sum((h - Y[t]) * a_x)) / (T * B)
            grads["w_h"] += float(np.sum((h - Y[t]) * a_h)) / (T * B)
    return grads, h
''',
    "randomized": '''
def randomized_gradient(X, Y, h0, params, xi, phi, dphi):
    T, B = X.shape
    grads, h, a_x, a_h = {"w_x": 0.0, "w_h": 0.0}, np.asarray(h0, float), np.zeros(B), np.zeros(B)
    for t in range(T):
        h_new = np.tanh(params["w_x"] * X[t] + params["w_h"] * h)
        a_x = (1 - h_new ** 2) * (X[t] + xi[t] * params["w_h"] * a_x)
        a_h = (1 - h_new ** 2) * (h + xi[t] * params["w_h"] * a_h)
        h = h_new
        grads["w_x"] += float(np.sum((h - Y[t]) * a_x)) / (T * B)
        grads["w_h"] += float(np.sum((h - Y[t]) * a_h)) / (T * B)
    return grads
''',
}

# Part 3 alone, honest: it earns its 2 points although parts 1 and 2 are left as stubs.
PART_3_ONLY = {"monte_carlo": HONEST["monte_carlo"]}

ANSWERS = {"honest": HONEST, "full_gradient_and_exact_mean": FULL, "mistakes": MISTAKES,
           "hard_coded_tanh": HARD_TANH, "part_3_only": PART_3_ONLY}
EXPECTED = {"honest": 8, "full_gradient_and_exact_mean": 0, "mistakes": 0, "hard_coded_tanh": 0,
            "part_3_only": 2}
