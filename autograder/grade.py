"""``make grade SUBMISSIONS=dir OUT=dir``: grade a folder of submissions, honestly.

Input layout: ``SUBMISSIONS/<student_id>/<assignment>/*.ipynb``. For every
submission the grader

1. rebuilds the notebook on the instructor's copy (``autograder.repair``),
2. runs it in a sandbox with time, memory, process and output limits
   (``autograder.sandbox``), where each graded test cell's probe sends back what
   the student's function returns on inputs the grader chose (``bptt.probe``),
   drawn from a seed that is secret and new for every submitted notebook
   (``case_seed``),
3. judges those results in this process against the reference answers
   (``autograder.reference``), which the sandbox cannot see.

Everything that comes out of the sandbox is hostile data: it arrives through a
size-capped pipe, never as files, and every page made from it is neutralised
(``autograder.sanitise``) before a person opens it.

Submissions are graded in parallel, each on its own as one task (``Task``,
``grade_task``): in a process pool here, or on the workers of a Dask cluster
with ``--scheduler`` (``autograder.cluster``). A task carries the student's
notebooks and their case seeds, never the secret, and returns its result; this
process stores it under ``OUT/results/`` (an interrupted run picks up where it
stopped), then writes every result in a fixed order into the nbgrader gradebook
of ``OUT/nbgrader/`` (where manual grades, given in the formgrader, are kept
across runs) and exports ``OUT/grades.csv``,
``OUT/feedback/<student>/<assignment>/*.html`` and ``OUT/report.md``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.course import (CONFIG_FILE, MAX_NOTEBOOK_BYTES, NOTEBOOKS, SOLUTIONS,
                               assignments, source_notebooks)
from autograder.feedback import feedback_notebook, write_html
from autograder.repair import grade_id, is_answer, is_manual, is_test, rebuild
from autograder.sanitise import escape, neutralise_notebook
from autograder.reference.judging import judge, write_inputs
from autograder.cluster import (CourseMismatch, course_version, dispatch, executor,
                                progress_bar)
from autograder.sandbox import Limits, bubblewrap, run_cells
from autograder.scan import scan
from bptt.runner import OUTPUT_LIMIT

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("student_id", "assignment", "score", "max_score", "status", "flags")
UNLIMITED = ("WARNING: no pids cgroup can be created here, and root ignores RLIMIT_NPROC: the "
             "number of processes of student code is NOT limited (a fork bomb can exhaust the machine).")
UNSANDBOXED = ("WARNING: bubblewrap is not available here (Linux, user namespaces and the `bwrap` "
               "command are needed): student code runs WITHOUT a sandbox, with resource limits "
               "only. It can read the course files and the gradebook.")


SECRET_FILE = "secret.key"


@dataclass(frozen=True)
class Job:
    """One student's submission of one assignment."""

    student: str
    assignment: str
    folder: Path


@dataclass(frozen=True)
class Task:
    """What grading one submission needs, and nothing more: the unit of work of a worker.

    The student's files travel as bytes, so a worker reads nothing of the submissions
    folder; each notebook comes with its case seed, never the secret they are drawn from.
    ``notebooks`` is None when nothing was handed in.
    """

    student: str
    assignment: str
    notebooks: dict[str, bytes] | None
    seeds: dict[str, int]
    notes: tuple[str, ...]
    limits: Limits
    sandbox: bool
    course: str


def checks_module(assignment: str):
    """The module that grades an assignment: ``autograder.reference.<assignment id with _>``."""
    return importlib.import_module("autograder.reference." + assignment.replace("-", "_"))


def checks_of(assignment: str) -> dict:
    """The ``CHECKS`` of an assignment, one per graded test cell."""
    return checks_module(assignment).CHECKS


def gradebook_url(work: Path) -> str:
    """The database of the grading course in ``work``."""
    return f"sqlite:///{work / 'gradebook.db'}"


