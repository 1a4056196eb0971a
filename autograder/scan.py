"""Flag code in a submission that an instructor should look at (a report, not a verdict)."""

from __future__ import annotations

import re

PATTERNS = {
    "edits sys.modules": r"sys\s*\.\s*modules",
    "installs an AST transformer": r"ast_transformers|NodeTransformer",
    "ends the process": r"os\s*\.\s*_exit|os\s*\.\s*kill|sys\s*\.\s*exit",
    "opens a database": r"sqlite|gradebook",
    "reaches for solutions or reference answers": r"solutions/|autograder|bptt\.reference",
    "uses torch": r"\btorch\b|bptt\.autograd",
    "uses matrix_power": r"matrix_power",
    "replaces code objects or builtins": r"__code__|__builtins__|builtins\s*\.",
    "overrides error reporting": r"excepthook|showtraceback|custom_exc",
    "runs other programs": r"subprocess|os\s*\.\s*system|os\s*\.\s*popen|ctypes",
    "forks or ignores signals": r"os\s*\.\s*fork|signal\s*\.\s*signal",
}


def scan(sources: list[str]) -> list[str]:
    """Names of the patterns found in the student's code cells, sorted."""
    text = "\n".join(sources)
    return sorted(name for name, pattern in PATTERNS.items() if re.search(pattern, text))
