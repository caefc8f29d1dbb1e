"""Fast RNN, LSTM and GRU sequences for the model, and the decoding steps.

Each equals a readable layer of rnncap/rnn_layers.py (tests/test_kernels.py proves it):

  rnn_sequence, rnn_sequence_backward    rnn_forward, rnn_backward
  lstm_sequence, lstm_sequence_backward  lstm_forward, lstm_backward
  gru_sequence, gru_sequence_backward    gru_forward, gru_backward
  rnn_step_xa, lstm_step_xa, gru_step_xa rnn/lstm/gru_step_forward's next_h (and next_c)

The tricks: time-major arrays (T, N, ...) so every step works on contiguous slices; x·Wx + b for
all steps in one product before the loop (shared by repeated words, see words.py); dWx, dWh in
one product each after the loop; gate-major (k, N, H) blocks written in place by the cell
kernels; the LSTM's gates from one exp pass (sigmoid(a) = 1 / (1 + exp(-a)),
tanh(a) = 2 sigmoid(2a) - 1, so the weights are scaled by -1, -1, -1, -2 once per sequence).
The step_xa kernels take the two products precomputed: a greedy decoder forms
W_embed·Wx + b once for the vocabulary and gets h·Wh from the same product as the scores.
No input checks: callers pass arrays of one dtype with consistent shapes.
"""
import numpy as np

from ._arrays import batch_major, by_gate, sigmoid_, tanh_
from .words import input_products, input_products_backward


def rnn_sequence(xs, h0, Wx, Wh, b, words=None, W_embed=None):
    """rnn_forward from time-major inputs xs of shape (T, N, D); words (T * N,) and W_embed:
    see input_products (the model passes its captions' word indices).

    Returns h (N, T, H) and cache (xs, hs, Wx, Wh), hs (T + 1, N, H) holding h0 at hs[0] and
    step t's state at hs[t + 1].
    """
    T, N, D = xs.shape
    H = h0.shape[1]
    hs = np.empty((T + 1, N, H), dtype=xs.dtype)
    hs[0] = h0
    input_products(hs[1:].reshape(1, T * N, H), xs.reshape(T * N, D), Wx, b, words, W_embed)
    hWh = np.empty_like(h0)
    with np.errstate(over="ignore"):
        for t in range(T):
            np.matmul(hs[t], Wh, out=hWh)
            hs[t + 1] += hWh
            tanh_(hs[t + 1], out=hs[t + 1])
    return batch_major(hs[1:]), (xs, hs, Wx, Wh)


def rnn_sequence_backward(dh, cache, words=None, V=None):
    """rnn_backward, returning (dx, dh0, dWx, dWh, db); given the words of rnn_sequence and V,
    W_embed's row count, the first output is dW_embed (V, D) instead of dx
    (see input_products_backward)."""
    xs, hs, Wx, Wh = cache
    T, N, D = xs.shape
    H = hs.shape[2]
    da = np.empty((T, N, H), dtype=hs.dtype)  # gradient of the pre-activation of every step
    dnext_h = np.zeros((N, H), dtype=hs.dtype)  # gradient reaching h_t from step t + 1
    tanh_grad = np.empty_like(dnext_h)
    for t in reversed(range(T)):
        np.add(dh[:, t], dnext_h, out=da[t])
        np.multiply(hs[t + 1], hs[t + 1], out=tanh_grad)
        np.subtract(1, tanh_grad, out=tanh_grad)  # tanh'(a) = 1 - tanh(a)^2
        da[t] *= tanh_grad
        np.matmul(da[t], Wh.T, out=dnext_h)
    dWh = hs[:-1].reshape(T * N, H).T @ da.reshape(T * N, H)
    dx, dWx, db = input_products_backward(da, xs, Wx, words, V)
    return dx, dnext_h, dWx, dWh, db


def lstm_exponents(H, dtype):
    """Column factors (4H,) taking pre-activations a to the exponents z of _lstm_cell_forward."""
    return np.repeat(np.array([-1, -1, -1, -2], dtype=dtype), H)


