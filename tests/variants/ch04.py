"""Chapter 4 answer sources, graded whole by tests/test_grade.py and judged in process by
tests/test_judging.py. The notebook's setup provides ``np`` and ``rel_error`` to them.
"""

# Differentiating the forward pass by complex steps, the bias found back from the stored state:
# right on the small cases, far too slow on the large ones.
COMPLEX_STEP_STEP = """
def tanh_step_backward(dh, cache):
    b_h = np.arctanh(cache.h[0]) - cache.x[0] @ cache.W_hx.T - cache.h_prev[0] @ cache.W_hh.T
    inputs = [cache.x, cache.h_prev, cache.W_hx, cache.W_hh, b_h]
    def loss(x, h_prev, W_hx, W_hh, b_h):
        return np.sum(np.tanh(x @ W_hx.T + h_prev @ W_hh.T + b_h) * dh)
    grads = []
    for i, value in enumerate(inputs):
        grad = np.zeros(value.shape)
        for index in np.ndindex(value.shape):
            moved = [v.astype(complex) for v in inputs]
            moved[i][index] += 1e-30j
            grad[index] = loss(*moved).imag / 1e-30
        grads.append(grad)
    return tuple(grads)
"""

COMPLEX_STEP_RNN = """
def tanh_rnn_backward(dO, cache):
    first = cache.steps[0]
    b_h = np.arctanh(first.h[0]) - first.x[0] @ first.W_hx.T - first.h_prev[0] @ first.W_hh.T
    params = {"W_hx": first.W_hx, "W_hh": first.W_hh, "b_h": b_h, "W_qh": cache.W_qh,
              "b_q": np.zeros(len(cache.W_qh)), "h0": first.h_prev}
    def loss(P):
        h, total = P["h0"], 0
        for t, step in enumerate(cache.steps):
            h = np.tanh(step.x @ P["W_hx"].T + h @ P["W_hh"].T + P["b_h"])
            total = total + np.sum(dO[t] * (h @ P["W_qh"].T + P["b_q"]))
        return total
    grads = {}
    for name, value in params.items():
        grads[name] = np.zeros(value.shape)
        for index in np.ndindex(value.shape):
            moved = {k: v.astype(complex) for k, v in params.items()}
            moved[name][index] += 1e-30j
            grads[name][index] = loss(moved).imag / 1e-30
    return grads
"""

READS_THE_CLOSURE = """
def directional_check(f, x, grad, rng, num_directions=3, eps=1e-5):
    cells = dict(zip(f.__code__.co_freevars, (c.cell_contents for c in f.__closure__)))
    A, x0 = cells.get("A"), cells["x"]
    exact = 3 * x0 ** 2 if A is None else A * np.cos(x0)
    worst = 0.0
    for _ in range(num_directions):
        v = rng.standard_normal(x.shape)
        f(), f()
        worst = max(worst, rel_error(np.sum(exact * v), np.sum(grad * v)))
    return worst
"""

# Honest work written unlike the solution: log-probabilities, einsum, all error terms first,
# directions drawn at once. It earns every point.
DIFFERENTLY = {
    "softmax_ce_backward": """
def softmax_cross_entropy_backward(O, targets):
    T, B, q = O.shape
    shifted = O - O.max(axis=2, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    return (np.exp(log_p) - (np.arange(q) == targets[..., None])) / (T * B)
""",
    "tanh_step_backward": """
def tanh_step_backward(dh, cache):
    dz = dh * (1 - cache.h) * (1 + cache.h)
    return (np.einsum("bi,id->bd", dz, cache.W_hx), np.einsum("bi,ij->bj", dz, cache.W_hh),
            np.einsum("bi,bd->id", dz, cache.x), np.einsum("bi,bj->ij", dz, cache.h_prev),
            dz.sum(axis=0))
""",
    "tanh_rnn_backward": """
def tanh_rnn_backward(dO, cache):
    T, W_hh = len(cache.steps), cache.steps[0].W_hh
    X = np.stack([step.x for step in cache.steps])
    H_prev = np.stack([step.h_prev for step in cache.steps])
    from_outputs = dO @ cache.W_qh
    deltas = np.empty_like(cache.H)
    for t in range(T - 1, -1, -1):
        total = from_outputs[t] if t == T - 1 else from_outputs[t] + deltas[t + 1] @ W_hh
        deltas[t] = total * (1 - cache.H[t] ** 2)
    axes = ([0, 1], [0, 1])
    return {"W_qh": np.tensordot(dO, cache.H, axes), "b_q": dO.sum(axis=(0, 1)),
            "W_hx": np.tensordot(deltas, X, axes), "W_hh": np.tensordot(deltas, H_prev, axes),
            "b_h": deltas.sum(axis=(0, 1)), "h0": deltas[0] @ W_hh}
""",
    "directional_check": """
def directional_check(f, x, grad, rng, num_directions=3, eps=1e-5):
    saved, errors = x.copy(), []
    for v in rng.standard_normal((num_directions, *x.shape)):
        x += eps * v
        up = f()
        x -= 2 * eps * v
        down = f()
        np.copyto(x, saved)
        errors.append(rel_error((up - down) / 2 / eps, float(np.vdot(grad, v))))
    return max(errors)
""",
}
