"""How the exercises of chapter 3 ("Truncation") are graded (instructor only).

The page teaches truncation on the vector tanh RNN, with torch computing the gradients. The
notebook asks for the same ideas, in numpy, where chapters 2 and 3 give every derivative as a
formula, so that no exercise needs the backward pass of chapter 4:

1. ``truncated_gradient``: regular truncation of the scalar RNN h_t = phi(w_x x_t + w_h h_{t-1})
   (one number per sequence, a batch of B sequences, the loss
   L = 1/(T B) sum_t sum_m 1/2 (h_{t,m} - y_{t,m})^2), one chunk of tau steps at a time, the state
   carried from chunk to chunk, the chunks' parts of L added up; returns the gradients of w_x and
   w_h and the final state;
2. ``randomized_gradient``: the estimate (eq-ch3-recurrence) of the same model for given
   multipliers xi (T,), xi[t - 1] = xi_t;
3. ``monte_carlo_gradient``: the mean and standard error of n randomized estimates
   sum_{i <= t} G_{t,i} xi_{i+1} ... xi_t (eq-ch3-shares) for given path shares G (T, T), with the
   multipliers drawn by ``randomized_multipliers(T, delayed_schedule(shortest, p), rng)``.

Parts 1 and 2 are compared with the answers below to ``TOL``. Every case passes the activation
and its derivative as ``bptt.probe.Activation`` (tanh, softsign, the logistic sigmoid), so a
hard-coded tanh fails and no complex step goes through them. Cases are drawn again until each
gradient is at least ``CONDITION`` times the sum of the moduli of its path terms (so that rounding
cannot reach ``TOL`` in any honest order of summation) and, where truncation cuts, until the
estimate differs from the full gradient (so that the full gradient earns nothing).

Part 3 is judged against the exact distribution of the estimator, enumerated over all 2^(T-1)
patterns of cuts: its mean (the full gradient, by the chapter's proposition), standard deviation,
fourth central moment and largest deviation. From these, Bernstein's inequality bounds how far
the mean of n honest samples can stray, and the one-sided bounds for sums of non-negative
variables (lower tail) and Bernstein's inequality (upper tail), applied to the squared deviations,
bound the sample standard deviation. Each bound fails with probability at most ``DELTA`` for an
honest implementation, whatever the seed of its draws: at most 3 DELTA per case, so below one in
a million for the six cases of a notebook. Shares whose estimator has tails too heavy for these
bounds to be tight are drawn again (``informative``). A mean equal to
the exact expectation to rounding is not a sample mean and fails; so do a zero standard error (one
sample reused) and the standard deviation in place of the standard error.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from autograder.reference.judging import Case, Check, compare, compare_named
from bptt.probe import ACTIVATIONS, Activation
from bptt.truncation import (constant_schedule, delayed_schedule, randomized_multipliers,
                             regular_multipliers)

ASSIGNMENT = "ch03-truncation"
TOL = 1e-10
CONDITION = 1e-3  # |gradient| >= CONDITION * (sum of the moduli of its path terms)
DELTA = 5e-8  # the chance that one statistical bound fails honest work, per case
EXACT = 1e-9  # a mean closer than this many standard errors to the expectation was not sampled
# Shares are drawn again until n samples pin the estimator down: the accepted standard errors
# within SE_RANGE times the exact one, and the mean within MAX_TOLERANCE of them.
SE_RANGE, MAX_TOLERANCE = (0.4, 1.5), 8.0
PARAMS = ("w_x", "w_h")
SHOWN = ("tanh", "softsign")  # the activations of the notebook's visible cells
EVERY = ("tanh", "softsign", "sigmoid")
# |w_h| by activation: large enough that paths through many steps carry weight (phi' <= 1/4 for
# the sigmoid), small enough that the states do not saturate.
W_H_RANGE = {"tanh": (0.8, 1.3), "softsign": (1.0, 2.0), "sigmoid": (2.5, 4.0)}


# --- The model: forward pass and the partial derivatives of each step ---------------------------

def _steps(X, h0, params, phi, dphi) -> dict[str, np.ndarray]:
    """Run h_t = phi(w_x x_t + w_h h_{t-1}) over X (T, B) from h0 (B,).

    Returns, each (T, B) with row t - 1 for step t: the states ``h``, the partial derivatives
    ``w_x`` = dh_t/dw_x = phi'(z_t) x_t and ``w_h`` = dh_t/dw_h = phi'(z_t) h_{t-1}, and the
    one-step Jacobians ``c`` = dh_t/dh_{t-1} = phi'(z_t) w_h.
    """
    w_x, w_h = float(params["w_x"]), float(params["w_h"])
    h_prev = np.asarray(h0, dtype=np.float64)
    rows = {"h": [], "w_x": [], "w_h": [], "c": []}
    for x in np.asarray(X, dtype=np.float64):
        z = w_x * x + w_h * h_prev
        slope = dphi(z)
        rows["w_x"].append(slope * x)
        rows["w_h"].append(slope * h_prev)
        rows["c"].append(slope * w_h)
        h_prev = phi(z)
        rows["h"].append(h_prev)
    return {key: np.array(value) for key, value in rows.items()}


def _estimate(steps: dict, g: np.ndarray, xi: np.ndarray, modulus: bool = False) -> dict:
    """sum_t g_t a~_t with a~_t = b_t + xi_t c_t a~_{t-1}, a~_0 = 0, for each weight (eq-ch3-recurrence).

    g (T, B) holds dL/dh_t (partial); xi (T,). With ``modulus`` every factor is replaced by its
    modulus: the sum of the moduli of the path terms, the scale of the rounding errors.
    """
    f = np.abs if modulus else (lambda a: a)
    out = {}
    for name in PARAMS:
        a, total = np.zeros(g.shape[1]), 0.0
        for b_t, c_t, g_t, xi_t in zip(steps[name], steps["c"], g, xi):
            a = f(b_t) + f(xi_t * c_t) * a
            total += float(np.sum(f(g_t) * a))
        out[name] = total
    return out


def randomized_gradient(X, Y, h0, params, xi, phi, dphi) -> dict[str, float]:
    """The estimate of (dL/dw_x, dL/dw_h) with multipliers xi (T,) on the links h_{t-1} -> h_t."""
    steps = _steps(X, h0, params, phi, dphi)
    g = (steps["h"] - Y) / Y.size  # dL/dh_t of L = 1/(T B) sum 1/2 (h - y)^2
    return _estimate(steps, g, np.asarray(xi, dtype=np.float64))


def full_gradient(X, Y, h0, params, phi, dphi) -> dict[str, float]:
    """dL/dw_x and dL/dw_h exactly."""
    return randomized_gradient(X, Y, h0, params, np.ones(len(X)), phi, dphi)


def truncated_gradient(X, Y, h0, params, tau, phi, dphi):
    """Regular truncation every ``tau`` steps, one chunk at a time, the state carried forward.

    Each chunk's losses keep the whole sequence's factor 1/(T B), so the chunks' gradients add up
    to an estimate of dL/dw. Returns (grads, h_T (B,)).
    """
    grads, h = dict.fromkeys(PARAMS, 0.0), np.asarray(h0, dtype=np.float64)
    for start in range(0, len(X), tau):
        steps = _steps(X[start:start + tau], h, params, phi, dphi)
        g = (steps["h"] - Y[start:start + tau]) / Y.size
        chunk = _estimate(steps, g, regular_multipliers(len(g), len(g)))  # cut at its first step
        grads = {name: grads[name] + chunk[name] for name in PARAMS}
        h = steps["h"][-1]
    return grads, h


def _path_modulus(X, Y, h0, params, xi, phi, dphi) -> dict[str, float]:
    steps = _steps(X, h0, params, phi, dphi)
    return _estimate(steps, (steps["h"] - Y) / Y.size, np.asarray(xi, dtype=np.float64), True)


# --- Part 3: the path form and the exact distribution of the estimator --------------------------

def path_weights(xi: np.ndarray) -> np.ndarray:
    """W (..., T, T) with W[..., t - 1, i - 1] = xi_{i+1} ... xi_t for i <= t (1 when i = t), else 0."""
    xi = np.asarray(xi, dtype=np.float64)
    T = xi.shape[-1]
    W = np.zeros(xi.shape[:-1] + (T, T))
    for t in range(T):
        W[..., t, t] = 1.0
        for i in range(t - 1, -1, -1):
            W[..., t, i] = W[..., t, i + 1] * xi[..., i + 1]
    return W


def monte_carlo_gradient(G, shortest, p, n, seed):
    """Mean and standard error of n estimates sum_{i <= t} G_{t,i} xi_{i+1} ... xi_t, as floats.

    The multipliers of each sample are drawn in turn by
    ``randomized_multipliers(T, delayed_schedule(shortest, p), rng)``, rng = default_rng(seed).
    """
    rng, schedule = np.random.default_rng(seed), delayed_schedule(shortest, p)
    xis = np.array([randomized_multipliers(len(G), schedule, rng) for _ in range(n)])
    samples = np.einsum("kti,ti->k", path_weights(xis), G)
    return float(samples.mean()), float(samples.std(ddof=1) / np.sqrt(n))


def estimator_distribution(G, shortest, p) -> tuple[np.ndarray, np.ndarray]:
    """Every value of the estimate and its probability, over all patterns of cuts.

    Link t (steps 2..T) is kept with probability p_t = 1 while the current piece is younger than
    ``shortest`` steps and p after that, as ``delayed_schedule`` draws it; a kept link has
    xi_t = 1/p_t, a cut one xi_t = 0.
    """
    T = len(G)
    patterns, probabilities = [], []
    for keep in itertools.product((True, False), repeat=T - 1):
        xi, age, probability = np.zeros(T), 1, 1.0
        for t, kept in enumerate(keep, start=1):
            p_t = 1.0 if age < shortest else p
            probability *= p_t if kept else 1.0 - p_t
            xi[t], age = (1.0 / p_t, age + 1) if kept else (0.0, 1)
        if probability > 0:
            patterns.append(xi)
            probabilities.append(probability)
    values = np.einsum("kti,ti->k", path_weights(np.array(patterns)), G)
    return values, np.array(probabilities)


def _bernstein(n: int, variance: float, bound: float, log_odds: float) -> float:
    """t with exp(-n t^2 / (2 variance + 2 bound t / 3)) = exp(-log_odds): the deviation of a mean."""
    a = 2.0 * bound * log_odds / 3.0
    return (a + np.sqrt(a * a + 8.0 * n * variance * log_odds)) / (2.0 * n)


def acceptance(G, shortest, p, n) -> dict[str, float]:
    """What n honest samples give, except with probability 3 DELTA: the exact gradient ``exact``,
    the largest distance ``tolerance`` of their mean from it, the range [``se_low``, ``se_high``]
    of their standard error (ddof 0 or 1), and the exact standard error ``se``."""
    values, probabilities = estimator_distribution(G, shortest, p)
    exact = float(probabilities @ values)
    deviation = values - exact
    variance = float(probabilities @ deviation ** 2)
    fourth = float(probabilities @ deviation ** 4)
    largest = float(np.abs(deviation).max())
    tolerance = _bernstein(n, variance, largest, np.log(2.0 / DELTA))
    # The squared deviations Y are non-negative, with E[Y] = variance and E[Y^2] = fourth.
    low = variance - np.sqrt(2.0 * fourth * np.log(1.0 / DELTA) / n) - tolerance ** 2
    high = variance + _bernstein(n, fourth - variance ** 2, largest ** 2, np.log(1.0 / DELTA))
    return {"exact": exact, "tolerance": tolerance, "se": np.sqrt(variance / n),
            "se_low": np.sqrt(max(low, 0.0) / n), "se_high": np.sqrt(high / (n - 1))}


def monte_carlo_verdict(case: Case, result) -> str | None:
    """Right if the mean and the standard error lie where n honest samples put them."""
    G, shortest, p, n, _ = case.value
    bounds = case.secret
    if not isinstance(result, list) or len(result) != 2:
        return "expected the pair (mean, standard_error)"
    numbers = []
    for name, value in zip(("the mean", "the standard error"), result):
        if not isinstance(value, np.ndarray) or value.size != 1:
            shape = getattr(value, "shape", type(value).__name__)
            return f"{name}: expected one number, got an array of shape {shape}"
        if not np.isfinite(value).all():
            return f"{name} is NaN or infinite"
        numbers.append(float(value.reshape(())))
    mean, error = numbers
    if not bounds["se_low"] <= error <= bounds["se_high"]:
        hint = ""
        if error <= EXACT * bounds["se"]:
            hint = " All your samples are equal: draw new multipliers for every sample."
        elif abs(error / np.sqrt(n) - bounds["se"]) <= 0.5 * bounds["se"]:
            hint = " It looks like the standard deviation of the samples: divide it by sqrt(n)."
        return (f"the standard error is {error:.4g}, but {n} samples of this estimator give between "
                f"{bounds['se_low']:.4g} and {bounds['se_high']:.4g}.{hint}")
    distance = abs(mean - bounds["exact"])
    if distance <= EXACT * bounds["se"]:
        return ("the mean equals the exact gradient to rounding: return the average of the n "
                "sampled estimates, which differs from it by about one standard error")
    if distance > bounds["tolerance"]:
        return (f"the mean is {distance / bounds['se']:.1f} standard errors from the exact gradient "
                f"(at most {bounds['tolerance'] / bounds['se']:.1f} for an unbiased estimate): is "
                "every kept path scaled by its multipliers 1/p_t, and are the pieces cut where xi_t = 0?")
    return None


# --- The visible cases, built as the notebook's setup cells build them --------------------------

def notebook_problem(seed: int, T: int, B: int):
    """(X, Y, h0, params) as the notebook's ``scalar_problem`` makes them."""
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((T, B)), 0.5 * rng.standard_normal((T, B))
    h0 = 0.5 * rng.standard_normal(B)
    return X, Y, h0, {"w_x": 0.8, "w_h": 1.1}


