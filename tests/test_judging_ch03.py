"""The checks of chapter 3, judged in process: honest work passes whatever the seed, shortcuts do not.

Each graded function has two answers written here apart from the reference, each with another
structure: for the truncated and randomized estimates, a backward pass over each sequence
(messages scaled by xi_t) and the explicit double sum over paths of (eq-ch3-paths); for the Monte
Carlo mean, a running vector of path weights and an explicit product per path, drawn from
another seed and with ddof=0. All earn every check over the seed sweep (``BPTT_SEEDS=2000`` for
the long one). Then each shortcut and common mistake is shown to earn nothing: the full gradient
in place of the truncated one, a chunk that restarts from h0 or is averaged over its own length,
a sliding window, chunks cut one step off, a hard-coded tanh, multipliers ignored, shifted or not
rescaled, the exact expectation in place of a sample mean, one sample used again and again, and
the standard deviation in place of the standard error.
"""

from __future__ import annotations

import math
from functools import partial

import nbformat
import numpy as np
import pytest
from hypothesis import given

from autograder.reference import ch03_truncation as ch03
from autograder.release import visible_data
from bptt.probe import Activation
from bptt.truncation import delayed_schedule, randomized_multipliers, regular_multipliers
from tests.conftest import ROOT, nbgrader_meta, over_seeds, seeds
from tests.variants import ch03 as variants, load

NOTEBOOK = ROOT / "solutions" / ch03.ASSIGNMENT / "truncation.ipynb"


@pytest.fixture
def verdict(judged):
    return partial(judged, ch03.CHECKS)


# --- Two honest answers per exercise, each unlike the reference --------------------------------

# The run (H (T + 1, B) with H[0] = h0 and H[t] = h_t, Z (T, B) with Z[t - 1] = z_t) and the
# reverse mode over a stretch (the message to h_{t-1} scaled by xi_t) of the notebook's honest
# variant (tests/variants/ch03.py); its randomized_gradient is the reverse-mode randomized answer.
VARIANT = load(variants.HONEST["truncated"], variants.HONEST["randomized"])
_states, _backward = VARIANT._run, VARIANT._backward


def truncated_reverse(X, Y, h0, params, tau, phi, dphi):
    """A backward pass through each chunk, started from the carried state."""
    grads, h = {"w_x": 0.0, "w_h": 0.0}, h0
    for start in range(0, len(X), tau):
        part = slice(start, start + tau)
        H, Z = _states(X[part], h, params, phi)
        chunk = _backward(X[part], Y[part], H, Z, params, regular_multipliers(len(Z), len(Z)), dphi,
                          Y.size)
        grads = {k: grads[k] + chunk[k] for k in grads}
        h = H[-1]
    return grads, h


def _paths(X, Y, h0, params, keep, phi, dphi):
    """sum over sequences m and paths i <= t of dL/dh_t * prod_{j=i+1..t} keep(j) c_j * b_i."""
    H, Z = _states(X, h0, params, phi)
    slopes = dphi(Z)
    direct = {"w_x": slopes * X, "w_h": slopes * H[:-1]}
    c = slopes * params["w_h"]
    grads = {"w_x": 0.0, "w_h": 0.0}
    for m in range(X.shape[1]):
        for t in range(1, len(X) + 1):
            dL_dh, weight = (H[t, m] - Y[t - 1, m]) / Y.size, 1.0
            for i in range(t, 0, -1):  # weight = prod_{j=i+1..t} keep(j) c_j, grown leftwards
                for name in grads:
                    grads[name] += dL_dh * weight * direct[name][i - 1, m]
                weight *= keep(i) * c[i - 1, m]
    return grads, H[-1]


def truncated_paths(X, Y, h0, params, tau, phi, dphi):
    """Every path that stays inside one chunk: no link into the first step of a chunk."""
    return _paths(X, Y, h0, params, lambda j: float((j - 1) % tau != 0), phi, dphi)


randomized_reverse = VARIANT.randomized_gradient


def randomized_paths(X, Y, h0, params, xi, phi, dphi):
    return _paths(X, Y, h0, params, lambda j: xi[j - 1], phi, dphi)[0]


def monte_carlo_running(G, shortest, p, n, seed):
    """The weights of the paths that end at step t, all i at once: w <- xi_t w, then w_t = 1."""
    rng, T = np.random.default_rng(seed), len(G)
    total, squares = 0.0, 0.0
    for _ in range(n):
        xi, w, estimate = randomized_multipliers(T, delayed_schedule(shortest, p), rng), np.zeros(T), 0.0
        for t in range(T):
            w = xi[t] * w
            w[t] = 1.0
            estimate += G[t] @ w
        total, squares = total + estimate, squares + estimate ** 2
    mean = total / n
    return mean, np.sqrt((squares / n - mean ** 2) * n / (n - 1) / n)


