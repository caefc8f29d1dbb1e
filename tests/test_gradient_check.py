"""Tests for rnncap.gradient_check on functions whose gradients are known in closed form."""
import re

import numpy as np
import pytest

from rnncap.gradient_check import (eval_numerical_gradient, eval_numerical_gradient_array,
                                   grad_check_sparse, rel_error)


def plain_x(rng, shape):
    """Random float64 x with entries of order 1 (per-entry relative errors stay meaningful)."""
    return rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def make_x(rng, shape):
    """Random float64 x where (x + h) - h is not bit-identical to x for some entries (those much
    smaller than h), so that a helper that "restores" x by subtracting h again is caught."""
    x = rng.standard_normal(shape) + 0.5
    x.flat[::2] *= 1e-6
    h = 1e-5
    assert np.any((x + h) - h != x)
    return x


class Recorder:
    """Wraps f and keeps a copy of x at every call."""

    def __init__(self, f):
        self.f, self.seen = f, []

    def __call__(self, x):
        self.seen.append(x.copy())
        return self.f(x)


def assert_probes_one_entry_at_a_time(seen, x0, h):
    """Every probe moves exactly one entry to x0 +- h; all others are bit-identical to x0."""
    for probe in seen:
        assert probe.shape == x0.shape
        moved = np.flatnonzero(probe != x0)
        assert moved.size == 1, "x was not restored before this probe (%d entries moved)" % moved.size
        i = moved[0]
        assert abs(abs(probe.flat[i] - x0.flat[i]) - h) < 1e-9 * max(1.0, abs(x0.flat[i]))


# --------------------------------------------------------------------------- rel_error
@pytest.mark.parametrize("a, b, expected", [
    (1.0, 1.0, 0.0),
    (2.0, 1.0, 1.0 / 3.0),
    (np.array([1.0, 3.0]), np.array([1.0, 1.0]), 0.5),     # the max over entries
    (np.array([[1.0, -1.0]]), np.array([[1.0, 1.0]]), 1.0),
    (0.0, 0.0, 0.0),                                       # the 1e-8 floor: no 0/0
    (0.0, 1e-9, 0.1),                                      # 1e-9 / 1e-8
    (np.array([1e-10]), np.array([-1e-10]), 0.02),         # 2e-10 / max(1e-8, 0)
])
def test_rel_error_known_values(a, b, expected):
    assert float(rel_error(a, b)) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert float(rel_error(b, a)) == pytest.approx(expected, rel=1e-12, abs=1e-15)


# --------------------------------------------------------------------------- eval_numerical_gradient
@pytest.mark.parametrize("shape", [(1,), (5,), (3, 4), (2, 3, 2)])
def test_eval_numerical_gradient_sum_of_squares(shape, rng, capsys):
    x = make_x(rng, shape)
    grad = eval_numerical_gradient(lambda v: np.sum(v ** 2), x, verbose=False)
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-8, atol=1e-8)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("h", [1e-2, 1e-3])
def test_eval_numerical_gradient_is_centred_and_uses_h(h, rng):
    """For x**3 a centred difference gives exactly 3x^2 + h^2 (a forward one 3x^2 + 3xh + h^2)."""
    x = make_x(rng, (3, 2))
    grad = eval_numerical_gradient(lambda v: np.sum(v ** 3), x, verbose=False, h=h)
    np.testing.assert_allclose(grad, 3 * x ** 2 + h ** 2, rtol=0, atol=1e-9)


def test_eval_numerical_gradient_matrix_product(rng):
    A, B = rng.standard_normal((3, 4)), rng.standard_normal((5, 2))
    x = make_x(rng, (4, 5))
    G = rng.standard_normal((3, 2))
    grad = eval_numerical_gradient(lambda v: np.sum((A @ v @ B) * G), x, verbose=False)
    np.testing.assert_allclose(grad, A.T @ G @ B.T, rtol=1e-8, atol=1e-9)


def test_eval_numerical_gradient_default_is_verbose(rng, capsys):
    x = make_x(rng, (2, 2))
    grad = eval_numerical_gradient(lambda v: np.sum(v ** 2), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-8, atol=1e-8)
    assert capsys.readouterr().out.strip() != ""


