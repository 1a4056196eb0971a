"""``make benchmark [N=4]``: how fast grading runs here and on a Dask cluster, and what it costs.

Grades N copies of every assignment's solution four ways: in a pool of 1 and of 2
processes on this machine, and on a Dask cluster of 1 and of 2 single-threaded
workers (a ``distributed.LocalCluster``, reached through its scheduler's address
like any cluster, so that ``--scheduler``'s code path runs). Each way times the
grading phase of ``make grade``: every submission sent as a task, graded, and its
result stored. Its start-up (starting the workers, and a warm-up of empty
submissions in which they import the grader) is timed apart; before any way, one
student's work is graded once, untimed, so that no way pays for cold caches. A last
``grade`` over the stored results times what stays on the instructor's machine:
gradebook, grades.csv, feedback pages and report. From these the benchmark prints a
cost model that predicts the wall time of a large course on many workers.

``--nbgrader`` also times plain sequential ``nbgrader autograde`` (slow).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path

from autograder.cluster import dispatch, executor
from autograder.course import SOLUTIONS, assignments
from autograder.grade import (discover, fingerprint, grade, grading_secret, make_task,
                              grade_task, prepare_course, store_result, write_workspace_config)
from autograder.sandbox import CGROUPS, Limits

WAYS = (("local pool", 1), ("local pool", 2), ("Dask", 1), ("Dask", 2))
COURSES = (6_000, 60_000)
CLUSTER_WORKERS = 64
IDLE_SECONDS = 2.0


@dataclass(frozen=True)
class Measure:
    """One way of grading: its start-up, and its grading phase in wall and CPU seconds
    (of the workers with their sandboxes, and of this client for its tasks)."""

    way: str
    workers: int
    startup: float
    wall: float
    client_cpu: float
    worker_cpu: float | None


def write_submissions(folder: Path, copies: int) -> None:
    """``copies`` students, each handing in the solution of every assignment."""
    for i in range(copies):
        for assignment in assignments():
            shutil.copytree(SOLUTIONS / assignment, folder / f"student{i:03d}" / assignment)


def own_cgroup(controller: str) -> Path | None:
    """The cgroup (v1) of this process for ``controller``, if it has one."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return CGROUPS / controller / path.lstrip("/")
    return None


@contextmanager
def cpu_clock():
    """A clock of the CPU seconds used by this process and everything it starts from now on.

    ``getrusage`` does not see the sandbox's processes, so the clock is a cpuacct cgroup
    (v1, root) that this process joins and its children inherit; where none can be made,
    the clock reads None.
    """
    own = own_cgroup("cpuacct")
    group = own and own / f"bptt-benchmark-{os.getpid()}"
    try:
        group.mkdir()
        (group / "cgroup.procs").write_text(str(os.getpid()))
    except (AttributeError, OSError):
        yield lambda: None
        return
    try:
        yield lambda: int((group / "cpuacct.usage").read_text()) / 1e9
    finally:
        # Multiprocessing's resource tracker outlives the clock: it leaves the group too.
        for pid in (group / "cgroup.procs").read_text().split():
            with suppress(OSError):
                (own / "cgroup.procs").write_text(pid)
        with suppress(OSError):
            group.rmdir()


