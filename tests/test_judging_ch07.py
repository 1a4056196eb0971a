"""The checks of chapter 7, judged in process over many seeds.

Checkpointed BPTT has three honest implementations written apart from the reference (the longest
segments the budget allows, with preallocated arrays; the fewest stored states, with a dict and a
list; recursive halving, which holds O(log T) states); UORO has two. All earn every check for every
seed. Each shortcut earns nothing: every state stored, the input projections of all steps, z_t and
h_t both, finite differences, the complex step, the package's linear-RNN code, tracemalloc reset or
restarted; and for UORO the exact gradient, with or without noise, other signs, other scalings, a
step that forgets s~. Memory hidden where tracemalloc does not look passes here: the scan flags it
(tests/test_scan.py, tests/test_grade_chapters.py).
"""

from __future__ import annotations

import json
import math
import time
from functools import partial

import nbformat
import numpy as np
import pytest
from hypothesis import given, settings

import bptt
from autograder.reference import ch07_beyond_bptt as ch07
from autograder.reference.judging import judge, write_inputs
from autograder.sandbox import Limits
from bptt.checks import WRITTEN_SLACK, allowance, state_bytes
from bptt.memory import measure, measure_apart
from bptt.probe import Activation, results
from tests.conftest import ROOT, SEED_EXAMPLES, nbgrader_meta, over_seeds, seeds
from tests.variants import ch07 as variants, load

