"""Backpropagation through time in bounded memory: checkpoints and optimal schedules (chapter 7).

All three methods compute the same loss and gradients for the linear RNN of ``bptt.rnn``
(``h_t = W_hx x_t + W_hh h_{t-1}``, ``o_t = W_qh h_t``, no biases) with the squared loss
``L = 1/(T B) sum_t sum_b 1/2 |o_tb - y_tb|^2``. They differ only in which hidden states they
keep and how often they compute them:

- ``full_bptt`` keeps all T states (the baseline);
- ``checkpointed_bptt`` keeps every k-th state and recomputes the others segment by segment;
- ``scheduled_bptt`` keeps at most m states and follows the schedule with the fewest forward
  steps (the dynamic programme of Gruslys et al. 2016, ``schedule_cost``).

The cost model. A *state* is one array h_t of shape (B, h); the given h_0 does not count. The
backward pass needs the states in the order h_T, h_{T-1}, ..., h_1, h_0, each once: when it is
handed h_t it finishes step t + 1 (whose W_hh gradient needs h_t) and then handles the output
o_t. A schedule's cost is the number of forward steps h_{t-1} -> h_t it evaluates, the first
pass included. Nothing of length T is allocated besides the states a method keeps: outputs,
the loss and dL/do_t are computed one step at a time.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from bptt.rnn import LINEAR_PARAMS, check_rnn_inputs
from bptt.validation import require_shape

CHECK_ENTRIES = 2**14  # entries per block of the finiteness check of X and Y


class ScheduleStats(NamedTuple):
    """What a schedule did: forward steps evaluated and the most states held at once."""

    forward_steps: int
    most_states: int


def _sequence(name: str, value) -> np.ndarray:
    """``value`` as a float64 array (T, B, n) with finite entries.

    Finiteness is checked a block of steps at a time: ``np.isfinite`` on the whole array would
    allocate T B n booleans, memory of length T that these methods promise not to use.
    """
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 3 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty array (T, B, n), got shape {array.shape}")
    block = max(1, CHECK_ENTRIES // array[0].size)  # steps per block
    for start in range(0, len(array), block):
        if not np.isfinite(array[start:start + block]).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _inputs(X, Y, h0, params) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Validated float64 arrays: X (T, B, d), Y (T, B, q), h0 (B, h), params."""
    X = _sequence("X", X)
    Y = _sequence("Y", Y)
    _, h0, P = check_rnn_inputs(X[:1], h0, params, LINEAR_PARAMS)  # shapes, on one step of X
    require_shape("Y", Y, X.shape[:2] + P["W_qh"].shape[:1])
    return X, Y, h0, P


def _positive(name: str, value) -> int:
    """``value`` as an int, which must be at least 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _step(x: np.ndarray, h_prev: np.ndarray, P: dict) -> np.ndarray:
    """One forward step: x (B, d), h_prev (B, h) -> h (B, h)."""
    return x @ P["W_hx"].T + h_prev @ P["W_hh"].T


class _Backward:
    """The backward pass, handed the states in the order h_T, h_{T-1}, ..., h_1, h_0.

    Every method below feeds it; only the way they produce the states differs.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, P: dict) -> None:
        self.X, self.Y, self.P = X, Y, P
        self.scale = 1.0 / (X.shape[0] * X.shape[1])
        self.expected = X.shape[0]  # the index of the state it needs next
        self.loss = 0.0
        self.grads = {name: np.zeros_like(P[name]) for name in LINEAR_PARAMS}
        self.delta = None  # dL/dh_{t+1}, total derivative, (B, h)

    def visit(self, t: int, h: np.ndarray) -> None:
        """Use h_t (B, h): finish step t + 1, then the output o_t and dL/dh_t."""
        if t != self.expected:
            raise RuntimeError(f"the backward pass needs h_{self.expected}, got h_{t}")
        self.expected -= 1
        P, grads = self.P, self.grads
        if self.delta is None:  # t = T: nothing flows back from later steps
            dh = np.zeros_like(h)
        else:
            grads["W_hh"] += self.delta.T @ h
            dh = self.delta @ P["W_hh"]  # the part of dL/dh_t that comes through h_{t+1}
        if t == 0:
            grads["h0"] = dh
            return
        diff = h @ P["W_qh"].T - self.Y[t - 1]  # o_t - y_t, (B, q)
        self.loss += 0.5 * self.scale * float(np.sum(diff * diff))
        d_o = self.scale * diff  # dL/do_t
        grads["W_qh"] += d_o.T @ h
        self.delta = dh + d_o @ P["W_qh"]  # dL/dh_t
        grads["W_hx"] += self.delta.T @ self.X[t - 1]

    def result(self) -> tuple[float, dict]:
        """The loss and the gradients W_hx, W_hh, W_qh and h0, once h_0 was visited."""
        if self.expected != -1:
            raise RuntimeError(f"the backward pass stopped before h_{self.expected}")
        return self.loss, self.grads


