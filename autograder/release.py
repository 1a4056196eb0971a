"""``make release``: regenerate ``notebooks/`` from ``solutions/`` with nbgrader.

The student notebooks are a pure function of the solution notebooks: solution
regions become stubs, hidden tests vanish, outputs are cleared. The expected
values of the visible checks (each check module's ``VISIBLE_DATA``) go to
``bptt/data/<assignment>.npz``, so the student's side needs no torch. Running
it twice changes nothing. No gradebook is written.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import numpy as np

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from autograder.course import NOTEBOOKS, assignments, load_config
from bptt.checks import DATA


def visible_data(assignment: str) -> dict[str, np.ndarray]:
    """The expected values of an assignment's visible checks, by name (float64 or int arrays)."""
    module = importlib.import_module("autograder.reference." + assignment.replace("-", "_"))
    return {name: np.asarray(make()) for name, make in getattr(module, "VISIBLE_DATA", {}).items()}


def write_visible_data(assignment: str, folder: Path = DATA) -> None:
    """Store ``visible_data``; a file whose arrays are unchanged is left alone (zips carry dates)."""
    data, path = visible_data(assignment), folder / f"{assignment}.npz"
    if not data:
        path.unlink(missing_ok=True)
        return
    if path.exists():
        with np.load(path, allow_pickle=False) as stored:
            if set(stored.files) == set(data) and all(np.array_equal(stored[k], v)
                                                      for k, v in data.items()):
                return
    folder.mkdir(exist_ok=True)
    np.savez(path, **data)


def release_all(dest: Path = NOTEBOOKS) -> list[str]:
    """Regenerate every assignment into ``dest``; return the assignment ids."""
    config = load_config()
    config.CourseDirectory.release_directory = str(dest.resolve())
    config.GenerateAssignment.no_database = True
    config.SaveCells.enabled = False
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    released = assignments()
    for stale in set(p.name for p in dest.glob("*") if p.is_dir()) - set(released):
        shutil.rmtree(dest / stale)
    for assignment in released:
        result = api.generate_assignment(assignment, force=True, create=False)
        if not result["success"]:
            raise RuntimeError(f"releasing {assignment} failed:\n{result.get('log', '')}"
                               f"\n{result.get('error', '')}")
    return released


def main() -> int:
    for assignment in release_all():
        write_visible_data(assignment)
        print(f"released {assignment} -> {NOTEBOOKS.name}/{assignment}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
