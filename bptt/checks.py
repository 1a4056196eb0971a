"""Assertions for the exercise notebooks' visible checks (every chapter).

A failed check says which quantity is off, and how: a wrong type or shape, or
the relative error against the expected value with the worst entry.
"""

from __future__ import annotations

import numpy as np

from bptt.gradcheck import rel_error


def assert_close(name: str, actual, expected, tol: float) -> None:
    """Assert that ``actual`` matches ``expected`` (same shape) to ``rel_error <= tol``.

    Raises
    ------
    AssertionError
        Naming ``name``, the shapes, or the relative error and the worst entry.
    """
    expected = np.asarray(expected, dtype=np.float64)
    if actual is None:
        raise AssertionError(f"{name}: got None; did the function return its result?")
    try:
        actual = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise AssertionError(f"{name}: expected an array of shape {expected.shape}, "
                             f"got {type(actual).__name__} ({error})") from None
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: expected shape {expected.shape}, got {actual.shape}")
    if not np.all(np.isfinite(actual)):
        raise AssertionError(f"{name}: contains NaN or infinite values")
    error = rel_error(actual, expected)
    if not error <= tol:
        worst = np.unravel_index(np.argmax(np.abs(actual - expected)), expected.shape)
        raise AssertionError(
            f"{name} is off: rel_error {error:.2e} exceeds {tol:.0e}; worst entry at index "
            f"{tuple(int(i) for i in worst)}: got {actual[worst]:.6g}, expected {expected[worst]:.6g}")


def assert_gradients_close(actual: dict, expected: dict, tol: float, prefix: str = "dL/d") -> None:
    """Assert every gradient in ``expected`` with ``assert_close``, in the order of its keys."""
    if not isinstance(actual, dict):
        raise AssertionError(f"expected a dict of gradients with keys {list(expected)}, "
                             f"got {type(actual).__name__}")
    missing = [k for k in expected if k not in actual]
    if missing:
        raise AssertionError(f"the gradient dict lacks the keys {missing}")
    for key, value in expected.items():
        assert_close(prefix + key, actual[key], value, tol)
