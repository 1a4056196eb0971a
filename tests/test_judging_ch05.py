"""The checks of chapter 5, judged in process.

Honest work, written several ways, passes every check for every seed of the
grader (BPTT_SEEDS=2000 for the long sweep); shortcuts and near misses earn
nothing; the visible cells' own assertions hold for honest work whatever the
numbers; the notebook's data cells draw what the reference grades.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import replace
from functools import partial

import nbformat
import numpy as np
import pytest
from hypothesis import given

from autograder.reference import ch05_vanishing_exploding as ch05
from autograder.reference.judging import Case
from tests.conftest import HIDDEN_REGION, ROOT, nbgrader_meta, over_seeds, seeds
from tests.variants import ch05 as variants, load

SOLUTION = ROOT / "solutions" / "ch05-vanishing-exploding" / "vanishing-exploding.ipynb"
CELL_SECONDS = 30.0


# --- Clipping by the global norm, three ways. -----------------------------------------------

def _named(function, name):
    """A function loaded from a variant source, named for the test ids."""
    function.__name__ = function.__qualname__ = name
    return function


# Branch on ||g|| > gamma; the norm of all entries laid side by side.
clip_norm_branching = _named(load(variants.HONEST_CLIP).clip_by_norm, "clip_norm_branching")


def clip_norm_scaled(grads, gamma):
    """min(1, gamma / ||g||), the squares summed array by array in Python floats."""
    total = 0.0
    for g in grads.values():
        total += float(np.sum(g * g))
    norm = math.sqrt(total)
    scale = min(1.0, gamma / norm) if norm > 0 else 1.0
    return {name: scale * g for name, g in grads.items()}


def clip_norm_divided(grads, gamma):
    """Divide by max(1, ||g|| / gamma); the squares from np.vdot."""
    norm = np.sqrt(sum(np.vdot(g, g) for g in grads.values()))
    return {name: g / max(1.0, norm / gamma) for name, g in grads.items()}


# --- Clipping elementwise, three ways. -----------------------------------------------------

def clip_where(grads, gamma):
    return {name: np.where(g > gamma, gamma, np.where(g < -gamma, -gamma, g)) for name, g in grads.items()}


def clip_min_max(grads, gamma):
    return {name: np.minimum(np.maximum(g, -gamma), gamma) for name, g in grads.items()}


def clip_by_sign(grads, gamma):
    return {name: np.sign(g) * np.minimum(np.abs(g), gamma) for name, g in grads.items()}


# --- The norms ||dh_T/dh_k||, two more ways. ------------------------------------------------

PHI = {"tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0.0)}


# Each Jacobian as a matrix, slopes from z; every product formed anew; norms from the SVD.
norms_from_scratch = _named(load(variants.HONEST_NORMS).jacobian_norms, "norms_from_scratch")


def norms_backward(X, h0, W_hx, W_hh, b_h, activation):
    """As a backward pass: G_k = (dh_T/dh_k)^T = J_{k+1}^T G_{k+1}; weights side by side;
    the norm from the largest eigenvalue of G^T G."""
    W, states, h = np.hstack([W_hx, W_hh]), [], h0
    for x in X:
        h = PHI[activation](W @ np.concatenate([x, h]) + b_h)
        states.append(h)
    G, norms = np.eye(len(h0)), [1.0]
    for h in reversed(states):
        slope = {"tanh": 1.0 - h * h, "sigmoid": h - h * h, "relu": np.sign(h)}[activation]
        G = W_hh.T @ (slope[:, None] * G)
        norms.append(math.sqrt(max(np.linalg.eigvalsh(G.T @ G)[-1], 0.0)))
    return np.array(norms[::-1])


# --- The LSTM backward step, two more ways. -------------------------------------------------

def lstm_by_gates(dh, dc, cache):
    """Gate by gate, each with its block of rows of W."""
    h = cache.c.shape[1]
    d = cache.z.shape[1] - h
    blocks = np.split(cache.W, 4)
    tanh_c = np.tanh(cache.c)
    d_cell = dc + dh * cache.o * (1.0 - tanh_c * tanh_c)
    d_input = d_cell * cache.g * cache.i * (1.0 - cache.i)
    d_forget = d_cell * cache.c_prev * cache.f * (1.0 - cache.f)
    d_candidate = d_cell * cache.i * (1.0 - cache.g * cache.g)
    d_output = dh * tanh_c * cache.o * (1.0 - cache.o)
    gates = (d_input, d_forget, d_candidate, d_output)
    d_z = sum(a @ block for a, block in zip(gates, blocks))
    dW = np.vstack([np.einsum("bk,bj->kj", a, cache.z) for a in gates])
    db = np.concatenate([a.sum(axis=0) for a in gates])
    return d_z[:, :d], d_z[:, d:], d_cell * cache.f, dW, db


# One sequence at a time, with outer products.
lstm_row_by_row = _named(load(variants.HONEST_LSTM).lstm_step_backward, "lstm_row_by_row")


HONEST = {
    "clip_norm": [ch05.clip_by_norm, clip_norm_branching, clip_norm_scaled, clip_norm_divided],
    "clip_elementwise": [ch05.clip_elementwise, clip_where, clip_min_max, clip_by_sign],
    "norms": [ch05.jacobian_norms, norms_from_scratch, norms_backward],
    "lstm": [ch05.lstm_step_backward, lstm_by_gates, lstm_row_by_row],
}
HONEST_CASES = [(check_id, function) for check_id in sorted(ch05.CHECKS)
                for function in HONEST[check_id[5:].rsplit("_", 1)[0]]]


@pytest.fixture
def verdict(judged):
    return partial(judged, ch05.CHECKS)


@pytest.mark.parametrize("check_id, function", HONEST_CASES,
                         ids=[f"{c}-{f.__name__}" for c, f in HONEST_CASES])
@over_seeds
@given(seed=seeds)
def test_honest_work_passes_for_every_seed(verdict, check_id, function, seed):
    assert verdict(check_id, function, seed) is None


# --- Shortcuts and near misses: each earns nothing, whatever the seed. ----------------------

def per_array(grads, gamma):
    return {name: ch05.clip_by_norm({name: g}, gamma)[name] for name, g in grads.items()}


def largest_array_only(grads, gamma):
    largest = max(grads, key=lambda name: np.linalg.norm(grads[name]))
    norm = np.linalg.norm(np.concatenate([np.ravel(g) for g in grads.values()]))
    return {name: g * min(1.0, gamma / norm) if name == largest else g for name, g in grads.items()}


def always_to_gamma(grads, gamma):
    norm = np.linalg.norm(np.concatenate([np.ravel(g) for g in grads.values()]))
    return {name: g * gamma / norm for name, g in grads.items()}


def with_torch_epsilon(grads, gamma):
    norm = np.linalg.norm(np.concatenate([np.ravel(g) for g in grads.values()]))
    return {name: g * min(1.0, gamma / (norm + 1e-6)) for name, g in grads.items()}


def through_torch(grads, gamma):
    import torch

    tensors = {name: torch.tensor(g) for name, g in grads.items()}
    norm = torch.linalg.vector_norm(torch.cat([t.flatten() for t in tensors.values()])).item()
    scale = min(1.0, gamma / norm) if norm > 0 else 1.0
    return {name: (scale * t).numpy() for name, t in tensors.items()}


CLIP_NORM_SHORTCUTS = {"per_array": per_array, "largest_array_only": largest_array_only,
                       "always_to_gamma": always_to_gamma, "with_torch_epsilon": with_torch_epsilon,
                       "elementwise_instead": ch05.clip_elementwise,
                       "unchanged": lambda grads, gamma: grads}

CLIP_ELEMENTWISE_SHORTCUTS = {
    "upper_bound_only": lambda grads, gamma: {k: np.minimum(g, gamma) for k, g in grads.items()},
    "sign_times_gamma": lambda grads, gamma: {k: gamma * np.sign(g) for k, g in grads.items()},
    "by_norm_instead": ch05.clip_by_norm,
    "per_array_norm": per_array,
}


def without_torch(monkeypatch):
    """As in the sandbox, where torch cannot be imported."""
    monkeypatch.setitem(sys.modules, "torch", None)


@pytest.mark.parametrize("name", sorted(CLIP_NORM_SHORTCUTS))
@pytest.mark.parametrize("check_id", ["test_clip_norm_visible", "test_clip_norm_hidden"])
@over_seeds
@given(seed=seeds)
def test_clipping_by_norm_shortcuts_earn_nothing(verdict, check_id, name, seed):
    assert verdict(check_id, CLIP_NORM_SHORTCUTS[name], seed)


@pytest.mark.parametrize("name", sorted(CLIP_ELEMENTWISE_SHORTCUTS))
@pytest.mark.parametrize("check_id", ["test_clip_elementwise_visible", "test_clip_elementwise_hidden"])
@over_seeds
@given(seed=seeds)
def test_clipping_elementwise_shortcuts_earn_nothing(verdict, check_id, name, seed):
    assert verdict(check_id, CLIP_ELEMENTWISE_SHORTCUTS[name], seed)


@pytest.mark.parametrize("check_id", sorted(ch05.CHECKS))
def test_torch_earns_nothing_in_the_sandbox(verdict, monkeypatch, check_id):
    without_torch(monkeypatch)

    def torch_for_everything(*args):
        import torch  # noqa: F401

    message = verdict(check_id, torch_for_everything)
    assert "your function raised ModuleNotFoundError" in message and "torch" in message


def test_clipping_through_torch_is_refused_without_torch(verdict, monkeypatch):
    assert verdict("test_clip_norm_visible", through_torch) is None  # it is right, where torch exists
    without_torch(monkeypatch)
    assert "raised ModuleNotFoundError" in verdict("test_clip_norm_visible", through_torch)


def test_the_per_array_message_says_what_is_off(verdict):
    message = verdict("test_clip_norm_hidden", per_array)
    assert "is off" in message and "in units of gamma" in message


def norms_with_tanh_slope(X, h0, W_hx, W_hh, b_h, activation):
    return ch05.jacobian_norms(X, h0, W_hx, W_hh, b_h, "tanh")


def norms_of_the_bound(X, h0, W_hx, W_hh, b_h, activation):
    beta_phi = 0.25 if activation == "sigmoid" else 1.0
    return (np.linalg.norm(W_hh, 2) * beta_phi) ** (len(X) - np.arange(len(X) + 1))


def _slopes(X, h0, W_hx, W_hh, b_h, activation):
    """phi'(z_1), ..., phi'(z_T)."""
    slopes, h = [], h0
    for x in X:
        z = W_hx @ x + W_hh @ h + b_h
        h = PHI[activation](z)
        slopes.append({"tanh": 1 - h ** 2, "sigmoid": h * (1 - h), "relu": (z > 0) * 1.0}[activation])
    return slopes


def _norms(X, h0, W_hx, W_hh, b_h, activation, step, norm=2, shift=0):
    """Norms of the products built by ``product = step(product, slope)`` from the last step back."""
    slopes = _slopes(X, h0, W_hx, W_hh, b_h, activation)
    slopes = slopes[shift:] + slopes[:shift]
    product, norms = np.eye(len(h0)), [1.0]
    for slope in reversed(slopes):
        product = step(product, slope, W_hh)
        norms.append(np.linalg.norm(product, norm))
    return np.array(norms[::-1])


def norms_by_central_differences(X, h0, W_hx, W_hh, b_h, activation, eps=1e-6):
    """dh_T/dh_k column by column from the forward pass, with no Jacobian written down."""
    def run(h, start):
        for x in X[start:]:
            h = PHI[activation](W_hx @ x + W_hh @ h + b_h)
        return h

    states = [h0]
    for x in X:
        states.append(PHI[activation](W_hx @ x + W_hh @ states[-1] + b_h))
    norms = []
    for k, state in enumerate(states):
        J = np.column_stack([(run(state + eps * e, k) - run(state - eps * e, k)) / (2 * eps)
                             for e in np.eye(len(h0))])
        norms.append(np.linalg.norm(J, 2))
    return np.array(norms)


NORMS_SHORTCUTS = {
    "tanh_slope_for_every_activation": norms_with_tanh_slope,
    "the_bound": norms_of_the_bound,
    "frobenius_norm": partial(_norms, step=lambda P, s, W: P @ (s[:, None] * W), norm="fro"),
    "slope_on_the_wrong_side": partial(_norms, step=lambda P, s, W: P @ (W * s[None, :])),
    "products_in_reverse_order": partial(_norms, step=lambda P, s, W: (s[:, None] * W) @ P),
    "slopes_one_step_off": partial(_norms, step=lambda P, s, W: P @ (s[:, None] * W), shift=1),
    "central_differences": norms_by_central_differences,
    "central_differences_inside_the_kink": partial(norms_by_central_differences, eps=1e-11),
}


@pytest.mark.parametrize("name", sorted(NORMS_SHORTCUTS))
@pytest.mark.parametrize("check_id", ["test_norms_visible", "test_norms_hidden"])
@over_seeds
@given(seed=seeds)
def test_norms_shortcuts_earn_nothing(verdict, check_id, name, seed):
    assert verdict(check_id, NORMS_SHORTCUTS[name], seed)


def lstm_without_later_steps(dh, dc, cache):
    return ch05.lstm_step_backward(dh, np.zeros_like(dc), cache)


def lstm_cell_path_only(dh, dc, cache):
    dx, dh_prev, _, dW, db = ch05.lstm_step_backward(dh, dc, cache)
    return dx, dh_prev, dc * cache.f, dW, db


def lstm_gates_swapped(dh, dc, cache):
    """The output gate's rows read as the candidate's and back (the order i, f, o, g)."""
    h = cache.c.shape[1]
    swapped = replace_rows(cache.W, h)
    dx, dh_prev, dc_prev, dW, db = ch05.lstm_step_backward(dh, dc, cache._replace(W=swapped))
    return dx, dh_prev, dc_prev, replace_rows(dW, h), replace_rows(db, h)


def replace_rows(A, h):
    return np.concatenate([A[:2 * h], A[3 * h:], A[2 * h:3 * h]])


def _complex_loss(dh, dc, cache, x, h_prev, c_prev, W, b):
    """L = sum(h_t * dh) + sum(c_t * dc) of one step written out, for complex arguments."""
    a = np.concatenate([x, h_prev], axis=1) @ W.T + b
    i, f, g, o = np.split(a, 4, axis=1)
    i, f, o = (0.5 * (1 + np.tanh(0.5 * v)) for v in (i, f, o))
    c = f * c_prev + i * np.tanh(g)
    return np.sum(o * np.tanh(c) * dh) + np.sum(c * dc)


def _recovered_inputs(cache):
    """x, h_prev, c_prev, W and b (b from the gates: sigmoid and tanh inverted)."""
    h = cache.c.shape[1]
    d = cache.z.shape[1] - h
    pre = np.concatenate([np.log(cache.i / (1 - cache.i)), np.log(cache.f / (1 - cache.f)),
                          np.arctanh(cache.g), np.log(cache.o / (1 - cache.o))], axis=1)
    b = (pre - cache.z @ cache.W.T).mean(axis=0)
    return [cache.z[:, :d].copy(), cache.z[:, d:].copy(), cache.c_prev.copy(), cache.W.copy(), b]


def lstm_by_complex_step(dh, dc, cache):
    """No backward pass: one complex forward pass per entry of x, h_prev, c_prev, W and b."""
    inputs = [a.astype(complex) for a in _recovered_inputs(cache)]
    grads = []
    for a in inputs:
        grad = np.zeros(a.shape)
        for index in np.ndindex(a.shape):
            a[index] += 1e-30j
            grad[index] = _complex_loss(dh, dc, cache, *inputs).imag / 1e-30
            a[index] -= 1e-30j
        grads.append(grad)
    return tuple(grads)


LSTM_SHORTCUTS = {"without_later_steps": lstm_without_later_steps, "cell_path_only": lstm_cell_path_only,
                  "gates_swapped": lstm_gates_swapped}


@pytest.mark.parametrize("name", sorted(LSTM_SHORTCUTS))
@pytest.mark.parametrize("check_id", ["test_lstm_visible", "test_lstm_hidden"])
@over_seeds
@given(seed=seeds)
def test_lstm_near_misses_earn_nothing(verdict, check_id, name, seed):
    assert verdict(check_id, LSTM_SHORTCUTS[name], seed)


def test_the_package_has_no_lstm_backward_to_delegate_to():
    import bptt
    import bptt.gated

    names = {name.lower() for module in (bptt, bptt.gated) for name in dir(module)}
    assert not [name for name in names if "lstm" in name and "backward" in name]


@pytest.mark.parametrize("check_id", ["test_lstm_visible", "test_lstm_hidden"])
def test_the_complex_step_is_exact_on_small_steps_and_far_too_slow_on_the_large_one(judged, check_id):
    """Without the large step the complex step would earn the points; with it, it needs minutes."""
    check = ch05.CHECKS[check_id]
    small = replace(check, cases=lambda seed: [c for c in check.cases(seed) if "milliseconds" not in c.label])
    assert judged({check_id: small}, check_id, lstm_by_complex_step) is None

    (large,) = [c for c in check.cases(0) if "milliseconds" in c.label]
    dh, dc, cache = large.value
    inputs = [a.astype(complex) for a in _recovered_inputs(cache)]
    start, repeats = time.perf_counter(), 20
    for _ in range(repeats):
        _complex_loss(dh, dc, cache, *inputs)
    projected = sum(a.size for a in inputs) * (time.perf_counter() - start) / repeats
    assert projected > 2 * CELL_SECONDS, f"the complex step would take only {projected:.0f} s"
    for function in HONEST["lstm"]:
        start = time.perf_counter()
        function(dh, dc, cache)
        assert time.perf_counter() - start < 0.5, function.__name__


# --- The edges of clipping, one by one. -----------------------------------------------------

def _through_json(result):
    """The result as the grader reads it: plain float64 arrays."""
    return {name: np.array(value, dtype=np.float64) for name, value in result.items()}


EDGES = {
    "norm exactly gamma": ({"W": np.array([[3.0, 0.0], [0.0, 4.0]])}, 5.0),
    "norm a rounding above gamma": ({"W": np.array([0.6, 0.8])}, 1.0 - 1e-16),
    "zero gradient": ({"W": np.zeros((2, 2)), "b": np.zeros(2)}, 1.0),
    "a single key": ({"W": np.arange(6.0).reshape(2, 3)}, 2.0),
    "huge": ({"W": np.full((2, 2), 3e150), "b": np.array([-1e150])}, 1e149),
    "tiny": ({"W": np.full((2, 2), 3e-150), "b": np.array([-1e-150])}, 1e-151),
}


@pytest.mark.parametrize("edge", sorted(EDGES))
@pytest.mark.parametrize("kind", ["clip_norm", "clip_elementwise"])
def test_every_honest_clipping_agrees_at_the_edges(kind, edge):
    grads, gamma = EDGES[edge]
    reference = HONEST[kind][0]
    for function in HONEST[kind]:
        outcome = _through_json(function({k: g.copy() for k, g in grads.items()}, gamma))
        assert ch05._clip_verdict(reference)(Case(edge, (grads, gamma)), outcome) is None, function.__name__


def test_huge_and_tiny_cases_stay_where_squares_are_exact():
    """The graded scales are 1e+-60: their squares, 1e+-120, neither overflow nor lose digits."""
    for case in ch05._clip_norm_hidden_cases(0):
        squares = [np.square(g) for g in case.value[0].values()]
        assert all(np.all(np.isfinite(s)) for s in squares)
        assert all(np.all((s == 0) | (s > 1e-300)) for s in squares), case.label


def test_clipped_values_are_judged_in_units_of_gamma(verdict):
    """At 1e-60 a comparison without the units would accept anything below 1e-68, the input too."""
    def lazy_when_tiny(grads, gamma):
        return grads if gamma < 1e-50 else ch05.clip_by_norm(grads, gamma)

    assert "tiny gradients" in verdict("test_clip_norm_hidden", lazy_when_tiny)


# --- The visible cells: their assertions never reject honest work, their data is graded. ----

def cell(grade_id: str) -> str:
    """The source of a cell of the solution notebook, without its hidden region."""
    nb = nbformat.read(SOLUTION, as_version=4)
    source = next(c.source for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)
    return HIDDEN_REGION.sub("", source)


def run_cells(*grade_ids: str, **names) -> dict:
    namespace = dict(names)
    for grade_id in grade_ids:
        exec(compile(cell(grade_id), grade_id, "exec"), namespace)
    return namespace


def test_the_notebook_draws_what_the_reference_grades():
    space = run_cells("setup", "clip_data", "norms_data", "lstm_data")
    for name, value in ch05.visible_gradients().items():
        assert np.array_equal(space["grads"][name], value)
    for ours, theirs in zip((space[k] for k in ("X", "h0", "W_hx", "W_hh", "b_h")), ch05.visible_rnn()):
        assert np.array_equal(ours, theirs)
    dh, dc, cache = ch05.visible_lstm()
    assert np.array_equal(space["dh"], dh) and np.array_equal(space["dc"], dc)
    for ours, theirs in zip(space["cache"], cache):
        assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("function", HONEST["clip_norm"], ids=lambda f: f.__name__)
@over_seeds
@given(seed=seeds)
def test_the_visible_clipping_cell_accepts_honest_work_whatever_the_gradients(function, seed):
    """The cell's own assertions (norm, angle, gradients left alone) on fresh numbers."""
    space = run_cells("setup", "clip_data", clip_by_norm=function)
    rng = np.random.default_rng(seed)
    grads = {"W": 10.0 ** rng.uniform(-3, 3) * rng.standard_normal((3, 2)),
             "b": 10.0 ** rng.uniform(-3, 3) * rng.standard_normal(3)}
    norm = np.linalg.norm(np.concatenate([g.ravel() for g in grads.values()]))
    # a global norm between 2 and 500: clipped at gamma = 1, left alone at gamma = 1000, as in the cell
    space["grads"] = {name: g * 10.0 ** rng.uniform(0.3, 2.7) / norm for name, g in grads.items()}
    space["before"] = {name: g.copy() for name, g in space["grads"].items()}
    exec(compile(cell("test_clip_norm_visible"), "test_clip_norm_visible", "exec"), space)


