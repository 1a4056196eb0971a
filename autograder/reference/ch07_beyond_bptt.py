"""How the exercises of chapter 7 ("Beyond plain BPTT") are graded (instructor only).

The page teaches checkpointing and UORO on the linear RNN of ``bptt.checkpointing`` and
``bptt.online``. The notebook asks for the RNN with an activation passed in and a softmax output,

    h_t = phi(z_t),  z_t = W_hx x_t + W_hh h_{t-1} + b_h,  o_t = W_qh h_t + b_q,

with the mean cross-entropy against integer targets as the loss:

1. ``checkpointed_gradients(X, targets, h0, params, phi, d_phi, budget)``: the gradients of
   L = 1/(T B) sum_t sum_b CE (W_hx, W_hh, b_h, W_qh, b_q and h0) while holding at most ``budget``
   arrays of shape (B, h) at once. Judged against full BPTT here to ``TOL``. Every call runs
   through ``bptt.memory.measure_apart`` in the probe (kind ``memory``), and on the long cases (the
   visible T = 400, a hidden T = 400 with B = h = 64, and T = 300 to 3000 in the memory check)
   the peak must also stay within ``bptt.checks.allowance``: no room for storing every state,
   both z_t and h_t in segments of sqrt(T), or the input projections of all steps at once. On
   these sizes, differentiating the forward pass instead takes minutes, past a cell's limit.
   The memory the call writes must stay within the allowance plus ``WRITTEN_SLACK`` too: arrays
   made before the call and filled during it, and mapped memory, which tracemalloc does not see,
   count there; files cannot grow during the call. The scan flags such code as well.
2. ``uoro_step``: one step of UORO (Tallec and Ollivier 2018) for one stream, judged to ``TOL``
   for given signs nu.
3. ``uoro_gradient(X, targets, h0, params, phi, d_phi, rng)``: one UORO estimate of the gradient
   of L = 1/T sum_t CE for one stream, the parameters held fixed. The probe calls it once per
   seed of the case (``repeated``). The output layer must be exact in every estimate. For the
   recurrent parameters the grader knows the exact distribution of the estimate: the sign
   patterns nu_1..nu_T are finitely many (2^(hT), small cases only), so it enumerates them all.
   From the distribution's variance, fourth moment and largest deviation, Bernstein's inequality
   (for the mean) and the bounds for sums of non-negative variables and Bernstein's inequality (for
   the mean squared deviation from the exact gradient) give, for every coordinate, the range that
   n honest estimates fall in except with a probability of at most ``DELTA`` for the whole case,
   whatever the seeds. The exact gradient, a deterministic answer or noise of another size
   falls outside.

Every case passes the activation and its derivative as ``bptt.probe.Activation`` objects (tanh,
softsign, the logistic sigmoid), so a hard-coded tanh fails and no complex step goes through them.
W_hh has a spectral norm below 1, so every honest order of computation agrees to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from autograder.reference.judging import Case, Check, compare_named
from bptt.checks import estimates_mismatch, memory_mismatch, mismatch
from bptt.probe import Activation
from bptt.rnn import softmax

ASSIGNMENT = "ch07-beyond-bptt"
TOL = 1e-10
EPS = 1e-7  # keeps UORO's scaling numbers c_0 and c_1 finite
KEYS = ("W_hx", "W_hh", "b_h", "W_qh", "b_q", "h0")
RECURRENT = ("W_hx", "W_hh", "b_h")
OUTPUT = ("W_qh", "b_q")
DELTA = 1e-7  # the chance, per case, that honest estimates fall outside the accepted ranges
ROUNDING = 1e-9  # relative to the largest estimate: what rounding may move a mean
# A case is drawn again until its bounds are tight enough to tell UORO from other estimators: the
# accepted mean squared deviation within [0.25, 3] times the variance, the accepted distance of the
# mean within 10 standard errors, and no coordinate's variance below 1e-6 times the largest.
INFORMATIVE = {"low": 0.25, "high": 3.0, "tolerance": 10.0, "variance": 1e-6}
SAMPLES = 1000  # UORO estimates per case


# --- The model and its exact gradients ---------------------------------------------------------

def activation(name: str) -> tuple[Activation, Activation]:
    return Activation(name), Activation("d_" + name)


def _output_delta(h: np.ndarray, targets: np.ndarray, params: dict, scale: float) -> np.ndarray:
    """dL/do (B, q) of the cross-entropy of softmax(W_qh h + b_q) for h (B, h), times ``scale``."""
    delta = softmax(h @ params["W_qh"].T + params["b_q"])
    delta[np.arange(len(targets)), targets] -= 1.0
    return delta * scale


def rnn_gradients(X, targets, h0, params, phi, d_phi) -> dict[str, np.ndarray]:
    """dL/d W_hx, W_hh, b_h, W_qh, b_q and h0 by BPTT, every state stored.

    X (T, B, d), targets (T, B), h0 (B, h); L = 1/(T B) sum_t sum_b CE(o_tb, y_tb).
    """
    T, B = targets.shape
    H, Z = [np.asarray(h0, dtype=np.float64)], []
    for x in X:
        Z.append(x @ params["W_hx"].T + H[-1] @ params["W_hh"].T + params["b_h"])
        H.append(phi(Z[-1]))
    grads = {key: np.zeros_like(params[key], dtype=np.float64) for key in KEYS[:5]}
    carried = np.zeros_like(H[0])
    for t in reversed(range(T)):
        d_o = _output_delta(H[t + 1], targets[t], params, 1.0 / (T * B))
        grads["W_qh"] += d_o.T @ H[t + 1]
        grads["b_q"] += d_o.sum(axis=0)
        delta = (carried + d_o @ params["W_qh"]) * d_phi(Z[t])
        grads["W_hx"] += delta.T @ X[t]
        grads["W_hh"] += delta.T @ H[t]
        grads["b_h"] += delta.sum(axis=0)
        carried = delta @ params["W_hh"]
    grads["h0"] = carried
    return grads


def stream_gradients(X, targets, h0, params, phi, d_phi) -> dict[str, np.ndarray]:
    """dL/d of the five parameters for one stream: X (T, d), targets (T,), h0 (h,), L = 1/T sum_t CE."""
    grads = rnn_gradients(X[:, None], targets[:, None], h0[None], params, phi, d_phi)
    return {key: grads[key] for key in KEYS[:5]}


def uniform_budget(T: int) -> int:
    """The fewest stored states of a uniform schedule: min over k of ceil(T / k) + k."""
    return min(math.ceil(T / k) + k for k in range(1, T + 1))


# --- UORO ----------------------------------------------------------------------------------------

def _norm(arrays) -> float:
    return math.sqrt(sum(float(np.sum(np.square(a))) for a in arrays))


def uoro_step(x, h_prev, s_tilde, theta_tilde, nu, params, phi, d_phi):
    """One step of UORO for one stream: (h (h,), s~ (h,), theta~ {W_hx (h, d), W_hh (h, h), b_h (h,)})."""
    z = params["W_hx"] @ x + params["W_hh"] @ h_prev + params["b_h"]
    slope = d_phi(z)
    carried = slope * (params["W_hh"] @ s_tilde)  # J_t s~_{t-1}
    pushed = {"W_hx": np.outer(slope * nu, x), "W_hh": np.outer(slope * nu, h_prev),
              "b_h": slope * nu}  # F_t^T nu_t
    c0 = math.sqrt((_norm(theta_tilde.values()) + EPS) / (_norm([carried]) + EPS))
    c1 = math.sqrt((_norm(pushed.values()) + EPS) / (_norm([nu]) + EPS))
    theta = {key: theta_tilde[key] / c0 + pushed[key] / c1 for key in RECURRENT}
    return phi(z), c0 * carried + c1 * nu, theta


def uoro_estimates(X, targets, h0, params, phi, d_phi, signs) -> np.ndarray:
    """(patterns, entries) UORO estimates of the recurrent gradients (W_hx, W_hh, b_h flattened in
    turn), one per pattern of signs in ``signs`` (patterns, T, h); the tests pass other draws too.
    The states do not depend on the signs: only s~ and theta~ do."""
    P, T, size = signs.shape
    h = np.asarray(h0, dtype=np.float64)
    s_tilde, theta = np.zeros((P, size)), np.zeros((P, size * (X.shape[1] + size + 1)))
    estimates = np.zeros_like(theta)
    for t in range(T):
        z = params["W_hx"] @ X[t] + params["W_hh"] @ h + params["b_h"]
        slope = d_phi(z)
        carried = (s_tilde @ params["W_hh"].T) * slope
        scaled = signs[:, t] * slope
        pushed = np.concatenate([(scaled[:, :, None] * X[t]).reshape(P, -1),
                                 (scaled[:, :, None] * h).reshape(P, -1), scaled], axis=1)
        c0 = np.sqrt((np.linalg.norm(theta, axis=1) + EPS) / (np.linalg.norm(carried, axis=1) + EPS))
        c1 = np.sqrt((np.linalg.norm(pushed, axis=1) + EPS) / (np.linalg.norm(signs[:, t], axis=1) + EPS))
        s_tilde = c0[:, None] * carried + c1[:, None] * signs[:, t]
        theta = theta / c0[:, None] + pushed / c1[:, None]
        h = phi(z)
        g_h = _output_delta(h[None], targets[t:t + 1], params, 1.0 / T)[0] @ params["W_qh"]
        estimates += (s_tilde @ g_h)[:, None] * theta
    return estimates


def uoro_gradient(X, targets, h0, params, phi, d_phi, rng) -> dict[str, np.ndarray]:
    """One UORO estimate of the gradient of L = 1/T sum_t CE for one stream, signs drawn from rng."""
    T, size = len(X), len(h0)
    grads = stream_gradients(X, targets, h0, params, phi, d_phi)
    flat = uoro_estimates(X, targets, h0, params, phi, d_phi,
                          rng.choice([-1.0, 1.0], size=(1, T, size)))[0]
    ends = np.cumsum([params[key].size for key in RECURRENT])[:-1]
    for key, part in zip(RECURRENT, np.split(flat, ends)):
        grads[key] = part.reshape(params[key].shape)
    return grads


def sign_patterns(T: int, h: int) -> np.ndarray:
    """(2^(hT - 1), T, h) every pattern of signs with nu_1[0] = +1. Flipping every sign leaves the
    estimate unchanged (s~ and theta~ both change sign), so these are all its values, equally likely."""
    bits = (np.arange(2 ** (h * T - 1))[:, None] >> np.arange(h * T - 1)) & 1
    return np.concatenate([np.ones((len(bits), 1)), 2.0 * bits - 1.0], axis=1).reshape(-1, T, h)


def _bernstein(n: int, variance, bound, log_odds: float):
    """t with exp(-n t^2 / (2 variance + 2 bound t / 3)) = exp(-log_odds): the deviation of a mean."""
    a = 2.0 * bound * log_odds / 3.0
    return (a + np.sqrt(a * a + 8.0 * n * variance * log_odds)) / (2.0 * n)


def acceptance(values: np.ndarray, exact: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per coordinate, what n honest estimates give, from all ``values`` (patterns, entries) of the
    estimator (equally likely) and its mean ``exact`` (entries,): ``variance``; ``tolerance``, the
    largest distance of their mean from ``exact``; ``low`` and ``high``, the range of their mean
    squared deviation from ``exact``. The three bounds of every entry share the failure probability
    DELTA."""
    deviation = values - exact
    variance = np.mean(deviation ** 2, axis=0)
    fourth = np.mean(deviation ** 4, axis=0)
    largest = np.max(np.abs(deviation), axis=0)
    log_odds = math.log(3 * values.shape[1] / DELTA)
    rounding = ROUNDING * np.max(np.abs(values))
    return {"variance": variance,
            "tolerance": _bernstein(n, variance, largest, log_odds + math.log(2.0)) + rounding,
            # the squared deviations are non-negative, with mean ``variance`` and mean square ``fourth``
            "low": np.maximum(variance - np.sqrt(2.0 * fourth * log_odds / n), 0.0),
            "high": variance + _bernstein(n, fourth - variance ** 2, largest ** 2, log_odds)}


