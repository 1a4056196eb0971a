"""Where submissions are graded: a process pool here, or the workers of a Dask cluster.

``make grade SUBMISSIONS=dir OUT=dir SCHEDULER=tcp://host:8786`` sends each
submission to a Dask cluster as one task (``autograder.grade.grade_task``). A
worker gets one student's notebooks and the seeds of their cases, never the
grading secret, other students' work or anything of ``OUT``, and returns the
result; this machine keeps what must stay single (results, gradebook,
grades.csv, feedback, report). Workers grade with their own checkout of the
course: before any task, each must report the same course files and package
versions as this machine, and a working sandbox when one is asked for, or the
run is refused. A worker that dies mid-task has its task run again elsewhere
(Dask's own rescheduling).
"""

from __future__ import annotations

import hashlib
import platform
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from itertools import islice

from tqdm import tqdm

from autograder.course import ROOT
from autograder.sandbox import bubblewrap, processes_limited

# What grading runs on: another version of any of these may grade differently.
PACKAGES = ("numpy", "torch", "nbformat", "nbclient", "nbgrader", "ipykernel", "jupyter_client",
            "distributed")
# The course files a worker grades with: code, answers and checks, and both editions of the
# notebooks (grading rebuilds a submission on them).
COURSE_FILES = ("autograder/**/*.py", "bptt/**/*.py", "bptt/data/*.npz", "solutions/*/*.ipynb",
                "notebooks/*/*.ipynb")
# Tasks queued per worker slot: enough to keep every worker busy, few enough that the
# client never holds the notebooks of a whole course at once.
QUEUED_PER_SLOT = 2


class CourseMismatch(RuntimeError):
    """A worker would grade with other course files or packages than this machine."""


@dataclass(frozen=True)
class Grading:
    """Where tasks run: an executor, how many tasks it runs at once, and its machines' reports."""

    pool: Executor
    slots: int
    machines: list[dict]


@cache
def course_version() -> dict[str, str]:
    """A digest of this machine's course files, and its Python and package versions."""
    digest = hashlib.sha256()
    for path in sorted({p for pattern in COURSE_FILES for p in ROOT.glob(pattern)}):
        name = path.relative_to(ROOT).as_posix().encode()
        digest.update(len(name).to_bytes(8, "little") + name + path.read_bytes())
    return {"course": digest.hexdigest(), "python": platform.python_version(),
            **{package: version(package) for package in PACKAGES}}


def machine() -> dict:
    """What a machine grades with: ``course_version`` and what its sandbox can do."""
    return {**course_version(), "sandbox": bubblewrap() is not None,
            "processes_limited": processes_limited()}


def refusals(ours: dict, theirs: dict[str, dict], sandbox: bool) -> list[str]:
    """Why each worker (by address) may not grade for this machine; empty when all may."""
    problems = []
    for worker, report in sorted(theirs.items()):
        found = [f"{key} is {report.get(key)!r} there, {value!r} here"
                 for key, value in course_version().items() if report.get(key) != value]
        if sandbox and not report.get("sandbox"):
            found.append("it has no working bubblewrap sandbox")
        if found:
            problems.append(f"worker {worker}: " + "; ".join(found))
    return problems


def check_workers(client, sandbox: bool) -> list[dict]:
    """Every worker's ``machine`` report; refuses a cluster whose workers differ from us."""
    reports = client.run(machine)
    if not reports:
        raise CourseMismatch(f"no worker is connected to the scheduler {client.scheduler.address}")
    problems = refusals(machine(), reports, sandbox)
    if problems:
        raise CourseMismatch(
            "refusing to grade on this cluster: its workers must run the same course checkout "
            "and packages as this machine (see the README, 'Grading on a cluster').\n"
            + "\n".join(problems))
    return list(reports.values())


@contextmanager
def executor(workers: int, scheduler: str | None, sandbox: bool) -> Iterator[Grading]:
    """A pool of ``workers`` processes here, or the Dask cluster at ``scheduler``."""
    if scheduler is None:
        with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
            yield Grading(pool, max(1, workers), [machine()])
        return
    from distributed import Client

    with Client(scheduler, timeout="30s") as client:
        machines = check_workers(client, sandbox)
        # pure=False: two identical submissions are still two tasks with two results.
        with client.get_executor(pure=False) as pool:
            yield Grading(pool, max(1, sum(client.nthreads().values())), machines)


def dispatch(grading: Grading, function: Callable, items: Iterable, task_of: Callable
             ) -> Iterator[tuple[object, Future]]:
    """Run ``function(task_of(item))`` for each item; yield ``(item, future)`` as each ends.

    At most QUEUED_PER_SLOT tasks per slot are queued at a time, and a task is made
    only when it is queued.
    """
    waiting, running = iter(items), {}

    def refill() -> None:
        for item in islice(waiting, QUEUED_PER_SLOT * grading.slots - len(running)):
            running[grading.pool.submit(function, task_of(item))] = item

    refill()
    while running:
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            yield running.pop(future), future
        refill()


def progress_bar(total: int, done: int) -> tqdm:
    """The bar of a grading run on stderr: submissions done of all, with failed and remaining."""
    return tqdm(total=total, initial=done, desc="grading", unit="submission", file=sys.stderr,
                dynamic_ncols=True)
