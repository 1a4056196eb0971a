"""Instructor-only answers to graded exercises, and the checks that grade them.

Nothing here may reach students: the student bundle leaves this folder out,
and the grader forbids graded code to call into it.
"""
