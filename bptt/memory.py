"""Peak memory and time of one function call, measured with tracemalloc (chapter 7).

``measure(f, *args)`` runs ``f(*args)`` and reports the most memory that Python's
tracemalloc saw in use at once during the call, above what was in use when the call
started, and the wall-clock time of the call. numpy registers its array buffers with
tracemalloc, so arrays count; memory that other libraries allocate on their own (torch's
allocator, for instance) does not.

The measurement is also used on code that it cannot trust, so the callee cannot easily hide
memory from it:

- a sampler thread reads the memory in use about every millisecond, so a callee that calls
  ``tracemalloc.reset_peak()`` while it still holds memory does not erase that memory from
  the peak (memory that is allocated and freed between two samples and then erased with
  ``reset_peak`` can still escape: a millisecond is the resolution);
- an object allocated just before the call must still be traced afterwards: if the callee
  stopped tracing, cleared the traces or restarted tracing, ``MeasurementError`` is raised;
- the tracemalloc functions used here are bound when this module is imported, so replacing
  ``tracemalloc.get_traced_memory`` and friends later changes nothing.

Measurements nest: an inner ``measure`` reports its own peak, and the outer one still sees it.

The grader goes further with ``measure_apart``, which runs the call in a forked copy of the
process. There, tracing starts afresh (memory from before the call is not traced, so freeing it
cannot offset what the call allocates), files cannot grow, threads the callee left running are
gone, and the kernel counts the memory the call *writes*: after a fork every page is shared with
the parent, and the first write to one makes a private copy, so arrays made before the call and
filled during it count as well (Linux's ``Private_Dirty``).
"""

from __future__ import annotations

import builtins
import os
import pickle
import signal
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable
from typing import Any, NamedTuple

_is_tracing = tracemalloc.is_tracing
_start = tracemalloc.start
_stop = tracemalloc.stop
_get_traced_memory = tracemalloc.get_traced_memory
_reset_peak = tracemalloc.reset_peak
_get_object_traceback = tracemalloc.get_object_traceback
_perf_counter = time.perf_counter
_Thread = threading.Thread
_Event = threading.Event
_Lock = threading.Lock

SAMPLE_SECONDS = 0.001


class Measurement(NamedTuple):
    """What ``measure`` returns: the call's result, its peak memory and its duration."""

    result: Any
    peak_bytes: int  # most bytes traced at once during the call, above the start
    seconds: float  # wall-clock time of the call
    written_bytes: int | None = None  # most private memory written, above the start (measure_apart)


class MeasurementError(RuntimeError):
    """The callee stopped, cleared or restarted tracemalloc, so no peak can be trusted."""


class _Watch:
    """The largest traced total seen during one call (bytes, absolute)."""

    def __init__(self) -> None:
        self.highest = 0
        self._lock = _Lock()

    def see(self, traced: int) -> None:
        with self._lock:
            if traced > self.highest:
                self.highest = traced


# The watches of the measurements in progress, outermost first: an inner measurement
# resets tracemalloc's peak, so it first hands the peak so far to the outer ones.
_active: list[_Watch] = []
_active_lock = _Lock()


def _hand_over(traced: int) -> None:
    """Tell every measurement in progress that ``traced`` bytes were in use at some point."""
    with _active_lock:
        watches = list(_active)
    for watch in watches:
        watch.see(traced)


def _sample(watch: _Watch, done: threading.Event) -> None:
    """Record the traced total about every SAMPLE_SECONDS until ``done`` is set."""
    while not done.wait(SAMPLE_SECONDS):
        watch.see(_get_traced_memory()[0])


