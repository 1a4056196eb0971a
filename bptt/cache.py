"""Results of slow experiments, kept on disk between builds of the book (chapter 5).

A result is stored under a key made of the experiment's name, its settings
and the source code of the modules that compute it, so a change to any of
them computes it afresh; anything else reads it back. The files live in
``_build/.experiments`` beside the book's other build output.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

FOLDER = Path(__file__).resolve().parent.parent / "_build" / ".experiments"


def cached(name: str, settings: dict, modules: list[ModuleType], compute: Callable[[], dict],
           folder: Path = FOLDER) -> dict:
    """``compute()``, a JSON-able dict, or its stored copy when nothing it depends on changed."""
    text = json.dumps(settings, sort_keys=True) + "".join(inspect.getsource(m) for m in modules)
    path = folder / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
    if path.exists():
        return json.loads(path.read_text())
    result = compute()
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(result))
    partial.replace(path)
    return result
