"""A text progress bar for the training loops of the book (chapter 3 on).

It writes to standard output with carriage returns, which a terminal and
JupyterLab redraw in place and the book's build folds into the last state.
It shows counts only, never times, so a rebuilt page prints the same text.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, redirect_stdout
from io import StringIO
from typing import TypeVar

Item = TypeVar("Item")
WIDTH = 30


def progress(items: Iterable[Item], total: int, label: str, updates: int = 20,
             file=None) -> Iterator[Item]:
    """Yield ``items`` while drawing ``label [#####.....] done/total`` about ``updates`` times."""
    file = file or sys.stdout
    every = max(1, total // updates)

    def draw(done: int) -> None:
        filled = WIDTH * done // max(total, 1)
        file.write(f"\r{label} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total}")
        file.flush()

    done = 0
    draw(done)
    try:
        for item in items:
            yield item
            done += 1
            if done % every == 0 or done == total:
                draw(done)
    finally:  # a loop left early (a diverged run) still ends its line
        file.write("\n")
        file.flush()


@contextmanager
def shown_when_done():
    """Collect what the block prints and print it in one piece when the block ends.

    A book page turns every message a cell sends into a line of its own, and a
    kernel sends its output in pieces as time passes. Printed at once, each
    bar appears in its final state and the page's text is the same on every build.
    """
    log = StringIO()
    with redirect_stdout(log):
        yield
    sys.stdout.write(log.getvalue())
