"""bptt.memory.measure and measure_apart: the peak memory of one call, robust against a callee that
meddles, and the memory it writes."""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
import pytest

from bptt.memory import Measurement, MeasurementError, measure, measure_apart

MB = 1 << 20


def allocate(nbytes: int) -> float:
    """Hold an array of nbytes for a moment, then free it."""
    a = np.ones(nbytes // 8)
    return float(a[0])


def test_known_allocation_is_measured_within_a_few_percent():
    for size in (4 * MB, 16 * MB):
        m = measure(allocate, size)
        assert isinstance(m, Measurement)
        assert m.result == 1.0
        assert size <= m.peak_bytes <= 1.03 * size, (size, m.peak_bytes)


def test_kwargs_and_result_pass_through():
    m = measure(lambda a, *, b: (a, b), 1, b=2)
    assert m.result == (1, 2)
    assert m.peak_bytes < 64 * 1024


def test_memory_held_when_the_callee_resets_the_peak_still_counts():
    def sneaky():
        a = np.ones(32 * MB // 8)
        time.sleep(0.02)  # the sampler runs every millisecond while the array is held
        tracemalloc.reset_peak()
        del a
        tracemalloc.reset_peak()
        return 0

    assert measure(sneaky).peak_bytes >= 32 * MB


def test_stopping_tracing_raises():
    def stops():
        tracemalloc.stop()

    with pytest.raises(MeasurementError, match="stopped"):
        measure(stops)
    assert not tracemalloc.is_tracing()


def test_stopping_and_restarting_tracing_raises():
    def restarts():
        tracemalloc.stop()
        tracemalloc.start()

    with pytest.raises(MeasurementError):
        measure(restarts)
    tracemalloc.stop()


def test_clearing_the_traces_raises():
    with pytest.raises(MeasurementError):
        measure(tracemalloc.clear_traces)


def test_tracing_left_as_found():
    measure(allocate, MB)
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        measure(allocate, MB)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


def test_patching_tracemalloc_after_import_changes_nothing(monkeypatch):
    monkeypatch.setattr(tracemalloc, "get_traced_memory", lambda: (0, 0))
    monkeypatch.setattr(tracemalloc, "reset_peak", lambda: None)
    assert measure(allocate, 8 * MB).peak_bytes >= 8 * MB


def test_nested_measurements():
    def outer():
        held = np.ones(8 * MB // 8)
        inner = measure(allocate, 16 * MB)
        return inner, float(held[0])

    m = measure(outer)
    inner, _ = m.result
    assert 16 * MB <= inner.peak_bytes <= 1.03 * 16 * MB
    assert 24 * MB <= m.peak_bytes <= 1.03 * 24 * MB


def test_short_inner_peak_is_seen_by_the_outer_measurement():
    def outer():
        for _ in range(3):
            measure(allocate, 16 * MB)
        return 0

    assert measure(outer).peak_bytes >= 16 * MB


def test_exceptions_propagate_and_the_sampler_stops():
    import threading

    class Boom(Exception):
        pass

    def fails():
        raise Boom("inside")

    before = threading.active_count()
    with pytest.raises(Boom, match="inside"):
        measure(fails)
    assert threading.active_count() == before
    assert not tracemalloc.is_tracing()


def test_time_is_measured():
    m = measure(time.sleep, 0.05)
    assert 0.05 <= m.seconds < 1.0


# ---------------------------------------------------------------- measure_apart, as the grader runs it

BEFORE = np.ones(16 * MB // 8)  # made before any call: writing into it allocates nothing


def fill_old_array() -> float:
    BEFORE[:] = 2.0
    return float(BEFORE[0])


def test_apart_counts_memory_written_into_arrays_made_before_the_call():
    measured = measure_apart(fill_old_array)
    assert measured.result == 2.0 and BEFORE[0] == 1.0, "the call ran in a copy of the process"
    assert measured.peak_bytes < MB  # tracemalloc sees nothing new
    assert 16 * MB <= measured.written_bytes <= 20 * MB, measured.written_bytes


def test_apart_counts_what_a_call_allocates_once():
    measured = measure_apart(allocate, 8 * MB)
    assert 8 * MB <= measured.peak_bytes <= 1.03 * 8 * MB
    assert 8 * MB <= measured.written_bytes <= 8 * MB + 4 * MB, measured.written_bytes


def test_apart_traces_afresh_so_freeing_older_memory_offsets_nothing():
    """A traced ballast made before the call and freed during it does not hide new arrays."""
    ballast = []

    def swap() -> float:
        ballast.clear()
        return allocate(16 * MB)

    tracemalloc.start()
    try:
        ballast.append(np.ones(32 * MB // 8))
        assert measure(swap).peak_bytes < MB  # in process, the freed ballast offsets the new array
        ballast.append(np.ones(32 * MB // 8))
        assert measure_apart(swap).peak_bytes >= 16 * MB
    finally:
        tracemalloc.stop()


def test_apart_files_cannot_grow(tmp_path):
    def write() -> int:
        with open(tmp_path / "states.bin", "wb", buffering=0) as handle:
            return handle.write(np.ones(1000).tobytes())

    with pytest.raises(OSError, match="File too large"):
        measure_apart(write)


def test_apart_reports_the_callees_error_and_leaves_no_child():
    def fail():
        raise ValueError("no gradient today")

    with pytest.raises(ValueError, match="no gradient today"):
        measure_apart(fail)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_apart_a_call_that_ends_its_process_is_an_error():
    with pytest.raises(MeasurementError, match="ended its process"):
        measure_apart(os._exit, 3)
