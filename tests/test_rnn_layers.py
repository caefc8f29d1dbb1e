"""Tests for rnncap.rnn_layers: gradients, forward values, dtypes and extreme inputs.

Expected values never come from the code under test: forward passes are recomputed here by explicit
loops and gate-by-gate equations (or are the published CS231n notebook values), and gradients are
centred differences from the small helper below (independent of rnncap.gradient_check).
"""
import math
import warnings

import numpy as np
import pytest

from rnncap import rnn_layers as L

# (N, T, D, H), covering N=1, T=1, D=1 and H=1.
SHAPES = [(1, 1, 1, 1), (2, 3, 4, 5), (3, 1, 2, 1), (1, 4, 1, 3), (4, 2, 3, 2)]
STEP_TOL = 1e-8   # step functions: numeric gradients are good to about 1e-8
SEQ_TOL = 1e-7    # sequences and the loss: 1e-6 or better
F32_TOL = 1e-5    # float32 result against float64 on the same (rounded) inputs


# --------------------------------------------------------------------------------------- helpers
def rel_err(a, b):
    """max|a - b| / max(1e-8, max(|a| + |b|)): one scale per array, so that entries of a gradient
    that happen to be near zero cannot blow the ratio up."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


def num_grad(loss, x, h=1e-5):
    """Centred-difference gradient of the scalar loss() with respect to x (perturbed in place)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    assert np.shares_memory(flat, x)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = loss()
        flat[i] = old - h
        minus = loss()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


def sig(a):
    """Reference sigmoid for the moderate values used in value tests."""
    return 1.0 / (1.0 + np.exp(-a))


