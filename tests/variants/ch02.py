"""End-to-end variants of chapter 2 (ch02-gradient-analysis/gradient-analysis.ipynb) for `make grade`.

ANSWERS maps a label to {solution cell grade_id: source}; the cells not named keep their stubs.
Solution cells: coefficients, contributions, rtrl, product, bound (11 points in all).
EXPECTED is the score of each variant.
"""

# An honest solution written apart from the reference: recursion over t, masking, a Kronecker
# layout, products from the right, the bound as a sum of logarithms.
HONEST = {
    "coefficients": '''
def lemma_coefficients(c):
    T, n, _ = c.shape
    C = np.zeros((T, T, n, n))
    for t in range(T):
        if t:
            C[t, :t] = np.einsum("nm,imk->ink", c[t], C[t - 1, :t])
        C[t, t] = np.eye(n)
    return C
''',
    "contributions": '''
def contributions(b, c):
    T, n = b.shape
    K = np.zeros((T, T, n))
    for i in range(T):
        a = np.zeros(n)
        for t in range(T):
            a = (b[t] if t == i else 0.0) + c[t] @ a
            K[t, i] = a
    return K
''',
    "rtrl": '''
def dh_dWhh(H, h0, W_hh, slopes):
    n = len(h0)
    states = np.vstack([h0, H])
    D, out = np.zeros((n, n * n)), []
    for t in range(len(H)):
        D = slopes[t][:, None] * (np.kron(np.eye(n), states[t][None, :]) + W_hh @ D)
        out.append(D.reshape(n, n, n))
    return np.array(out)
''',
    "product": '''
def jacobian_product(slopes, W_hh, t, k):
    product = np.eye(len(W_hh))
    for j in range(t, k, -1):
        product = product @ np.diag(slopes[j - 1]) @ W_hh
    return product
''',
    "bound": '''
def jacobian_bound(slopes, W_hh, t, k):
    steepest = np.abs(slopes[k:t]).max(axis=1) if t > k else np.ones(1)
    if np.any(steepest == 0):
        return 0.0
    return float(np.exp(np.sum(np.log(steepest)) + (t - k) * np.log(np.linalg.svd(W_hh)[1][0])))
''',
}

# Guess the activation from how the slopes fit the states, rebuild the forward pass and take the
# complex step through it: right on the notebook's sigmoid and softsign RNNs, wrong on the fresh
# and hidden ones (a tanh with gains per unit, among others).
COMPLEX_STEP = {"rtrl": '''
GUESSES = [
    (np.tanh, np.arctanh, lambda z: 1 - np.tanh(z) ** 2),
    (lambda z: 1 / (1 + np.exp(-z)), lambda h: np.log(h / (1 - h)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    (lambda z: z / (1 + np.sqrt(z * z)), lambda h: h / (1 - np.abs(h)), lambda z: 1 / (1 + np.abs(z)) ** 2),
]

def dh_dWhh(H, h0, W_hh, slopes):
    n, previous = len(h0), np.vstack([h0, H[:-1]])
    D = np.zeros((len(H), n, n, n))
    with np.errstate(all="ignore"):
        for phi, inverse, slope in GUESSES:
            z = inverse(H)
            if np.all(np.isfinite(z)) and np.allclose(slope(z), slopes, rtol=1e-9, atol=1e-12):
                u = z - previous @ W_hh.T
                for j in range(n):
                    for k in range(n):
                        W = W_hh.astype(complex)
                        W[j, k] += 1e-30j
                        state = h0.astype(complex)
                        for t, u_t in enumerate(u):
                            state = phi(u_t + W @ state)
                            D[t, :, j, k] = state.imag / 1e-30
                break
    return D
'''}