def _lstm_cell_forward(z, prev_c, next_c, tanh_c, next_h):
    """The LSTM cell after its matrix products, in preallocated arrays.

    All four gates need one exp pass: sigmoid(a) = 1 / (1 + exp(-a)) and
    tanh(a) = 2 sigmoid(2a) - 1, so the kernel takes z = -a for i, f, o and z = -2a for g
    (a times lstm_exponents; the sequence forward scales the weights instead, once).

    Inputs:
    - z: Exponents from the pre-activations a = x·Wx + prev_h·Wh + b, of shape (4, N, H), one
      gate per block (contiguous blocks make every pass faster); turned into the gates
      i, f, o, g in place
    - prev_c: Previous cell state, of shape (N, H)
    - next_c, tanh_c, next_h: Outputs, each of shape (N, H): f * prev_c + i * g, tanh(next_c)
      and o * tanh(next_c)
    """
    with np.errstate(over="ignore"):
        np.exp(z, out=z)
        z += 1
        np.divide(1, z, out=z)
        i, f, o, g = z
        g *= 2
        g -= 1
        np.multiply(i, g, out=tanh_c)  # tanh_c as scratch until the last two lines
        np.multiply(f, prev_c, out=next_c)
        next_c += tanh_c
        tanh_(next_c, out=tanh_c)
    np.multiply(o, tanh_c, out=next_h)


def _lstm_cell_backward(dnext_h, dnext_c, gates, prev_c, tanh_c, next_h, da, dprev_c):
    """Gradients of one LSTM cell, written into preallocated arrays.

    Inputs:
    - dnext_h, dnext_c: Upstream gradients of next_h and next_c, each of shape (N, H)
    - gates: The gates i, f, o, g of this step, of shape (4, N, H)
    - prev_c, tanh_c, next_h: The previous cell state, tanh(next_c) and next_h, each (N, H)
    - da: Output, gradient of the pre-activations, of shape (N, 4H)
    - dprev_c: Output, gradient of prev_c, of shape (N, H); it may be the same array as dnext_c
    """
    i, f, o, g = gates
    di, df, do, dg = by_gate(da)
    # Products are built in contiguous scratch; only each gate's last one writes into da.
    # dc = dnext_c + dnext_h * o * (1 - tanh_c^2), with o * tanh_c = next_h
    dc = np.multiply(next_h, tanh_c)
    np.subtract(o, dc, out=dc)
    dc *= dnext_h
    dc += dnext_c
    # do = dnext_h * tanh_c * o * (1 - o) = dnext_h * next_h * (1 - o)
    tmp = np.subtract(1, o)
    tmp *= next_h
    np.multiply(tmp, dnext_h, out=do)
    # di = dc * g * i * (1 - i) and dg = dc * i * (1 - g^2) share dc * i
    dc_i = np.multiply(dc, i)
    np.subtract(1, i, out=tmp)
    tmp *= g
    np.multiply(tmp, dc_i, out=di)
    np.multiply(g, g, out=tmp)
    np.subtract(1, tmp, out=tmp)
    np.multiply(tmp, dc_i, out=dg)
    # df = dc * prev_c * f * (1 - f)
    np.subtract(1, f, out=tmp)
    tmp *= f
    tmp *= prev_c
    np.multiply(tmp, dc, out=df)
    np.multiply(dc, f, out=dprev_c)


def lstm_sequence(xs, h0, Wx, Wh, b, words=None, W_embed=None):
    """lstm_forward from time-major inputs xs of shape (T, N, D); words (T * N,) and W_embed:
    see input_products (the model passes its captions' word indices).

    Returns h (N, T, H) and cache (xs, hs, cs, gates, tanh_cs, Wx, Wh): hs and cs (T + 1, N, H)
    hold the hidden and cell states (h0 and zeros at index 0, step t's at t + 1), gates
    (4, T, N, H) holds i, f, o, g and tanh_cs (T, N, H) tanh(c) of every step.
    """
    T, N, D = xs.shape
    H = h0.shape[1]
    scale = lstm_exponents(H, xs.dtype)  # scaled weights give the kernel's exponents directly
    Wx_scaled, b_scaled, Wh_scaled = Wx * scale, b * scale, Wh * scale
    gates = np.empty((4, T, N, H), dtype=xs.dtype)
    input_products(gates.reshape(4, T * N, H), xs.reshape(T * N, D), Wx_scaled, b_scaled,
                    words, W_embed)
    hs = np.empty((T + 1, N, H), dtype=xs.dtype)
    cs = np.empty_like(hs)
    tanh_cs = np.empty((T, N, H), dtype=xs.dtype)
    hs[0], cs[0] = h0, 0
    hWh = np.empty((N, 4 * H), dtype=xs.dtype)
    for t in range(T):
        np.matmul(hs[t], Wh_scaled, out=hWh)
        gates[:, t] += by_gate(hWh)
        _lstm_cell_forward(gates[:, t], cs[t], cs[t + 1], tanh_cs[t], hs[t + 1])
    return batch_major(hs[1:]), (xs, hs, cs, gates, tanh_cs, Wx, Wh)