def notebook_paths(seed: int, T: int, decay: float) -> np.ndarray:
    """G (T, T) as the notebook's ``path_shares`` makes it."""
    rng = np.random.default_rng(seed)
    lag = np.subtract.outer(np.arange(T), np.arange(T))
    return np.where(lag >= 0, rng.standard_normal((T, T)) * decay ** np.maximum(lag, 0), 0.0)


SHOWN_PROBLEM = (0, 12, 2)  # seed, T, B
SHOWN_TAU = 5
SHOWN_XI = (1, 0.7)  # seed and p of the drawn multipliers
SHOWN_PATHS = (3, 10, 0.85)  # seed, T, decay
SHOWN_MONTE_CARLO = (1, 0.8, 400, 5)  # shortest, p, n, seed
SHOWN_REGULAR = 3  # the chunk length of regular truncation that the visible cell shows


def activation(name: str) -> tuple[Activation, Activation]:
    return Activation(name), Activation("d_" + name)


def shown_xi() -> np.ndarray:
    seed, p = SHOWN_XI
    T = SHOWN_PROBLEM[1]
    return randomized_multipliers(T, constant_schedule(p), np.random.default_rng(seed))


def _shown_answers(name: str) -> dict:
    """The answers on the notebook's problem with the activation ``name``."""
    problem, f = notebook_problem(*SHOWN_PROBLEM), activation(name)
    grads, h_T = truncated_gradient(*problem, SHOWN_TAU, *f)
    return {"truncated": grads, "full": full_gradient(*problem, *f), "h_T": h_T,
            "randomized": randomized_gradient(*problem, shown_xi(), *f)}


