"""Flag code in a submission that an instructor should look at (a report, not a verdict).

The scan reads what the student's code calls, not how it is spelled. Each code cell is parsed
(IPython magics and shell lines blanked first), and a visitor resolves

- imports and aliases to full dotted names: after ``import numpy.linalg as la``, ``la.matrix_power``
  is ``numpy.linalg.matrix_power``; names that the released notebook's own cells import count too;
- strings computed from constants (``"matrix_" + "power"``, ``"".join(...)``, f-strings, ``%`` and
  ``.format``, slices, ``chr``), so that ``getattr(np.linalg, "matrix_" + "power")`` is the attribute
  ``np.linalg.matrix_power`` and ``importlib.import_module("to" + "rch")`` an import of torch.

The names it resolves are flagged by category (``NAMES``, ``ATTRIBUTES``), the constant strings by
pattern (``STRINGS``: paths, variables of the grading channel). Where code hides what it calls from
this reading, the hiding is flagged: a name computed at run time, code built from strings, a look
into functions and frames. A cell that does not parse is matched as text (``TEXT``).
"""

from __future__ import annotations

import ast
import base64
import builtins
import codecs
import json
import re
import string
import warnings
from functools import cache
from itertools import islice

from autograder.course import NOTEBOOKS

COMPUTED = "computes names at run time"
BUILT = "runs code built from strings"
INTROSPECTS = "introspects functions or frames"
CHANNEL = "reads the grading channel or probe"
UNPARSED = "code that does not parse"
RUNS = "runs other programs"
TAMPERS = "tampers with the memory measurement"
HIDES = "keeps memory out of the measurement"
# What a notebook may use of bptt.memory; the rest of it is the measurement's own machinery.
MEMORY_API = ("measure", "Measurement", "MeasurementError")

