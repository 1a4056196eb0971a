"""Online learning on the influence-balancing system (chapter 3).

The parameter theta is scalar, so the total derivative z_t = ds_t/dtheta is an
n-vector and the forward recursion (9.7.4) costs as little as the state:
z_t = u + xi_t A z_{t-1}. The multipliers ``xi`` of ``bptt.truncation`` turn it
into the full computation, regular truncation or randomized truncation, and
theta is updated online at every step with the gradient estimate
(s_t[0] - 1) z_t[0] of the step's loss.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bptt.progress import progress
from bptt.tasks import InfluenceBalancing


class InfluenceRun(NamedTuple):
    """The course of one online run: theta and the step's loss after every update."""

    theta: np.ndarray  # (steps,)
    loss: np.ndarray  # (steps,)


def steady_state_derivative(system: InfluenceBalancing) -> float:
    """d s[0]/d theta at the fixed point s = (I - A)^{-1} theta u: the true long-run influence."""
    n = len(system.u)
    return float(np.linalg.solve(np.eye(n) - system.A, system.u)[0])


def window_derivatives(system: InfluenceBalancing, horizon: int) -> np.ndarray:
    """(horizon,) partial sums sum_{k < K} (A^k u)[0] for K = 1..horizon.

    Entry K - 1 is what a gradient that looks K steps back believes d s[0]/d theta to be.
    """
    terms, v = [], system.u.copy()
    for _ in range(horizon):
        terms.append(v[0])
        v = system.A @ v
    return np.cumsum(terms)


def train_online(system: InfluenceBalancing, xi: np.ndarray, lr: float, theta0: float,
                 label: str = "", limit: float = 1e6) -> InfluenceRun:
    """Online gradient descent on theta with the multipliers ``xi`` (steps,).

    The state starts at ones and is never reset. A run whose theta leaves
    [-limit, limit] has diverged; the rest of its record is NaN.
    """
    steps = len(xi)
    s, z, theta = np.ones(len(system.u)), np.zeros(len(system.u)), float(theta0)
    thetas, losses = np.full(steps, np.nan), np.full(steps, np.nan)
    items = progress(range(steps), steps, label) if label else range(steps)
    for t in items:
        s = system.A @ s + theta * system.u
        z = system.u + xi[t] * (system.A @ z)
        error = s[0] - 1.0
        losses[t] = 0.5 * error ** 2
        theta -= lr * error * z[0]
        thetas[t] = theta
        if not abs(theta) <= limit:
            break
    return InfluenceRun(thetas, losses)
