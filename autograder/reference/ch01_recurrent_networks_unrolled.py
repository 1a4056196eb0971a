"""How the exercises of chapter 1 ("Recurrent networks, unrolled") are graded (instructor only).

The page teaches one vanilla RNN layer over a batch of sequences of one length, and the package
has it (``bptt.tanh_rnn_forward``, tanh only). The notebook asks for what neither contains, in the
concatenated form ``h_t = phi(W [x_t; h_{t-1}] + b)`` with the activation ``phi`` passed in:

1. ``masked_forward``: a padded batch of sequences of different lengths, each state frozen
   after its sequence ends;
2. the heads on such a batch: ``many_to_one`` reads each sequence at its own last step,
   ``many_to_many`` every step;
3. ``stacked_forward``: a stack of layers, each reading the states of the layer below;
4. ``count_parameters``: the parameters of such a stack, which do not depend on T.

Every check runs several activations (ReLU, the logistic sigmoid, softsign besides tanh), so
neither the package's tanh RNN nor a hard-coded activation earns a point. A visible check is
judged on the case the notebook shows and on fresh cases of the same shapes drawn from the
grader's seed; a hidden check draws everything from the seed, on sizes that include T = 1 and
B = 1. The expected values of the visible cells come from ``VISIBLE_DATA`` through
``bptt.checks.expected``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograder.reference.judging import Case, Check, compare
from bptt import tanh_problem, tanh_rnn_forward
from bptt.probe import ACTIVATIONS, Activation

ASSIGNMENT = "ch01-recurrent-networks-unrolled"
TOL = 1e-12
SHOWN = ("tanh", "relu", "sigmoid")  # the activations of the visible cells
EVERY = ("tanh", "relu", "sigmoid", "softsign", "identity")


# --- The answers -------------------------------------------------------------------------------

def rnn_step(x, h_prev, W, b, phi):
    """x (B, d), h_prev (B, h), W (h, d + h), b (h,) -> h (B, h)."""
    return phi(np.concatenate([x, h_prev], axis=1) @ W.T + b)


def masked_forward(X, lengths, h0, W, b, phi):
    """X (T, B, d), lengths (B,) in 1..T, h0 (B, h) -> H (T, B, h); row t - 1 holds h_t.

    Sequence m steps while t <= lengths[m]; after that its state stays h_{lengths[m]}.
    """
    states, h = [], h0
    for t, x in enumerate(X, start=1):
        running = (t <= lengths)[:, None]
        h = np.where(running, rnn_step(x, h, W, b, phi), h)
        states.append(h)
    return np.stack(states)


def many_to_one(H, lengths, W_qh, b_q):
    """H (T, B, h), lengths (B,) -> (B, q): the output at each sequence's last step."""
    return H[np.asarray(lengths) - 1, np.arange(H.shape[1])] @ W_qh.T + b_q


def many_to_many(H, W_qh, b_q):
    """H (T, B, h) -> (T, B, q): the output at every step."""
    return H @ W_qh.T + b_q


def stacked_forward(X, h0, Ws, bs, phi):
    """X (T, B, d), h0 (L, B, h), Ws[0] (h, d + h), Ws[j] (h, 2h), bs[j] (h,) -> (L, T, B, h).

    Layer 1 reads x_t; layer j + 1 reads the state of layer j at the same step.
    """
    layers, inputs = [], X
    for start, W, b in zip(h0, Ws, bs):
        states, h = [], start
        for x in inputs:
            h = rnn_step(x, h, W, b, phi)
            states.append(h)
        inputs = np.stack(states)
        layers.append(inputs)
    return np.stack(layers)


def count_parameters(d: int, h: int, q: int, layers: int, T: int) -> int:
    """Parameters of ``layers`` stacked recurrent layers and the output layer, for any T.

    Layer 1 has W (h, d + h) and b (h,); every further layer reads the states of the one
    below, W (h, h + h) and b (h,); the output layer W_qh (q, h), b_q (q,).
    """
    return h * (d + h) + h + (layers - 1) * (2 * h * h + h) + q * h + q


# --- The visible case, built as the notebook's setup cell builds it ----------------------------