NOTEBOOK = ROOT / "solutions" / ch07.ASSIGNMENT / "beyond-bptt.ipynb"
MEASURED = ("test_checkpointed_visible", "test_checkpointed_hidden", "test_checkpointed_memory")
STEP_CHECKS = ("test_uoro_step_visible", "test_uoro_step_hidden")
UORO_CHECKS = ("test_uoro_gradient_visible", "test_uoro_gradient_hidden")
# The long cases take seconds per run (T = 3000 measured, 1000 UORO calls per case): fewer seeds
# by default, the same sweep as every other check with BPTT_SEEDS.
over_some_seeds = settings(over_seeds, max_examples=max(3, SEED_EXAMPLES // 8))
over_few_seeds = settings(over_seeds, max_examples=max(1, SEED_EXAMPLES // 25))


@pytest.fixture
def verdict(judged):
    return partial(judged, ch07.CHECKS)


def namespace(*sources: str):
    """Answer sources run as the notebook runs them, with its setup cell's names."""
    return load(*sources, math=math, softmax=bptt.softmax, measure=measure)


VARIANT = namespace(*variants.HONEST.values())


# ---------------------------------------------------------------- honest work

def _cross_entropy_delta(h, targets, W_qh, b_q, scale):
    d_o = bptt.softmax(h @ W_qh.T + b_q)
    d_o[np.arange(len(targets)), targets] -= 1.0
    return d_o * scale


def fewest_states(X, targets, h0, params, phi, d_phi, budget):
    """The k with the fewest stored states; checkpoints in a dict, popped when used, each segment a list."""
    T, B = targets.shape
    k = min(range(1, T + 1), key=lambda k: (math.ceil(T / k) + k, k))
    P = params

    def z_of(t, h):
        return X[t] @ P["W_hx"].T + h @ P["W_hh"].T + P["b_h"]

    checkpoints, h = {0: h0}, h0
    for t in range(T - 1):
        h = phi(z_of(t, h))
        if (t + 1) % k == 0:
            checkpoints[t + 1] = h
    del h
    grads = {name: np.zeros_like(value) for name, value in P.items()}
    carried = np.zeros_like(h0)
    for start in sorted(checkpoints, reverse=True):
        H = [checkpoints.pop(start)]
        for t in range(start, min(start + k, T)):
            H.append(phi(z_of(t, H[-1])))
        for t in reversed(range(start, min(start + k, T))):
            h_t = H.pop()
            d_o = _cross_entropy_delta(h_t, targets[t], P["W_qh"], P["b_q"], 1.0 / (T * B))
            grads["W_qh"] += d_o.T @ h_t
            grads["b_q"] += d_o.sum(axis=0)
            delta = (carried + d_o @ P["W_qh"]) * d_phi(z_of(t, H[-1]))
            grads["W_hx"] += delta.T @ X[t]
            grads["W_hh"] += delta.T @ H[-1]
            grads["b_h"] += delta.sum(axis=0)
            carried = delta @ P["W_hh"]
    grads["h0"] = carried
    return grads


def recursive_halving(X, targets, h0, params, phi, d_phi, budget):
    """Steps a..b-1 from h_a: forward to the middle, the right half first, then the left half.
    Holds about log2(T) states and takes about T log2(T) forward steps."""
    T, B = targets.shape
    P = params
    grads = {name: np.zeros_like(value) for name, value in P.items()}
    carried = [np.zeros_like(h0)]

    def z_of(t, h):
        return X[t] @ P["W_hx"].T + h @ P["W_hh"].T + P["b_h"]

    def backward(t, h_before):
        z = z_of(t, h_before)
        h_t = phi(z)
        d_o = _cross_entropy_delta(h_t, targets[t], P["W_qh"], P["b_q"], 1.0 / (T * B))
        grads["W_qh"] += d_o.T @ h_t
        grads["b_q"] += d_o.sum(axis=0)
        delta = (carried[0] + d_o @ P["W_qh"]) * d_phi(z)
        grads["W_hx"] += delta.T @ X[t]
        grads["W_hh"] += delta.T @ h_before
        grads["b_h"] += delta.sum(axis=0)
        carried[0] = delta @ P["W_hh"]

    def segment(a, b, h_a):
        if b - a == 1:
            return backward(a, h_a)
        middle, h = (a + b) // 2, h_a
        for t in range(a, middle):
            h = phi(z_of(t, h))
        segment(middle, b, h)
        del h
        segment(a, middle, h_a)

    segment(0, T, h0)
    grads["h0"] = carried[0]
    return grads


# The variant: the longest segments, preallocated checkpoints and pre-activations.
longest_segments = VARIANT.checkpointed_gradients


def uoro_step_flat(x, h_prev, s_tilde, theta_tilde, nu, params, phi, d_phi):
    """theta~ as one vector: F_t^T nu built flat, split at the end."""
    names = ("W_hx", "W_hh", "b_h")
    z = params["W_hx"] @ x + params["W_hh"] @ h_prev + params["b_h"]
    slope = d_phi(z)
    theta = np.concatenate([np.ravel(theta_tilde[n]) for n in names])
    a = slope * nu
    pushed = np.concatenate([np.outer(a, x).ravel(), np.outer(a, h_prev).ravel(), a])
    carried = slope * (params["W_hh"] @ s_tilde)
    c0 = math.sqrt((math.sqrt(theta @ theta) + 1e-7) / (math.sqrt(carried @ carried) + 1e-7))
    c1 = math.sqrt((math.sqrt(pushed @ pushed) + 1e-7) / (math.sqrt(nu @ nu) + 1e-7))
    theta = theta / c0 + pushed / c1
    sizes = np.cumsum([np.size(params[n]) for n in names])[:-1]
    return phi(z), c0 * carried + c1 * nu, {n: part.reshape(np.shape(params[n]))
                                            for n, part in zip(names, np.split(theta, sizes))}


def once(rng, h):
    return rng.choice([-1.0, 1.0], size=h)


def with_signs(draw):
    """UORO (the honest step) with the signs of each step drawn by ``draw(rng, h)``."""
    def estimate(X, targets, h0, params, phi, d_phi, rng):
        T = len(X)
        h, s = h0, np.zeros(len(h0))
        theta = {n: np.zeros(np.shape(params[n])) for n in ch07.RECURRENT}
        grads = {n: np.zeros(np.shape(v)) for n, v in params.items()}
        fixed = draw(rng, len(h0)) if draw is once else None  # one draw for every step
        for t in range(T):
            nu = fixed if draw is once else draw(rng, len(h0))
            h, s, theta = uoro_step_flat(X[t], h, s, theta, nu, params, phi, d_phi)
            d_o = _cross_entropy_delta(h[None], targets[t:t + 1], params["W_qh"], params["b_q"], 1.0 / T)[0]
            grads["W_qh"] += np.outer(d_o, h)
            grads["b_q"] += d_o
            for n in theta:
                grads[n] += (d_o @ params["W_qh"] @ s) * theta[n]
        return grads
    return estimate


# A sign drawn at each step with rng.choice; the estimate added up step by step.
uoro_gradient_per_step = with_signs(lambda rng, h: rng.choice([-1.0, 1.0], size=h))


HONEST = {
    "checkpointed": (longest_segments, fewest_states, recursive_halving),
    "uoro_step": (VARIANT.uoro_step, uoro_step_flat),
    "uoro_gradient": (VARIANT.uoro_gradient, uoro_gradient_per_step),
}


def exercise(check_id: str) -> str:
    return "checkpointed" if "checkpointed" in check_id else check_id[5:].rsplit("_", 1)[0]


FAST = [(c, i) for c in ch07.CHECKS if c not in MEASURED + UORO_CHECKS
        for i in range(len(HONEST[exercise(c)]))]
LONG = [(c, i) for c in MEASURED + UORO_CHECKS for i in range(len(HONEST[exercise(c)]))]


@pytest.mark.parametrize("check_id, which", FAST)
@over_seeds
@given(seed=seeds)
def test_honest_work_earns_every_check(verdict, check_id, which, seed):
    assert verdict(check_id, HONEST[exercise(check_id)][which], seed) is None


@pytest.mark.parametrize("check_id, which", LONG)
@over_some_seeds
@given(seed=seeds)
def test_honest_work_earns_every_long_check(verdict, check_id, which, seed):
    assert verdict(check_id, HONEST[exercise(check_id)][which], seed) is None


def test_every_check_has_honest_implementations():
    assert {exercise(c) for c in ch07.CHECKS} == set(HONEST)


def test_every_check_fails_a_function_that_raises(verdict):
    def stub(*args):
        raise NotImplementedError()

    for check_id in ch07.CHECKS:
        assert "raised NotImplementedError" in verdict(check_id, stub), check_id


def test_visible_cases_are_the_notebooks():
    """The grader's first cases of the visible checks are the ones the notebook's cells build."""
    cells = {nbgrader_meta(c).get("grade_id"): c.source for c in nbformat.read(NOTEBOOK, 4).cells}
    space: dict = {}
    exec(cells["setup"], space)  # noqa: S102 - the instructor's own notebook
    cases = ch07.CHECKS["test_checkpointed_visible"].cases(0)
    for case, shown in zip(cases, (space["short"], space["short"], space["long_run"])):
        for mine, theirs in zip(case.value[:3], shown[:3]):
            assert np.array_equal(mine, theirs)
        assert all(np.array_equal(case.value[3][k], shown[3][k]) for k in shown[3])
    stream = ch07.CHECKS["test_uoro_gradient_visible"].cases(0)[0].value["arguments"]
    for mine, theirs in zip(stream[:3], space["stream"][:3]):
        assert np.array_equal(mine, theirs)
    assert "default_rng(3)" in cells["test_uoro_step_visible"]
    steps = ch07.CHECKS["test_uoro_step_visible"].cases(0)[:3]
    assert [c.value[7] for c in steps] == [Activation("d_tanh")] * 3


def test_visible_checks_have_fresh_cases():
    for check_id in ("test_checkpointed_visible", "test_uoro_step_visible", "test_uoro_gradient_visible"):
        first, second = (ch07.CHECKS[check_id].cases(seed) for seed in (1, 2))
        assert "notebook's" in first[0].label and first[0].label == second[0].label
        assert any("fresh" in c.label for c in first), check_id
    a, b = (ch07.CHECKS["test_checkpointed_visible"].cases(seed)[-1].value[0] for seed in (1, 2))
    assert not np.array_equal(a, b)
    a, b = (ch07.CHECKS["test_uoro_gradient_visible"].cases(seed)[-1].value["arguments"][0]
            for seed in (1, 2))
    assert not np.array_equal(a, b)


# ---------------------------------------------------------------- the memory allowance

def _measured_cases(seed: int = 0):
    return [case for check_id in MEASURED for case in ch07.CHECKS[check_id].cases(seed)
            if ch07.CHECKS[check_id].kind == "memory" and case.secret]


def _states(peak: float, case) -> float:
    X, _, h0 = case.value[:3]
    return peak / state_bytes(X.shape[1], h0.shape[1])


def test_honest_peaks_stay_well_inside_the_allowance():
    """Every honest implementation's peak, on every judged case, is at least 5 states below the
    allowance; the calibration that bptt.checks documents."""
    for case in _measured_cases():
        *problem, budget = case.value
        X, _, h0, params = problem[:4]
        limit = _states(allowance(budget, X.shape[1], h0.shape[1], params), case)
        written_limit = limit + _states(WRITTEN_SLACK, case)
        for function in HONEST["checkpointed"]:
            measured = measure_apart(function, *problem, budget)
            peak, written = _states(measured.peak_bytes, case), _states(measured.written_bytes, case)
            assert peak <= limit - 5, f"{function.__name__} on {case.label}: {peak:.1f} of {limit:.1f} states"
            # Python's own pages copied after the fork add about 1.5 MiB; the slack is 16 MiB.
            assert written <= written_limit - _states(8 * 2**20, case), (
                f"{function.__name__} on {case.label}: wrote {written:.1f} of {written_limit:.1f} states")


SHORTCUTS = namespace(*variants.FULL_BPTT.values())
OVER_BUDGET = {
    "every state": SHORTCUTS.checkpointed_gradients,
    "the input projections of all steps":
        namespace(variants.PROJECTIONS["checkpointed"]).checkpointed_gradients,
    "z_t and h_t in segments of sqrt(T)": namespace(variants.Z_AND_H["checkpointed"]).checkpointed_gradients,
}


@pytest.mark.parametrize("name", sorted(OVER_BUDGET))
def test_shortcuts_over_the_budget_exceed_the_allowance_clearly(name):
    """At least 5 states over the allowance on every judged case whose budget is the smallest a
    uniform schedule allows (about 2 sqrt(T)); storing every state or the projections, on every
    judged case. (With a larger budget, z_t and h_t in segments of sqrt(T) come within the slack.)"""
    for case in _measured_cases():
        *problem, budget = case.value
        X, _, h0, params = problem[:4]
        if name.startswith("z_t") and budget != ch07.uniform_budget(len(X)):
            continue
        limit = _states(allowance(budget, X.shape[1], h0.shape[1], params), case)
        peak = _states(measure(OVER_BUDGET[name], *problem, budget).peak_bytes, case)
        assert peak >= limit + 5, f"{name} on {case.label}: {peak:.1f} of {limit:.1f} states"


@pytest.mark.parametrize("name", sorted(OVER_BUDGET))
def test_shortcuts_over_the_budget_earn_nothing(verdict, name):
    for check_id in MEASURED:
        message = verdict(check_id, OVER_BUDGET[name], 5)
        assert message is not None and "states' worth" in message, f"{check_id}: {message}"


def test_a_result_computed_after_the_call_is_measured_too(verdict):
    """Arrays that compute themselves when read (after measure returned) are read inside it."""
    class Later:
        def __init__(self, args, key, done):
            self.args, self.key, self.done = args, key, done

        def __array__(self, dtype=None, copy=None):
            if not self.done:
                self.done.update(SHORTCUTS.checkpointed_gradients(*self.args))
            return np.asarray(self.done[self.key], dtype=dtype)

    def lazy(*args):
        done = {}
        return {key: Later(args, key, done) for key in ch07.KEYS}

    assert "states' worth" in verdict("test_checkpointed_memory", lazy, 1)


TAMPERING = namespace(variants.RESET_PEAK["checkpointed"])
RESTARTING = namespace(variants.RESTART_TRACING["checkpointed"])
MAPPED = namespace(variants.MAPPED["checkpointed"])


def test_resetting_the_peak_does_not_hide_the_states(verdict):
    for check_id in MEASURED:
        assert "states' worth" in verdict(check_id, TAMPERING.checkpointed_gradients, 3), check_id


def test_restarting_tracemalloc_earns_nothing(verdict):
    for check_id in MEASURED:
        assert "MeasurementError" in verdict(check_id, RESTARTING.checkpointed_gradients, 3)


def test_memory_outside_tracemalloc_is_counted_by_what_the_call_writes(verdict):
    """Mapped memory and arrays made before the call are not traced; the pages written are counted."""
    from autograder.scan import scan

    preallocated = namespace(variants.PREALLOCATED["checkpointed"])  # 200 MB, freed with it
    for function in (MAPPED.checkpointed_gradients, preallocated.checkpointed_gradients):
        for check_id in ("test_checkpointed_hidden", "test_checkpointed_memory"):
            assert "wrote to" in verdict(check_id, function, 4), check_id
    assert "keeps memory out of the measurement" in scan(list(variants.MAPPED.values()))
    assert "tampers with the memory measurement" in scan([variants.RESET_PEAK["checkpointed"]])


def test_states_kept_in_files_earn_nothing(verdict, tmp_path, monkeypatch):
    """Files cannot grow while the call is measured: writing the states fails."""
    monkeypatch.chdir(tmp_path)
    message = verdict("test_checkpointed_memory", namespace(variants.FILES["checkpointed"])
                      .checkpointed_gradients, 4)
    assert message is not None and "File too large" in message, message


# ---------------------------------------------------------------- gradients without a backward pass

FINITE = namespace(variants.FINITE_DIFFERENCES["checkpointed"]).checkpointed_gradients
COMPLEX = namespace(variants.COMPLEX_STEP["checkpointed"]).checkpointed_gradients
DELEGATES = namespace(*variants.DELEGATES.values())


def _small_cases_only(check_id: str):
    check = ch07.CHECKS[check_id]
    return type(check)(check.kind, lambda seed: [c for c in check.cases(seed) if c.value[0].size < 2000],
                       check.verdict)


def test_finite_differences_are_not_exact_enough(tmp_path):
    for check_id in ("test_checkpointed_visible", "test_checkpointed_hidden"):
        check = _small_cases_only(check_id)
        cases = write_inputs(check_id, check, tmp_path, 1)
        message = judge(check, cases, json.loads(json.dumps(results(check_id, FINITE, tmp_path))))
        assert message is not None and "rel_error" in message, message


def test_finite_differences_take_minutes_on_the_large_cases():
    """Central differences, two evaluations of the loss per gradient entry, on the cases of a check:
    past a cell's time limit on the visible check (whose two long cases have 2600 entries each),
    many times over on the hidden ones."""
    loss = namespace(variants.FINITE_DIFFERENCES["checkpointed"])._loss
    for check_id, factor in (("test_checkpointed_visible", 1.5), ("test_checkpointed_hidden", 5.0),
                             ("test_checkpointed_memory", 5.0)):
        seconds = 0.0
        for case in ch07.CHECKS[check_id].cases(0):
            X, targets, h0, params, phi = case.value[:5]
            start = time.perf_counter()
            loss(X, targets, h0, params, phi)
            entries = sum(np.size(v) for v in params.values()) + h0.size
            seconds += 2 * entries * (time.perf_counter() - start)
        assert seconds > factor * Limits.cell_seconds, (check_id, seconds)


def test_the_complex_step_is_refused(verdict):
    for check_id in MEASURED:
        assert "takes real arrays, not complex ones" in verdict(check_id, COMPLEX, 2)


def test_the_packages_linear_rnn_code_is_wrong_here(verdict):
    for check_id in MEASURED:
        assert "is off" in verdict(check_id, DELEGATES.checkpointed_gradients, 2)
    for check_id in UORO_CHECKS:
        assert "is off" in verdict(check_id, DELEGATES.uoro_gradient, 2)


def test_wrong_keys_are_named(verdict):
    def extra(*args):
        return {**fewest_states(*args), "X": 0.0}

    assert "yours also has ['X']" in verdict("test_checkpointed_hidden", extra)


# ---------------------------------------------------------------- UORO's step

def step_without_s(x, h_prev, s_tilde, theta_tilde, nu, params, phi, d_phi):
    return namespace(variants.COMPLEX_STEP["uoro_step"]).uoro_step(x, h_prev, s_tilde, theta_tilde, nu,
                                                                  params, phi, d_phi)


def step_unscaled(*args):
    return namespace(variants.RESET_PEAK["uoro_step"]).uoro_step(*args)


def step_norms_per_part(x, h_prev, s_tilde, theta_tilde, nu, params, phi, d_phi):
    """c_0 and c_1 from the W_hh parts alone, not from all of theta~ and F^T nu."""
    z = params["W_hx"] @ x + params["W_hh"] @ h_prev + params["b_h"]
    slope = d_phi(z)
    carried = slope * (params["W_hh"] @ s_tilde)
    pushed = {"W_hx": np.outer(slope * nu, x), "W_hh": np.outer(slope * nu, h_prev), "b_h": slope * nu}
    c0 = math.sqrt((np.linalg.norm(theta_tilde["W_hh"]) + 1e-7) / (np.linalg.norm(carried) + 1e-7))
    c1 = math.sqrt((np.linalg.norm(pushed["W_hh"]) + 1e-7) / (np.linalg.norm(nu) + 1e-7))
    return phi(z), c0 * carried + c1 * nu, {k: theta_tilde[k] / c0 + pushed[k] / c1 for k in pushed}


@pytest.mark.parametrize("function", [step_without_s, step_unscaled, step_norms_per_part],
                         ids=lambda f: f.__name__)
@over_seeds
@given(seed=seeds)
def test_wrong_steps_earn_nothing(verdict, function, seed):
    for check_id in STEP_CHECKS:
        message = verdict(check_id, function, seed)
        assert message is not None and "is off" in message, message


# ---------------------------------------------------------------- UORO's estimate

EXACT = namespace(variants.FULL_BPTT["checkpointed"])._exact_stream


def exact_gradient(X, targets, h0, params, phi, d_phi, rng):
    return EXACT(X, targets, h0, params, phi, d_phi)


def noisy(scale):
    def estimate(X, targets, h0, params, phi, d_phi, rng):
        grads = EXACT(X, targets, h0, params, phi, d_phi)
        for key in ch07.RECURRENT:
            grads[key] = grads[key] + scale(grads[key]) * rng.standard_normal(np.shape(grads[key]))
        return grads
    return estimate


UNSCALED = namespace(variants.RESET_PEAK["uoro_step"], variants.RESET_PEAK["uoro_gradient"]).uoro_gradient
FORGETS_S = namespace(variants.COMPLEX_STEP["uoro_step"],
                      variants.COMPLEX_STEP["uoro_gradient"]).uoro_gradient

ESTIMATE_SHORTCUTS = [
    ("the exact gradient", exact_gradient),
    ("the exact gradient with noise of 1e-4", noisy(lambda g: 1e-4)),
    ("the exact gradient with noise of 3", noisy(lambda g: 3.0)),
    ("the exact gradient with noise of its own size", noisy(np.abs)),
    ("the exact gradient with noise of the largest entry's size", noisy(lambda g: np.max(np.abs(g)))),
    ("signs uniform in [-1, 1]", with_signs(lambda rng, h: rng.uniform(-1.0, 1.0, h))),
    ("Gaussian signs", with_signs(lambda rng, h: rng.standard_normal(h))),
    ("signs 0 or 1", with_signs(lambda rng, h: rng.choice([0.0, 1.0], size=h))),
    ("one draw of signs for every step", with_signs(once)),
    ("signs from a fixed generator",
     with_signs(lambda rng, h: np.random.default_rng(0).choice([-1.0, 1.0], h))),
    ("c_0 = c_1 = 1", UNSCALED),
    ("a step that forgets s~", FORGETS_S),
]


@pytest.mark.parametrize("name, function", ESTIMATE_SHORTCUTS, ids=[n for n, _ in ESTIMATE_SHORTCUTS])
@over_few_seeds
@given(seed=seeds)
def test_other_estimators_earn_nothing(verdict, name, function, seed):
    for check_id in UORO_CHECKS:
        message = verdict(check_id, function, seed)
        assert message is not None and ("standard errors" in message or "spread" in message), message


def test_a_deterministic_estimate_is_told_to_draw_signs(verdict):
    assert "Do the calls draw new signs from rng?" in verdict("test_uoro_gradient_visible", exact_gradient)


def test_the_output_layer_must_be_exact_in_every_estimate(verdict):
    def off(*args):
        grads = uoro_gradient_per_step(*args)
        return {**grads, "b_q": grads["b_q"] * 1.001}

    assert "dL/db_q (exact in every estimate) is off" in verdict("test_uoro_gradient_hidden", off)


def test_estimates_must_have_one_form(verdict):
    def changing(X, targets, h0, params, phi, d_phi, rng):
        grads = uoro_gradient_per_step(X, targets, h0, params, phi, d_phi, rng)
        return grads if rng.random() < 0.5 else {**grads, "W_hh": grads["W_hh"][0]}

    assert "different shapes in different calls" in verdict("test_uoro_gradient_visible", changing)
    assert "dict of arrays" in verdict("test_uoro_gradient_visible", lambda *args: [1.0, 2.0])


# ---------------------------------------------------------------- the statistics behind the verdict

def _uoro_case_secrets(seed: int):
    return [case for check_id in UORO_CHECKS for case in ch07.CHECKS[check_id].cases(seed)]


def test_uoro_is_unbiased_and_the_step_matches_the_enumeration():
    """The mean over every pattern of signs is the exact gradient (the chapter's claim), and the
    vectorised recursion that enumerates them is the step the notebook asks for."""
    for case in _uoro_case_secrets(0):
        X, targets, h0, params, phi, d_phi = case.value["arguments"]
        exact = case.secret["exact"]
        signs = ch07.sign_patterns(len(X), len(h0))
        values = ch07.uoro_estimates(X, targets, h0, params, phi, d_phi, signs)
        flat = np.concatenate([exact[k].ravel() for k in ch07.RECURRENT])
        assert bptt.rel_error(values.mean(axis=0), flat) < 1e-12
        one = ch07.uoro_gradient(X, targets, h0, params, phi, d_phi, np.random.default_rng(1))
        pattern = np.random.default_rng(1).choice([-1.0, 1.0], size=(1, len(X), len(h0)))
        again = ch07.uoro_estimates(X, targets, h0, params, phi, d_phi, pattern)[0]
        assert bptt.rel_error(np.concatenate([one[k].ravel() for k in ch07.RECURRENT]), again) < 1e-12


def unscaled_estimates(X, targets, h0, params, phi, d_phi, signs):
    """ch07.uoro_estimates with c_0 = c_1 = 1: s~_t = J_t s~_{t-1} + nu_t and
    theta~_t = theta~_{t-1} + F_t^T nu_t."""
    P, T, size = signs.shape
    h, s_tilde = np.asarray(h0, dtype=float), np.zeros((P, size))
    theta = np.zeros((P, size * (X.shape[1] + size + 1)))
    estimates = np.zeros_like(theta)
    for t in range(T):
        z = params["W_hx"] @ X[t] + params["W_hh"] @ h + params["b_h"]
        slope = d_phi(z)
        scaled = signs[:, t] * slope
        theta = theta + np.concatenate([(scaled[:, :, None] * X[t]).reshape(P, -1),
                                        (scaled[:, :, None] * h).reshape(P, -1), scaled], axis=1)
        s_tilde = (s_tilde @ params["W_hh"].T) * slope + signs[:, t]
        h = phi(z)
        d_o = _cross_entropy_delta(h[None], targets[t:t + 1], params["W_qh"], params["b_q"], 1.0 / T)[0]
        estimates += (s_tilde @ (d_o @ params["W_qh"]))[:, None] * theta
    return estimates


def _refused(case, draw, runs: int, rng, noise: bool = False, estimator=ch07.uoro_estimates) -> np.ndarray:
    """(runs,) whether each of ``runs`` sets of n estimates falls outside the case's bounds, judged
    as ``estimates_mismatch`` judges them: ``estimator`` (vectorised UORO) with the signs
    ``draw(rng, shape)``, or with ``noise``, the exact gradient plus Gaussian noise of UORO's
    average variance."""
    X, targets, h0, params, phi, d_phi = case.value["arguments"]
    n, bounds = ch07.SAMPLES, case.secret["bounds"]
    exact = np.concatenate([case.secret["exact"][k].ravel() for k in ch07.RECURRENT])
    if noise:
        values = exact + np.sqrt(bounds["variance"].mean()) * rng.standard_normal((runs * n, len(exact)))
    else:
        values = estimator(X, targets, h0, params, phi, d_phi, draw(rng, (runs * n, len(X), len(h0))))
    values = values.reshape(runs, n, -1)
    far = np.abs(values.mean(axis=1) - exact) > bounds["tolerance"]
    spread = np.mean((values - exact) ** 2, axis=1)
    return np.any(far | (spread < bounds["low"]) | (spread > bounds["high"]), axis=1)


def signs(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape)


def test_honest_draws_are_never_refused():
    """500 sets of 1000 honest estimates on every case of both checks, for two secret seeds: none
    is refused (the bounds allow one in 10^7 per case)."""
    rng = np.random.default_rng(7)
    for seed in (0, 1):
        for case in _uoro_case_secrets(seed):
            assert not _refused(case, signs, 500, rng).any(), case.label


OTHER_ESTIMATES = {"Gaussian signs": (lambda r, s: r.standard_normal(s), ch07.uoro_estimates),
                   "uniform signs": (lambda r, s: r.uniform(-1.0, 1.0, s), ch07.uoro_estimates),
                   "c_0 = c_1 = 1": (signs, unscaled_estimates),
                   "noise of UORO's average size": (None, None)}


@pytest.mark.parametrize("name", sorted(OTHER_ESTIMATES))
def test_the_bounds_tell_other_estimates_apart(name):
    """Refused on at least one case of each check, for each of 40 secret seeds."""
    rng = np.random.default_rng(8)
    draw, estimator = OTHER_ESTIMATES[name]
    for check_id in UORO_CHECKS:
        for seed in range(40):
            cases = ch07.CHECKS[check_id].cases(seed)
            refused = [_refused(case, draw, 1, rng, draw is None, estimator)[0] for case in cases]
            assert any(refused), (check_id, seed)


def test_bounds_are_tight():
    """The accepted ranges of every case: within a few standard errors and a factor 3 of UORO's variance."""
    for case in _uoro_case_secrets(3):
        bounds, n = case.secret["bounds"], ch07.SAMPLES
        assert ch07.informative(bounds, n)
        assert np.all(bounds["tolerance"] <= 10 * np.sqrt(bounds["variance"] / n))


# ---------------------------------------------------------------- what grading costs

@pytest.mark.parametrize("check_id", sorted(ch07.CHECKS))
def test_a_check_runs_in_seconds_and_its_record_fits(tmp_path, check_id):
    """Honest work on every case of a check: well within a cell's time limit, and a record well
    within the grading channel's limit per probe."""
    function = HONEST[exercise(check_id)][0]
    cases = write_inputs(check_id, ch07.CHECKS[check_id], tmp_path, 11)
    start = time.perf_counter()
    record = results(check_id, function, tmp_path)
    seconds = time.perf_counter() - start
    size = len(json.dumps({"probe": check_id, **record}))
    assert judge(ch07.CHECKS[check_id], cases, json.loads(json.dumps(record))) is None
    assert seconds < Limits.cell_seconds / 4, f"{seconds:.1f} s"
    assert size < 0.75 * Limits.record_bytes, f"{size / 2**20:.2f} MiB"
