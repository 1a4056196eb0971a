"""``make student-bundle``: everything a student may receive, and nothing else.

The bundle holds the built book, the released notebooks and the helper
package ``bptt`` (the answers and the grader's checks live in ``autograder/``,
which is not shipped), with what is needed to install and run them.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from autograder.course import NOTEBOOKS, ROOT

BUNDLE = ROOT / "_build" / "student-bundle"
# The student's pins, not the instructor's requirements.txt (torch, Jupyter Book, Sphinx).
FILES = ("requirements-student.txt", "pyproject.toml")
STUDENT_README = """# Backpropagation Through Time: student materials

- `book/index.html`: the course book; open it in a browser.
- `notebooks/`: one exercise notebook per chapter.
- `bptt/`: the helper package that the notebooks import.

Set up once, in this folder, with any Python from 3.11 to 3.13 (here `python3`):

```bash
python3 -m venv .venv
.venv/bin/python -m pip install -r requirements-student.txt
.venv/bin/python -m pip install -e .
```

Then, each time, open JupyterLab on the notebooks:

```bash
.venv/bin/python -m bptt.lab
```

On Windows, create it with `py -m venv .venv` and write `.venv\\Scripts\\python` where
these commands say `.venv/bin/python`.

Before you submit, restart the kernel and run all cells, then press *Validate*.
"""


def build_bundle(html: Path, target: Path = BUNDLE) -> Path:
    """Copy the student's share of the course into ``target`` (replaced if present)."""
    if not (html / "index.html").exists():
        raise FileNotFoundError(f"no built book at {html}; run `make book` first")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(html, target / "book")
    shutil.copytree(NOTEBOOKS, target / "notebooks")
    shutil.copytree(ROOT / "bptt", target / "bptt",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in FILES:
        shutil.copy(ROOT / name, target / name)
    (target / "README.md").write_text(STUDENT_README)
    return target


def main(argv: list[str]) -> int:
    html = Path(argv[0]) if argv else ROOT / "_build" / "html"
    print(f"student bundle in {build_bundle(html)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
