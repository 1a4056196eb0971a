"""`make grade` end to end, with a red team: every grade is earned, no cheat earns a point,
and one student's attack costs the others nothing.

All submissions are built by code from the released notebook and graded in one batch.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.sandbox import processes_limited
from autograder.reference.ch04_bptt_in_detail import CHECKS
from tests.conftest import (CH04, CH04_NOTEBOOK, ROOT, copy_with_manual_score, nbgrader_meta,
                            notebook_with_answers)
from tests.variants.ch04 import COMPLEX_STEP_RNN, COMPLEX_STEP_STEP, DIFFERENTLY, READS_THE_CLOSURE

RELEASED = ROOT / "notebooks" / CH04 / CH04_NOTEBOOK
SOLUTION = ROOT / "solutions" / CH04 / CH04_NOTEBOOK
MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)
ANSWER_CELLS = ("softmax_ce_backward", "tanh_step_backward", "tanh_rnn_backward",
                "directional_check")


def solution_answers() -> dict[str, str]:
    """The instructor's answer cells, by grade id."""
    nb = nbformat.read(SOLUTION, as_version=4)
    return {nbgrader_meta(c)["grade_id"]: MARKER.sub("", c.source)
            for c in nb.cells if nbgrader_meta(c).get("grade_id") in ANSWER_CELLS}


def zeros_everywhere(preamble: str) -> dict[str, str]:
    """Answers that return zeros of the right shapes, after ``preamble`` tried to hide that."""
    return {
        "softmax_ce_backward": preamble + "\ndef softmax_cross_entropy_backward(Z, targets):\n"
                               "    return np.zeros_like(Z)\n",
        "tanh_step_backward": "def tanh_step_backward(dh, cache):\n    return (np.zeros_like("
                              "cache.x), np.zeros_like(dh), np.zeros_like(cache.W_hx), np.zeros_like("
                              "cache.W_hh), np.zeros(dh.shape[1]))\n",
        "tanh_rnn_backward": "def tanh_rnn_backward(dO, cache):\n    return {}\n",
        "directional_check": "def directional_check(f, x, grad, rng, num_directions=3, eps=1e-5):\n"
                             "    return 0.0\n",
    }