def informative(bounds: dict[str, np.ndarray], n: int) -> bool:
    """Whether the ranges are tight enough to tell UORO from the exact gradient, from noise of
    another size and from other signs: see INFORMATIVE."""
    variance = bounds["variance"]
    error = np.sqrt(variance / n)
    return bool(np.all(variance >= INFORMATIVE["variance"] * variance.max())
                and np.all(bounds["low"] >= INFORMATIVE["low"] * variance)
                and np.all(bounds["high"] <= INFORMATIVE["high"] * variance)
                and np.all(bounds["tolerance"] <= INFORMATIVE["tolerance"] * error))


def uoro_secret(X, targets, h0, params, phi, d_phi, n: int) -> dict:
    """The exact gradients and the acceptance bounds of n estimates on one stream."""
    exact = stream_gradients(X, targets, h0, params, phi, d_phi)
    values = uoro_estimates(X, targets, h0, params, phi, d_phi, sign_patterns(len(X), len(h0)))
    flat = np.concatenate([exact[key].ravel() for key in RECURRENT])
    return {"exact": exact, "bounds": acceptance(values, flat, n)}


# --- The notebook's problems ---------------------------------------------------------------------

def notebook_problem(seed: int, T: int, B: int, d: int, h: int, q: int):
    """(X (T, B, d), targets (T, B), h0 (B, h), params) as the notebook's ``rnn_problem`` makes them."""
    rng = np.random.default_rng(seed)
    W_hh = rng.standard_normal((h, h))
    params = {"W_hx": rng.standard_normal((h, d)) / np.sqrt(d),
              "W_hh": 0.9 * W_hh / np.linalg.norm(W_hh, 2),
              "b_h": 0.1 * rng.standard_normal(h),
              "W_qh": 2.0 * rng.standard_normal((q, h)) / np.sqrt(h),
              "b_q": 0.1 * rng.standard_normal(q)}
    X = rng.standard_normal((T, B, d))
    return X, rng.integers(0, q, size=(T, B)), 0.5 * rng.standard_normal((B, h)), params


