"""The attention captioning model's loss, fast (CaptioningRNN(cell_type='attention', fast=True)).

  loss(model, features, captions)  equals  CaptioningRNN.loss with fast=False, that is
      the grid projection (temporal_affine_forward / _backward at every location),
      attention_forward / attention_backward (dot_product_attention_* and attention_step_*),
      word_embedding_*, temporal_affine_* and temporal_softmax_loss of rnncap/rnn_layers.py

The tricks: the grid is kept location-major, A (N, G*G, H), so that every step's scores and
attention embedding are batched matrix-vector products; x·Wx + b for every step in one product
shared by repeated words (words.py); the LSTM cell of cells.py (one exp pass for all gates, so
Wx, b, Wh and Wattn are scaled once per call); the recurrent and the attention products in one
product per step, [h, attn]·[Wh; Wattn], and their gradients in one product per step and one
after the loop; the grid's gradient from the attention weights of every step in one batched
product after the loop instead of two outer products per step; the fused output layer
(output.py), which scores only positions whose target is a word; dW_proj without the features'
unused gradient.

Greedy sampling runs the readable path (it is not a training cost).
Callers (CaptioningRNN) check the inputs first: features (N, C, G, G) in the model's dtype,
captions (N, T + 1) of valid word indices, parameters of the right shapes and dtype.
"""
import numpy as np

from ._arrays import batch_major, by_gate
from .cells import _lstm_cell_backward, _lstm_cell_forward, lstm_exponents
from .output import temporal_affine_softmax_loss
from .words import input_products, input_products_backward


def project_grid(features, W_proj, b_proj):
    """Location-major projected grid A (N, G*G, H) and the location rows (N*G*G, C) it came from;
    A[n, i * G + j] is rnn_layers' A[n, :, i, j]."""
    N, C, G, _ = features.shape
    rows = np.ascontiguousarray(features.reshape(N, C, G * G).transpose(0, 2, 1))
    rows = rows.reshape(N * G * G, C)
    A = rows @ W_proj
    A += b_proj
    return A.reshape(N, G * G, -1), rows


def _softmax_rows_(s):
    """In-place softmax of each row of s (N, L): the max is subtracted first."""
    s -= s.max(axis=1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=1, keepdims=True)
    return s


