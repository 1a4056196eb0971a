"""Runs inside the grading sandbox: execute a notebook's code cells in one IPython shell.

Usage: ``python -m autograder.runner CELLS_JSON LOG_JSONL CELL_TIMEOUT``.
Each cell's outcome is appended to the log as one JSON line as soon as the
cell ends, so whatever was done before a crash is kept. Nothing here decides
a grade: the log only feeds the feedback; scores come from the probes.
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

OUTPUT_LIMIT = 20_000  # characters kept per stream and cell


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


def run(cells: list[dict], log_path: str, cell_timeout: float) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(colors="nocolor")
    signal.signal(signal.SIGALRM, _on_alarm)
    runner = os.getpid()
    with open(log_path, "a", encoding="utf-8") as log:
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
                    # to run (and log) the rest of the notebook.
                    os._exit(0)
                signal.setitimer(signal.ITIMER_REAL, 0)
            failure = result.error_before_exec or result.error_in_exec
            record = {"index": cell["index"], "seconds": round(time.monotonic() - start, 3),
                      "stdout": out.getvalue(), "stderr": err.getvalue(), "error": None}
            if failure is not None:
                line = traceback.format_exception_only(type(failure), failure)[-1].strip()
                record["error"] = {"ename": type(failure).__name__, "evalue": line[:1000]}
            log.write(json.dumps(record) + "\n")
            log.flush()


def main(argv: list[str]) -> int:
    cells_path, log_path, cell_timeout = argv
    with open(cells_path, encoding="utf-8") as handle:
        cells = json.load(handle)
    run(cells, log_path, float(cell_timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