def notebook_stream(seed: int, T: int, d: int, h: int, q: int):
    """(X (T, d), targets (T,), h0 (h,), params) as the notebook's ``stream_problem`` makes them."""
    X, targets, h0, params = notebook_problem(seed, T, 1, d, h, q)
    return X[:, 0], targets[:, 0], h0[0], params


SHOWN_SHORT = (0, 12, 2, 3, 4, 3)  # seed, T, B, d, h, q
SHOWN_SHORT_BUDGET = 7
SHOWN_LONG = (1, 400, 32, 8, 32, 8)
SHOWN_LONG_BUDGET = 40
SHOWN_ACTIVATIONS = ("tanh", "softsign")
SHOWN_STREAM = (2, 4, 2, 3, 3)  # seed, T, d, h, q
SHOWN_SIGNS = 3  # the seed of the notebook's signs for three steps of uoro_step
SHOWN_STEPS = 3


def shown_steps() -> list[tuple]:
    """The notebook's three calls of uoro_step, each on the reference's previous outputs."""
    X, _, h0, params = notebook_stream(*SHOWN_STREAM)
    signs = np.random.default_rng(SHOWN_SIGNS).choice([-1.0, 1.0], size=(SHOWN_STEPS, len(h0)))
    calls, h, s_tilde = [], h0, np.zeros(len(h0))
    theta = {key: np.zeros_like(params[key]) for key in RECURRENT}
    for t in range(SHOWN_STEPS):
        calls.append((X[t], h, s_tilde, theta, signs[t], params, *activation("tanh")))
        h, s_tilde, theta = uoro_step(*calls[-1])
    return calls


