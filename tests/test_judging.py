"""The checks of chapter 4, judged in process: honest work passes whatever the seed, shortcuts do not.

Each graded function has two answers written here apart from the reference (``own_*``: one step
function called along time, as the notebook suggests; ``alt_*``: log-probabilities, einsum, all
error terms first and the weight gradients summed over time at the end, vectorised direction
draws). Both earn every check over the seed sweep. Then the shortcuts: differentiating the forward
pass (complex steps, central differences) is far too slow on the large cases, which is measured
here; a gradient check that reads the loss's closure, or that is lenient, earns nothing; common
mistakes fail with a message that names them.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from functools import partial

import nbformat
import numpy as np
import pytest
from hypothesis import given

import bptt
from autograder.reference import ch04_bptt_in_detail as ch04
from autograder.reference import tanh_rnn as reference
from autograder.reference.ch04_bptt_in_detail import CHECKS
from autograder.reference.judging import Check, judge, write_inputs
from autograder.sandbox import Limits
from bptt.checks import gradients_mismatch
from bptt.probe import probe, results
from tests.conftest import ROOT, nbgrader_meta, over_seeds, seeds
from tests.variants import ch04 as variants, load

NOTEBOOK = ROOT / "solutions" / ch04.ASSIGNMENT / "bptt-in-detail.ipynb"
STEP_CHECKS = ("test_step_through_time", "test_step_parameters", "test_step_hidden")
RNN_CHECKS = ("test_rnn_output_layer", "test_rnn_recurrent", "test_rnn_hidden")


@pytest.fixture
def verdict(judged):
    return partial(judged, CHECKS)


# --- Two honest answers per exercise, each unlike the reference --------------------------------

def own_softmax_backward(O, targets):
    T, B, q = O.shape
    dO = bptt.softmax(O)
    dO[np.arange(T)[:, None], np.arange(B), targets] -= 1.0
    return dO / (T * B)


def own_step_backward(dh, cache):
    delta = dh * (1 - cache.h ** 2)
    return (delta @ cache.W_hx, delta @ cache.W_hh, delta.T @ cache.x, delta.T @ cache.h_prev,
            delta.sum(0))


def own_rnn_backward(dO, cache):
    grads = {"W_qh": np.einsum("tbq,tbh->qh", dO, cache.H), "b_q": dO.sum((0, 1)),
             "W_hx": 0.0, "W_hh": 0.0, "b_h": 0.0}
    carried = np.zeros_like(cache.H[0])
    for t in reversed(range(len(cache.steps))):
        _, carried, dW_hx, dW_hh, db_h = own_step_backward(carried + dO[t] @ cache.W_qh,
                                                           cache.steps[t])
        grads["W_hx"] = grads["W_hx"] + dW_hx
        grads["W_hh"] = grads["W_hh"] + dW_hh
        grads["b_h"] = grads["b_h"] + db_h
    grads["h0"] = carried
    return grads


def own_directional_check(f, x, grad, rng, num_directions=3, eps=1e-5):
    original = x.copy()
    worst = 0.0
    for _ in range(num_directions):
        v = rng.standard_normal(x.shape)
        x[...] = original + eps * v
        up = f()
        x[...] = original - eps * v
        down = f()
        x[...] = original
        worst = max(worst, bptt.rel_error((up - down) / (2 * eps), np.sum(grad * v)))
    return worst


# The end-to-end variant written unlike the solution: exp(log softmax) from a log-sum-exp minus a
# one-hot mask built by comparison; einsum throughout, with tanh' written (1 - h)(1 + h); all error
# terms first, by the recursion on delta, the weight gradients at the end; all directions in one
# draw, x moved up, then down by twice the step.
DIFFERENTLY = load(*variants.DIFFERENTLY.values(), rel_error=bptt.rel_error)
alt_softmax_backward = DIFFERENTLY.softmax_cross_entropy_backward
alt_step_backward = DIFFERENTLY.tanh_step_backward
alt_rnn_backward = DIFFERENTLY.tanh_rnn_backward
alt_directional_check = DIFFERENTLY.directional_check


HONEST = {"softmax": (own_softmax_backward, alt_softmax_backward),
          "step": (own_step_backward, alt_step_backward),
          "rnn": (own_rnn_backward, alt_rnn_backward),
          "gradcheck": (own_directional_check, alt_directional_check)}


@pytest.mark.parametrize("which", [0, 1], ids=["own", "alt"])
@pytest.mark.parametrize("check_id", sorted(CHECKS))
@over_seeds
@given(seed=seeds)
def test_honest_work_passes_for_every_seed(judged, check_id, which, seed):
    answer = HONEST[check_id.split("_")[1]][which]
    assert judged(CHECKS, check_id, answer, seed) is None


def test_visible_cases_are_the_notebooks():
    """The grader's first case of a visible check is the one the notebook's setup cells build."""
    cells = {nbgrader_meta(c).get("grade_id"): c.source for c in nbformat.read(NOTEBOOK, 4).cells}
    space: dict = {}
    for name in ("setup", "step_check_setup", "rnn_check_setup"):
        exec(cells[name], space)  # noqa: S102 - the instructor's own notebook
    dh, step = ch04._step_cases(True, 0)[0].value
    assert np.array_equal(dh, space["dh"])
    for field in step._fields:
        assert np.array_equal(getattr(step, field), getattr(space["step_cache"], field)), field
    dO, cache = ch04._rnn_cases(True, 0)[0].value
    assert np.array_equal(dO, space["dO"]) and np.array_equal(cache.H, space["rnn_cache"].H)
    O, targets = ch04._softmax_cases(True, 0)[0].value
    problem = bptt.tanh_problem(seed=0, T=4, B=3, d=5, h=6, q=3)
    assert np.array_equal(O, bptt.tanh_rnn_forward(problem.X, problem.h0, problem.params)[0])
    assert np.array_equal(targets, problem.targets)


def test_visible_checks_have_fresh_and_large_cases():
    for check_id in ("test_softmax_ce_visible", *STEP_CHECKS[:2], *RNN_CHECKS[:2]):
        first, second = (CHECKS[check_id].cases(seed) for seed in (1, 2))
        assert first[0].label == second[0].label and "notebook's" in first[0].label
        fresh = [np.array_equal(a.value[0], b.value[0]) for a, b in zip(first[1:], second[1:])]
        assert not any(fresh), check_id
        assert any("large" in c.label or "q=48" in c.label for c in first), check_id


# --- Mistakes fail, and say what is wrong --------------------------------------------------

def test_every_check_fails_a_function_that_raises(verdict):
    def stub(*args):
        raise NotImplementedError()

    for check_id in CHECKS:
        assert "raised NotImplementedError" in verdict(check_id, stub)


def test_missing_factor_is_reported_with_its_size(verdict):
    message = verdict("test_softmax_ce_hidden", lambda O, y: own_softmax_backward(O, y) * 2)
    assert message.startswith("T=1, B=1, q=2, logits of size ~3: dL/dO is off: rel_error")


def test_a_factor_shared_by_all_gradients_is_named():
    """Every gradient T times too large: the notebook's visible check and the grader both say so."""
    wrong = {k: 6 * v for k, v in own_rnn_backward(*ch04._rnn_cases(True, 0)[0].value).items()}
    stored = bptt.checks.expected(ch04.ASSIGNMENT, "rnn")
    message = gradients_mismatch(wrong, {k: stored[k] for k in ("h0", "W_hh", "W_hx", "b_h")},
                                 bptt.TOL_AUTOGRAD)
    assert all(f"dL/d{k} is off" in message for k in ("h0", "W_hh", "W_hx", "b_h"))
    assert "All 4 wrong gradients are 6 times the expected ones" in message


