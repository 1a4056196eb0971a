"""Grading on a Dask cluster (``make grade SCHEDULER=...``): a real scheduler and workers on
127.0.0.1 give exactly the grades of one machine, survive a killed worker, skip what OUT
already holds, and refuse a worker whose course differs.

Every run goes through ``make grade``, as an instructor would type it.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
from distributed import Client
from nbgrader.api import Gradebook

from autograder.course import assignments
from autograder.grade import SECRET_FILE, gradebook_url
from tests.conftest import CH04, CH04_NOTEBOOK, ROOT, notebook_with_answers
from tests.test_grade import (CHEATS, OPTIONS, RELEASED, SOLUTION, plant_secret,
                              searches_the_machine, write)

DASK = Path(sys.executable).parent / "dask"
# Honest, blank, two cheats and a hostile search of the machine: quick, far from any limit.
CHEATERS = ("always-equal", "patched-numpy")
EXPECTED = {"alice": 11, "bob": 0, **{name: 0 for name in CHEATERS}, "searches-the-machine": 0}
WAIT_SECONDS = 60


class Cluster:
    """A ``dask scheduler`` and named ``dask worker`` processes on 127.0.0.1.

    Each process leads its own process group, so that killing one takes its nanny,
    its worker process and whatever they started with it.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes: dict[str, subprocess.Popen] = {}
        self.client = None

    def start_scheduler(self) -> None:
        # Port 0 and a scheduler file: the scheduler picks a free port and says which.
        address_file = self.folder / "scheduler.json"
        # A transition log long enough to keep every task of the module (graded_tasks).
        self.start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0",
                                 "--no-dashboard", "--scheduler-file", str(address_file)],
                   {**os.environ, "DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH": "100000"})
        self.address = self.wait(lambda: address_in(address_file), "the scheduler to start")
        self.client = Client(self.address, timeout="30s")

    def start(self, name: str, arguments: list[str], env: dict | None = None) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen([str(DASK), *arguments], stdout=log,
                                                stderr=subprocess.STDOUT, cwd=self.folder,
                                                env=env, start_new_session=True)
        log.close()

    def wait(self, condition, what: str):
        """The first true value of ``condition()``; fails with the logs when it takes too long."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            ended = [name for name, process in self.processes.items() if process.poll() is not None]
            assert not ended, f"{ended} ended while waiting for {what}:\n{self.logs()}"
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}:\n{self.logs()}")

    def add_workers(self, *names: str, env: dict | None = None) -> None:
        """Start one single-threaded worker per name and wait until all are connected."""
        for name in names:
            # A killed worker leaves its grading's temporary files behind: here, not in /tmp.
            scratch = self.folder / name
            scratch.mkdir()
            self.start(name, ["worker", self.address, "--name", name, "--host", "127.0.0.1",
                              "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                              "--local-directory", str(scratch)],
                       {**(env or os.environ), "TMPDIR": str(scratch)})
        self.wait(lambda: set(names) <= set(self.workers()), f"workers {names} to connect")

    def workers(self) -> dict[str, str]:
        """The connected workers' addresses, by name."""
        return {info["name"]: address
                for address, info in self.client.scheduler_info()["workers"].items()}

    def kill(self, name: str) -> None:
        """SIGKILL a process group, as a machine lost or out of memory would end it."""
        process = self.processes.pop(name)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def remove(self, name: str) -> None:
        """Kill a worker and wait until the scheduler has let it go."""
        self.kill(name)
        self.wait(lambda: name not in self.workers(), f"worker {name} to leave")

    def graded_tasks(self) -> set[str]:
        """Every grading task the scheduler has seen."""
        log = self.client.run_on_scheduler(lambda dask_scheduler: [
            str(t.key) for t in dask_scheduler.transition_log])
        return {key for key in log if key.startswith("grade_task-")}

    def story(self, key: str) -> list[str]:
        """The states the scheduler moved a task into, in order."""
        return self.client.run_on_scheduler(lambda dask_scheduler: [
            t.finish for t in dask_scheduler.story(key)])

    def logs(self) -> str:
        """The end of every process's log."""
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
                         for path in sorted(self.folder.glob("*.log")))

    def close(self) -> None:
        """Kill every process group, the scheduler last."""
        if self.client is not None:
            self.client.close()
        for name in sorted(self.processes, key=lambda name: name == "scheduler"):
            self.kill(name)


