"""The checks of chapter 1, judged in process: honest work passes whatever the seed, shortcuts do not.

Each graded function has two answers written here apart from the reference, each with another
structure (per sequence or vectorised, split weights or concatenated, layer by layer or step by
step); both earn every check over the seed sweep. Then every shortcut and common mistake is shown
to earn nothing: the package's tanh RNN (and its linear RNN with the bias folded into the input),
a hard-coded activation, a table of the visible answers, an unmasked run over the padding.
"""

from __future__ import annotations

from functools import partial

import nbformat
import numpy as np
import pytest
from hypothesis import given

import bptt
from autograder.reference import ch01_recurrent_networks_unrolled as ch01
from autograder.release import visible_data
from bptt.probe import ACTIVATIONS
from tests.conftest import ROOT, nbgrader_meta, over_seeds, seeds
from tests.variants import ch01 as variants, load

NOTEBOOK = ROOT / "solutions" / ch01.ASSIGNMENT / "recurrent-networks-unrolled.ipynb"


@pytest.fixture
def verdict(judged):
    return partial(judged, ch01.CHECKS)


# --- Two honest answers per exercise, each unlike the reference --------------------------------

# The end-to-end honest variant: each sequence alone, for its own length, with split weights;
# the stack step by step, every layer inside the step; the count from the arrays' shapes.
ALTERNATIVE = load(*variants.ANSWERS["honest_alternative"].values())
masked_per_sequence = ALTERNATIVE.masked_forward
stacked_step_major = ALTERNATIVE.stacked_forward
count_by_arrays = ALTERNATIVE.count_parameters


def masked_arithmetic(X, lengths, h0, W, b, phi):
    """The whole batch at once, frozen by a 0/1 mask: m * new + (1 - m) * old."""
    T = X.shape[0]
    mask = (np.arange(T)[:, None] < np.asarray(lengths)[None, :]).astype(float)[..., None]
    h, out = h0, []
    for x, m in zip(X, mask):
        z = np.einsum("hk,bk->bh", W, np.hstack([x, h])) + b
        h = m * phi(z) + (1.0 - m) * h
        out.append(h)
    return np.array(out)


def heads_by_loop(H, lengths, W_qh, b_q):
    last = np.stack([H[n - 1, m] for m, n in enumerate(lengths)])
    return last @ W_qh.T + b_q, np.einsum("tbh,qh->tbq", H, W_qh) + b_q


def heads_by_gather(H, lengths, W_qh, b_q):
    index = (np.asarray(lengths) - 1)[None, :, None]
    last = np.take_along_axis(H, np.broadcast_to(index, (1,) + H.shape[1:]), axis=0)[0]
    return np.tensordot(last, W_qh, axes=(1, 1)) + b_q, np.tensordot(H, W_qh, axes=(2, 1)) + b_q


def stacked_recursive(X, h0, Ws, bs, phi):
    """The top layer over the states of the stack below it, recursively."""
    if not Ws:
        return np.zeros((0,) + X.shape[:2] + (h0.shape[2],))
    below = stacked_recursive(X, h0[:-1], Ws[:-1], bs[:-1], phi)
    inputs = below[-1] if len(below) else X
    h, top = h0[-1], []
    for u in inputs:
        h = phi(np.concatenate([u, h], axis=1) @ Ws[-1].T + bs[-1])
        top.append(h)
    return np.concatenate([below, np.stack(top)[None]])


def count_by_formula(d, h, q, layers, T):
    """Every layer's recurrent part and bias, the inputs of each layer, the output layer."""
    return layers * (h * h + h) + h * d + (layers - 1) * h * h + q * (h + 1)


HONEST = {
    "masked": [ch01.masked_forward, masked_per_sequence, masked_arithmetic],
    "heads": [lambda *a: (ch01.many_to_one(*a), ch01.many_to_many(a[0], *a[2:])),
              heads_by_loop, heads_by_gather],
    "stacked": [ch01.stacked_forward, stacked_step_major, stacked_recursive],
    "count": [ch01.count_parameters, count_by_formula, count_by_arrays],
}
HONEST_CASES = [(check_id, i) for check_id in sorted(ch01.CHECKS)
                for i in range(len(HONEST[check_id.split("_")[1]]))]