# Resolved dotted names, by category. A rule covers the name and everything in it: "torch" covers
# "torch.autograd.grad". Builtins are bare ("eval"); "builtins" is the module named explicitly.
NAMES = {
    "edits sys.modules": ("sys.modules",),
    "installs an AST transformer": ("ast.NodeTransformer",),
    "ends the process": ("os._exit", "os.kill", "os.killpg", "os.abort", "sys.exit", "exit", "quit",
                         "SystemExit", "signal.raise_signal", "signal.pthread_kill",
                         "_thread.interrupt_main", "IPython.shell.ask_exit"),
    "opens a database": ("sqlite3", "dbm", "shelve", "nbgrader", "sqlalchemy"),
    "reaches for solutions or reference answers": ("autograder", "bptt.reference"),
    "uses torch": ("torch", "functorch", "bptt.autograd"),
    "replaces code objects or builtins": ("builtins", "types.CodeType"),
    "overrides error reporting": ("sys.excepthook", "sys.unraisablehook", "threading.excepthook"),
    RUNS: ("subprocess", "ctypes", "cffi", "pty.spawn", "asyncio.create_subprocess_exec",
           "asyncio.create_subprocess_shell", "IPython.shell.system", "IPython.shell.getoutput",
           "IPython.shell.system_piped", "IPython.shell.system_raw")
          + tuple(f"os.{f}" for f in "system popen execl execle execlp execlpe execv execve execvp "
                  "execvpe spawnl spawnle spawnlp spawnlpe spawnv spawnve spawnvp spawnvpe "
                  "posix_spawn posix_spawnp".split()),
    "forks or ignores signals": ("os.fork", "os.forkpty", "pty.fork", "os.register_at_fork",
                                 "signal.signal", "signal.pthread_sigmask", "signal.siginterrupt",
                                 "multiprocessing", "concurrent.futures.ProcessPoolExecutor"),
    BUILT: ("eval", "exec", "compile", "types.FunctionType", "types.LambdaType", "types.CodeType",
            "code", "codeop", "pickle.load", "pickle.loads", "pickle.Unpickler", "marshal.load",
            "marshal.loads", "dill", "cloudpickle", "runpy", "zipimport", "importlib.machinery",
            "importlib.util.spec_from_file_location", "importlib.util.spec_from_loader",
            "importlib.util.module_from_spec")
           + tuple(f"IPython.shell.{f}" for f in "run_cell run_line_magic run_cell_magic run_code "
                   "run_ast_nodes ex ev safe_execfile safe_run_module magic".split()),
    INTROSPECTS: ("sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
                  "threading.settrace", "inspect", "gc", "traceback.walk_stack", "traceback.walk_tb"),
    # tracemalloc's peak can be reset or its tracing stopped; a long switch interval starves the
    # sampler thread of bptt.memory that watches for that; the measured call may not grow files.
    TAMPERS: ("tracemalloc", "_tracemalloc", "sys.setswitchinterval", "resource.setrlimit",
              "resource.prlimit"),
    # Memory that tracemalloc does not see: mapped, shared, or written to files and read back.
    HIDES: ("mmap", "numpy.memmap", "numpy.lib.format", "numpy.save", "numpy.savez",
            "numpy.savez_compressed", "numpy.load", "numpy.fromfile", "numpy.savetxt", "numpy.loadtxt",
            "numpy.genfromtxt", "multiprocessing.shared_memory", "tempfile", "os.memfd_create",
            "pickle.dump", "marshal.dump", "shelve"),
    CHANNEL: ("bptt.probe", "bptt.runner", "socket.fromfd")
             + tuple(f"os.{f}" for f in "environ environb getenv getenvb putenv unsetenv write read "
                     "fdopen pread pwrite readv writev sendfile dup dup2".split()),
}
# Attribute names flagged whatever they are taken from: the object may be a module handed over as
# an argument, or anything else the scan does not follow.
ATTRIBUTES = {
    "installs an AST transformer": ("ast_transformers", "input_transformers_cleanup",
                                    "input_transformers_post"),
    "ends the process": ("_exit",),
    "uses matrix_power": ("matrix_power",),
    "replaces code objects or builtins": ("__code__", "__builtins__", "co_code"),
    "overrides error reporting": ("excepthook", "unraisablehook", "showtraceback", "_showtraceback",
                                  "showsyntaxerror", "set_custom_exc", "custom_exceptions"),
    RUNS: ("system", "popen"),
    "forks or ignores signals": ("fork", "forkpty"),
    INTROSPECTS: ("__closure__", "cell_contents", "__globals__", "__code__", "__self__", "__wrapped__",
                  "f_locals", "f_globals", "f_back", "f_builtins", "tb_frame", "gi_frame", "cr_frame",
                  "ag_frame", "_getframe", "__subclasses__", "__mro__", "mro", "__bases__", "__base__"),
    CHANNEL: ("environ", "getenv", "fdopen"),
    TAMPERS: ("reset_peak", "get_traced_memory", "clear_traces", "setswitchinterval"),
    HIDES: ("memmap", "open_memmap", "tofile", "fromfile", "memfd_create", "SharedMemory",
            "ShareableList"),
}
# Constant strings the code computes: paths and names of what is not the student's to read.
STRINGS = {  # (a path component, not a word of a message: "(^|/)x(/|$)")
    "reaches for solutions or reference answers":
        r"(^|[/\\.])(solutions|autograder)([/\\.]|$)|bptt[./]reference|\.ipynb$",
    "opens a database": r"(^|[/\\])gradebook|\.(db|sqlite3?)$",
    "uses torch": r"^(torch|functorch|bptt\.autograd)(\.\w+)*$",
    "uses matrix_power": r"^[\w.]*matrix_power$",
    CHANNEL: r"BPTT_CHANNEL_FD|BPTT_PROBE_DIR|^/proc(/|$)|^/dev/fd(/|$)|^/inputs(/|$)|^bptt\.(probe|runner)\b",
    TAMPERS: r"^_?tracemalloc(\.|$)",
    HIDES: r"^/dev/shm(/|$)",
}
# The text of what is not parsed: magic and shell lines, and cells that are not Python. (No pattern
# starts with \b: that makes the regular expression engine try every position of the text.)
TEXT = {
    "edits sys.modules": r"sys\s*\.\s*modules",
    "installs an AST transformer": r"ast_transformers|NodeTransformer",
    "ends the process": r"os\s*\.\s*_exit|os\s*\.\s*kill|sys\s*\.\s*exit",
    "opens a database": r"sqlite|gradebook",
    "reaches for solutions or reference answers": r"solutions/|autograder|bptt\.reference",
    "uses torch": r"torch\b|bptt\.autograd",
    "uses matrix_power": r"matrix_power",
    "replaces code objects or builtins": r"__code__|__builtins__|builtins\s*\.",
    "overrides error reporting": r"excepthook|showtraceback|custom_exc",
    RUNS: r"subprocess|os\s*\.\s*system|os\s*\.\s*popen|ctypes",
    "forks or ignores signals": r"os\s*\.\s*fork|signal\s*\.\s*signal",
    COMPUTED: r"(get|set|del)attr|__import__|import_module|attrgetter|(vars|globals|locals)\s*\(|__dict__",
    BUILT: r"(eval|exec|compile)\s*\(|FunctionType|codeop|pickle|marshal",
    INTROSPECTS: r"__(closure|globals|code|self|wrapped|subclasses|mro)__|cell_contents|_getframe|"
                 r"f_(locals|globals|back)\b|import inspect|inspect\.|import gc|gc\.",
    CHANNEL: r"bptt\.(probe|runner)|BPTT_CHANNEL_FD|BPTT_PROBE_DIR|environ|/proc\b|/inputs\b|"
             r"os\s*\.\s*(write|read|fdopen)\b",
    TAMPERS: r"tracemalloc|setswitchinterval|reset_peak|memory\s*\.\s*_",
    HIDES: r"mmap|memmap|shared_memory|SharedMemory|tempfile|tofile|fromfile|memfd_create|/dev/shm|"
           r"(np|numpy)\s*\.\s*(save|load)",
}
# IPython's escapes: a line magic, a cell magic, a shell line, also assigned (`files = !ls`).
MAGIC = re.compile(r"^([ \t]*)(?:[\w.]+[ \t]*=[ \t]*)?[%!]")
SHELL = re.compile(r"^[ \t]*(?:[\w.]+[ \t]*=[ \t]*)?(?:!|%%?(?:system|sx|sc|bash|sh|script)\b)", re.M)

