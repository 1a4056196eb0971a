"""Headless Chromium (Debian's) driven by Playwright, and a local web server for it.

The browser's only network is 127.0.0.1: every request to another host is refused
and recorded, so a page that needs the internet fails its test instead of loading
what it needs from a CDN.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# As the machine notes say: without the background-networking flags Chromium keeps
# trying to reach Google's hosts, which this closed network refuses.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None and os.getuid() != 0,
                                    reason="Chromium is installed by `make test` only as root")


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 in a thread; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    with QuietServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """The standard file handler without a log line per request on stderr."""

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    """A server that does not print a traceback when the browser drops a connection.

    Chromium cancels requests it no longer needs (a page closed mid-load); the test
    judges what the page did, so the server's side of that is noise.
    """

    def handle_error(self, request, client_address):
        pass


@dataclass
class Traffic:
    """What one page did on the network and in its console."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)


@contextmanager
def chromium() -> Iterator:
    """A headless Chromium browser (Playwright's handle), closed on exit."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed; `make browser` installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def watched_page(browser, base: str, traffic: Traffic):
    """A new page whose requests outside ``base`` are refused and whose errors are recorded.

    ``base`` is the book's URL: ``http://127.0.0.1:port/`` or a ``file://`` folder.
    """
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def route(request_route):
        url = request_route.request.url
        if url.startswith(base) or url.startswith("data:"):
            request_route.continue_()
        else:
            traffic.outside.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda message: message.type == "error"
            and traffic.errors.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: traffic.errors.append(f"uncaught: {error}"))
    page.on("response", lambda response: response.status >= 400
            and traffic.errors.append(f"HTTP {response.status}: {response.url}"))
    return page