def address_in(scheduler_file: Path) -> str | None:
    """The scheduler's address, once it has written its file whole."""
    try:
        return json.loads(scheduler_file.read_text())["address"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler with two workers, ``a`` and ``b``; the last test kills ``b``."""
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start_scheduler()
        cluster.add_workers("a", "b")
        yield cluster
    finally:
        cluster.close()


@contextmanager
def grading(submissions: Path, out: Path, log: Path, scheduler: str | None = None):
    """A ``make grade`` run (on the cluster when ``scheduler`` is given), its output in ``log``.

    It runs in its own process group, killed whole if the test ends first.
    """
    command = ["make", "--no-print-directory", "grade", f"SUBMISSIONS={submissions}", f"OUT={out}",
               f"GRADE_OPTIONS={OPTIONS}", *([f"SCHEDULER={scheduler}"] if scheduler else [])]
    with log.open("w") as handle:
        run = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        yield run
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()


def run_grade(submissions: Path, out: Path, scheduler: str | None = None) -> tuple[int, str]:
    """A whole ``make grade`` run: its exit status and output."""
    log = out.with_name(out.name + ".log")
    with grading(submissions, out, log, scheduler) as run:
        returncode = run.wait(timeout=900)
    return returncode, log.read_text()


def write_batch(folder: Path, scratch: Path) -> None:
    """Submissions of the ch04 assignment; every student's other assignments are missing."""
    submissions = lambda student: folder / student / CH04  # noqa: E731
    shutil.copytree(SOLUTION.parent, submissions("alice"))
    shutil.copytree(RELEASED.parent, submissions("bob"))
    for name in CHEATERS:
        write(notebook_with_answers(RELEASED, CHEATS[name]), submissions(name) / CH04_NOTEBOOK)
    (scratch / "home").mkdir()
    key, _ = plant_secret(scratch / "home")
    checkout = scratch / "checkout"
    shutil.copytree(ROOT / "solutions", checkout / "solutions")
    write(notebook_with_answers(RELEASED, searches_the_machine(key, checkout)),
          submissions("searches-the-machine") / CH04_NOTEBOOK)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The batch, graded on this machine alone into a fresh OUT."""
    folder = tmp_path_factory.mktemp("local")
    write_batch(folder / "submissions", folder)
    local = {"submissions": folder / "submissions", "out": folder / "out"}
    returncode, output = run_grade(local["submissions"], local["out"])
    assert returncode == 0, output[-3000:]
    local["grades"] = (local["out"] / "grades.csv").read_bytes()
    local["course"] = without_students(local["out"] / "nbgrader", folder / "course")
    return local


def without_students(work: Path, copy: Path) -> Path:
    """A copy of a grading course with every student removed: the course as ``prepare_course``
    makes it, without the minute nbgrader takes to generate its assignments."""
    shutil.copytree(work, copy, ignore=shutil.ignore_patterns("autograded"))
    with Gradebook(gradebook_url(copy)) as gradebook:
        for student in [student.id for student in gradebook.students]:
            gradebook.remove_student(student)
    return copy


def cluster_out(local: dict, out: Path) -> Path:
    """A new OUT with the local run's course (without students) and grading secret."""
    shutil.copytree(local["course"], out / "nbgrader")
    # The secret draws each notebook's cases: the same grades need the same secret.
    shutil.copy2(local["out"] / SECRET_FILE, out / SECRET_FILE)
    return out


def rows_of(grades: bytes) -> list[dict]:
    """The rows of a grades.csv."""
    return list(csv.DictReader(grades.decode().splitlines()))


def test_the_local_run_grades_as_the_red_team_expects(local):
    scores = {row["student_id"]: float(row["score"]) for row in rows_of(local["grades"])
              if row["assignment"] == CH04}
    assert scores == EXPECTED


def test_the_cluster_gives_the_grades_of_one_machine(local, cluster, tmp_path):
    out = cluster_out(local, tmp_path / "out")
    before = cluster.graded_tasks()
    returncode, output = run_grade(local["submissions"], out, cluster.address)
    assert returncode == 0, output[-3000:] + cluster.logs()
    assert (out / "grades.csv").read_bytes() == local["grades"]
    # Every submission went to the workers as a task of its own.
    assert len(cluster.graded_tasks() - before) == len(EXPECTED) * len(assignments())


def test_a_worker_with_another_course_is_refused(local, cluster, tmp_path):
    copy = tmp_path / "course"
    for folder in ("autograder", "bptt", "solutions", "notebooks"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    notebook = copy / "solutions" / CH04 / CH04_NOTEBOOK
    changed = notebook.read_bytes()
    assert changed.endswith(b"\n")
    notebook.write_bytes(changed[:-1] + b" ")  # one byte, and the JSON still reads the same
    cluster.add_workers("odd", env={**os.environ, "PYTHONPATH": str(copy)})
    try:
        workers = cluster.workers()
        # The course is installed editable; PYTHONPATH must still win on that worker.
        roots = cluster.client.run(lambda: str(importlib.import_module("autograder.course").ROOT),
                                   workers=[workers["odd"]])
        assert roots == {workers["odd"]: str(copy)}
        out = cluster_out(local, tmp_path / "out")
        returncode, output = run_grade(local["submissions"], out, cluster.address)
    finally:
        cluster.remove("odd")
    assert returncode != 0
    assert "refusing to grade on this cluster" in output, output[-3000:]
    assert f"worker {workers['odd']}: course is" in output, output[-3000:]
    assert workers["a"] not in output, "a worker with the same course was refused"
    assert not (out / "results").exists() and not (out / "grades.csv").exists(), "it graded"


def running_task(cluster: Cluster, worker: str, run: subprocess.Popen) -> str:
    """A task the worker holds in two polls in a row while ``run`` goes on: one being graded."""
    held = set()
    while run.poll() is None:
        now = set(cluster.client.processing([worker]).get(worker, ()))
        if now & held:
            return (now & held).pop()
        held = now
        time.sleep(0.25)
    raise AssertionError("the run ended before the worker held a task")


def test_a_killed_worker_costs_no_student_and_a_rerun_skips_stored_results(local, cluster,
                                                                              tmp_path):
    """Kills worker ``b`` for good: this test comes last."""
    out = cluster_out(local, tmp_path / "out")
    # The results of a run that stopped after every submission but the handed-in notebooks.
    for result in (local["out"] / "results").rglob("*.json"):
        if result.stem != CH04:
            target = out / result.relative_to(local["out"])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(result, target)
    before = cluster.graded_tasks()
    victim = cluster.workers()["b"]
    with grading(local["submissions"], out, tmp_path / "grade.log", cluster.address) as run:
        lost = running_task(cluster, victim, run)
        cluster.kill("b")
        returncode = run.wait(timeout=900)
    assert returncode == 0, (tmp_path / "grade.log").read_text()[-3000:] + cluster.logs()
    grades = (out / "grades.csv").read_bytes()
    pairs = Counter((row["student_id"], row["assignment"]) for row in rows_of(grades))
    assert set(pairs) == {(s, a) for s in EXPECTED for a in assignments()}
    assert set(pairs.values()) == {1}
    assert grades == local["grades"]
    # The killed worker's task was started again and finished, on the worker that was left.
    states = cluster.story(lost)
    assert states.count("processing") >= 2 and "memory" in states, states
    # Only the submissions without a stored result were sent to the cluster.
    assert len(cluster.graded_tasks() - before) == len(EXPECTED)