def test_the_grader_names_every_wrong_gradient(verdict):
    def six_times(dO, cache):
        return {k: 6 * v for k, v in own_rnn_backward(dO, cache).items()}

    message = verdict("test_rnn_recurrent", six_times)
    assert "All 4 wrong gradients are 6 times" in message


def test_naive_softmax_fails_on_large_logits(verdict):
    def naive(O, targets):
        E = np.exp(O)
        onehot = np.eye(O.shape[-1])[targets]
        return (E / E.sum(-1, keepdims=True) - onehot) / (O.shape[0] * O.shape[1])

    assert verdict("test_softmax_ce_visible", naive) is None
    with np.errstate(all="ignore"):
        assert "NaN or infinite" in verdict("test_softmax_ce_hidden", naive)


def test_wrong_step_output_is_named(verdict):
    def forgot_tanh_derivative(dh, cache):
        return (dh @ cache.W_hx, dh @ cache.W_hh, dh.T @ cache.x, dh.T @ cache.h_prev, dh.sum(0))

    assert verdict("test_step_through_time", forgot_tanh_derivative).startswith(
        "the notebook's step, B=3, d=4, h=5: dx is off")
    assert verdict("test_step_parameters", forgot_tanh_derivative).startswith(
        "the notebook's step, B=3, d=4, h=5: dW_hx is off")


