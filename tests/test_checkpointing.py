"""bptt.checkpointing: exact gradients in bounded memory, and the optimal schedule's cost model.

Every method must give the gradients of plain BPTT to rounding (rel_error <= 1e-12, float64);
the dynamic programme must be optimal (an exhaustive search over all schedules for T <= 7) and
must describe what the executed schedule does (forward steps counted while running, states
held measured with tracemalloc).
"""

from __future__ import annotations

import math
from collections import deque
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bptt
import bptt.checkpointing as ck
from bptt.memory import measure

EXACT = 1e-12
fast = settings(max_examples=40, deadline=None, derandomize=True)


def problem(seed: int, T: int, B: int = 2, d: int = 3, h: int = 4, q: int = 2):
    return bptt.linear_problem(seed, T=T, B=B, d=d, h=h, q=q, spectral_radius=0.95)


def worst(a: dict, b: dict, names=("W_hx", "W_hh", "W_qh", "h0")) -> float:
    return max(bptt.rel_error(a[n], b[n]) for n in names)


def run(method, p, *extra):
    return method(p.X, p.Y, p.h0, p.params, *extra)


@contextmanager
def counting_steps():
    """Yield a list that grows by one entry per forward step evaluated inside the block."""
    calls = []
    step = ck._step

    def counted(x, h_prev, P):
        calls.append(1)
        return step(x, h_prev, P)

    ck._step = counted
    try:
        yield calls
    finally:
        ck._step = step


# ---- gradients -------------------------------------------------------------------------------

@fast
@given(st.integers(0, 2**31 - 1), st.integers(1, 25), st.integers(1, 3), st.integers(1, 4),
       st.integers(1, 5), st.integers(1, 3))
def test_full_bptt_equals_the_rnn_module(seed, T, B, d, h, q):
    p = problem(seed, T, B, d, h, q)
    O, cache = bptt.linear_rnn_forward(p.X, p.h0, p.params)
    loss, dO = bptt.squared_loss(O, p.Y)
    reference = bptt.linear_rnn_backward(dO, cache)
    ours_loss, ours = run(ck.full_bptt, p)
    assert bptt.rel_error(ours_loss, loss) <= EXACT
    assert worst(ours, reference) <= EXACT
    assert set(ours) == {"W_hx", "W_hh", "W_qh", "h0"}


@pytest.mark.parametrize("seed, T, B", [(0, 1, 1), (1, 7, 3), (2, 40, 2)])
def test_full_bptt_equals_torch_autograd(seed, T, B):
    from bptt.autograd import linear_rnn_autograd

    p = problem(seed, T, B)
    loss, reference = linear_rnn_autograd(p.X, p.h0, p.params, p.Y)
    ours_loss, ours = run(ck.full_bptt, p)
    assert bptt.rel_error(ours_loss, loss) <= bptt.TOL_AUTOGRAD
    assert worst(ours, reference) <= bptt.TOL_AUTOGRAD


@fast
@given(st.integers(0, 2**31 - 1), st.integers(1, 30), st.data())
def test_checkpointed_equals_full(seed, T, data):
    k = data.draw(st.integers(1, T + 5), label="k")
    p = problem(seed, T)
    loss, full = run(ck.full_bptt, p)
    ours_loss, ours = run(ck.checkpointed_bptt, p, k)
    assert bptt.rel_error(ours_loss, loss) <= EXACT
    assert worst(ours, full) <= EXACT


@fast
@given(st.integers(0, 2**31 - 1), st.integers(1, 30), st.data())
def test_scheduled_equals_full_and_follows_the_model(seed, T, data):
    m = data.draw(st.integers(1, T + 3), label="m")
    p = problem(seed, T)
    loss, full = run(ck.full_bptt, p)
    ours_loss, ours, stats = run(ck.scheduled_bptt, p, m)
    assert bptt.rel_error(ours_loss, loss) <= EXACT
    assert worst(ours, full) <= EXACT
    assert stats.forward_steps == ck.schedule_cost(T, m)
    assert stats.most_states <= m


