"""One symbol, one meaning: every chapter and notebook uses only the symbols the notation page lists for it."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import ROOT
from tests.notation import chapter_of, listed, symbols, used

NOTATION = ROOT / "book" / "notation.md"
SOURCES = sorted((ROOT / "book").glob("ch*.md")) + sorted((ROOT / "solutions").glob("ch*/*.ipynb"))


def test_each_symbol_is_listed_once():
    twice = [s for s, n in Counter(symbol for symbol, _, _ in listed(NOTATION)).items() if n > 1]
    assert not twice, f"the notation page lists these symbols in more than one row: {twice}"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_symbols_are_listed_for_their_chapter(path):
    chapter = chapter_of(path)
    allowed = {symbol for symbol, _, chapters in listed(NOTATION) if chapter in chapters}
    unlisted = sorted(used(path) - allowed)
    assert not unlisted, (f"{path.relative_to(ROOT)} uses {unlisted}, which book/notation.md does not "
                          f"list for chapter {chapter}: use the listed symbol for that meaning, or "
                          "add the chapter (or a new row) to the notation page")


@pytest.mark.parametrize("chapter", range(1, 8))
def test_listed_chapters_use_their_symbols(chapter):
    """A chapter the page names for a symbol does use it, so the page does not go stale."""
    sources = [p for p in SOURCES if chapter_of(p) == chapter]
    uses = set().union(*(used(p) for p in sources))
    stale = sorted(s for s, _, chapters in listed(NOTATION) if chapter in chapters and s not in uses)
    assert not stale, f"book/notation.md lists {stale} for chapter {chapter}, which does not use them"


def test_symbols_are_read_as_meant():
    assert symbols(r"\frac{\mathrm{d}L}{\mathrm{d}\mathbf{W}_{hh}} = \sum_t \boldsymbol{\delta}_t"
                   r"\mathbf{h}_{t-1}^\top + \tilde{\mathbf{a}}_{t} \hat y") == [
        "L", r"\mathbf{W}", r"\boldsymbol{\delta}", r"\mathbf{h}", r"\tilde{\mathbf{a}}", r"\hat{y}"]
    assert symbols(r"\mathbb{E}[\xi_t] = 1, \quad \Pr(\theta_k > \alpha), \quad \text{for all } K") == [
        r"\mathbb{E}", r"\xi", r"\theta", r"\alpha", "K"]