def _visible_data() -> dict[str, Callable[[], np.ndarray]]:
    """Expected values of the visible cells, by the names ``bptt.checks.expected`` reads."""
    data = {}
    short, long_ = notebook_problem(*SHOWN_SHORT), notebook_problem(*SHOWN_LONG)
    for name in SHOWN_ACTIVATIONS:
        for key in KEYS:
            data[f"short_{name}/{key}"] = (
                lambda name=name, key=key: rnn_gradients(*short, *activation(name))[key])
    for key in KEYS:
        data[f"long/{key}"] = lambda key=key: rnn_gradients(*long_, *activation("tanh"))[key]

    def step(t: int, i: int):
        return lambda: uoro_step(*shown_steps()[t])[i]

    for t in range(SHOWN_STEPS):
        data[f"step_{t + 1}/h"], data[f"step_{t + 1}/s_tilde"] = step(t, 0), step(t, 1)
        for key in RECURRENT:
            data[f"step_{t + 1}_theta/{key}"] = lambda t=t, key=key: uoro_step(*shown_steps()[t])[2][key]
    secret = _shown_uoro_secret
    for key in KEYS[:5]:
        data[f"uoro_exact/{key}"] = lambda key=key: secret()["exact"][key]
    for key in ("variance", "tolerance", "low", "high"):
        data[f"uoro_bounds/{key}"] = lambda key=key: secret()["bounds"][key]
    return data


