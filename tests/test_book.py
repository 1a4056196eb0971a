"""The book builds from scratch with warnings as errors, and ships no answers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.bundle import build_bundle
from tests.conftest import ROOT, secret_lines

JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
CHAPTERS = sorted(f"book/{p.stem}" for p in (ROOT / "book").glob("ch*.md"))


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    done = subprocess.run([str(JUPYTER_BOOK), "build", str(ROOT), "--path-output", str(out),
                           "--warningiserror", "--nitpick", "--keep-going"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    return out / "_build" / "html"


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    assert CHAPTERS and all(f"file: {chapter}" in toc for chapter in CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_is_built_with_math_and_figures(html, chapter):
    page = (html / f"{chapter}.html").read_text()
    assert "math notranslate" in page, f"{chapter} renders no math"
    assert "<img" in page, f"{chapter} has no figure"
    assert "Traceback" not in page, f"{chapter} shows an error"
    assert chapter.split("/")[-1] in (html / "book" / "index.html").read_text(), \
        f"{chapter} is not linked from the first page"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_equations_are_numbered_within_their_chapter(html, chapter):
    """Equation (4.3) is the third numbered equation of chapter 4, so a reader can find it."""
    numbers = re.findall(r'class="eqno">\((\d+)\.(\d+)\)', (html / f"{chapter}.html").read_text())
    number = int(re.search(r"ch(\d+)", chapter).group(1))
    assert numbers, f"{chapter} has no numbered equation"
    assert [int(n) for n, _ in numbers] == [number] * len(numbers), \
        f"{chapter}: equation numbers {numbers} do not all start with its chapter number {number}"
    assert [int(k) for _, k in numbers] == list(range(1, len(numbers) + 1)), \
        f"{chapter}: equations are not numbered 1, 2, ... in order"


def test_notation_page_is_linked_from_the_first_page(html):
    assert "notation.html" in (html / "book" / "index.html").read_text()


def test_book_ships_no_sources_and_no_answers(html):
    assert not (html / "_sources").exists(), "page sources are copied into the HTML"
    assert not list(html.rglob("*.ipynb")), "notebooks are copied into the HTML"
    for path in html.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".js", ".txt", ".json"}:
            text = path.read_text(errors="ignore")
            for secret in ("BEGIN SOLUTION", "HIDDEN TESTS", "autograder.reference"):
                assert secret not in text, f"{path.relative_to(html)} contains {secret!r}"


def test_student_bundle_holds_no_answers(html, tmp_path):
    bundle = build_bundle(html, tmp_path / "bundle")
    names = {p.name for p in bundle.rglob("*")}
    assert {"index.html", "bptt-in-detail.ipynb", "rnn.py", "probe.py"} <= names
    assert not (bundle / "bptt" / "reference").exists(), "the bundle holds the reference answers"
    assert not list(bundle.rglob("*.db")), "the bundle holds a gradebook"
    assert not list(bundle.rglob("_sources")), "the bundle holds page sources"
    secrets = secret_lines()
    assert secrets, "found no solution lines to look for"
    for path in bundle.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="ignore")
            for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", *secrets):
                assert marker not in text, f"{path.relative_to(bundle)} contains {marker!r}"
