"""``make import ZIP=file ASSIGNMENT=id SUBMISSIONS=dir``: unpack an LMS download for grading.

Learning platforms hand out one zip of all submissions, and name its entries
themselves: Canvas names each file ``<login>_<user id>_<submission id>_<original
name>`` (``<login>_LATE_<user id>_...`` when late); Moodle puts each student's
files in a folder ``<Full Name>_<id>_assignsubmission_file_``. The student id is
taken from that naming alone, as ``<login or name>-<user id>``: the numeric id is
the platform's, so two students with one name stay apart, and nothing a student
uploads (a folder or file named after a classmate) can change whose work it is.

Only notebooks are taken, to
``SUBMISSIONS/<student id>/<assignment>/<original file name>``. Entries that do not
follow the platform's naming, paths that climb out (``..``) and oversized members
are skipped and listed. Two entries for one target, or a target that exists
already, refuse the whole import before anything is written: nothing is ever
overwritten.
"""

from __future__ import annotations

import re
import sys
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograder.course import MAX_NOTEBOOK_BYTES as MAX_BYTES

CANVAS = re.compile(r"^(?P<name>[^_]+)_(?:LATE_)?(?P<id>\d+)_\d+_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>.+)_(?P<id>\d+)_assignsubmission_file_?$")


class ImportRefused(ValueError):
    """The zip would overwrite a submission or put two files in one place."""


@dataclass(frozen=True)
class Entry:
    """One notebook of the zip and where it goes."""

    member: zipfile.ZipInfo
    student: str
    name: str


def _slug(text: str) -> str:
    """ASCII letters, digits and single dashes, lower case."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def student_id(name: str, user_id: str) -> str:
    """``<name>-<user id>``: readable, and unique because the platform's id is."""
    slug = _slug(name)
    return f"{slug}-{user_id}" if slug else user_id


def file_name(name: str) -> str:
    """A file name safe on any file system."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).lstrip(".-") or "notebook.ipynb"


def entry_of(member: zipfile.ZipInfo) -> Entry | str:
    """Where ``member`` goes, or why it is skipped."""
    path = PurePosixPath(member.filename)
    if member.file_size > MAX_BYTES:
        return f"larger than {MAX_BYTES} bytes"
    if path.is_absolute() or ".." in path.parts:
        return "its path leaves the archive"
    if len(path.parts) == 1:
        match = CANVAS.match(path.name)
        if match:
            return Entry(member, student_id(match["name"], match["id"]), file_name(match["file"]))
    else:
        match = MOODLE.match(path.parts[0])
        if match:
            return Entry(member, student_id(match["name"], match["id"]), file_name(path.name))
    return "not named by Canvas or Moodle"


def plan(archive: zipfile.ZipFile, assignment: str, submissions: Path
         ) -> tuple[list[tuple[Entry, Path]], list[str]]:
    """Every notebook's target and the skipped entries; ImportRefused on any collision."""
    targets: dict[Path, Entry] = {}
    skipped, clashes = [], []
    for member in archive.infolist():
        path = PurePosixPath(member.filename)
        if member.is_dir() or path.suffix != ".ipynb" or "__MACOSX" in path.parts:
            continue
        entry = entry_of(member)
        if isinstance(entry, str):
            skipped.append(f"{member.filename}: {entry}")
            continue
        target = submissions / entry.student / assignment / entry.name
        if target in targets:
            clashes.append(f"{member.filename} and {targets[target].member.filename} "
                           f"both go to {target}")
        elif target.exists():
            clashes.append(f"{member.filename}: {target} exists already")
        targets[target] = entry
    if clashes:
        raise ImportRefused("nothing imported:\n  " + "\n  ".join(clashes))
    return [(entry, target) for target, entry in targets.items()], skipped


def import_zip(archive: Path, assignment: str, submissions: Path
               ) -> tuple[list[tuple[str, str]], list[str]]:
    """Unpack the notebooks of ``archive``; return the (student, file name) pairs and the skipped."""
    written = []
    with zipfile.ZipFile(archive) as zipped:
        entries, skipped = plan(zipped, assignment, submissions)
        for entry, target in entries:
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(entry.member) as source, target.open("xb") as sink:
                # Read no more than the size the archive declares and the cap allows.
                sink.write(source.read(MAX_BYTES + 1)[:MAX_BYTES])
            written.append((entry.student, entry.name))
    return written, skipped


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m autograder.lms ZIP ASSIGNMENT SUBMISSIONS", file=sys.stderr)
        return 2
    try:
        written, skipped = import_zip(Path(argv[0]), argv[1], Path(argv[2]))
    except ImportRefused as refusal:
        print(refusal, file=sys.stderr)
        return 1
    for student, name in written:
        print(f"{student}: {name}")
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    print(f"imported {len(written)} notebooks into {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
