"""Input checks shared by the helper package (every chapter).

Bad input raises ``ValueError`` with a message that names the argument, so a
wrong shape never turns into a silent wrong answer deep inside a loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def as_float_array(name: str, value, ndim: int) -> np.ndarray:
    """Return ``value`` as a float64 array with ``ndim`` dimensions.

    Raises
    ------
    ValueError
        If the array has another number of dimensions, an empty axis, or
        a non-finite entry.
    """
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def require_shape(name: str, array: np.ndarray, shape: Sequence[int]) -> None:
    """Raise ``ValueError`` unless ``array.shape == tuple(shape)``."""
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {array.shape}")


def require_keys(name: str, mapping: Mapping, keys: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``mapping`` holds exactly ``keys``."""
    if not isinstance(mapping, Mapping) or set(mapping) != set(keys):
        found = sorted(mapping) if isinstance(mapping, Mapping) else type(mapping).__name__
        raise ValueError(f"{name} must have the keys {sorted(keys)}, got {found}")


def as_class_indices(name: str, value, shape: Sequence[int], num_classes: int) -> np.ndarray:
    """Return integer class indices of ``shape`` with values in ``[0, num_classes)``."""
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer class indices, got dtype {array.dtype}")
    require_shape(name, array, shape)
    if array.min() < 0 or array.max() >= num_classes:
        raise ValueError(f"{name} must lie in [0, {num_classes}), got values "
                         f"from {array.min()} to {array.max()}")
    return array.astype(np.int64)