CHEATS = {
    "patched-numpy": zeros_everywhere(
        "import math\nnp.allclose = lambda *a, **k: True\nnp.max = lambda *a, **k: 0.0\n"
        "np.abs = lambda x, *a, **k: 0 * x\nmath.isclose = lambda *a, **k: True\n"
        "import bptt.gradcheck\nbptt.gradcheck.rel_error = lambda a, b: 0.0"),
    "always-equal": {
        "softmax_ce_backward": "class Same:\n    def __eq__(self, other):\n        return True\n"
                               "    __array__ = None\n"
                               "def softmax_cross_entropy_backward(Z, targets):\n    return Same()\n",
        "tanh_rnn_backward": "def tanh_rnn_backward(dO, cache):\n"
                             "    return {k: Same() for k in ('W_qh', 'b_q', 'W_hx', 'W_hh', 'b_h', 'h0')}\n",
    },
    "assert-stripper": zeros_everywhere(
        "import ast\nclass NoAsserts(ast.NodeTransformer):\n"
        "    def visit_Assert(self, node):\n        return ast.Pass()\n"
        "get_ipython().ast_transformers.append(NoAsserts())"),
    "silenced-errors": zeros_everywhere(
        "import sys\nsys.excepthook = lambda *a: None\n"
        "get_ipython().showtraceback = lambda *a, **k: None\n"
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"),
    "fake-modules": zeros_everywhere(
        "import sys, types\nfake = types.ModuleType('bptt.probe')\nfake.probe = lambda *a, **k: None\n"
        "sys.modules['bptt.probe'] = fake\nchecks = types.ModuleType('bptt.checks')\n"
        "checks.assert_close = checks.assert_gradients_close = lambda *a, **k: None\n"
        "sys.modules['bptt.checks'] = checks"),
    "delegates": {
        "softmax_ce_backward": "import torch\ndef softmax_cross_entropy_backward(Z, targets):\n"
                               "    leaf = torch.tensor(Z, requires_grad=True)\n"
                               "    loss = torch.nn.functional.cross_entropy(leaf.reshape(-1, Z.shape[-1]), "
                               "torch.tensor(targets).reshape(-1))\n"
                               "    return torch.autograd.grad(loss, leaf)[0].numpy()\n",
        "tanh_step_backward": "from autograder.reference.tanh_rnn import tanh_step_backward\n",
        "tanh_rnn_backward": "from autograder.reference.tanh_rnn import tanh_rnn_backward\n",
        "directional_check": "def directional_check(f, x, grad, rng, num_directions=3, eps=1e-5):\n"
                             "    return rel_error(numerical_gradient(f, x, eps), grad)\n",
    },
    "reads-solutions": {
        "softmax_ce_backward": f"import json\nnb = json.load(open({str(SOLUTION)!r}))\n"
                               "for cell in nb['cells']:\n"
                               "    if cell['cell_type'] == 'code':\n"
                               "        exec(''.join(cell['source']))\n",
        "tanh_step_backward": f"import glob\nfor path in glob.glob({str(ROOT)!r} + '/**/*.ipynb', recursive=True):\n"
                              "    exec(open(path).read())\n",
    },
    "writes-everywhere": zeros_everywhere(
        "import glob, os, sqlite3\n"
        f"for path in glob.glob({str(ROOT)!r} + '/bptt/*.py'):\n"
        "    try:\n        open(path, 'a').write('\\nBROKEN = True\\n')\n    except OSError:\n        pass\n"
        "for db in glob.glob('/tmp/**/gradebook.db', recursive=True) + glob.glob('../../../../**/gradebook.db', recursive=True):\n"
        "    try:\n        c = sqlite3.connect(db)\n        c.execute('update grade set auto_score = 100')\n"
        "        c.commit()\n    except Exception:\n        pass\n"
        "for folder in glob.glob('../../../../**/ch04-bptt-in-detail', recursive=True):\n"
        "    try:\n        open(os.path.join(folder, 'bptt-in-detail.ipynb'), 'w').write('{}')\n"
        "    except OSError:\n        pass"),
    "out-of-memory": zeros_everywhere("hog = np.ones((2**31,))"),
    "ignores-timeouts": zeros_everywhere("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                         "while True:\n    pass"),
    "floods-output": zeros_everywhere("for i in range(10**6):\n    print(i)"),
}

CHEATS.update({
    # The grading channel is a pipe the student's process holds: forge into it, flood it.
    "forges-the-channel": zeros_everywhere(
        "import os, json\nfd = int(os.environ.get('BPTT_CHANNEL_FD', '1'))\n"
        "def put(data):\n    while data:\n        data = data[os.write(fd, data):]\n"
        "put(b'{\"index\": 0, \"stdout\": \"' + b'x' * 60_000_000 + b'\"}\\n')\n"
        "for check in ('test_softmax_ce_visible', 'test_rnn_hidden', 'test_step_hidden'):\n"
        "    put(json.dumps({'probe': check, 'outcomes': [{'result': {'array': 'a0'}}] * 40,\n"
        "        'arrays': {'a0': {'shape': [2**30, 2**30], 'data': ''}}}).encode() + b'\\n')\n"
        "put(b'[' * 200_000 + b'\\n')\n"
        "for _ in range(40):\n    put(b'{\"index\": 1, \"stdout\": \"' + b'y' * 1_000_000 + b'\"}\\n')"),
    # Whatever the student's process leaves behind in its scratch names nothing outside it.
    "links-to-a-classmate": zeros_everywhere(
        "import os\nfor name, target in (('probe', '../../alice'), ('log.jsonl', '/dev/zero'),\n"
        "                     ('cells.json', '/etc/shadow')):\n"
        "    try:\n        os.symlink(target, name)\n    except OSError:\n        pass\n"
        "try:\n    os.mkfifo('fifo')\nexcept OSError:\n    pass"),
    # Fill every writable place: scratch, temporary files, shared memory.
    "fills-the-disk": zeros_everywhere(
        "import os, tempfile\nwritten = 0\n"
        "for n, folder in enumerate(('.', tempfile.gettempdir(), '/dev/shm', os.path.expanduser('~'))):\n"
        "    for i in range(200):\n        try:\n"
        "            with open(os.path.join(folder, f'fill{n}-{i}'), 'wb') as f:\n"
        "                written += f.write(b'0' * 32 * 2**20)\n"
        "        except OSError:\n            break\n"
        "print(f'wrote {written // 2**20} MiB')"),
    # Student HTML and script, in printed text, a display and an exception message.
    "injects-html": {
        "softmax_ce_backward": "from IPython.display import HTML, display\n"
                               "display(HTML('<script>document.title=\"pwned\"</script>'))\n"
                               "print('<img src=x onerror=\"document.title=1\">')\n"
                               "def softmax_cross_entropy_backward(Z, targets):\n"
                               "    raise ValueError('<script>document.title=\"pwned\"</script>')\n",
    },
})

# Differentiating the forward pass: right on the small cases, far too slow on the large ones.
CHEATS["complex-step"] = {**zeros_everywhere(""), "tanh_step_backward": COMPLEX_STEP_STEP,
                          "tanh_rnn_backward": COMPLEX_STEP_RNN}

# A fork bomb is only let loose where the sandbox can stop it.
if processes_limited():
    CHEATS["fork-bomb"] = zeros_everywhere("import os\nwhile True:\n    os.fork()")

ROBUST = {  # honest work in a hostile shape, and the score it keeps
    # The exact directional derivative from the loss's closure, without central differences.
    "reads-the-closure": (9, lambda answers: {**answers, "directional_check": READS_THE_CLOSURE}),
    "dies-midway": (9, lambda answers: {**answers, "directional_check":
                                       "import os\nos._exit(1)\n" + answers["directional_check"]}),
    "warns": (11, lambda answers: {k: "import sys, warnings\nwarnings.warn('careful')\n"
                                      "print('to stderr', file=sys.stderr)\n" + v
                                   for k, v in answers.items()}),
    "loops-forever": (9, lambda answers: {**answers, "softmax_ce_backward": "while True:\n    pass\n"}),
    # Children that sleep on must not starve the checks after them of processes.
    "forks-and-sleeps": (11, lambda answers: {**answers, "softmax_ce_backward":
                                             "import os, time\ntry:\n    for _ in range(300):\n"
                                             "        if os.fork() == 0:\n            time.sleep(600)\n"
                                             "except OSError:\n    pass\n"
                                             + answers["softmax_ce_backward"]}),
}


def searches_the_machine(secret: Path, checkout: Path) -> dict[str, str]:
    """Answers that look for a key of the grading user and for another checkout of the course,
    print what they find and run the solution cells of any solution notebook they can open."""
    return {"softmax_ce_backward": f"""
import glob, json, os
for path in [{str(secret)!r}, os.path.expanduser('~/.ssh/id_rsa'), '/etc/shadow']:
    try:
        print(open(path).read())
    except OSError as error:
        print('cannot read', path, error)
found = glob.glob({str(checkout)!r} + '/**/*.ipynb', recursive=True)
found += glob.glob({str(ROOT)!r} + '/solutions/*/*.ipynb')
for depth in range(6):
    found += glob.glob('/*' * depth + '/solutions/*/*.ipynb')
print('found', found)
for path in found:
    for cell in json.load(open(path))['cells']:
        if cell['cell_type'] == 'code':
            try:
                exec(''.join(cell['source']))
            except BaseException:
                pass
"""}

OPTIONS = "--cell-timeout 10 --notebook-timeout 40"
EXPECTED = {"alice": 11, "bob": 0, "carol": 0, "erin": 2, "victor": 11, "walter": 11,
            "yvonne": 9, "zed": 0}
EXPECTED.update({name: 0 for name in CHEATS})
EXPECTED.update({name: score for name, (score, _) in ROBUST.items()})
# Files in the submissions folder that are no plain notebooks: a link to the solution, a FIFO.
EXPECTED.update({"searches-the-machine": 0, "links-to-the-solution": 0, "hands-in-a-fifo": 0})
EXPECTED["writes-it-differently"] = 11
# Honest answers followed by 20,000 cells: the grader reads the first 300 cells and is done fast.
EXPECTED["pads-the-notebook"] = 11

CORRECT_SOFTMAX = '''
def softmax_cross_entropy_backward(Z, targets):
    T, B, q = Z.shape
    onehot = np.eye(q)[targets]
    return (softmax(Z) - onehot) / (T * B)
'''


def tampered_solution() -> nbformat.NotebookNode:
    """The solution with its test cells deleted, one retagged as an answer, points raised."""
    nb = nbformat.read(SOLUTION, as_version=4)
    kept = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution"):
            if meta["grade_id"] == "test_softmax_ce_hidden":
                meta.update(solution=True, grade=False)
                cell.source = "pass"
                kept.append(cell)
            continue
        if meta.get("solution"):
            meta["points"] = 100
        kept.append(cell)
    nb.cells = kept
    return nb


def retyped_solution() -> nbformat.NotebookNode:
    """The solution with one answer cell turned into a markdown cell."""
    nb = nbformat.read(SOLUTION, as_version=4)
    for i, cell in enumerate(nb.cells):
        if nbgrader_meta(cell).get("grade_id") == "softmax_ce_backward":
            nb.cells[i] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata,
                                                        id=cell.id)
    return nb


def duplicated_solution() -> nbformat.NotebookNode:
    nb = nbformat.read(SOLUTION, as_version=4)
    answer = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "softmax_ce_backward")
    extra = nbformat.from_dict(dict(answer))
    extra["id"] = "copy-of-an-answer"
    extra.source = "def softmax_cross_entropy_backward(Z, targets):\n    return 0 * Z\n"
    nb.cells.append(extra)
    return nb


