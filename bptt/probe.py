"""The kernel side of grading: run a student's function on the grader's inputs (every chapter).

A graded test cell ends with ``probe("<cell id>", function)``. Outside a
grading run it does nothing. Inside one, the grader has written the inputs of
that cell's checks to the read-only folder ``$BPTT_PROBE_DIR``; the probe calls
the function on each of them and sends what comes back, as plain float64
arrays, down the grading channel (the pipe ``$BPTT_CHANNEL_FD`` to the grader).
The grader compares those arrays with its own answers in its own process,
which nothing in the notebook can reach, so patched functions or odd return
objects can change a result but never the verdict on it. The grader reads the
channel as hostile data: see ``unpack``.

The check says how to call the function (its ``kind``): ``call``, with the case's
values as arguments; ``operator``, the same, reporting the applications of the
``Operator`` among them; ``directional``, through a counted loss closure;
``memory``, as ``call`` but measured apart by ``bptt.memory.measure_apart``, whose
peak and written memory come back with the result; ``repeated``, once per seed of the case, with
``np.random.default_rng(seed)`` as the last argument, the results stacked by key.

The codec below turns nested tuples, lists, dicts, named tuples of the
package and numbers into a JSON description plus a dict of arrays, and back.
"""

from __future__ import annotations

import base64
import json
import math
import os
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bptt.gated import LSTMStepCache, sigmoid
from bptt.memory import measure_apart
from bptt.rnn import LinearRNNCache, LinearStepCache, TanhRNNCache, TanhStepCache

PROBE_DIR = "BPTT_PROBE_DIR"
CHANNEL = "BPTT_CHANNEL_FD"
MAX_DIMENSIONS = 8
RECORDS = {cls.__name__: cls for cls in (LinearStepCache, LinearRNNCache, TanhStepCache,
                                         TanhRNNCache, LSTMStepCache)}
# Activations, and their derivatives under "d_<name>", that checks may pass to a student.
ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
    "sigmoid": sigmoid,
    "identity": lambda a: a,
    "softsign": lambda a: a / (1.0 + np.abs(a)),
    "d_tanh": lambda a: 1.0 - np.tanh(a) ** 2,
    "d_relu": lambda a: (a > 0).astype(np.float64),
    "d_sigmoid": lambda a: sigmoid(a) * (1.0 - sigmoid(a)),
    "d_identity": lambda a: np.ones_like(a, dtype=np.float64),
    "d_softsign": lambda a: 1.0 / (1.0 + np.abs(a)) ** 2,
}


@dataclass(frozen=True)
class Activation:
    """An activation function (or its derivative) passed to a student's function by name.

    It takes real arrays only: a complex argument raises TypeError, so a gradient
    cannot be had by the complex step through the grader's functions.
    """

    name: str

    def __call__(self, a):
        if np.iscomplexobj(a):
            raise TypeError(f"the activation {self.name} takes real arrays, not complex ones")
        return ACTIVATIONS[self.name](np.asarray(a, dtype=np.float64))


MAX_APPLICATIONS = 5000  # inputs an Operator keeps; it counts every application


