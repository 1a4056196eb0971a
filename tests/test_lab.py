"""`make lab` is the student's JupyterLab: nbgrader's student tools on, its instructor tools off.

JupyterLab is started exactly as `make lab` starts it (plus a port, a token and no
browser) and asked over HTTP what it serves: nbgrader's server extensions show in
the handlers that answer, its JupyterLab plugins in the page config of `/lab`.
A user's own Jupyter settings must still apply. `make formgrader` shares the
virtual environment, so it is checked too: it must keep the formgrader that
`make lab` hides.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port

TOKEN = "lab-test"
STUDENT_PLUGINS = {"@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:validate-assignment"}
INSTRUCTOR_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                      "@jupyter/nbgrader:create-assignment"}
CH02 = "ch02-gradient-analysis/gradient-analysis.ipynb"
USER_PLUGIN = "@jupyterlab/toc-extension:registry"


def server_options(port: int) -> list[str]:
    """What a test adds to a launch: no browser, this port only, a known token."""
    return ["--no-browser", "--ServerApp.ip=127.0.0.1", f"--port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}"]


def request(base: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    """GET ``path`` (POST ``form`` if given) with the token; the status and the body."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    ask = urllib.request.Request(base + path, data=data, headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(ask, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until_up(base: str, server: subprocess.Popen, log) -> None:
    """Return once the server at ``base`` answers; fail with its log if it exits or stalls."""
    for _ in range(120):
        if server.poll() is not None:
            break
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5)
            return
        except OSError:
            time.sleep(0.5)
    log.seek(0)
    pytest.fail(f"no Jupyter server at {base}:\n{log.read()[-3000:].decode(errors='replace')}")


@contextmanager
def serving(command: list[str], port: int, cwd: Path, env: dict | None = None) -> Iterator[str]:
    """Run a Jupyter server by ``command`` in ``cwd``; yield its base URL, then stop it."""
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, server, log)
            yield base
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def page_config(base: str, page: str) -> dict:
    """The ``jupyter-config-data`` JSON that ``page`` embeds for the frontend."""
    status, html = request(base, page)
    assert status == 200, f"{page} answered {status}"
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      html, re.S)
    assert found, f"{page} embeds no jupyter-config-data"
    return json.loads(found.group(1))


def make_lab(env: dict | None = None) -> Iterator[str]:
    """`make lab`, as a student starts it, in the environment ``env``."""
    port = free_port()
    command = ["make", "lab", f"LAB_OPTIONS={' '.join(server_options(port))}"]
    with serving(command, port, ROOT, env) as base:
        yield base


@pytest.fixture(scope="module")
def lab() -> Iterator[str]:
    yield from make_lab()


@pytest.fixture(scope="module")
def lab_of_a_user(tmp_path_factory) -> Iterator[str]:
    """`make lab` for a user whose own Jupyter settings turn off a server extension and a plugin."""
    user = tmp_path_factory.mktemp("jupyter")
    (user / "labconfig").mkdir()
    (user / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {USER_PLUGIN: True}}))
    (user / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {"jupyter_lsp": False}}}))
    yield from make_lab({**os.environ, "JUPYTER_CONFIG_DIR": str(user)})


@pytest.fixture(scope="module")
def formgrader(tmp_path_factory) -> Iterator[str]:
    """`make formgrader` on an empty grading course, as an instructor starts it."""
    out = tmp_path_factory.mktemp("out")
    (out / "nbgrader").mkdir()
    (out / "nbgrader" / "gradebook.db").touch()
    port = free_port()
    command = ["make", "formgrader", f"OUT={out}",
               f"FORMGRADER_OPTIONS={' '.join(server_options(port))}"]
    with serving(command, port, ROOT) as base:
        yield base


@pytest.mark.parametrize("path", ["/formgrader", "/formgrader/api/assignments", "/formgraders"])
def test_lab_serves_no_instructor_tool(lab, path):
    status, _ = request(lab, path)
    assert status == 404, f"make lab serves nbgrader's instructor page {path} (status {status})"


def test_lab_validates_a_notebook(lab):
    status, body = request(lab, "/assignments/validate", {"path": CH02})
    assert status == 200, f"the validate handler answered {status}"
    answer = json.loads(body)
    assert answer["success"], f"validation broke: {answer['value']}"
    assert answer["value"].get("failed"), "an unanswered notebook passed validation"


def test_lab_serves_the_assignment_list(lab):
    status, body = request(lab, "/assignments?course_id=")
    assert status == 200, f"the assignment list answered {status}"
    assert "success" in json.loads(body)


@pytest.mark.parametrize("page", ["/lab", "/tree"])
def test_lab_disables_the_instructor_plugins_only(lab, page):
    config = page_config(lab, page)
    names = {extension["name"] for extension in config["federated_extensions"]}
    assert "@jupyter/nbgrader" in names, "nbgrader's JupyterLab extension is not installed"
    disabled = set(config["disabledExtensions"])
    assert INSTRUCTOR_PLUGINS <= disabled, f"enabled in make lab: {INSTRUCTOR_PLUGINS - disabled}"
    assert not STUDENT_PLUGINS & disabled, f"disabled in make lab: {STUDENT_PLUGINS & disabled}"


def test_lab_keeps_the_users_own_settings(lab, lab_of_a_user):
    assert request(lab, "/lsp/status")[0] == 200, "the control: jupyter_lsp runs by default"
    assert request(lab_of_a_user, "/lsp/status")[0] == 404, "make lab overrode the user's settings"
    assert request(lab_of_a_user, "/formgrader")[0] == 404, "the formgrader is back"
    disabled = set(page_config(lab_of_a_user, "/lab")["disabledExtensions"])
    assert {USER_PLUGIN, *INSTRUCTOR_PLUGINS} <= disabled, f"disabled: {disabled}"


def test_make_formgrader_keeps_the_formgrader(formgrader):
    status, html = request(formgrader, "/formgrader")
    assert status == 200 and "nbgrader formgrade" in html, f"the formgrader answered {status}"
    disabled = set(page_config(formgrader, "/lab")["disabledExtensions"])
    assert not INSTRUCTOR_PLUGINS & disabled, f"make formgrader lost {INSTRUCTOR_PLUGINS & disabled}"