def visible_case() -> dict:
    """The arrays of the notebook's setup cell (a test compares the two)."""
    problem = tanh_problem(seed=0, T=5, B=3, d=4, h=6, q=2)
    P = problem.params
    W = np.hstack([P["W_hx"], P["W_hh"]])
    rng = np.random.default_rng(1)
    Ws = [W] + [rng.standard_normal((6, 12)) / np.sqrt(12) for _ in range(2)]
    bs = [P["b_h"]] + [0.1 * rng.standard_normal(6) for _ in range(2)]
    h0s = np.stack([problem.h0] + [rng.standard_normal((3, 6)) for _ in range(2)])
    _, cache = tanh_rnn_forward(problem.X, problem.h0, P)
    return {"X": problem.X, "h0": problem.h0, "lengths": np.array([5, 2, 3]), "W": W,
            "b": P["b_h"], "W_qh": P["W_qh"], "b_q": P["b_q"], "H_package": cache.H,
            "Ws": Ws, "bs": bs, "h0s": h0s, "params": P}


def _visible(name: str, make: Callable[[dict, Callable], np.ndarray]):
    return lambda: make(visible_case(), ACTIVATIONS[name])


VISIBLE_DATA = {
    **{f"masked_forward/{name}": _visible(name, lambda v, phi: masked_forward(
        v["X"], v["lengths"], v["h0"], v["W"], v["b"], phi)) for name in SHOWN},
    **{f"stacked_forward/{name}": _visible(name, lambda v, phi: stacked_forward(
        v["X"], v["h0s"], v["Ws"], v["bs"], phi)) for name in SHOWN},
    "many_to_one": lambda: many_to_one(*(visible_case()[k] for k in ("H_package", "lengths",
                                                                    "W_qh", "b_q"))),
}


# --- Cases drawn from the grader's seed --------------------------------------------------------