class Operator:
    """A square matrix A that a student's function can only apply: ``A(X)`` or ``A @ X``.

    ``X`` is a vector (n,) or a matrix (n, m). Every application is counted and its input
    kept, so a check can see that a result came from repeated products, each applied to the
    previous result (``chain_mismatch``). Nothing hands out the matrix itself, so neither
    ``np.linalg.matrix_power`` nor an eigendecomposition can be applied to it. Complex input
    raises TypeError, as for ``Activation``.
    """

    __array_ufunc__ = None  # numpy must not turn it into an object array: ``x @ A`` raises

    def __init__(self, matrix):
        self._matrix = np.array(matrix, dtype=np.float64)
        if self._matrix.ndim != 2 or self._matrix.shape[0] != self._matrix.shape[1]:
            raise ValueError(f"an Operator needs a square matrix, got shape {self._matrix.shape}")
        self.shape = self._matrix.shape
        self.calls = 0
        self.inputs: list[np.ndarray] = []

    def __call__(self, X):
        if np.iscomplexobj(X):
            raise TypeError("this operator takes real arrays, not complex ones")
        X = np.array(X, dtype=np.float64)
        if X.ndim not in (1, 2) or X.shape[0] != self.shape[0]:
            raise ValueError(f"this operator applies an {self.shape} matrix: it takes an array of "
                             f"shape ({self.shape[0]},) or ({self.shape[0]}, m), got {X.shape}")
        self.calls += 1
        if len(self.inputs) < MAX_APPLICATIONS:
            self.inputs.append(X.copy())
        return self._matrix @ X

    __matmul__ = __call__

    def chain_mismatch(self, start, count: int, name: str = "the operator") -> str | None:
        """Why this operator's applications are not ``count`` repeated products from ``start``, or None."""
        return chain_mismatch(self._matrix, start, self.inputs, self.calls, count, name)


def _scaled_rows(A: np.ndarray) -> np.ndarray:
    """Each row of A (c, N) divided by its largest modulus (zero rows stay zero), so nothing overflows."""
    largest = np.max(np.abs(A), axis=1, keepdims=True) if A.size else np.ones((len(A), 1))
    return A / np.where(largest > 0, largest, 1.0)


def _not_along(X: np.ndarray, P: np.ndarray) -> np.ndarray:
    """(c,) True where row x of X (c, N) is not a nonzero multiple of row p of P, to 1e-8 of |x|
    (two zero rows count as multiples)."""
    finite = np.all(np.isfinite(X), axis=1) & np.all(np.isfinite(P), axis=1)
    X, P = _scaled_rows(np.where(finite[:, None], X, 0.0)), _scaled_rows(np.where(finite[:, None], P, 0.0))
    zero_x, zero_p = ~np.any(X, axis=1), ~np.any(P, axis=1)
    c = np.sum(X * P, axis=1) / np.where(zero_p, 1.0, np.sum(P * P, axis=1))
    residual = np.linalg.norm(X - c[:, None] * P, axis=1)
    along = np.where(zero_x | zero_p, zero_x & zero_p,
                     (c != 0) & (residual <= 1e-8 * np.linalg.norm(X, axis=1)))
    return ~(finite & along)


def chain_mismatch(matrix, start, inputs, calls: int, count: int, name: str = "the operator") -> str | None:
    """None if ``inputs`` are ``count`` applications of ``matrix`` (one more is allowed), each to a
    multiple of the previous result, the first to a multiple of ``start``; else what is wrong.
    """
    if not count <= calls <= count + 1:
        return (f"{name} was applied {calls} times, but the result needs {count} applications "
                f"(one more is allowed), each to the previous result")
    matrix, start = np.asarray(matrix, dtype=np.float64), np.asarray(start, dtype=np.float64)
    inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
    wrong = [j for j, x in enumerate(inputs) if x.shape != start.shape]
    good = inputs[:wrong[0]] if wrong else inputs
    if good:  # the product before each input, its direction only: scaled first, so nothing overflows
        X = np.stack(good).reshape(len(good), -1)
        before = np.tensordot(_scaled_rows(X).reshape(len(good), *start.shape), matrix, axes=([1], [1]))
        before = np.moveaxis(before, -1, 1).reshape(len(good), -1)
        expected = np.concatenate([start.reshape(1, -1), before[:-1]])
        off = np.flatnonzero(_not_along(X, expected))
        wrong = [int(off[0])] if off.size else wrong
    if not wrong:
        return None
    j = wrong[0] + 1
    what = "the start" if j == 1 else f"the result of application {j - 1}"
    return (f"application {j} of {name} was to an array of shape {inputs[j - 1].shape} that is not a "
            f"multiple of {what} (shape {start.shape}): apply each product to the previous result")