def _shown_bounds() -> dict[str, float]:
    shortest, p, n, _ = SHOWN_MONTE_CARLO
    G = notebook_paths(*SHOWN_PATHS)
    regular = float(np.sum(path_weights(regular_multipliers(len(G), SHOWN_REGULAR)) * G))
    return {**acceptance(G, shortest, p, n), "regular": regular}


def _visible_data() -> dict[str, Callable[[], np.ndarray]]:
    """Expected values of the visible cells, by the names ``bptt.checks.expected`` reads."""
    data = {}
    for name in SHOWN:
        for kind in ("truncated", "full", "randomized"):
            for key in PARAMS:
                data[f"{kind}_{name}/{key}"] = (
                    lambda name=name, kind=kind, key=key: _shown_answers(name)[kind][key])
        data[f"h_T_{name}"] = lambda name=name: _shown_answers(name)["h_T"]
    for key in ("exact", "tolerance", "se", "se_low", "se_high", "regular"):
        data[f"monte_carlo/{key}"] = lambda key=key: _shown_bounds()[key]
    return data


VISIBLE_DATA = _visible_data()


# --- Cases drawn from the grader's seed ---------------------------------------------------------

def scalar_problem(rng: np.random.Generator, T: int, B: int, name: str):
    """(X, Y, h0, params) of a random scalar RNN whose activation is ``name``."""
    X = rng.standard_normal((T, B))
    if name == "sigmoid":  # states in (0, 1)
        Y, h0 = rng.uniform(0.0, 1.0, (T, B)), rng.uniform(0.0, 1.0, B)
    else:
        Y, h0 = 0.5 * rng.standard_normal((T, B)), 0.5 * rng.standard_normal(B)
    w_h = rng.choice([-1.0, 1.0]) * rng.uniform(*W_H_RANGE[name])
    w_x = rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.0)
    return X, Y, h0, {"w_x": float(w_x), "w_h": float(w_h)}