def monte_carlo_products(G, shortest, p, n, seed):
    """Another draw (seed + 7), a product per path, and the standard deviation with ddof=0."""
    rng, T, shares = np.random.default_rng(seed + 7), len(G), G.tolist()
    samples = []
    for _ in range(n):
        xi = randomized_multipliers(T, delayed_schedule(shortest, p), rng).tolist()
        samples.append(sum(shares[t - 1][i - 1] * math.prod(xi[i:t])  # xi_{i+1} .. xi_t
                           for t in range(1, T + 1) for i in range(1, t + 1)))
    return np.mean(samples), np.std(samples) / np.sqrt(n)


HONEST = {
    "truncated": [ch03.truncated_gradient, truncated_reverse, truncated_paths],
    "randomized": [ch03.randomized_gradient, randomized_reverse, randomized_paths],
    "monte": [ch03.monte_carlo_gradient, monte_carlo_running, monte_carlo_products],
}
HONEST_CASES = [(check_id, i) for check_id in sorted(ch03.CHECKS)
                for i in range(len(HONEST[check_id.split("_")[1]]))]


@pytest.mark.parametrize("check_id, which", HONEST_CASES)
@over_seeds
@given(seed=seeds)
def test_honest_work_passes_whatever_the_seed(judged, check_id, which, seed):
    function = HONEST[check_id.split("_")[1]][which]
    assert judged(ch03.CHECKS, check_id, function, seed) is None


def test_the_notebook_solution_passes_every_check(verdict):
    """The solution cells of the notebook, run as a student would write them."""
    namespace = {}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if nbgrader_meta(cell).get("grade_id") in ("setup", "truncated", "randomized", "monte_carlo"):
            exec(cell.source, namespace)
    for check_id in ch03.CHECKS:
        name = {"truncated": "truncated_gradient", "randomized": "randomized_gradient",
                "monte": "monte_carlo_gradient"}[check_id.split("_")[1]]
        assert verdict(check_id, namespace[name], seed=11) is None, check_id


# --- The visible cases are the notebook's, and they are well posed ------------------------------

def notebook_namespace() -> dict:
    namespace = {}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        if nbgrader_meta(cell).get("grade_id") in ("setup", "randomized_reference", "paths"):
            exec(cell.source, namespace)
    return namespace


def test_the_visible_cases_are_the_notebooks():
    shown = notebook_namespace()
    X, Y, h0, params = ch03.notebook_problem(*ch03.SHOWN_PROBLEM)
    for ours, theirs in ((X, shown["X"]), (Y, shown["Y"]), (h0, shown["h0"])):
        np.testing.assert_array_equal(ours, theirs)
    assert params == shown["params"]
    np.testing.assert_array_equal(ch03.shown_xi(), shown["xi"])
    np.testing.assert_array_equal(ch03.notebook_paths(*ch03.SHOWN_PATHS), shown["G"])
    assert set(shown["ACTIVATIONS"]) == set(ch03.SHOWN)


def test_the_shown_cases_are_well_conditioned_and_truncation_matters():
    problem = ch03.notebook_problem(*ch03.SHOWN_PROBLEM)
    T = ch03.SHOWN_PROBLEM[1]
    for name in ch03.SHOWN:
        f = ch03.activation(name)
        full = ch03.full_gradient(*problem, *f)
        for xi, estimate in ((regular_multipliers(T, ch03.SHOWN_TAU),
                              ch03.truncated_gradient(*problem, ch03.SHOWN_TAU, *f)[0]),
                             (ch03.shown_xi(), ch03.randomized_gradient(*problem, ch03.shown_xi(), *f))):
            assert ch03.conditioned(estimate, ch03._path_modulus(*problem, xi, *f), full), name


def test_visible_data_holds_no_inputs_and_only_the_shown_answers():
    data = visible_data(ch03.ASSIGNMENT)
    assert all(np.ndim(value) <= 1 for value in data.values())
    assert {k.split("/")[0] for k in data} == {
        "truncated_tanh", "truncated_softsign", "full_tanh", "full_softsign", "randomized_tanh",
        "randomized_softsign", "h_T_tanh", "h_T_softsign", "monte_carlo"}


def test_the_notebook_imports_neither_torch_nor_the_reference():
    code = "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells
                     if c.cell_type == "code")
    for banned in ("torch", "bptt.autograd", "autograder"):
        assert banned not in code, banned