def _shown_uoro_secret() -> dict:
    return uoro_secret(*notebook_stream(*SHOWN_STREAM), *activation("tanh"), SAMPLES)


VISIBLE_DATA = _visible_data()


# --- Cases drawn from the grader's seed ----------------------------------------------------------

def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


def random_problem(rng: np.random.Generator, T: int, B: int, d: int, h: int, q: int):
    """A problem like the notebook's, with the spectral norm of W_hh drawn from [0.5, 0.95]."""
    X, targets, h0, params = notebook_problem(int(rng.integers(2**63)), T, B, d, h, q)
    params["W_hh"] *= rng.uniform(0.5, 0.95) / 0.9
    return X, targets, h0, params


def _gradient_case(label: str, problem, name: str, budget: int, memory: bool = False) -> Case:
    """A call of checkpointed_gradients; ``memory``: its peak memory is judged too."""
    X, _, h0, params = problem
    T, B, d = X.shape
    return Case(f"{label}T={T}, B={B}, d={d}, h={h0.shape[1]}, q={params['W_qh'].shape[0]}, "
                f"budget={budget}, phi={name}", (*problem, *activation(name), budget), secret=memory)


def _visible_checkpoint_cases(seed: int) -> list[Case]:
    """The notebook's problems (memory judged on the long one) and fresh ones of the same sizes."""
    short, long_ = notebook_problem(*SHOWN_SHORT), notebook_problem(*SHOWN_LONG)
    cases = [_gradient_case("the notebook's case, ", short, name, SHOWN_SHORT_BUDGET)
             for name in SHOWN_ACTIVATIONS]
    cases.append(_gradient_case("the notebook's long case, ", long_, "tanh", SHOWN_LONG_BUDGET, True))
    cases.append(_gradient_case("fresh case, ", random_problem(_rng(seed, 1, 0), *SHOWN_SHORT[1:]),
                                "tanh", SHOWN_SHORT_BUDGET))
    cases.append(_gradient_case("fresh long case, ", random_problem(_rng(seed, 1, 1), *SHOWN_LONG[1:]),
                                "softsign", SHOWN_LONG_BUDGET, True))
    return cases


# (T, B, d, h, q, activation, budget): a single step, a single sequence, d = 1, a budget of T
# and more, the smallest uniform budget where k does not divide T, and a large case, measured,
# that makes differentiating the forward pass (one or two passes per entry of 11,000) take minutes.
HIDDEN_SIZES = [(1, 1, 2, 3, 2, "tanh", 2), (7, 3, 4, 5, 3, "sigmoid", None),
                (12, 2, 3, 4, 5, "softsign", 12), (13, 4, 1, 6, 2, "tanh", None),
                (30, 2, 5, 3, 4, "sigmoid", 45), (50, 5, 3, 8, 4, "softsign", None),
                (400, 64, 32, 64, 16, "tanh", None)]
