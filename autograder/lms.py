"""``make import ZIP=file ASSIGNMENT=id SUBMISSIONS=dir``: unpack an LMS download for grading.

Learning platforms hand out one zip of all submissions. Canvas names each file
``<student>_<user id>_<submission id>_<original name>`` (with ``LATE`` after the
student when late); Moodle puts each student's files in a folder
``<Full Name>_<id>_assignsubmission_file_``. Both become
``SUBMISSIONS/<student>/<assignment>/<original name>``. Only notebooks are
taken; paths inside the zip are never used as paths on disk, and oversized
members are skipped.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path, PurePosixPath

MAX_BYTES = 50 * 2**20


def student_id(name: str) -> str:
    """A folder-safe student id from the part of a name before its first underscore."""
    raw = name.split("_")[0].strip().lower()
    return re.sub(r"[^a-z0-9.@+-]+", "-", raw).strip("-.") or "unknown"


def original_name(filename: str) -> str:
    """The name a student gave the file: Canvas prefixes three (or four, if late) fields."""
    parts = filename.split("_")
    skip = 4 if len(parts) > 4 and parts[1] == "LATE" else 3
    return "_".join(parts[skip:]) if len(parts) > skip else filename


def import_zip(archive: Path, assignment: str, submissions: Path) -> list[tuple[str, str]]:
    """Unpack the notebooks of ``archive``; return (student, file name) pairs written."""
    written = []
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            path = PurePosixPath(member.filename)
            if member.is_dir() or path.suffix != ".ipynb" or "__MACOSX" in path.parts:
                continue
            if member.file_size > MAX_BYTES:
                print(f"skipped {member.filename}: larger than {MAX_BYTES} bytes", file=sys.stderr)
                continue
            parts = [part for part in path.parts if part not in ("", ".", "..", "/")]
            if len(parts) > 1:
                student, name = student_id(parts[-2]), parts[-1]
            else:
                student, name = student_id(parts[-1]), original_name(parts[-1])
            name = re.sub(r"[^A-Za-z0-9._-]+", "-", name)
            target = submissions / student / assignment / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zipped.read(member))
            written.append((student, name))
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m autograder.lms ZIP ASSIGNMENT SUBMISSIONS", file=sys.stderr)
        return 2
    written = import_zip(Path(argv[0]), argv[1], Path(argv[2]))
    for student, name in written:
        print(f"{student}: {name}")
    print(f"imported {len(written)} notebooks into {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