def test_wrong_return_types_are_explained(verdict):
    assert "tuple of 5 arrays" in verdict("test_step_hidden", lambda dh, cache: None)
    assert "dict of gradients" in verdict("test_rnn_hidden", lambda dO, cache: [1, 2])
    assert "lacks the keys ['h0']" in verdict(
        "test_rnn_recurrent", lambda dO, cache: {k: v for k, v in own_rnn_backward(dO, cache).items()
                                                 if k != "h0"})
    assert "exactly the keys" in verdict(
        "test_rnn_output_layer", lambda dO, cache: {**own_rnn_backward(dO, cache), "H": cache.H[:1]})


def test_truncated_backward_fails_on_longer_sequences(verdict):
    def one_step_only(dO, cache):
        grads = own_rnn_backward(dO[-1:], cache._replace(steps=cache.steps[-1:], H=cache.H[-1:]))
        grads["W_qh"] = np.einsum("tbq,tbh->qh", dO, cache.H)
        grads["b_q"] = dO.sum((0, 1))
        return grads

    assert verdict("test_rnn_output_layer", one_step_only) is None
    assert "T=6, B=3, d=4, h=5, q=3: h0 is off" in verdict("test_rnn_recurrent", one_step_only)


def test_objects_that_claim_equality_get_nothing(verdict):
    class Liar:
        def __eq__(self, other):
            return True

        def __array__(self, dtype=None, copy=None):
            return np.zeros(1)

    for check_id in ("test_softmax_ce_visible", "test_step_hidden", "test_rnn_hidden"):
        assert verdict(check_id, lambda *args: Liar()) is not None


# --- Part 3: only central differences along the seeded directions pass ---------------------

# The exact directional derivative from the loss's closure: no finite differences at all.
reads_the_closure = load(variants.READS_THE_CLOSURE, rel_error=bptt.rel_error).directional_check


def one_sided(f, x, grad, rng, num_directions=3, eps=1e-5):
    original, worst = x.copy(), 0.0
    for _ in range(num_directions):
        v = rng.standard_normal(x.shape)
        here = f()
        x[...] = original + eps * v
        worst = max(worst, bptt.rel_error((f() - here) / eps, np.sum(grad * v)))
        x[...] = original
    return worst


def all_directions_at_once(f, x, grad, rng, num_directions=3, eps=1e-5):
    """One rel_error over the vectors of all directions, not the largest per direction."""
    original, slopes, alongs = x.copy(), [], []
    for _ in range(num_directions):
        v = rng.standard_normal(x.shape)
        x[...] = original + eps * v
        up = f()
        x[...] = original - eps * v
        slopes.append((up - f()) / (2 * eps))
        alongs.append(np.sum(grad * v))
        x[...] = original
    return bptt.rel_error(np.array(slopes), np.array(alongs))


@pytest.mark.parametrize("check_id, shortcut", [
    ("test_gradcheck_visible", reads_the_closure), ("test_gradcheck_hidden", reads_the_closure),
    ("test_gradcheck_visible", one_sided), ("test_gradcheck_hidden", one_sided),
    # A misreading more than a shortcut: the notebook's own call at eps = 0.1 shows it.
    ("test_gradcheck_visible", all_directions_at_once)])
@over_seeds
@given(seed=seeds)
def test_other_directional_checks_earn_nothing(judged, check_id, shortcut, seed):
    assert judged(CHECKS, check_id, shortcut, seed) is not None


def test_the_notebooks_directions_tell():
    """The notebook's own calls meet the rule every drawn case meets: no direction nearly
    orthogonal to the gradient, and a wrong gradient visibly off along one of them."""
    for case in ch04._visible_gradcheck_cases():
        spec = case.value
        assert ch04._tells(spec["seed"], 3 * spec["x"] ** 2, spec["grad"], spec["directions"])