def conditioned(estimate: dict, modulus: dict, full: dict | None) -> bool:
    """Rounding stays far below TOL, and the estimate differs from ``full`` (unless None)."""
    for name in PARAMS:
        if abs(estimate[name]) < CONDITION * modulus[name]:
            return False
    if full is not None:
        scale = max(abs(estimate[k]) + abs(full[k]) for k in PARAMS)
        if max(abs(estimate[k] - full[k]) for k in PARAMS) < 1e-3 * scale:
            return False
    return True


def _draw(seed: int, key: tuple, build: Callable[[np.random.Generator], tuple | None]):
    """The first well-conditioned case that ``build`` makes from the streams (seed, *key, k)."""
    for attempt in itertools.count():
        case = build(np.random.default_rng([seed, *key, attempt]))
        if case is not None:
            return case


def _truncation_case(rng, T, B, tau, name):
    problem = scalar_problem(rng, T, B, name)
    f = activation(name)
    grads, _ = truncated_gradient(*problem, tau, *f)
    modulus = _path_modulus(*problem, regular_multipliers(T, tau), *f)
    full = full_gradient(*problem, *f) if tau < T else None
    return (*problem, tau, *f) if conditioned(grads, modulus, full) else None


def _truncation_cases(seed: int, visible: bool) -> list[Case]:
    cases = []
    if visible:
        problem, (_, T, B) = notebook_problem(*SHOWN_PROBLEM), SHOWN_PROBLEM
        cases = [Case(f"the notebook's case, tau={tau}, phi={name}", (*problem, tau, *activation(name)))
                 for name in SHOWN for tau in (SHOWN_TAU, T)]
        sizes = [(T, B, tau, name) for name in SHOWN for tau in (SHOWN_TAU, T)]
    else:
        sizes = [(1, 1, 1, "tanh"), (9, 1, 1, "softsign"), (10, 3, 4, "tanh"),
                 (7, 2, 7, "sigmoid"), (8, 2, 20, "tanh"), (13, 2, 3, "softsign"),
                 (17, 3, 5, "sigmoid"), (40, 4, 6, "tanh")]
    for i, (T, B, tau, name) in enumerate(sizes):
        case = _draw(seed, (1, int(visible), i), lambda rng: _truncation_case(rng, T, B, tau, name))
        label = ("fresh case, " if visible else "") + f"T={T}, B={B}, tau={tau}, phi={name}"
        cases.append(Case(label, case))
    return cases


