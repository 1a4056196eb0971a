"""The book builds from scratch with warnings as errors, ships no answers, and works offline.

The browser tests open every built page in headless Chromium over 127.0.0.1 with
every other host refused, as a student without a network would: each formula is
typeset by the book's own MathJax, no raw TeX is left, images load, internal links
and anchors resolve, search works and the console stays free of errors.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.bundle import build_bundle
from tests.browser import Traffic, chromium, needs_chromium, serve, watched_page
from tests.conftest import ROOT, secret_lines

JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
CHAPTERS = sorted(f"book/{p.stem}" for p in (ROOT / "book").glob("ch*.md"))
# Every page the build makes: one per source page, and Sphinx's own.
PAGES = sorted([f"book/{p.stem}.html" for p in (ROOT / "book").glob("*.md")]
               + ["index.html", "search.html", "genindex.html", "prf-prf.html"])
SCREENSHOTS = ROOT / "_build" / "screenshots"
# The root page only forwards the reader to the book's first page.
FORWARDS = {"index.html": "book/index.html"}
# A word that only chapter 4 uses (its gradient check's difference quotient).
CHAPTER_4_WORD, CHAPTER_4_PAGE = "quotient", "book/ch04-bptt-in-detail.html"
# Raw TeX that MathJax would have replaced: a command, a math delimiter, or $...$.
RAW_TEX = re.compile(r"\\[A-Za-z]+|\\[()\[\]]|\$\$|\$[^\s$][^$\n]{0,200}\$")
# After MathJax's first pass (if the page has math) and every image decoded: what a
# reader sees. Text inside code, scripts and typeset formulas is left out of `text`.
INSPECT = """async () => {
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  const images = [...document.images];
  await Promise.all(images.map(i => { i.loading = "eager"; return i.decode().catch(() => null); }));
  const maths = [...document.querySelectorAll("span.math, div.math")];
  const visible = document.body.cloneNode(true);
  visible.querySelectorAll("pre, code, script, style, textarea, mjx-container")
    .forEach(e => e.remove());
  return {
    maths: maths.length,
    typeset: maths.filter(e => e.querySelector("mjx-container")).length,
    merrors: document.querySelectorAll("mjx-merror").length,
    text: visible.textContent,
    images: images.map(i => [i.getAttribute("src"), i.naturalWidth]),
    links: [...document.querySelectorAll("a[href]")].map(a => a.href),
    ids: [...document.querySelectorAll("[id]")].map(e => e.id)
      .concat([...document.querySelectorAll("a[name]")].map(a => a.name)),
  };
}"""


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    done = subprocess.run([str(JUPYTER_BOOK), "build", str(ROOT), "--path-output", str(out),
                           "--warningiserror", "--nitpick", "--keep-going"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]
    return out / "_build" / "html"


def built_pages(html: Path) -> list[str]:
    """The HTML pages of a built book, relative to its root (theme and MathJax files aside)."""
    return sorted(str(p.relative_to(html)) for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith("_"))


def screenshot(page, name: str) -> None:
    """Keep a picture of the page at its first displayed equation under _build/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    equation = page.locator("div.math").first
    if equation.count():
        equation.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def opened(browser, base: str, name: str, traffic: Traffic):
    """The page ``name`` of the book at ``base``, loaded (and forwarded, if it forwards)."""
    page = watched_page(browser, base, traffic)
    page.goto(base + name, wait_until="load")
    if name in FORWARDS:
        page.wait_for_url(base + FORWARDS[name])
        page.wait_for_load_state("load")
    return page


@pytest.fixture(scope="module")
def browsed(html) -> dict:
    """Every built page as headless Chromium saw it: INSPECT's record plus its Traffic."""
    seen = {}
    with serve(html) as base, chromium() as browser:
        for name in built_pages(html):
            traffic = Traffic()
            page = opened(browser, base, name, traffic)
            seen[name] = {**page.evaluate(INSPECT), "traffic": traffic, "base": base}
            if name.startswith("book/ch"):
                screenshot(page, Path(name).stem)
            page.close()
    return seen


