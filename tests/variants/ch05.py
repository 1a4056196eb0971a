"""Chapter 5 end to end: whole-notebook variants for tests/test_grade_chapters.py (lead merges).

ANSWERS maps a label to {solution cell grade_id: source}; cells not named keep their stubs.
EXPECTED is the autograded score of each variant (the written answer, a stub here, is graded by
hand and counts 0). Points: clip_norm 1 + 1, clip_elementwise 1 + 1, norms 1 + 2, lstm 1 + 3.
"""

HONEST_CLIP = '''
def clip_by_norm(grads, gamma):
    norm = np.linalg.norm(np.concatenate([np.ravel(g) for g in grads.values()]))
    if norm > gamma:
        return {name: g * (gamma / norm) for name, g in grads.items()}
    return {name: g.copy() for name, g in grads.items()}


def clip_elementwise(grads, gamma):
    return {name: np.minimum(np.maximum(g, -gamma), gamma) for name, g in grads.items()}
'''

HONEST_NORMS = '''
def jacobian_norms(X, h0, W_hx, W_hh, b_h, activation):
    phi = {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0)}[activation]
    slope = {"tanh": lambda z: 1 / np.cosh(z) ** 2, "sigmoid": lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2,
             "relu": lambda z: np.where(z > 0, 1.0, 0.0)}[activation]
    jacobians, h = [], h0
    for x in X:
        z = W_hx @ x + W_hh @ h + b_h
        jacobians.append(np.diag(slope(z)) @ W_hh)
        h = phi(z)
    norms = []
    for k in range(len(X) + 1):
        product = np.eye(len(h0))
        for J in jacobians[k:]:
            product = J @ product
        norms.append(np.linalg.svd(product, compute_uv=False)[0])
    return np.array(norms)
'''

HONEST_LSTM = '''
def lstm_step_backward(dh, dc, cache):
    B, h = cache.c.shape
    d = cache.z.shape[1] - h
    dx, dh_prev, dc_prev = np.zeros((B, d)), np.zeros((B, h)), np.zeros((B, h))
    dW, db = np.zeros_like(cache.W), np.zeros(4 * h)
    for n in range(B):
        i, f, g, o, z = cache.i[n], cache.f[n], cache.g[n], cache.o[n], cache.z[n]
        t = np.tanh(cache.c[n])
        d_cell = dc[n] + dh[n] * o * (1.0 - t ** 2)
        d_pre = np.concatenate([d_cell * g * i * (1.0 - i), d_cell * cache.c_prev[n] * f * (1.0 - f),
                                d_cell * i * (1.0 - g ** 2), dh[n] * t * o * (1.0 - o)])
        dW += np.outer(d_pre, z)
        db += d_pre
        d_z = cache.W.T @ d_pre
        dx[n], dh_prev[n], dc_prev[n] = d_z[:d], d_z[d:], d_cell * f
    return dx, dh_prev, dc_prev, dW, db
'''

PER_ARRAY_CLIP = '''
def clip_by_norm(grads, gamma):
    # each array clipped by its own norm: not the global norm
    return {name: g * min(1.0, gamma / max(np.linalg.norm(g), 1e-300)) for name, g in grads.items()}


def clip_elementwise(grads, gamma):
    # only the upper bound
    return {name: np.minimum(g, gamma) for name, g in grads.items()}
'''

LARGEST_ONLY_CLIP = '''
def clip_by_norm(grads, gamma):
    # the global factor applied to the largest array only
    largest = max(grads, key=lambda name: np.linalg.norm(grads[name]))
    norm = np.linalg.norm(np.concatenate([np.ravel(g) for g in grads.values()]))
    scale = min(1.0, gamma / norm) if norm > 0 else 1.0
    return {name: g * scale if name == largest else g.copy() for name, g in grads.items()}


def clip_elementwise(grads, gamma):
    # gamma with the sign of every entry, also for entries inside the threshold
    return {name: gamma * np.sign(g) for name, g in grads.items()}
'''

TORCH_EPSILON_CLIP = '''
def clip_by_norm(grads, gamma):
    # torch's clip_grad_norm_ divides by norm + 1e-6: not the formula of the notebook
    norm = np.linalg.norm(np.concatenate([np.ravel(g) for g in grads.values()]))
    return {name: g * min(1.0, gamma / (norm + 1e-6)) for name, g in grads.items()}


def clip_elementwise(grads, gamma):
    return {name: np.clip(g, -gamma, gamma) for name, g in grads.items()}
'''

