"""Judging probe results outside the student's process (instructor only, every chapter).

A ``Check`` belongs to one graded test cell. The grader writes the check's
inputs for the probe (``write_inputs``), the sandboxed notebook runs the probe,
which sends back what the student's function returned, and ``judge`` decides
on that record in the grader's own process, with the comparisons of
``bptt.checks`` (the ones the visible checks use). The record came out of the sandbox: it is parsed as hostile data.

Cases are drawn from a seed that the grader keeps secret and derives for each
submission (``autograder.grade.case_seed``). A visible cell is graded on the
case the student sees and on fresh cases of the same shapes, so a table of the
visible answers earns nothing; hidden cells draw all their data from the seed,
so answers copied from another student's feedback do not fit. Honest work
passes whatever the seed: the tests run every check over many seeds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bptt.checks import gradients_mismatch, mismatch as compare
from bptt.probe import decode, encode, unpack


@dataclass(frozen=True)
class Case:
    """One input of a check.

    ``value`` goes to the probe, where student code can read it; ``secret`` is
    what only the verdict may know (for example whether a gradient is right).
    """

    label: str
    value: object
    secret: object = None


@dataclass(frozen=True)
class Check:
    """How one test cell is graded.

    ``kind`` tells the probe how to call the function (``"call"``: with the case's
    values as arguments; ``"directional"``: through a counted loss closure;
    ``"operator"``: with a counted ``Operator``, whose applications come back too;
    ``"memory"``: through ``bptt.memory.measure_apart``, whose peak and written memory
    come back with the result;
    ``"repeated"``: once per seed of the case, with ``np.random.default_rng(seed)`` as the
    last argument, the results stacked).
    ``cases(seed)`` builds the inputs from the grader's secret seed (an int in
    [0, 2**63)); ``verdict(case, result)`` returns None when the result is right
    and otherwise a message for the student.
    """

    kind: str
    cases: Callable[[int], list[Case]]
    verdict: Callable[[Case, object], str | None]


def write_inputs(check_id: str, check: Check, folder: Path, seed: int) -> list[Case]:
    """Write the inputs of ``check``, drawn from ``seed``, for the probe; return the cases."""
    cases = check.cases(seed)
    arrays: dict[str, np.ndarray] = {}
    specs = [encode(case.value, arrays) for case in cases]
    np.savez(folder / f"{check_id}.inputs.npz", **arrays)
    (folder / f"{check_id}.inputs.json").write_text(json.dumps({"kind": check.kind,
                                                                "cases": specs}))
    return cases


def judge(check: Check, cases: list[Case], record: dict | None) -> str | None:
    """None if every case passed, else the message of the first failure.

    ``record`` is what the probe sent ({"outcomes": [...], "arrays": {...}}), or
    None when it sent nothing: the cell did not run, or the function never returned.
    """
    if record is None:
        return "this check did not run: the cell was not reached or stopped with an error"
    outcomes, packed = record.get("outcomes"), record.get("arrays")
    if not isinstance(outcomes, list) or not isinstance(packed, dict) or len(outcomes) != len(cases):
        return "the check's results are incomplete"
    try:
        arrays = {key: unpack(value) for key, value in packed.items()}
    except (TypeError, ValueError):
        return "the check's results could not be read back"
    for case, outcome in zip(cases, outcomes):
        if not isinstance(outcome, dict) or "result" not in outcome:
            error = outcome.get("error", "no result") if isinstance(outcome, dict) else "no result"
            return f"{case.label}: your function raised {str(error)[:500]}"
        try:
            result = decode(outcome["result"], arrays)
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
            return f"{case.label}: the result could not be read back"
        message = check.verdict(case, result)
        if message:
            return f"{case.label}: {message}"
    return None


def compare_named(actual, expected: dict[str, np.ndarray], tol: float,
                  order: tuple[str, ...] | None = None) -> str | None:
    """``compare`` every entry of ``expected`` with the same entry of ``actual``, naming all wrong ones.

    ``actual`` is a dict, or, when ``order`` names the positions, a tuple.
    """
    if order is not None:
        if not isinstance(actual, list) or len(actual) != len(order):
            return f"expected a tuple of {len(order)} arrays {order}, got {type(actual).__name__}"
        actual = dict(zip(order, actual))
    return gradients_mismatch(actual, expected, tol, prefix="")


def against(reference: Callable, name: str, tol: float) -> Callable[[Case, object], str | None]:
    """A verdict that compares the result with ``reference(*case.value)``, named ``name``."""
    def verdict(case: Case, result) -> str | None:
        return compare(name, result, np.asarray(reference(*case.value), dtype=np.float64), tol)
    return verdict