# torch's reverse mode through a forward pass rebuilt by assuming tanh (torch is absent when graded).
TORCH = {"rtrl": '''
import torch

def dh_dWhh(H, h0, W_hh, slopes):
    u = torch.tensor(np.arctanh(H) - np.vstack([h0, H[:-1]]) @ W_hh.T)
    def states(W):
        state, out = torch.tensor(h0), []
        for u_t in u:
            state = torch.tanh(u_t + W @ state)
            out.append(state)
        return torch.stack(out)
    return torch.func.jacrev(states)(torch.tensor(W_hh)).numpy()
'''}

# Central differences of a forward pass rebuilt by assuming tanh.
FINITE_DIFFERENCES = {"rtrl": '''
def dh_dWhh(H, h0, W_hh, slopes):
    n, eps = len(h0), 1e-6
    with np.errstate(all="ignore"):
        u = np.arctanh(H) - np.vstack([h0, H[:-1]]) @ W_hh.T
    def states(W):
        state, out = h0, []
        for u_t in u:
            state = np.tanh(u_t + W @ state)
            out.append(state)
        return np.array(out)
    D = np.zeros((len(H), n, n, n))
    for j in range(n):
        for k in range(n):
            step = np.zeros((n, n))
            step[j, k] = eps
            D[:, :, j, k] = (states(W_hh + step) - states(W_hh - step)) / (2 * eps)
    return D
'''}

# The recursion with the slopes of an assumed activation (sigmoid, the visible one) instead of those given.
ASSUMED_ACTIVATION = {"rtrl": '''
def dh_dWhh(H, h0, W_hh, slopes):
    n = len(h0)
    D, carried, previous = [], np.zeros((n, n, n)), h0
    for h in H:
        direct = np.einsum("ij,k->ijk", np.eye(n), previous)
        carried = (h * (1 - h))[:, None, None] * (direct + np.einsum("il,ljk->ijk", W_hh, carried))
        D.append(carried)
        previous = h
    return np.array(D)
'''}

# The Frobenius norm in place of the spectral norm.
FROBENIUS = {"bound": '''
def jacobian_bound(slopes, W_hh, t, k):
    return float(np.prod([np.linalg.norm(s) * np.linalg.norm(W_hh) for s in slopes[k:t]]))
'''}

# The page's beta_W^(t - k), the slopes ignored.
PAGE_BOUND = {"bound": '''
def jacobian_bound(slopes, W_hh, t, k):
    return float(np.linalg.norm(W_hh, 2) ** (t - k))
'''}

# Products with the oldest factor on the left.
REVERSED = {
    "coefficients": '''
def lemma_coefficients(c):
    T, n, _ = c.shape
    C = np.zeros((T, T, n, n))
    for t in range(T):
        product = np.eye(n)
        C[t, t] = product
        for i in range(t - 1, -1, -1):
            product = c[i + 1] @ product
            C[t, i] = product
    return C
''',
    "product": '''
def jacobian_product(slopes, W_hh, t, k):
    product = np.eye(len(W_hh))
    for j in range(k + 1, t + 1):
        product = product @ (slopes[j - 1][:, None] * W_hh)
    return product
''',
}

# The recursion's a_t (the notebook's own loop) on the diagonal: right sums, wrong shares.
RECURSION_FOR_SHARES = {"contributions": '''
def contributions(b, c):
    T, n = b.shape
    K, a = np.zeros((T, T, n)), np.zeros(n)
    for t in range(T):
        a = b[t] + c[t] @ a
        K[t, t] = a
    return K
'''}

ANSWERS = {
    "honest": HONEST,
    "complex step through a guessed activation": COMPLEX_STEP,
    "torch through a rebuilt tanh forward pass": TORCH,
    "finite differences through a rebuilt tanh forward pass": FINITE_DIFFERENCES,
    "sigmoid slopes assumed": ASSUMED_ACTIVATION,
    "Frobenius norm bound": FROBENIUS,
    "the page's bound": PAGE_BOUND,
    "reversed products": REVERSED,
    "recursion for the shares": RECURSION_FOR_SHARES,
}

EXPECTED = {"honest": 11, **{label: 0 for label in ANSWERS if label != "honest"}}
