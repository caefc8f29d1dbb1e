"""Update rules against steps computed by hand (scalar arithmetic written out in the test)."""
import math

import numpy as np
import pytest

from rnncap import optim

W0 = [1.0, -2.0]
DW1 = [0.5, 0.25]
DW2 = [0.1, -0.3]


def run(rule, config, *dws, dtype=np.float64):
    """Apply rule for each gradient in dws starting from W0; return (w, config)."""
    w = np.array(W0, dtype=dtype)
    for dw in dws:
        w, config = rule(w, np.array(dw, dtype=dtype), config)
    return w, config


def test_sgd_default_learning_rate():
    w, config = run(optim.sgd, None, DW1)
    # 1 - 0.01 * 0.5 and -2 - 0.01 * 0.25
    np.testing.assert_allclose(w, [0.995, -2.0025], rtol=0, atol=1e-15)
    assert config["learning_rate"] == 1e-2


def test_sgd_momentum_two_steps():
    w, config = run(optim.sgd_momentum, None, DW1, DW2)
    # v1 = -0.01 * dw1 = (-0.005, -0.0025); w1 = (0.995, -2.0025)
    # v2 = 0.9 * v1 - 0.01 * dw2 = (-0.0045 - 0.001, -0.00225 + 0.003) = (-0.0055, 0.00075)
    np.testing.assert_allclose(config["velocity"], [-0.0055, 0.00075], rtol=0, atol=1e-15)
    np.testing.assert_allclose(w, [0.995 - 0.0055, -2.0025 + 0.00075], rtol=0, atol=1e-15)
    assert config["momentum"] == 0.9


def test_rmsprop_two_steps():
    w, config = run(optim.rmsprop, None, DW1, DW2)
    expected_w, expected_cache = [], []
    for w0, g1, g2 in zip(W0, DW1, DW2):
        cache = 0.01 * g1 ** 2
        w1 = w0 - 0.01 * g1 / (math.sqrt(cache) + 1e-8)
        cache = 0.99 * cache + 0.01 * g2 ** 2
        expected_w.append(w1 - 0.01 * g2 / (math.sqrt(cache) + 1e-8))
        expected_cache.append(cache)
    np.testing.assert_allclose(w, expected_w, rtol=1e-14)
    np.testing.assert_allclose(config["cache"], expected_cache, rtol=1e-14)
    # First step by hand: cache = (0.0025, 0.000625), sqrt = (0.05, 0.025), step = 0.01 * 10.
    w1, _ = run(optim.rmsprop, None, DW1)
    np.testing.assert_allclose(w1, [0.9, -2.1], rtol=0, atol=1e-7)  # epsilon shifts 1e-8


def test_adam_first_step_is_learning_rate_times_sign():
    # t is incremented before the bias correction: after one step mt = dw, vt = dw**2, so the
    # step is lr * dw / |dw| (a division by zero if t were incremented afterwards).
    w, config = run(optim.adam, None, DW1)
    np.testing.assert_allclose(w, [0.999, -2.001], rtol=0, atol=1e-10)
    assert config["t"] == 1


def test_adam_two_steps():
    w, config = run(optim.adam, {"learning_rate": 0.1}, DW1, DW2)
    expected = []
    for w0, g1, g2 in zip(W0, DW1, DW2):
        m = 0.1 * g1
        v = 0.001 * g1 ** 2
        w1 = w0 - 0.1 * (m / 0.1) / (math.sqrt(v / 0.001) + 1e-8)
        m = 0.9 * m + 0.1 * g2
        v = 0.999 * v + 0.001 * g2 ** 2
        expected.append(w1 - 0.1 * (m / (1 - 0.9 ** 2)) / (math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8))
    np.testing.assert_allclose(w, expected, rtol=1e-13)
    assert config["t"] == 2
    assert (config["beta1"], config["beta2"], config["epsilon"]) == (0.9, 0.999, 1e-8)


@pytest.mark.parametrize("name", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_float32_stays_float32(name):
    rule = getattr(optim, name)
    # A np.float64 learning rate would upcast float32 arrays under NumPy 2's promotion rules.
    config = {"learning_rate": np.float64(1e-2)}
    w32, config = run(rule, config, DW1, DW2, dtype=np.float32)
    w64, _ = run(rule, {"learning_rate": 1e-2}, DW1, DW2)
    assert w32.dtype == np.float32
    for value in config.values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32
    np.testing.assert_allclose(w32, w64, rtol=1e-6)


@pytest.mark.parametrize("name", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_weights_are_not_modified_in_place(name):
    w = np.array(W0)
    next_w, _ = getattr(optim, name)(w, np.array(DW1))
    assert np.array_equal(w, W0)
    assert next_w is not w


@pytest.mark.parametrize("name", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_bad_input(name):
    rule = getattr(optim, name)
    with pytest.raises(ValueError, match="dw must have w's shape"):
        rule(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="share one float dtype"):
        rule(np.zeros(3, np.float32), np.zeros(3))
    with pytest.raises(ValueError, match="config must be a dict"):
        rule(np.zeros(3), np.zeros(3), config=[("learning_rate", 1)])
    with pytest.raises(ValueError, match="w must be a floating-point array"):
        rule(np.zeros(3, dtype=int), np.zeros(3))
