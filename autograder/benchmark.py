"""Throughput of ``make grade`` against plain sequential ``nbgrader autograde`` (not a test).

Usage: ``python -m autograder.benchmark [N]``: grades N copies of every
assignment's solution both ways and prints seconds per submission and the ratio.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.course import SOLUTIONS, assignments
from autograder.grade import grade, write_workspace_config


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


def main(argv: list[str]) -> int:
    copies = int(argv[0]) if argv else 8
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        submissions = scratch / "submissions"
        for i in range(copies):
            for assignment in assignments():
                shutil.copytree(SOLUTIONS / assignment, submissions / f"student{i:03d}" / assignment)
        count = copies * len(assignments())
        start = time.perf_counter()
        grade(submissions, scratch / "ours")
        ours = time.perf_counter() - start
        start = time.perf_counter()
        plain_nbgrader(submissions, scratch / "plain")
        plain = time.perf_counter() - start
    print(f"{count} submissions on {os.cpu_count()} cores")
    print(f"make grade (sandboxed, parallel): {ours:.1f} s, {ours / count:.2f} s per submission")
    print(f"nbgrader autograde (sequential):  {plain:.1f} s, {plain / count:.2f} s per submission")
    print(f"throughput ratio (ours / plain): {plain / ours:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
