"""Importing a learning platform's zip of submissions into the grading layout."""

from __future__ import annotations

import zipfile

from autograder.lms import import_zip


def test_canvas_and_moodle_names(tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("doejane_12345_67890_bptt-in-detail.ipynb", "{}")
        zipped.writestr("roejohn_LATE_222_333_my notebook.ipynb", "{}")
        zipped.writestr("Ann Lee_444_assignsubmission_file_/bptt-in-detail.ipynb", "{}")
        zipped.writestr("__MACOSX/._doejane_12345_67890_bptt-in-detail.ipynb", "x")
        zipped.writestr("doejane_12345_67890_notes.txt", "not a notebook")
        zipped.writestr("../../escape_1_2_evil.ipynb", "{}")
    written = import_zip(archive, "ch04-bptt-in-detail", tmp_path / "subs")
    assert sorted(written) == [("ann-lee", "bptt-in-detail.ipynb"),
                               ("doejane", "bptt-in-detail.ipynb"),
                               ("escape", "evil.ipynb"),
                               ("roejohn", "my-notebook.ipynb")]
    assert (tmp_path / "subs" / "doejane" / "ch04-bptt-in-detail" / "bptt-in-detail.ipynb").exists()
    assert (tmp_path / "subs" / "escape" / "ch04-bptt-in-detail" / "evil.ipynb").exists()
    assert not (tmp_path.parent / "evil.ipynb").exists()
    assert {p.name for p in (tmp_path / "subs").iterdir()} == {"ann-lee", "doejane", "escape",
                                                                "roejohn"}