def _truncation_verdict(case: Case, result) -> str | None:
    if not isinstance(result, list) or len(result) != 2:
        return "expected the pair (grads, h_T)"
    grads, h_T = truncated_gradient(*case.value)
    return (compare_named(result[0], {k: np.float64(v) for k, v in grads.items()}, TOL)
            or compare("h_T", result[1], h_T, TOL))


def _multipliers(rng: np.random.Generator, T: int, pattern: str) -> np.ndarray:
    """Multipliers (T,) of a kind; xi_1 is arbitrary, since it meets a~_0 = 0."""
    if pattern == "ones":
        xi = np.ones(T)
    elif pattern == "regular":
        xi = regular_multipliers(T, int(rng.integers(2, 5)))
    elif pattern == "scaled":
        xi = rng.choice([0.0, 0.5, 1.25, 2.5, 4.0], size=T)
    elif pattern == "delayed":
        xi = randomized_multipliers(T, delayed_schedule(3, 0.6), rng)
    else:
        xi = randomized_multipliers(T, constant_schedule(0.7), rng)
    xi[0] = rng.choice([0.0, 1.0, 3.0])
    return xi


def _randomized_case(rng, T, B, pattern, name):
    problem = scalar_problem(rng, T, B, name)
    xi = _multipliers(rng, T, pattern)
    f = activation(name)
    estimate = randomized_gradient(*problem, xi, *f)
    cuts = pattern != "ones" and T > 1
    full = full_gradient(*problem, *f) if cuts else None
    modulus = _path_modulus(*problem, xi, *f)
    return (*problem, xi, *f) if conditioned(estimate, modulus, full) else None


