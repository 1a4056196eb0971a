"""Neutralise student HTML wherever a person will see it: formgrader copies and feedback pages.

A markdown cell is rendered to HTML with nbconvert's own renderer (which keeps
math as text for MathJax) and cleaned by nh3 against an allow-list: no
scripts, event handlers, styles, frames or forms; links only to http(s)
addresses, opened without referrer; images only as embedded PNG, JPEG or GIF
data, so the page fetches nothing. The cleaned HTML becomes the cell's source,
as one HTML block that a second markdown pass leaves alone. Outputs keep plain
text, errors and raster images; HTML, SVG, JavaScript and every other rich
output is dropped, and attachments other than raster images with them.
"""

from __future__ import annotations

import base64
import copy
import html
import re

import nh3
from nbconvert.filters.markdown_mistune import markdown2html_mistune

TAGS = {"a", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
        "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span",
        "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul"}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"},
              "td": {"align"}, "th": {"align"}, "ol": {"start"}}
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
EMBEDDED_IMAGE = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*$")
OUTPUT_TYPES = {"text/plain", *IMAGE_TYPES}
# Any line of whitespace alone (form feeds and vertical tabs included) is blank to markdown.
BLANK_LINE = re.compile(r"\n[^\S\n]*(?=\n|$)")
# Control characters have no place in a written answer, and parsers disagree about them.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Characters that HTML or markdown read as syntax (tags, links, autolinks, images, emphasis,
# code, tables, headings), each replaced by its numeric entity, which both show as the character.
ENTITIES = {c: f"&#{ord(c)};" for c in "&<>\"'[]()!*_`|#~:\\"}


def _attribute(tag: str, name: str, value: str) -> str | None:
    """Keep a link only to an http(s) address and an image only as embedded raster data."""
    if tag == "a" and name == "href":
        return value if value.lower().startswith(("https://", "http://")) else None
    if tag == "img" and name == "src":
        return value if EMBEDDED_IMAGE.match(value) else None
    return value


def clean_html(text: str) -> str:
    """``text`` (HTML) reduced to the allow-list."""
    return nh3.clean(text, tags=TAGS, attributes=ATTRIBUTES, attribute_filter=_attribute,
                     url_schemes={"http", "https", "data"}, link_rel="noopener noreferrer nofollow")


def _embed_attachments(source: str, attachments: dict) -> str:
    """Replace ``attachment:name`` by the data of raster-image attachments."""
    for name, bundle in (attachments or {}).items():
        for kind in IMAGE_TYPES:
            data = bundle.get(kind) if isinstance(bundle, dict) else None
            if isinstance(data, str):
                try:
                    base64.b64decode(data, validate=True)
                except ValueError:
                    continue
                source = source.replace(f"attachment:{name}", f"data:{kind};base64,{data}")
                break
    return source


def clean_markdown(source: str, attachments: dict | None = None) -> str:
    """Markdown from a student as cleaned HTML in one block that markdown will not reparse."""
    plain = CONTROL.sub("", source.replace("\r\n", "\n").replace("\r", "\n"))
    rendered = clean_html(markdown2html_mistune(_embed_attachments(plain, attachments or {})))
    rendered = CONTROL.sub("", rendered.replace("\r", ""))
    # A blank line would end the HTML block and let the rest be read as markdown again.
    return "<div>\n" + BLANK_LINE.sub("\n&#8203;", rendered.strip()) + "\n</div>"


def _clean_output(output: dict) -> dict | None:
    """An output with only plain text and raster images left, or None if nothing is left."""
    if output.get("output_type") not in ("display_data", "execute_result"):
        return output
    data = {kind: value for kind, value in output.get("data", {}).items() if kind in OUTPUT_TYPES}
    if not data:
        return None
    output["data"] = data
    output["metadata"] = {}
    return output


def neutralise_notebook(nb):
    """A copy of ``nb`` in which no cell can run script or fetch anything when shown."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = clean_markdown(cell.source, cell.get("attachments"))
            cell.pop("attachments", None)
        elif cell.cell_type == "raw":
            cell.source = html.escape(cell.source)
            cell.metadata.pop("format", None)
            cell.metadata.pop("raw_mimetype", None)
        else:
            cell.outputs = [o for o in map(_clean_output, cell.get("outputs", [])) if o is not None]
    return nb


def escape(text: str) -> str:
    """Text from a student, safe to put into markdown or HTML: it reads as it is, links and all."""
    return "".join(ENTITIES.get(c, c) for c in str(text).replace("\n", " "))