def encode(value, arrays: dict[str, np.ndarray]):
    """JSON-able description of ``value``; its arrays go into ``arrays`` under fresh keys."""
    if isinstance(value, bool | int | float | str) or value is None:
        return {"value": value}
    if isinstance(value, Activation):
        return {"activation": value.name}
    if isinstance(value, Operator):
        key = f"a{len(arrays)}"
        arrays[key] = value._matrix.copy()
        return {"operator": key}
    if isinstance(value, tuple) and type(value).__name__ in RECORDS:
        return {"record": type(value).__name__,
                "fields": {k: encode(v, arrays) for k, v in value._asdict().items()}}
    if isinstance(value, list | tuple):
        return {"list": [encode(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v, arrays) for k, v in value.items()}}
    key = f"a{len(arrays)}"
    array = np.asarray(value)
    # Class labels stay integers; everything else is float64.
    arrays[key] = array if np.issubdtype(array.dtype, np.integer) else array.astype(np.float64)
    return {"array": key}


def decode(spec, arrays):
    """Inverse of ``encode``; arrays are copied so a callee cannot alter the originals."""
    if "value" in spec:
        return spec["value"]
    if "activation" in spec:
        return Activation(spec["activation"])
    if "operator" in spec:
        return Operator(arrays[spec["operator"]])
    if "record" in spec:
        return RECORDS[spec["record"]](**{k: decode(v, arrays) for k, v in spec["fields"].items()})
    if "list" in spec:
        return [decode(v, arrays) for v in spec["list"]]
    if "dict" in spec:
        return {k: decode(v, arrays) for k, v in spec["dict"].items()}
    return np.array(arrays[spec["array"]])