def test_each_test_cell_calls_only_its_own_function():
    functions = {"truncated_gradient", "randomized_gradient", "monte_carlo_gradient"}
    for cell in nbformat.read(NOTEBOOK, as_version=4).cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution"):
            own = {"truncated": "truncated_gradient", "randomized": "randomized_gradient",
                   "monte": "monte_carlo_gradient"}[meta["grade_id"].split("_")[1]]
            assert all(f"{name}(" not in cell.source for name in functions - {own}), meta["grade_id"]


# --- The statistics of part 3 --------------------------------------------------------------------

@pytest.mark.parametrize("shortest, p", [(1, 0.7), (3, 0.6), (2, 0.9)])
def test_the_enumerated_distribution_is_the_sampled_one(shortest, p):
    """Its mean is the exact gradient (the chapter's proposition); sampling agrees with it."""
    G = ch03.notebook_paths(4, 7, 0.9)
    values, probabilities = ch03.estimator_distribution(G, shortest, p)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    assert probabilities @ values == pytest.approx(G.sum(), rel=1e-12)
    rng = np.random.default_rng(0)
    xis = np.array([randomized_multipliers(7, delayed_schedule(shortest, p), rng)
                    for _ in range(20_000)])
    sampled = np.einsum("kti,ti->k", ch03.path_weights(xis), G)
    sd = np.sqrt(probabilities @ (values - G.sum()) ** 2)
    assert abs(sampled.mean() - G.sum()) < 5 * sd / np.sqrt(len(sampled))
    assert sampled.std() == pytest.approx(sd, rel=0.05)


def test_the_variance_of_the_constant_schedule_matches_its_closed_form():
    """Independent xi_t: E[w_p w_q] = (1/p)^(links shared by the paths p and q)."""
    T, p = 6, 0.7
    G = ch03.notebook_paths(9, T, 0.8)
    values, probabilities = ch03.estimator_distribution(G, 1, p)
    links = {(t, i): set(range(i + 1, t + 1)) for t in range(1, T + 1) for i in range(1, t + 1)}
    variance = sum(G[t - 1, i - 1] * G[s - 1, j - 1] * (p ** -len(links[t, i] & links[s, j]) - 1)
                   for (t, i) in links for (s, j) in links)
    assert probabilities @ (values - G.sum()) ** 2 == pytest.approx(variance, rel=1e-10)


@over_seeds
@given(seed=seeds)
def test_the_tolerances_stay_tight_enough_to_catch_mistakes(seed):
    """The mean within 8 standard errors; the standard error within [0.4, 1.5] times the exact one,
    so that a zero standard error, the standard deviation (sqrt(n) >= 20 times too large) and a
    tenth of the samples (sqrt(10) times) all fail."""
    for check_id in ("test_monte_carlo_visible", "test_monte_carlo_hidden"):
        for case in ch03.CHECKS[check_id].cases(seed):
            assert ch03.informative(case.secret), case.label
    assert (ch03.SE_RANGE, ch03.MAX_TOLERANCE) == ((0.4, 1.5), 8.0)


# --- Shortcuts and mistakes earn nothing ---------------------------------------------------------

def truncated_full(X, Y, h0, params, tau, phi, dphi):
    return ch03.full_gradient(X, Y, h0, params, phi, dphi), _states(X, h0, params, phi)[0][-1]


def truncated_no_carry(X, Y, h0, params, tau, phi, dphi):
    """Every chunk restarts from h0: the windows of the chapter's last section."""
    grads = {"w_x": 0.0, "w_h": 0.0}
    for start in range(0, len(X), tau):
        part = slice(start, start + tau)
        H, Z = _states(X[part], h0, params, phi)
        chunk = _backward(X[part], Y[part], H, Z, params, regular_multipliers(len(Z), len(Z)), dphi,
                          Y.size)
        grads = {k: grads[k] + chunk[k] for k in grads}
    return grads, _states(X, h0, params, phi)[0][-1]


def truncated_chunk_mean(X, Y, h0, params, tau, phi, dphi):
    """Each chunk's loss averaged over its own length: 1/(tau B) in place of 1/(T B)."""
    grads, h = {"w_x": 0.0, "w_h": 0.0}, h0
    for start in range(0, len(X), tau):
        part = slice(start, start + tau)
        H, Z = _states(X[part], h, params, phi)
        chunk = _backward(X[part], Y[part], H, Z, params, regular_multipliers(len(Z), len(Z)), dphi,
                          Y[part].size)
        grads, h = {k: grads[k] + chunk[k] for k in grads}, H[-1]
    return grads, h


