"""The code scan sees what a submission calls, however it is spelled, and flags no honest code."""

from __future__ import annotations

import time

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.scan import ATTRIBUTES, MAX_PARSED, NAMES, STRINGS, TEXT, UNPARSED, scan
from tests.conftest import ROOT, nbgrader_meta

MATRIX_POWER, TORCH, RUNS = "uses matrix_power", "uses torch", "runs other programs"
COMPUTED, BUILT = "computes names at run time", "runs code built from strings"
INTROSPECTS, CHANNEL = "introspects functions or frames", "reads the grading channel or probe"
TAMPERS, HIDES = "tampers with the memory measurement", "keeps memory out of the measurement"
FLAGS = set(NAMES) | set(ATTRIBUTES) | set(STRINGS) | set(TEXT) | {UNPARSED}

# (what the code tries, the code, the flag it must raise). `np` and `torch` come unimported from
# the notebook's own cells, as they do in the course's notebooks.
OBFUSCATED = [
    ("getattr with concatenation", 'getattr(np.linalg, "matrix_" + "power")(M, 3)', MATRIX_POWER),
    ("getattr with adjacent literals", 'getattr(np.linalg, "matrix_" "power")(M, 3)', MATRIX_POWER),
    ("getattr with join", 'getattr(np.linalg, "".join(["matrix", "_", "power"]))(M, 3)',
     MATRIX_POWER),
    ("getattr with str.join", 'getattr(np.linalg, str.join("_", ("matrix", "power")))', MATRIX_POWER),
    ("getattr with a reversed string", 'getattr(np.linalg, "rewop_xirtam"[::-1])(M, 3)', MATRIX_POWER),
    ("getattr with reversed()", 'getattr(np.linalg, "".join(reversed("rewop_xirtam")))', MATRIX_POWER),
    ("getattr with chr codes", 'f = getattr(np.linalg, "".join(map(chr, [109, 97, 116, 114, 105, '
     '120, 95, 112, 111, 119, 101, 114])))', MATRIX_POWER),
    ("getattr with chr calls", "getattr(np.linalg, chr(109) + 'atrix' + chr(95) + 'power')",
     MATRIX_POWER),
    ("getattr with chr codes in a generator", "codes = [109, 97, 116]\n"
     "getattr(np.linalg, ''.join(chr(c) for c in codes))", COMPUTED),
    ("getattr with an f-string", "a = 'matrix'\ngetattr(np.linalg, f'{a}_{\"power\"}')", MATRIX_POWER),
    ("getattr with %", 'getattr(np.linalg, "%s_%s" % ("matrix", "power"))', MATRIX_POWER),
    ("getattr with format", 'getattr(np.linalg, "{}_{p}".format("matrix", p="power"))', MATRIX_POWER),
    ("getattr with a method", 'getattr(np.linalg, "MATRIX-POWER".replace("-", "_").lower())',
     MATRIX_POWER),
    ("getattr with a variable", 'name = "matrix_" + "power"\nop = getattr(np.linalg, name)',
     MATRIX_POWER),
    ("getattr with a loop variable", 'for name in ("norm", "matrix_power"):\n'
     '    ops = getattr(np.linalg, name)', MATRIX_POWER),
    ("getattr with a name bound later", 'def f(M, k):\n    return getattr(np.linalg, name)(M, k)\n'
     'name = "matrix_power"', MATRIX_POWER),
    ("getattr of a name from an argument", "def f(module, name):\n    return getattr(module, name)\n"
     "f(np.linalg, input())", COMPUTED),
    ("getattr passed around", "import functools\n"
     "functools.reduce(getattr, ['linalg', 'matrix_' + 'power'], np)", COMPUTED),
    ("getattr renamed", 'g = getattr\ng(np.linalg, "matrix_" + "power")(M, 3)', MATRIX_POWER),
    ("__getattribute__", 'np.linalg.__getattribute__("matrix_power")', MATRIX_POWER),
    ("attrgetter", 'import operator\noperator.attrgetter("linalg.matrix_" + "power")(np)', MATRIX_POWER),
    ("vars()[...]", 'vars(np.linalg)["matrix_" + "power"]', MATRIX_POWER),
    ("__dict__[...]", 'np.linalg.__dict__.get("matrix_power")(M, 3)', MATRIX_POWER),
    ("globals()[...]", 'globals()["n" + "p"].linalg.matrix_power', MATRIX_POWER),
    ("vars()[computed]", "key = input()\nvars(np.linalg)[key](M, 3)", COMPUTED),
    ("a namespace walked", "for k, v in vars(np.linalg).items():\n    pass", COMPUTED),
    ("alias import", "import numpy.linalg as la\nla.matrix_power(M, 3)", MATRIX_POWER),
    ("from-import alias", "from numpy.linalg import matrix_power as mp\nmp(M, 3)", MATRIX_POWER),
    ("from numpy import linalg", "from numpy import linalg\nlinalg.matrix_power(M, 3)", MATRIX_POWER),
    ("star import", "from numpy.linalg import *\nmatrix_power(M, 3)", MATRIX_POWER),
    ("an alias of an alias", "import numpy\nL = numpy.linalg\nP = L\nP.matrix_power(M, 3)",
     MATRIX_POWER),
    ("a module handed over", "def f(m):\n    return m.matrix_power\nf(np.linalg)", MATRIX_POWER),
    ("__import__", 't = __import__("torch")', TORCH),
    ("__import__ of a submodule", '__import__("numpy.linalg", fromlist=["x"]).matrix_power',
     MATRIX_POWER),
    ("importlib", 'import importlib\nt = importlib.import_module("to" + "rch")', TORCH),
    ("importlib, relative", 'from importlib import import_module\n'
     'import_module(".autograd", "bptt")', TORCH),
    ("importlib of a computed name", "import importlib\nimportlib.import_module(input())", COMPUTED),
    ("exec of a string", 'exec("x = 1")', BUILT),
    ("exec of code that imports", 'exec("import " + "torch")', TORCH),
    ("eval of a string", 'eval(compile("1", "<x>", "eval"))', BUILT),
    ("a function from a code object", "import types\ntypes.FunctionType(f.__code__, {})", BUILT),
    ("pickle", "import pickle\npickle.loads(data)", BUILT),
    ("the shell runs a cell", 'get_ipython().run_cell("import torch")', BUILT),
    ("a closure's cells", "def f():\n    pass\nf.__closure__[0].cell_contents", INTROSPECTS),
    ("a frame's locals", "import sys\nsys._getframe(1).f_locals", INTROSPECTS),
    ("the caller's frame", "import inspect\ninspect.currentframe().f_back.f_globals", INTROSPECTS),
    ("subclasses walked", "().__class__.__mro__[1].__subclasses__()", INTROSPECTS),
    ("gc", "import gc\ngc.get_referrers(probe)", INTROSPECTS),
    ("sys.modules['torch']", "import sys\nsys.modules['torch']", TORCH),
    ("sys.modules edited", "import sys, types\nsys.modules['bptt.probe'] = types.ModuleType('x')",
     "edits sys.modules"),
    ("import torch as t", "import torch as t", TORCH),
    ("torch from the notebook", "def f(x):\n    return torch.autograd.grad(x)", TORCH),
    ("from bptt import autograd", "from bptt import autograd", TORCH),
    ("bptt.autograd", "import bptt\nbptt.autograd.tanh_rnn_autograd", TORCH),
    ("subprocess through getattr", "import os\ngetattr(os, 'sys' + 'tem')('ls')", RUNS),
    ("os.system by its other name", "import posix\nposix.system('ls')", RUNS),
    ("subprocess", "import subprocess\nsubprocess.run(['ls'])", RUNS),
    ("a shell line", "!ls /\nx = 1", RUNS),
    ("a shell cell", "%%bash\nls -la /", RUNS),
    ("the shell's system", "sh = get_ipython()\nsh.system('ls')", RUNS),
    ("the channel's variable", "import os\nfd = int(os.environ.get('BPTT_CHANNEL_FD', '1'))", CHANNEL),
    ("the probe's folder", "import os\nos.getenv('BPTT_' + 'PROBE_DIR')", CHANNEL),
    ("a file descriptor", "import os\nos.write(3, b'{}')", CHANNEL),
    ("a file descriptor opened", "open(3, 'w').write('{}')", CHANNEL),
    ("/proc", "open('/pro' + 'c/self/fd/3', 'w')", CHANNEL),
    ("the probe", "from bptt.probe import probe", CHANNEL),
    ("the solutions", "import glob\nglob.glob('/work/**/solutions/*/*.ipynb', recursive=True)",
     "reaches for solutions or reference answers"),
    ("the reference", "from autograder.reference.tanh_rnn import tanh_step_backward",
     "reaches for solutions or reference answers"),
    ("the gradebook", "import sqlite3\nsqlite3.connect('gradebook.db')", "opens a database"),
    ("an AST transformer", "import ast\nclass T(ast.NodeTransformer):\n    pass\n"
     "get_ipython().ast_transformers.append(T())", "installs an AST transformer"),
    ("the excepthook", "import sys\nsys.excepthook = lambda *a: None", "overrides error reporting"),
    ("the shell's traceback", "get_ipython().showtraceback = lambda *a, **k: None",
     "overrides error reporting"),
    ("builtins replaced", "import builtins\nbuiltins.print = lambda *a: None",
     "replaces code objects or builtins"),
    ("builtins reached", "__builtins__.__dict__['ev' + 'al']('1')", BUILT),
    ("os._exit", "import os\nos._exit(0)", "ends the process"),
    ("fork", "import os\nos.fork()", "forks or ignores signals"),
    ("signals ignored", "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)",
     "forks or ignores signals"),
    ("tracemalloc's peak reset", "import tracemalloc\ntracemalloc.reset_peak()", TAMPERS),
    ("tracemalloc by a computed name", "import importlib\nimportlib.import_module('trace' + 'malloc').stop()",
     TAMPERS),
    ("reset_peak through getattr", "getattr(__import__('tracemalloc'), 'reset_' + 'peak')()", TAMPERS),
    ("the measurement's own functions replaced", "import bptt.memory as m\nm._reset_peak = lambda: None",
     TAMPERS),
    ("the measurement's sampler starved", "import sys\nsys.setswitchinterval(1e6)", TAMPERS),
    ("files allowed to grow while measured", "import resource\n"
     "resource.setrlimit(resource.RLIMIT_FSIZE, (-1, -1))", TAMPERS),
    ("the probe's inputs read by their path", "import json\n"
     "cases = json.load(open('/inputs/probe/test_checkpointed_memory.inputs.json'))", CHANNEL),
    ("an anonymous memory map", "import mmap\nbuffer = mmap.mmap(-1, 2**20)\nH = np.frombuffer(buffer)",
     HIDES),
    ("a numpy memmap", "H = np.memmap('states.dat', dtype=float, mode='w+', shape=(1000, 64))", HIDES),
    ("shared memory", "from multiprocessing import shared_memory\n"
     "shared_memory.SharedMemory(create=True, size=2**20)", HIDES),
    ("states in a temporary file", "import tempfile\nwith tempfile.TemporaryFile() as f:\n    np.save(f, H)",
     HIDES),
    ("states written and read back", "H.tofile('states.bin')\nH = np.fromfile('states.bin')", HIDES),
    ("code that does not parse", "def f(:\n    return matrix_power", UNPARSED),
    ("text of code that does not parse", "def f(:\n    return np.linalg.matrix_power", MATRIX_POWER),
]


