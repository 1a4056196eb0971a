"""How the exercises of chapter 4 ("BPTT in detail") are graded (instructor only).

``CHECKS`` maps every graded test cell of the assignment ch04-bptt-in-detail
to its ``Check``. A visible cell is graded on the case the notebook shows, on a
fresh case of the same shapes and on a large fresh case (for the gradient check:
fresh cases at small and large steps); a hidden cell on small shapes (a single
step and a single sequence included) and a large case, all drawn from the
grader's seed. Gradients must match the reference answers to 1e-10.

The large cases are what make a backward pass necessary. Differentiating the
forward pass instead (complex steps, central differences) takes at least one
forward evaluation per parameter entry: on a large case that is many times a
cell's time limit, while a backward pass takes milliseconds
(``tests/test_judging.py`` measures both). Their size is bounded by the grading
channel: a probe's record, the student's gradients in base64, must stay under
2 MiB.

The gradient check (part 3) is graded on what it returns: the grader draws the
same directions from the same seeded generator and computes the central
differences itself. At a large step (``eps`` of 0.05 to 0.2) the central
difference differs from the exact directional derivative by its truncation
error, so a check that finds the exact derivative some other way (say, by
reading the loss's closure) returns another number and fails.
"""

from __future__ import annotations

import numpy as np

from autograder.reference import tanh_rnn as reference
from autograder.reference.judging import Case, Check, compare, compare_named
from bptt.gradcheck import TOL_AUTOGRAD, rel_error
from bptt.probe import _directional_arguments as directional_arguments
from bptt.rnn import tanh_rnn_forward, tanh_step_forward
from bptt.tasks import tanh_problem

ASSIGNMENT = "ch04-bptt-in-detail"
STEP_OUTPUTS = ("dx", "dh_prev", "dW_hx", "dW_hh", "db_h")
RNN_KEYS = ("W_qh", "b_q", "W_hx", "W_hh", "b_h", "h0")

# Small shapes (T, B, d, h, q) of the hidden cases: a single step, a single sequence, d = 1.
SHAPES = [(1, 1, 2, 3, 2), (4, 3, 5, 4, 3), (9, 2, 3, 6, 5), (2, 5, 1, 2, 4)]
# Large cases: gradients of about 150,000 (step) and 59,000 (RNN) entries, the
# most a probe's record carries with room to spare; see tests/test_judging.py.
LARGE_STEP = (256, 32, 256)             # B, d, h
LARGE_RNN = (32, 64, 32, 192, 16)       # T, B, d, h, q
LARGE_SOFTMAX = (32, 64, 48)            # T, B, q
# The notebook's visible cases.
VISIBLE_SOFTMAX = (0, 4, 3, 5, 6, 3)    # seed, T, B, d, h, q
VISIBLE_STEP = (3, 4, 5)                # B, d, h
VISIBLE_RNN = (2, 6, 3, 4, 5, 3)        # seed, T, B, d, h, q
# Steps of a gradient check: small ones where only a wrong gradient shows, large
# ones where the central difference's own truncation error shows too.
SMALL_EPS = 1e-5
MATCH_RTOL, MATCH_ATOL = 1e-6, 1e-10


def _seed(seed: int, *labels: int) -> int:
    """An int seed for case ``labels`` of the grader's ``seed``."""
    return int(np.random.default_rng([seed, *labels]).integers(2**63))


def _logits(seed: int, T: int, B: int, d: int, h: int, q: int):
    """A tanh problem of ``seed``, its logits O (T, B, q) and forward cache."""
    problem = tanh_problem(seed, T, B, d, h, q)
    O, cache = tanh_rnn_forward(problem.X, problem.h0, problem.params)
    return problem, O, cache


# Part 2a: the gradient at the logits.

def _softmax_cases(visible: bool, seed: int) -> list[Case]:
    """Visible: the notebook's batch, a fresh one of its shape and a large one; hidden: other
    shapes, with logits of order 3 and of order 800 (a softmax without its shift overflows)."""
    cases = []
    if visible:
        fixed, T, B, d, h, q = VISIBLE_SOFTMAX
        for label, problem_seed in (("the notebook's batch", fixed), ("a fresh batch", _seed(seed, 0))):
            problem, O, _ = _logits(problem_seed, T, B, d, h, q)
            cases.append(Case(f"{label}, T={T}, B={B}, q={q}", (O, problem.targets)))
    shapes = [] if visible else [(T, B, q, scale) for T, B, _, _, q in SHAPES for scale in (3.0, 800.0)]
    for i, (T, B, q, scale) in enumerate(shapes + [(*LARGE_SOFTMAX, 3.0)]):
        rng = np.random.default_rng([seed, 1, i])
        cases.append(Case(f"T={T}, B={B}, q={q}, logits of size ~{scale:g}",
                          _telling_logits(rng, T, B, q, scale)))
    return cases


