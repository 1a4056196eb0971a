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

Submissions are graded in parallel, each on its own; their results are then
written in a fixed order into the nbgrader gradebook of ``OUT/nbgrader/``
(where manual grades, given in the formgrader, are kept across runs), and
exported to ``OUT/grades.csv``, ``OUT/feedback/<student>/<assignment>/*.html``
and ``OUT/report.md``. A finished submission's result is stored under
``OUT/results/``; an interrupted run picks up where it stopped.
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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.course import (CONFIG_FILE, MAX_NOTEBOOK_BYTES, NOTEBOOKS, SOLUTIONS,
                               assignments, source_notebooks)
from autograder.feedback import feedback_notebook, write_html
from autograder.repair import grade_id, is_answer, is_manual, is_test, rebuild
from autograder.sanitise import escape, neutralise_notebook
from autograder.reference.judging import judge, write_inputs
from autograder.sandbox import Limits, bubblewrap, processes_limited, run_cells
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


def grade_notebook(job: Job, name: str, path: Path | None, limits: Limits,
                   bwrap: str | None, secret: bytes) -> dict:
    """Repair, run and judge one notebook of a submission."""
    source = nbformat.read(SOLUTIONS / job.assignment / name, as_version=4)
    released = nbformat.read(NOTEBOOKS / job.assignment / name, as_version=4)
    nb, notes = rebuild(path, source, released)
    checks = checks_of(job.assignment)
    tests = {grade_id(c): c for c in nb.cells if is_test(c)}
    unchecked = set(tests) - set(checks)
    if unchecked:
        raise KeyError(f"{job.assignment} has test cells without a check: {sorted(unchecked)}")
    cells = [{"index": i, "source": c.source} for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    # The inputs folder is the grader's own; the sandbox sees it read-only, and it goes with the run.
    with tempfile.TemporaryDirectory(prefix="bptt-inputs-") as inputs:
        (Path(inputs) / "probe").mkdir()
        seed = case_seed(secret, job, name, path.read_bytes() if path else b"")
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


def grade_submission(job: Job, out: Path, limits: Limits, bwrap: str | None) -> dict:
    """Grade one submission and store its result (the unit of parallel work and of resuming)."""
    stored = out / "results" / job.student / f"{job.assignment}.json"
    secret = grading_secret(out)
    stamp = fingerprint(job, secret)
    if stored.exists():
        previous = json.loads(stored.read_text())
        if previous.get("fingerprint") == stamp:
            return previous
    files, notes = handed_in(job.folder, job.assignment)
    result = {"student": job.student, "assignment": job.assignment, "fingerprint": stamp,
              "notes": notes, "notebooks": {}}
    if not job.folder.is_dir():
        # Nothing handed in: zero points, and no sandbox to start for it.
        result["notebooks"] = {name: ungraded(job.assignment, name, "nothing handed in")
                               for name in source_notebooks(job.assignment)}
        return result
    for name in source_notebooks(job.assignment):
        try:
            result["notebooks"][name] = grade_notebook(job, name, files.get(name), limits, bwrap,
                                                        secret)
        except Exception as error:  # one submission's failure must not stop the batch
            result["notebooks"][name] = ungraded(
                job.assignment, name, f"could not be graded ({type(error).__name__}: {error})")
    stored.parent.mkdir(parents=True, exist_ok=True)
    partial_file = stored.with_suffix(".partial")
    partial_file.write_text(json.dumps(result))
    partial_file.replace(stored)
    return result


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
          sandbox: bool = True) -> list[dict]:
    """Grade everything under ``submissions`` into ``out``; return the rows of grades.csv."""
    if not submissions.is_dir():
        raise ValueError(f"no submissions folder at {submissions}")
    out.mkdir(parents=True, exist_ok=True)
    grading_secret(out)
    # nbgrader's gradebook runs the `alembic` command of its own environment.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    bwrap = bubblewrap() if sandbox else None
    alerts = [alert for alert, missing in ((UNSANDBOXED, bwrap is None),
                                           (UNLIMITED, not processes_limited())) if missing]
    for warning in alerts:
        print(warning, file=sys.stderr)
    stale = out_of_step()
    if stale:
        raise SystemExit(f"notebooks/ is out of step with solutions/ in {stale}: run `make release`")
    work = out / "nbgrader"
    prepare_course(work)
    run = partial(grade_submission, out=out, limits=limits, bwrap=bwrap)
    jobs = discover(submissions)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(run, jobs))
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
    args = parser.parse_args(argv)
    limits = Limits(cell_seconds=args.cell_timeout, total_seconds=args.notebook_timeout)
    rows = grade(args.submissions.resolve(), args.out.resolve(), args.workers, limits,
                 not args.no_sandbox)
    for row in rows:
        print(f"{row['student_id']:>20} {row['assignment']}: {row['score']}/{row['max_score']} "
              f"({row['status']})")
    print(f"graded {len(rows)} submissions; grades in {args.out / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