@pytest.mark.parametrize("code, flag", [case[1:] for case in OBFUSCATED],
                         ids=[case[0] for case in OBFUSCATED])
def test_obfuscation_is_flagged(code, flag):
    assert flag in scan([code])


def test_bindings_in_one_cell_count_in_another():
    assert MATRIX_POWER in scan(["import numpy.linalg as la", "la.matrix_power(M, 3)"])
    assert MATRIX_POWER in scan(["la.matrix_power(M, 3)", "import numpy.linalg as la"])


def answer_cells(path) -> list[str]:
    """The cells the grader scans: answers, and cells without nbgrader metadata."""
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
            and (nbgrader_meta(c).get("solution") or not nbgrader_meta(c))]


NOTEBOOKS = sorted(ROOT.glob("solutions/*/*.ipynb")) + sorted(ROOT.glob("notebooks/*/*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_the_model_answers_and_the_released_stubs_raise_no_flag(path):
    cells = answer_cells(path)
    assert cells
    assert scan(cells) == []


HONEST = [
    # Names an honest student may reuse: a builtin's, or one the notebook imports.
    "vars = ['W_hh', 'b_h']\nexit = False\nfor v in vars:\n    print(v)",
    "probe = rng.standard_normal(3)\nprobe = probe / np.linalg.norm(probe)",
    "code = []\ncode.append(1)\ncompile_ = 3",
    # What a docstring, a comment or a message says is not what the code calls.
    'def f(M, k):\n    """Unlike np.linalg.matrix_power or torch, this never forms M^k."""\n'
    "    # see solutions/ for nothing\n    print('no torch, no matrix_power, no gradebook here')\n"
    "    return np.linalg.eigvalsh(M) ** k",
    # Magics, formatting, attributes and dictionaries of everyday code.
    "%matplotlib inline\n%timeit np.linalg.norm(np.eye(3))\nx = 1",
    "%%time\ny = np.tanh(np.ones(3))",
    "print('%.3f and %5d' % (1.0, 2), f'{3.0:.2f}', '{:>8}'.format('x'))",
    "grads = {name: np.zeros(3) for name in ('W_hh', 'b_h')}\nscale = grads.get('W_hh')\n"
    "phi = {'tanh': np.tanh}['tanh']\nU, s, Vt = np.linalg.svd(np.eye(3))",
    "class Cache:\n    def __init__(self, h):\n        self.h = h\n    def __repr__(self):\n"
    "        return f'Cache({self.h!r})'\ntry:\n    c = Cache(1)\nexcept ValueError as error:\n"
    "    raise RuntimeError('bad') from error",
    "import math\nfrom functools import reduce\nproduct = reduce(lambda a, b: a @ b, [np.eye(2)] * 3)",
    "with open('results.txt', 'w') as handle:\n    handle.write(str(math.pi))",
    # Measuring one's own function, as chapter 7's notebook does.
    "from bptt.memory import measure\nrun = measure(f, X, 3)\nprint(run.peak_bytes, run.seconds, run.result)",
    "import bptt.memory\nfrom bptt.memory import Measurement, MeasurementError\nbptt.memory.measure(f)",
]


@pytest.mark.parametrize("code", HONEST)
def test_honest_code_raises_no_flag(code):
    assert scan([code]) == []


def test_a_magic_alone_or_a_cell_magic_is_not_code_that_does_not_parse():
    assert scan(["%load_ext autoreload\n%autoreload 2"]) == []
    assert UNPARSED not in scan(["%%bash\nfor f in *; do echo $f; done"])
    assert UNPARSED in scan(["for f in *; do echo $f; done"])


def test_flags_are_sorted_names_of_known_categories():
    flags = scan(["import torch, subprocess", "getattr(np, input())", "exec('1')"])
    assert flags == sorted(flags) and set(flags) <= FLAGS
    assert {TORCH, RUNS, COMPUTED, BUILT} <= set(flags)


def pieces(word: str):
    """Random splits of ``word`` into constant pieces."""
    return st.lists(st.integers(1, len(word) - 1), unique=True, max_size=len(word) - 1).map(
        lambda cuts: [word[i:j] for i, j in zip([0, *sorted(cuts)], [*sorted(cuts), len(word)])])


def spelled(parts: list[str], how: str) -> str:
    """An expression that computes ``"".join(parts)`` from constants, in one of several ways."""
    if how == "+":
        return " + ".join(map(repr, parts))
    if how == "adjacent":
        return " ".join(map(repr, parts))
    if how == "join":
        return f"''.join({parts!r})"
    if how == "f-string":
        return 'f"' + "".join("{%r}" % part for part in parts) + '"'
    if how == "%":
        return repr("%s" * len(parts)) + f" % {tuple(parts)!r}"
    if how == "format":
        return repr("{}" * len(parts)) + ".format(" + ", ".join(map(repr, parts)) + ")"
    return repr("".join(parts)[::-1]) + "[::-1]"  # reversed


HOW = st.sampled_from(["+", "adjacent", "join", "f-string", "%", "format", "reversed"])
fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(parts=pieces("matrix_power"), how=HOW, through=st.sampled_from(["getattr", "vars", "dict"]))
def test_matrix_power_spelled_in_pieces_is_always_flagged(parts, how, through):
    name = spelled(parts, how)
    code = {"getattr": f"getattr(np.linalg, {name})(M, 3)",
            "vars": f"vars(np.linalg)[{name}](M, 3)",
            "dict": f"np.linalg.__dict__.get({name})(M, 3)"}[through]
    assert MATRIX_POWER in scan([code]), code


@fast
@given(parts=pieces("torch"), how=HOW, importer=st.sampled_from(
    ["__import__({})", "importlib.import_module({})", "sys.modules[{}]"]))
def test_torch_imported_by_a_name_in_pieces_is_always_flagged(parts, how, importer):
    code = "import importlib, sys\nt = " + importer.format(spelled(parts, how))
    assert TORCH in scan([code]), code


TOKENS = [*"abcdefgimnoprstx_.()[]{}'\"+*%!:,=\n #\\0123456789", "getattr", "import ", "exec",
          "    ", "f'", "__", "np.linalg", "os", "vars", "globals()", "sys.modules", "lambda "]


@fast
@given(source=st.lists(st.sampled_from(TOKENS), max_size=120).map("".join))
def test_any_text_is_scanned_into_known_flags(source):
    flags = scan([source])
    assert flags == sorted(flags) and set(flags) <= FLAGS


@pytest.mark.parametrize("code", [
    'x = "a" * 10**9',
    'x = "a" * 99_999 * 99_999',
    'x = ("a" * 99_999,) * 99_999\ny = "".join(x)',
    'x = "%0999999999d" % 1',
    'x = "{:>999999999}".format("a")',
    'x = f"{\'a\':>999999999}"',
    's = "x = 1\\n" * 20000\n' + "exec(s)\n" * 500,
    "x" + ".a" * 2000,
    "1" + " + 1" * 20000,
])
def test_pathological_code_is_scanned_quickly(code):
    start = time.monotonic()
    scan([code])
    assert time.monotonic() - start < 10


def test_code_past_what_is_parsed_is_still_matched_as_text():
    filler = "x = 1\n" * (MAX_PARSED // 6 + 1)
    assert TORCH in scan([filler, "import torch"])