THROUGH_TORCH_CLIP = '''
import torch


def clip_by_norm(grads, gamma):
    tensors = {name: torch.tensor(g) for name, g in grads.items()}
    norm = torch.linalg.vector_norm(torch.cat([t.flatten() for t in tensors.values()])).item()
    scale = min(1.0, gamma / norm) if norm > 0 else 1.0
    return {name: (scale * t).numpy() for name, t in tensors.items()}


def clip_elementwise(grads, gamma):
    return {name: torch.tensor(g).clamp(-gamma, gamma).numpy() for name, g in grads.items()}
'''

CENTRAL_DIFFERENCE_NORMS = '''
def jacobian_norms(X, h0, W_hx, W_hh, b_h, activation, eps=1e-6):
    # dh_T/dh_k column by column from the forward pass, no Jacobian written down
    phi = {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0)}[activation]

    def run(h, start):
        for x in X[start:]:
            h = phi(W_hx @ x + W_hh @ h + b_h)
        return h

    states = [h0]
    for x in X:
        states.append(phi(W_hx @ x + W_hh @ states[-1] + b_h))
    return np.array([np.linalg.norm(np.column_stack(
        [(run(s + eps * e, k) - run(s - eps * e, k)) / (2 * eps) for e in np.eye(len(h0))]), 2)
        for k, s in enumerate(states)])
'''

TANH_ONLY_NORMS = '''
def jacobian_norms(X, h0, W_hx, W_hh, b_h, activation):
    # the tanh slope whatever the activation
    h, product, norms = h0, np.eye(len(h0)), [1.0]
    slopes = []
    for x in X:
        h = np.tanh(W_hx @ x + W_hh @ h + b_h)
        slopes.append(1 - h ** 2)
    for s in reversed(slopes):
        product = product @ (s[:, None] * W_hh)
        norms.append(np.linalg.norm(product, 2))
    return np.array(norms[::-1])
'''

COMPLEX_STEP_LSTM = '''
def lstm_step_backward(dh, dc, cache):
    # no backward pass: one complex forward pass per entry of x, h_prev, c_prev, W and b
    h = cache.c.shape[1]
    d = cache.z.shape[1] - h
    pre = np.concatenate([np.log(cache.i / (1 - cache.i)), np.log(cache.f / (1 - cache.f)),
                          np.arctanh(cache.g), np.log(cache.o / (1 - cache.o))], axis=1)
    b = (pre - cache.z @ cache.W.T).mean(axis=0)
    inputs = [a.astype(complex) for a in (cache.z[:, :d], cache.z[:, d:], cache.c_prev, cache.W, b)]

    def loss(x, h_prev, c_prev, W, b):
        a = np.concatenate([x, h_prev], axis=1) @ W.T + b
        i, f, g, o = np.split(a, 4, axis=1)
        i, f, o = (0.5 * (1 + np.tanh(0.5 * v)) for v in (i, f, o))
        c = f * c_prev + i * np.tanh(g)
        return np.sum(o * np.tanh(c) * dh) + np.sum(c * dc)

    grads = []
    for a in inputs:
        grad = np.zeros(a.shape)
        for index in np.ndindex(a.shape):
            a[index] += 1e-30j
            grad[index] = loss(*inputs).imag / 1e-30
            a[index] -= 1e-30j
        grads.append(grad)
    return tuple(grads)
'''

ANSWERS = {
    "honest_alternative": {"clip": HONEST_CLIP, "norms": HONEST_NORMS, "lstm": HONEST_LSTM},
    "per_array_and_upper_bound_clipping": {"clip": PER_ARRAY_CLIP},
    "largest_array_only_and_sign_clipping": {"clip": LARGEST_ONLY_CLIP},
    "torch_epsilon_in_the_norm": {"clip": TORCH_EPSILON_CLIP},
    "clipping_through_torch": {"clip": THROUGH_TORCH_CLIP},
    "norms_by_central_differences": {"norms": CENTRAL_DIFFERENCE_NORMS},
    "norms_with_the_tanh_slope_only": {"norms": TANH_ONLY_NORMS},
    # The complex step is exact on small steps but needs minutes on the large one: both LSTM
    # cells run into the 30 s cell limit (about a minute of grading); the honest parts keep 7.
    "lstm_by_complex_step": {"clip": HONEST_CLIP, "norms": HONEST_NORMS, "lstm": COMPLEX_STEP_LSTM},
}

EXPECTED = {
    "honest_alternative": 11,
    "per_array_and_upper_bound_clipping": 0,
    "largest_array_only_and_sign_clipping": 0,
    "torch_epsilon_in_the_norm": 2,
    "clipping_through_torch": 0,
    "norms_by_central_differences": 0,
    "norms_with_the_tanh_slope_only": 0,
    "lstm_by_complex_step": 7,
}