def test_the_angle_of_the_visible_cell_reads_zero_where_arccos_did_not():
    """The arc cosine of the rounded cosine read 8.5e-7 degrees for two equal gradients."""
    space = run_cells("setup", "clip_data")
    grads = space["grads"]
    assert space["angle"](grads, grads) == 0.0
    assert space["angle"](grads, ch05.clip_by_norm(grads, 1.0)) < 1e-12


VISIBLE = {"test_clip_norm_visible": ("clip_norm", "clip_by_norm", "clip_data", 50),
           "test_clip_elementwise_visible": ("clip_elementwise", "clip_elementwise", "clip_data", 50),
           "test_norms_visible": ("norms", "jacobian_norms", "norms_data", 51),
           "test_lstm_visible": ("lstm", "lstm_step_backward", "lstm_data", 52)}
VISIBLE_CASES = [(grade_id, function) for grade_id, (kind, *_) in VISIBLE.items() for function in HONEST[kind]]


def reference_values(space: dict, name: str):
    """What ``expected(ASSIGNMENT, name)`` would hold for the numbers in ``space``."""
    if name == "clip_elementwise":
        return ch05.clip_elementwise(space["grads"], 1.0)
    if name.startswith("norms/"):
        rnn = tuple(space[k] for k in ("X", "h0", "W_hx", "W_hh", "b_h"))
        return ch05.jacobian_norms(*rnn, name.split("/")[1])
    grads = ch05.lstm_step_backward(space["dh"], space["dc"], space["cache"])
    return dict(zip(("x", "h_prev", "c_prev", "W", "b"), grads))


