"""nbgrader configuration and the grading tooling of the course (instructor side)."""