def test_the_closure_reader_is_caught_by_the_truncation_error(verdict):
    message = verdict("test_gradcheck_visible", reads_the_closure)
    assert message.startswith("sum(x**3), the right gradient, eps=0.1, 3 directions: got")
    assert "central differences along the directions drawn from rng give" in message


def test_directional_check_rules(verdict):
    def leaves_x_perturbed(f, x, grad, rng, num_directions=3, eps=1e-5):
        error = own_directional_check(f, x, grad, rng, num_directions, eps)
        x += 1e-3
        return error

    def entrywise(f, x, grad, rng, num_directions=3, eps=1e-5):
        return bptt.rel_error(bptt.numerical_gradient(f, x, eps), grad)

    def lenient(f, x, grad, rng, num_directions=3, eps=1e-5):
        own_directional_check(f, x, grad, rng, num_directions, eps)
        return 0.0

    def default_step(f, x, grad, rng, num_directions=3, eps=1e-5):
        return own_directional_check(f, x, grad, rng, num_directions)

    assert "changed x" in verdict("test_gradcheck_hidden", leaves_x_perturbed)
    assert "f was called 6 times; expected 2" in verdict("test_gradcheck_hidden", entrywise)
    assert "for a wrong gradient" in verdict("test_gradcheck_hidden", lenient)
    assert "with the eps given" in verdict("test_gradcheck_hidden", default_step)


def test_the_large_step_separates_the_methods():
    """At a large step, for a right gradient, the central difference is off the exact derivative
    by far more than the matching tolerance (a wrong sign gives 1 either way, so every check holds
    right gradients at large steps)."""
    for seed in range(20):
        for visible in (True, False):
            right = [c.value for c in ch04._gradcheck_cases(visible, seed)
                     if c.secret and c.value["eps"] > ch04.SMALL_EPS]
            assert right
            for spec in right:
                expected = ch04._grader_value(spec)
                (f, x, grad, rng, n, eps), _ = ch04.directional_arguments({**spec, "x": spec["x"].copy()})
                closure = reads_the_closure(f, x, grad, rng, n, eps)
                assert abs(closure - expected) > 1e3 * (ch04.MATCH_RTOL * expected + ch04.MATCH_ATOL)


# --- Differentiating the forward pass is far too slow on the large cases -------------------

def step_loss(dh, cache, params):
    """sum(h * dh) of one step as a function of its inputs, complex or real; a leading axis of
    the parameters (several perturbations at once) carries through."""
    z = (params["x"] @ np.swapaxes(params["W_hx"], -1, -2)
         + params["h_prev"] @ np.swapaxes(params["W_hh"], -1, -2) + params["b_h"][..., None, :])
    return np.sum(np.tanh(z) * dh, axis=(-2, -1))


def step_params(cache):
    """The step's inputs, the bias found back from the stored state (the cache has no b_h)."""
    z = np.arctanh(cache.h[0]) - cache.x[0] @ cache.W_hx.T - cache.h_prev[0] @ cache.W_hh.T
    return {"x": cache.x, "h_prev": cache.h_prev, "W_hx": cache.W_hx, "W_hh": cache.W_hh, "b_h": z}


def rnn_loss(dO, cache, params):
    """sum_t dO[t] . o_t, whose gradient is the backward pass's, for complex or real parameters."""
    h, total = params["h0"], 0.0
    for t, step in enumerate(cache.steps):
        h = np.tanh(step.x @ np.swapaxes(params["W_hx"], -1, -2)
                    + h @ np.swapaxes(params["W_hh"], -1, -2) + params["b_h"][..., None, :])
        o = h @ np.swapaxes(params["W_qh"], -1, -2) + params["b_q"][..., None, :]
        total = total + np.sum(dO[t] * o, axis=(-2, -1))
    return total


def rnn_params(cache):
    first = cache.steps[0]
    z = np.arctanh(first.h[0]) - first.x[0] @ first.W_hx.T - first.h_prev[0] @ first.W_hh.T
    return {"W_hx": first.W_hx, "W_hh": first.W_hh, "b_h": z, "W_qh": cache.W_qh,
            "b_q": np.zeros(cache.W_qh.shape[0]), "h0": first.h_prev}


# Every partial derivative by a complex step, one forward pass per entry: the end-to-end variants.
complex_step_step_backward = load(variants.COMPLEX_STEP_STEP).tanh_step_backward
complex_step_rnn_backward = load(variants.COMPLEX_STEP_RNN).tanh_rnn_backward


