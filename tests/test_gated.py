"""Chapter 5's package: gated cells against torch, the reference backward step, caching, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bptt import rel_error
from bptt.cache import cached
from bptt.gated import gru_step_forward, lstm_step_forward
from autograder.reference import ch05_vanishing_exploding as ch05
from bptt.remedies import BASELINE, train_adding

TOL = 1e-10


def inputs(seed: int, B: int, d: int, h: int):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, d)), rng.standard_normal((B, h)), rng.standard_normal((B, h))


def torch_weights(cell: torch.nn.Module) -> np.ndarray:
    return torch.cat([cell.weight_ih, cell.weight_hh], dim=1).detach().numpy()


@pytest.mark.parametrize("B, d, h", [(1, 1, 1), (3, 2, 4), (2, 5, 3)])
def test_cells_agree_with_torch(B, d, h):
    torch.manual_seed(B + d + h)
    x, h_prev, c_prev = inputs(B, B, d, h)
    lstm = torch.nn.LSTMCell(d, h).double()
    h_new, c_new, _ = lstm_step_forward(x, h_prev, c_prev, torch_weights(lstm),
                                        (lstm.bias_ih + lstm.bias_hh).detach().numpy())
    h_ref, c_ref = lstm(torch.tensor(x), (torch.tensor(h_prev), torch.tensor(c_prev)))
    assert rel_error(h_new, h_ref.detach().numpy()) <= TOL
    assert rel_error(c_new, c_ref.detach().numpy()) <= TOL
    gru = torch.nn.GRUCell(d, h).double()
    b_ih, b_hh = gru.bias_ih.detach().numpy(), gru.bias_hh.detach().numpy()
    b = np.concatenate([b_ih[:2 * h] + b_hh[:2 * h], b_ih[2 * h:], b_hh[2 * h:]])
    assert rel_error(gru_step_forward(x, h_prev, torch_weights(gru), b),
                     gru(torch.tensor(x), torch.tensor(h_prev)).detach().numpy()) <= TOL


def test_shapes_are_checked():
    x, h_prev, c_prev = inputs(0, 2, 3, 4)
    with pytest.raises(ValueError, match="W must have shape"):
        lstm_step_forward(x, h_prev, c_prev, np.zeros((12, 7)), np.zeros(16))


def test_reference_lstm_backward_agrees_with_autograd():
    x, h_prev, c_prev = inputs(1, 3, 2, 4)
    rng = np.random.default_rng(2)
    W, b = rng.standard_normal((16, 6)), rng.standard_normal(16)
    dh, dc = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    _, _, cache = lstm_step_forward(x, h_prev, c_prev, W, b)
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, h_prev, c_prev, W, b)]
    i, f, g, o = (torch.cat(leaves[:2], 1) @ leaves[3].T + leaves[4]).chunk(4, 1)
    c = torch.sigmoid(f) * leaves[2] + torch.sigmoid(i) * torch.tanh(g)
    ((torch.sigmoid(o) * torch.tanh(c) * torch.tensor(dh)).sum()
     + (c * torch.tensor(dc)).sum()).backward()
    for ours, leaf in zip(ch05.lstm_step_backward(dh, dc, cache), leaves):
        assert rel_error(ours, leaf.grad.numpy()) <= TOL


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_reference_jacobian_norms_agree_with_autograd(activation):
    rng = np.random.default_rng(3)
    X, h0 = rng.standard_normal((6, 2)), rng.standard_normal(3)
    W_hx, W_hh, b_h = rng.standard_normal((3, 2)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    phi = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[activation]

    def run(state, start, stop):
        for x in torch.tensor(X[start:stop]):
            state = phi(torch.tensor(W_hx) @ x + torch.tensor(W_hh) @ state + torch.tensor(b_h))
        return state

    expected = [np.linalg.norm(torch.func.jacrev(lambda s: run(s, k, 6))(
        run(torch.tensor(h0), 0, k)).numpy(), 2) for k in range(7)]
    assert rel_error(ch05.jacobian_norms(X, h0, W_hx, W_hh, b_h, activation), expected) <= TOL


def test_results_are_cached_until_something_changes(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"value": len(calls)}

    first = cached("demo", {"T": 10}, [np], compute, folder=tmp_path)
    assert cached("demo", {"T": 10}, [np], compute, folder=tmp_path) == first == {"value": 1}
    assert cached("demo", {"T": 20}, [np], compute, folder=tmp_path) == {"value": 2}


def test_adding_problem_training_is_repeatable_and_learns():
    first = train_adding("GRU", 10, steps=300)
    assert np.array_equal(first.train_loss, train_adding("GRU", 10, steps=300).train_loss)
    assert first.test_error < 0.5 * BASELINE