def measure(function: Callable, *args, **kwargs) -> Measurement:
    """Call ``function(*args, **kwargs)``; return its result, peak memory and time.

    The peak is the largest of tracemalloc's own peak and the sampled totals, minus the
    total traced when the call started. Tracing is started if it was off, and stopped
    again afterwards only in that case. Exceptions raised by the callee propagate
    unchanged. Raises ``MeasurementError`` when the callee stopped, cleared or
    restarted tracing.
    """
    started_here = not _is_tracing()
    if started_here:
        _start()
    sentinel = bytearray(64)
    _hand_over(_get_traced_memory()[1])
    _reset_peak()
    baseline = _get_traced_memory()[0]
    watch = _Watch()
    watch.see(baseline)
    done = _Event()
    sampler = _Thread(target=_sample, args=(watch, done), daemon=True,
                      name="bptt.memory sampler")
    with _active_lock:
        _active.append(watch)
    sampler.start()
    try:
        begin = _perf_counter()
        result = function(*args, **kwargs)
        seconds = _perf_counter() - begin
    finally:
        done.set()
        sampler.join()
        with _active_lock:
            _active.remove(watch)
        traced_still = _get_object_traceback(sentinel) is not None
        if traced_still:
            watch.see(_get_traced_memory()[1])
            _hand_over(watch.highest)
        if started_here and _is_tracing():
            _stop()
    if not traced_still:
        raise MeasurementError(
            "tracemalloc was stopped, cleared or restarted during the call, so its peak "
            "memory cannot be measured; do not call tracemalloc.stop(), clear_traces() or "
            "start() inside the measured function")
    return Measurement(result, max(0, watch.highest - baseline), seconds)


SMAPS = "/proc/self/smaps_rollup"


def private_dirty_bytes() -> int | None:
    """Bytes of memory that this process wrote and shares with no other (Linux), else None."""
    try:
        with open(SMAPS) as handle:
            for line in handle:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _apart(function: Callable, args: tuple, kwargs: dict) -> bytes:
    """In the forked child: the pickled (Measurement, None), or (None, the callee's error)."""
    if _is_tracing():
        _stop()  # what the parent traced stays out: freeing it cannot offset new allocations
    import resource  # POSIX only, like fork
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    start = private_dirty_bytes()
    if start is None:
        return pickle.dumps((None, ("MeasurementError", "the memory the call writes cannot be "
                                                        f"read ({SMAPS} is missing)")))
    watch, done = _Watch(), _Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            watch.see(private_dirty_bytes() or 0)

    sampler = _Thread(target=sample, daemon=True, name="bptt.memory written")
    sampler.start()
    try:
        measured = measure(function, *args, **kwargs)
    except BaseException as error:  # the callee's failure is the caller's result, not ours
        line = traceback.format_exception_only(type(error), error)[-1].strip()
        return pickle.dumps((None, (type(error).__name__, line)))
    finally:
        done.set()
        sampler.join()
    watch.see(private_dirty_bytes() or 0)
    return pickle.dumps((measured._replace(written_bytes=max(0, watch.highest - start)), None))


def measure_apart(function: Callable, *args, **kwargs) -> Measurement:
    """``measure`` in a forked child, with the memory the call writes in ``written_bytes``.

    The result must be picklable (plain arrays, dicts, lists). A failure of the callee is
    raised here again: as the same builtin exception, or as RuntimeError with its error line. Side effects of the call stay
    in the child. Linux only.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, send, and leave without running anything of the parent's
        os.close(read_end)
        try:
            data = _apart(function, args, kwargs)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()
    finally:
        try:
            os.kill(pid, signal.SIGKILL)  # gone already, unless the parent was interrupted
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    if not data:
        raise MeasurementError("the measured call ended its process before it returned")
    measured, error = pickle.loads(data)
    if error is not None:
        raise _rebuilt(*error)
    return measured


def _rebuilt(name: str, line: str) -> Exception:
    """The callee's error as an exception of its builtin type (so that it reads the same), or a
    RuntimeError with its line."""
    if name == "MeasurementError":
        return MeasurementError(line)
    kind = getattr(builtins, name, None)
    message = line.partition(": ")[2]
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(*([message] if message else []))
        except TypeError:  # a builtin error that wants other arguments
            pass
    return RuntimeError(line)
