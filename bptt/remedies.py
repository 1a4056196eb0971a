"""Training recurrent models on the adding problem, with and without remedies (chapter 5).

Five models read the T pairs (value, marker) of ``bptt.tasks.adding_problem``
and predict the sum of the two marked values from their last state:

- ``tanh``: the plain tanh RNN;
- ``tanh, clipped``: the same, with gradient clipping by norm at gamma = ``CLIP``;
- ``IRNN``: ReLU units with W_hh = I and zero bias (Le et al., 2015), clipped;
- ``GRU`` and ``LSTM``: the gated cells; the LSTM's forget gate starts open
  (bias b_f = 1, as Jozefowicz et al., 2015, recommend), so that the cell
  keeps its content at first.

Training minimises the course's many-to-one loss L = 1/2 (o_T - y)^2,
averaged over the batch. The held-out error is the mean squared error, the
mean of (o_T - y)^2 over held-out sequences (twice their mean L), which reads
as a variance: predicting the mean sum (1) without looking scores 1/6, and a
model has *solved* a length when its held-out error is below a tenth of that.
Everything is seeded and runs in float32 on the CPU (the book sets one thread).

All models are trained with Adam, whose step hardly changes when every gradient
is multiplied by the same factor; clipping by norm therefore does much less
here than it would under plain gradient descent.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from bptt.progress import progress
from bptt.tasks import adding_problem

MODELS = ("tanh", "tanh, clipped", "IRNN", "GRU", "LSTM")
CLIPPED = ("tanh, clipped", "IRNN")
BASELINE = 1.0 / 6.0  # the error of always predicting 1, the mean of the target
SOLVED = 0.1 * BASELINE
CLIP = 0.5  # gamma, for the gradient of L = 1/2 (o_T - y)^2


class Run(NamedTuple):
    """The training losses L of one model and its held-out mean squared error."""

    train_loss: np.ndarray  # (steps,) L = 1/2 (o_T - y)^2, the mean over each batch
    test_error: float


class Regressor(torch.nn.Module):
    """A recurrent layer and a linear read-out of its last state."""

    def __init__(self, kind: str, hidden: int):
        super().__init__()
        if kind in ("tanh", "tanh, clipped", "IRNN"):
            self.rnn = torch.nn.RNN(2, hidden, nonlinearity="relu" if kind == "IRNN" else "tanh")
        else:
            self.rnn = getattr(torch.nn, kind)(2, hidden)
        if kind == "IRNN":
            with torch.no_grad():
                self.rnn.weight_hh_l0.copy_(torch.eye(hidden))
                self.rnn.weight_ih_l0.normal_(0.0, 0.001)
                self.rnn.bias_hh_l0.zero_()
                self.rnn.bias_ih_l0.zero_()
        if kind == "LSTM":
            with torch.no_grad():
                self.rnn.bias_ih_l0[hidden:2 * hidden].fill_(1.0)
                self.rnn.bias_hh_l0[hidden:2 * hidden].zero_()
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """X (T, B, 2) -> outputs o_T (B, 1)."""
        states, _ = self.rnn(X)
        return self.head(states[-1])


def train_adding(kind: str, T: int, seed: int = 0, hidden: int = 32, batch: int = 64,
                 steps: int = 1500, lr: float = 3e-3, label: str = "") -> Run:
    """Train ``kind`` on the adding problem of length T; fresh sequences at every step."""
    if kind not in MODELS:
        raise ValueError(f"kind must be one of {MODELS}, got {kind!r}")
    torch.manual_seed(seed)
    model = Regressor(kind, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in (progress(range(steps), steps, label) if label else range(steps)):
        X, Y = (torch.tensor(a, dtype=torch.float32)
                for a in adding_problem(seed * 100_000 + step, T, batch))
        loss = 0.5 * torch.nn.functional.mse_loss(model(X), Y)
        optimizer.zero_grad()
        loss.backward()
        if kind in CLIPPED:
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        losses.append(loss.item())
    X, Y = (torch.tensor(a, dtype=torch.float32) for a in adding_problem(seed + 99_999, T, 1000))
    with torch.no_grad():
        error = torch.nn.functional.mse_loss(model(X), Y).item()
    return Run(np.array(losses), error)
