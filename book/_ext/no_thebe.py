"""Sphinx extension: no live-code (thebe) scripts in a book that runs no live code.

Jupyter Book always loads sphinx-thebe, even with ``launch_buttons.thebe: false``, and
sphinx-thebe 0.3.1 puts its configuration script on every page; under Sphinx 7 that
script appears twice, so every page logs "Identifier 'THEBE_JS_URL' has already been
declared". Its scripts would also point at unpkg.com, which a student without a network
cannot reach. This extension unhooks the listener that adds them.
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.config import Config


def unhook_thebe_scripts(app: Sphinx, config: Config) -> None:
    """Disconnect sphinx-thebe's ``init_thebe_core`` (it only adds page scripts)."""
    for listener in list(app.events.listeners["env-before-read-docs"]):
        handler = listener.handler
        if handler.__module__ == "sphinx_thebe" and handler.__name__ == "init_thebe_core":
            app.disconnect(listener.id)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", unhook_thebe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
