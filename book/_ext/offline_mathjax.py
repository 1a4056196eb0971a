"""Sphinx extension: the book serves MathJax from its own ``_static/``, never from a CDN.

A student opens the built book in a classroom or on a train with no network, so every
script a page needs must ship with it. MathJax comes from the MathJax project's npm
package at a pinned version, checked against the registry's published sha512 before
it is unpacked. It is fetched once into ``_build/`` (the only time a build needs the
network) and copied into every build's ``_static/mathjax/``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError

VERSION = "3.2.2"
TARBALL = f"https://registry.npmjs.org/mathjax/-/mathjax-{VERSION}.tgz"
# The `dist.integrity` field of https://registry.npmjs.org/mathjax/3.2.2.
INTEGRITY = ("sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/"
             "O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==")
ENTRY = "tex-chtml.js"
# Pages load the one combined component ENTRY; MathJax loads TeX extensions, fonts and the
# menu's renderers and accessibility tools from these folders beside it on demand. The
# package's other combined components (about 15 MB) are never loaded, so they stay out.
FOLDERS = ("input/", "output/", "ui/", "a11y/", "sre/", "adaptors/")
PREFIX = "package/es5/"


def integrity(data: bytes) -> str:
    """The npm registry's integrity string of ``data`` (``sha512-`` and base64)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def wanted(name: str) -> bool:
    """Whether the tarball member ``name`` is part of what the book serves."""
    inner = name.removeprefix(PREFIX)
    return name.startswith(PREFIX) and (inner == ENTRY or inner.startswith(FOLDERS))


def fetch(cache: Path) -> Path:
    """The static folder holding ``mathjax/`` at VERSION, downloaded into ``cache`` if absent."""
    static = cache / f"mathjax-{VERSION}"
    if (static / "mathjax" / ENTRY).is_file():
        return static
    try:
        data = urllib.request.urlopen(TARBALL, timeout=120).read()
    except OSError as error:
        raise ExtensionError(f"cannot download MathJax {VERSION} from {TARBALL} ({error}); "
                             "the first build needs the npm registry") from error
    if integrity(data) != INTEGRITY:
        raise ExtensionError(f"{TARBALL} does not match its pinned sha512; refusing to serve it")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            members = [m for m in archive.getmembers() if wanted(m.name)]
            archive.extractall(scratch, members=members, filter="data")
        unpacked = Path(scratch) / "static"
        unpacked.mkdir()
        shutil.move(Path(scratch) / PREFIX, unpacked / "mathjax")
        # Two builds may fetch at once: the first rename wins and the other keeps its copy out.
        try:
            os.rename(unpacked, static)
        except OSError:
            if not (static / "mathjax" / ENTRY).is_file():
                raise
    return static


def serve_mathjax(app: Sphinx, config: Config) -> None:
    """Point ``mathjax_path`` at the local copy and add it to the static files."""
    static = fetch(Path(app.confdir) / "_build")
    config.html_static_path.append(str(static))
    config.mathjax_path = f"mathjax/{ENTRY}"


def setup(app: Sphinx) -> dict:
    # Before Sphinx validates html_static_path (priority 800), so the new entry is checked too.
    app.connect("config-inited", serve_mathjax, priority=500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