def submitted_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """The notebooks in a submission folder that may be read, and those passed over.

    Only regular files of at most MAX_NOTEBOOK_BYTES are read: a link could hand in
    someone else's file (or the solution), a FIFO would hang the grader and the zero
    device would fill its memory.
    """
    if folder.is_symlink() or not folder.is_dir():
        return [], []
    files, passed = [], []
    for path in sorted(folder.glob("*.ipynb")):
        info = path.lstat()
        regular = stat.S_ISREG(info.st_mode) and info.st_size <= MAX_NOTEBOOK_BYTES
        (files if regular else passed).append(path)
    return files, passed


def handed_in(folder: Path, assignment: str) -> tuple[dict[str, Path], list[str]]:
    """The student's file for each notebook of the assignment, matched by name.

    When the assignment has one notebook and the student handed in one file
    under another name (learning platforms rename files), that file is taken.
    """
    wanted = source_notebooks(assignment)
    files, passed = submitted_files(folder)
    notes = [f"passed over {p.name}: not a regular file of at most {MAX_NOTEBOOK_BYTES // 2**20} MiB"
             for p in passed]
    by_name = {p.name: p for p in files}
    if len(wanted) == 1 and len(files) == 1 and wanted[0] not in by_name:
        return {wanted[0]: files[0]}, notes + [f"took {files[0].name} as {wanted[0]}"]
    return {name: by_name[name] for name in wanted if name in by_name}, notes


def grading_secret(out: Path) -> bytes:
    """The secret of the grading output ``out``: made on the first run and kept in ``OUT/``.

    Regrading into the same ``OUT`` draws the same cases, so grades are stable;
    nothing in the sandbox can read it.
    """
    path = out / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def case_seed(secret: bytes, job: Job, name: str, notebook: bytes) -> int:
    """The seed of one notebook's cases, in [0, 2**63).

    It depends on the secret and on the submitted bytes: inputs printed into one
    feedback and answered at home do not fit the next submission, nor anyone else's.
    """
    digest = hashlib.sha256(secret)
    for part in (job.student.encode(), job.assignment.encode(), name.encode(), notebook):
        digest.update(len(part).to_bytes(8, "little") + part)
    return int.from_bytes(digest.digest()[:8], "little") >> 1


def fingerprint(job: Job, secret: bytes) -> str:
    """Changes when the submission, the instructor's notebooks, the checks, the secret or this
    grader change."""
    digest = hashlib.sha256(Path(__file__).read_bytes() + secret)
    for path in submitted_files(job.folder)[0] + sorted((SOLUTIONS / job.assignment).glob("*.ipynb")):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(Path(checks_module(job.assignment).__file__).read_bytes())
    return digest.hexdigest()


def merge_log(nb, records: list[dict]) -> None:
    """Put the runner's outputs into the notebook's code cells (first record per cell)."""
    seen = set()
    for record in records:
        index = record.get("index")
        if index in seen or not isinstance(index, int) or not 0 <= index < len(nb.cells):
            continue
        seen.add(index)
        cell = nb.cells[index]
        if cell.cell_type != "code":
            continue
        for name in ("stdout", "stderr"):
            if record.get(name):
                cell.outputs.append(nbformat.v4.new_output("stream", name=name,
                                                           text=capped(record[name])))
        error = record.get("error")
        if isinstance(error, dict):
            evalue = capped(error.get("evalue"), 1000)
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename=capped(error.get("ename"), 100), evalue=evalue, traceback=[evalue]))


def show_verdicts(nb, scores: dict[str, dict]) -> None:
    """Test cells show the grader's verdict, not what the student's process reported for them
    (which it can forge: "All checks passed")."""
    for cell in nb.cells:
        verdict = scores.get(grade_id(cell)) if is_test(cell) else None
        if verdict is not None:
            text = f"Grader: {verdict['score']:g} / {verdict['max_score']:g} points"
            text += f". {verdict['message']}\n" if verdict["message"] else ".\n"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]


def capped(value, limit: int = OUTPUT_LIMIT) -> str:
    """A string from the sandbox, cut to ``limit`` characters."""
    text = str(value)
    return text[:limit] + f"\n[... cut at {limit} characters]" if len(text) > limit else text