def truncated_window(X, Y, h0, params, tau, phi, dphi):
    """A sliding window: the loss of every step looks back tau steps."""
    H, Z = _states(X, h0, params, phi)
    slopes = dphi(Z)
    direct = {"w_x": slopes * X, "w_h": slopes * H[:-1]}
    grads = {"w_x": 0.0, "w_h": 0.0}
    for m in range(X.shape[1]):
        for t in range(1, len(X) + 1):
            weight = 1.0
            for i in range(t, max(1, t - tau + 1) - 1, -1):
                for name in grads:
                    grads[name] += (H[t, m] - Y[t - 1, m]) / Y.size * weight * direct[name][i - 1, m]
                weight *= slopes[i - 1, m] * params["w_h"]
    return grads, H[-1]


def truncated_off_by_one(X, Y, h0, params, tau, phi, dphi):
    """Cuts before steps tau, 2 tau, ... in place of 1, tau + 1, 2 tau + 1, ..."""
    grads, _ = _paths(X, Y, h0, params, lambda j: float(j % tau != 0), phi, dphi)
    return grads, _states(X, h0, params, phi)[0][-1]


def truncated_hard_tanh(X, Y, h0, params, tau, phi, dphi):
    tanh = Activation("tanh"), Activation("d_tanh")
    return ch03.truncated_gradient(X, Y, h0, params, tau, *tanh)