def randn(rng, *shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def gate(W, k, H):
    """Columns of gate k (0-based) of a weight/bias stacked along its last axis."""
    return W[..., k * H:(k + 1) * H]


# ------------------------------------------------------------------- references (written here)
def ref_affine(x, w, b):
    N = x.shape[0]
    x2 = x.reshape(N, -1)
    out = np.zeros((N, w.shape[1]))
    for n in range(N):
        for m in range(w.shape[1]):
            out[n, m] = np.dot(x2[n], w[:, m]) + b[m]
    return out


def ref_rnn_step(x, h, Wx, Wh, b):
    return np.tanh(x @ Wx + h @ Wh + b)


def ref_lstm_step(x, h, c, Wx, Wh, b):
    H = h.shape[1]
    pre = [x @ gate(Wx, k, H) + h @ gate(Wh, k, H) + gate(b, k, H) for k in range(4)]
    i, f, o, g = sig(pre[0]), sig(pre[1]), sig(pre[2]), np.tanh(pre[3])
    next_c = f * c + i * g
    return o * np.tanh(next_c), next_c


def ref_gru_step(x, h, Wx, Wh, b):
    """Gate order r, z, n; the reset gate multiplies h·Wh_n after the matmul (cuDNN/PyTorch)."""
    H = h.shape[1]
    r = sig(x @ gate(Wx, 0, H) + h @ gate(Wh, 0, H) + gate(b, 0, H))
    z = sig(x @ gate(Wx, 1, H) + h @ gate(Wh, 1, H) + gate(b, 1, H))
    n = np.tanh(x @ gate(Wx, 2, H) + r * (h @ gate(Wh, 2, H)) + gate(b, 2, H))
    return (1 - z) * n + z * h


def ref_sequence(step, x, h0, *params):
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = step(x[:, t, :], h, *params)
        hs.append(h)
    return np.stack(hs, axis=1)


def ref_lstm_sequence(x, h0, Wx, Wh, b):
    h, c, hs = h0, np.zeros_like(h0), []
    for t in range(x.shape[1]):
        h, c = ref_lstm_step(x[:, t, :], h, c, Wx, Wh, b)
        hs.append(h)
    return np.stack(hs, axis=1)


def ref_loss(x, y, mask):
    """Explicit loop in Python floats, log-sum-exp with the row max subtracted."""
    N, T, V = x.shape
    total = 0.0
    for n in range(N):
        for t in range(T):
            if not mask[n, t]:
                continue
            row = [float(v) for v in x[n, t]]
            m = max(row)
            lse = m + math.log(math.fsum(math.exp(v - m) for v in row))
            total += lse - row[int(y[n, t])]
    return total / N


def ref_loss_dx(x, y, mask):
    N, T, V = x.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for t in range(T):
            if mask[n, t]:
                e = np.exp(x[n, t] - x[n, t].max())
                dx[n, t] = e / e.sum()
                dx[n, t, y[n, t]] -= 1.0
    return dx / N


# ------------------------------------------------------------------ layer specs (one per backward)
# Each spec(rng, N, T, D, H) returns (params, forward, backward):
#   forward(params) -> (tuple of outputs, cache); backward(upstream list, cache) -> {name: grad}.
# Every floating entry of params must get a gradient.
def spec_affine(rng, N, T, D, H):
    xshape = (N, D) if T == 1 else (N, T, D)
    p = {"x": randn(rng, *xshape), "w": randn(rng, int(np.prod(xshape[1:])), H), "b": randn(rng, H)}

    def fwd(p):
        out, cache = L.affine_forward(p["x"], p["w"], p["b"])
        return (out,), cache

    def bwd(d, cache):
        return dict(zip(("x", "w", "b"), L.affine_backward(d[0], cache)))
    return p, fwd, bwd


def spec_rnn_step(rng, N, T, D, H):
    p = {"x": randn(rng, N, D), "prev_h": randn(rng, N, H), "Wx": randn(rng, D, H, scale=0.5),
         "Wh": randn(rng, H, H, scale=0.5), "b": randn(rng, H)}

    def fwd(p):
        next_h, cache = L.rnn_step_forward(p["x"], p["prev_h"], p["Wx"], p["Wh"], p["b"])
        return (next_h,), cache

    def bwd(d, cache):
        return dict(zip(("x", "prev_h", "Wx", "Wh", "b"), L.rnn_step_backward(d[0], cache)))
    return p, fwd, bwd


def spec_rnn(rng, N, T, D, H):
    p = {"x": randn(rng, N, T, D), "h0": randn(rng, N, H), "Wx": randn(rng, D, H, scale=0.5),
         "Wh": randn(rng, H, H, scale=0.5), "b": randn(rng, H)}

    def fwd(p):
        h, cache = L.rnn_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
        return (h,), cache

    def bwd(d, cache):
        return dict(zip(("x", "h0", "Wx", "Wh", "b"), L.rnn_backward(d[0], cache)))
    return p, fwd, bwd


def spec_word_embedding(rng, N, T, D, H):
    V = H + 2
    p = {"x": rng.integers(0, V, size=(N, T)), "W": randn(rng, V, D)}

    def fwd(p):
        out, cache = L.word_embedding_forward(p["x"], p["W"])
        return (out,), cache

    def bwd(d, cache):
        return {"W": L.word_embedding_backward(d[0], cache)}
    return p, fwd, bwd


def spec_lstm_step(rng, N, T, D, H):
    p = {"x": randn(rng, N, D), "prev_h": randn(rng, N, H), "prev_c": randn(rng, N, H),
         "Wx": randn(rng, D, 4 * H, scale=0.5), "Wh": randn(rng, H, 4 * H, scale=0.5),
         "b": randn(rng, 4 * H)}

    def fwd(p):
        next_h, next_c, cache = L.lstm_step_forward(p["x"], p["prev_h"], p["prev_c"],
                                                    p["Wx"], p["Wh"], p["b"])
        return (next_h, next_c), cache

    def bwd(d, cache):
        names = ("x", "prev_h", "prev_c", "Wx", "Wh", "b")
        return dict(zip(names, L.lstm_step_backward(d[0], d[1], cache)))
    return p, fwd, bwd


def spec_lstm(rng, N, T, D, H):
    p = {"x": randn(rng, N, T, D), "h0": randn(rng, N, H), "Wx": randn(rng, D, 4 * H, scale=0.5),
         "Wh": randn(rng, H, 4 * H, scale=0.5), "b": randn(rng, 4 * H)}

    def fwd(p):
        h, cache = L.lstm_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
        return (h,), cache

    def bwd(d, cache):
        return dict(zip(("x", "h0", "Wx", "Wh", "b"), L.lstm_backward(d[0], cache)))
    return p, fwd, bwd


def spec_gru_step(rng, N, T, D, H):
    p = {"x": randn(rng, N, D), "prev_h": randn(rng, N, H), "Wx": randn(rng, D, 3 * H, scale=0.5),
         "Wh": randn(rng, H, 3 * H, scale=0.5), "b": randn(rng, 3 * H)}

    def fwd(p):
        next_h, cache = L.gru_step_forward(p["x"], p["prev_h"], p["Wx"], p["Wh"], p["b"])
        return (next_h,), cache

    def bwd(d, cache):
        return dict(zip(("x", "prev_h", "Wx", "Wh", "b"), L.gru_step_backward(d[0], cache)))
    return p, fwd, bwd


def spec_gru(rng, N, T, D, H):
    p = {"x": randn(rng, N, T, D), "h0": randn(rng, N, H), "Wx": randn(rng, D, 3 * H, scale=0.5),
         "Wh": randn(rng, H, 3 * H, scale=0.5), "b": randn(rng, 3 * H)}

    def fwd(p):
        h, cache = L.gru_forward(p["x"], p["h0"], p["Wx"], p["Wh"], p["b"])
        return (h,), cache

    def bwd(d, cache):
        return dict(zip(("x", "h0", "Wx", "Wh", "b"), L.gru_backward(d[0], cache)))
    return p, fwd, bwd


def spec_temporal_affine(rng, N, T, D, H):
    p = {"x": randn(rng, N, T, D), "w": randn(rng, D, H), "b": randn(rng, H)}

    def fwd(p):
        out, cache = L.temporal_affine_forward(p["x"], p["w"], p["b"])
        return (out,), cache

    def bwd(d, cache):
        return dict(zip(("x", "w", "b"), L.temporal_affine_backward(d[0], cache)))
    return p, fwd, bwd


def loss_mask(rng, N, T):
    """Random mask with row 0 fully masked when N > 1, and at least one live token."""
    mask = rng.random((N, T)) < 0.6
    if N > 1:
        mask[0, :] = False
    mask[-1, -1] = True
    return mask


def spec_temporal_softmax_loss(rng, N, T, D, H):
    V = H + 2
    p = {"x": randn(rng, N, T, V, scale=2.0), "y": rng.integers(0, V, size=(N, T)),
         "mask": loss_mask(rng, N, T)}

    def fwd(p):
        loss, dx = L.temporal_softmax_loss(p["x"], p["y"], p["mask"])
        return (loss,), dx   # the "cache" is dx itself

    def bwd(d, dx):
        return {"x": dx * d[0]}
    return p, fwd, bwd


SPECS = {
    "affine": (spec_affine, STEP_TOL),
    "rnn_step": (spec_rnn_step, STEP_TOL),
    "rnn": (spec_rnn, SEQ_TOL),
    "word_embedding": (spec_word_embedding, STEP_TOL),
    "lstm_step": (spec_lstm_step, STEP_TOL),
    "lstm": (spec_lstm, SEQ_TOL),
    "gru_step": (spec_gru_step, STEP_TOL),
    "gru": (spec_gru, SEQ_TOL),
    "temporal_affine": (spec_temporal_affine, STEP_TOL),
    "temporal_softmax_loss": (spec_temporal_softmax_loss, SEQ_TOL),
}


def upstream_like(rng, outs, dtype=np.float64):
    return [np.asarray(rng.standard_normal(np.shape(o))).astype(dtype) for o in outs]


def float_names(p):
    return sorted(k for k, v in p.items() if np.asarray(v).dtype.kind == "f")


# ------------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N%d-T%d-D%d-H%d" % s)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_gradient_matches_centred_differences(name, shape, rng):
    spec, tol = SPECS[name]
    p, fwd, bwd = spec(rng, *shape)
    outs, cache = fwd(p)
    ds = upstream_like(rng, outs)
    grads = bwd(ds, cache)
    assert sorted(grads) == float_names(p), "every floating input needs its gradient"

    def loss():
        return sum(float(np.sum(o * d)) for o, d in zip(fwd(p)[0], ds))

    for k in float_names(p):
        assert grads[k].shape == p[k].shape, k
        err = rel_err(grads[k], num_grad(loss, p[k]))
        assert err < tol, "%s d%s: rel error %.2e" % (name, k, err)


@pytest.mark.parametrize("name", ["lstm_step", "gru_step", "rnn_step"])
def test_step_gradient_with_saturated_units(name, rng):
    """Large weights push some units into saturation; gradients must still be exact."""
    spec, tol = SPECS[name]
    p, fwd, bwd = spec(rng, 3, 1, 4, 3)
    p["Wx"] *= 4.0
    outs, cache = fwd(p)
    ds = upstream_like(rng, outs)
    grads = bwd(ds, cache)

    def loss():
        return sum(float(np.sum(o * d)) for o, d in zip(fwd(p)[0], ds))
    for k in float_names(p):
        assert rel_err(grads[k], num_grad(loss, p[k])) < tol, k


def test_lstm_step_backward_with_only_cell_gradient(rng):
    """dnext_h = 0: the gradient reaches the inputs through next_c alone."""
    p, fwd, bwd = spec_lstm_step(rng, 2, 1, 3, 4)
    outs, cache = fwd(p)
    dc = rng.standard_normal(outs[1].shape)
    grads = bwd([np.zeros_like(outs[0]), dc], cache)

    def loss():
        return float(np.sum(fwd(p)[0][1] * dc))
    for k in float_names(p):
        assert rel_err(grads[k], num_grad(loss, p[k])) < STEP_TOL, k


# ------------------------------------------------------------------------- forward values
@pytest.mark.parametrize("xshape", [(1, 1), (3, 4), (2, 3, 2), (2, 1, 3, 2)])
def test_affine_forward_values(xshape, rng):
    x = randn(rng, *xshape)
    w, b = randn(rng, int(np.prod(xshape[1:])), 3), randn(rng, 3)
    out, _ = L.affine_forward(x, w, b)
    np.testing.assert_allclose(out, ref_affine(x, w, b), rtol=1e-12, atol=1e-12)
    dx, dw, db = L.affine_backward(np.ones_like(out), _)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape


def test_rnn_step_forward_published_values():
    """CS231n RNN_Captioning notebook values."""
    N, D, H = 3, 10, 4
    x = np.linspace(-0.4, 0.7, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.2, 0.5, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.1, 0.9, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.3, 0.7, num=H * H).reshape(H, H)
    b = np.linspace(-0.2, 0.4, num=H)
    next_h, _ = L.rnn_step_forward(x, prev_h, Wx, Wh, b)
    expected = np.array([[-0.58172089, -0.50182032, -0.41232771, -0.31410098],
                         [0.66854692, 0.79562378, 0.87755553, 0.92795967],
                         [0.97934501, 0.99144213, 0.99646691, 0.99854353]])
    assert rel_err(next_h, expected) < 1e-8


def test_rnn_forward_published_values():
    N, T, D, H = 2, 3, 4, 5
    x = np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.3, 0.1, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.4, num=D * H).reshape(D, H)
    Wh = np.linspace(-0.4, 0.1, num=H * H).reshape(H, H)
    b = np.linspace(-0.7, 0.1, num=H)
    h, _ = L.rnn_forward(x, h0, Wx, Wh, b)
    expected = np.array([
        [[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
         [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
         [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
        [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
         [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
         [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])
    assert rel_err(h, expected) < 1e-8


def test_lstm_step_forward_published_values():
    N, D, H = 3, 4, 5
    x = np.linspace(-0.4, 1.2, num=N * D).reshape(N, D)
    prev_h = np.linspace(-0.3, 0.7, num=N * H).reshape(N, H)
    prev_c = np.linspace(-0.4, 0.9, num=N * H).reshape(N, H)
    Wx = np.linspace(-2.1, 1.3, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.7, 2.2, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.3, 0.7, num=4 * H)
    next_h, next_c, _ = L.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    expected_h = np.array([[0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
                           [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
                           [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]])
    expected_c = np.array([[0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
                           [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
                           [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]])
    assert rel_err(next_h, expected_h) < 1e-8
    assert rel_err(next_c, expected_c) < 1e-8


def test_lstm_forward_published_values():
    N, D, H, T = 2, 5, 4, 3
    x = np.linspace(-0.4, 0.6, num=N * T * D).reshape(N, T, D)
    h0 = np.linspace(-0.4, 0.8, num=N * H).reshape(N, H)
    Wx = np.linspace(-0.2, 0.9, num=4 * D * H).reshape(D, 4 * H)
    Wh = np.linspace(-0.3, 0.6, num=4 * H * H).reshape(H, 4 * H)
    b = np.linspace(0.2, 0.7, num=4 * H)
    h, _ = L.lstm_forward(x, h0, Wx, Wh, b)
    expected = np.array([
        [[0.01764008, 0.01823233, 0.01882671, 0.0194232],
         [0.11287491, 0.12146228, 0.13018446, 0.13902939],
         [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
        [[0.45767879, 0.4761092, 0.4936887, 0.51041945],
         [0.6704845, 0.69350089, 0.71486014, 0.7346449],
         [0.81733511, 0.83677871, 0.85403753, 0.86935314]]])
    assert rel_err(h, expected) < 1e-8


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "N%d-T%d-D%d-H%d" % s)
def test_recurrent_forward_values_match_explicit_equations(shape, rng):
    N, T, D, H = shape
    x, h0 = randn(rng, N, T, D), randn(rng, N, H)
    c0 = randn(rng, N, H)
    for k, ref_step in ((1, ref_rnn_step), (3, ref_gru_step)):
        Wx, Wh, b = randn(rng, D, k * H), randn(rng, H, k * H), randn(rng, k * H)
        step = L.rnn_step_forward if k == 1 else L.gru_step_forward
        seq = L.rnn_forward if k == 1 else L.gru_forward
        next_h, _ = step(x[:, 0], h0, Wx, Wh, b)
        assert rel_err(next_h, ref_step(x[:, 0], h0, Wx, Wh, b)) < 1e-12
        h, _ = seq(x, h0, Wx, Wh, b)
        assert h.shape == (N, T, H)
        assert rel_err(h, ref_sequence(ref_step, x, h0, Wx, Wh, b)) < 1e-12
    Wx, Wh, b = randn(rng, D, 4 * H), randn(rng, H, 4 * H), randn(rng, 4 * H)
    next_h, next_c, _ = L.lstm_step_forward(x[:, 0], h0, c0, Wx, Wh, b)
    ref_h, ref_c = ref_lstm_step(x[:, 0], h0, c0, Wx, Wh, b)
    assert rel_err(next_h, ref_h) < 1e-12 and rel_err(next_c, ref_c) < 1e-12
    h, _ = L.lstm_forward(x, h0, Wx, Wh, b)
    assert h.shape == (N, T, H)
    assert rel_err(h, ref_lstm_sequence(x, h0, Wx, Wh, b)) < 1e-12


def test_gru_gate_order_and_reset_after_matmul():
    """Hand-built GRU where each gate's role is visible: H = D = 1, chosen pre-activations."""
    x, h = np.array([[0.5]]), np.array([[0.8]])
    Wx = np.array([[0.2, -0.4, 1.0]])          # r, z, n
    Wh = np.array([[0.3, 0.6, -0.7]])
    b = np.array([0.1, 0.2, -0.3])
    r = 1 / (1 + math.exp(-(0.5 * 0.2 + 0.8 * 0.3 + 0.1)))
    z = 1 / (1 + math.exp(-(0.5 * -0.4 + 0.8 * 0.6 + 0.2)))
    n = math.tanh(0.5 * 1.0 + r * (0.8 * -0.7) - 0.3)
    next_h, _ = L.gru_step_forward(x, h, Wx, Wh, b)
    assert next_h[0, 0] == pytest.approx((1 - z) * n + z * 0.8, rel=1e-13)


def test_temporal_affine_forward_values(rng):
    N, T, D, M = 3, 4, 2, 5
    x, w, b = randn(rng, N, T, D), randn(rng, D, M), randn(rng, M)
    out, _ = L.temporal_affine_forward(x, w, b)
    assert out.shape == (N, T, M)
    for t in range(T):
        np.testing.assert_allclose(out[:, t], ref_affine(x[:, t], w, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("xdtype", [np.int64, np.int32, np.uint8])
def test_word_embedding_forward_is_indexing(xdtype, rng):
    V, D = 5, 3
    x = np.array([[0, 3, 1, 2], [2, 1, 0, 3]], dtype=xdtype)
    W = np.linspace(0, 1, num=V * D).reshape(V, D)
    out, _ = L.word_embedding_forward(x, W)
    assert out.shape == (2, 4, D)
    for n in range(2):
        for t in range(4):
            assert np.array_equal(out[n, t], W[int(x[n, t])])


def test_word_embedding_backward_accumulates_repeated_indices():
    V, D = 4, 2
    W = np.zeros((V, D))
    x = np.array([[0, 2, 0], [0, 3, 2]])
    _, cache = L.word_embedding_forward(x, W)
    dout = np.arange(12, dtype=np.float64).reshape(2, 3, D) + 1.0
    dW = L.word_embedding_backward(dout, cache)
    expected = np.zeros((V, D))
    for n in range(2):
        for t in range(3):
            expected[x[n, t]] += dout[n, t]
    np.testing.assert_array_equal(dW, expected)
    assert np.array_equal(dW[1], [0.0, 0.0])          # an unused word gets no gradient
    assert np.array_equal(dW[0], dout[0, 0] + dout[0, 2] + dout[1, 0])


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 4, 5), (4, 2, 7)])
def test_temporal_softmax_loss_values(shape, rng):
    N, T, V = shape
    x = randn(rng, N, T, V, scale=3.0)
    y = rng.integers(0, V, size=(N, T))
    mask = loss_mask(rng, N, T)
    loss, dx = L.temporal_softmax_loss(x, y, mask)
    assert float(loss) == pytest.approx(ref_loss(x, y, mask), rel=1e-12)
    assert rel_err(dx, ref_loss_dx(x, y, mask)) < 1e-12
    assert np.all(dx[~mask] == 0.0)


def test_temporal_softmax_loss_divides_by_N_not_by_token_count():
    """Zero scores: each live token costs exactly log V, so loss = (#live tokens / N) log V."""
    N, T, V = 4, 5, 10
    mask = np.zeros((N, T), dtype=bool)
    mask[0, :3] = True
    mask[2, :] = True     # 8 live tokens; rows 1 and 3 fully masked
    loss, dx = L.temporal_softmax_loss(np.zeros((N, T, V)), np.zeros((N, T), dtype=int), mask)
    assert float(loss) == pytest.approx(8 * math.log(V) / N, rel=1e-14)
    live = dx[mask]
    np.testing.assert_allclose(live[:, 0], (0.1 - 1) / N, rtol=1e-14)
    np.testing.assert_allclose(live[:, 1:], 0.1 / N, rtol=1e-14)
    assert np.all(dx[~mask] == 0.0)


def test_temporal_softmax_loss_all_masked_is_zero(rng):
    x = randn(rng, 2, 3, 4)
    loss, dx = L.temporal_softmax_loss(x, np.zeros((2, 3), dtype=int), np.zeros((2, 3), dtype=bool))
    assert float(loss) == 0.0
    assert dx.shape == x.shape and np.all(dx == 0.0)


def test_temporal_softmax_loss_sanity_near_log_V(rng):
    """CS231n sanity check: tiny scores give about T log V per row (divided by N)."""
    N, T, V = 100, 10, 10
    x = 0.001 * rng.standard_normal((N, T, V))
    y = rng.integers(0, V, size=(N, T))
    loss, _ = L.temporal_softmax_loss(x, y, np.ones((N, T), dtype=bool))
    assert abs(float(loss) - T * math.log(V)) < 0.01


# ------------------------------------------------------------------------- float32
def run_spec(p, fwd, bwd, ds):
    outs, cache = fwd(p)
    grads = bwd(ds, cache)
    return list(outs), grads


@pytest.mark.parametrize("name", sorted(SPECS))
def test_float32_in_float32_out_and_agrees_with_float64(name, rng):
    spec, _ = SPECS[name]
    p64, fwd, bwd = spec(rng, 3, 4, 5, 6)
    p32 = {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in p64.items()}
    p64 = {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in p32.items()}
    outs, _ = fwd(p64)
    ds32 = upstream_like(rng, outs, np.float32)
    outs32, grads32 = run_spec(p32, fwd, bwd, ds32)
    outs64, grads64 = run_spec(p64, fwd, bwd, [d.astype(np.float64) for d in ds32])
    for i, (a, b) in enumerate(zip(outs32, outs64)):
        assert np.asarray(a).dtype == np.float32, "output %d is %s" % (i, np.asarray(a).dtype)
        assert rel_err(a, b) < F32_TOL, "output %d" % i
    for k in float_names(p32):
        assert grads32[k].dtype == np.float32, "d%s is %s" % (k, grads32[k].dtype)
        assert rel_err(grads32[k], grads64[k]) < F32_TOL, "d" + k


@pytest.mark.parametrize("name", sorted(SPECS))
def test_inputs_untouched_and_backward_repeatable(name, rng):
    spec, _ = SPECS[name]
    p, fwd, bwd = spec(rng, 2, 3, 4, 5)
    before = {k: v.copy() for k, v in p.items()}
    outs, cache = fwd(p)
    ds = upstream_like(rng, outs)
    first = bwd(ds, cache)
    second = bwd(ds, cache)
    for k in first:
        assert np.array_equal(first[k], second[k]), "backward changed its cache (d%s)" % k
    for k in p:
        assert np.array_equal(p[k], before[k]), "%s was modified" % k


# ------------------------------------------------------------------------- extreme inputs
EXTREMES = [-1e4, -1e3, -710.0, -100.0, -89.0, -30.0, -1.0, 0.0, 1.0, 30.0, 89.0, 100.0, 710.0,
            1e3, 1e4]


def no_fp_warnings():
    """Overflow, invalid and divide raise; underflow to 0 (exp(-1e4)) is the correct result."""
    return np.errstate(over="raise", invalid="raise", divide="raise", under="ignore")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_extreme_inputs(dtype):
    x = np.array(EXTREMES, dtype=dtype)
    with warnings.catch_warnings(), no_fp_warnings():
        warnings.simplefilter("error")
        s = L.sigmoid(x)
        s_2d = L.sigmoid(x.reshape(3, 5))
    assert s.dtype == dtype and s.shape == x.shape
    assert np.array_equal(s_2d.reshape(-1), s)
    assert not np.isnan(s).any()
    assert np.all((s >= 0) & (s <= 1)) and np.all(np.diff(s) >= 0)
    assert s[0] == 0.0 and s[-1] == 1.0                 # |x| = 1e4: exact limits
    assert s[EXTREMES.index(0.0)] == 0.5
    for v, got in zip(EXTREMES, s):
        want = 1 / (1 + math.exp(-v)) if v > -700 else 0.0
        # absolute accuracy (a few ulps of 1): what gates need; the spec asks no relative tail
        assert abs(float(got) - want) <= (3e-7 if dtype == np.float32 else 1e-15), v


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_dense_grid_and_symmetry(dtype):
    x = np.linspace(-20, 20, 801).astype(dtype)
    s = L.sigmoid(x)
    want = np.array([1 / (1 + math.exp(-float(v))) for v in x])
    tol = 3e-7 if dtype == np.float32 else 1e-15
    assert s.dtype == dtype
    assert np.max(np.abs(s - want)) <= tol
    assert np.max(np.abs(s + s[::-1] - 1)) <= 2 * tol        # sigmoid(-x) = 1 - sigmoid(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_temporal_softmax_loss_huge_scores(dtype):
    x = np.array([[[1e4, -1e4, 0.0, 1e4 - 1.0],
                   [-1e4, -1e4, -1e4, -1e4 + 2.0]],
                  [[5e3, -5e3, 1e4, 0.0],
                   [0.0, 0.0, 0.0, 0.0]]], dtype=dtype)
    y = np.array([[0, 2], [1, 3]])
    mask = np.array([[True, True], [True, False]])
    with warnings.catch_warnings(), no_fp_warnings():
        warnings.simplefilter("error")
        loss, dx = L.temporal_softmax_loss(x, y, mask)
    assert np.isfinite(loss) and np.isfinite(dx).all()
    expected = ref_loss(x.astype(np.float64), y, mask)
    # by hand: log(1 + e^-1), 2 + log(1 + 3e^-2), 1e4 - (-5e3); the last token is masked
    by_hand = (math.log(1 + math.exp(-1)) + 2 + math.log(1 + 3 * math.exp(-2)) + 15000.0) / 2
    assert expected == pytest.approx(by_hand, rel=1e-14)
    assert float(loss) == pytest.approx(expected, rel=1e-6 if dtype == np.float32 else 1e-12)
    assert rel_err(dx, ref_loss_dx(x.astype(np.float64), y, mask)) < 1e-6
    assert np.all(dx[~mask] == 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gated_cells_with_huge_preactivations(dtype, rng):
    N, D, H = 3, 4, 5
    x = rng.standard_normal((N, D)).astype(dtype)
    h = rng.standard_normal((N, H)).astype(dtype)
    with warnings.catch_warnings(), no_fp_warnings():
        warnings.simplefilter("error")
        Wx4 = (1e4 * rng.standard_normal((D, 4 * H))).astype(dtype)
        next_h, next_c, _ = L.lstm_step_forward(x, h, h, Wx4, np.zeros((H, 4 * H), dtype),
                                                np.zeros(4 * H, dtype))
        Wx3 = (1e4 * rng.standard_normal((D, 3 * H))).astype(dtype)
        gru_h, _ = L.gru_step_forward(x, h, Wx3, np.zeros((H, 3 * H), dtype), np.zeros(3 * H, dtype))
    for a in (next_h, next_c, gru_h):
        assert a.dtype == dtype and np.isfinite(a).all()
    assert np.all(np.abs(next_h) <= 1)
    # next_h mixes n (abs <= 1) and prev_h with weights z, 1 - z in [0, 1]
    assert np.all(np.abs(gru_h) <= np.maximum(np.abs(h), 1) + 1e-6)