@contextmanager
def dask_cluster(workers: int):
    """The address of a fresh Dask cluster of ``workers`` single-threaded worker processes."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        yield cluster.scheduler_address


def run_all(grading, jobs, out: Path, secret: bytes) -> None:
    """Grade ``jobs`` and store their results, as ``grade`` does."""
    limits = Limits()
    for job, future in dispatch(grading, grade_task, jobs,
                                lambda job: make_task(job, secret, limits, True)):
        store_result(out, job, {**future.result(), "fingerprint": fingerprint(job, secret)})


def warm_caches(jobs: list, out: Path) -> None:
    """Grade ``jobs`` once, untimed, so that the first way timed does not pay for cold caches
    (the sandbox's first runs read the interpreter and packages from disk)."""
    out.mkdir()
    with executor(1, None, sandbox=True) as grading:
        run_all(grading, jobs, out, grading_secret(out))


def measure(way: str, workers: int, jobs: list, warm_up: list, out: Path, clock) -> Measure:
    """Time one way of grading ``jobs`` into ``out``.

    The warm-up grades empty submissions first, so that each worker has imported the grader
    before the clock starts (local pool processes are forked with it already imported). The
    client's CPU counts its work per task: what it (and a local scheduler) spends while idle
    is measured first and taken off.
    """
    out.mkdir()
    secret = grading_secret(out)
    start = time.perf_counter()
    with (dask_cluster(workers) if way == "Dask" else nullcontext(None)) as scheduler:
        with executor(workers, scheduler, sandbox=True) as grading:
            run_all(grading, warm_up, out, secret)
            startup = time.perf_counter() - start
            idle = time.process_time()
            time.sleep(IDLE_SECONDS)
            background = (time.process_time() - idle) / IDLE_SECONDS
            cpu, client, start = clock(), time.process_time(), time.perf_counter()
            run_all(grading, jobs, out, secret)
            wall, client = time.perf_counter() - start, time.process_time() - client
            cpu = None if cpu is None else clock() - cpu - client
    return Measure(way, workers, startup, wall, client - background * wall, cpu)


def after_grading(submissions: Path, out: Path, course: Path) -> tuple[float, float]:
    """Seconds to prepare the nbgrader course once, then for ``grade`` to write everything
    from the stored results in ``out``: gradebook, grades.csv, feedback and report."""
    start = time.perf_counter()
    prepare_course(course)
    prepared = time.perf_counter() - start
    shutil.copytree(course, out / "nbgrader")
    stored = {path: path.stat().st_mtime_ns for path in (out / "results").rglob("*.json")}
    start = time.perf_counter()
    grade(submissions, out)
    written = time.perf_counter() - start
    if stored != {path: path.stat().st_mtime_ns for path in (out / "results").rglob("*.json")}:
        raise RuntimeError("grade graded again instead of taking the stored results")
    return prepared, written


def full_marks(out: Path) -> int:
    """How many stored results earned every automatic point."""
    results = [json.loads(path.read_text()) for path in (out / "results").rglob("*.json")]
    return sum(all(score["score"] == score["max_score"] for notebook in result["notebooks"].values()
                   for score in notebook["scores"].values()) for result in results)


def plain_nbgrader(submissions: Path, work: Path) -> None:
    """Sequential nbgrader autograde of every submission, as nbgrader alone would do it."""
    write_workspace_config(work)
    shutil.copytree(SOLUTIONS, work / "source")
    shutil.copytree(submissions, work / "submitted")
    for assignment in assignments():
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
                        "--force"], cwd=work, check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"],
                       cwd=work, check=True, capture_output=True)


def duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def label(m: Measure) -> str:
    """``Dask, 2 workers``, ``local pool, 1 process``."""
    unit = "worker" if m.way == "Dask" else "process"
    plural = "" if m.workers == 1 else "s" if m.way == "Dask" else "es"
    return f"{m.way}, {m.workers} {unit}{plural}"


def per_task(seconds: float | None, count: int) -> str:
    return "unknown" if seconds is None else f"{seconds / count:.3f}s"


