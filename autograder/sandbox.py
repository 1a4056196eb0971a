"""Run student code in a sandbox: bubblewrap namespaces, resource limits, pids and memory cgroups.

Inside, the code runs as an unprivileged user (uid 65534 in a user namespace)
with every capability dropped, without network, in its own PID namespace. It
sees an allow-list and nothing else: the system's ``/usr``, the Python
interpreter, the virtual environment without torch, the student package
``bptt`` and, read-only at ``/inputs``, the cells to run and the probes'
inputs. Its only writable place is a size-capped tmpfs at ``/sandbox`` (home,
temporary files, working folder) that vanishes with it. The grading user's
home, the course's other folders, the gradebook and every other submission
are not there at all. Limits bound memory (per process, and for the whole run
with a memory cgroup where root can create one), CPU time, file size and the
number of processes (with a pids cgroup where root can create one, else with
RLIMIT_NPROC).

Nothing comes back through the file system: the runner and the probes write
JSON lines into a pipe (the channel), which the grader reads as hostile data,
size-capped and time-bounded. Where bubblewrap cannot run, the code runs with
the resource limits only, in a temporary folder, and the grading report says
loudly that it was not sandboxed.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from autograder.course import ROOT

CGROUPS = Path("/sys/fs/cgroup")
NOBODY = "65534"
INPUTS = "/inputs"
SCRATCH = "/sandbox"
# Configuration that holds no secret and that the C libraries read.
ETC = ("ld.so.cache", "fonts", "localtime")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed run."""

    memory_bytes: int = 4 * 2**30
    cpu_seconds: int = 300
    file_bytes: int = 64 * 2**20
    scratch_bytes: int = 256 * 2**20
    processes: int = 64
    cell_seconds: float = 30.0
    total_seconds: float = 180.0
    channel_bytes: int = 16 * 2**20
    record_bytes: int = 2 * 2**20


@dataclass
class RunReport:
    """What happened to one run: the runner's per-cell records, the probes' records, the end."""

    cells: list[dict] = field(default_factory=list)
    probes: dict[str, dict] = field(default_factory=dict)
    ending: str = "finished"
    sandboxed: bool = True
    dropped: str = ""
    peak_memory: int | None = None


@cache
def bubblewrap() -> str | None:
    """Path of a working ``bwrap``, or None where it is missing or cannot create namespaces.

    Found once per process: a grading worker asks for every submission.
    """
    path = shutil.which("bwrap")
    if path is None or not sys.platform.startswith("linux"):
        return None
    with tempfile.TemporaryDirectory() as inputs:
        probe = subprocess.run(bwrap_command(path, Path(inputs), Limits()) + ["/usr/bin/true"],
                               capture_output=True)
    return path if probe.returncode == 0 else None


def _torch_folder() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("torch")
    return Path(spec.origin).parent if spec and spec.origin else None


def _system() -> list[str]:
    """``/usr``, the top-level links into it (or the folders, on systems without merged /usr)
    and the few files of ``/etc`` that libraries read."""
    command = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/lib", "/lib64", "/sbin"):
        path = Path(top)
        if path.is_symlink():
            command += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            command += ["--ro-bind", top, top]
    for name in ETC:
        if (Path("/etc") / name).exists():
            command += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return command


def allowed_folders() -> list[Path]:
    """The folders bound read-only besides the system: interpreter, environment, student package."""
    folders = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), ROOT / "bptt"}
    return sorted(folders)


def bwrap_command(bwrap: str, inputs: Path, limits: Limits) -> list[str]:
    """The bubblewrap prefix: the allow-list read-only, ``inputs`` at /inputs, a capped scratch."""
    command, folders = [bwrap] + _system(), allowed_folders()
    for folder in folders:
        command += ["--ro-bind", str(folder), str(folder)]
    torch = _torch_folder()
    if torch is not None and any(torch.is_relative_to(f) for f in folders):
        command += ["--tmpfs", str(torch), "--remount-ro", str(torch)]
    command += ["--ro-bind", str(inputs), INPUTS,
                "--dev", "/dev", "--size", str(2**20), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
                "--proc", "/proc",
                "--size", str(limits.scratch_bytes), "--tmpfs", SCRATCH,
                "--unshare-all", "--uid", NOBODY, "--gid", NOBODY, "--cap-drop", "ALL",
                "--die-with-parent", "--new-session", "--chdir", SCRATCH]
    return command