BUILTINS = {name: name for name in dir(builtins)} | {"__builtins__": "builtins",
                                                     "get_ipython": "get_ipython"}
# Modules known under another name: `posix.system` is `os.system`.
MODULES = {"posix": "os", "_pickle": "pickle", "_operator": "operator", "_sqlite3": "sqlite3",
           "_io": "io", "_signal": "signal", "_ctypes": "ctypes", "_posixsubprocess": "subprocess",
           "__builtin__": "builtins"}
GETATTRS = {"getattr", "setattr", "delattr"}
IMPORTERS = {"__import__", "importlib.import_module", "importlib.__import__", "pkgutil.resolve_name"}
GETTERS = {"operator.attrgetter", "operator.methodcaller"}
GETTER = "<getter>"  # what attrgetter("a.b") returns: "<getter>.a.b"
SHELLS = {"get_ipython", "IPython.get_ipython", "IPython.core.getipython.get_ipython"}
# Functions that take a name as a value: used other than by a call, the scan cannot see the name.
DYNAMIC = GETATTRS | IMPORTERS | GETTERS | {"vars", "globals", "locals"}
# What may be done with a namespace (a __dict__, sys.modules) by a key the scan can read.
NAMESPACE_KEYS = {"get", "pop", "setdefault", "__getitem__", "__setitem__", "__delitem__"}
FILES = {"open", "io.open", "io.FileIO", "os.fdopen"}
# Builtins that a student's variable of the same name does not hide from the scan.
UNSHADOWED = {"eval", "exec", "compile", "getattr", "setattr", "delattr", "__import__", "__builtins__"}
STR_METHODS = {"lower", "upper", "casefold", "swapcase", "title", "capitalize", "strip", "lstrip",
               "rstrip", "removeprefix", "removesuffix", "split", "encode", "decode"}
DECODERS = {"base64.b64decode", "base64.b32decode", "base64.b16decode", "base64.urlsafe_b64decode",
            "bytes.fromhex"}
MAX_FOLD = 100_000   # longest string the scan computes: a constant is never a reason to run out of memory
MAX_INT = 2**63
MAX_ITEMS = 1_000    # longest tuple or list: of pieces of a name, or of its character codes
MAX_NAMES = 64       # resolutions of one expression kept
MAX_DEPTH = 3        # strings run by exec scanned within strings run by exec
# Characters of code parsed (the rest is matched as text), and of strings run by exec scanned per
# round: a real notebook's answers are a small fraction, and the scan's time is the grader's.
MAX_PARSED, MAX_RUN = 200_000, 100_000
PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError)


def _index(table: dict[str, tuple[str, ...]]) -> dict[str, set[str]]:
    """{name: categories} from {category: names}."""
    index: dict[str, set[str]] = {}
    for category, names in table.items():
        for name in names:
            index.setdefault(name, set()).add(category)
    return index


BY_NAME, BY_ATTRIBUTE = _index(NAMES), _index(ATTRIBUTES)


def categories(name: str) -> set[str]:
    """The categories of a resolved dotted name: by each prefix, and by each attribute in it."""
    parts = name.split(".")
    found = set()
    for i, part in enumerate(parts):
        found |= BY_NAME.get(".".join(parts[:i + 1]), set()) | BY_ATTRIBUTE.get(part, set())
    if parts[:2] == ["bptt", "memory"] and len(parts) > 2 and parts[2] not in MEMORY_API:
        found.add(TAMPERS)  # the measurement's internals: its saved tracemalloc functions, its sampler
    return found


def canonical(module: str) -> str:
    """A module's name as the rules spell it."""
    head, dot, rest = module.partition(".")
    return MODULES.get(head, head) + dot + rest