def test_eval_numerical_gradient_restores_x_after_every_probe(rng):
    x = make_x(rng, (3, 4))
    x0 = x.copy()
    f = Recorder(lambda v: float(np.sum(np.sin(v))))
    grad = eval_numerical_gradient(f, x, verbose=False, h=1e-5)
    assert x.tobytes() == x0.tobytes(), "x must be bit-identical afterwards"
    probes = [p for p in f.seen if not np.array_equal(p, x0)]
    assert len(probes) == 2 * x.size, "two probes per entry (centred differences)"
    assert_probes_one_entry_at_a_time(probes, x0, 1e-5)
    np.testing.assert_allclose(grad, np.cos(x0), rtol=1e-8, atol=1e-9)


# --------------------------------------------------------------------------- eval_numerical_gradient_array
def test_eval_numerical_gradient_array_matrix_product(rng):
    W = rng.standard_normal((4, 3))
    x = make_x(rng, (5, 4))
    df = rng.standard_normal((5, 3))
    grad = eval_numerical_gradient_array(lambda v: v @ W, x, df)
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad, df @ W.T, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("h", [1e-2, 1e-3])
def test_eval_numerical_gradient_array_cube_is_centred(h, rng):
    x = make_x(rng, (2, 3, 2))
    df = rng.standard_normal(x.shape)
    grad = eval_numerical_gradient_array(lambda v: v ** 3, x, df, h=h)
    np.testing.assert_allclose(grad, (3 * x ** 2 + h ** 2) * df, rtol=0, atol=1e-9)


def test_eval_numerical_gradient_array_output_aliasing_x(rng):
    """f returns x itself (a view that later probes change): the helper must copy f's output."""
    x = make_x(rng, (3, 3))
    df = rng.standard_normal(x.shape)
    grad = eval_numerical_gradient_array(lambda v: v, x, df)
    np.testing.assert_allclose(grad, df, rtol=1e-8, atol=1e-10)


def test_eval_numerical_gradient_array_restores_x_after_every_probe(rng):
    x = make_x(rng, (2, 5))
    x0 = x.copy()
    df = rng.standard_normal((2, 5))
    f = Recorder(lambda v: np.tanh(v))
    grad = eval_numerical_gradient_array(f, x, df, h=1e-5)
    assert x.tobytes() == x0.tobytes()
    probes = [p for p in f.seen if not np.array_equal(p, x0)]
    assert len(probes) == 2 * x.size
    assert_probes_one_entry_at_a_time(probes, x0, 1e-5)
    np.testing.assert_allclose(grad, (1 - np.tanh(x0) ** 2) * df, rtol=1e-8, atol=1e-10)


# --------------------------------------------------------------------------- grad_check_sparse
def printed_rel_errors(out):
    """The relative error on each printed line (CS231n format '... relative error: %e')."""
    found = re.findall(r"relative error:?\s*([-+0-9.eE]+|nan|inf)", out, flags=re.IGNORECASE)
    return [float(v) for v in found]


def test_grad_check_sparse_correct_gradient(rng, capsys):
    x = plain_x(rng, (4, 6))
    grad_check_sparse(lambda v: float(np.sum(v ** 2)), x, 2 * x.copy(), num_checks=7)
    errors = printed_rel_errors(capsys.readouterr().out)
    assert len(errors) == 7
    assert max(errors) < 1e-7


def test_grad_check_sparse_restores_x_after_every_probe(rng, capsys):
    x = make_x(rng, (4, 6))
    x0 = x.copy()
    f = Recorder(lambda v: float(np.sum(np.sin(v))))
    grad_check_sparse(f, x, np.cos(x0), num_checks=7)
    assert x.tobytes() == x0.tobytes()
    probes = [p for p in f.seen if not np.array_equal(p, x0)]
    assert len(probes) == 2 * 7
    assert_probes_one_entry_at_a_time(probes, x0, 1e-5)


def test_grad_check_sparse_flags_a_wrong_gradient(rng, capsys):
    x = plain_x(rng, (3, 5))
    grad_check_sparse(lambda v: float(np.sum(v ** 2)), x, 4 * x.copy(), num_checks=5)
    errors = printed_rel_errors(capsys.readouterr().out)
    assert len(errors) == 5
    np.testing.assert_allclose(errors, 1.0 / 3.0, rtol=1e-5)   # |2x - 4x| / (|2x| + |4x|)


def test_grad_check_sparse_leaves_global_numpy_rng_alone(rng, capsys):
    """Project rule: only seeded-path code may draw from the global np.random."""
    state = np.random.get_state()
    grad_check_sparse(lambda v: float(np.sum(v ** 2)), make_x(rng, (3, 3)),
                      np.zeros((3, 3)) + 1.0, num_checks=3)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]