def _environment(inputs: str, scratch: str, channel: int, own_namespace: bool) -> dict[str, str]:
    """A small, fixed environment; OpenBLAS settings are kept because they guard correctness."""
    env = {key: value for key, value in os.environ.items() if key.startswith("OPENBLAS_")}
    env.update({"HOME": scratch, "TMPDIR": scratch, "PATH": "/usr/bin:/bin",
                "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0",
                "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1",
                "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "BPTT_PROBE_DIR": f"{inputs}/probe", "BPTT_CHANNEL_FD": str(channel),
                "BPTT_OWN_PID_NAMESPACE": "1" if own_namespace else "0"})
    return env


class Cgroups:
    """A pids and a memory cgroup (v1) for one run, where root can create them.

    RLIMIT_AS bounds each process; the memory cgroup bounds them all together
    (and the sandbox's tmpfs pages with them), so 64 forks cannot take 64 times
    the limit. The pids cgroup bounds the number of processes and threads.
    """

    def __init__(self, limits: Limits):
        run = uuid.uuid4().hex
        settings = {"pids": [("pids.max", limits.processes)],
                    "memory": [("memory.limit_in_bytes", limits.memory_bytes),
                               ("memory.memsw.limit_in_bytes", limits.memory_bytes)]}
        self.paths: dict[str, Path] = {}
        for controller, values in settings.items():
            path = CGROUPS / controller / "bptt-grading" / run
            try:
                path.mkdir(parents=True)
                # The first setting is the limit itself; the others (swap) exist on some kernels only.
                for i, (name, value) in enumerate(values):
                    if i == 0 or (path / name).exists():
                        (path / name).write_text(str(value))
                self.paths[controller] = path
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()

    def enter(self) -> None:
        """Move the calling process into the cgroups (called in the child before exec)."""
        for path in self.paths.values():
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def peak_memory(self) -> int | None:
        """The most memory the run's processes held together, in bytes (None where unknown)."""
        path = self.paths.get("memory")
        return int((path / "memory.max_usage_in_bytes").read_text()) if path else None

    def close(self) -> None:
        for path in self.paths.values():
            for _ in range(50):
                for pid in (path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
                try:
                    path.rmdir()
                    break
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


def cgroup_controllers() -> set[str]:
    """The controllers (of pids, memory) whose cgroups can be created here."""
    cgroups = Cgroups(Limits())
    cgroups.close()
    return set(cgroups.paths)


def processes_limited() -> bool:
    """Whether sandboxed code gets a process limit here (root needs the pids cgroup)."""
    return "pids" in cgroup_controllers() or os.getuid() != 0


def _set_limits(limits: Limits, cgroups: Cgroups, processes: int | None) -> None:
    """In the child before exec: join the cgroups and set the resource limits."""
    import resource

    cgroups.enter()
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


class Channel:
    """The read end of the pipe from the sandbox, drained by a thread into parsed records.

    Everything in it is hostile: lines over ``record_bytes`` and everything past
    ``channel_bytes`` are dropped unread, lines that are not JSON objects are
    skipped, and reading stops when told to, whoever still holds the write end.
    """

    def __init__(self, fd: int, limits: Limits):
        self.fd, self.limits = fd, limits
        self.records: list[dict] = []
        self.total = self.oversized = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        line, dropping = bytearray(), False
        while not self.stopped.is_set():
            if not select.select([self.fd], [], [], 0.2)[0]:
                continue
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return
            self.total += len(chunk)
            if self.total > self.limits.channel_bytes:
                continue  # read and forget, so the writer never blocks on a full pipe
            *complete, rest = chunk.split(b"\n")
            for piece in complete:
                if not dropping:
                    self._take(bytes(line + piece))
                line, dropping = bytearray(), False
            if not dropping:
                line += rest
                if len(line) > self.limits.record_bytes:
                    self.oversized += 1
                    line, dropping = bytearray(), True

    def _take(self, data: bytes) -> None:
        if len(data) > self.limits.record_bytes:
            self.oversized += 1
            return
        try:
            record = json.loads(data)
        except (ValueError, RecursionError):
            return
        if isinstance(record, dict):
            self.records.append(record)

    def close(self, grace: float = 5.0) -> None:
        """Wait up to ``grace`` seconds for the end of the data, then stop reading."""
        self.thread.join(grace)
        self.stopped.set()
        self.thread.join()
        os.close(self.fd)

    def dropped(self) -> str:
        """What was thrown away, for the status line ("" if nothing)."""
        parts = []
        if self.total > self.limits.channel_bytes:
            parts.append(f"output past {self.limits.channel_bytes // 2**20} MiB was dropped")
        if self.oversized:
            parts.append(f"records over {self.limits.record_bytes // 2**20} MiB were dropped "
                         f"({self.oversized})")
        return "; ".join(parts)


def sort_records(records: list[dict], report: RunReport) -> None:
    """Cell records into ``report.cells``; the first record of each probe into ``report.probes``."""
    for record in records:
        check = record.get("probe")
        if isinstance(check, str):
            report.probes.setdefault(check, record)
        elif isinstance(record.get("index"), int):
            report.cells.append(record)


def run_cells(cells: list[dict], inputs: Path, limits: Limits, bwrap: str | None) -> RunReport:
    """Execute ``cells`` ([{"index", "source"}]) with the runner, sandboxed if ``bwrap``.

    ``inputs`` is a folder of the grader's holding ``probe/``, the probes' inputs;
    the sandbox sees it read-only. It must not be writable by anyone else.
    """
    (inputs / "cells.json").write_text(json.dumps(cells))
    scratch = None if bwrap else Path(tempfile.mkdtemp(prefix="bptt-scratch-"))
    inside = INPUTS if bwrap else str(inputs)
    read_end, write_end = os.pipe()
    runner = [sys.executable, "-m", "bptt.runner", f"{inside}/cells.json", str(limits.cell_seconds)]
    command = (bwrap_command(bwrap, inputs, limits) if bwrap else []) + runner
    env = _environment(inside, SCRATCH if bwrap else str(scratch), write_end, bwrap is not None)
    cgroups = Cgroups(limits)
    # Without the pids cgroup, RLIMIT_NPROC is the fallback. It counts all of the user's
    # processes (and root ignores it), so it is set above what the user already runs.
    processes = None
    if "pids" not in cgroups.paths and os.getuid() != 0:
        processes = _processes_of_this_user() + limits.processes
    report = RunReport(sandboxed=bwrap is not None)
    channel = Channel(read_end, limits)
    try:
        process = subprocess.Popen(command, cwd=scratch or inputs, env=env, pass_fds=(write_end,),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=lambda: _set_limits(limits, cgroups, processes))
        os.close(write_end)
        write_end = None
        try:
            code = process.wait(timeout=limits.total_seconds)
        except subprocess.TimeoutExpired:
            code = None
            report.ending = f"stopped after the notebook's time limit of {limits.total_seconds:g} s"
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    finally:
        if write_end is not None:
            os.close(write_end)
        report.peak_memory = cgroups.peak_memory()
        cgroups.close()
        channel.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    sort_records(channel.records, report)
    report.dropped = channel.dropped()
    if code is not None and code != 0:
        reason = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        report.ending = f"the kernel died ({reason}) after {len(report.cells)} cells"
    elif code == 0 and len(report.cells) < len(cells) and not report.dropped:
        report.ending = f"the kernel stopped after {len(report.cells)} of {len(cells)} cells"
    return report