def with_rubrics(nb, source) -> str:
    """The instructor's copy for the formgrader: each written answer followed by its rubric.

    The rubric is the solution cell's text (model answer and points). Feedback is
    made from the notebook without it, so students never see it.
    """
    rubrics = {grade_id(c): c.source for c in source.cells if is_manual(c)}
    copy = nbformat.from_dict(nb)
    cells = []
    for cell in copy.cells:
        cells.append(cell)
        if grade_id(cell) in rubrics:
            cells.append(nbformat.v4.new_markdown_cell(
                "**Model answer and rubric (instructor's copy, not shown to the student).**\n\n"
                + rubrics[grade_id(cell)]))
    copy.cells = cells
    return nbformat.writes(copy)


def grade_notebook(assignment: str, name: str, path: Path | None, limits: Limits,
                   bwrap: str | None, seed: int) -> dict:
    """Repair, run and judge one notebook of a submission, on cases drawn from ``seed``."""
    source = nbformat.read(SOLUTIONS / assignment / name, as_version=4)
    released = nbformat.read(NOTEBOOKS / assignment / name, as_version=4)
    nb, notes = rebuild(path, source, released)
    checks = checks_of(assignment)
    tests = {grade_id(c): c for c in nb.cells if is_test(c)}
    unchecked = set(tests) - set(checks)
    if unchecked:
        raise KeyError(f"{assignment} has test cells without a check: {sorted(unchecked)}")
    cells = [{"index": i, "source": c.source} for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    # The inputs folder is the grader's own; the sandbox sees it read-only, and it goes with the run.
    with tempfile.TemporaryDirectory(prefix="bptt-inputs-") as inputs:
        (Path(inputs) / "probe").mkdir()
        cases = {gid: write_inputs(gid, checks[gid], Path(inputs) / "probe", seed) for gid in tests}
        report = run_cells(cells, Path(inputs), limits, bwrap)
    merge_log(nb, report.cells)
    if report.dropped:
        notes.append(report.dropped)
    scores = {}
    for gid, cell in tests.items():
        points = float(cell.metadata["nbgrader"]["points"])
        message = judge(checks[gid], cases[gid], report.probes.get(gid))
        scores[gid] = {"score": 0.0 if message else points, "max_score": points,
                       "message": message or ""}
    show_verdicts(nb, scores)
    student_code = [c.source for c in nb.cells if c.cell_type == "code"
                    and (is_answer(c) or not c.metadata.get("nbgrader"))]
    stubs = {grade_id(c): c.source.strip() for c in released.cells if is_manual(c)}
    unanswered = [grade_id(c) for c in nb.cells
                  if grade_id(c) in stubs and c.source.strip() in ("", stubs[grade_id(c)])]
    nb = neutralise_notebook(nb)
    return {"scores": scores, "notes": notes, "ending": report.ending, "unanswered": unanswered,
            "sandboxed": report.sandboxed, "flags": scan(student_code),
            "executed": nbformat.writes(nb), "formgrader": with_rubrics(nb, source)}


def ungraded(assignment: str, name: str, reason: str) -> dict:
    """The result of a notebook that was not graded: no points, and the reason."""
    # The released notebook, not the source: feedback is made from this and must hold no answers.
    released = nbformat.read(NOTEBOOKS / assignment / name, as_version=4)
    scores = {grade_id(c): {"score": 0.0, "max_score": float(c.metadata["nbgrader"]["points"]),
                            "message": reason} for c in released.cells if is_test(c)}
    source = nbformat.read(SOLUTIONS / assignment / name, as_version=4)
    # blank: there is no written answer either, so none waits for the instructor.
    return {"scores": scores, "notes": [reason], "ending": None, "sandboxed": True, "blank": True,
            "flags": [], "executed": nbformat.writes(released),
            "formgrader": with_rubrics(released, source)}


def make_task(job: Job, secret: bytes, limits: Limits, sandbox: bool) -> Task:
    """The task of one submission: its files as handed in, and a case seed per notebook."""
    files, notes = handed_in(job.folder, job.assignment)
    notebooks = {name: path.read_bytes() for name, path in files.items()}
    seeds = {name: case_seed(secret, job, name, notebooks.get(name, b""))
             for name in source_notebooks(job.assignment)}
    return Task(job.student, job.assignment, notebooks if job.folder.is_dir() else None, seeds,
                tuple(notes), limits, sandbox, course_version()["course"])


def grade_task(task: Task) -> dict:
    """Grade one submission (on a worker, or in this machine's pool) and return its result."""
    if task.course != course_version()["course"]:
        # Checked when the worker first graded: a worker must restart to load an updated course.
        raise CourseMismatch("this worker grades with other course files than the client; "
                             "update its checkout and restart it (README, 'Grading on a cluster')")
    result = {"student": task.student, "assignment": task.assignment, "notes": list(task.notes),
              "notebooks": {}}
    names = source_notebooks(task.assignment)
    if task.notebooks is None:
        # Nothing handed in: zero points, and no sandbox to start for it.
        result["notebooks"] = {name: ungraded(task.assignment, name, "nothing handed in")
                               for name in names}
        return result
    bwrap = bubblewrap() if task.sandbox else None
    with tempfile.TemporaryDirectory(prefix="bptt-submission-") as folder:
        for name in names:
            path = None
            if name in task.notebooks:
                path = Path(folder) / name
                path.write_bytes(task.notebooks[name])
            try:
                result["notebooks"][name] = grade_notebook(task.assignment, name, path,
                                                           task.limits, bwrap, task.seeds[name])
            except Exception as error:  # one submission's failure must not stop the batch
                result["notebooks"][name] = ungraded(
                    task.assignment, name,
                    f"could not be graded ({type(error).__name__}: {error})")
    return result


def stored_result(out: Path, job: Job) -> Path:
    """Where the result of a submission is kept between runs."""
    return out / "results" / job.student / f"{job.assignment}.json"


def load_result(out: Path, job: Job, stamp: str) -> dict | None:
    """The stored result of a submission, if it was graded from the same files as now."""
    path = stored_result(out, job)
    if path.exists():
        previous = json.loads(path.read_text())
        if previous.get("fingerprint") == stamp:
            return previous
    return None


def store_result(out: Path, job: Job, result: dict) -> None:
    """Keep a finished result, written whole or not at all."""
    path = stored_result(out, job)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_file = path.with_suffix(".partial")
    partial_file.write_text(json.dumps(result))
    partial_file.replace(path)


def lost(job: Job, error: BaseException) -> dict:
    """The result of a task that never came back (its workers died): zero, kept out of results/
    so the next run grades it again."""
    reason = f"could not be graded ({type(error).__name__}: {error}); grade again to retry"
    return {"student": job.student, "assignment": job.assignment, "notes": [],
            "notebooks": {name: ungraded(job.assignment, name, reason)
                          for name in source_notebooks(job.assignment)}}


def out_of_step() -> list[str]:
    """Assignments whose released notebooks do not have the solutions' answer cells."""
    def answers(folder: Path, assignment: str) -> dict[str, list]:
        return {name: sorted(grade_id(c) for c in nbformat.read(folder / assignment / name,
                                                                as_version=4).cells if is_answer(c))
                for name in source_notebooks(assignment) if (folder / assignment / name).exists()}
    return [a for a in assignments() if answers(SOLUTIONS, a) != answers(NOTEBOOKS, a)]


def write_workspace_config(work: Path) -> None:
    """The grading course's nbgrader config: the course's own, re-rooted at ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(CONFIG_FILE)!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(work)!r}\n"
        "c.CourseDirectory.source_directory = 'source'\n"
        "c.CourseDirectory.release_directory = 'release'\n"
        f"c.CourseDirectory.db_url = {gradebook_url(work)!r}\n"
        "# The formgrader's own pass over markdown and outputs, after ours (autograder.sanitise).\n"
        "c.HTMLExporter.sanitize_html = True\n")


def prepare_course(work: Path) -> None:
    """The nbgrader course that holds the gradebook; assignments are added once, grades kept."""
    write_workspace_config(work)
    shutil.copytree(SOLUTIONS, work / "source", dirs_exist_ok=True)
    with Gradebook(gradebook_url(work)) as gradebook:
        known = {a.name for a in gradebook.assignments}
    for assignment in assignments():
        if assignment not in known:
            subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
                            "--force"], cwd=work, check=True, capture_output=True)


def record(work: Path, result: dict) -> None:
    """Write a submission's automatic scores and graded notebooks into the nbgrader course."""
    student, assignment = result["student"], result["assignment"]
    with Gradebook(gradebook_url(work)) as gradebook:
        gradebook.update_or_create_student(student)
        try:
            gradebook.find_submission(assignment, student)
        except MissingEntry:
            with warnings.catch_warnings():
                # nbgrader's own add_submission trips a harmless SQLAlchemy autoflush warning.
                warnings.simplefilter("ignore")
                gradebook.add_submission(assignment, student)
        for name, info in result["notebooks"].items():
            notebook = gradebook.find_submission_notebook(Path(name).stem, assignment, student)
            for grade in notebook.grades:
                if grade.name in info["scores"]:
                    grade.auto_score = info["scores"][grade.name]["score"]
                    grade.needs_manual_grade = False
                else:  # a written answer: the formgrader lists it until it has a score
                    grade.needs_manual_grade = grade.manual_score is None and not (
                        info.get("blank") or grade.name in info.get("unanswered", []))
        gradebook.db.commit()
    for name, info in result["notebooks"].items():
        target = work / "autograded" / student / assignment / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(info["formgrader"])


def manual_scores(gradebook: Gradebook, result: dict, name: str) -> dict[str, dict]:
    """The hand-graded cells of one notebook: score so far, points, and whether it is pending."""
    notebook = gradebook.find_submission_notebook(Path(name).stem, result["assignment"],
                                                  result["student"])
    def message(grade) -> str:
        if grade.manual_score is not None:
            return "graded by hand"
        return "to be graded by hand; not graded yet" if grade.needs_manual_grade else "no answer to grade"

    return {grade.name: {"score": grade.manual_score or 0.0, "max_score": grade.max_score,
                         "pending": grade.needs_manual_grade, "message": message(grade)}
            for grade in notebook.grades if grade.name not in result["notebooks"][name]["scores"]}


def status_of(result: dict, pending: bool = False) -> str:
    """One line for grades.csv: what was repaired, how the runs ended, what awaits a hand."""
    parts = list(result["notes"])
    for name, info in result["notebooks"].items():
        parts += info["notes"]
        if info["ending"] not in ("finished", None):  # None: never run, as a note says
            parts.append(f"{name}: {info['ending']}")
        if not info["sandboxed"]:
            parts.append("UNSANDBOXED")
    if pending:
        parts.append("written answers await grading")
    return "; ".join(parts) if parts else "graded"


def export(work: Path, out: Path, results: list[dict]) -> list[dict]:
    """grades.csv (automatic plus manual scores), feedback pages and the instructor's report."""
    rows = []
    with Gradebook(gradebook_url(work)) as gradebook:
        for result in results:
            student, assignment = result["student"], result["assignment"]
            submission = gradebook.find_submission(assignment, student)
            flags = sorted({f for info in result["notebooks"].values() for f in info["flags"]})
            manual = {name: manual_scores(gradebook, result, name) for name in result["notebooks"]}
            status = status_of(result, any(score["pending"] for scores in manual.values()
                                           for score in scores.values()))
            rows.append({"student_id": student, "assignment": assignment,
                         "score": f"{submission.score:g}", "max_score": f"{submission.max_score:g}",
                         "status": status, "flags": "; ".join(flags)})
            for name, info in result["notebooks"].items():
                header = (f"# Feedback on {assignment} for {student}\n\n"
                          f"Score for the assignment: {submission.score:g} of "
                          f"{submission.max_score:g} points. {escape(status)}.")
                nb = feedback_notebook(nbformat.reads(info["executed"], as_version=4),
                                       {**info["scores"], **manual[name]}, header)
                write_html(nb, out / "feedback" / student / assignment / f"{Path(name).stem}.html")
    partial_file = out / "grades.csv.partial"
    with partial_file.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows({key: spreadsheet_safe(value) for key, value in row.items()}
                         for row in rows)
    partial_file.replace(out / "grades.csv")
    return rows


def spreadsheet_safe(text: str) -> str:
    """A cell that a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(FORMULA) else text


def write_report(out: Path, rows: list[dict], alerts: list[str]) -> None:
    lines = ["# Grading report", ""]
    lines += [line for warning in alerts for line in (f"**{warning}**", "")]
    lines += ["| student | assignment | score | status | flags |", "|---|---|---|---|---|"]
    lines += [f"| {r['student_id']} | {r['assignment']} | {r['score']} / {r['max_score']} | "
              f"{escape(r['status'])} | {escape(r['flags'])} |" for r in rows]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def discover(submissions: Path) -> list[Job]:
    """Every (student, assignment) pair to grade, sorted; folders that are no student id are skipped."""
    jobs = []
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.is_symlink()):
        if not STUDENT_ID.match(folder.name):
            print(f"skipped folder {folder.name!r}: not a valid student id", file=sys.stderr)
            continue
        jobs += [Job(folder.name, a, folder / a) for a in assignments()]
    return jobs


def grade(submissions: Path, out: Path, workers: int = 2, limits: Limits = Limits(),
          sandbox: bool = True, scheduler: str | None = None) -> list[dict]:
    """Grade everything under ``submissions`` into ``out``; return the rows of grades.csv.

    Tasks run in a pool of ``workers`` processes here, or on the Dask cluster whose
    scheduler is at ``scheduler`` (``tcp://host:port``).
    """
    if not submissions.is_dir():
        raise ValueError(f"no submissions folder at {submissions}")
    out.mkdir(parents=True, exist_ok=True)
    secret = grading_secret(out)
    # nbgrader's gradebook runs the `alembic` command of its own environment.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    stale = out_of_step()
    if stale:
        raise SystemExit(f"notebooks/ is out of step with solutions/ in {stale}: run `make release`")
    work = out / "nbgrader"
    prepare_course(work)
    jobs = discover(submissions)
    stamps = {job: fingerprint(job, secret) for job in jobs}
    todo = [job for job in jobs if load_result(out, job, stamps[job]) is None]
    failed = {}
    try:
        with executor(workers, scheduler, sandbox) as grading:
            alerts = [alert for alert, missing in (
                (UNSANDBOXED, sandbox is False or not all(m["sandbox"] for m in grading.machines)),
                (UNLIMITED, not all(m["processes_limited"] for m in grading.machines))) if missing]
            for warning in alerts:
                print(warning, file=sys.stderr)
            with progress_bar(len(jobs), len(jobs) - len(todo)) as bar:
                for job, future in dispatch(grading, grade_task, todo,
                                            lambda job: make_task(job, secret, limits, sandbox)):
                    try:
                        store_result(out, job, {**future.result(), "fingerprint": stamps[job]})
                    except CourseMismatch:
                        raise
                    except Exception as error:  # the task itself was lost (its workers died)
                        failed[job] = lost(job, error)
                    bar.update()
                    bar.set_postfix(failed=len(failed), remaining=len(jobs) - bar.n)
    except CourseMismatch as error:
        raise SystemExit(str(error)) from None
    results = [failed.get(job) or load_result(out, job, stamps[job]) for job in jobs]
    shutil.rmtree(out / "feedback", ignore_errors=True)
    for result in results:
        record(work, result)
    rows = export(work, out, results)
    write_report(out, rows, alerts)
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.grade", description=__doc__.split("\n")[0])
    parser.add_argument("submissions", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cell-timeout", type=float, default=Limits.cell_seconds)
    parser.add_argument("--notebook-timeout", type=float, default=Limits.total_seconds)
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student code without bubblewrap (for machines without it)")
    parser.add_argument("--scheduler", default=None,
                        help="grade on the Dask cluster of this scheduler (tcp://host:8786)")
    args = parser.parse_args(argv)
    limits = Limits(cell_seconds=args.cell_timeout, total_seconds=args.notebook_timeout)
    rows = grade(args.submissions.resolve(), args.out.resolve(), args.workers, limits,
                 not args.no_sandbox, args.scheduler or None)
    for row in rows:
        print(f"{row['student_id']:>20} {row['assignment']}: {row['score']}/{row['max_score']} "
              f"({row['status']})")
    print(f"graded {len(rows)} submissions; grades in {args.out / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
