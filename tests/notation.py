"""The symbols that a page or a notebook uses in its mathematics, and those the notation page lists.

A symbol is the head of a term with its font and accent: `\\mathbf{h}` in `\\mathbf{h}_{t-1}`,
`\\hat{\\mathbf{y}}` in `\\hat{\\mathbf{y}}_t`. Subscripts and superscripts are not part of it (they
hold indices, names such as `hh` in `\\mathbf{W}_{hh}`, and powers). Lowercase italic letters are
left out: they are indices, sizes, scalar models and entries of vectors, whose meaning the
notation page states by kind rather than one by one.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|```\{math\}[^\n]*\n(.*?)```", re.S)
CODE_CELL = re.compile(r"^```\{code-cell\}.*?^```", re.S | re.M)
OPTION = re.compile(r"^\s*:\w+:.*$", re.M)
COMMAND = re.compile(r"\\([A-Za-z]+|.)")
# Commands whose argument is text or a name, not a symbol.
TEXT_ARGUMENT = {"mathrm", "text", "operatorname", "label", "tag", "textrm", "textbf", "mathit",
                 "texttt", "ref", "eqref", "begin", "end"}
FONT = {"mathbf", "boldsymbol", "mathbb", "mathcal", "bm"}
ACCENT = {"tilde", "hat", "bar", "widetilde", "widehat", "overline", "dot", "check", "vec"}
GREEK = set("""alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda
    mu nu xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta
    Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell""".split())
CHAPTER = re.compile(r"ch(\d\d)")


def _argument(math: str, i: int) -> tuple[str, int]:
    """The braced group or single token that starts at math[i], and the index after it."""
    while i < len(math) and math[i] == " ":
        i += 1
    if i >= len(math):
        return "", i
    if math[i] == "{":
        depth = 0
        for j in range(i, len(math)):
            depth += {"{": 1, "}": -1}.get(math[j], 0)
            if depth == 0:
                return math[i + 1:j], j + 1
        return math[i + 1:], len(math)
    if math[i] == "\\":
        m = COMMAND.match(math, i)
        return m.group(0), m.end()
    return math[i], i + 1


def symbols(math: str) -> list[str]:
    """The symbols of one formula, in order, lowercase italic letters left out."""
    found, i = [], 0
    while i < len(math):
        c = math[i]
        if c in "_^":
            _, i = _argument(math, i + 1)
        elif c == "\\":
            m = COMMAND.match(math, i)
            name, i = m.group(1), m.end()
            if name in TEXT_ARGUMENT:
                _, i = _argument(math, i)
            elif name in FONT:
                argument, i = _argument(math, i)
                found.append(f"\\{name}{{{argument.strip()}}}")
            elif name in ACCENT:
                argument, i = _argument(math, i)
                inner = symbols(argument) or re.findall(r"[a-z]", argument)[:1]
                found.append(f"\\{name}{{{inner[0]}}}" if inner else f"\\{name}{{}}")
                found.extend(inner[1:])
            elif name in GREEK:
                found.append("\\" + name)
        else:
            if c.isalpha() and c.isupper():
                found.append(c)
            i += 1
    return found


def formulas(markdown: str) -> list[str]:
    """The formulas of a MyST page or a notebook's markdown, code cells and options left out."""
    text = CODE_CELL.sub("", markdown)
    return [OPTION.sub("", next(g for g in m.groups() if g is not None))
            for m in MATH.finditer(text)]


def markdown_of(path: Path) -> str:
    """The prose of a page (.md) or of a notebook's markdown cells (.ipynb)."""
    if path.suffix == ".ipynb":
        return "\n\n".join(c.source for c in nbformat.read(path, as_version=4).cells
                           if c.cell_type == "markdown")
    return path.read_text()


def used(path: Path) -> set[str]:
    """Every symbol that the page or notebook at path uses."""
    return {s for formula in formulas(markdown_of(path)) for s in symbols(formula)}


def chapter_of(path: Path) -> int:
    """The chapter a page or notebook belongs to, from the chNN in its path."""
    return int(CHAPTER.search(str(path)).group(1))


def _chapters(cell: str) -> set[int]:
    """Chapters written as '1-6', '3, 5' or 'all'."""
    chapters = set()
    for part in re.split(r"[,;]", cell.replace("–", "-")):
        bounds = [int(n) for n in re.findall(r"\d+", part)]
        if len(bounds) == 2 and "-" in part:
            chapters |= set(range(bounds[0], bounds[1] + 1))
        else:
            chapters |= set(bounds)
    return chapters


def listed(notation_page: Path) -> list[tuple[str, str, set[int]]]:
    """(symbol, meaning, chapters) for every symbol in the page's 'Symbol | Meaning | Chapters' tables."""
    rows, in_table = [], False
    for line in notation_page.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and cells[:3] == ["Symbol", "Meaning", "Chapters"]:
            in_table = True
        elif not line.lstrip().startswith("|"):
            in_table = False
        elif in_table and len(cells) >= 3 and not set(cells[0]) <= set("-: "):
            row = [s for formula in formulas(cells[0]) for s in symbols(formula)]
            rows += [(symbol, cells[1], _chapters(cells[2])) for symbol in dict.fromkeys(row)]
    return rows