def test_complex_steps_are_exact_on_small_cases(judged):
    """The shortcut is right: only the time it takes on the large cases stops it."""
    for check_id, shortcut in (("test_step_hidden", complex_step_step_backward),
                               ("test_rnn_hidden", complex_step_rnn_backward)):
        check = CHECKS[check_id]
        small = Check(check.kind, lambda seed, check=check: [c for c in check.cases(seed)
                                                             if "large" not in c.label],
                      check.verdict)
        assert judged({check_id: small}, check_id, shortcut) is None


def seconds_per_evaluation(loss, params: dict, dtype, batch: int) -> float:
    """The time of one forward evaluation when ``batch`` perturbations of W_hh are evaluated together.

    Only W_hh, which holds most of the entries, is of ``dtype`` and carries the batch; all else
    stays real and is shared by the batch.
    """
    moved = {**params, "W_hh": np.broadcast_to(params["W_hh"].astype(dtype), (batch, *params["W_hh"].shape))}
    loss(moved)  # warm up
    start, runs = time.perf_counter(), 2
    for _ in range(runs):
        loss(moved)
    return (time.perf_counter() - start) / (runs * batch)


# Black-box ways to the whole gradient: (forward passes per entry, their dtype, the least margin
# over the cell's limit that the test demands). Plain central differences come within a few
# 1e-10 of the gradient on the large step (measured: 1.5e-10 on sampled entries), a hair off the
# tolerance; Richardson's extrapolation of two of them meets it, at four passes per entry.
SHORTCUTS = {"complex step": (1, complex, 10), "central differences": (2, float, 5),
             "Richardson-extrapolated central differences": (4, float, 10)}
CELL_SECONDS = Limits().cell_seconds
HONEST_SECONDS = 2.0  # all cases of one check, honestly: far inside the cell's limit


def projected_seconds(loss, params: dict) -> dict[str, float]:
    """Lower bounds on the time of each black-box shortcut for the whole gradient, from forward
    evaluations timed one at a time or 8 at once, whichever is faster."""
    entries = sum(v.size for v in params.values())
    per = {dtype: min(seconds_per_evaluation(loss, params, dtype, batch) for batch in (1, 8))
           for dtype in (complex, float)}
    return {method: entries * passes * per[dtype] for method, (passes, dtype, _) in SHORTCUTS.items()}


def seconds_for(answer, cases) -> float:
    start = time.perf_counter()
    for case in cases:
        answer(*case.value)
    return time.perf_counter() - start


def measure(kind: str) -> dict:
    """Seconds of the honest backward pass on all cases of each check of ``kind``, and the
    projected seconds of the shortcuts on the large case that each of these checks has."""
    check_ids, honest = (STEP_CHECKS, own_step_backward) if kind == "step" else (RNN_CHECKS,
                                                                                  own_rnn_backward)
    loss, params = (step_loss, step_params) if kind == "step" else (rnn_loss, rnn_params)
    measured: dict = {"honest": {}, "large": set()}
    for check_id in check_ids:
        cases = CHECKS[check_id].cases(7)
        measured["honest"][check_id] = min(seconds_for(honest, cases) for _ in range(2))
        measured["large"] |= {c.label for c in cases if "large" in c.label}
    case = next(c for c in CHECKS[check_ids[-1]].cases(7) if "large" in c.label)
    measured["projected"] = projected_seconds(partial(loss, *case.value), params(case.value[1]))
    measured["large"] = sorted(measured["large"])
    return measured


@pytest.mark.parametrize("kind", ["step", "rnn"])
def test_differentiating_the_forward_pass_is_far_too_slow(kind):
    """Measured with one BLAS thread, as in the sandbox: the honest backward pass on every case
    of a check takes well under a second; the shortcuts, projected from a few forward
    evaluations on the large case that every check of the kind has, take many times the limit."""
    threads = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", "import json, sys; from tests.test_judging import "
                           f"measure; print(json.dumps(measure({kind!r})))"], cwd=ROOT,
                          env={**os.environ, **threads}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.splitlines()[-1])
    for check_id, seconds in measured["honest"].items():
        assert seconds < HONEST_SECONDS, f"{check_id}: the honest backward pass takes {seconds:.2f} s"
    assert len(measured["large"]) == 1, f"the checks of {kind} do not share one large case"
    for method, seconds in measured["projected"].items():
        margin = SHORTCUTS[method][2]
        assert seconds > margin * CELL_SECONDS, (f"{measured['large'][0]}: {method} would take "
                                                 f"{seconds:.0f} s, under {margin} x {CELL_SECONDS:g} s")
    print(f"{measured['large'][0]}: honest " + ", ".join(
        f"{s * 1e3:.0f} ms" for s in measured["honest"].values()) + "; " + ", ".join(
        f"{m} {s:.0f} s" for m, s in measured["projected"].items()))