@pytest.mark.parametrize("grade_id, function", VISIBLE_CASES,
                         ids=[f"{g}-{f.__name__}" for g, f in VISIBLE_CASES])
def test_each_visible_cell_passes_honest_work_without_torch(monkeypatch, grade_id, function):
    without_torch(monkeypatch)
    _, name, data, _ = VISIBLE[grade_id]
    space = run_cells("setup", data, **{name: function})
    exec(compile(cell(grade_id), grade_id, "exec"), space)


@pytest.mark.parametrize("grade_id, function", VISIBLE_CASES,
                         ids=[f"{g}-{f.__name__}" for g, f in VISIBLE_CASES])
@over_seeds
@given(seed=seeds)
def test_each_visible_cell_passes_honest_work_on_fresh_numbers(grade_id, function, seed):
    """The data cell drawn from another seed, the stored values replaced by the reference's."""
    _, name, data, own_seed = VISIBLE[grade_id]
    space = run_cells("setup", **{name: function})
    source = cell(data)
    assert source.count(f"default_rng({own_seed})") == 1
    exec(compile(source.replace(f"default_rng({own_seed})", f"default_rng([{seed}, {own_seed}])"), data, "exec"),
         space)
    space["expected"] = lambda assignment, key: reference_values(space, key)
    exec(compile(cell(grade_id), grade_id, "exec"), space)