def lstm_sequence_backward(dh, cache, words=None, V=None):
    """lstm_backward, returning (dx, dh0, dWx, dWh, db); given the words of lstm_sequence and
    V, W_embed's row count, the first output is dW_embed (V, D) instead of dx
    (see input_products_backward)."""
    xs, hs, cs, gates, tanh_cs, Wx, Wh = cache
    T, N, D = xs.shape
    H = hs.shape[2]
    da = np.empty((T, N, 4 * H), dtype=hs.dtype)  # gradient of the pre-activations, every step
    dnext_h = np.zeros((N, H), dtype=hs.dtype)  # gradients reaching step t from step t + 1
    dnext_c = np.zeros_like(dnext_h)
    dh_t = np.empty_like(dnext_h)
    for t in reversed(range(T)):
        np.add(dh[:, t], dnext_h, out=dh_t)
        _lstm_cell_backward(dh_t, dnext_c, gates[:, t], cs[t], tanh_cs[t], hs[t + 1], da[t],
                            dnext_c)
        np.matmul(da[t], Wh.T, out=dnext_h)
    dWh = hs[:-1].reshape(T * N, H).T @ da.reshape(T * N, 4 * H)
    dx, dWx, db = input_products_backward(da, xs, Wx, words, V)
    return dx, dnext_h, dWx, dWh, db


def _gru_cell_forward(xa, hWh, prev_h, gates, next_h):
    """The GRU cell after its matrix products, in preallocated arrays.

    Inputs:
    - xa: Input part x·Wx + b, of shape (N, 3H) (not modified)
    - hWh: Recurrent part prev_h·Wh, of shape (N, 3H) (not modified)
    - prev_h: Previous hidden state, of shape (N, H)
    - gates: Output, r, z, n, of shape (3, N, H) (contiguous blocks make every pass faster)
    - next_h: Output, (1 - z) * n + z * prev_h, of shape (N, H)
    """
    r, z, n = gates
    xa, hWh = by_gate(xa, 3), by_gate(hWh, 3)
    with np.errstate(over="ignore"):
        np.add(xa[:2], hWh[:2], out=gates[:2])
        sigmoid_(gates[:2])
        np.multiply(r, hWh[2], out=n)  # the reset gate acts after the product
        n += xa[2]
        tanh_(n, out=n)
    np.subtract(prev_h, n, out=next_h)
    next_h *= z
    next_h += n  # n + z * (prev_h - n) = (1 - z) * n + z * prev_h


def _gru_cell_backward(dnext_h, prev_h, gates, hWh_n, dxa, dhWh, dprev_h):
    """Gradients of one GRU cell, written into preallocated arrays.

    Inputs:
    - dnext_h: Upstream gradient of next_h, of shape (N, H)
    - prev_h: Previous hidden state, of shape (N, H)
    - gates: r, z, n of this step, of shape (3, N, H)
    - hWh_n: prev_h·Wh_n of this step, of shape (N, H)
    - dxa: Output, gradient of the input part x·Wx + b, of shape (N, 3H)
    - dhWh: Output, gradient of prev_h·Wh, of shape (N, 3H)
    - dprev_h: Output, the direct part dnext_h * z of prev_h's gradient, of shape (N, H)
    """
    r, z, n = gates
    dxa, dhWh = by_gate(dxa, 3), by_gate(dhWh, 3)
    # Products are built in contiguous scratch; only the last ones write into dxa and dhWh.
    one_z = np.subtract(1, z)
    # dn = dnext_h * (1 - z) * (1 - n^2)
    dn = np.multiply(n, n)
    np.subtract(1, dn, out=dn)
    dn *= one_z
    dn *= dnext_h
    np.copyto(dxa[2], dn)
    np.multiply(dn, r, out=dhWh[2])
    # dz = dnext_h * (prev_h - n) * z * (1 - z)
    tmp = np.subtract(prev_h, n)
    tmp *= z
    tmp *= one_z
    np.multiply(tmp, dnext_h, out=dxa[1])
    np.copyto(dhWh[1], dxa[1])
    # dr = dn * hWh_n * r * (1 - r)
    np.subtract(1, r, out=tmp)
    tmp *= r
    tmp *= hWh_n
    np.multiply(tmp, dn, out=dxa[0])
    np.copyto(dhWh[0], dxa[0])
    np.multiply(dnext_h, z, out=dprev_h)