# Long cases where a state outweighs the parameters: the budget a uniform schedule needs, a
# larger one, and T (where every state may be stored, but not z_t as well).
MEMORY_SIZES = [(2000, 64, 16, 64, 16, "tanh", None), (3000, 64, 16, 64, 16, "softsign", 150),
                (300, 64, 16, 64, 16, "sigmoid", 300)]


def _sized_cases(seed: int, stream: int, sizes, measured: int) -> list[Case]:
    """Cases of the given sizes; the peak memory is judged on the last ``measured`` of them."""
    return [_gradient_case("", random_problem(_rng(seed, stream, i), T, B, d, h, q), name,
                           uniform_budget(T) if budget is None else budget, i >= len(sizes) - measured)
            for i, (T, B, d, h, q, name, budget) in enumerate(sizes)]


def _gradient_verdict(case: Case, result) -> str | None:
    """The six gradients to TOL."""
    if isinstance(result, dict) and set(result) - set(KEYS):
        return (f"return a dict with exactly the keys {list(KEYS)}; "
                f"yours also has {sorted(set(result) - set(KEYS))}")
    return compare_named(result, rnn_gradients(*case.value[:6]), TOL)


def _measured_verdict(case: Case, result) -> str | None:
    """The gradients to TOL; then, where the case says so, the peak memory against the allowance."""
    if not isinstance(result, dict) or set(result) != {"result", "peak", "seconds", "written"}:
        return "the check's record is incomplete"
    message = _gradient_verdict(case, result["result"])
    if message or not case.secret:
        return message
    X, _, h0, params, _, _, budget = case.value
    peak, written = result["peak"], result["written"]
    if not all(isinstance(v, np.ndarray) and v.shape == () for v in (peak, written)):
        return "the peak memory could not be read"
    return memory_mismatch(float(peak), budget, X.shape[1], h0.shape[1], params, float(written))


# --- UORO cases ----------------------------------------------------------------------------------

def _step_case(label: str, rng: np.random.Generator, d: int, h: int, name: str, steps: int) -> Case:
    """A call of uoro_step after ``steps`` reference steps from s~ = 0, theta~ = 0 (none: the start)."""
    X, _, h0, params = random_problem(rng, steps + 1, 1, d, h, 2)
    X, h = X[:, 0], h0[0]
    s_tilde, theta = np.zeros(h.shape), {key: np.zeros_like(params[key]) for key in RECURRENT}
    f = activation(name)
    for t in range(steps):
        h, s_tilde, theta = uoro_step(X[t], h, s_tilde, theta, rng.choice([-1.0, 1.0], len(h)), params, *f)
    where = "from s~ = 0, theta~ = 0" if steps == 0 else f"after {steps} steps"
    return Case(f"{label}d={d}, h={len(h)}, phi={name}, {where}",
                (X[steps], h, s_tilde, theta, rng.choice([-1.0, 1.0], len(h)), params, *f))


def _step_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        _, _, d, h, _ = SHOWN_STREAM
        cases = [Case(f"the notebook's step {t + 1}", call) for t, call in enumerate(shown_steps())]
        return cases + [_step_case("fresh step, ", _rng(seed, 3, i), d, h, "tanh", steps)
                        for i, steps in enumerate((0, 4))]
    specs = [(1, 1, "tanh", 0), (1, 1, "sigmoid", 3), (4, 2, "softsign", 0), (4, 2, "sigmoid", 5),
             (2, 5, "tanh", 2), (3, 3, "softsign", 7)]
    return [_step_case("", _rng(seed, 4, i), d, h, name, steps)
            for i, (d, h, name, steps) in enumerate(specs)]


def _step_verdict(case: Case, result) -> str | None:
    h, s_tilde, theta = uoro_step(*case.value)
    if not isinstance(result, list) or len(result) != 3:
        return "expected the tuple (h, s_tilde, theta_tilde)"
    return (compare_named(result[:2], {"h": h, "s_tilde": s_tilde}, TOL, order=("h", "s_tilde"))
            or compare_named(result[2], theta, TOL))


