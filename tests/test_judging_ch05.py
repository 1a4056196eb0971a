"""The checks of chapter 5, judged in process: honest work passes, near misses do not."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from autograder.reference import ch05_vanishing_exploding as ch05


@pytest.fixture
def verdict(judged):
    return partial(judged, ch05.CHECKS)


OWN = {"clip_norm": ch05.clip_by_norm, "clip_elementwise": ch05.clip_elementwise,
       "norms": ch05.jacobian_norms, "lstm": ch05.lstm_step_backward}


@pytest.mark.parametrize("check_id", sorted(ch05.CHECKS))
def test_own_work_passes(verdict, check_id):
    assert verdict(check_id, OWN[check_id[5:].rsplit("_", 1)[0]]) is None


def test_clipping_each_array_on_its_own_fails(verdict):
    def per_array(grads, theta):
        return {k: ch05.clip_by_norm({k: g}, theta)[k] for k, g in grads.items()}

    assert "is off" in verdict("test_clip_norm_visible", per_array)


def test_tanh_slope_for_every_activation_fails(verdict):
    assert "is off" in verdict("test_norms_hidden",
                               lambda X, h0, W_hx, W_hh, b_h, activation:
                               ch05.jacobian_norms(X, h0, W_hx, W_hh, b_h, "tanh"))


def test_ignoring_what_reaches_the_cell_from_later_steps_fails(verdict):
    assert "is off" in verdict("test_lstm_hidden", lambda dh, dc, cache:
                               ch05.lstm_step_backward(dh, np.zeros_like(dc), cache))


def test_bound_holds_for_every_activation():
    for case in ch05._norm_cases(False):
        X, h0, W_hx, W_hh, b_h, activation = case.value
        beta_f = 0.25 if activation == "sigmoid" else 1.0
        gaps = len(X) - np.arange(len(X) + 1)
        bound = (np.linalg.norm(W_hh, 2) * beta_f) ** gaps
        assert np.all(ch05.jacobian_norms(*case.value) <= bound * (1 + 1e-12)), case.label