def full_bptt(X, Y, h0, params) -> tuple[float, dict]:
    """Plain BPTT that keeps all T states.

    X (T, B, d), Y (T, B, q), h0 (B, h), params W_hx (h, d), W_hh (h, h), W_qh (q, h).
    Returns the loss L and its gradients W_hx, W_hh, W_qh and h0.
    """
    X, Y, h0, P = _inputs(X, Y, h0, params)
    states = [h0]
    for x in X:
        states.append(_step(x, states[-1], P))
    backward = _Backward(X, Y, P)
    for t in reversed(range(len(states))):
        backward.visit(t, states.pop())
    return backward.result()


def checkpointed_bptt(X, Y, h0, params, k: int) -> tuple[float, dict]:
    """BPTT that keeps every k-th state (h_0, h_k, h_2k, ...) and recomputes the rest.

    Segment j holds the states h_{jk}, ..., h_{jk+k-1}. Going backward, each segment is
    computed again from its first state, its checkpoint, and handed over in reverse order.
    Shapes as in ``full_bptt``; returns the same loss and gradients.
    """
    X, Y, h0, P = _inputs(X, Y, h0, params)
    k = _positive("k", k)
    T = len(X)
    checkpoints = [h0]
    h = h0
    for t in range(1, (T // k) * k + 1):  # forward up to the last checkpoint only
        h = _step(X[t - 1], h, P)
        if t % k == 0:
            checkpoints.append(h)
    backward = _Backward(X, Y, P)
    for j in reversed(range(len(checkpoints))):
        start = j * k
        segment = [checkpoints.pop()]
        for t in range(start + 1, min(start + k - 1, T) + 1):
            segment.append(_step(X[t - 1], segment[-1], P))
        for t in reversed(range(start, start + len(segment))):
            backward.visit(t, segment.pop())
    return backward.result()


def uniform_stats(T: int, k: int) -> ScheduleStats:
    """Forward steps and most states held by ``checkpointed_bptt`` with segments of k states.

    The first pass evaluates the c - 1 full segments before the last checkpoint, c = T // k + 1
    checkpoints in all; going backward, each segment recomputes its states after the checkpoint.
    While segment j is handed back, the checkpoints h_k .. h_jk and the segment's other states
    are held.
    """
    k = _positive("k", k)
    c = T // k + 1
    forward = (c - 1) * k + sum(min(k - 1, T - j * k) for j in range(c))
    return ScheduleStats(forward, max(j + min(k - 1, T - j * k) for j in range(c)))


def cost_table(n_max: int, m_max: int) -> np.ndarray:
    """The dynamic programme f(n, m) for n <= n_max and m <= m_max, bottom-up.

    f(0, m) = 0; f(n, 0) = inf for n >= 1;
    f(n, m) = min over 1 <= i <= n of i + f(n - i, m - 1) + f(i - 1, m).
    Returns a float64 array (n_max + 1, m_max + 1) (inf where no schedule exists). Takes
    O(n_max^2 m_max) operations: for small tables, to check ``schedule_cost``.
    """
    f = np.full((n_max + 1, m_max + 1), np.inf)
    f[0, :] = 0.0
    for m in range(1, m_max + 1):
        for n in range(1, n_max + 1):
            i = np.arange(1, n + 1)
            f[n, m] = np.min(i + f[n - i, m - 1] + f[i - 1, m])
    return f


def reach(m: int, r: int) -> int:
    """The longest segment that m slots can hand back when no step is computed more than r times.

    It is C(m + r, m) - 1: it solves reach(m, r) = reach(m - 1, r) + 1 + reach(m, r - 1)
    (the right part, the held state, the left part of the split) with reach(0, r) = 0 and
    reach(m, 0) = 0.
    """
    return math.comb(m + r, m) - 1


def _repetitions(n: int, m: int) -> int:
    """The smallest r with reach(m, r) >= n: how often the first step of n is computed."""
    r, count = 0, 1  # count = C(m + r, m)
    while count - 1 < n:
        r += 1
        count = count * (m + r) // r
    return r


def schedule_cost(T: int, m: int) -> int:
    """f(T, m): the fewest forward steps of BPTT over T steps with at most m states held.

    Evaluated in closed form, f(n, m) = r (n + 1) - C(m + r, m + 1) with r the smallest integer
    such that C(m + r, m) > n; it equals the dynamic programme of ``cost_table`` (the tests
    check it). Raises ValueError when m < 1 (no schedule exists then for T >= 1).
    """
    m = _positive("m", m)
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 0:
        raise ValueError(f"T must be a non-negative integer, got {T!r}")
    r = _repetitions(int(T), m)
    return r * (int(T) + 1) - math.comb(m + r, m + 1)


def optimal_split(n: int, m: int) -> int:
    """A best first step count i of the dynamic programme for n steps and m >= 1 slots.

    Forward i steps and hold h_i; the right part (n - i steps, m - 1 slots) then needs at most
    r repetitions and the left part (i - 1 steps, m slots) at most r - 1, with r as in
    ``schedule_cost``. The tests check i + f(n - i, m - 1) + f(i - 1, m) = f(n, m).
    """
    m = _positive("m", m)
    n = _positive("n", n)
    r = _repetitions(n, m)
    return min(n - reach(m - 1, r - 1), reach(m, r - 1) + 1)


def scheduled_bptt(X, Y, h0, params, m: int) -> tuple[float, dict, ScheduleStats]:
    """BPTT with at most m states held at once, on the schedule with the fewest forward steps.

    To hand back the n states after a held state h_s with m slots: forward i = optimal_split(n, m)
    steps from h_s keeping only the latest, hold h_{s+i}; hand back h_{s+n} .. h_{s+i+1} with the
    other m - 1 slots; hand back h_{s+i} and drop it; hand back h_{s+i-1} .. h_{s+1} with all m
    slots. The work is kept on an explicit stack, so long sequences need no deep recursion.
    Shapes as in ``full_bptt``; returns the loss, the gradients and the ScheduleStats counted
    while running.
    """
    X, Y, h0, P = _inputs(X, Y, h0, params)
    m = _positive("m", m)
    backward = _Backward(X, Y, P)
    steps = held = most = 0
    # Tasks, last in first out: ("part", s, h_s, n, slots) or ("hand back", t, h_t).
    tasks = [("part", 0, h0, len(X), m)]
    while tasks:
        task = tasks.pop()
        if task[0] == "hand back":
            backward.visit(task[1], task[2])
            held -= 1
            continue
        _, s, h_s, n, slots = task
        if n == 0:
            continue
        i = optimal_split(n, slots)
        held += 1  # the running state, which becomes the held h_{s+i}
        most = max(most, held)
        h = h_s
        for t in range(s + 1, s + i + 1):
            h = _step(X[t - 1], h, P)
            steps += 1
        tasks.append(("part", s, h_s, i - 1, slots))
        tasks.append(("hand back", s + i, h))
        tasks.append(("part", s + i, h, n - i, slots - 1))
    backward.visit(0, h0)
    loss, grads = backward.result()
    return loss, grads, ScheduleStats(steps, most)
