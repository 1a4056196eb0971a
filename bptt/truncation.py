"""Where the backward pass is cut, and by how much it is rescaled (chapter 3).

Every truncation strategy of chapter 3 is a sequence of multipliers
``xi`` (T,): ``xi[t]`` multiplies the Jacobian dh_t/dh_{t-1} in the
recursion (9.7.8) for the total derivative dh_t/dw,

    z_t = df(x_t, h_{t-1}, w)/dw + xi[t] * dh_t/dh_{t-1} z_{t-1},

or, read backwards, the message that step t passes to h_{t-1}. Index 0 is
step 1; its multiplier meets the initial state h_0, which is not a
parameter, so every strategy here starts with a cut there.

- full computation: xi = 1 everywhere after step 1;
- regular truncation every tau steps: xi = 0 where a chunk starts, 1 inside;
- randomized truncation: xi_t = 1/pi_t with probability pi_t, otherwise 0,
  so that E[xi_t] = 1. The schedule gives pi_t from the age of the current
  segment (the number of steps since the last cut).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Schedule = Callable[[int], float]


def _check_length(T: int) -> None:
    if int(T) != T or T < 1:
        raise ValueError(f"T must be a positive integer, got {T!r}")


def _check_probability(name: str, value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{name} must lie in (0, 1], got {value!r}")


def full_multipliers(T: int) -> np.ndarray:
    """(T,) multipliers of the full computation: a cut before step 1, none after."""
    _check_length(T)
    xi = np.ones(T)
    xi[0] = 0.0
    return xi


def regular_multipliers(T: int, tau: int) -> np.ndarray:
    """(T,) multipliers of regular truncation: a cut before steps 1, tau + 1, 2 tau + 1, ..."""
    _check_length(T)
    if int(tau) != tau or tau < 1:
        raise ValueError(f"tau must be a positive integer, got {tau!r}")
    xi = np.ones(T)
    xi[::tau] = 0.0
    return xi


def constant_schedule(pi: float) -> Schedule:
    """Keep every link with probability ``pi``: segment lengths are geometric, mean 1/(1 - pi)."""
    _check_probability("pi", pi)
    return lambda age: pi


def delayed_schedule(tau: int, pi: float) -> Schedule:
    """Keep the first ``tau - 1`` links of a segment surely, later ones with probability ``pi``.

    Segments are at least ``tau`` steps long; only longer paths are reweighted,
    which is what keeps the variance down (Tallec and Ollivier, 2017).
    """
    _check_probability("pi", pi)
    if int(tau) != tau or tau < 1:
        raise ValueError(f"tau must be a positive integer, got {tau!r}")
    return lambda age: 1.0 if age < tau else pi


def randomized_multipliers(T: int, schedule: Schedule, rng: np.random.Generator) -> np.ndarray:
    """(T,) draws of xi_t in {0, 1/pi_t} with P(xi_t = 1/pi_t) = pi_t, as in (9.7.8).

    ``pi_t = schedule(age)``, where ``age`` >= 1 counts the steps of the current
    segment up to step t - 1. The draws use ``rng.random()`` once per step
    after the first, in order.
    """
    _check_length(T)
    xi, age = np.zeros(T), 1
    for t in range(1, T):
        pi = schedule(age)
        _check_probability("the schedule's pi", pi)
        if rng.random() < pi:
            xi[t], age = 1.0 / pi, age + 1
        else:
            age = 1
    return xi


def segments(xi: np.ndarray) -> list[tuple[int, int]]:
    """The (start, stop) index ranges between cuts of multipliers ``xi`` (T,)."""
    cuts = [t for t, value in enumerate(np.asarray(xi)) if value == 0] + [len(xi)]
    if cuts[0] != 0:
        cuts.insert(0, 0)
    return [(start, stop) for start, stop in zip(cuts[:-1], cuts[1:])]