def _telling_logits(rng: np.random.Generator, T: int, B: int, q: int, scale: float):
    """Logits (T, B, q) of size ~``scale`` and targets (T, B), not all predicted with certainty.

    When every step's target has a probability within 1e-4 of 1, all of dL/dO is tiny and
    p - 1 loses digits to cancellation in any implementation: correct answers would then differ
    by more than 1e-10 relative. So such draws are drawn again.
    """
    while True:
        O, targets = scale * rng.standard_normal((T, B, q)), rng.integers(0, q, size=(T, B))
        if T * B * np.abs(reference.softmax_cross_entropy_backward(O, targets)).max() >= 1e-4:
            return O, targets


def _softmax_verdict(case: Case, result) -> str | None:
    O, targets = case.value
    return compare("dL/dO", result, reference.softmax_cross_entropy_backward(O, targets),
                   TOL_AUTOGRAD)


# Part 2b: one step backward.

def _step_case(label: str, rng: np.random.Generator, B: int, d: int, h: int) -> Case:
    """A step drawn as in the notebook: x, h_prev, W_hx, W_hh, b_h, then dh."""
    x, h_prev = rng.standard_normal((B, d)), rng.standard_normal((B, h))
    W_hx = rng.standard_normal((h, d)) / np.sqrt(d)
    W_hh = rng.standard_normal((h, h)) / np.sqrt(h)
    b_h = rng.standard_normal(h)
    dh = rng.standard_normal((B, h))
    return Case(f"{label}, B={B}, d={d}, h={h}", (dh, tanh_step_forward(x, h_prev, W_hx, W_hh, b_h)[1]))


def _visible_step_case() -> Case:
    """The step of the notebook's visible checks, drawn in the same order."""
    return _step_case("the notebook's step", np.random.default_rng(1), *VISIBLE_STEP)


def _step_cases(visible: bool, seed: int) -> list[Case]:
    if visible:
        cases = [_visible_step_case(),
                 _step_case("a fresh step", np.random.default_rng([seed, 2, 0]), *VISIBLE_STEP)]
    else:
        cases = [_step_case(f"step {i + 1}", np.random.default_rng([seed, 2, i + 1]), B, d, h)
                 for i, (_, B, d, h, _) in enumerate(SHAPES)]
    return cases + [_step_case("a large step", np.random.default_rng([seed, 2, 9]), *LARGE_STEP)]


def _step_verdict(names: tuple[str, ...]):
    def verdict(case: Case, result) -> str | None:
        expected = dict(zip(STEP_OUTPUTS, reference.tanh_step_backward(*case.value)))
        return compare_named(result, {n: expected[n] for n in names}, TOL_AUTOGRAD,
                             order=STEP_OUTPUTS)
    return verdict


# Part 2c: backpropagation through time.

def _rnn_case(label: str, problem_seed: int, T: int, B: int, d: int, h: int, q: int) -> Case:
    problem, O, cache = _logits(problem_seed, T, B, d, h, q)
    dO = reference.softmax_cross_entropy_backward(O, problem.targets)
    return Case(f"{label}, T={T}, B={B}, d={d}, h={h}, q={q}", (dO, cache))


def _visible_rnn_case():
    """The notebook's batch: dL/dO and the reference gradients (stored for the visible checks)."""
    fixed, *shape = VISIBLE_RNN
    case = _rnn_case("the notebook's batch", fixed, *shape)
    return case, reference.tanh_rnn_backward(*case.value)


def _rnn_cases(visible: bool, seed: int) -> list[Case]:
    if visible:
        _, *shape = VISIBLE_RNN
        cases = [_visible_rnn_case()[0], _rnn_case("a fresh batch", _seed(seed, 3, 0), *shape)]
    else:
        cases = [_rnn_case(f"batch {i + 1}", _seed(seed, 3, i + 1), *shape)
                 for i, shape in enumerate(SHAPES)]
    return cases + [_rnn_case("a large batch", _seed(seed, 3, 9), *LARGE_RNN)]


def _rnn_verdict(keys: tuple[str, ...]):
    def verdict(case: Case, result) -> str | None:
        if isinstance(result, dict) and set(result) - set(RNN_KEYS):
            return (f"return a dict with exactly the keys {list(RNN_KEYS)}; "
                    f"yours also has {sorted(set(result) - set(RNN_KEYS))}")
        expected = reference.tanh_rnn_backward(*case.value)
        return compare_named(result, {k: expected[k] for k in keys}, TOL_AUTOGRAD)
    return verdict


# Part 3: the directional gradient check.

