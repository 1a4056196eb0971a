"""Importing a learning platform's zip of submissions into the grading layout.

Identities come from the platform's own naming; what a student uploads can
neither change whose work it is nor overwrite anyone's."""

from __future__ import annotations

import zipfile

import pytest

from autograder.lms import ImportRefused, import_zip

ASSIGNMENT = "ch04-bptt-in-detail"


def make_zip(path, entries: dict[str, str]):
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in entries.items():
            zipped.writestr(name, text)
    return path


def test_canvas_and_moodle_names(tmp_path):
    archive = make_zip(tmp_path / "download.zip", {
        "doejane_12345_67890_bptt-in-detail.ipynb": "{}",
        "roejohn_LATE_222_333_my notebook.ipynb": "{}",
        "Ann Lee_444_assignsubmission_file_/bptt-in-detail.ipynb": "{}",
        "__MACOSX/._doejane_12345_67890_bptt-in-detail.ipynb": "x",
        "doejane_12345_67890_notes.txt": "not a notebook",
        "../../escape_1_2_evil.ipynb": "{}",
        "loose-notebook.ipynb": "{}",
    })
    written, skipped = import_zip(archive, ASSIGNMENT, tmp_path / "subs")
    assert sorted(written) == [("ann-lee-444", "bptt-in-detail.ipynb"),
                               ("doejane-12345", "bptt-in-detail.ipynb"),
                               ("roejohn-222", "my-notebook.ipynb")]
    assert sorted(skipped) == ["../../escape_1_2_evil.ipynb: its path leaves the archive",
                               "loose-notebook.ipynb: not named by Canvas or Moodle"]
    assert (tmp_path / "subs" / "doejane-12345" / ASSIGNMENT / "bptt-in-detail.ipynb").exists()
    assert not list(tmp_path.parent.glob("**/evil.ipynb"))


def test_a_folder_named_after_a_classmate_stays_with_its_uploader(tmp_path):
    """Mallory uploads a folder that looks like Bob's Moodle folder: it is still Mallory's."""
    archive = make_zip(tmp_path / "download.zip", {
        "Bob Smith_555_assignsubmission_file_/bptt-in-detail.ipynb": '{"bob": 1}',
        "Mallory Evil_666_assignsubmission_file_/Bob Smith_555_assignsubmission_file_/"
        "bptt-in-detail.ipynb": '{"mallory": 1}',
    })
    written, _ = import_zip(archive, ASSIGNMENT, tmp_path / "subs")
    assert sorted(written) == [("bob-smith-555", "bptt-in-detail.ipynb"),
                               ("mallory-evil-666", "bptt-in-detail.ipynb")]
    bob = tmp_path / "subs" / "bob-smith-555" / ASSIGNMENT / "bptt-in-detail.ipynb"
    assert bob.read_text() == '{"bob": 1}'


def test_two_students_with_one_name_stay_apart(tmp_path):
    archive = make_zip(tmp_path / "download.zip", {
        "John Smith_101_assignsubmission_file_/bptt-in-detail.ipynb": "{}",
        "John Smith_202_assignsubmission_file_/bptt-in-detail.ipynb": "{}",
    })
    written, _ = import_zip(archive, ASSIGNMENT, tmp_path / "subs")
    assert sorted(s for s, _ in written) == ["john-smith-101", "john-smith-202"]


def test_collisions_refuse_the_whole_import(tmp_path):
    archive = make_zip(tmp_path / "download.zip", {
        "Ann Lee_444_assignsubmission_file_/a/bptt-in-detail.ipynb": "{}",
        "Ann Lee_444_assignsubmission_file_/b/bptt-in-detail.ipynb": "{}",
        "doejane_12345_67890_bptt-in-detail.ipynb": "{}",
    })
    with pytest.raises(ImportRefused, match="both go to"):
        import_zip(archive, ASSIGNMENT, tmp_path / "subs")
    assert not (tmp_path / "subs").exists(), "a refused import wrote files"


def test_an_import_never_overwrites(tmp_path):
    archive = make_zip(tmp_path / "download.zip",
                       {"doejane_12345_67890_bptt-in-detail.ipynb": '{"second": 1}'})
    target = tmp_path / "subs" / "doejane-12345" / ASSIGNMENT / "bptt-in-detail.ipynb"
    target.parent.mkdir(parents=True)
    target.write_text('{"first": 1}')
    with pytest.raises(ImportRefused, match="exists already"):
        import_zip(archive, ASSIGNMENT, tmp_path / "subs")
    assert target.read_text() == '{"first": 1}'
