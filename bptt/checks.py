"""Assertions for the exercise notebooks' visible checks (every chapter).

A failed check says which quantity is off, and how: a wrong type or shape, or
the relative error against the expected value with the worst entry. A dict of
gradients is checked whole: every wrong gradient is named, and when they are
all off by one factor (a missing 1/T, a sign), the factor is given. The grader
words its verdicts with the same functions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bptt.gradcheck import rel_error


def mismatch(name: str, actual, expected, tol: float) -> str | None:
    """None if ``actual`` matches ``expected`` (same shape) to ``rel_error <= tol``, else why not."""
    expected = np.asarray(expected, dtype=np.float64)
    if actual is None:
        return f"{name}: got None; did the function return its result?"
    try:
        actual = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError) as error:
        return (f"{name}: expected an array of shape {expected.shape}, "
                f"got {type(actual).__name__} ({str(error)[:200]})")
    if actual.shape != expected.shape:
        return f"{name}: expected shape {expected.shape}, got {actual.shape}"
    if not np.all(np.isfinite(actual)):
        return f"{name}: contains NaN or infinite values"
    error = rel_error(actual, expected)
    if error <= tol:
        return None
    worst = np.unravel_index(np.argmax(np.abs(actual - expected)), expected.shape)
    return (f"{name} is off: rel_error {error:.2e} exceeds {tol:.0e}; worst entry at index "
            f"{tuple(int(i) for i in worst)}: got {actual[worst]:.6g}, expected {expected[worst]:.6g}")


def assert_close(name: str, actual, expected, tol: float) -> None:
    """Raise an AssertionError saying what is off unless ``actual`` matches ``expected``."""
    message = mismatch(name, actual, expected, tol)
    if message:
        raise AssertionError(message)


def shared_factor(pairs: list[tuple[np.ndarray, np.ndarray]], tol: float) -> float | None:
    """The factor c with actual = c * expected for every (actual, expected) pair, if there is one.

    Each pair's least-squares factor must agree with the others to 1e-6 and explain
    its pair to ``rel_error <= tol``; otherwise None.
    """
    factors = []
    for actual, expected in pairs:
        scale = float(np.sum(expected * expected))
        if scale == 0.0:
            return None
        c = float(np.sum(actual * expected)) / scale
        if c == 0.0 or rel_error(actual, c * expected) > tol:
            return None
        factors.append(c)
    if not factors or max(factors) - min(factors) > 1e-6 * max(abs(f) for f in factors):
        return None
    return factors[0]


def gradients_mismatch(actual, expected: dict, tol: float, prefix: str = "dL/d") -> str | None:
    """None if every gradient in ``expected`` matches ``actual[key]``; else every one that does not."""
    if not isinstance(actual, dict):
        return (f"expected a dict of gradients with the keys {list(expected)}, "
                f"got {type(actual).__name__}")
    missing = [key for key in expected if key not in actual]
    if missing:
        return f"the result lacks the keys {missing}"
    messages = {key: mismatch(prefix + key, actual[key], value, tol) for key, value in expected.items()}
    wrong = [key for key, message in messages.items() if message]
    if not wrong:
        return None
    text = "; ".join(messages[key] for key in wrong)
    if len(wrong) > 1 and all(" is off: " in messages[key] for key in wrong):
        factor = shared_factor([(np.asarray(actual[k], dtype=np.float64),
                                 np.asarray(expected[k], dtype=np.float64)) for k in wrong], tol)
        if factor is not None:
            text += (f". All {len(wrong)} wrong gradients are {factor:.6g} times the expected ones: "
                     "look for one factor common to them (a 1/T or 1/B, a sign, a scale)")
    return text


def assert_gradients_close(actual: dict, expected: dict, tol: float, prefix: str = "dL/d") -> None:
    """Assert every gradient in ``expected``; the message names all that are off, not the first."""
    message = gradients_mismatch(actual, expected, tol, prefix)
    if message:
        raise AssertionError(message)


DATA = Path(__file__).resolve().parent / "data"


def expected(assignment: str, name: str):
    """The expected value of a visible check, as the instructor's reference computed it.

    The values are stored in ``bptt/data/<assignment>.npz`` by ``make release``, so a
    visible check needs neither torch nor the reference answers. ``name`` is one array,
    or the prefix of a group stored as ``name/key``, returned as a dict by key.
    """
    with np.load(DATA / f"{assignment}.npz", allow_pickle=False) as stored:
        if name in stored.files:
            return stored[name]
        group = {key.split("/", 1)[1]: stored[key] for key in stored.files
                 if key.startswith(name + "/")}
    if not group:
        raise KeyError(f"no expected value {name!r} for {assignment}")
    return group


# --- Chapter 7: memory under a budget, and estimates judged by their spread ----------------------

# What a checkpointed backward pass may use besides its stored states (chapter 7, part 1): the
# working arrays of the current step, the gradients it returns and their temporaries, and what
# Python itself allocates. Honest implementations (uniform segments, the fewest or the longest the
# budget allows, in lists or preallocated arrays; recursive halving) stay 7 states or more below
# the allowance on the graded cases; every state stored, the input projections of all steps at
# once, or z_t and h_t both in segments of sqrt(T) at a budget of about 2 sqrt(T) exceed it by 7
# states or more (tests/test_judging_ch07.py).
STATE_SLACK = 12  # states of shape (B, h)
PARAMETER_COPIES = 3  # times the bytes of all parameters
CONSTANT_BYTES = 32 * 1024
# The memory a call writes (bptt.memory.measure_apart) includes pages that Python's own
# bookkeeping copies after the fork; honest calls write about 1.5 MiB more than they allocate.
WRITTEN_SLACK = 16 * 2**20


def state_bytes(B: int, h: int) -> int:
    """Bytes of one state of shape (B, h) in float64."""
    return 8 * int(B) * int(h)


def parameter_bytes(params: dict) -> int:
    """Bytes of all parameters in float64."""
    return 8 * sum(int(np.size(value)) for value in params.values())


def allowance(budget: int, B: int, h: int, params: dict) -> int:
    """The most memory a checkpointed backward pass with ``budget`` stored states may use at once.

    (budget + STATE_SLACK) states of shape (B, h), plus PARAMETER_COPIES times the parameters,
    plus CONSTANT_BYTES, in bytes: the peak that ``bptt.memory.measure`` reports must not exceed it.
    """
    return ((int(budget) + STATE_SLACK) * state_bytes(B, h) + PARAMETER_COPIES * parameter_bytes(params)
            + CONSTANT_BYTES)


def memory_mismatch(peak_bytes, budget: int, B: int, h: int, params: dict,
                    written_bytes: float | None = None) -> str | None:
    """None if ``peak_bytes`` is within ``allowance`` (and ``written_bytes``, when given, within
    it plus WRITTEN_SLACK); else how many states' worth it was."""
    try:
        peak = float(peak_bytes)
    except (TypeError, ValueError):
        return f"the peak memory could not be read: {type(peak_bytes).__name__}"
    state, limit = state_bytes(B, h), allowance(budget, B, h, params)
    if written_bytes is not None and not (math.isfinite(written_bytes)
                                          and 0 <= written_bytes <= limit + WRITTEN_SLACK):
        return (f"the call wrote to {written_bytes / 2**20:.1f} MiB of memory, "
                f"{written_bytes / state:.0f} states' worth (a state (B, h) = ({B}, {h}) is "
                f"{state / 1024:g} KiB), though its budget is {budget} states: arrays made before the "
                "call and filled during it count too. Keep at most "
                f"{budget} states, and nothing whose size grows with T")
    if math.isfinite(peak) and 0 <= peak <= limit:
        return None
    return (f"the peak memory was {peak / 1024:.0f} KiB, {peak / state:.1f} states' worth (a state "
            f"(B, h) = ({B}, {h}) is {state / 1024:g} KiB); with a budget of {budget} states the "
            f"allowance is {limit / 1024:.0f} KiB: ({budget} + {STATE_SLACK}) states + "
            f"{PARAMETER_COPIES} x the parameters ({parameter_bytes(params) / 1024:.1f} KiB) + "
            f"{CONSTANT_BYTES // 1024} KiB. Keep at most {budget} states, and nothing whose size "
            "grows with T")