def _uoro_case(label: str, rng: np.random.Generator, T: int, d: int, h: int, q: int, name: str,
               seeds: np.random.Generator) -> Case:
    """A stream whose bounds are informative, drawn again until they are; the seeds of the calls."""
    f = activation(name)
    while True:
        X, targets, h0, params = random_problem(rng, T, 1, d, h, q)
        problem = (X[:, 0], targets[:, 0], h0[0], params)
        secret = uoro_secret(*problem, *f, SAMPLES)
        if informative(secret["bounds"], SAMPLES):
            break
    return Case(f"{label}T={T}, d={d}, h={h}, q={q}, phi={name}, {SAMPLES} estimates",
                {"arguments": [*problem, *f], "seeds": seeds.integers(2**63, size=SAMPLES)},
                secret=secret)


def _uoro_cases(seed: int, visible: bool) -> list[Case]:
    seeds = _rng(seed, 5)
    if visible:
        _, T, d, h, q = SHOWN_STREAM
        shown = Case(f"the notebook's stream, T={T}, d={d}, h={h}, q={q}, phi=tanh, {SAMPLES} estimates",
                     {"arguments": [*notebook_stream(*SHOWN_STREAM), *activation("tanh")],
                      "seeds": seeds.integers(2**63, size=SAMPLES)}, secret=_shown_uoro_secret())
        return [shown, _uoro_case("fresh stream, ", _rng(seed, 6), T, d, h, q, "tanh", seeds)]
    specs = [(1, 2, 3, 2, "tanh"), (4, 2, 3, 3, "softsign"), (3, 3, 4, 2, "sigmoid"),
             (6, 1, 2, 2, "tanh")]
    return [_uoro_case("", _rng(seed, 7, i), T, d, h, q, name, seeds)
            for i, (T, d, h, q, name) in enumerate(specs)]


def _uoro_verdict(case: Case, result) -> str | None:
    """Every estimate's output layer exact; the recurrent part where n UORO estimates fall."""
    samples = result.get("samples") if isinstance(result, dict) else None
    n = len(case.value["seeds"])
    if not isinstance(samples, dict):
        return "expected a dict of gradients from every call"
    exact, bounds = case.secret["exact"], case.secret["bounds"]
    missing = [key for key in exact if key not in samples]
    if missing:
        return f"the result lacks the keys {missing}"
    for key, value in exact.items():
        if not isinstance(samples[key], np.ndarray) or samples[key].shape != (n, *value.shape):
            shape = getattr(samples[key], "shape", None)
            return f"dL/d{key}: expected {n} estimates of shape {value.shape}, got {shape}"
    for key in OUTPUT:
        message = mismatch(f"dL/d{key} (exact in every estimate)", samples[key],
                           np.broadcast_to(exact[key], samples[key].shape), TOL)
        if message:
            return message
    return estimates_mismatch(samples, exact, bounds, RECURRENT)


CHECKS = {
    "test_checkpointed_visible": Check("memory", _visible_checkpoint_cases, _measured_verdict),
    "test_checkpointed_hidden": Check("memory", lambda seed: _sized_cases(seed, 2, HIDDEN_SIZES, 1),
                                      _measured_verdict),
    "test_checkpointed_memory": Check("memory", lambda seed: _sized_cases(seed, 8, MEMORY_SIZES, 3),
                                      _measured_verdict),
    "test_uoro_step_visible": Check("call", lambda seed: _step_cases(seed, True), _step_verdict),
    "test_uoro_step_hidden": Check("call", lambda seed: _step_cases(seed, False), _step_verdict),
    "test_uoro_gradient_visible": Check("repeated", lambda seed: _uoro_cases(seed, True), _uoro_verdict),
    "test_uoro_gradient_hidden": Check("repeated", lambda seed: _uoro_cases(seed, False), _uoro_verdict),
}
