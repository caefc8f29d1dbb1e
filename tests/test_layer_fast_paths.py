"""The private fast paths of rnncap.rnn_layers against the public layers (and plain loops).

_temporal_affine_softmax_loss fuses the output layer (scores, loss, their backward) and scores
only the positions with mask on; the _*_step_xa decoding kernels take a precomputed x·Wx + b.
Expected values come from the public functions' documented equations written out here.
"""
import numpy as np
import pytest

from rnncap import rnn_layers as L


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-12, float(np.max(np.abs(a) + np.abs(b)))))


def reference_output_layer(x, w, b, y, mask):
    """Loss and gradients of the output layer, one position at a time in float64."""
    N, T, D = x.shape
    x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
    loss, dx, dw, db = 0.0, np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
    for n in range(N):
        for t in range(T):
            if not mask[n, t]:
                continue
            s = x[n, t] @ w + b
            p = np.exp(s - s.max())
            p /= p.sum()
            loss -= np.log(p[y[n, t]]) / N
            ds = p.copy()
            ds[y[n, t]] -= 1
            ds /= N
            dx[n, t] = w @ ds
            dw += np.outer(x[n, t], ds)
            db += ds
    return loss, dx, dw, db


@pytest.mark.parametrize("block_rows", [1, 2, 5, 1024])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_output_layer_matches_reference(block_rows, dtype, rng):
    N, T, D, M = 3, 4, 5, 7
    x = rng.standard_normal((N, T, D)).astype(dtype)
    w = rng.standard_normal((D, M)).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    y = rng.integers(0, M, size=(N, T))
    mask = rng.random((N, T)) > 0.3
    mask[1] = False  # a fully padded caption
    got = L._temporal_affine_softmax_loss(x, w, b, y, mask, block_rows=block_rows)
    want = reference_output_layer(x, w, b, y, mask)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for g, e, name in zip(got, want, ("loss", "dx", "dw", "db")):
        assert np.asarray(g).dtype == dtype, name
        assert np.shape(g) == np.shape(e), name
        assert rel(g, e) < tol, name
    assert np.all(got[1][~mask] == 0)


def test_fused_output_layer_equals_public_layers(rng):
    N, T, D, M = 4, 6, 8, 11
    x, w, b = rng.standard_normal((N, T, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    y = rng.integers(0, M, size=(N, T))
    mask = rng.random((N, T)) > 0.5
    scores, cache = L.temporal_affine_forward(x, w, b)
    loss, dscores = L.temporal_softmax_loss(scores, y, mask)
    dx, dw, db = L.temporal_affine_backward(dscores, cache)
    got = L._temporal_affine_softmax_loss(x, w, b, y, mask, block_rows=3)
    for g, e in zip(got, (loss, dx, dw, db)):
        assert rel(g, e) < 1e-13


def test_fused_output_layer_all_masked_and_non_finite(rng):
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), np.zeros(5)
    y = np.zeros((2, 3), dtype=int)
    loss, dx, dw, db = L._temporal_affine_softmax_loss(x, w, b, y, np.zeros((2, 3), bool))
    assert loss == 0 and not dx.any() and not dw.any() and not db.any()
    w[0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        loss = L._temporal_affine_softmax_loss(x, w, b, y, np.ones((2, 3), bool))[0]
    assert np.isnan(loss)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_decoding_kernels_equal_public_steps(dtype, rng):
    N, D, H = 3, 4, 5
    x = rng.standard_normal((N, D)).astype(dtype)
    h = rng.standard_normal((N, H)).astype(dtype)
    c = rng.standard_normal((N, H)).astype(dtype)
    tol = 1e-13 if dtype == np.float64 else 1e-6
    for cell, k in (("rnn", 1), ("lstm", 4), ("gru", 3)):
        Wx = rng.standard_normal((D, k * H)).astype(dtype)
        Wh = rng.standard_normal((H, k * H)).astype(dtype)
        b = rng.standard_normal(k * H).astype(dtype)
        xa = x @ Wx + b
        if cell == "lstm":
            want_h, want_c, _ = L.lstm_step_forward(x, h, c, Wx, Wh, b)
            got_h, got_c = L._lstm_step_xa(xa, h, c, Wh)
            assert rel(got_c, want_c) < tol and got_c.dtype == dtype
        else:
            want_h, _ = getattr(L, cell + "_step_forward")(x, h, Wx, Wh, b)
            got_h = getattr(L, "_%s_step_xa" % cell)(xa, h, Wh)
        assert got_h.dtype == dtype
        assert rel(got_h, want_h) < tol, cell