def report(count: int, measures: list[Measure], prepared: float, written: float) -> None:
    """The table of rates and efficiencies, and the cost model they give."""
    by = {(m.way, m.workers): m for m in measures}
    print(f"\n{'':<24}{'start-up':>9}{'grading':>9}{'per task':>9}{'tasks/s':>8}"
          f"{'efficiency':>11}{'CPU/task: workers':>19}{'client':>8}")
    for m in measures:
        one = by[(m.way, 1)]
        efficiency = f"{one.wall / (m.workers * m.wall):.2f}" if m.workers > 1 else ""
        print(f"{label(m):<24}{m.startup:>8.1f}s{m.wall:>8.1f}s{m.wall / count:>8.2f}s"
              f"{count / m.wall:>8.2f}{efficiency:>11}{per_task(m.worker_cpu, count):>19}"
              f"{per_task(m.client_cpu, count):>8}")
    print("efficiency = rate with 2 / (2 x rate with 1); one task grades one submission;\n"
          "CPU of the workers with their sandboxes, and of this client (with a local scheduler)")
    print(f"preparing the nbgrader course (once per OUT): {prepared:.1f} s")
    print(f"after grading, on the instructor's machine (gradebook, grades.csv, feedback, report): "
          f"{written:.1f} s, {written / count:.2f} s per submission")

    local, dask = by[("local pool", 1)], by[("Dask", 1)]
    w, o = local.wall / count, (dask.wall - local.wall) / count
    k, c = dask.client_cpu / count, written / count
    print("\nCost model: n submissions on W single-threaded workers")
    print(f"  s = CPU per submission on one worker (grader and sandbox): "
          f"{per_task(local.worker_cpu, count)}")
    print(f"  w = wall per submission on one worker (pool of 1): {w:.2f} s")
    print(f"  o = overhead per task (Dask 1 worker minus pool of 1): {o:+.2f} s")
    print(f"  k = CPU of client and scheduler per task on Dask: {k:.3f} s (at most 1/k tasks/s)")
    print(f"  c = instructor's machine after grading, per submission: {c:.2f} s")
    print("  T(n, W) = max(n (w + o) / W, n k) + n c, plus start-up and one course preparation")
    for n in COURSES:
        grading = max(n * (w + o) / CLUSTER_WORKERS, n * k)
        print(f"  n = {n:>6,}, W = {CLUSTER_WORKERS}: grading {duration(grading)} + after grading "
              f"{duration(n * c)} = {duration(grading + n * c)}")


def nbgrader_comparison(submissions: Path, work: Path, measures: list[Measure],
                        written: float) -> None:
    """Plain sequential nbgrader against ``make grade`` with a pool of 2, per submission."""
    count = len(discover(submissions))
    start = time.perf_counter()
    plain_nbgrader(submissions, work)
    plain = (time.perf_counter() - start) / count
    pool = next(m for m in measures if (m.way, m.workers) == ("local pool", 2))
    ours = (pool.wall + written) / count
    print(f"\nplain sequential nbgrader autograde: {plain:.2f} s per submission; make grade with "
          f"a pool of 2, grading and after: {ours:.2f} s ({plain / ours:.1f} times faster)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.benchmark",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("copies", type=int, nargs="?", default=4,
                        help="copies of the solutions to grade (each is one per assignment)")
    parser.add_argument("--nbgrader", action="store_true",
                        help="also time plain sequential nbgrader autograde")
    args = parser.parse_args(argv)
    # nbgrader's gradebook runs the `alembic` command of its own environment.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    with tempfile.TemporaryDirectory(prefix="bptt-benchmark-") as scratch, cpu_clock() as clock:
        scratch = Path(scratch)
        write_submissions(scratch / "submissions", args.copies)
        (scratch / "warm-up" / "nobody").mkdir(parents=True)
        jobs, warm_up = discover(scratch / "submissions"), discover(scratch / "warm-up")
        print(f"{len(jobs)} submissions ({args.copies} copies of the solutions of "
              f"{len(assignments())} assignments) on {os.cpu_count()} cores; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        warm_caches(jobs[:len(assignments())], scratch / "out-warm-up")
        measures = []
        for way, workers in WAYS:
            out = scratch / f"out-{way.replace(' ', '-')}-{workers}"
            measures.append(measure(way, workers, jobs, warm_up, out, clock))
            print(f"  {label(measures[-1])}: {measures[-1].wall:.1f} s; {full_marks(out)} of "
                  f"{len(jobs)} submissions earned every automatic point", flush=True)
        prepared, written = after_grading(scratch / "submissions", out, scratch / "course")
        print(f"load at the end {os.getloadavg()[0]:.2f}")
        report(len(jobs), measures, prepared, written)
        if args.nbgrader:
            nbgrader_comparison(scratch / "submissions", scratch / "plain", measures, written)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
