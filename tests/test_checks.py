"""The visible checks' assertions, and the grader's secret case seeds."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.grade import Job, case_seed, fingerprint, grading_secret
from bptt.checks import assert_close, assert_gradients_close, gradients_mismatch


def gradients(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"W_hh": rng.standard_normal((4, 4)), "W_hx": rng.standard_normal((4, 3)),
            "b_h": rng.standard_normal(4)}


def test_every_wrong_gradient_is_named_not_only_the_first():
    expected = gradients(0)
    actual = {**expected, "W_hx": expected["W_hx"] + 1.0, "b_h": -expected["b_h"] + 0.3}
    message = gradients_mismatch(actual, expected, 1e-10)
    assert "dL/dW_hx is off" in message and "dL/db_h is off" in message
    assert "dL/dW_hh" not in message


@settings(max_examples=30, deadline=None)
@given(factor=st.sampled_from([0.5, 2.0, -1.0, 1 / 7, 3.0]), seed=st.integers(0, 2**32 - 1))
def test_a_factor_shared_by_every_gradient_is_reported(factor, seed):
    expected = gradients(seed)
    actual = {key: factor * value for key, value in expected.items()}
    with pytest.raises(AssertionError, match=f"All 3 wrong gradients are {factor:.6g} times"):
        assert_gradients_close(actual, expected, 1e-10)


def test_no_shared_factor_is_claimed_for_unrelated_errors():
    expected = gradients(1)
    actual = {"W_hh": 2 * expected["W_hh"], "W_hx": 3 * expected["W_hx"], "b_h": expected["b_h"]}
    assert "times the expected" not in gradients_mismatch(actual, expected, 1e-10)


def test_right_gradients_pass_and_bad_types_are_explained():
    expected = gradients(2)
    assert_gradients_close({k: v.copy() for k, v in expected.items()}, expected, 1e-10)
    assert "lacks the keys ['b_h']" in gradients_mismatch(
        {k: v for k, v in expected.items() if k != "b_h"}, expected, 1e-10)
    assert "got list" in gradients_mismatch([1, 2], expected, 1e-10)
    with pytest.raises(AssertionError, match=r"h_t: expected shape \(2, 3\), got \(3, 2\)"):
        assert_close("h_t", np.zeros((3, 2)), np.zeros((2, 3)), 1e-10)
    with pytest.raises(AssertionError, match="got None; did the function return"):
        assert_close("h_t", None, np.zeros(2), 1e-10)


def test_the_grading_secret_is_made_once_and_private(tmp_path):
    first = grading_secret(tmp_path)
    assert len(first) == 32 and grading_secret(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode) == 0o600
    (tmp_path / "other").mkdir()
    assert grading_secret(tmp_path / "other") != first


def test_case_seeds_change_with_the_secret_the_student_and_every_byte():
    job, other = Job("ada", "ch04-bptt-in-detail", Path(".")), Job("bob", "ch04-bptt-in-detail", Path("."))
    seed = case_seed(b"k" * 32, job, "nb.ipynb", b"{}")
    assert seed == case_seed(b"k" * 32, job, "nb.ipynb", b"{}")
    assert 0 <= seed < 2**63
    assert len({seed, case_seed(b"j" * 32, job, "nb.ipynb", b"{}"),
                case_seed(b"k" * 32, other, "nb.ipynb", b"{}"),
                case_seed(b"k" * 32, job, "nb.ipynb", b"{ }")}) == 4


def test_a_new_secret_means_grading_again(tmp_path):
    job = Job("ada", "ch04-bptt-in-detail", tmp_path)
    assert fingerprint(job, b"a" * 32) != fingerprint(job, b"b" * 32)