@pytest.mark.parametrize("check_id, which", HONEST_CASES)
@over_seeds
@given(seed=seeds)
def test_honest_work_passes_for_every_seed(judged, check_id, which, seed):
    answer = HONEST[check_id.split("_")[1]][which]
    assert judged(ch01.CHECKS, check_id, answer, seed) is None


# --- The notebook and the reference agree ------------------------------------------------------

def notebook_cell(grade_id: str) -> str:
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    return next(c.source for c in cells if nbgrader_meta(c).get("grade_id") == grade_id)


def test_the_graded_visible_case_is_the_notebooks():
    namespace: dict = {}
    exec(notebook_cell("setup"), namespace)
    case = ch01.visible_case()
    for name in ("X", "h0", "lengths", "W", "b", "h0s"):
        assert np.array_equal(namespace[name], case[name]), name
    for name in ("Ws", "bs"):
        assert len(namespace[name]) == len(case[name]), name
        assert all(np.array_equal(a, c) for a, c in zip(namespace[name], case[name])), name
    assert np.array_equal(namespace["cache_package"].H, case["H_package"])


def test_the_stored_visible_values_are_the_references():
    stored = np.load(ROOT / "bptt" / "data" / f"{ch01.ASSIGNMENT}.npz")
    fresh = visible_data(ch01.ASSIGNMENT)
    assert set(stored.files) == set(fresh)
    assert all(np.array_equal(stored[k], v) for k, v in fresh.items())


def test_the_reference_is_the_package_for_tanh_and_full_lengths():
    problem = bptt.tanh_problem(3, 4, 2, 3, 5, 2)
    P = problem.params
    W = np.hstack([P["W_hx"], P["W_hh"]])
    O, cache = bptt.tanh_rnn_forward(problem.X, problem.h0, P)
    H = ch01.masked_forward(problem.X, np.full(2, 4), problem.h0, W, P["b_h"], np.tanh)
    assert bptt.rel_error(H, cache.H) <= 1e-14
    stack = ch01.stacked_forward(problem.X, problem.h0[None], [W], [P["b_h"]], np.tanh)
    assert bptt.rel_error(stack[0], cache.H) <= 1e-14
    assert bptt.rel_error(ch01.many_to_many(H, P["W_qh"], P["b_q"]), O) <= 1e-14
    assert ch01.count_parameters(3, 5, 2, 1, 4) == sum(p.size for p in P.values())


def test_a_masked_run_ends_each_sequence_where_a_short_run_ends():
    case = ch01._masked_cases(7, False)[-1].value
    X, lengths, h0, W, b, phi = case
    H = ch01.masked_forward(*case)
    for m, n in enumerate(lengths):
        alone = ch01.masked_forward(X[:n, [m]], np.array([n]), h0[[m]], W, b, phi)
        assert bptt.rel_error(H[-1, m], alone[-1, 0]) <= 1e-14


# --- Shortcuts and mistakes earn nothing -------------------------------------------------------

def _package_params(W, b, d, h):
    return {"W_hx": W[:, :d], "W_hh": W[:, d:], "b_h": b, "W_qh": np.zeros((1, h)),
            "b_q": np.zeros(1)}


def masked_via_package(X, lengths, h0, W, b, phi):
    """The package's tanh RNN, each sequence alone for its length (ignores phi)."""
    T, B, d = X.shape
    H = np.empty((T, B, h0.shape[1]))
    for m, n in enumerate(lengths):
        states = bptt.tanh_rnn_forward(X[:n, [m]], h0[[m]], _package_params(W, b, d, h0.shape[1]))[1].H
        H[:, m] = np.concatenate([states[:, 0], np.repeat(states[-1:, 0], T - n, axis=0)])
    return H


def masked_via_linear_package(X, lengths, h0, W, b, phi):
    """The package's linear RNN with the bias folded into a constant input, then phi on top:
    right only where phi is the identity."""
    T, B, d = X.shape
    ones = np.ones((T, B, 1))
    params = {"W_hx": np.hstack([W[:, :d], b[:, None]]), "W_hh": W[:, d:],
              "W_qh": np.zeros((1, h0.shape[1]))}
    H = bptt.linear_rnn_forward(np.concatenate([X, ones], axis=2), h0, params)[1].H
    alive = (np.arange(T)[:, None] < lengths)[..., None]
    for t in range(1, T):
        H[t] = np.where(alive[t], H[t], H[t - 1])
    return phi(H)


