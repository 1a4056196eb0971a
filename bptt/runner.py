"""Runs inside the grading sandbox: execute a notebook's code cells in one IPython shell.

Usage: ``python -m bptt.runner CELLS_JSON CELL_TIMEOUT``.
Each cell's outcome is sent down the grading channel (``bptt.probe.send``) as
soon as the cell ends, so whatever was done before a crash is kept. Nothing
here decides a grade: these records only feed the feedback; scores come from
the probes. After each cell every process the cell left behind is killed, so
a fork loop cannot starve the cells after it.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from bptt.probe import send

OUTPUT_LIMIT = 20_000  # characters kept per stream and cell
# How long the runner waits for the processes of a cell to die before it goes on regardless.
REAP_SECONDS = 10.0


class CellTimeout(BaseException):
    """Raised in a cell that runs over its time; BaseException, so `except Exception` misses it."""


class CappedText(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int = OUTPUT_LIMIT):
        self.kept: list[str] = []
        self.size = 0
        self.dropped = 0
        self.limit = limit

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        room = self.limit - self.size
        if room > 0:
            self.kept.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def getvalue(self) -> str:
        note = f"\n[... {self.dropped} more characters of output dropped]" if self.dropped else ""
        return "".join(self.kept) + note


def _on_alarm(signum, frame):
    raise CellTimeout("the cell ran over its time limit")


def _parents() -> dict[int, int]:
    """Parent of every process this one can see in /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name, in parentheses, may hold spaces: the fields follow the last ")".
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return parents


def stray_processes(own_namespace: bool) -> list[int]:
    """Processes a cell left behind.

    In the sandbox's own PID namespace that is every process but its init (pid 1)
    and this one, orphans included; elsewhere, this process's descendants.
    """
    me, parents = os.getpid(), _parents()
    if own_namespace:
        return [pid for pid in parents if pid not in (1, me)]
    found, frontier = [], [me]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def reap(own_namespace: bool, patience: float = REAP_SECONDS) -> None:
    """Kill and collect every process the last cell left behind, and wait until they are gone.

    A killed process holds its slot of the process limit until it is collected, and a
    loaded machine delivers SIGKILL late: the next cell must not start until then, or
    it could not start a thread of its own. Processes forked meanwhile are killed too.
    """
    deadline = time.monotonic() + patience
    while (strays := stray_processes(own_namespace)) and time.monotonic() < deadline:
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.005)


def run(cells: list[dict], cell_timeout: float, own_namespace: bool) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    signal.signal(signal.SIGALRM, _on_alarm)
    runner = os.getpid()
    for cell in cells:
        out, err = CappedText(), CappedText()
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, cell_timeout)
        try:
            with redirect_stdout(out), redirect_stderr(err):
                result = shell.run_cell(cell["source"], store_history=True)
        finally:
            if os.getpid() != runner:
                # A process the student forked has left their code: it must not go on
                # to run (and report) the rest of the notebook.
                os._exit(0)
            signal.setitimer(signal.ITIMER_REAL, 0)
        reap(own_namespace)
        failure = result.error_before_exec or result.error_in_exec
        record = {"index": cell["index"], "seconds": round(time.monotonic() - start, 3),
                  "stdout": out.getvalue(), "stderr": err.getvalue(), "error": None}
        if failure is not None:
            line = traceback.format_exception_only(type(failure), failure)[-1].strip()
            record["error"] = {"ename": type(failure).__name__, "evalue": line[:1000]}
        send(record)


def main(argv: list[str]) -> int:
    cells_path, cell_timeout = argv
    with open(cells_path, encoding="utf-8") as handle:
        cells = json.load(handle)
    run(cells, float(cell_timeout), os.environ.get("BPTT_OWN_PID_NAMESPACE") == "1")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