@pytest.fixture(scope="module")
def search_results(html) -> tuple[list[str], Traffic]:
    """The links that the built search page lists for CHAPTER_4_WORD."""
    with serve(html) as base, chromium() as browser:
        traffic = Traffic()
        page = watched_page(browser, base, traffic)
        page.goto(f"{base}search.html?q={CHAPTER_4_WORD}", wait_until="load")
        page.wait_for_selector("#search-results .search-summary", timeout=30_000)
        links = page.eval_on_selector_all("#search-results ul.search a",
                                          "links => links.map(a => a.href)")
        return [link.removeprefix(base) for link in links], traffic


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
    assert (bundle / "book" / "_static" / "mathjax" / "tex-chtml.js").is_file(), \
        "the bundle's book has no MathJax of its own"
    assert not list(bundle.rglob("*.db")), "the bundle holds a gradebook"
    assert not list(bundle.rglob("_sources")), "the bundle holds page sources"
    secrets = secret_lines()
    assert secrets, "found no solution lines to look for"
    for path in bundle.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="ignore")
            for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", *secrets):
                assert marker not in text, f"{path.relative_to(bundle)} contains {marker!r}"


def test_no_built_page_is_left_unbrowsed(html):
    assert built_pages(html) == PAGES, "PAGES must list every page the build makes"


@needs_chromium
@pytest.mark.parametrize("name", PAGES)
def test_page_needs_no_network(browsed, name):
    outside = browsed[name]["traffic"].outside
    assert not outside, f"{name} asks hosts other than the book's own: {outside[:5]}"


@needs_chromium
@pytest.mark.parametrize("name", PAGES)
def test_page_logs_no_errors(browsed, name):
    errors = browsed[name]["traffic"].errors
    assert not errors, f"{name}: {errors[:5]}"


@needs_chromium
@pytest.mark.parametrize("name", PAGES)
def test_every_formula_is_typeset(browsed, name):
    record = browsed[name]
    if name.startswith("book/ch") or name == "book/notation.html":
        assert record["maths"] > 0, f"{name} has no formula to typeset"
    assert record["typeset"] == record["maths"], \
        f"{name}: MathJax typeset {record['typeset']} of its {record['maths']} formulas"
    assert record["merrors"] == 0, f"{name}: {record['merrors']} formulas show a TeX error"


@needs_chromium
@pytest.mark.parametrize("name", PAGES)
def test_no_raw_tex_remains(browsed, name):
    raw = RAW_TEX.findall(browsed[name]["text"])
    assert not raw, f"{name} shows raw TeX to the reader: {raw[:5]}"


@needs_chromium
@pytest.mark.parametrize("name", PAGES)
def test_every_image_loads(browsed, name):
    broken = [src for src, width in browsed[name]["images"] if width == 0]
    assert not broken, f"{name}: images that do not load: {broken}"


@needs_chromium
@pytest.mark.parametrize("name", PAGES)
def test_every_internal_link_and_anchor_resolves(html, browsed, name):
    base = browsed[name]["base"]
    broken = []
    for link in browsed[name]["links"]:
        if not link.startswith(base):
            continue
        target, _, anchor = link.removeprefix(base).partition("#")
        target = target.split("?")[0] or "index.html"
        if target.endswith("/"):
            target += "index.html"
        if not (html / target).is_file():
            broken.append(link)
        elif anchor and target in browsed and anchor not in browsed[target]["ids"]:
            broken.append(link)
    assert not broken, f"{name} links to missing pages or anchors: {sorted(set(broken))[:10]}"


@needs_chromium
def test_book_opened_from_disk_typesets_its_formulas(html):
    """What a student does with no server at all: open index.html, follow a chapter link."""
    traffic = Traffic()
    with chromium() as browser:
        page = opened(browser, html.as_uri() + "/", "index.html", traffic)
        page.click(f"a[href$='{Path(CHAPTER_4_PAGE).name}']")
        page.wait_for_load_state("load")
        record = page.evaluate(INSPECT)
    assert page.url.endswith(CHAPTER_4_PAGE)
    assert 0 < record["typeset"] == record["maths"] and record["merrors"] == 0, \
        f"from disk, MathJax typeset {record['typeset']} of {record['maths']} formulas"
    assert not traffic.outside and not traffic.errors, (traffic.outside, traffic.errors)


@needs_chromium
def test_search_finds_a_word_of_chapter_4(search_results):
    links, traffic = search_results
    assert any(link.startswith(CHAPTER_4_PAGE) for link in links), \
        f"searching {CHAPTER_4_WORD!r} lists {links}, not {CHAPTER_4_PAGE}"
    assert not traffic.errors and not traffic.outside, (traffic.errors, traffic.outside)


def test_book_serves_its_own_pinned_mathjax(html):
    page = (html / CHAPTER_4_PAGE).read_text()
    assert 'src="../_static/mathjax/tex-chtml.js' in page, "the chapter loads MathJax from elsewhere"
    assert (html / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert "https://" not in " ".join(re.findall(r'<script[^>]*src="[^"]*"', page))
