"""Run student code in a sandbox: bubblewrap namespaces, resource limits and a pids cgroup.

Inside, the code runs as an unprivileged user (uid 65534 in a user namespace)
with every capability dropped, without network, in its own PID namespace. The
file system is read-only except for its scratch folder, and the course's
secrets (solutions, gradebooks, other submissions, the reference answers)
are covered by empty folders; so is torch, which no graded exercise may use.
Limits bound memory, CPU time, file size and the number of processes (with a
pids cgroup where root can create one, else with RLIMIT_NPROC). Where bubblewrap cannot
run, the code runs with the resource limits only, and the grading report
says loudly that it was not sandboxed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import ROOT

PIDS_CGROUP = Path("/sys/fs/cgroup/pids")
NOBODY = "65534"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run."""

    memory_bytes: int = 4 * 2**30
    cpu_seconds: int = 300
    file_bytes: int = 64 * 2**20
    processes: int = 64
    cell_seconds: float = 30.0
    total_seconds: float = 180.0


@dataclass
class RunReport:
    """What happened to one run: its per-cell log and how it ended."""

    cells: list[dict] = field(default_factory=list)
    ending: str = "finished"
    sandboxed: bool = True


def bubblewrap() -> str | None:
    """Path of a working ``bwrap``, or None where it is missing or cannot create namespaces."""
    path = shutil.which("bwrap")
    if path is None or not sys.platform.startswith("linux"):
        return None
    probe = subprocess.run([path, "--ro-bind", "/", "/", "--unshare-user", "--unshare-net",
                            "true"], capture_output=True)
    return path if probe.returncode == 0 else None


def _torch_folder() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("torch")
    return Path(spec.origin).parent if spec and spec.origin else None


def hidden_paths(extra: list[Path]) -> list[Path]:
    """Folders that sandboxed code must find empty."""
    hidden = [ROOT / "bptt" / "reference"]
    torch = _torch_folder()
    if torch is not None:
        hidden.append(torch)
    return hidden + [p.resolve() for p in extra]


def bwrap_command(bwrap: str, scratch: Path, hide: list[Path]) -> list[str]:
    """The bubblewrap prefix: read-only system, the course tree reduced to code, scratch writable."""
    command = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--tmpfs", "/tmp", "--tmpfs", str(ROOT)]
    for keep in ("bptt", "autograder", ".venv"):
        if (ROOT / keep).exists():
            command += ["--ro-bind", str(ROOT / keep), str(ROOT / keep)]
    for path in hidden_paths(hide):
        if path.exists():
            command += ["--tmpfs", str(path)]
    command += ["--bind", str(scratch), str(scratch),
                "--unshare-user", "--uid", NOBODY, "--gid", NOBODY, "--unshare-pid",
                "--unshare-net", "--unshare-ipc", "--unshare-uts", "--cap-drop", "ALL",
                "--die-with-parent", "--new-session", "--chdir", str(scratch)]
    return command


def _environment(scratch: Path) -> dict[str, str]:
    """A small, fixed environment; OpenBLAS settings are kept because they guard correctness."""
    env = {key: value for key, value in os.environ.items() if key.startswith("OPENBLAS_")}
    env.update({"HOME": str(scratch / "home"), "TMPDIR": "/tmp", "PATH": "/usr/bin:/bin",
                "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
                "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "BPTT_PROBE_DIR": str(scratch / "probe")})
    return env


class PidsCgroup:
    """A pids cgroup (v1) that bounds the number of processes, where root can create one."""

    def __init__(self, limit: int):
        self.path = PIDS_CGROUP / "bptt-grading" / uuid.uuid4().hex
        try:
            self.path.mkdir(parents=True)
            (self.path / "pids.max").write_text(str(limit))
        except OSError:
            self.path = None

    def enter(self) -> None:
        """Move the calling process into the cgroup (called in the child before exec)."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def close(self) -> None:
        if self.path is None:
            return
        for _ in range(50):
            pids = (self.path / "cgroup.procs").read_text().split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def _processes_of_this_user() -> int:
    """How many processes the current user runs (0 where /proc cannot tell)."""
    uid, count = os.getuid(), 0
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            count += entry.stat().st_uid == uid
        except OSError:
            pass
    return count


def processes_limited() -> bool:
    """Whether sandboxed code gets a process limit here (root needs the pids cgroup)."""
    cgroup = PidsCgroup(1)
    works = cgroup.path is not None
    cgroup.close()
    return works or os.getuid() != 0


def _set_limits(limits: Limits, cgroup: PidsCgroup, processes: int | None) -> None:
    """In the child before exec: join the cgroup and set the resource limits."""
    import resource

    cgroup.enter()
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def read_log(path: Path) -> list[dict]:
    """The runner's per-cell records; a torn last line (from a killed run) is skipped."""
    records = []
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return records


def run_cells(cells: list[dict], scratch: Path, limits: Limits, hide: list[Path],
              bwrap: str | None) -> RunReport:
    """Execute ``cells`` ([{"index", "source"}]) with the runner, sandboxed if ``bwrap``."""
    (scratch / "home").mkdir(parents=True, exist_ok=True)
    (scratch / "probe").mkdir(exist_ok=True)
    (scratch / "cells.json").write_text(json.dumps(cells))
    log = scratch / "log.jsonl"
    log.unlink(missing_ok=True)
    runner = [sys.executable, "-m", "autograder.runner", str(scratch / "cells.json"), str(log),
              str(limits.cell_seconds)]
    command = (bwrap_command(bwrap, scratch, hide) if bwrap else []) + runner
    cgroup = PidsCgroup(limits.processes)
    # Without the cgroup, RLIMIT_NPROC is the fallback. It counts all of the user's
    # processes (and root ignores it), so it is set above what the user already runs.
    processes = None
    if cgroup.path is None and os.getuid() != 0:
        processes = _processes_of_this_user() + limits.processes
    report = RunReport(sandboxed=bwrap is not None)
    try:
        process = subprocess.Popen(command, cwd=scratch, env=_environment(scratch),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=lambda: _set_limits(limits, cgroup, processes))
        try:
            code = process.wait(timeout=limits.total_seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
            report.ending = f"stopped after the notebook's time limit of {limits.total_seconds:g} s"
    finally:
        cgroup.close()
    report.cells = read_log(log)
    if code is not None and code != 0:
        reason = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        report.ending = f"the kernel died ({reason}) after {len(report.cells)} cells"
    elif code == 0 and len(report.cells) < len(cells):
        report.ending = f"the kernel stopped after {len(report.cells)} of {len(cells)} cells"
    return report
