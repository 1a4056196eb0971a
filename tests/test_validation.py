"""Bad input raises a clear ValueError, never a silent wrong answer."""

from __future__ import annotations

import numpy as np
import pytest

import bptt


@pytest.fixture
def linear():
    return bptt.linear_problem(seed=0, T=3, B=2, d=3, h=4, q=2)


@pytest.fixture
def tanh():
    return bptt.tanh_problem(seed=0, T=3, B=2, d=3, h=4, q=2)


def test_mismatched_input_width(linear):
    with pytest.raises(ValueError, match="W_hx must have shape"):
        bptt.linear_rnn_forward(linear.X[..., :2], linear.h0, linear.params)


def test_mismatched_initial_state(linear):
    with pytest.raises(ValueError, match="h0 must have shape"):
        bptt.linear_rnn_forward(linear.X, linear.h0[:1], linear.params)


def test_non_square_recurrent_weight(linear):
    params = {**linear.params, "W_hh": np.zeros((4, 3))}
    with pytest.raises(ValueError, match="W_hh must have shape"):
        bptt.linear_rnn_forward(linear.X, linear.h0, params)


def test_empty_sequence(linear):
    with pytest.raises(ValueError, match="must not be empty"):
        bptt.linear_rnn_forward(linear.X[:0], linear.h0, linear.params)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values(linear, bad):
    X = linear.X.copy()
    X[1, 0, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        bptt.linear_rnn_forward(X, linear.h0, linear.params)


def test_wrong_parameter_names(linear, tanh):
    with pytest.raises(ValueError, match="keys"):
        bptt.linear_rnn_forward(linear.X, linear.h0, tanh.params)
    with pytest.raises(ValueError, match="keys"):
        bptt.tanh_rnn_forward(tanh.X, tanh.h0, linear.params)


def test_wrong_number_of_dimensions(linear):
    with pytest.raises(ValueError, match="3 dimensions"):
        bptt.linear_rnn_forward(linear.X[:, 0], linear.h0, linear.params)


def test_output_gradient_of_wrong_shape(linear):
    O, cache = bptt.linear_rnn_forward(linear.X, linear.h0, linear.params)
    with pytest.raises(ValueError, match="dO must have shape"):
        bptt.linear_rnn_backward(O[:-1], cache)


def test_squared_loss_shapes(linear):
    with pytest.raises(ValueError, match="Y must have shape"):
        bptt.squared_loss(linear.Y, linear.Y[:, :1])


def test_bad_targets(tanh):
    Z, _ = bptt.tanh_rnn_forward(tanh.X, tanh.h0, tanh.params)
    with pytest.raises(ValueError, match=r"lie in \[0, 2\)"):
        bptt.softmax_cross_entropy(Z, tanh.targets + 5)
    with pytest.raises(ValueError, match="integer class indices"):
        bptt.softmax_cross_entropy(Z, tanh.targets.astype(float))
    with pytest.raises(ValueError, match="targets must have shape"):
        bptt.softmax_cross_entropy(Z, tanh.targets[:1])


@pytest.mark.parametrize("size", [0, -1, 2.5])
def test_bad_problem_sizes(size):
    with pytest.raises(ValueError, match="positive integer"):
        bptt.tanh_problem(0, T=size, B=1, d=1, h=1, q=2)


def test_bad_spectral_radius():
    with pytest.raises(ValueError, match="positive"):
        bptt.linear_problem(0, 2, 1, 2, 3, 2, spectral_radius=0.0)
    with pytest.raises(ValueError, match="nilpotent"):
        bptt.with_spectral_radius(np.zeros((3, 3)), 1.0)
