"""Feedback that tells a student what failed without showing how it was tested."""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import is_grade, is_solution


class HideTestInternals(Preprocessor):
    """Remove hidden test code from test cells and shorten their tracebacks.

    A traceback through a hidden check would print the check's source lines;
    the error's type and message (which say what is off and by how much) stay.
    """

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        clear = ClearHiddenTests(parent=self.parent)
        for cell in nb.cells:
            if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
                continue
            clear._remove_hidden_test_region(cell)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return nb, resources
