"""Where the course's pieces live, and nbgrader settings built from them."""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

AUTOGRADER = Path(__file__).resolve().parent
ROOT = AUTOGRADER.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
CONFIG_FILE = AUTOGRADER / "nbgrader_config.py"
# The largest notebook a submission may hand in; a real one is far smaller.
MAX_NOTEBOOK_BYTES = 20 * 2**20


def assignments() -> list[str]:
    """Assignment ids: the folders of ``solutions/``, sorted."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and not p.name.startswith("."))


def source_notebooks(assignment: str) -> list[str]:
    """File names of the notebooks of one assignment, sorted."""
    return sorted(p.name for p in (SOLUTIONS / assignment).glob("*.ipynb"))


def load_config() -> Config:
    """The course's nbgrader configuration, as nbgrader itself would load it."""
    loader = PyFileConfigLoader(CONFIG_FILE.name, path=str(AUTOGRADER))
    return loader.load_config()
