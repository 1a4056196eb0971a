"""Execute notebooks with the Python that runs this script: the student's environment.

tests/test_student_env.py runs ``<student venv>/bin/python student_notebooks.py job.json``,
so nbclient, the kernel and everything the notebooks import come from that environment.
The job is ``{"out": path, "timeout": seconds, "runs": [{"name", "folder", "notebook"}]}``,
one notebook (as JSON) per run, executed in its ``folder``. Written to ``out``:

- ``torch``: whether torch can be imported here;
- ``bptt``: the file the helper package is imported from;
- ``runs``: by name, the kernel's Python version, and for every code cell
  ``[execution_count, ename, evalue, raised_in]``: the error's name and value (null
  when the cell raised nothing) and the execution count of the cell whose code
  raised it (the innermost notebook frame of the traceback).

Standard library, nbformat and nbclient only: nothing of the course's tests exists there.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys

import nbformat
from nbclient import NotebookClient

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# IPython names a frame of notebook code "Cell In[<execution count>], line <n>".
CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line \d+")


def execute(notebook: dict, folder: str, timeout: int) -> dict:
    """Run every cell, errors or not; what each code cell did and the kernel's version."""
    nb = nbformat.from_dict(notebook)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": folder}}).execute()
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            error = next((o for o in cell.outputs if o.output_type == "error"), None)
            cells.append([cell.execution_count, error and error.ename, error and error.evalue,
                          error and raised_in(error.traceback)])
    return {"python": nb.metadata.language_info.version, "cells": cells}


def raised_in(traceback: list[str]) -> int | None:
    """The execution count of the innermost notebook cell in an IPython traceback."""
    text = ANSI.sub("", "\n".join(traceback))
    counts = CELL_FRAME.findall(text)
    return int(counts[-1]) if counts else None


def main(job_file: str) -> None:
    with open(job_file) as handle:
        job = json.load(handle)
    report = {
        "torch": importlib.util.find_spec("torch") is not None,
        "bptt": importlib.util.find_spec("bptt").origin,
        "runs": {run["name"]: execute(run["notebook"], run["folder"], job["timeout"])
                 for run in job["runs"]},
    }
    with open(job["out"], "w") as handle:
        json.dump(report, handle)


if __name__ == "__main__":
    main(sys.argv[1])