def plain(value, arrays: dict[str, np.ndarray]):
    """Like ``encode`` for a value a student returned: anything else becomes a float64 array."""
    if isinstance(value, dict):
        return {"dict": {str(k): plain(v, arrays) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"list": [plain(v, arrays) for v in value]}
    if value is None:
        return {"value": None}
    key = f"a{len(arrays)}"
    arrays[key] = np.array(value, dtype=np.float64, copy=True, subok=False)
    return {"array": key}


def pack(array: np.ndarray) -> dict:
    """A float64 array as JSON: dtype, shape and base64 of its little-endian bytes."""
    array = np.asarray(array, dtype="<f8")
    return {"shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode()}


def unpack(packed) -> np.ndarray:
    """Inverse of ``pack`` for data that came out of the sandbox.

    Nothing is trusted: the shape must be a short list of small non-negative
    integers whose product matches the bytes present, so a record cannot ask
    for more memory than it carries. Raises ValueError otherwise.
    """
    if not isinstance(packed, dict) or not isinstance(packed.get("data"), str):
        raise ValueError("not a packed array")
    shape = packed.get("shape")
    if (not isinstance(shape, list) or len(shape) > MAX_DIMENSIONS
            or not all(type(n) is int and 0 <= n < 2**31 for n in shape)):
        raise ValueError("bad shape")
    raw = base64.b64decode(packed["data"], validate=True)
    if len(raw) != 8 * math.prod(shape):
        raise ValueError("shape and data disagree")
    return np.frombuffer(raw, dtype="<f8").reshape(shape).astype(np.float64)


def _directional_arguments(case: dict):
    """Arguments for a gradient check: a counted loss f() that reads x through a closure.

    The closure holds x, the loss's coefficients and the count, and this source says what f
    computes: nothing here is secret. The grader builds the same f and rng and recomputes the
    central differences; at a large eps they differ from the exact derivative, so only a check
    that evaluates f along the seeded directions returns the number it expects.
    """
    x, calls = case["x"], []
    if case["loss"] == "cube":
        def f():
            calls.append(1)
            return float(np.sum(x ** 3))
    else:
        A = case["A"]

        def f():
            calls.append(1)
            return float(np.sum(A * np.sin(x)))
    rng = np.random.default_rng(case["seed"])
    return (f, x, case["grad"], rng, case["directions"], case["eps"]), calls


def _materialized(value):
    """``value`` with every leaf turned into a float64 array now, as ``plain`` would later."""
    if isinstance(value, dict):
        return {str(k): _materialized(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_materialized(v) for v in value]
    if value is None:
        return None
    return np.array(value, dtype=np.float64, copy=True, subok=False)


def _stacked(samples: list) -> dict[str, np.ndarray]:
    """The results of repeated calls, each a dict of arrays, stacked by key: {key: (n, ...)}.

    Raises TypeError or ValueError when the calls do not all return the same keys and shapes.
    """
    if not samples or not all(isinstance(sample, dict) for sample in samples):
        kinds = sorted({type(sample).__name__ for sample in samples})
        raise TypeError(f"each call must return a dict of arrays, got {', '.join(kinds) or 'nothing'}")
    keys = list(samples[0])
    if any(set(sample) != set(keys) for sample in samples):
        raise ValueError(f"the calls returned dicts with different keys (the first has {keys})")
    stacked = {}
    for key in keys:
        arrays = [np.array(sample[key], dtype=np.float64, copy=True, subok=False) for sample in samples]
        if len({array.shape for array in arrays}) > 1:
            raise ValueError(f"{key} has different shapes in different calls")
        stacked[str(key)] = np.stack(arrays)
    return stacked


def _run_case(function, kind: str, case):
    if kind == "memory":  # peak and written memory of the call, made apart; the result made plain there
        measured = measure_apart(lambda *args: _materialized(function(*args)), *case)
        return {"result": measured.result, "peak": float(measured.peak_bytes),
                "seconds": float(measured.seconds), "written": float(measured.written_bytes)}
    if kind == "repeated":  # one call per seed, each with its own generator; the results stacked
        samples = [function(*case["arguments"], np.random.default_rng(int(seed)))
                   for seed in case["seeds"]]
        return {"samples": _stacked(samples)}
    if kind == "operator":  # the matrix comes as an Operator, whose applications are reported
        result = function(*case)
        applied = next(value for value in case if isinstance(value, Operator))
        return {"result": result, "calls": float(applied.calls), "inputs": list(applied.inputs)}
    if kind == "directional":
        args, calls = _directional_arguments(case)
        result = function(*args)
        return {"result": result, "calls": float(len(calls)), "x_after": args[1]}
    return function(*case)


def send(record: dict) -> None:
    """Write ``record`` as one JSON line to the grading channel (a no-op outside grading)."""
    fd = os.environ.get(CHANNEL)
    if not fd:
        return
    data = (json.dumps(record) + "\n").encode()
    while data:
        data = data[os.write(int(fd), data):]


def results(check_id: str, function, folder: Path) -> dict:
    """``function``'s outcome on every input of ``check_id`` in ``folder``, ready to send.

    Returns {"outcomes": [{"result": spec} or {"error": text}], "arrays": {key: packed}}.
    """
    spec = json.loads((folder / f"{check_id}.inputs.json").read_text())
    with np.load(folder / f"{check_id}.inputs.npz", allow_pickle=False) as stored:
        inputs = dict(stored)
    arrays: dict[str, np.ndarray] = {}
    outcomes = []
    for case_spec in spec["cases"]:
        case = decode(case_spec, inputs)
        try:
            outcomes.append({"result": plain(_run_case(function, spec["kind"], case), arrays)})
        except (Exception, SystemExit) as error:  # the student's failure is a result, not ours
            text = traceback.format_exception_only(type(error), error)[-1].strip()
            outcomes.append({"error": text[:500]})
    return {"outcomes": outcomes, "arrays": {key: pack(a) for key, a in arrays.items()}}


def probe(check_id: str, function) -> None:
    """Send ``function``'s results on the inputs of ``check_id``; a no-op outside grading."""
    folder = os.environ.get(PROBE_DIR)
    if folder:
        send({"probe": check_id, **results(check_id, function, Path(folder))})