def stacked_via_package(X, h0, Ws, bs, phi):
    layers, inputs = [], X
    for start, W, b in zip(h0, Ws, bs):
        inputs = bptt.tanh_rnn_forward(inputs, start,
                                       _package_params(W, b, inputs.shape[2], start.shape[1]))[1].H
        layers.append(inputs)
    return np.stack(layers)


def with_tanh(answer):
    """An honest answer with the activation hard-coded to tanh."""
    return lambda *args: answer(*args[:-1], np.tanh)


def table_of(check_id: str, answer):
    """Replays the answers of the notebook's own cases, and returns zeros otherwise."""
    def key(args):
        return (args[-1].name, args[0].tobytes(), np.asarray(args[1]).tobytes())

    shown = {key(case.value): answer(*case.value)
             for case in ch01.CHECKS[check_id].cases(0) if "notebook" in case.label}
    return lambda *args: shown.get(key(args), np.zeros(1))


def unmasked(X, lengths, h0, W, b, phi):
    return ch01.masked_forward(X, np.full(X.shape[1], len(X)), h0, W, b, phi)


def zeroed_after_end(X, lengths, h0, W, b, phi):
    H = ch01.masked_forward(X, lengths, h0, W, b, phi)
    return H * (np.arange(len(X))[:, None] < lengths)[..., None]


def frozen_late(X, lengths, h0, W, b, phi):
    return ch01.masked_forward(X, np.minimum(np.asarray(lengths) + 1, len(X)), h0, W, b, phi)


MASKED_SHORTCUTS = {
    "the package's tanh RNN": (masked_via_package, "phi=relu: H is off"),
    "the package's linear RNN": (masked_via_linear_package, "H is off"),
    "a hard-coded tanh": (with_tanh(ch01.masked_forward), "phi=relu: H is off"),
    "no mask": (unmasked, "keep changing after a sequence ends"),
    "zeros after the end": (zeroed_after_end, "not become 0"),
    # Where every short sequence is one step short of T, freezing late is not masking at all.
    "freezing one step late": (frozen_late, ("one step late", "keep changing")),
}


@pytest.mark.parametrize("check_id", ["test_masked_visible", "test_masked_hidden"])
@pytest.mark.parametrize("name", sorted(MASKED_SHORTCUTS))
def test_masked_shortcuts_earn_nothing(verdict, check_id, name):
    function, said = MASKED_SHORTCUTS[name]
    message = verdict(check_id, function, seed=11)
    assert message is not None and any(s in message for s in np.atleast_1d(said)), message


def test_a_table_of_the_visible_answers_earns_nothing(verdict):
    """It passes every case the notebook shows and fails the first fresh one."""
    tables = {"test_masked_visible": table_of("test_masked_visible", ch01.masked_forward),
              "test_stacked_visible": table_of("test_stacked_visible", ch01.stacked_forward)}
    shown = heads_by_loop(*ch01.CHECKS["test_heads_visible"].cases(0)[0].value)
    tables["test_heads_visible"] = lambda *args: shown
    counts = {(d, h, q, n): ch01.count_parameters(d, h, q, n, 5)
              for d, h, q, n in ((4, 6, 2, 1), (4, 6, 2, 3))}
    tables["test_count_visible"] = lambda d, h, q, n, T: counts.get((d, h, q, n), 0)
    for check_id, table in tables.items():
        message = verdict(check_id, table, seed=5)
        assert message is not None and message.startswith("fresh case"), (check_id, message)


STACKED_SHORTCUTS = {
    "the package's tanh RNN per layer": (stacked_via_package, "phi=relu"),
    "a hard-coded tanh": (with_tanh(ch01.stacked_forward), "phi=relu"),
    "inputs and states swapped above layer 1": (
        lambda X, h0, Ws, bs, phi: stacked_swapped(X, h0, Ws, bs, phi), "layer 2"),
    "the top layer only": (lambda *a: ch01.stacked_forward(*a)[-1], "expected shape"),
    "one weight for every layer above the first": (
        lambda X, h0, Ws, bs, phi: ch01.stacked_forward(
            X, h0, [W if j < 2 else Ws[1] for j, W in enumerate(Ws)], bs, phi), "layer 3"),
}