def test_results_fit_in_one_record_of_the_channel(tmp_path):
    """A probe's record (the honest results in base64) stays well under the channel's cap."""
    for check_id, check in CHECKS.items():
        write_inputs(check_id, check, tmp_path, 3)
        answer = HONEST[check_id.split("_")[1]][0]
        size = len(json.dumps({"probe": check_id, **results(check_id, answer, tmp_path)}))
        assert size < 0.9 * Limits().record_bytes, f"{check_id}: a record of {size / 2**20:.2f} MiB"


# --- The probe and the judge ----------------------------------------------------------------

def test_probe_is_inert_outside_grading(monkeypatch, tmp_path):
    monkeypatch.delenv("BPTT_PROBE_DIR", raising=False)
    monkeypatch.delenv("BPTT_CHANNEL_FD", raising=False)
    probe("test_softmax_ce_visible", own_softmax_backward)
    assert not list(tmp_path.iterdir())


def test_judge_reports_a_probe_that_never_ran(tmp_path):
    check = CHECKS["test_rnn_hidden"]
    cases = write_inputs("test_rnn_hidden", check, tmp_path, 0)
    assert "did not run" in judge(check, cases, None)


FORGED = {  # records a student could write into the channel, and what the judge makes of them
    "huge shape": {"a0": {"shape": [2**30, 2**30], "data": ""}},
    "short data": {"a0": {"shape": [3], "data": base64.b64encode(b"\0" * 8).decode()}},
    "negative shape": {"a0": {"shape": [-1], "data": ""}},
    "not base64": {"a0": {"shape": [1], "data": "%%%%"}},
    "many dimensions": {"a0": {"shape": [1] * 40, "data": base64.b64encode(b"\0" * 8).decode()}},
    "not a dict": {"a0": [1, 2, 3]},
}


@pytest.mark.parametrize("forgery", sorted(FORGED))
def test_forged_records_are_refused_without_allocating(tmp_path, forgery):
    check = CHECKS["test_softmax_ce_visible"]
    cases = write_inputs("test_softmax_ce_visible", check, tmp_path, 0)
    record = {"outcomes": [{"result": {"array": "a0"}}] * len(cases), "arrays": FORGED[forgery]}
    assert "could not be read back" in judge(check, cases, record)


def test_deeply_nested_results_are_refused(tmp_path):
    check = CHECKS["test_softmax_ce_visible"]
    cases = write_inputs("test_softmax_ce_visible", check, tmp_path, 0)
    nested = {"value": 0}
    for _ in range(100_000):
        nested = {"list": [nested]}
    record = {"outcomes": [{"result": nested}] * len(cases), "arrays": {}}
    assert "could not be read back" in judge(check, cases, record)


def test_reference_answers_match_autograd():
    problem = bptt.tanh_problem(5, 3, 2, 2, 3, 4)
    O, cache = bptt.tanh_rnn_forward(problem.X, problem.h0, problem.params)
    from bptt.autograd import tanh_rnn_autograd

    _, expected = tanh_rnn_autograd(problem.X, problem.h0, problem.params, problem.targets)
    dO = reference.softmax_cross_entropy_backward(O, problem.targets)
    assert bptt.rel_error(dO, expected["O"]) <= bptt.TOL_AUTOGRAD
    grads = reference.tanh_rnn_backward(dO, cache)
    for key in bptt.TANH_PARAMS:
        assert bptt.rel_error(grads[key], expected[key]) <= bptt.TOL_AUTOGRAD


def test_inputs_written_for_the_probe_hold_no_verdicts(tmp_path):
    for check_id, check in CHECKS.items():
        cases = write_inputs(check_id, check, tmp_path, 0)
        text = (tmp_path / f"{check_id}.inputs.json").read_text()
        assert "right" not in text and "secret" not in text, check_id
        assert len(cases) == len(json.loads(text)["cases"])