def owner_of(name: str) -> str | None:
    """What a namespace's keys are members of: ``numpy.__dict__`` → numpy; None if no namespace."""
    if name in ("sys.modules", "builtins"):
        return name
    return name[:-len(".__dict__")] if name.endswith(".__dict__") else None


def is_namespace(name: str) -> bool:
    return name == "sys.modules" or name.endswith(".__dict__")


def argument(call: ast.Call, index: int, keyword: str = "") -> ast.expr | None:
    """The argument at ``index`` or named ``keyword``; None when absent or behind an unpacking."""
    if any(isinstance(arg, ast.Starred) for arg in call.args[:index + 1]):
        return None
    if index < len(call.args):
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def size(value) -> int:
    """How much a constant holds: its length, with the lengths of a tuple's items."""
    if isinstance(value, tuple):
        return len(value) + sum(map(size, value))
    return len(value) if isinstance(value, (str, bytes)) else 0


def small(value) -> bool:
    return isinstance(value, int) and abs(value) < MAX_INT


def binop(left, op: ast.operator, right):
    """``left op right`` for constants, where the result stays small."""
    if left is None or right is None:
        return None
    if isinstance(op, ast.Add) and (type(left) is type(right) or small(left) and small(right)):
        return left + right
    if isinstance(op, ast.Sub) and small(left) and small(right):
        return left - right
    if isinstance(op, ast.Mult):
        times, seq = (left, right) if small(left) else (right, left)
        if small(seq):
            return left * right
        if small(times) and size(seq) * times <= MAX_FOLD:  # check before building it
            return seq * times
    if isinstance(op, ast.Mod) and isinstance(left, str):
        return printf(left, right if isinstance(right, tuple) else (right,))
    return None


def printf(fmt: str, args: tuple):
    """``fmt % args`` with plain conversions only: a width could ask for any length."""
    if not re.fullmatch(r"([^%]|%[%sdirc])*", fmt) or not all(
            isinstance(a, str) or small(a) for a in args):
        return None
    if len(fmt) + fmt.count("%") * max(map(size, args), default=0) > MAX_FOLD:
        return None
    return fmt % args


def formatted(fmt: str, args: list, kwargs: dict):
    """``fmt.format(*args, **kwargs)`` with plain fields only (no spec, index or attribute)."""
    parsed = list(string.Formatter().parse(fmt))
    fields = [field for _, field, _, _ in parsed if field is not None]
    if any(spec for _, _, spec, _ in parsed) or not all(
            re.fullmatch(r"\d*|[A-Za-z_]\w*", field) for field in fields):
        return None
    values = [*args, *kwargs.values()]
    if not all(isinstance(v, str) or small(v) for v in values):
        return None
    if len(fmt) + len(fields) * max(map(size, values), default=20) > MAX_FOLD:
        return None
    return fmt.format(*args, **kwargs)


def method(owner, name: str, args: list, kwargs: dict):
    """``owner.name(*args)`` for a constant string or bytes and a method that keeps it small."""
    if not isinstance(owner, (str, bytes)) or None in args or None in kwargs.values():
        return None
    if name == "format" and isinstance(owner, str):
        return formatted(owner, args, kwargs)
    if kwargs:
        return None
    if name == "join" and len(args) == 1 and isinstance(args[0], (tuple, str, bytes)):
        items = tuple(args[0]) if not isinstance(args[0], bytes) else None
        if items is not None and sum(map(size, items)) + len(owner) * len(items) <= MAX_FOLD:
            return owner.join(items)
    if name == "replace" and len(args) == 2 and all(type(a) is type(owner) for a in args):
        if len(owner) + owner.count(args[0]) * len(args[1]) <= MAX_FOLD:
            return owner.replace(*args)
    if name in STR_METHODS:
        result = getattr(owner, name)(*args)  # a name from the list above, not the student's
        return tuple(result) if isinstance(result, list) else result
    return None


def subscript(value, index):
    """``value[index]``: an item or a slice (a reversal is a slice) of a constant."""
    if not isinstance(value, (str, bytes, tuple)):
        return None
    if isinstance(index, slice) or small(index):
        return value[index]
    return None


