"""Gradients of the course's RNNs by torch.autograd, for cross-checks (chapters 3 and 4).

These functions rebuild the forward passes of ``bptt.rnn`` in torch (float64)
and let autograd differentiate them; they are the independent reference that
hand-written backward passes are compared with. Same loss convention as
``bptt.rnn``: the mean over time steps and over the batch.

Chapter 3 cuts and rescales the backward pass with the multipliers of
``bptt.truncation``: where xi_t = 0 the state entering step t is detached,
and where xi_t is neither 0 nor 1 a gradient hook rescales what flows back
through it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from bptt.rnn import LINEAR_PARAMS, TANH_PARAMS, check_rnn_inputs


def _leaves(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in arrays.items()}


def _numpy_grads(leaves: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.grad.numpy().copy() for k, v in leaves.items()}


def linear_rnn_autograd(X, h0, params: dict, Y) -> tuple[float, dict[str, np.ndarray]]:
    """Loss and gradients of the linear RNN (9.7.9) with the squared loss.

    Parameters
    ----------
    X : (T, B, d); h0 : (B, h); params : W_hx, W_hh, W_qh; Y : (T, B, q) targets.

    Returns
    -------
    L : float, ``1/(T B) sum 1/2 |o_t - y_t|^2``.
    grads : dict with ``W_hx``, ``W_hh``, ``W_qh``, ``X``, ``h0`` and ``H``
    (T, B, h), the total derivatives dL/dh_t.
    """
    X, h0, P = check_rnn_inputs(X, h0, params, LINEAR_PARAMS)
    leaves = _leaves({**P, "X": X, "h0": h0})
    h, states = leaves["h0"], []
    for x in leaves["X"]:
        h = x @ leaves["W_hx"].T + h @ leaves["W_hh"].T
        h.retain_grad()
        states.append(h)
    O = torch.stack(states) @ leaves["W_qh"].T
    T, B = X.shape[:2]
    loss = 0.5 * ((O - torch.tensor(np.asarray(Y, dtype=np.float64))) ** 2).sum() / (T * B)
    loss.backward()
    grads = _numpy_grads(leaves)
    grads["H"] = np.stack([s.grad.numpy() for s in states])
    return loss.item(), grads


def tanh_rnn_autograd(X, h0, params: dict, targets) -> tuple[float, dict[str, np.ndarray]]:
    """Loss and gradients of the tanh RNN with softmax cross-entropy.

    Parameters
    ----------
    X : (T, B, d); h0 : (B, h); params : W_hx, W_hh, b_h, W_qh, b_q;
    targets : (T, B) integer classes.

    Returns
    -------
    L : float, the mean cross-entropy over time and batch.
    grads : dict with every parameter, ``X``, ``h0``, ``H`` (T, B, h), the
    total derivatives dL/dh_t, and ``O`` (T, B, q), the derivatives dL/do_t
    of the loss with respect to the logits (partial and total are the same there).
    """
    X, h0, P = check_rnn_inputs(X, h0, params, TANH_PARAMS)
    leaves = _leaves({**P, "X": X, "h0": h0})
    h, states = leaves["h0"], []
    for x in leaves["X"]:
        h = torch.tanh(x @ leaves["W_hx"].T + h @ leaves["W_hh"].T + leaves["b_h"])
        h.retain_grad()
        states.append(h)
    O = torch.stack(states) @ leaves["W_qh"].T + leaves["b_q"]
    O.retain_grad()
    q = O.shape[-1]
    loss = torch.nn.functional.cross_entropy(
        O.reshape(-1, q), torch.tensor(np.asarray(targets, dtype=np.int64)).reshape(-1))
    loss.backward()
    grads = _numpy_grads(leaves)
    grads["H"] = np.stack([s.grad.numpy() for s in states])
    grads["O"] = O.grad.numpy().copy()
    return loss.item(), grads


def _tanh_regression_graph(X, h0, params: dict, Y, link: Callable):
    """Loss and states of the tanh RNN with squared loss; ``link(t, h)`` is what enters step t."""
    X, h0, P = check_rnn_inputs(X, h0, params, TANH_PARAMS)
    leaves = _leaves(P)
    h, states = torch.tensor(h0), []
    for t, x in enumerate(torch.tensor(X)):
        h = torch.tanh(x @ leaves["W_hx"].T + link(t, h) @ leaves["W_hh"].T + leaves["b_h"])
        states.append(h)
    O = torch.stack(states) @ leaves["W_qh"].T + leaves["b_q"]
    T, B = X.shape[:2]
    loss = 0.5 * ((O - torch.tensor(np.asarray(Y, dtype=np.float64))) ** 2).sum() / (T * B)
    return loss, leaves, states


def _rescaled(h: torch.Tensor, factor: Callable[[], float]) -> torch.Tensor:
    """``h`` itself, whose gradient is multiplied by ``factor()`` on the way back."""
    if not h.requires_grad:  # the initial state: nothing flows back through it
        return h
    h = h.view_as(h)
    h.register_hook(lambda grad: grad * factor())
    return h


def tanh_regression_autograd(X, h0, params: dict, Y, xi=None
                             ) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Loss, truncated gradients and final state of the tanh RNN with squared loss (chapter 3).

    Parameters
    ----------
    X : (T, B, d); h0 : (B, h); params : W_hx, W_hh, b_h, W_qh, b_q; Y : (T, B, q);
    xi : (T,) multipliers of ``bptt.truncation``, or None for the full gradient.

    Returns
    -------
    L : float, ``1/(T B) sum 1/2 |o_t - y_t|^2`` with ``o_t = W_qh h_t + b_q``.
    grads : the five parameters' gradients, with the backward pass cut where
    xi_t = 0 (``detach``) and rescaled by xi_t elsewhere (a hook).
    h_T : (B, h), the final state, which a stream carries into its next chunk.
    """
    xi = np.ones(len(X)) if xi is None else np.asarray(xi, dtype=np.float64)

    def link(t, h):
        if xi[t] == 0:
            return h.detach()
        return h if xi[t] == 1 else _rescaled(h, lambda: float(xi[t]))

    loss, leaves, states = _tanh_regression_graph(X, h0, params, Y, link)
    loss.backward()
    return loss.item(), _numpy_grads(leaves), states[-1].detach().numpy().copy()


class TruncationSampler:
    """One forward pass of the tanh RNN with squared loss, then a backward pass per xi (chapter 3).

    Monte Carlo estimates need thousands of draws of xi on one sequence;
    building the graph once and rescaling through hooks makes each draw a
    single backward pass. ``sampler(xi)`` returns the five gradients.
    """

    def __init__(self, X, h0, params: dict, Y):
        self._xi = np.ones(len(X))
        self.loss, self._leaves, _ = _tanh_regression_graph(
            X, h0, params, Y, lambda t, h: _rescaled(h, lambda: float(self._xi[t])))

    def __call__(self, xi) -> dict[str, np.ndarray]:
        self._xi = np.asarray(xi, dtype=np.float64)
        for leaf in self._leaves.values():
            leaf.grad = None
        self.loss.backward(retain_graph=True)
        return _numpy_grads(self._leaves)