def gru_sequence(xs, h0, Wx, Wh, b, words=None, W_embed=None):
    """gru_forward from time-major inputs xs of shape (T, N, D); words (T * N,) and W_embed:
    see input_products (the model passes its captions' word indices).

    Returns h (N, T, H) and cache (xs, hs, gates, hWh_ns, Wx, Wh): hs (T + 1, N, H) holds h0
    at hs[0] and step t's state at hs[t + 1], gates (3, T, N, H) holds r, z, n and hWh_ns
    (T, N, H) prev_h·Wh_n of every step.
    """
    T, N, D = xs.shape
    H = h0.shape[1]
    xa = np.empty((T, N, 3 * H), dtype=xs.dtype)  # x·Wx + b of every step
    input_products(xa.reshape(1, T * N, 3 * H), xs.reshape(T * N, D), Wx, b, words, W_embed)
    hs = np.empty((T + 1, N, H), dtype=xs.dtype)
    hs[0] = h0
    gates = np.empty((3, T, N, H), dtype=xs.dtype)
    hWh_ns = np.empty((T, N, H), dtype=xs.dtype)
    hWh = np.empty((N, 3 * H), dtype=xs.dtype)
    for t in range(T):
        np.matmul(hs[t], Wh, out=hWh)
        _gru_cell_forward(xa[t], hWh, hs[t], gates[:, t], hs[t + 1])
        hWh_ns[t] = hWh[:, 2 * H:]
    return batch_major(hs[1:]), (xs, hs, gates, hWh_ns, Wx, Wh)


def gru_sequence_backward(dh, cache, words=None, V=None):
    """gru_backward, returning (dx, dh0, dWx, dWh, db); given the words of gru_sequence and V,
    W_embed's row count, the first output is dW_embed (V, D) instead of dx
    (see input_products_backward)."""
    xs, hs, gates, hWh_ns, Wx, Wh = cache
    T, N, D = xs.shape
    H = hs.shape[2]
    dxa = np.empty((T, N, 3 * H), dtype=hs.dtype)  # gradients of x·Wx + b and of prev_h·Wh
    dhWh = np.empty_like(dxa)
    dnext_h = np.zeros((N, H), dtype=hs.dtype)
    dh_t = np.empty_like(dnext_h)
    dhWh_h = np.empty_like(dnext_h)
    for t in reversed(range(T)):
        np.add(dh[:, t], dnext_h, out=dh_t)
        _gru_cell_backward(dh_t, hs[t], gates[:, t], hWh_ns[t], dxa[t], dhWh[t], dnext_h)
        np.matmul(dhWh[t], Wh.T, out=dhWh_h)
        dnext_h += dhWh_h
    dWh = hs[:-1].reshape(T * N, H).T @ dhWh.reshape(T * N, 3 * H)
    dx, dWx, db = input_products_backward(dxa, xs, Wx, words, V)
    return dx, dnext_h, dWx, dWh, db


def rnn_step_xa(xa, hWh):
    """next_h = tanh(xa + hWh), with xa and hWh of shape (N, H)."""
    next_h = np.add(xa, hWh)
    with np.errstate(over="ignore"):
        tanh_(next_h, out=next_h)
    return next_h


def lstm_step_xa(xa, hWh, prev_c, scaled=False):
    """LSTM step from xa, hWh (N, 4H) and prev_c (N, H); returns next_h, next_c.
    scaled=True: xa and hWh already carry the factors lstm_exponents (a decoder scales the table
    and Wh once instead of every step)."""
    a = np.add(xa, hWh)
    if not scaled:
        a *= lstm_exponents(prev_c.shape[1], a.dtype)
    next_h, next_c, tanh_c = (np.empty_like(prev_c) for _ in range(3))
    _lstm_cell_forward(by_gate(a), prev_c, next_c, tanh_c, next_h)
    return next_h, next_c


def gru_step_xa(xa, hWh, prev_h):
    """GRU step from xa, hWh (N, 3H) and prev_h (N, H); returns next_h."""
    gates = np.empty((3,) + prev_h.shape, dtype=prev_h.dtype)
    next_h = np.empty_like(prev_h)
    _gru_cell_forward(xa, hWh, prev_h, gates, next_h)
    return next_h
