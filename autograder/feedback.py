"""Feedback for a student: their notebook, the points of every graded cell and why checks failed.

Test cells show only their visible part; the verdict of the hidden checks is
given as the message the grader wrote, never as the code that produced it.
Written answers show the student's text with the points given by hand, or
say that they are not graded yet. Messages carry text the student's code
chose (an exception's message): they are escaped, and the whole page is
neutralised again as it is written.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

from autograder.sanitise import escape, neutralise_notebook

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.S)


def feedback_notebook(executed, scores: dict[str, dict], header: str):
    """A copy of ``executed`` with hidden tests removed and each graded cell's verdict below it."""
    nb = copy.deepcopy(executed)
    cells = [nbformat.v4.new_markdown_cell(header)]
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if gid in scores:
            if cell.cell_type == "code":
                cell.source = HIDDEN.sub("", cell.source).rstrip()
                cell.outputs = []
            cells.append(cell)
            verdict = scores[gid]
            text = f"**{verdict['score']:g} / {verdict['max_score']:g} points.**"
            if verdict.get("message"):
                text += f" {escape(verdict['message'])}"
            cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cells.append(cell)
    nb.cells = cells
    return nb


def write_html(nb, path: Path) -> None:
    """Render a notebook to a standalone HTML file, with every cell and output neutralised."""
    exporter = HTMLExporter(template_name="lab", sanitize_html=True)
    body, _ = exporter.from_notebook_node(neutralise_notebook(nb))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
