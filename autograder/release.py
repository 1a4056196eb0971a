"""``make release``: regenerate ``notebooks/`` from ``solutions/`` with nbgrader.

The student notebooks are a pure function of the solution notebooks: solution
regions become stubs, hidden tests vanish, outputs are cleared. Running it
twice changes nothing. No gradebook is written.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from autograder.course import NOTEBOOKS, assignments, load_config


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
        print(f"released {assignment} -> {NOTEBOOKS.name}/{assignment}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
