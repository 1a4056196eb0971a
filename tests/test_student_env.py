"""The student's side installs and runs without torch, on another Python than the instructor's.

The test builds the student bundle, follows its README as a student would (the
setup commands, run with Python 3.13 in a fresh virtual environment), and runs
every released notebook there with that environment's nbclient and kernel
(tests/student_notebooks.py): unanswered, the only errors are the
`NotImplementedError`s of the answer stubs and of the checks that call them;
with the instructor's answers inserted, no cell fails. Last, the README's launch
command opens the student's JupyterLab. pip may download (its own cache is
used); nothing is cached in the repository.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from autograder.bundle import build_bundle
from tests.conftest import ROOT, free_port, nbgrader_meta, notebook_with_answers
from tests.test_lab import request, server_options, serving

PYTHON = "3.13"
RUNNER = Path(__file__).with_name("student_notebooks.py")
MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)
RELEASED = sorted((ROOT / "notebooks").glob("*/*.ipynb"))


def student_python() -> str:
    """A Python 3.13 interpreter: on the PATH or among pyenv's versions."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{PYTHON}"),
                  *map(str, sorted(pyenv.glob(f"versions/{PYTHON}*/bin/python{PYTHON}")))]
    for candidate in filter(None, candidates):
        # A pyenv shim is on the PATH even where its version is not selected; it fails then.
        if subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return candidate
    if os.environ.get("CI") == "true":
        pytest.fail(f"no Python {PYTHON} on this machine")
    pytest.skip(f"no Python {PYTHON} on this machine")


def readme_commands(readme: str) -> tuple[list[list[str]], list[str]]:
    """The README's setup commands and its launch command, as argument lists."""
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    assert len(blocks) == 2, f"expected a setup block and a launch block in the README: {blocks}"
    setup, launch = ([shlex.split(line) for line in block.splitlines() if line.strip()]
                     for block in blocks)
    assert len(launch) == 1, f"expected one launch command: {launch}"
    return setup, launch[0]


def solution_answers(released: Path) -> dict[str, str]:
    """The instructor's code answers to the released notebook's exercises, by grade id."""
    solution = nbformat.read(ROOT / "solutions" / released.parent.name / released.name, as_version=4)
    return {nbgrader_meta(c)["grade_id"]: MARKER.sub("", c.source) for c in solution.cells
            if c.cell_type == "code" and nbgrader_meta(c).get("solution")}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Iterator[Path]:
    """The student bundle, with a stand-in for the book unless one was built."""
    html = ROOT / "_build" / "html"
    if not (html / "index.html").exists():
        html = tmp_path_factory.mktemp("html")
        (html / "index.html").write_text("<html><body>book</body></html>")
    bundle = build_bundle(html, tmp_path_factory.mktemp("student") / "bundle")
    yield bundle
    # With the student's environment it weighs half a gigabyte; pytest keeps old temporary folders.
    shutil.rmtree(bundle)