def stacked_swapped(X, h0, Ws, bs, phi):
    layers, inputs = [], X
    for j, (start, W, b) in enumerate(zip(h0, Ws, bs)):
        h, states = start, []
        for u in inputs:
            stacked = np.concatenate([u, h] if j == 0 else [h, u], axis=1)
            h = phi(stacked @ W.T + b)
            states.append(h)
        inputs = np.stack(states)
        layers.append(inputs)
    return np.stack(layers)


@pytest.mark.parametrize("check_id", ["test_stacked_visible", "test_stacked_hidden"])
@pytest.mark.parametrize("name", sorted(STACKED_SHORTCUTS))
def test_stacked_shortcuts_earn_nothing(verdict, check_id, name):
    function, said = STACKED_SHORTCUTS[name]
    message = verdict(check_id, function, seed=11)
    assert message is not None and said in message, message


HEADS_SHORTCUTS = {
    "the last row for every sequence": (
        lambda H, lengths, W_qh, b_q: (H[-1] @ W_qh.T + b_q, H @ W_qh.T + b_q), "last row of H"),
    "row lengths[m], one too far": (
        lambda H, lengths, W_qh, b_q: (H[np.minimum(lengths, len(H) - 1), np.arange(H.shape[1])]
                                       @ W_qh.T + b_q, H @ W_qh.T + b_q), "step t is row t - 1"),
    "the pair swapped": (lambda *a: heads_by_loop(*a)[::-1], "expected shape"),
    "no bias in many-to-many": (
        lambda H, lengths, W_qh, b_q: (heads_by_loop(H, lengths, W_qh, b_q)[0], H @ W_qh.T),
        "many-to-many outputs is off"),
}


@pytest.mark.parametrize("check_id", ["test_heads_visible", "test_heads_hidden"])
@pytest.mark.parametrize("name", sorted(HEADS_SHORTCUTS))
def test_heads_mistakes_earn_nothing(verdict, check_id, name):
    function, said = HEADS_SHORTCUTS[name]
    message = verdict(check_id, function, seed=11)
    assert message is not None and said in message, message


COUNT_MISTAKES = {
    "one copy of the weights per step": (
        lambda d, h, q, n, T: T * ch01.count_parameters(d, h, q, n, T), "grows with T"),
    "recurrent layers copied per step, output layer shared": (
        lambda d, h, q, n, T: T * (ch01.count_parameters(d, h, q, n, T) - q * h - q) + q * h + q,
        "grows with T"),
    "no biases": (lambda d, h, q, n, T: h * (d + h) + (n - 1) * 2 * h * h + q * h, "biases"),
    "no output layer": (lambda d, h, q, n, T: h * (d + h) + h + (n - 1) * (2 * h * h + h),
                        "output layer"),
    "every layer reads x": (lambda d, h, q, n, T: n * (h * (d + h) + h) + q * h + q, "(h, h + h)"),
    "the package's single layer": (
        lambda d, h, q, n, T: sum(p.size for p in bptt.tanh_problem(0, 1, 1, d, h, q).params.values()),
        "this network has"),
}


@pytest.mark.parametrize("check_id", ["test_count_visible", "test_count_hidden"])
@pytest.mark.parametrize("name", sorted(COUNT_MISTAKES))
def test_count_mistakes_earn_nothing(verdict, check_id, name):
    function, said = COUNT_MISTAKES[name]
    message = verdict(check_id, function, seed=11)
    assert message is not None and said in message, message


@pytest.mark.parametrize("check_id", sorted(ch01.CHECKS))
def test_a_blank_answer_earns_nothing(verdict, check_id):
    def blank(*args):
        raise NotImplementedError()

    assert "raised NotImplementedError" in verdict(check_id, blank)


def test_every_check_runs_several_activations():
    for check_id in ("test_masked_visible", "test_masked_hidden", "test_stacked_visible",
                     "test_stacked_hidden"):
        names = {case.value[-1].name for case in ch01.CHECKS[check_id].cases(0)}
        assert {"tanh", "relu", "sigmoid"} <= names <= set(ACTIVATIONS), (check_id, names)