def directional_check(f, x, grad, rng, num_directions=3, eps=1e-5) -> float:
    """The reference answer: the largest rel_error over the directions, as the notebook states it."""
    original = x.copy()
    worst = 0.0
    for _ in range(num_directions):
        v = rng.standard_normal(x.shape)
        x[...] = original + eps * v
        upper = f()
        x[...] = original - eps * v
        lower = f()
        x[...] = original
        worst = max(worst, rel_error((upper - lower) / (2 * eps), np.sum(grad * v)))
    return worst


def _grader_value(spec: dict) -> float:
    """What a correct check returns on ``spec``: the same loss, directions and step, run here."""
    spec = {**spec, "x": np.array(spec["x"], dtype=np.float64)}
    (f, x, grad, rng, directions, eps), _ = directional_arguments(spec)
    return directional_check(f, x, grad, rng, directions, eps)


def _gradcheck_spec(loss: str, x: np.ndarray, grad: np.ndarray, seed: int, directions: int,
                    eps: float, A: np.ndarray | None = None) -> dict:
    spec = dict(loss=loss, x=x, grad=grad, seed=seed, directions=directions, eps=eps)
    return spec if A is None else {**spec, "A": A}


VISIBLE_X = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.25]])


def _visible_gradcheck_cases() -> list[Case]:
    """The notebook's three calls on f(x) = sum(x**3), in its order."""
    right = 3 * VISIBLE_X ** 2
    return [
        Case("sum(x**3), the right gradient, eps=1e-05, 4 directions",
             _gradcheck_spec("cube", VISIBLE_X, right, 0, 4, SMALL_EPS), secret=True),
        Case("sum(x**3), a wrong gradient, eps=1e-05, 3 directions",
             _gradcheck_spec("cube", VISIBLE_X, right + 0.1, 0, 3, SMALL_EPS), secret=False),
        Case("sum(x**3), the right gradient, eps=0.1, 3 directions",
             _gradcheck_spec("cube", VISIBLE_X, right, 2, 3, 0.1), secret=True),
    ]


def _tells(seed: int, exact: np.ndarray, grad: np.ndarray, directions: int) -> bool:
    """Whether the directions drawn from ``seed`` tell: along each, the exact derivative is at
    least a tenth of the gradient's norm, and a wrong ``grad`` is off by a rel_error of 1e-2 or
    more along one of them.

    Cases use such seeds only, so a correct check fails neither way by the luck of a direction
    nearly orthogonal to the gradient (or to the mistake): rounding and truncation then stay far
    inside the thresholds.
    """
    V = np.random.default_rng(seed).standard_normal((directions, exact.size))
    along, claimed = V @ exact.ravel(), V @ grad.ravel()
    errors = np.abs(along - claimed) / np.maximum(1e-8, np.abs(along) + np.abs(claimed))
    right = np.array_equal(exact, grad)
    return bool(np.abs(along).min() >= 0.1 * np.linalg.norm(exact)
                and (right or errors.max() >= 1e-2))


def _telling_directions(rng: np.random.Generator, exact: np.ndarray, grad: np.ndarray,
                        directions: int) -> int:
    """The first seed drawn from ``rng`` whose directions tell (see ``_tells``)."""
    while True:
        seed = int(rng.integers(2**31))
        if _tells(seed, exact, grad, directions):
            return seed


def _fresh_gradcheck_cases(seed: int) -> list[Case]:
    """sum(x**3) at a fresh x of the notebook's shape, right and wrong, at both kinds of step."""
    rng = np.random.default_rng([seed, 4, 0])
    x = rng.standard_normal(VISIBLE_X.shape)
    right = 3 * x ** 2
    wrong = right * (1 + 0.1 * rng.standard_normal(x.shape))
    cases = []
    for eps, directions in ((SMALL_EPS, 3), (0.1, 4), (0.2, 3)):
        for gradient, grad, secret in (("the right gradient", right, True),
                                       ("a wrong gradient", wrong, False)):
            spec = _gradcheck_spec("cube", x, grad, _telling_directions(rng, right, grad, directions),
                                   directions, eps)
            cases.append(Case(f"sum(x**3) at a fresh x, {gradient}, eps={eps:g}, "
                              f"{directions} directions", spec, secret=secret))
    return cases