def test_the_kinks_are_where_every_honest_order_of_sums_puts_them():
    """z_{T-1,1} = -1e-10 and z_{T,0} = +1e-10, to far better than their size, whichever way z is summed."""
    for seed in range(200):
        for case in ch05._norm_cases(seed, False) + ch05._norm_cases(seed, True)[-1:]:
            X, h0, W_hx, W_hh, b_h, activation = case.value
            if activation != "relu":
                continue
            W, h, z = np.hstack([W_hx, W_hh]), h0, []
            for x in X:
                z.append((W_hx @ x + W_hh @ h + b_h, W @ np.concatenate([x, h]) + b_h))
                h = np.maximum(z[-1][0], 0.0)
            i = np.unravel_index(np.argmax(np.abs(W_hx)), W_hx.shape)[0]
            for (separate, together), sign in ((z[-2], -1), (z[-1], 1)):
                for value in (separate[i], together[i]):
                    assert abs(value - sign * ch05.KINK) < 1e-2 * ch05.KINK, (seed, case.label)


def test_the_norms_obey_the_bound_for_every_activation():
    for case in ch05._norm_cases(0, False) + ch05._norm_cases(0, True):
        X, h0, W_hx, W_hh, b_h, activation = case.value
        beta_phi = 0.25 if activation == "sigmoid" else 1.0
        gaps = len(X) - np.arange(len(X) + 1)
        bound = (np.linalg.norm(W_hh, 2) * beta_phi) ** gaps
        assert np.all(ch05.jacobian_norms(*case.value) <= bound * (1 + 1e-12)), case.label


def test_the_large_biases_put_many_gates_near_0_or_1():
    shares = []
    for seed in range(50):
        (case,) = [c for c in ch05._lstm_cases(seed, False) if "large biases" in c.label]
        cache = case.value[2]
        gates = np.concatenate([cache.i, cache.f, cache.o])
        shares.append(np.mean((gates < 0.01) | (gates > 0.99)))
    assert np.mean(shares) > 0.4 and min(shares) > 0.1