@pytest.fixture(scope="module")
def student(bundle) -> dict:
    """The bundle set up by its README with Python 3.13, and its launch command."""
    setup, launch = readme_commands((bundle / "README.md").read_text())
    python = student_python()
    for command in setup:
        command = [python, *command[1:]] if command[0] == "python3" else command
        done = subprocess.run(command, cwd=bundle, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{shlex.join(command)} failed:\n{done.stderr[-3000:]}"
    venv_python = bundle / ".venv" / "bin" / "python"
    version = subprocess.run([venv_python, "-c", "import sys; print(*sys.version_info[:2], sep='.')"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == PYTHON, f"the README's setup made a Python {version} environment"
    return {"python": venv_python, "launch": launch}


@pytest.fixture(scope="module")
def executed(bundle, student, tmp_path_factory) -> dict:
    """Every released notebook run in the student's environment, unanswered and answered."""
    runs = []
    for released in RELEASED:
        name = f"{released.parent.name}/{released.name}"
        shipped = bundle / "notebooks" / name
        runs.append({"name": f"unanswered {name}", "folder": str(shipped.parent),
                     "notebook": nbformat.read(shipped, as_version=4)})
        runs.append({"name": f"answered {name}", "folder": str(shipped.parent),
                     "notebook": notebook_with_answers(shipped, solution_answers(released))})
    work = tmp_path_factory.mktemp("run")
    job = {"out": str(work / "report.json"), "timeout": 120, "runs": runs}
    (work / "job.json").write_text(json.dumps(job))
    done = subprocess.run([student["python"], RUNNER, work / "job.json"], cwd=bundle,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"the notebooks did not run:\n{done.stderr[-3000:]}"
    report = json.loads((work / "report.json").read_text())
    report["notebooks"] = {run["name"]: run["notebook"] for run in runs}
    return report


def code_cells(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def describe(notebook, index: int, ename: str, evalue: str) -> str:
    """One failing cell, for a message: its place, its nbgrader id and its error."""
    grade_id = nbgrader_meta(code_cells(notebook)[index]).get("grade_id", "no grade id")
    return f"code cell {index} ({grade_id}): {ename}: {evalue[:200]}"


def pins(requirements: Path) -> dict[str, str]:
    """The ``name==version`` lines of a requirements file, by normalised name."""
    lines = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
    found = {}
    for line in filter(None, lines):
        name, equals, version = line.partition("==")
        assert equals and version, f"{requirements.name}: {line!r} is not pinned with =="
        found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_student_pins_are_the_instructors():
    student, instructor = pins(ROOT / "requirements-student.txt"), pins(ROOT / "requirements.txt")
    assert "torch" not in student, "the student's requirements install torch"
    differ = {name: (version, instructor[name]) for name, version in student.items()
              if instructor.get(name, version) != version}
    assert not differ, f"student pins differ from requirements.txt (student, instructor): {differ}"


def test_the_student_environment_has_no_torch(bundle, executed):
    assert not executed["torch"], "torch is installed in the student's environment"
    assert Path(executed["bptt"]).is_relative_to(bundle), \
        f"the notebooks import bptt from {executed['bptt']}, not from the bundle"


@pytest.mark.parametrize("released", RELEASED, ids=lambda p: p.parent.name)
def test_unanswered_notebook_fails_only_where_answers_are_missing(executed, released):
    name = f"unanswered {released.parent.name}/{released.name}"
    run, notebook = executed["runs"][name], executed["notebooks"][name]
    assert run["python"].startswith(PYTHON), f"the kernel runs Python {run['python']}"
    skipped = [i for i, (count, *_) in enumerate(run["cells"]) if count is None]
    assert not skipped, f"{name}: code cells {skipped} did not run"
    # Answer stubs raise NotImplementedError, and so does every cell that calls one.
    stubs = {count for cell, (count, *_) in zip(code_cells(notebook), run["cells"])
             if nbgrader_meta(cell).get("solution")}
    wrong = [describe(notebook, i, ename, evalue)
             for i, (_, ename, evalue, origin) in enumerate(run["cells"])
             if ename and not (ename == "NotImplementedError" and origin in stubs)]
    assert not wrong, f"{name}: cells fail for another reason than a missing answer:\n" + \
        "\n".join(wrong)
    assert any(ename for _, ename, *_ in run["cells"]), f"{name}: no check missed its answer"


@pytest.mark.parametrize("released", RELEASED, ids=lambda p: p.parent.name)
def test_answered_notebook_runs_without_error(executed, released):
    name = f"answered {released.parent.name}/{released.name}"
    run, notebook = executed["runs"][name], executed["notebooks"][name]
    failed = [describe(notebook, i, ename, evalue)
              for i, (_, ename, evalue, _) in enumerate(run["cells"]) if ename]
    assert not failed, f"{name}: cells fail with the instructor's answers:\n" + "\n".join(failed)


def test_the_launch_command_opens_the_student_lab(bundle, student):
    port = free_port()
    command = [str(bundle / student["launch"][0]), *student["launch"][1:], *server_options(port)]
    with serving(command, port, bundle) as base:
        assert request(base, "/formgrader")[0] == 404, "the student's lab serves the formgrader"
        status, _ = request(base, "/assignments/validate", {"path": "no-such.ipynb"})
        assert status == 200, "the student's lab has no Validate handler"