def _entry(name: str, shape: tuple, flat: int) -> str:
    index = np.unravel_index(flat, shape) if shape else ()
    return f"{name}[{', '.join(str(int(i)) for i in index)}]" if shape else name


def estimates_mismatch(samples: dict, exact: dict, bounds: dict, names: tuple[str, ...]) -> str | None:
    """None if the n sampled estimates in ``samples`` ({name: (n, ...) array}) of the gradients
    ``names`` could come from the instructor's estimator; else the first coordinate that could not.

    ``exact`` holds the exact gradients; ``bounds`` the flat arrays, over the coordinates of
    ``names`` in order, ``variance`` (the estimator's), ``tolerance`` (the largest distance of an
    honest mean from the exact gradient) and ``low``, ``high`` (the range of the mean squared
    deviation from the exact gradient that n honest samples give).
    """
    missing = [name for name in names if name not in samples]
    if missing:
        return f"the estimates lack the keys {missing}"
    columns = []
    for name in names:
        values = np.asarray(samples[name], dtype=np.float64)
        expected_shape = np.shape(exact[name])
        if values.ndim == 0 or values.shape[1:] != expected_shape:
            return f"dL/d{name}: expected estimates of shape {expected_shape}, got {values.shape[1:]}"
        if not np.all(np.isfinite(values)):
            return f"dL/d{name}: an estimate contains NaN or infinite values"
        columns.append(values.reshape(len(values), -1))
    values = np.concatenate(columns, axis=1)
    target = np.concatenate([np.ravel(exact[name]) for name in names])
    n = len(values)
    labels = [(name, np.shape(exact[name]), j) for name in names for j in range(np.size(exact[name]))]
    error = np.sqrt(bounds["variance"] / n)
    distance = np.abs(values.mean(axis=0) - target)
    spread = np.mean((values - target) ** 2, axis=0)
    j = int(np.argmax(distance - bounds["tolerance"]))
    if distance[j] > bounds["tolerance"][j]:
        return (f"dL/d{_entry(*labels[j])}: the mean of the {n} estimates is "
                f"{distance[j] / error[j]:.1f} standard errors from the exact gradient (at most "
                f"{bounds['tolerance'][j] / error[j]:.1f} for an unbiased estimate): is the estimate biased?")
    for j in range(len(target)):
        if spread[j] < bounds["low"][j]:
            equal = spread[j] <= 1e-20 * bounds["variance"][j]
            hint = " Do the calls draw new signs from rng?" if equal else ""
            return (f"dL/d{_entry(*labels[j])}: the estimates spread too little: their mean squared "
                    f"deviation from the exact gradient is {spread[j]:.4g}, but {n} estimates of this "
                    f"estimator give at least {bounds['low'][j]:.4g} (its variance is "
                    f"{bounds['variance'][j]:.4g}).{hint}")
        if spread[j] > bounds["high"][j]:
            return (f"dL/d{_entry(*labels[j])}: the estimates spread too much: their mean squared "
                    f"deviation from the exact gradient is {spread[j]:.4g}, but {n} estimates of this "
                    f"estimator give at most {bounds['high'][j]:.4g} (its variance is "
                    f"{bounds['variance'][j]:.4g})")
    return None