class Scan(ast.NodeVisitor):
    """What a notebook's cells call, and the flags that raises.

    Bindings are kept for the notebook as a whole, not per scope nor in order: cells run in any
    order and share one namespace, and a name bound anywhere may be used anywhere. ``scan`` visits
    all cells again until the bindings stop growing, so a use before its binding is resolved too.
    """

    def __init__(self, prelude: dict[str, set[str]] | None = None, modules: frozenset = frozenset()):
        self.bound: dict[str, set[str]] = {}      # name -> dotted names it is bound to
        self.constants: dict[str, set] = {}       # name -> constant values assigned to it
        self.variables: set[str] = set()          # names also bound to what the scan cannot tell
        self.stars: set[str] = set()              # modules imported with *
        self.imports: set[str] = set()            # names bound by `import module`
        self.prelude, self.prelude_modules = prelude or {}, modules
        self.trees: dict[str, ast.Module | None] = {}  # strings run by exec, parsed
        self.depth = 0
        self.new_round()

    def new_round(self) -> None:
        """Forget what was computed, and flagged, from bindings that may since have grown."""
        self.flags = set()
        self.ran = 0         # characters of strings run by exec scanned
        self.resolved: dict[ast.AST, set[str]] = {}
        self.folded: dict[ast.AST, object] = {}
        self.used: set[ast.AST] = set()    # expressions whose parent uses them: called, indexed, ...
        self.known: set[ast.AST] = set()   # assignment targets bound to a constant or a name

    def bindings(self) -> tuple[int, ...]:
        return (sum(map(len, self.bound.values())), sum(map(len, self.constants.values())),
                len(self.variables), len(self.stars))

    def flag(self, category: str) -> None:
        self.flags.add(category)

    def check(self, value) -> None:
        """Flag a constant the code computes by the patterns of STRINGS."""
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str):
            self.flags |= {name for name, pattern in STRINGS.items() if re.search(pattern, value)}
        elif isinstance(value, tuple):
            for item in value:
                self.check(item)

    # Walking the tree.

    def visit(self, node: ast.AST) -> None:
        """Check an expression as a constant if it folds to one, else resolve and flag what it
        names, before its parts; then visit the parts, and any statement, as usual."""
        if isinstance(node, ast.expr):
            loads = not isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del))
            if not loads and isinstance(node, ast.Name):  # a binding, not a use
                return super().visit(node)
            value = self.fold(node) if loads else None
            if value is not None:  # a constant: nothing in it is called
                self.check(value)
                return
            names = self.resolve(node)
            if node not in self.used and any(n in DYNAMIC or is_namespace(n) for n in names):
                self.flag(COMPUTED)  # getattr, a __dict__, ... handed on: its names are out of sight
            if isinstance(node, (ast.Attribute, ast.Subscript)):
                self.used.add(node.value)
            elif isinstance(node, ast.Call):
                self.used.add(node.func)
        super().visit(node)

    def visit_Expr(self, node: ast.Expr) -> None:
        if not isinstance(node.value, ast.Constant):  # a docstring does nothing
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            module = canonical(alias.name)
            self.flags |= categories(module)
            name = alias.asname or module.partition(".")[0]
            self.bind_name(name, {module if alias.asname else name})
            self.imports.add(name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = canonical(node.module or "")  # a relative import: a notebook is in no package
        for alias in node.names:
            full = f"{module}.{alias.name}".strip(".")
            if alias.name == "*":
                if len(self.stars) < MAX_NAMES:
                    self.stars.add(module)
                full = module
            self.flags |= categories(full)
            if alias.name != "*":
                self.bind_name(alias.asname or alias.name, {full})

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self.bind(target, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.bind(node.target, node.value)
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.bind(node.target, node.value)
        self.generic_visit(node)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        items = self.fold(node.iter)  # `for name in ("a", "b")` binds each constant
        if isinstance(node.target, ast.Name) and isinstance(items, (tuple, str)):
            self.bind_constants(node.target.id, set(items))
            self.known.add(node.target)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load) and node not in self.known:
            self.variables.add(node.id)

    def visit_arg(self, node: ast.arg) -> None:
        self.variables.add(node.arg)
        self.generic_visit(node)

    def visit_FunctionDef(self, node) -> None:
        self.variables.add(node.name)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.variables.add(node.name)
        self.generic_visit(node)

    # Bindings.

    def bind_name(self, name: str, names: set[str]) -> None:
        bound = self.bound.setdefault(name, set())
        bound |= set(islice(names - bound, max(0, MAX_NAMES - len(bound))))

    def bind_constants(self, name: str, values: set) -> None:
        constants = self.constants.setdefault(name, set())
        constants |= set(islice(values - constants, max(0, MAX_NAMES - len(constants))))

    def bind(self, target: ast.expr, value: ast.expr) -> None:
        """Remember what an assignment binds to a name: a constant, or names the scan resolved."""
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
            if len(target.elts) == len(value.elts):
                for t, v in zip(target.elts, value.elts):
                    self.bind(t, v)
            return
        if isinstance(target, ast.Name):
            names = {target.id}
        elif isinstance(target, ast.Subscript) and "__main__.__dict__" in self.resolve(target.value):
            names = self.names(target.slice) or set()  # globals()["np"] = ...
        else:
            return
        constant, resolved = self.fold(value), self.resolve(value)
        for name in names:
            if constant is not None:
                self.bind_constants(name, {constant})
            elif resolved:
                self.bind_name(name, resolved)
                self.used.add(value)  # `g = getattr` is followed: g(...) is a getattr
            else:
                return  # visit_Name makes it a variable
        self.known.add(target)

    def lookup(self, name: str) -> set[str]:
        """What a name may stand for: the student's imports and aliases, the notebook's own imports,
        a builtin, a member of a module imported with *; a name never bound, itself."""
        found = set(self.bound.get(name, ()))
        # An honest variable may reuse a builtin's name (`vars`, `exit`) or one the notebook imported
        # (`probe`): it shadows them, but for names no honest code reuses.
        variable = name in self.variables or name in self.constants
        if name in self.prelude and (name in self.prelude_modules or not variable):
            found |= self.prelude[name]
        if name in BUILTINS and (name in UNSHADOWED or not (variable or name in self.bound)):
            found.add(BUILTINS[name])
        found |= {f"{module}.{name}" for module in self.stars}
        if not found and not variable:
            found.add(name)  # set where the scan does not look, or not at all
        return found

    # Resolving names.

    def resolve(self, node: ast.AST | None) -> set[str]:
        """The dotted names ``node`` may stand for: modules, their members, builtins. Flags them."""
        if node is None:
            return set()
        if node not in self.resolved:
            self.resolved[node] = set()
            names = set(islice(self._resolve(node), MAX_NAMES))
            for name in names:
                self.flags |= categories(name)
            self.resolved[node] = names
        return self.resolved[node]

    def _resolve(self, node: ast.AST) -> set[str]:
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            return self.member(self.resolve(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            return self.entries(self.resolve(node.value), node.slice)
        if isinstance(node, ast.Call):
            return self.returned(node)
        if isinstance(node, ast.NamedExpr):
            return self.resolve(node.value)
        if isinstance(node, ast.BoolOp):
            return set().union(*map(self.resolve, node.values))
        if isinstance(node, ast.IfExp):
            return self.resolve(node.body) | self.resolve(node.orelse)
        return set()

    def member(self, bases: set[str], attr: str) -> set[str]:
        """``base.attr`` for each base; a base the scan cannot resolve is "?"."""
        found = set()
        for base in bases or {"?"}:
            if is_namespace(base) and attr not in NAMESPACE_KEYS:
                self.flag(COMPUTED)  # a namespace's keys listed, copied or updated wholesale
            if base == "__main__" and attr != "__dict__":
                found |= self.lookup(attr)
            elif base == "builtins" and attr != "__dict__":
                found.add(attr)
            else:
                found.add(f"{base}.{attr}")
        return found

    def entries(self, bases: set[str], key: ast.expr | None) -> set[str]:
        """``namespace[key]`` for the namespaces among ``bases``: sys.modules, a __dict__, globals()."""
        owners = {owner for base in bases if (owner := owner_of(base))}
        if not owners:
            return set()
        keys = self.names(key)
        if keys is None:
            self.flag(COMPUTED)
            return set()
        found = set()
        for owner in owners:
            for k in keys:
                found |= {canonical(k)} if owner == "sys.modules" else self.member({owner}, k)
        return found

    def attribute(self, bases: set[str], name: ast.expr | None) -> set[str]:
        """getattr(base, name): the attribute, if the name folds to constants."""
        names = self.names(name)
        if names is None:
            self.flag(COMPUTED)
            return set()
        return set().union(*(self.member(bases, n) for n in names))

    def returned(self, call: ast.Call) -> set[str]:
        """What a call returns where that is a name: an import, an attribute, a namespace."""
        found = set()
        for func in self.resolve(call.func):
            owner, _, method_name = func.rpartition(".")
            if func in GETATTRS or method_name in ("__getattribute__", "__getattr__"):
                if func in GETATTRS or len(call.args) > 1:  # also object.__getattribute__(obj, name)
                    found |= self.attribute(self.resolve(argument(call, 0)), argument(call, 1))
                else:  # obj.__getattribute__(name)
                    found |= self.attribute({owner}, argument(call, 0))
            elif func in IMPORTERS:
                found |= self.imported(func, call)
            elif func in GETTERS:
                paths = self.names(argument(call, 0))
                if paths is None:
                    self.flag(COMPUTED)
                found |= {f"{GETTER}.{path}" for path in paths or ()}
            elif func.startswith(GETTER + "."):  # attrgetter("linalg.matrix_power")(np)
                bases = self.resolve(argument(call, 0))
                for attr in func[len(GETTER) + 1:].split("."):
                    bases = self.member(bases, attr)
                found |= bases
            elif func == "vars" and call.args:
                found |= {f"{base}.__dict__" for base in self.resolve(call.args[0]) or {"?"}}
            elif func in ("vars", "globals", "locals"):
                found.add("__main__.__dict__")
            elif func in SHELLS:
                found.add("IPython.shell")
            elif method_name in NAMESPACE_KEYS and owner_of(owner):
                found |= self.entries({owner}, argument(call, 0))
            elif func in ("exec", "eval", "compile"):
                self.run(argument(call, 0, "source"))
            elif func in FILES and isinstance(self.fold(argument(call, 0)), int):
                self.flag(CHANNEL)  # open(3): a file descriptor, the channel's perhaps
        return found

    def imported(self, func: str, call: ast.Call) -> set[str]:
        """The module that ``__import__``, ``import_module``, ... return; flags the import."""
        names = self.names(argument(call, 0, "name"))
        if names is None:
            self.flag(COMPUTED)
            return set()
        package = self.names(argument(call, 1, "package")) or {""}
        found = set()
        for name in names:
            if func == "importlib.import_module" and name.startswith("."):
                modules = {p + name for p in package}
            else:
                modules = {name.replace(":", ".")}  # pkgutil.resolve_name("numpy.linalg:matrix_power")
            for module in map(canonical, modules):
                self.flags |= categories(module)
                top = func.endswith("__import__") and not self.fold(argument(call, 3, "fromlist"))
                found.add(module.partition(".")[0] if top else module)
        return found

    def run(self, source: ast.expr | None) -> None:
        """Scan a constant string that exec, eval or compile runs, as code of the notebook."""
        code = self.fold(source)
        if isinstance(code, bytes):
            code = code.decode("utf-8", "replace")
        if not isinstance(code, str) or self.depth >= MAX_DEPTH or self.ran + len(code) > MAX_RUN:
            return
        self.ran += len(code)
        if code not in self.trees:
            self.trees[code] = parse(code)[0]
        if self.trees[code] is not None:
            self.depth += 1
            try:
                self.visit(self.trees[code])
            finally:
                self.depth -= 1

    # Folding constants.

    def names(self, node: ast.expr | None) -> set[str] | None:
        """The strings ``node`` may hold, if the scan knows them all; else None."""
        if isinstance(node, ast.Name) and node.id in self.constants and node.id not in self.variables:
            values = self.constants[node.id]
        else:
            value = self.fold(node)
            values = {value} if value is not None else set()
        return values if values and all(isinstance(v, str) for v in values) else None

    def fold(self, node: ast.AST | None):
        """The value of ``node`` if the scan can compute it from constants: a str, bytes, a small
        int, or a tuple of those. None otherwise."""
        if node is None:
            return None
        if node not in self.folded:
            self.folded[node] = None
            try:
                value = self._fold(node)
            except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError):
                value = None
            if isinstance(value, tuple) and len(value) > MAX_ITEMS or not (
                    small(value) or isinstance(value, (str, bytes, tuple)) and size(value) <= MAX_FOLD):
                value = None
            self.folded[node] = value
        return self.folded[node]

    def _fold(self, node: ast.AST):
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, (str, bytes)) or small(node.value) else None
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            values = self.constants.get(node.id, ())
            return next(iter(values)) if len(values) == 1 and node.id not in self.variables else None
        if isinstance(node, (ast.Tuple, ast.List)) and isinstance(node.ctx, ast.Load):
            items = [self.fold(e) for e in node.elts]
            return tuple(items) if None not in items else None
        if isinstance(node, ast.JoinedStr):
            return self.fstring(node)
        if isinstance(node, ast.BinOp):
            return binop(self.fold(node.left), node.op, self.fold(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self.fold(node.operand)
            return -value if small(value) else None
        if isinstance(node, ast.Subscript):
            return subscript(self.fold(node.value), self.index(node.slice))
        if isinstance(node, ast.Call):
            return self.folded_call(node)
        return None

    def index(self, node: ast.expr):
        """A constant index or slice."""
        if not isinstance(node, ast.Slice):
            return self.fold(node)
        bounds = [self.fold(b) if b is not None else None for b in (node.lower, node.upper, node.step)]
        given = [b for b, n in zip(bounds, (node.lower, node.upper, node.step)) if n is not None]
        return slice(*bounds) if all(small(b) for b in given) else None

    def fstring(self, node: ast.JoinedStr) -> str | None:
        """An f-string of constants, without format specs (a width could ask for any length)."""
        parts, total = [], 0
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                inner = self.fold(value.value)
                if value.format_spec is not None or not (isinstance(inner, str) or small(inner)):
                    return None
                value = {-1: str, 115: str, 114: repr, 97: ascii}[value.conversion](inner)
            else:
                value = self.fold(value)
            total += size(value)
            if not isinstance(value, str) or total > MAX_FOLD:
                return None
            parts.append(value)
        return "".join(parts)

    def folded_call(self, call: ast.Call):
        """A call the scan can compute: a method of a constant string, chr, reversed, map(chr, ...)."""
        if any(isinstance(arg, ast.Starred) for arg in call.args):
            return None
        args = [self.fold(arg) for arg in call.args]
        kwargs = {k.arg: self.fold(k.value) for k in call.keywords}
        if isinstance(call.func, ast.Attribute) and (owner := self.fold(call.func.value)) is not None:
            return method(owner, call.func.attr, args, kwargs)
        for func in self.resolve(call.func):
            if func in ("str.join", "str.format", *(f"str.{m}" for m in STR_METHODS)) and args:
                return method(args[0], func[4:], args[1:], kwargs)
            if func == "chr" and len(args) == 1 and small(args[0]):
                return chr(args[0])
            if func == "str" and len(args) == 1 and (isinstance(args[0], str) or small(args[0])):
                return str(args[0])
            if func == "reversed" and len(args) == 1 and isinstance(args[0], (str, tuple)):
                return tuple(reversed(args[0]))
            if func in ("bytes", "bytearray") and len(args) == 1 and isinstance(args[0], tuple):
                return bytes(args[0]) if len(args[0]) <= MAX_FOLD else None
            if func == "map" and len(call.args) == 2 and isinstance(args[1], (tuple, str)):
                function = self.resolve(call.args[0]) & {"chr", "str"}
                if function and len(args[1]) <= MAX_FOLD:
                    return tuple(map({"chr": chr, "str": str}[function.pop()], args[1]))
            if func == "codecs.decode" and len(args) == 2 and args[1] in ("rot13", "rot_13"):
                return codecs.decode(args[0], "rot13") if isinstance(args[0], str) else None
            if func in DECODERS and len(args) == 1 and isinstance(args[0], (str, bytes)):
                decode = bytes.fromhex if func == "bytes.fromhex" else getattr(base64, func[7:])
                return decode(args[0])
        return None


def quiet_parse(source: str) -> ast.Module:
    """``ast.parse`` without the warnings (invalid escapes, ...) a student's code may raise:
    they would land on the grader's terminal, not the student's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def parse(source: str) -> tuple[ast.Module | None, set[str]]:
    """The cell's syntax tree, and the flags of what was read as text only.

    IPython's magics and shell lines are not Python: each becomes `pass` (keeping blocks whole),
    and is matched as text. A cell that still does not parse is matched as text; it is flagged
    unless it is a cell magic (`%%bash`, ...), whose body need not be Python.
    """
    try:
        return quiet_parse(source), set()
    except PARSE_ERRORS:
        pass
    lines = source.splitlines()
    magics = "\n".join(line for line in lines if MAGIC.match(line))
    flags = text_flags(magics) | ({RUNS} if SHELL.search(magics) else set())
    try:
        return quiet_parse("\n".join(MAGIC.sub(r"\1pass #", line) for line in lines)), flags
    except PARSE_ERRORS:
        cell_magic = source.lstrip().startswith("%%")
        return None, flags | text_flags(source) | (set() if cell_magic else {UNPARSED})


def text_flags(text: str) -> set[str]:
    return {name for name, pattern in TEXT.items() if re.search(pattern, text)}


@cache
def prelude() -> tuple[dict[str, set[str]], frozenset[str]]:
    """The names the released notebooks' own cells import, which answers use without importing,
    and those of them that are modules (`import torch`)."""
    scanner = Scan()
    for path in sorted(NOTEBOOKS.glob("*/*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code" or cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                continue
            tree = parse("".join(cell["source"]))[0]
            for node in tree.body if tree else ():
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    scanner.visit(node)
    return scanner.bound, frozenset(scanner.imports)


def scan(sources: list[str]) -> list[str]:
    """Names of the flags the student's code cells raise, sorted."""
    flags, trees, parsed = set(), [], 0
    for source in sources:
        parsed += len(source)
        if parsed > MAX_PARSED:
            flags |= text_flags(source)
            continue
        tree, seen = parse(source)
        flags |= seen
        if tree is not None:
            trees.append((source, tree))
    scanner = Scan(*prelude())
    for _ in range(4):  # again until the bindings stop growing: a use may come before its binding
        before = scanner.bindings()
        scanner.new_round()
        for source, tree in list(trees):
            try:
                scanner.visit(tree)
            except RecursionError:  # nested deeper than the scan follows: read it as text
                flags |= text_flags(source) | {UNPARSED}
                trees.remove((source, tree))
        if scanner.bindings() == before:
            break
    return sorted(flags | scanner.flags)
