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
from bptt.rnn import LinearRNNCache, LinearStepCache, TanhRNNCache, TanhStepCache

PROBE_DIR = "BPTT_PROBE_DIR"
CHANNEL = "BPTT_CHANNEL_FD"
MAX_DIMENSIONS = 8
RECORDS = {cls.__name__: cls for cls in (LinearStepCache, LinearRNNCache, TanhStepCache,
                                         TanhRNNCache, LSTMStepCache)}
ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
    "sigmoid": sigmoid,
    "identity": lambda a: a,
}


@dataclass(frozen=True)
class Activation:
    """An activation function passed to a student's function by name (chapter 1)."""

    name: str

    def __call__(self, a):
        return ACTIVATIONS[self.name](a)


def encode(value, arrays: dict[str, np.ndarray]):
    """JSON-able description of ``value``; its arrays go into ``arrays`` under fresh keys."""
    if isinstance(value, bool | int | float | str) or value is None:
        return {"value": value}
    if isinstance(value, Activation):
        return {"activation": value.name}
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
        return ACTIVATIONS[spec["activation"]]
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
    """Arguments for a gradient check: a counted loss f() that reads x through a closure."""
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


def _run_case(function, kind: str, case):
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