def ch04_rows(handle) -> dict[str, dict]:
    """The rows of grades.csv for this chapter's assignment, by student."""
    return {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == CH04}


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def digest(folder) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*.py")))).hexdigest()


def plant_secret(home: Path) -> tuple[Path, str]:
    """A key of the grading user outside the course: 0600 in a 0700 folder."""
    token = "SECRET-" + secrets.token_hex(16)
    folder = home / ".ssh"
    folder.mkdir(mode=0o700)
    key = folder / "id_course"
    key.write_text(token)
    key.chmod(0o600)
    return key, token


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("out")
    key, token = plant_secret(tmp_path_factory.mktemp("grader-home"))
    checkout = tmp_path_factory.mktemp("other-checkout")
    shutil.copytree(ROOT / "solutions", checkout / "solutions")
    folder = lambda student: submissions / student / CH04  # noqa: E731
    shutil.copytree(SOLUTION.parent, folder("alice"))
    shutil.copytree(RELEASED.parent, folder("bob"))
    folder("carol").mkdir(parents=True)
    (folder("carol") / CH04_NOTEBOOK).write_text('{"cells": [')
    # A learning platform renamed erin's file: it is still graded.
    write(notebook_with_answers(RELEASED, {"softmax_ce_backward": CORRECT_SOFTMAX}),
          folder("erin") / "erin_bptt-in-detail_1.ipynb")
    write(tampered_solution(), folder("victor") / CH04_NOTEBOOK)
    write(duplicated_solution(), folder("walter") / CH04_NOTEBOOK)
    write(retyped_solution(), folder("yvonne") / CH04_NOTEBOOK)
    (submissions / "zed" / "another-course").mkdir(parents=True)
    for name, answers in CHEATS.items():
        write(notebook_with_answers(RELEASED, answers), folder(name) / CH04_NOTEBOOK)
    for name, (_, change) in ROBUST.items():
        write(notebook_with_answers(RELEASED, change(solution_answers())), folder(name) / CH04_NOTEBOOK)
    write(notebook_with_answers(RELEASED, DIFFERENTLY), folder("writes-it-differently") / CH04_NOTEBOOK)
    write(notebook_with_answers(RELEASED, searches_the_machine(key, checkout)),
          folder("searches-the-machine") / CH04_NOTEBOOK)
    padded = notebook_with_answers(RELEASED, solution_answers())
    padded.cells += [nbformat.v4.new_code_cell(f"x = {i}") for i in range(20_000)]
    write(padded, folder("pads-the-notebook") / CH04_NOTEBOOK)
    folder("links-to-the-solution").mkdir(parents=True)
    (folder("links-to-the-solution") / CH04_NOTEBOOK).symlink_to(SOLUTION)
    folder("hands-in-a-fifo").mkdir(parents=True)
    os.mkfifo(folder("hands-in-a-fifo") / CH04_NOTEBOOK)
    package = digest(ROOT / "bptt")
    # The largest resident size of the grader and everything it ran, measured around make.
    measure = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
               "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "sys.exit(done.returncode)")
    done = subprocess.run([sys.executable, "-c", measure, "make", "grade",
                           f"SUBMISSIONS={submissions}", f"OUT={out}", f"GRADE_OPTIONS={OPTIONS}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with (out / "grades.csv").open() as handle:
        rows = ch04_rows(handle)
    maxrss_kib = int(re.search(r"MAXRSS (\d+)", done.stdout)[1])
    return {"out": out, "rows": rows, "submissions": submissions, "package": package,
            "token": token, "maxrss": maxrss_kib * 1024}


def test_grades_csv_has_the_contract_columns(graded):
    header = (graded["out"] / "grades.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["student_id", "assignment", "score", "max_score"]
    assert sorted(graded["rows"]) == sorted(EXPECTED)


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_scores(graded, student):
    row = graded["rows"][student]
    assert row["assignment"] == CH04
    assert (float(row["score"]), float(row["max_score"])) == (EXPECTED[student], 11), row["status"]


def test_run_is_sandboxed(graded):
    assert "WITHOUT a sandbox" not in (graded["out"] / "report.md").read_text(), \
        "grading ran without a sandbox: install bubblewrap (apt-get install bubblewrap)"
    assert all("UNSANDBOXED" not in row["status"] for row in graded["rows"].values())


def test_statuses_explain_what_happened(graded):
    rows = graded["rows"]
    assert rows["alice"]["status"] == "graded"
    assert "not a readable notebook" in rows["carol"]["status"]
    assert "took erin_bptt-in-detail_1.ipynb" in rows["erin"]["status"]
    assert "locked cell test_softmax_ce_hidden was changed" in rows["victor"]["status"]
    assert "appears twice" in rows["walter"]["status"]
    assert "softmax_ce_backward was turned into a markdown cell" in rows["yvonne"]["status"]
    assert rows["zed"]["status"] == "nothing handed in"
    assert "kernel died" in rows["dies-midway"]["status"]
    assert "time limit of 40 s" in rows["ignores-timeouts"]["status"]
    assert "time limit of 40 s" in rows["complex-step"]["status"]  # too slow on the large cases
    assert "only the first 300 were read" in rows["pads-the-notebook"]["status"]
    for student in ("links-to-the-solution", "hands-in-a-fifo"):
        assert "passed over bptt-in-detail.ipynb: not a regular file" in rows[student]["status"]


def test_suspicious_code_is_flagged(graded):
    rows = graded["rows"]
    assert "edits sys.modules" in rows["fake-modules"]["flags"]
    assert "installs an AST transformer" in rows["assert-stripper"]["flags"]
    assert "uses torch" in rows["delegates"]["flags"]
    assert "reaches for solutions or reference answers" in rows["delegates"]["flags"]
    assert "opens a database" in rows["writes-everywhere"]["flags"]
    assert rows["alice"]["flags"] == ""


def test_nothing_outside_the_sandbox_changed(graded):
    assert digest(ROOT / "bptt") == graded["package"], "a submission changed the helper package"
    alice = graded["submissions"] / "alice" / CH04 / CH04_NOTEBOOK
    assert alice.read_bytes() == SOLUTION.read_bytes(), "a submission changed another's files"
    with sqlite3.connect(graded["out"] / "nbgrader" / "gradebook.db") as db:
        assert db.execute("select max(auto_score) from grade").fetchone()[0] <= 2


def test_nothing_of_the_grading_user_leaks_into_the_results(graded):
    out, token = graded["out"], graded["token"].encode()
    leaked = [p for p in out.rglob("*") if p.is_file() and token in p.read_bytes()]
    assert not leaked, f"the planted key appears in {leaked}"
    page = (out / "feedback" / "searches-the-machine" / CH04 / "bptt-in-detail.html").read_text()
    assert "cannot read" in page and "found []" in page, "the search did not run as written"


def test_the_grader_stays_within_its_bounds(graded):
    out = graded["out"]
    assert graded["maxrss"] < 2**30, f"a grading process grew to {graded['maxrss'] / 2**20:.0f} MiB"
    largest = max(p.stat().st_size for p in (out / "feedback").rglob("*.html"))
    assert largest < 2 * 2**20, f"a feedback page of {largest / 2**20:.1f} MiB"
    assert not (out / "scratch").exists(), "scratch was left behind"
    assert "dropped" in graded["rows"]["forges-the-channel"]["status"]
    page = (out / "feedback" / "fills-the-disk" / CH04 / "bptt-in-detail.html").read_text()
    written = int(re.search(r"wrote (\d+) MiB", page)[1])
    assert written <= 256 + 1, f"a submission wrote {written} MiB past its scratch quota"


PAYLOADS = ('<script>document.title="pwned"</script>', '<img src=x onerror="document.title=1">')


def test_student_html_is_neutralised_in_every_page(graded):
    out = graded["out"]
    page = (out / "feedback" / "injects-html" / CH04 / "bptt-in-detail.html").read_text()
    assert "document.title" in page, "the payload never reached the feedback page"
    for payload in PAYLOADS:
        assert payload not in page, f"the feedback page carries {payload!r} as it was written"
    autograded = nbformat.read(out / "nbgrader" / "autograded" / "injects-html" / CH04 / CH04_NOTEBOOK,
                               as_version=4)
    outputs = [o for cell in autograded.cells for o in cell.get("outputs", [])]
    assert any("onerror" in o.get("text", "") for o in outputs), "the printed payload is missing"
    kinds = {kind for o in outputs for kind in o.get("data", {})}
    assert kinds <= {"text/plain", "image/png", "image/jpeg", "image/gif"}, kinds
    assert not [c for c in autograded.cells if c.cell_type == "markdown" and "<script" in c.source]


def test_feedback_explains_failures_without_showing_hidden_tests(graded):
    out = graded["out"]
    # What only hidden tests and the grader contain; a student's own file may mention it.
    secrets = ("HIDDEN TESTS", "bptt.probe", "autograder.reference", "expected = reference", *CHECKS)
    for student in EXPECTED:
        own = "".join(p.read_text() for p in (graded["submissions"] / student).rglob("*.ipynb")
                      if p.is_file() and not p.is_symlink())
        html = (out / "feedback" / student / CH04 / "bptt-in-detail.html").read_text()
        for secret in secrets:
            assert secret in own or secret not in html, f"{student}'s feedback shows {secret!r}"
    erin = (out / "feedback" / "erin" / CH04 / "bptt-in-detail.html").read_text()
    assert "raised NotImplementedError" in erin and "2 of 11 points" in erin


def test_grading_again_resumes_and_gives_the_same_grades(graded):
    out, before = graded["out"], (graded["out"] / "grades.csv").read_text()
    done = subprocess.run(["make", "grade", f"SUBMISSIONS={graded['submissions']}", f"OUT={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "grades.csv").read_text() == before


def grade_subset(graded, students, out, *options) -> dict:
    subset = out / "submissions"
    for student in students:
        shutil.copytree(graded["submissions"] / student, subset / student)
    done = subprocess.run([sys.executable, "-m", "autograder.grade", str(subset), str(out / "out"),
                           *OPTIONS.split(), *options], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with (out / "out" / "grades.csv").open() as handle:
        return ch04_rows(handle), done.stderr


def test_one_worker_gives_the_same_grades_as_two(graded, tmp_path):
    students = ["alice", "erin", "dies-midway", "floods-output"]
    rows, _ = grade_subset(graded, students, tmp_path, "--workers", "1")
    assert rows == {s: graded["rows"][s] for s in students}


def test_without_a_sandbox_grading_still_runs_and_says_so(graded, tmp_path):
    rows, stderr = grade_subset(graded, ["alice"], tmp_path, "--no-sandbox")
    assert rows["alice"]["score"] == "11"
    assert "UNSANDBOXED" in rows["alice"]["status"]
    assert "WITHOUT a sandbox" in stderr
    assert "WITHOUT a sandbox" in (tmp_path / "out" / "report.md").read_text()


def test_manual_scores_are_kept_and_merged(graded, tmp_path):
    out = copy_with_manual_score(graded["out"], tmp_path / "out", "test_rnn_hidden",
                                 "bptt-in-detail", CH04, "alice", 0.5)
    done = subprocess.run([sys.executable, "-m", "autograder.grade", str(graded["submissions"]),
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with (out / "grades.csv").open() as handle:
        rows = ch04_rows(handle)
    assert rows["alice"]["score"] == "9.5"
    assert rows["erin"] == graded["rows"]["erin"]
