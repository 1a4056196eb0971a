"""Student HTML in a real browser: the formgrader and the feedback page run none of it.

A student hands in chapter 5 with a written answer full of script (a script tag
that also tries to start a kernel with the instructor's cookie, an image and an
SVG with event handlers, a frame) and a code cell that displays the same as
HTML. After `make grade`, headless Chromium logs into the formgrader started by
`make formgrader` and opens that submission, then opens the feedback page. No
script may run: the page title stays as it was and the server has no kernel.
A control page with the same payload, outside the course, shows that the
browser here does run such script, so the test can fail.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.grade import gradebook_url
from tests.conftest import ROOT, free_port, notebook_with_answers

CH05, NOTEBOOK = "ch05-vanishing-exploding", "vanishing-exploding.ipynb"
MARK = "pwned-by-student"
SCRIPT = f"""document.title = "{MARK}";
fetch("/api/kernels", {{method: "POST", headers: {{"X-XSRFToken":
  (document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || ""}}}});"""
PAYLOAD = f"""My answer: clipping bounds the step.

<script>{SCRIPT}</script>
<img src="x" onerror='document.title="{MARK}"'>
<svg onload='document.title="{MARK}"'></svg>
<iframe srcdoc='<script>parent.document.title="{MARK}"</script>'></iframe>
[a link](javascript:document.title="{MARK}")
"""
DISPLAY = f"""from IPython.display import HTML, display
display(HTML({PAYLOAD!r}))
print({PAYLOAD!r})
"""

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None and os.getuid() != 0,
                                reason="Chromium is installed by `make test` only as root")


def dump_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts had ten seconds of (virtual) time, from headless Chromium."""
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
         "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def wait_for(url: str) -> bytes:
    for _ in range(240):
        try:
            return urllib.request.urlopen(url, timeout=5).read()
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"nothing answered at {url}")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions, out = tmp_path_factory.mktemp("submissions"), tmp_path_factory.mktemp("out")
    target = submissions / "mallory" / CH05 / NOTEBOOK
    target.parent.mkdir(parents=True)
    import nbformat

    nbformat.write(notebook_with_answers(ROOT / "notebooks" / CH05 / NOTEBOOK,
                                         {"written_clipping": PAYLOAD, "clip": DISPLAY}), target)
    done = subprocess.run([sys.executable, "-m", "autograder.grade", str(submissions), str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_the_browser_here_runs_such_script(tmp_path):
    """The control: the same payload in a page outside the course does change the title."""
    (tmp_path / "control.html").write_text(f"<html><head><title>control</title></head><body>"
                                           f"<script>{SCRIPT}</script></body></html>")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=tmp_path, **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dom = dump_dom(f"http://127.0.0.1:{server.server_address[1]}/control.html",
                       tmp_path / "profile")
    finally:
        server.shutdown()
    assert f"<title>{MARK}</title>" in dom


def test_the_formgrader_runs_no_student_script(graded, tmp_path):
    work = graded / "nbgrader"
    with Gradebook(gradebook_url(work)) as gradebook:
        notebook_id = gradebook.find_submission_notebook(Path(NOTEBOOK).stem, CH05, "mallory").id
    port, token = free_port(), "browser-test"
    options = (f"--port={port} --IdentityProvider.token={token} --no-browser "
               "--ServerApp.port_retries=0")
    server = subprocess.Popen(["make", "formgrader", f"OUT={graded}",
                               f"FORMGRADER_OPTIONS={options}"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/api/status?token={token}")
        dom = dump_dom(f"{base}/formgrader/submissions/{notebook_id}/?token={token}",
                       tmp_path / "profile")
        kernels = json.loads(urllib.request.urlopen(f"{base}/api/kernels?token={token}").read())
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    assert "My answer: clipping bounds the step." in dom, "the formgrader did not show the answer"
    assert MARK not in dom.split("</title>")[0], "a student's script changed the page title"
    assert kernels == [], f"a student's script started kernels: {kernels}"


def test_the_feedback_page_runs_no_student_script(graded, tmp_path):
    page = graded / "feedback" / "mallory" / CH05 / "vanishing-exploding.html"
    dom = dump_dom(page.as_uri(), tmp_path / "profile")
    assert "My answer: clipping bounds the step." in dom
    assert MARK not in dom.split("</title>")[0], "a student's script changed the page title"
