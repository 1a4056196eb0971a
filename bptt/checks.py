"""Assertions for the exercise notebooks' visible checks (every chapter).

A failed check says which quantity is off, and how: a wrong type or shape, or
the relative error against the expected value with the worst entry. A dict of
gradients is checked whole: every wrong gradient is named, and when they are
all off by one factor (a missing 1/T, a sign), the factor is given. The grader
words its verdicts with the same functions.
"""

from __future__ import annotations

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