def _randomized_cases(seed: int, visible: bool) -> list[Case]:
    cases = []
    if visible:
        problem, (_, T, B) = notebook_problem(*SHOWN_PROBLEM), SHOWN_PROBLEM
        cases = [Case(f"the notebook's case, drawn xi, phi={name}",
                      (*problem, shown_xi(), *activation(name))) for name in SHOWN]
        sizes = [(T, B, "drawn", name) for name in SHOWN]
    else:
        sizes = [(1, 1, "scaled", "tanh"), (9, 1, "scaled", "softsign"), (10, 3, "drawn", "tanh"),
                 (6, 2, "ones", "sigmoid"), (12, 2, "scaled", "sigmoid"),
                 (15, 3, "delayed", "tanh"), (11, 2, "regular", "softsign")]
    for i, (T, B, pattern, name) in enumerate(sizes):
        case = _draw(seed, (2, int(visible), i), lambda rng: _randomized_case(rng, T, B, pattern, name))
        label = (("fresh case, " if visible else "")
                 + f"T={T}, B={B}, phi={name}, xi={np.round(case[4], 3).tolist()}")
        cases.append(Case(label, case))
    return cases


def _randomized_verdict(case: Case, result) -> str | None:
    expected = {k: np.float64(v) for k, v in randomized_gradient(*case.value).items()}
    return compare_named(result, expected, TOL)


def rnn_paths(rng: np.random.Generator, T: int) -> np.ndarray:
    """G (T, T) of dL/dw_h for a random scalar tanh RNN with B = 2: G_{t,i} = sum_m g_t c_t..c_{i+1} b_i."""
    X, Y, h0, params = scalar_problem(rng, T, 2, "tanh")
    steps = _steps(X, h0, params, *activation("tanh"))
    g = (steps["h"] - Y) / Y.size
    G = np.zeros((T, T))
    for t in range(T):
        carried = np.ones(2)
        for i in range(t, -1, -1):
            G[t, i] = np.sum(g[t] * carried * steps["w_h"][i])
            carried = carried * steps["c"][i]
    return G


def informative(bounds: dict[str, float]) -> bool:
    """Whether the bounds are tight enough to catch a zero standard error, the standard deviation
    in its place, a tenth of the samples and a visible bias."""
    return (bounds["se_low"] >= SE_RANGE[0] * bounds["se"] and bounds["se_high"] <= SE_RANGE[1] * bounds["se"]
            and bounds["tolerance"] <= MAX_TOLERANCE * bounds["se"])


def _monte_carlo_case(rng, T, shortest, p, n, kind) -> Case | None:
    """A case of shares G of ``kind``, or None when the estimator's tails are too heavy for n
    samples to pin it down."""
    G = rnn_paths(rng, T) if kind == "rnn" else notebook_paths(int(rng.integers(2**32)), T,
                                                             rng.uniform(0.7, 0.95))
    bounds = acceptance(G, shortest, p, n)
    if not informative(bounds):
        return None
    return Case(f"T={T}, shortest={shortest}, p={p:.3f}, n={n}", (G, shortest, p, n,
                                                                  int(rng.integers(2**32))),
                secret=bounds)


def _monte_carlo_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        G = notebook_paths(*SHOWN_PATHS)
        shortest, p, n, draw = SHOWN_MONTE_CARLO
        T = len(G)
        shown = Case(f"the notebook's case, T={T}, p={p}, n={n}", (G, shortest, p, n, draw),
                     secret=acceptance(G, shortest, p, n))
        fresh = _draw(seed, (3, 1), lambda rng: _monte_carlo_case(rng, T, shortest, p, n, "random"))
        return [shown, Case("fresh case, " + fresh.label, fresh.value, fresh.secret)]
    cases = []
    for i, (T, shortest, kind) in enumerate([(3, 1, "random"), (8, 2, "rnn"), (11, 3, "random"),
                                             (12, 1, "rnn")]):
        def build(rng, T=T, shortest=shortest, kind=kind):
            p, n = float(rng.uniform(0.6, 0.9)), int(rng.integers(500, 1001))
            return _monte_carlo_case(rng, T, shortest, p, n, kind)
        cases.append(_draw(seed, (3, 0, i), build))
    return cases


CHECKS = {
    "test_truncated_visible": Check("call", lambda seed: _truncation_cases(seed, True),
                                    _truncation_verdict),
    "test_truncated_hidden": Check("call", lambda seed: _truncation_cases(seed, False),
                                   _truncation_verdict),
    "test_randomized_visible": Check("call", lambda seed: _randomized_cases(seed, True),
                                     _randomized_verdict),
    "test_randomized_hidden": Check("call", lambda seed: _randomized_cases(seed, False),
                                    _randomized_verdict),
    "test_monte_carlo_visible": Check("call", lambda seed: _monte_carlo_cases(seed, True),
                                      monte_carlo_verdict),
    "test_monte_carlo_hidden": Check("call", lambda seed: _monte_carlo_cases(seed, False),
                                     monte_carlo_verdict),
}
