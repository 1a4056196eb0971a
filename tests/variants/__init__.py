"""Notebook answer sources, one copy each: graded whole (tests/test_grade*.py) and judged in process."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


def load(*sources: str, **names) -> SimpleNamespace:
    """The names that answer sources define, run as a notebook would run them (numpy as np).

    ``names`` are what the notebook's setup cells provide besides ``np`` that the sources use,
    e.g. ``rel_error=bptt.rel_error``. Each call runs the sources afresh in a namespace of its own.
    """
    namespace = {"np": np, **names}
    for source in sources:
        exec(compile(source, "<answer>", "exec"), namespace)
    return SimpleNamespace(**namespace)
