"""The checks of chapter 4, judged in process: right answers pass, wrong ones fail and say why."""

from __future__ import annotations

import base64
import json
from functools import partial

import numpy as np
import pytest

import bptt
from bptt.probe import probe
from autograder.reference import tanh_rnn as reference
from autograder.reference.ch04_bptt_in_detail import CHECKS
from autograder.reference.judging import judge, write_inputs


@pytest.fixture
def verdict(judged):
    return partial(judged, CHECKS)


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


OWN = {"softmax": own_softmax_backward, "step": own_step_backward, "rnn": own_rnn_backward,
       "gradcheck": own_directional_check}


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_own_work_passes_every_check(verdict, check_id):
    assert verdict(check_id, OWN[check_id.split("_")[1]]) is None


def test_every_check_fails_a_function_that_raises(verdict):
    def stub(*args):
        raise NotImplementedError()

    for check_id in CHECKS:
        assert "raised NotImplementedError" in verdict(check_id, stub)


def test_missing_factor_is_reported_with_its_size(verdict):
    message = verdict("test_softmax_ce_hidden", lambda O, y: own_softmax_backward(O, y) * 2)
    assert message.startswith("T=1, B=1, q=2, logits of size ~3: dL/dO is off: rel_error")


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
        "B=3, d=4, h=5: dx is off")
    assert verdict("test_step_parameters", forgot_tanh_derivative).startswith(
        "B=3, d=4, h=5: dW_hx is off")


def test_wrong_return_types_are_explained(verdict):
    assert "tuple of 5 arrays" in verdict("test_step_hidden", lambda dh, cache: None)
    assert "dict of gradients" in verdict("test_rnn_hidden", lambda dO, cache: [1, 2])
    assert "lacks the keys ['h0']" in verdict(
        "test_rnn_recurrent", lambda dO, cache: {k: v for k, v in own_rnn_backward(dO, cache).items()
                                                 if k != "h0"})


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

    assert "changed x" in verdict("test_gradcheck_hidden", leaves_x_perturbed)
    assert "f was called 6 times; expected 2" in verdict("test_gradcheck_hidden", entrywise)
    assert "for a wrong gradient" in verdict("test_gradcheck_hidden", lenient)


def test_probe_is_inert_outside_grading(monkeypatch, tmp_path):
    monkeypatch.delenv("BPTT_PROBE_DIR", raising=False)
    monkeypatch.delenv("BPTT_CHANNEL_FD", raising=False)
    probe("test_softmax_ce_visible", own_softmax_backward)
    assert not list(tmp_path.iterdir())


def test_judge_reports_a_probe_that_never_ran(tmp_path):
    check = CHECKS["test_rnn_hidden"]
    cases = write_inputs("test_rnn_hidden", check, tmp_path)
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
    cases = write_inputs("test_softmax_ce_visible", check, tmp_path)
    record = {"outcomes": [{"result": {"array": "a0"}}] * len(cases), "arrays": FORGED[forgery]}
    assert "could not be read back" in judge(check, cases, record)


def test_deeply_nested_results_are_refused(tmp_path):
    check = CHECKS["test_softmax_ce_visible"]
    cases = write_inputs("test_softmax_ce_visible", check, tmp_path)
    nested = {"value": 0}
    for _ in range(100_000):
        nested = {"list": [nested]}
    assert "could not be read back" in judge(check, cases, {"outcomes": [{"result": nested}],
                                                            "arrays": {}})


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
        cases = write_inputs(check_id, check, tmp_path)
        text = (tmp_path / f"{check_id}.inputs.json").read_text()
        assert "right" not in text and "secret" not in text, check_id
        assert len(cases) == len(json.loads(text)["cases"])
