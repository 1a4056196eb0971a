"""Rebuild a submission on the instructor's notebook, so that tampering cannot change what is graded.

Every cell that the student may not change (instructions, setup, tests with
their hidden parts, points) comes from the instructor's solution notebook;
only the answer cells, found by their nbgrader id, come from the student. A
deleted, duplicated, retyped or retagged cell, a changed point value or a file
that is not a notebook at all is noted and repaired, never fatal.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
from nbformat import NotebookNode


MAX_CELLS = 300
MAX_SOURCE = 50_000


def shown(value, limit: int = 40) -> str:
    """A name the student chose, as a note may quote it: plain characters, cut short."""
    text = re.sub(r"[^A-Za-z0-9_.-]", "?", str(value))
    return text[:limit] + "..." if len(text) > limit else text


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_answer(cell) -> bool:
    """A cell the student writes: code to run, or a written answer graded by hand."""
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def is_manual(cell) -> bool:
    """A written answer that the instructor grades by hand in the formgrader."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("solution")) and bool(meta.get("grade"))


def _tampered(cell, original) -> bool:
    """A locked cell whose type, metadata or (visible) points differ from the original."""
    mine = cell.get("metadata", {}).get("nbgrader", {})
    theirs = original.metadata.get("nbgrader", {})
    return (cell.get("cell_type") != original.cell_type
            or any(mine.get(k) != theirs.get(k) for k in ("grade", "solution", "points")))


def is_test(cell) -> bool:
    """An autograded test cell: graded, locked code that is not an answer."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def read_student(path: Path | None) -> tuple[list, list[str]]:
    """The student's cells, or none with a note when the file is missing or unreadable.

    Past ``MAX_CELLS`` cells are dropped before nbformat reads them, and each cell's
    source is cut at ``MAX_SOURCE`` characters: the grader's own work on a notebook
    (validation, copies, rendering) grows with its size, and no exercise needs more.
    """
    if path is None:
        return [], ["notebook missing"]
    try:
        raw = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        notes = []
        if len(raw["cells"]) > MAX_CELLS:
            notes.append(f"{path.name} has {len(raw['cells'])} cells; only the first {MAX_CELLS} "
                         "were read")
            raw["cells"] = raw["cells"][:MAX_CELLS]
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        for cell in nb.cells:
            if len(cell.source) > MAX_SOURCE:
                cell.source = cell.source[:MAX_SOURCE]
                notes.append(f"a cell longer than {MAX_SOURCE} characters was cut")
        return list(nb.cells), notes
    except Exception as error:  # any unreadable file is a malformed submission
        return [], [f"{path.name} is not a readable notebook ({type(error).__name__}); "
                    "graded as blank"]


def rebuild(student_path: Path | None, source: NotebookNode, released: NotebookNode
            ) -> tuple[NotebookNode, list[str]]:
    """The notebook to grade and notes on what was repaired.

    source : the instructor's notebook (solutions, hidden tests).
    released : the student version, whose stubs stand in for missing answers.
    Cells the student added without an nbgrader id are kept, after the known
    cell they followed.
    """
    student_cells, notes = read_student(student_path)
    originals = {grade_id(c): c for c in source.cells if grade_id(c)}
    known = set(originals)
    stubs = {grade_id(c): c for c in released.cells if is_answer(c)}
    out_of_step = sorted({grade_id(c) for c in source.cells if is_answer(c)} ^ set(stubs))
    if out_of_step:
        # Never fill a gap with the instructor's cell: that would grade the solution.
        raise RuntimeError(f"the released notebook is out of step with the solutions (answer "
                           f"cells {out_of_step}): run `make release`")
    answers: dict[str, NotebookNode] = {}
    extras: dict[str | None, list] = {}
    previous = None
    for cell in student_cells:
        gid = grade_id(cell)
        if gid in known:
            if gid in stubs and gid not in answers:
                if cell.get("cell_type") != stubs[gid].cell_type:
                    notes.append(f"cell {gid} was turned into a {shown(cell.get('cell_type'))} cell; "
                                 "graded as blank")
                else:
                    answers[gid] = cell
            elif gid in answers:
                notes.append(f"cell {gid} appears twice; the first one is graded")
            elif gid not in stubs and _tampered(cell, originals[gid]):
                notes.append(f"locked cell {gid} was changed; the instructor's version is graded")
            previous = gid
        elif cell.get("cell_type") == "code" and not gid:
            extras.setdefault(previous, []).append(cell)
        elif gid:
            notes.append(f"cell {shown(gid)} is not part of this assignment; ignored")
    for gid in stubs:
        if gid not in answers and student_cells:
            notes.append(f"answer cell {gid} is missing; graded as blank")
    cells = [nbformat.v4.new_code_cell(c.source) for c in extras.get(None, [])]
    for cell in source.cells:
        gid = grade_id(cell)
        if gid in stubs:
            chosen = copy.deepcopy(stubs[gid])
            if gid in answers:
                chosen.source = answers[gid].source
            cells.append(chosen)
        else:
            cells.append(copy.deepcopy(cell))
        cells.extend(nbformat.v4.new_code_cell(c.source) for c in extras.get(gid, []))
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb = copy.deepcopy(source)
    nb.cells = cells
    return nb, notes
