"""Neutralising student HTML keeps what a written answer needs: text, math, tables, images."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import nbformat
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from autograder.sanitise import TAGS, clean_markdown, escape, neutralise_notebook

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def test_math_tables_and_embedded_images_survive():
    html = clean_markdown("Since $a<b$, **so**:\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n"
                          f"$$\\sum_t x_t$$\n\n![plot](data:image/png;base64,{PNG})")
    assert "$a&lt;b$" in html and "<strong>so</strong>" in html
    assert "<table>" in html and "<td>2</td>" in html
    assert "\\sum_t x_t" in html
    assert f'src="data:image/png;base64,{PNG}"' in html


def test_attachments_become_embedded_images():
    html = clean_markdown("![p](attachment:p.png)", {"p.png": {"image/png": PNG}})
    assert f"data:image/png;base64,{PNG}" in html


@pytest.mark.parametrize("attack", [
    "<script>alert(1)</script>", '<img src="x" onerror="alert(1)">', "<svg onload=alert(1)>",
    '<iframe srcdoc="<script>alert(1)</script>">', '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))", '<div style="position:fixed">x</div>', "<form action=/api>",
    '<img src="http://127.0.0.1:8888/api/kernels">', "<object data=x>", "<base href=//evil>",
    "<math><mtext><script>alert(1)</script></mtext></math>",
])
def test_nothing_that_runs_or_fetches_survives(attack):
    html = clean_markdown(f"before\n\n{attack}\n\nafter").lower()
    for banned in ("<script", "onerror", "onload", "<iframe", "javascript:", "style=", "<form",
                   "127.0.0.1", "<object", "<base", "<svg"):
        assert banned not in html, (attack, html)


def test_no_blank_line_lets_markdown_reparse_the_result():
    html = clean_markdown("```\ncode\n\n\nmore\n```\n\n[x](javascript:alert(1))")
    assert "\n\n" not in html and html.startswith("<div>") and html.endswith("</div>")


def test_rich_outputs_are_dropped_and_plain_ones_kept():
    cell = nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("display_data", data={"text/html": "<script>x</script>",
                                                     "text/plain": "<HTML object>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "alert(1)"}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg onload=x>"}),
        nbformat.v4.new_output("stream", name="stdout", text="<b>printed</b>"),
    ])
    nb = neutralise_notebook(nbformat.v4.new_notebook(cells=[cell]))
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data", "stream"]
    assert set(outputs[0].data) == {"text/plain"}


def test_escaped_student_text_reads_as_written_and_links_nothing():
    """A status line quotes names a student chose: in a page it must stay plain text."""
    text = "cell ![](http://127.0.0.1:1/b.png) [re-grade form](http://127.0.0.1:1/x) <b>it's</b> a|b"
    html = clean_markdown(escape(text))
    assert "<a " not in html and "<img" not in html and "<b>" not in html
    assert "[re-grade form](http://127.0.0.1:1/x)" in html and "it's" in html


FRAGMENTS = ["<pre>", "</pre>", "<div>", "</div>", "\n", "\n\n", "\x0c", "\x0b", "\r", " ", "\t",
             "    ", "\u2028", "\u00a0", "![](http://127.0.0.1:1/x.png)", "[c](javascript:alert(1))",
             "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "`", "```", "<", ">", "&",
             "$", "> ", "- ", "<!--", "-->", "<![CDATA[", "]]>", "<http://127.0.0.1:1/>", "text"]


class Tags(HTMLParser):
    """Every tag and attribute of a page, as a browser's parser would see them."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def unsafe(html: str) -> list:
    parser = Tags()
    parser.feed(html)
    bad = []
    for tag, attrs in parser.found:
        if tag not in TAGS:
            bad.append(tag)
        for name, value in attrs.items():
            value = (value or "").strip().lower()
            if (name.startswith("on") or (name == "href" and not value.startswith(("http://", "https://")))
                    or (name == "src" and not value.startswith("data:image/"))):
                bad.append((tag, name, value))
    return bad


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
# Found by the red team: a form feed alone on a line inside <pre> ended the HTML block.
@example("<pre>\nline\n\x0c\n![](http://127.0.0.1:1/x.png) [c](javascript:alert(1))\n</pre>")
def test_a_second_markdown_pass_finds_nothing_to_run(text):
    """nbgrader's formgrader renders the cleaned cell as markdown again: it must stay inert."""
    assert not unsafe(markdown2html_mistune(clean_markdown(text)))
