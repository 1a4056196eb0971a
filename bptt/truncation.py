"""Where the backward pass is cut, and by how much it is rescaled (chapter 3).

Every truncation strategy of chapter 3 is a sequence of multipliers
``xi`` (T,). Entry ``xi[t - 1]`` is xi_t, which multiplies the Jacobian
J_t = dh_t/dh_{t-1} (a partial derivative) in the recursion (9.7.8) for the
estimate a~_t of the total derivative a_t = dh_t/dw,

    a~_t = dh_t/dw (partial) + xi_t J_t a~_{t-1},

or, read backwards, the message J_t^T dL/dh_t that step t passes to
h_{t-1}. Entry 0 belongs to step 1; its multiplier meets the initial state
h_0, which is not a parameter, so every strategy here starts with a cut there.

- full computation: xi_t = 1 everywhere after step 1;
- regular truncation every tau steps: xi_t = 0 where a chunk starts, 1 inside;
- randomized truncation: xi_t = 1/p_t with probability p_t, otherwise 0,
  so that E[xi_t] = 1. The schedule gives p_t from the age of the current
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


def constant_schedule(p: float) -> Schedule:
    """Keep every link with probability ``p``: segment lengths are geometric, mean 1/(1 - p)."""
    _check_probability("p", p)
    return lambda age: p


def delayed_schedule(tau: int, p: float) -> Schedule:
    """Keep the first ``tau - 1`` links of a segment surely, later ones with probability ``p``.

    Segments are at least ``tau`` steps long; only longer paths are reweighted,
    which is what keeps the variance down (Tallec and Ollivier, 2017).
    """
    _check_probability("p", p)
    if int(tau) != tau or tau < 1:
        raise ValueError(f"tau must be a positive integer, got {tau!r}")
    return lambda age: 1.0 if age < tau else p


def randomized_multipliers(T: int, schedule: Schedule, rng: np.random.Generator) -> np.ndarray:
    """(T,) draws of xi_t in {0, 1/p_t} with Pr(xi_t = 1/p_t) = p_t, as in (9.7.8).

    ``p_t = schedule(age)``, where ``age`` >= 1 counts the steps of the current
    segment up to step t - 1. The draws use ``rng.random()`` once per step
    after the first, in order.
    """
    _check_length(T)
    xi, age = np.zeros(T), 1
    for t in range(1, T):
        p = schedule(age)
        _check_probability("the schedule's p", p)
        if rng.random() < p:
            xi[t], age = 1.0 / p, age + 1
        else:
            age = 1
    return xi


def segments(xi: np.ndarray) -> list[tuple[int, int]]:
    """The (start, stop) index ranges between cuts of multipliers ``xi`` (T,)."""
    cuts = [t for t, value in enumerate(np.asarray(xi)) if value == 0] + [len(xi)]
    if cuts[0] != 0:
        cuts.insert(0, 0)
    return [(start, stop) for start, stop in zip(cuts[:-1], cuts[1:])]
