"""nbgrader configuration of the course.

The course root is found from this file's own location, so nbgrader commands
behave the same whatever the working directory. Run nbgrader by hand from this
folder (``cd autograder && nbgrader ...``); ``make release`` and ``make grade``
load this file themselves.
"""

from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

course_root = Path(__file__).resolve().parent.parent

c.CourseDirectory.root = str(course_root)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# The gradebook stores hidden tests: keep it out of the tree students see.
c.CourseDirectory.db_url = f"sqlite:///{course_root / '.nbgrader' / 'gradebook.db'}"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__"]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Grading runs notebooks in its own sandbox (autograder/sandbox.py); these
# settings only matter when an instructor runs `nbgrader validate` by hand.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
