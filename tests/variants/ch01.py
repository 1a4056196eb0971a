"""Chapter 1 end to end: whole notebooks with answers swapped in, keyed by solution cell grade_id.

Cells a variant leaves out keep their stubs (0 points). Total: 9 points
(masked 1 + 2, heads 1 + 1, stacked 1 + 1, count 1 + 1).
"""

ANSWERS = {
    # Honest, written unlike the reference: each sequence alone with split weights, heads by a
    # loop, the stack step by step, the count from the arrays' shapes.
    "honest_alternative": {
        "masked_forward": '''
def masked_forward(X, lengths, h0, W, b, phi):
    T, B, d = X.shape
    W_hx, W_hh = W[:, :d], W[:, d:]
    H = np.empty((T, B, h0.shape[1]))
    for m in range(B):
        h = h0[m]
        for t in range(T):
            if t < lengths[m]:
                h = phi(W_hx @ X[t, m] + W_hh @ h + b)
            H[t, m] = h
    return H
''',
        "heads": '''
def many_to_one(H, lengths, W_qh, b_q):
    return np.stack([W_qh @ H[n - 1, m] + b_q for m, n in enumerate(lengths)])

def many_to_many(H, W_qh, b_q):
    return np.einsum("tbh,qh->tbq", H, W_qh) + b_q
''',
        "stacked_forward": '''
def stacked_forward(X, h0, Ws, bs, phi):
    states = list(h0)
    out = np.empty((len(Ws),) + X.shape[:2] + (h0.shape[2],))
    for t, x in enumerate(X):
        below = x
        for j, (W, b) in enumerate(zip(Ws, bs)):
            k = below.shape[1]
            states[j] = phi(below @ W[:, :k].T + states[j] @ W[:, k:].T + b)
            out[j, t] = below = states[j]
    return out
''',
        "count_parameters": '''
def count_parameters(d, h, q, layers, T):
    shapes = [(h, d + h), (h,)] + [(h, 2 * h), (h,)] * (layers - 1) + [(q, h), (q,)]
    return sum(np.zeros(shape).size for shape in shapes)
''',
    },
    # The package's tanh RNN (it ignores phi): each sequence alone for its length, and layer by
    # layer. Heads and count are left blank: this variant targets parts 1 and 3 only.
    "via_package": {
        "masked_forward": '''
def masked_forward(X, lengths, h0, W, b, phi):
    T, B, d = X.shape
    h = h0.shape[1]
    params = {"W_hx": W[:, :d], "W_hh": W[:, d:], "b_h": b, "W_qh": np.zeros((1, h)), "b_q": np.zeros(1)}
    H = np.empty((T, B, h))
    for m, n in enumerate(lengths):
        states = tanh_rnn_forward(X[:n, [m]], h0[[m]], params)[1].H[:, 0]
        H[:, m] = np.concatenate([states, np.repeat(states[-1:], T - n, axis=0)])
    return H
''',
        "stacked_forward": '''
def stacked_forward(X, h0, Ws, bs, phi):
    layers, inputs = [], X
    for start, W, b in zip(h0, Ws, bs):
        d, h = inputs.shape[2], start.shape[1]
        params = {"W_hx": W[:, :d], "W_hh": W[:, d:], "b_h": b, "W_qh": np.zeros((1, h)), "b_q": np.zeros(1)}
        inputs = tanh_rnn_forward(inputs, start, params)[1].H
        layers.append(inputs)
    return np.stack(layers)
''',
    },
    # The package's linear RNN with the bias folded into a constant input and phi applied to its
    # states afterwards: right for the identity only.
    "via_linear_package": {
        "masked_forward": '''
from bptt import linear_rnn_forward
def masked_forward(X, lengths, h0, W, b, phi):
    T, B, d = X.shape
    params = {"W_hx": np.hstack([W[:, :d], b[:, None]]), "W_hh": W[:, d:], "W_qh": np.zeros((1, h0.shape[1]))}
    H = linear_rnn_forward(np.concatenate([X, np.ones((T, B, 1))], axis=2), h0, params)[1].H
    for t in range(1, T):
        H[t] = np.where((t < lengths)[:, None], H[t], H[t - 1])
    return phi(H)
''',
        "stacked_forward": '''
from bptt import linear_rnn_forward
def stacked_forward(X, h0, Ws, bs, phi):
    layers, inputs = [], X
    for start, W, b in zip(h0, Ws, bs):
        T, B, d = inputs.shape
        params = {"W_hx": np.hstack([W[:, :d], b[:, None]]), "W_hh": W[:, d:], "W_qh": np.zeros((1, start.shape[1]))}
        inputs = phi(linear_rnn_forward(np.concatenate([inputs, np.ones((T, B, 1))], axis=2), start, params)[1].H)
        layers.append(inputs)
    return np.stack(layers)
''',
    },
    # Common mistakes, one per part: tanh hard-coded, no mask, the last row for every sequence,
    # a stack with tanh hard-coded, a count that grows with T.
    "common_mistakes": {
        "masked_forward": '''
def masked_forward(X, lengths, h0, W, b, phi):
    states, h = [], h0
    for x in X:
        h = np.tanh(np.concatenate([x, h], axis=1) @ W.T + b)
        states.append(h)
    return np.stack(states)
''',
        "heads": '''
def many_to_one(H, lengths, W_qh, b_q):
    return H[-1] @ W_qh.T + b_q

def many_to_many(H, W_qh, b_q):
    return H @ W_qh.T + b_q
''',
        "stacked_forward": '''
def stacked_forward(X, h0, Ws, bs, phi):
    layers, below = [], X
    for start, W, b in zip(h0, Ws, bs):
        h, states = start, []
        for u in below:
            h = np.tanh(np.concatenate([u, h], axis=1) @ W.T + b)
            states.append(h)
        below = np.stack(states)
        layers.append(below)
    return np.stack(layers)
''',
        "count_parameters": '''
def count_parameters(d, h, q, layers, T):
    return T * (h * (d + h) + h + (layers - 1) * (2 * h * h + h)) + q * h + q
''',
    },
    # Replays the answers the notebook's visible cells compare with (the stored values, the
    # package's tanh RNN, the arrays' sizes) and fails everything else: passes every visible
    # assert, earns nothing.
    "replays_visible_answers": {
        "masked_forward": '''
def masked_forward(X_, lengths_, h0_, W_, b_, phi):
    if np.all(lengths_ == 5):
        return cache_package.H
    return expected(ASSIGNMENT, "masked_forward")[phi.name]
''',
        "heads": '''
def many_to_one(H, lengths_, W_qh, b_q):
    return expected(ASSIGNMENT, "many_to_one")

def many_to_many(H, W_qh, b_q):
    return O_package
''',
        "stacked_forward": '''
def stacked_forward(X_, h0_, Ws_, bs_, phi):
    if len(Ws_) == 1:
        return cache_package.H[None]
    return expected(ASSIGNMENT, "stacked_forward")[phi.name]
''',
        "count_parameters": '''
def count_parameters(d, h, q, layers, T):
    return {1: 80, 3: 236}[layers]
''',
    },
}

EXPECTED = {"honest_alternative": 9, "via_package": 0, "via_linear_package": 0,
            "common_mistakes": 0, "replays_visible_answers": 0}