def truncated_via_regular_xi_wrong_state(X, Y, h0, params, tau, phi, dphi):
    """The right gradients and the state at the start of the last chunk."""
    grads, _ = ch03.truncated_gradient(X, Y, h0, params, tau, phi, dphi)
    H, _ = _states(X, h0, params, phi)
    return grads, H[(len(X) - 1) // tau * tau]


@pytest.mark.parametrize("check_id", ["test_truncated_visible", "test_truncated_hidden"])
@pytest.mark.parametrize("shortcut, words", [
    (truncated_full, "is off"), (truncated_no_carry, "is off"), (truncated_chunk_mean, "is off"),
    (truncated_window, "is off"), (truncated_off_by_one, "is off"),
    (truncated_via_regular_xi_wrong_state, "h_T is off")])
@over_seeds
@given(seed=seeds)
def test_truncation_mistakes_earn_nothing(verdict, check_id, shortcut, words, seed):
    message = verdict(check_id, shortcut, seed=seed)
    assert message and words in message


@over_seeds
@given(seed=seeds)
def test_a_hard_coded_tanh_earns_nothing(verdict, seed):
    for check_id, shortcut in (("test_truncated_visible", truncated_hard_tanh),
                               ("test_truncated_hidden", truncated_hard_tanh),
                               ("test_randomized_visible", randomized_hard_tanh),
                               ("test_randomized_hidden", randomized_hard_tanh)):
        assert "is off" in verdict(check_id, shortcut, seed=seed), check_id


def test_a_complex_step_through_the_activation_is_refused(verdict):
    def complex_step(X, Y, h0, params, xi, phi, dphi):
        grads = {}
        for name in ("w_x", "w_h"):
            shifted = dict(params, **{name: params[name] + 1e-30j})
            H, _ = _states(X.astype(complex), h0, shifted, phi)
            grads[name] = float(np.sum(0.5 * (H[1:] - Y) ** 2).imag / 1e-30 / Y.size)
        return grads

    assert "TypeError" in verdict("test_randomized_hidden", complex_step)


def randomized_ignoring_xi(X, Y, h0, params, xi, phi, dphi):
    return ch03.full_gradient(X, Y, h0, params, phi, dphi)


def randomized_shifted(X, Y, h0, params, xi, phi, dphi):
    """xi[t] on the link into step t (0-based rows and 1-based steps mixed)."""
    return ch03.randomized_gradient(X, Y, h0, params, np.r_[xi[1:], 1.0], phi, dphi)


def randomized_unscaled(X, Y, h0, params, xi, phi, dphi):
    """Cuts where xi_t = 0, but the surviving links are not scaled by xi_t."""
    return ch03.randomized_gradient(X, Y, h0, params, (np.asarray(xi) > 0).astype(float), phi, dphi)


def randomized_on_the_direct_term(X, Y, h0, params, xi, phi, dphi):
    """a~_t = xi_t (b_t + c_t a~_{t-1}): the multiplier on the whole step."""
    H, Z = _states(X, h0, params, phi)
    slopes = dphi(Z)
    grads, a = {}, None
    for name, direct in (("w_x", slopes * X), ("w_h", slopes * H[:-1])):
        a, total = np.zeros(X.shape[1]), 0.0
        for t in range(len(X)):
            a = xi[t] * (direct[t] + slopes[t] * params["w_h"] * a)
            total += np.sum((H[t + 1] - Y[t]) / Y.size * a)
        grads[name] = total
    return grads


def randomized_hard_tanh(X, Y, h0, params, xi, phi, dphi):
    return ch03.randomized_gradient(X, Y, h0, params, xi, Activation("tanh"), Activation("d_tanh"))


@pytest.mark.parametrize("check_id", ["test_randomized_visible", "test_randomized_hidden"])
@pytest.mark.parametrize("shortcut", [randomized_ignoring_xi, randomized_shifted, randomized_unscaled,
                                      randomized_on_the_direct_term])
@over_seeds
@given(seed=seeds)
def test_multiplier_mistakes_earn_nothing(verdict, check_id, shortcut, seed):
    message = verdict(check_id, shortcut, seed=seed)
    assert message and "is off" in message


def monte_carlo_exact(G, shortest, p, n, seed):
    """The exact expectation and a made-up standard error: nothing sampled."""
    return float(np.sum(G)), 1e-3


def monte_carlo_exact_mean_sampled_error(G, shortest, p, n, seed):
    """The standard error of honest samples, and the exact expectation for the mean."""
    return float(np.sum(G)), ch03.monte_carlo_gradient(G, shortest, p, n, seed)[1]


def monte_carlo_one_draw(G, shortest, p, n, seed):
    """One draw of the multipliers used for all n samples."""
    xi = randomized_multipliers(len(G), delayed_schedule(shortest, p), np.random.default_rng(seed))
    estimate = float(np.sum(ch03.path_weights(xi) * G))
    return estimate, 0.0


def monte_carlo_deviation(G, shortest, p, n, seed):
    mean, error = ch03.monte_carlo_gradient(G, shortest, p, n, seed)
    return mean, error * np.sqrt(n)


def monte_carlo_unscaled(G, shortest, p, n, seed):
    """Cuts without the factors 1/p_t: regular truncation at random places, biased."""
    rng = np.random.default_rng(seed)
    kept = np.array([randomized_multipliers(len(G), delayed_schedule(shortest, p), rng) > 0
                     for _ in range(n)], dtype=float)
    samples = np.einsum("kti,ti->k", ch03.path_weights(kept), G)
    return float(samples.mean()), float(samples.std(ddof=1) / np.sqrt(n))


def monte_carlo_few(G, shortest, p, n, seed):
    """A tenth of the samples asked for."""
    return ch03.monte_carlo_gradient(G, shortest, p, max(n // 10, 2), seed)


MONTE_CARLO_SHORTCUTS = [
    (monte_carlo_exact, ("the standard error is", "to rounding")),
    (monte_carlo_exact_mean_sampled_error, ("to rounding",)),
    (monte_carlo_one_draw, ("All your samples are equal",)),
    (monte_carlo_deviation, ("divide it by",)),
    (monte_carlo_unscaled, ("standard errors from the exact gradient", "the standard error is")),
    (monte_carlo_few, ("the standard error is",))]


@pytest.mark.parametrize("check_id", ["test_monte_carlo_visible", "test_monte_carlo_hidden"])
@pytest.mark.parametrize("shortcut, words", MONTE_CARLO_SHORTCUTS)
@over_seeds
@given(seed=seeds)
def test_monte_carlo_shortcuts_earn_nothing(verdict, check_id, shortcut, words, seed):
    message = verdict(check_id, shortcut, seed=seed)
    assert message and any(w in message for w in words), message


def test_a_table_of_the_visible_answers_earns_nothing(verdict):
    """The values printed by the notebook fit its own case, not the fresh ones."""
    answers = {tuple(ch03.notebook_problem(*ch03.SHOWN_PROBLEM)[0].ravel()): None}

    def table(X, Y, h0, params, tau, phi, dphi):
        if tuple(X.ravel()) in answers:
            return ch03.truncated_gradient(X, Y, h0, params, tau, phi, dphi)
        return {"w_x": 0.0, "w_h": 0.0}, np.zeros_like(h0)

    assert "fresh case" in verdict("test_truncated_visible", table)


def test_messages_name_the_case_and_the_wrong_gradient(verdict):
    message = verdict("test_randomized_hidden", randomized_unscaled, seed=3)
    assert message.startswith("T=") and ("w_x is off" in message or "w_h is off" in message)
    assert "rel_error" in message and "expected" in message
