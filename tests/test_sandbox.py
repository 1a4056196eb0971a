"""The sandbox's limits hold for a run as a whole, not only for each of its processes."""

from __future__ import annotations

import pytest

from autograder.sandbox import Limits, bubblewrap, cgroup_controllers, run_cells

FORK_AND_FILL = """
import os, time
for _ in range(6):
    if os.fork() == 0:
        block = bytearray(200 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(30)
        os._exit(0)
time.sleep(8)
print("parent done")
"""


@pytest.mark.skipif(bubblewrap() is None or "memory" not in cgroup_controllers(),
                    reason="needs bubblewrap and a memory cgroup (root)")
def test_forked_children_share_one_memory_limit(tmp_path):
    """Six children of 200 MiB each stay within 512 MiB together: the OOM killer stops the rest."""
    limits = Limits(memory_bytes=512 * 2**20, cell_seconds=20, total_seconds=60)
    (tmp_path / "probe").mkdir()
    report = run_cells([{"index": 0, "source": FORK_AND_FILL}], tmp_path, limits, bubblewrap())
    assert report.peak_memory is not None
    assert report.peak_memory <= limits.memory_bytes, f"{report.peak_memory / 2**20:.0f} MiB"
    assert report.peak_memory > 300 * 2**20, "the children never filled their memory"


FORK_AND_SLEEP = """
import os, time
for _ in range(40):
    if os.fork() == 0:
        time.sleep(600)
"""
COUNT_PROCESSES = """
import os
print(sum(name.isdigit() for name in os.listdir("/proc")))
"""


@pytest.mark.skipif(bubblewrap() is None, reason="needs bubblewrap")
def test_the_next_cell_starts_after_the_last_ones_processes_are_gone(tmp_path):
    """Killed processes hold slots of the process limit until collected: the runner waits for
    them, so the next cell sees only the sandbox's init and the runner itself."""
    (tmp_path / "probe").mkdir()
    cells = [{"index": 0, "source": FORK_AND_SLEEP}, {"index": 1, "source": COUNT_PROCESSES}]
    report = run_cells(cells, tmp_path, Limits(cell_seconds=20, total_seconds=60), bubblewrap())
    counted = [r for r in report.cells if r["index"] == 1]
    assert counted and counted[0]["error"] is None, report.cells
    assert int(counted[0]["stdout"]) == 2, f"processes left when cell 1 started: {counted[0]}"