def _hidden_gradcheck_cases(seed: int) -> list[Case]:
    """sum(A * sin(x)) on other shapes: right and wrong gradients, small and large steps."""
    cases = []
    for i, (shape, directions, eps) in enumerate((((3,), 1, SMALL_EPS), ((2, 3), 3, SMALL_EPS),
                                                  ((2, 1, 3), 4, SMALL_EPS), ((3,), 1, 0.2),
                                                  ((4, 5), 3, 0.1), ((2, 1, 3), 2, 0.05))):
        rng = np.random.default_rng([seed, 5, i])
        x, A = rng.standard_normal(shape), rng.standard_normal(shape)
        exact = A * np.cos(x)
        one_entry = exact.copy()
        one_entry.flat[-1] += 0.5
        where = f"x of shape {shape}, eps={eps:g}, {directions} direction(s)"
        for mistake, grad, secret in (("the right gradient", exact, True),
                                      ("a gradient scaled by 1.1", 1.1 * exact, False),
                                      ("a gradient of the wrong sign", -exact, False),
                                      ("a gradient with one wrong entry", one_entry, False)):
            spec = _gradcheck_spec("sine", x, grad, _telling_directions(rng, exact, grad, directions),
                                   directions, eps, A)
            cases.append(Case(f"{where}, {mistake}", spec, secret=secret))
    return cases


def _directional_verdict(case: Case, result) -> str | None:
    spec = case.value
    if not isinstance(result, dict) or set(result) != {"result", "calls", "x_after"}:
        return "the check could not be run"
    calls = float(result["calls"])
    if calls != 2 * spec["directions"]:
        return f"f was called {calls:g} times; expected {2 * spec['directions']}"
    if not np.array_equal(result["x_after"], spec["x"]):
        return "your check changed x: restore it exactly"
    value = result["result"]
    if not isinstance(value, np.ndarray) or value.size != 1 or not np.isfinite(value).all():
        return "expected a single finite number"
    value = float(value.reshape(()))
    if spec["eps"] <= SMALL_EPS:
        # At a small step only rounding separates the two sides of a right gradient.
        if case.secret and not value <= 1e-7:
            return f"got {value:.2e} for a right gradient; expected at most 1e-7"
        if not case.secret and not value >= 1e-3:
            return f"got {value:.2e} for a wrong gradient; expected at least 1e-3"
        return None
    expected = _grader_value(spec)
    if not abs(value - expected) <= MATCH_RTOL * expected + MATCH_ATOL:
        return (f"got {value:.6e}; central differences along the directions drawn from rng give "
                f"{expected:.6e}. Draw direction i as the i-th rng.standard_normal(x.shape), "
                "use (f(x + eps v) - f(x - eps v)) / (2 eps) with the eps given, and return the "
                "largest rel_error over the directions")
    return None


def _gradcheck_cases(visible: bool, seed: int) -> list[Case]:
    if visible:
        return _visible_gradcheck_cases() + _fresh_gradcheck_cases(seed)
    return _hidden_gradcheck_cases(seed)


def _visible_data() -> dict:
    """The expected values the notebook's visible checks compare with, by name."""
    O, targets = _softmax_cases(True, 0)[0].value
    case, grads = _visible_rnn_case()
    data = {"softmax": lambda: reference.softmax_cross_entropy_backward(O, targets),
            "rnn_dO": lambda: case.value[0],
            "gradcheck_coarse": lambda: _grader_value(_visible_gradcheck_cases()[2].value)}
    data.update({f"rnn/{key}": (lambda key=key: grads[key]) for key in RNN_KEYS})
    return data


VISIBLE_DATA = _visible_data()

CHECKS = {
    "test_softmax_ce_visible": Check("call", lambda seed: _softmax_cases(True, seed),
                                     _softmax_verdict),
    "test_softmax_ce_hidden": Check("call", lambda seed: _softmax_cases(False, seed),
                                    _softmax_verdict),
    "test_step_through_time": Check("call", lambda seed: _step_cases(True, seed),
                                    _step_verdict(("dx", "dh_prev"))),
    "test_step_parameters": Check("call", lambda seed: _step_cases(True, seed),
                                  _step_verdict(("dW_hx", "dW_hh", "db_h"))),
    "test_step_hidden": Check("call", lambda seed: _step_cases(False, seed),
                              _step_verdict(STEP_OUTPUTS)),
    "test_rnn_output_layer": Check("call", lambda seed: _rnn_cases(True, seed),
                                   _rnn_verdict(("W_qh", "b_q"))),
    "test_rnn_recurrent": Check("call", lambda seed: _rnn_cases(True, seed),
                                _rnn_verdict(("h0", "W_hh", "W_hx", "b_h"))),
    "test_rnn_hidden": Check("call", lambda seed: _rnn_cases(False, seed), _rnn_verdict(RNN_KEYS)),
    "test_gradcheck_visible": Check("directional", lambda seed: _gradcheck_cases(True, seed),
                                    _directional_verdict),
    "test_gradcheck_hidden": Check("directional", lambda seed: _gradcheck_cases(False, seed),
                                   _directional_verdict),
}