def loss(model, features, captions):
    """(loss, grads) of an attention model on checked inputs; None if anything is not finite
    (the readable path then returns NaN)."""
    p = model.params
    dtype = features.dtype
    N = features.shape[0]
    H = model.hidden_dim
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != model.word_to_idx["<NULL>"]
    T = captions_in.shape[1]
    A, rows = project_grid(features, p["W_proj"], p["b_proj"])  # (N, L, H)
    L = A.shape[1]
    # Words time-major, as the steps read them; xs_words names each row's word.
    words = captions_in.T
    xs = p["W_embed"][words]  # (T, N, W)
    xs_words = words.ravel()
    if not (np.isfinite(xs).all() and np.isfinite(A).all()):
        return None  # the readable path's input checks would reject these
    inv_sqrt_H = dtype.type(1 / H ** 0.5)

    # Forward. ha[t] = [h_t, attn_t]: the hidden state entering step t (h0 at t = 0, step t's
    # output at t + 1) beside the attention embedding step t computed from it.
    scale = lstm_exponents(H, dtype)  # scaled weights give the LSTM kernel's exponents
    W_ha = np.concatenate([p["Wh"], p["Wattn"]], axis=0)  # (2H, 4H)
    W_ha_scaled = W_ha * scale
    gates = np.empty((4, T, N, H), dtype=dtype)  # x·Wx + b, then the gates i, f, o, g
    input_products(gates.reshape(4, T * N, H), xs.reshape(T * N, -1), p["Wx"] * scale,
                   p["b"] * scale, xs_words, p["W_embed"])
    ha = np.empty((T + 1, N, 2 * H), dtype=dtype)
    cs = np.empty((T + 1, N, H), dtype=dtype)
    tanh_cs = np.empty((T, N, H), dtype=dtype)
    weights = np.empty((T, N, L), dtype=dtype)  # every step's attention weights
    h = A.mean(axis=1)
    ha[0, :, :H], cs[0] = h, h
    next_h = np.empty((N, H), dtype=dtype)
    pre = np.empty((N, 4 * H), dtype=dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T):
            np.matmul(A, h[:, :, None], out=weights[t, :, :, None])  # scores (N, L)
            weights[t] *= inv_sqrt_H
            _softmax_rows_(weights[t])
            np.matmul(weights[t, :, None, :], A, out=ha[t, :, None, H:])  # attn (N, H)
            np.matmul(ha[t], W_ha_scaled, out=pre)
            gates[:, t] += by_gate(pre)
            _lstm_cell_forward(gates[:, t], cs[t], cs[t + 1], tanh_cs[t], next_h)
            ha[t + 1, :, :H] = next_h
            h = next_h.copy()
    hs = batch_major(ha[1:, :, :H])  # (N, T, H)

    grads = {}
    value, dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_softmax_loss(
        hs, p["W_vocab"], p["b_vocab"], captions_out, mask)
    if not np.isfinite(value):
        return None

    # Backward through the steps. dscores[t] is the gradient of step t's attention scores
    # (already divided by sqrt(H)); dA gets the steps' terms in one product after the loop.
    da = np.empty((T, N, 4 * H), dtype=dtype)  # gradient of the pre-activations, every step
    dha = np.empty((T, N, 2 * H), dtype=dtype)  # gradient of [h_t, attn_t] through the LSTM
    dscores = np.empty((T, N, L), dtype=dtype)
    dnext_h = np.zeros((N, H), dtype=dtype)
    dnext_c = np.zeros((N, H), dtype=dtype)
    dh_t = np.empty((N, H), dtype=dtype)
    dweights = np.empty((N, L), dtype=dtype)
    dprev_h_attn = np.empty((N, H), dtype=dtype)
    A_T = A.transpose(0, 2, 1)  # (N, H, L)
    for t in reversed(range(T)):
        np.add(dh[:, t], dnext_h, out=dh_t)
        _lstm_cell_backward(dh_t, dnext_c, gates[:, t], cs[t], tanh_cs[t], ha[t + 1, :, :H],
                            da[t], dnext_c)
        np.matmul(da[t], W_ha.T, out=dha[t])
        dattn = dha[t, :, H:]
        # Softmax backward: dscores = w * (dw - sum(w * dw)), dw = A·dattn
        np.matmul(A, dattn[:, :, None], out=dweights[:, :, None])
        w = weights[t]
        dweights -= np.einsum("nl,nl->n", w, dweights)[:, None]
        np.multiply(w, dweights, out=dscores[t])
        dscores[t] *= inv_sqrt_H
        np.matmul(dscores[t, :, None, :], A, out=dprev_h_attn[:, None, :])
        np.add(dha[t, :, :H], dprev_h_attn, out=dnext_h)  # prev_h fed step t two ways

    # The grid: dA[n] = sum over t of w_t[n] ⊗ dattn_t[n] + dscores_t[n] ⊗ h_t[n], as one
    # batched (L, 2T)·(2T, H) product; then h0 = c0 = A's mean spreads their gradients evenly.
    left = np.concatenate([weights, dscores], axis=0).transpose(1, 2, 0)  # (N, L, 2T)
    right = np.concatenate([dha[:, :, H:], ha[:-1, :, :H]], axis=0).transpose(1, 0, 2)
    dA = np.matmul(left, right)  # (N, L, H)
    dA += ((dnext_h + dnext_c) / dtype.type(L))[:, None, :]
    dA_rows = dA.reshape(N * L, H)
    grads["W_proj"] = rows.T @ dA_rows
    grads["b_proj"] = dA_rows.sum(axis=0)

    dW_ha = ha[:-1].reshape(T * N, 2 * H).T @ da.reshape(T * N, 4 * H)
    grads["Wh"], grads["Wattn"] = dW_ha[:H], dW_ha[H:]
    grads["W_embed"], grads["Wx"], grads["b"] = input_products_backward(
        da, xs, p["Wx"], xs_words, model.vocab_size)
    return value, grads
