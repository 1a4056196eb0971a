"""Online learning on the influence-balancing system (chapter 3).

The weight w is scalar, so the total derivative a_t = dh_t/dw is an
h-vector and the forward recursion (9.7.4) costs as little as the state:
a~_t = x + xi_t W_hh a~_{t-1}. The multipliers ``xi`` of ``bptt.truncation``
make a~_t the full computation, regular truncation or randomized truncation,
and w is updated online at every step with the gradient estimate
(h_{t,1} - 1) a~_{t,1} of the step's loss.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bptt.progress import progress
from bptt.tasks import InfluenceBalancing


class InfluenceRun(NamedTuple):
    """The course of one online run: w and the step's loss after every update."""

    w: np.ndarray  # (steps,)
    loss: np.ndarray  # (steps,)


def steady_state_derivative(system: InfluenceBalancing) -> float:
    """dh_1/dw at the fixed point h = (I - W_hh)^{-1} w x: the true long-run influence."""
    h = len(system.x)
    return float(np.linalg.solve(np.eye(h) - system.W_hh, system.x)[0])


def window_derivatives(system: InfluenceBalancing, horizon: int) -> np.ndarray:
    """(horizon,) partial sums sum_{k < K} (W_hh^k x)_1 for K = 1..horizon.

    Entry K - 1 is what a gradient that looks K steps back believes dh_{t,1}/dw to be.
    """
    terms, v = [], system.x.copy()
    for _ in range(horizon):
        terms.append(v[0])
        v = system.W_hh @ v
    return np.cumsum(terms)


def train_online(system: InfluenceBalancing, xi: np.ndarray, lr: float, w0: float,
                 label: str = "", limit: float = 1e6) -> InfluenceRun:
    """Online gradient descent on w with the multipliers ``xi`` (steps,).

    The state starts at ones and is never reset. A run whose w leaves
    [-limit, limit] has diverged; the rest of its record is NaN.
    """
    steps = len(xi)
    h, a, w = np.ones(len(system.x)), np.zeros(len(system.x)), float(w0)
    ws, losses = np.full(steps, np.nan), np.full(steps, np.nan)
    items = progress(range(steps), steps, label) if label else range(steps)
    for t in items:
        h = system.W_hh @ h + w * system.x
        a = system.x + xi[t] * (system.W_hh @ a)
        error = h[0] - 1.0
        losses[t] = 0.5 * error ** 2
        w -= lr * error * a[0]
        ws[t] = w
        if not abs(w) <= limit:
            break
    return InfluenceRun(ws, losses)