def _layer(rng, fan_in: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """W (h, fan_in + h) scaled so states neither blow up nor die, and b (h,)."""
    return rng.standard_normal((h, fan_in + h)) / np.sqrt(fan_in + h), 0.1 * rng.standard_normal(h)


def _lengths(rng, T: int, B: int) -> np.ndarray:
    """Lengths in 1..T; when T > 1 one sequence is shorter than T, so padding matters."""
    lengths = rng.integers(1, T + 1, size=B)
    if T > 1:
        lengths[rng.integers(B)] = rng.integers(1, T)
    return lengths


def _masked_problem(rng, T: int, B: int, d: int, h: int) -> tuple:
    """X with random padding (an unmasked run differs), lengths, h0, W, b."""
    W, b = _layer(rng, d, h)
    return (rng.standard_normal((T, B, d)), _lengths(rng, T, B), rng.standard_normal((B, h)), W, b)


def _stacked_problem(rng, T: int, B: int, d: int, h: int, L: int) -> tuple:
    layers = [_layer(rng, d if j == 0 else h, h) for j in range(L)]
    return (rng.standard_normal((T, B, d)), rng.standard_normal((L, B, h)),
            [W for W, _ in layers], [b for _, b in layers])


def _label(sizes: dict, phi: str | None = None, fresh: bool = False) -> str:
    text = ", ".join(f"{k}={v}" for k, v in sizes.items())
    return ("fresh case, " if fresh else "") + text + (f", phi={phi}" if phi else "")


def _masked_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        v = visible_case()
        full = np.full(3, 5)
        cases = [Case("the notebook's case, every length 5, phi=tanh",
                      (v["X"], full, v["h0"], v["W"], v["b"], Activation("tanh")))]
        cases += [Case(f"the notebook's case, lengths [5, 2, 3], phi={name}",
                       (v["X"], v["lengths"], v["h0"], v["W"], v["b"], Activation(name)))
                  for name in SHOWN]
        sizes, activations = [(5, 3, 4, 6)], SHOWN
    else:
        cases = []
        sizes = [(1, 1, 1, 1), (1, 4, 3, 2), (6, 1, 2, 3), (7, 5, 3, 4), (12, 6, 5, 8)]
        activations = EVERY
    for i, (T, B, d, h) in enumerate(sizes):
        for k, name in enumerate(activations):
            problem = _masked_problem(np.random.default_rng([seed, 1, i, k]), T, B, d, h)
            label = _label(dict(T=T, B=B, d=d, h=h, lengths=problem[1].tolist()), name, visible)
            cases.append(Case(label, (*problem, Activation(name))))
    return cases


def _heads_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        v = visible_case()
        cases = [Case("the notebook's case, lengths [5, 2, 3]",
                      (v["H_package"], v["lengths"], v["W_qh"], v["b_q"]))]
        sizes = [(5, 3, 6, 2)]
    else:
        cases = []
        sizes = [(1, 1, 1, 1), (4, 1, 3, 2), (6, 5, 4, 3), (9, 7, 5, 1), (3, 2, 8, 6)]
    for i, (T, B, h, q) in enumerate(sizes):
        rng = np.random.default_rng([seed, 2, i])
        # States after a sequence's end are whatever an unmasked run left there: any numbers.
        H, lengths = rng.standard_normal((T, B, h)), _lengths(rng, T, B)
        W_qh, b_q = rng.standard_normal((q, h)) / np.sqrt(h), 0.1 * rng.standard_normal(q)
        label = _label(dict(T=T, B=B, h=h, q=q, lengths=lengths.tolist()), fresh=visible)
        cases.append(Case(label, (H, lengths, W_qh, b_q)))
    return cases


def _stacked_cases(seed: int, visible: bool) -> list[Case]:
    if visible:
        v = visible_case()
        cases = [Case("the notebook's case, one layer, phi=tanh",
                      (v["X"], v["h0s"][:1], v["Ws"][:1], v["bs"][:1], Activation("tanh")))]
        cases += [Case(f"the notebook's case, three layers, phi={name}",
                       (v["X"], v["h0s"], v["Ws"], v["bs"], Activation(name))) for name in SHOWN]
        sizes, activations = [(5, 3, 4, 6, 3)], SHOWN
    else:
        cases = []
        sizes = [(1, 1, 1, 1, 1), (1, 3, 2, 2, 3), (5, 1, 3, 4, 2), (6, 4, 2, 3, 4), (8, 3, 5, 6, 3)]
        activations = EVERY
    for i, (T, B, d, h, L) in enumerate(sizes):
        for k, name in enumerate(activations):
            problem = _stacked_problem(np.random.default_rng([seed, 3, i, k]), T, B, d, h, L)
            label = _label(dict(T=T, B=B, d=d, h=h, layers=L), name, visible)
            cases.append(Case(label, (*problem, Activation(name))))
    return cases


def _count_cases(seed: int, visible: bool) -> list[Case]:
    """Each size twice, with two sequence lengths T: the count must not change with T."""
    rng = np.random.default_rng([seed, 4])
    if visible:
        shown = [("", (4, 6, 2, 1), (5, 500)), ("", (4, 6, 2, 3), (5, 500))]
        draws = [(int(rng.integers(1, 30)), int(rng.integers(1, 30)), int(rng.integers(1, 10)),
                  int(rng.integers(1, 6)))]
        sizes = shown + [("fresh case, ", size, tuple(int(t) for t in rng.integers(2, 1000, 2)))
                         for size in draws]
    else:
        # Stacks with d < h and d > h, where a count that gives every layer the shape
        # (h, d + h) is wrong; then fixed corners, a single unit and one wide layer.
        d = int(rng.integers(1, 20))
        draws = [(d, d + int(rng.integers(1, 20)), int(rng.integers(1, 10)), int(rng.integers(2, 6))),
                 (d + int(rng.integers(1, 20)), d, int(rng.integers(1, 10)), int(rng.integers(2, 6))),
                 (int(rng.integers(1, 40)), int(rng.integers(1, 40)), int(rng.integers(1, 10)), 3),
                 (1, 1, 1, 1), (64, 128, 32, 1)]
        sizes = [("", size, (1, int(rng.integers(2, 10_000)))) for size in draws]
    return [Case(_label(dict(d=d, h=h, q=q, layers=n, T=T), fresh=prefix != ""), (d, h, q, n, T))
            for prefix, (d, h, q, n), Ts in sizes for T in Ts]


# --- Verdicts ----------------------------------------------------------------------------------

def _hint(result, wrong: dict[str, np.ndarray]) -> str:
    """Sentences naming the known mistakes that ``result`` matches (on one case, several
    may give the same numbers), or ''."""
    matches = [sentence for sentence, value in wrong.items()
               if compare("", result, value, 1e-9) is None]
    return ". " + " Or: ".join(matches) if matches else ""


def _masked_verdict(case: Case, result) -> str | None:
    X, lengths, h0, W, b, phi = case.value
    message = compare("H", result, masked_forward(*case.value), TOL)
    if message is None:
        return None
    T = len(X)
    zeroed = masked_forward(*case.value) * (np.arange(1, T + 1)[:, None] <= lengths)[..., None]
    late = masked_forward(X, np.minimum(lengths + 1, T), h0, W, b, phi)
    return message + _hint(result, {
        "Your states keep changing after a sequence ends: freeze each at its last step.":
            masked_forward(X, np.full_like(lengths, T), h0, W, b, phi),
        "After a sequence ends, its state must stay at its last value, not become 0.": zeroed,
        "Your states freeze one step late: sequence m takes lengths[m] steps.": late,
    })


def _heads_verdict(case: Case, result) -> str | None:
    """The probed function returns (many_to_one(...), many_to_many(...))."""
    if not isinstance(result, list) or len(result) != 2:
        return "expected the pair (many_to_one(...), many_to_many(...))"
    H, lengths, W_qh, b_q = case.value
    message = compare("many-to-one output", result[0], many_to_one(*case.value), TOL)
    if message:
        message += _hint(result[0], {
            "You read every sequence at the last row of H; sequence m ends at step lengths[m].":
                H[-1] @ W_qh.T + b_q,
            "You read row lengths[m] of H; step t is row t - 1.":
                many_to_one(H, np.minimum(lengths + 1, len(H)), W_qh, b_q),
        })
    return message or compare("many-to-many outputs", result[1], many_to_many(H, W_qh, b_q), TOL)


def _stacked_verdict(case: Case, result) -> str | None:
    expected = stacked_forward(*case.value)
    message = compare("states of all layers", result, expected, TOL)
    if message is None or " is off: " not in message:
        return message
    if len(expected) == 1:
        return message
    wrong = next(j for j in range(len(expected)) if compare("", result[j], expected[j], TOL))
    return f"layer {wrong + 1} (of {len(expected)}) is the lowest layer whose states are off; " + message


def _count_verdict(case: Case, result) -> str | None:
    d, h, q, n, T = case.value
    expected = count_parameters(d, h, q, n, T)
    if not isinstance(result, np.ndarray) or result.size != 1:
        return "expected a single whole number"
    got = float(result.reshape(()))
    if got == expected:
        return None
    output = q * h + q
    known = [
        ([expected * T, (expected - output) * T + output] if T > 1 else [],
         "it grows with T, as if every step had weights of its own; the same weights serve "
         "every step"),
        ([expected - n * h - q, expected - n * h, expected - q],
         "it leaves out biases (each layer has b of shape (h,), the output layer b_q)"),
        ([expected - output], "it leaves out the output layer W_qh, b_q"),
        ([expected + (n - 1) * h * (d - h)] if d != h else [],
         "it gives every layer a W of shape (h, d + h), but the layers above the first read the "
         "states of the layer below, so theirs is (h, h + h)"),
    ]
    reasons = [why for values, why in known if got in values]
    return (f"got {got:g} parameters, but this network has {expected}"
            + (": " + "; or ".join(reasons) if reasons else ""))


CHECKS = {
    "test_masked_visible": Check("call", lambda seed: _masked_cases(seed, True), _masked_verdict),
    "test_masked_hidden": Check("call", lambda seed: _masked_cases(seed, False), _masked_verdict),
    "test_heads_visible": Check("call", lambda seed: _heads_cases(seed, True), _heads_verdict),
    "test_heads_hidden": Check("call", lambda seed: _heads_cases(seed, False), _heads_verdict),
    "test_stacked_visible": Check("call", lambda seed: _stacked_cases(seed, True),
                                  _stacked_verdict),
    "test_stacked_hidden": Check("call", lambda seed: _stacked_cases(seed, False),
                                 _stacked_verdict),
    "test_count_visible": Check("call", lambda seed: _count_cases(seed, True), _count_verdict),
    "test_count_hidden": Check("call", lambda seed: _count_cases(seed, False), _count_verdict),
}
