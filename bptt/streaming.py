"""Training on a stream in chunks, with the state carried or reset (chapter 3).

A long stream is cut into chunks of ``tau`` steps, the way recurrent language
models are trained (Zaremba et al., 2014, for example, use chunks of 35 steps
and carry the state across them). After each chunk the parameters take one
Adam step. With ``carry`` the next chunk starts from the last state, detached,
so the forward pass sees the whole past and the backward pass only the chunk;
without it every chunk starts from zeros, as independent windows do.
The model is the tanh RNN with an affine output and squared loss.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from bptt.progress import progress
from bptt.tasks import lagged_adding_stream


class StreamRun(NamedTuple):
    """Training losses per chunk and the held-out loss at each position of a chunk."""

    train_loss: np.ndarray  # (chunks,)
    position_loss: np.ndarray  # (tau,) mean 1/2 (o_t - y_t)^2 at positions 1..tau of a chunk


def _init(seed: int, d: int, h: int, q: int) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    arrays = {"W_hx": rng.standard_normal((h, d)) / np.sqrt(d),
              "W_hh": 0.9 * np.linalg.qr(rng.standard_normal((h, h)))[0],
              "b_h": np.zeros(h), "W_qh": rng.standard_normal((q, h)) / np.sqrt(h), "b_q": np.zeros(q)}
    return {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}


def _run_chunk(P: dict, X: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs (tau, B, q) and the last state (B, h) of one chunk X (tau, B, d) from h (B, h)."""
    outputs = []
    for x in X:
        h = torch.tanh(x @ P["W_hx"].T + h @ P["W_hh"].T + P["b_h"])
        outputs.append(h @ P["W_qh"].T + P["b_q"])
    return torch.stack(outputs), h


def _chunks(seed: int, count: int, tau: int, batch: int, lag: int):
    X, Y = lagged_adding_stream(seed, count * tau, batch, lag)
    return [(torch.tensor(X[i:i + tau]), torch.tensor(Y[i:i + tau]))
            for i in range(0, count * tau, tau)]


def train_stream(lag: int, tau: int, carry: bool, seed: int = 0, hidden: int = 16,
                 batch: int = 16, chunks: int = 400, lr: float = 0.01,
                 label: str = "") -> StreamRun:
    """Train on ``lagged_adding_stream`` in chunks of ``tau``; evaluate on a fresh stream.

    The held-out stream is cut and carried (or reset) the same way as in training.
    """
    torch.manual_seed(seed)
    P = _init(seed, 1, hidden, 1)
    optimizer = torch.optim.Adam(P.values(), lr=lr)
    h, losses = torch.zeros(batch, hidden, dtype=torch.float64), []
    data = _chunks(seed, chunks, tau, batch, lag)
    for X, Y in (progress(data, chunks, label) if label else data):
        start = h.detach() if carry else torch.zeros_like(h)
        O, h = _run_chunk(P, X, start)
        loss = 0.5 * ((O - Y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        h, per_position = torch.zeros(batch, hidden, dtype=torch.float64), []
        for X, Y in _chunks(seed + 1, 50, tau, batch, lag):
            O, h = _run_chunk(P, X, h if carry else torch.zeros_like(h))
            per_position.append((0.5 * (O - Y) ** 2).mean(dim=(1, 2)).numpy())
    return StreamRun(np.array(losses), np.mean(per_position, axis=0))
