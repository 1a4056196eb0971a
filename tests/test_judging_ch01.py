"""The checks of chapter 1, judged in process: honest work passes, shortcuts do not."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import bptt
from autograder.reference import ch01_recurrent_networks_unrolled as ch01


@pytest.fixture
def verdict(judged):
    return partial(judged, ch01.CHECKS)


def own_heads(H, W_qh, b_q):
    return H[-1] @ W_qh.T + b_q, np.einsum("tbh,qh->tbq", H, W_qh) + b_q


OWN = {"step": ch01.rnn_step, "forward": ch01.rnn_forward, "heads": own_heads,
       "count": ch01.count_parameters}


@pytest.mark.parametrize("check_id", sorted(ch01.CHECKS))
def test_own_work_passes(verdict, check_id):
    assert verdict(check_id, OWN[check_id.split("_")[1]]) is None


def test_reference_matches_the_package_for_tanh():
    problem = bptt.tanh_problem(3, 4, 2, 3, 5, 2)
    P = problem.params
    W = np.hstack([P["W_hx"], P["W_hh"]])
    Z, cache = bptt.tanh_rnn_forward(problem.X, problem.h0, P)
    H = ch01.rnn_forward(problem.X, problem.h0, W, P["b_h"], np.tanh)
    assert bptt.rel_error(H, cache.H) <= 1e-14
    assert bptt.rel_error(own_heads(H, P["W_qh"], P["b_q"])[1], Z) <= 1e-14
    assert ch01.count_parameters(3, 5, 2, 1) == sum(p.size for p in P.values())


def test_the_package_cannot_stand_in(verdict):
    def via_package(X, h0, W, b, phi):
        d = X.shape[2]
        h = h0.shape[1]
        params = {"W_hx": W[:, :d], "W_hh": W[:, d:], "b_h": b, "W_qh": np.zeros((1, h)),
                  "b_q": np.zeros(1)}
        return bptt.tanh_rnn_forward(X, h0, params)[1].H

    assert "phi=relu: H is off" in verdict("test_forward_visible", via_package)


def test_a_count_that_grows_with_T_or_misses_biases_fails(verdict):
    assert "wrong" in verdict("test_count_hidden", lambda d, h, q, n: h * (d + h) + q * h)
    one_layer = lambda d, h, q, n: sum(  # noqa: E731  (the package's single layer, summed)
        p.size for p in bptt.tanh_problem(0, 1, 1, d, h, q).params.values())
    assert "layers=2" in verdict("test_count_hidden", one_layer)


def test_swapped_heads_are_explained(verdict):
    message = verdict("test_heads_visible", lambda H, W_qh, b_q: own_heads(H, W_qh, b_q)[::-1])
    assert "many-to-one output: expected shape" in message