@settings(max_examples=20, deadline=None, derandomize=True)
@given(st.integers(1, 40), st.data())
def test_forward_steps_counted_independently(T, data):
    p = problem(0, T)
    m = data.draw(st.integers(1, T + 3), label="m")
    k = data.draw(st.integers(1, T + 5), label="k")
    with counting_steps() as calls:
        _, _, stats = run(ck.scheduled_bptt, p, m)
    assert len(calls) == stats.forward_steps == ck.schedule_cost(T, m)
    with counting_steps() as calls:
        run(ck.checkpointed_bptt, p, k)
    assert len(calls) == ck.uniform_stats(T, k).forward_steps
    with counting_steps() as calls:
        run(ck.full_bptt, p)
    assert len(calls) == T


def test_bad_arguments_are_refused():
    p = problem(0, 5)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError):
            run(ck.checkpointed_bptt, p, bad)
        with pytest.raises(ValueError):
            run(ck.scheduled_bptt, p, bad)
        with pytest.raises(ValueError):
            ck.schedule_cost(5, bad)
    with pytest.raises(ValueError, match="Y"):
        ck.full_bptt(p.X, p.Y[:, :, :1], p.h0, p.params)
    X = p.X.copy()
    X[-1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        ck.checkpointed_bptt(X, p.Y, p.h0, p.params, 2)


def test_the_backward_pass_insists_on_the_order():
    p = problem(0, 3)
    backward = ck._Backward(p.X, p.Y, p.params)
    with pytest.raises(RuntimeError, match="needs h_3"):
        backward.visit(2, p.h0)


# ---- the cost model --------------------------------------------------------------------------

TABLE = ck.cost_table(150, 12)


def test_closed_form_equals_the_dynamic_programme():
    for n in range(TABLE.shape[0]):
        for m in range(1, TABLE.shape[1]):
            assert ck.schedule_cost(n, m) == TABLE[n, m], (n, m)


def test_optimal_split_is_a_minimiser():
    for n in range(1, TABLE.shape[0]):
        for m in range(1, TABLE.shape[1]):
            y = ck.optimal_split(n, m)
            assert 1 <= y <= n
            assert y + TABLE[n - y, m - 1] + TABLE[y - 1, m] == TABLE[n, m], (n, m, y)


@fast
@given(st.integers(0, 5000), st.integers(1, 200))
def test_cost_at_the_extremes_and_monotone(T, m):
    assert ck.schedule_cost(T, max(m, T)) == T
    assert ck.schedule_cost(T, 1) == T * (T + 1) // 2
    assert ck.schedule_cost(T, m + 1) <= ck.schedule_cost(T, m)
    assert T <= ck.schedule_cost(T, m)


def test_cost_is_fast_for_long_sequences():
    assert ck.schedule_cost(10**5, 1) == 10**5 * (10**5 + 1) // 2
    assert ck.schedule_cost(10**5, 447) < 2 * 10**5
    assert ck.schedule_cost(10**6, 3) > 0


@fast
@given(st.integers(1, 300), st.data())
def test_optimal_is_no_worse_than_uniform_checkpoints(T, data):
    k = data.draw(st.integers(1, T + 2), label="k")
    uniform = ck.uniform_stats(T, k)
    assert ck.schedule_cost(T, max(uniform.most_states, 1)) <= uniform.forward_steps


def exhaustive_cost(T: int, m: int) -> int:
    """The fewest forward steps over ALL schedules with at most m held states (0-1 BFS).

    A node is (held states, next state the backward pass needs). Moves: compute h_{i+1} from a
    held h_i (or the free h_0) into a new slot, or in place of h_i; drop a held state; hand the
    needed state over if it is held. Only computing costs a step.
    """
    start = (frozenset(), T)
    best = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        held, need = node
        cost = best[node]
        if need == 0:
            return cost
        moves = [(held - {i}, need, 0) for i in held]
        if need in held:
            moves.append((held, need - 1, 0))
        for i in [0, *held]:
            if i + 1 <= T and i + 1 not in held:
                if len(held) < m:
                    moves.append((held | {i + 1}, need, 1))
                if i != 0:
                    moves.append(((held - {i}) | {i + 1}, need, 1))
        for new_held, new_need, step in moves:
            new = (frozenset(new_held), new_need)
            if cost + step < best.get(new, math.inf):
                best[new] = cost + step
                (queue.append if step else queue.appendleft)(new)
    raise AssertionError("no schedule found")


@pytest.mark.parametrize("T", range(1, 8))
def test_the_recursion_is_optimal_over_all_schedules(T):
    for m in range(1, T + 2):
        assert exhaustive_cost(T, m) == TABLE[T, m] == ck.schedule_cost(T, m), (T, m)


# ---- memory ----------------------------------------------------------------------------------

B_MEM, H_MEM = 32, 16
STATE_BYTES = B_MEM * H_MEM * 8


def peak(method, T, *extra) -> int:
    p = bptt.linear_problem(1, T=T, B=B_MEM, d=2, h=H_MEM, q=2, spectral_radius=0.9)
    return measure(method, p.X, p.Y, p.h0, p.params, *extra).peak_bytes


def test_checkpoints_every_sqrt_T_save_most_of_the_memory():
    T = 2000
    k = math.isqrt(T)
    full, checkpointed = peak(ck.full_bptt, T), peak(ck.checkpointed_bptt, T, k)
    assert full >= T * STATE_BYTES
    assert checkpointed < 0.15 * full, (checkpointed, full)


def test_memory_grows_like_sqrt_T_with_checkpoints_and_like_T_without():
    small, large = 500, 2000  # sqrt grows 2x, T grows 4x
    ratio_ck = (peak(ck.checkpointed_bptt, large, math.isqrt(large))
                / peak(ck.checkpointed_bptt, small, math.isqrt(small)))
    ratio_full = peak(ck.full_bptt, large) / peak(ck.full_bptt, small)
    assert 1.4 < ratio_ck < 2.8, ratio_ck
    assert 3.3 < ratio_full < 4.7, ratio_full


@pytest.mark.parametrize("T, m", [(600, 4), (600, 40), (300, 300)])
def test_held_states_match_the_memory_measured(T, m):
    p = bptt.linear_problem(2, T=T, B=B_MEM, d=2, h=H_MEM, q=2, spectral_radius=0.9)
    measured = measure(ck.scheduled_bptt, p.X, p.Y, p.h0, p.params, m)
    stats = measured.result[2]
    assert stats.most_states == min(m, T)
    # the states, plus a few states' worth of working arrays and the gradients
    slack = 6 * STATE_BYTES + 16 * 1024
    assert stats.most_states * STATE_BYTES <= measured.peak_bytes
    assert measured.peak_bytes <= stats.most_states * STATE_BYTES * 1.1 + slack


@pytest.mark.parametrize("T, k", [(600, 24), (600, 5), (100, 200)])
def test_uniform_model_matches_the_memory_measured(T, k):
    p = bptt.linear_problem(3, T=T, B=B_MEM, d=2, h=H_MEM, q=2, spectral_radius=0.9)
    measured = measure(ck.checkpointed_bptt, p.X, p.Y, p.h0, p.params, k).peak_bytes
    states = ck.uniform_stats(T, k).most_states
    assert states * STATE_BYTES <= measured <= states * STATE_BYTES * 1.1 + 6 * STATE_BYTES + 16384


@pytest.mark.parametrize("method, extra",
                         [(ck.checkpointed_bptt, (55,)), (ck.scheduled_bptt, (20,))])
def test_nothing_of_length_T_is_allocated(method, extra):
    """Wide inputs make any array over all T steps (a mask, a projection of X) stand out."""
    T, B, d, h = 3000, 16, 64, 8
    p = bptt.linear_problem(4, T=T, B=B, d=d, h=h, q=2, spectral_radius=0.9)
    peak_bytes = measure(method, p.X, p.Y, p.h0, p.params, *extra).peak_bytes
    states = (ck.uniform_stats(T, extra[0]).most_states if method is ck.checkpointed_bptt
              else extra[0])
    assert peak_bytes < (states + 16) * B * h * 8 * 1.2 + 64 * 1024, peak_bytes
    assert peak_bytes < p.X.nbytes / 50
