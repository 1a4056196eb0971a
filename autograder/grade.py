"""``make grade SUBMISSIONS=dir OUT=dir``: autograde a folder of submissions with nbgrader.

Input layout: ``SUBMISSIONS/<student_id>/<assignment>/*.ipynb``. Output:
``OUT/grades.csv`` (student_id, assignment, score, max_score, status),
``OUT/feedback/<student_id>/<assignment>/*.html`` and ``OUT/logs/``. The
nbgrader course used for grading (gradebook included) is built afresh in
``OUT/nbgrader/`` from ``solutions/``, so grading the same submissions twice
gives the same grades. Each submission is graded in its own nbgrader process:
one that fails is reported in its status and the others go on.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.course import CONFIG_FILE, SOLUTIONS, assignments, source_notebooks

# Bounds a whole submission; single cells are bounded by Execute.timeout in the config.
SUBMISSION_TIMEOUT = 900
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
CSV_COLUMNS = ("student_id", "assignment", "score", "max_score", "status")


@dataclass
class Outcome:
    """One row of grades.csv."""

    student_id: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = ""


def write_workspace_config(work: Path) -> None:
    """The grading course's config: the course's own, re-rooted at ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(CONFIG_FILE)!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(work)!r}\n"
        "c.CourseDirectory.source_directory = 'source'\n"
        "c.CourseDirectory.release_directory = 'release'\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(work / 'gradebook.db')!r}\n")


def run_nbgrader(work: Path, args: list[str], log: Path, timeout: float) -> str | None:
    """Run ``nbgrader args`` in the grading course; return None on success, else a reason."""
    log.parent.mkdir(parents=True, exist_ok=True)
    # nbgrader runs the `alembic` command of its own environment.
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                                  os.environ.get("PATH", "")])}
    with log.open("w") as sink:
        try:
            done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=work,
                                  stdout=sink, stderr=subprocess.STDOUT, timeout=timeout,
                                  env=env, start_new_session=True)
        except subprocess.TimeoutExpired:
            return f"nbgrader {args[0]} ran over {timeout:.0f} s"
    return None if done.returncode == 0 else f"nbgrader {args[0]} failed (exit {done.returncode})"


def prepare_course(work: Path, logs: Path) -> None:
    """Fresh grading course in ``work``: source copied from solutions/, gradebook created."""
    if work.exists():
        shutil.rmtree(work)
    write_workspace_config(work)
    shutil.copytree(SOLUTIONS, work / "source")
    for assignment in assignments():
        failure = run_nbgrader(work, ["generate_assignment", assignment, "--force"],
                               logs / f"generate_assignment-{assignment}.log", SUBMISSION_TIMEOUT)
        if failure:
            raise RuntimeError(f"{failure}; see {logs}")


def collect(student_dir: Path, assignment: str, target: Path) -> list[str]:
    """Copy one student's notebooks of ``assignment`` into ``target``; return notes.

    A notebook is matched by its file name; when the assignment has a single
    notebook and the student handed in a single one under another name (as
    learning platforms rename files), that one is taken. Unreadable notebooks
    are left out and noted.
    """
    wanted = source_notebooks(assignment)
    handed_in = sorted(p for p in (student_dir / assignment).glob("*.ipynb") if p.is_file())
    by_name = {p.name: p for p in handed_in}
    notes = []
    if len(wanted) == 1 and len(handed_in) == 1 and wanted[0] not in by_name:
        notes.append(f"took {handed_in[0].name} as {wanted[0]}")
        by_name = {wanted[0]: handed_in[0]}
    target.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        if name not in by_name:
            notes.append(f"{name} missing")
            continue
        try:
            nbformat.validate(nbformat.read(by_name[name], as_version=4))
        except Exception as error:  # any unreadable file is a malformed submission
            notes.append(f"{name} malformed ({type(error).__name__})")
            continue
        shutil.copyfile(by_name[name], target / name)
    return notes


def read_score(work: Path, outcome: Outcome) -> None:
    """Fill in score and max_score of ``outcome`` from the grading gradebook."""
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gradebook:
        outcome.max_score = float(gradebook.find_assignment(outcome.assignment).max_score)
        try:
            outcome.score = float(gradebook.find_submission(outcome.assignment,
                                                            outcome.student_id).score)
        except MissingEntry:
            outcome.score = 0.0


def grade_one(work: Path, out: Path, student_dir: Path, assignment: str) -> Outcome:
    """Autograde one student's assignment and export its feedback."""
    student = student_dir.name
    outcome = Outcome(student, assignment)
    notes = collect(student_dir, assignment, work / "submitted" / student / assignment)
    if not any((work / "submitted" / student / assignment).glob("*.ipynb")):
        notes.append("nothing to grade")
    else:
        logs = out / "logs" / student
        failure = run_nbgrader(work, ["autograde", assignment, "--student", student, "--force"],
                               logs / f"autograde-{assignment}.log", SUBMISSION_TIMEOUT)
        failure = failure or run_nbgrader(
            work, ["generate_feedback", assignment, "--student", student, "--force"],
            logs / f"feedback-{assignment}.log", SUBMISSION_TIMEOUT)
        if failure:
            notes.append(f"{failure}, see logs/{student}/")
        feedback = work / "feedback" / student / assignment
        if feedback.is_dir():
            shutil.copytree(feedback, out / "feedback" / student / assignment, dirs_exist_ok=True)
    read_score(work, outcome)
    outcome.status = "; ".join(notes) if notes else "graded"
    return outcome


def grade(submissions: Path, out: Path) -> list[Outcome]:
    """Grade every ``submissions/<student>/<assignment>``; write ``out/grades.csv``."""
    if not submissions.is_dir():
        raise ValueError(f"no submissions folder at {submissions}")
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("feedback", "logs"):
        shutil.rmtree(out / stale, ignore_errors=True)
    work = out / "nbgrader"
    prepare_course(work, out / "logs")
    outcomes = []
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        if not STUDENT_ID.match(student_dir.name):
            print(f"skipped folder {student_dir.name!r}: not a valid student id", file=sys.stderr)
            continue
        for assignment in assignments():
            outcome = grade_one(work, out, student_dir, assignment)
            print(f"{outcome.student_id:>20} {assignment}: "
                  f"{outcome.score:g}/{outcome.max_score:g} ({outcome.status})")
            outcomes.append(outcome)
    write_grades(out / "grades.csv", outcomes)
    return outcomes


def write_grades(path: Path, outcomes: list[Outcome]) -> None:
    """Write grades.csv atomically, so an interrupted run never leaves half a file."""
    partial = path.with_suffix(".csv.partial")
    with partial.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for o in outcomes:
            writer.writerow([o.student_id, o.assignment, f"{o.score:g}", f"{o.max_score:g}",
                             o.status])
    partial.replace(path)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m autograder.grade SUBMISSIONS OUT", file=sys.stderr)
        return 2
    submissions, out = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    outcomes = grade(submissions, out)
    print(f"graded {len(outcomes)} submissions; grades in {out / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
