"""The fast kernels (rnncap/kernels/) against the readable reference layers and plain loops.

Each kernel names the reference it equals: the fused output layer against the temporal affine
and softmax loss layers, the decoding steps against the step forwards, sum_rows_by against
np.add.at, the word-indexed sequences against the public sequence layers, and the model's fast
path against its readable path (fast=False). Expected values come from the public functions,
the documented equations written out here, np.add.at in float64, explicit loops, or numeric
gradients; inputs cover float32 and float64, N = 1, T = 1, fully masked rows and words repeated
far more than 16 times.
"""
import numpy as np
import pytest

from rnncap import kernels as K
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


@pytest.mark.parametrize("N,T", [(3, 4), (1, 1), (1, 5), (4, 1)])
@pytest.mark.parametrize("block_rows", [1, 2, 5, 1024])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_output_layer_matches_reference(block_rows, dtype, N, T, rng):
    D, M = 5, 7
    x = rng.standard_normal((N, T, D)).astype(dtype)
    w = rng.standard_normal((D, M)).astype(dtype)
    b = rng.standard_normal(M).astype(dtype)
    y = rng.integers(0, M, size=(N, T))
    mask = rng.random((N, T)) > 0.3
    mask[-1] = False  # a fully padded caption (for N = 1, nothing to score at all)
    got = K.output.temporal_affine_softmax_loss(x, w, b, y, mask, block_rows=block_rows)
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
    got = K.output.temporal_affine_softmax_loss(x, w, b, y, mask, block_rows=3)
    for g, e in zip(got, (loss, dx, dw, db)):
        assert rel(g, e) < 1e-13


def test_fused_output_layer_all_masked_and_non_finite(rng):
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), np.zeros(5)
    y = np.zeros((2, 3), dtype=int)
    loss, dx, dw, db = K.output.temporal_affine_softmax_loss(x, w, b, y, np.zeros((2, 3), bool))
    assert loss == 0 and not dx.any() and not dw.any() and not db.any()
    w[0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        loss = K.output.temporal_affine_softmax_loss(x, w, b, y, np.ones((2, 3), bool))[0]
    assert np.isnan(loss)


@pytest.mark.parametrize("N", [3, 1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_decoding_kernels_equal_public_steps(dtype, N, rng):
    D, H = 4, 5
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
            got_h, got_c = K.cells.lstm_step_xa(xa, h @ Wh, c)
            assert rel(got_c, want_c) < tol and got_c.dtype == dtype
            # pre-scaled by the kernel's exponent factors, as greedy sampling passes them
            scale = K.cells.lstm_exponents(H, dtype)
            got_h2, got_c2 = K.cells.lstm_step_xa(xa * scale, h @ (Wh * scale), c, scaled=True)
            assert rel(got_h2, want_h) < tol and rel(got_c2, want_c) < tol
        elif cell == "gru":
            want_h, _ = L.gru_step_forward(x, h, Wx, Wh, b)
            got_h = K.cells.gru_step_xa(xa, h @ Wh, h)
        else:
            want_h, _ = L.rnn_step_forward(x, h, Wx, Wh, b)
            got_h = K.cells.rnn_step_xa(xa, h @ Wh)
        assert got_h.dtype == dtype
        assert rel(got_h, want_h) < tol, cell


# ------------------------------------------------------------------------- scatter-add by group
# sum_rows_by takes groups with more than K.words._MANY_ROWS (16) rows in one sum and the others in
# rounds by occurrence rank; the cases straddle that boundary (16 and 17 rows).

def reference_sum_rows(a, group, n):
    """out[g] = sum of a[i] over group[i] == g, and the same sum of |a[i]| (an error scale)."""
    out, scale = np.zeros((n, a.shape[1])), np.zeros((n, a.shape[1]))
    a64 = np.asarray(a, dtype=np.float64)
    np.add.at(out, group, a64)
    np.add.at(scale, group, np.abs(a64))
    return out, scale


def shuffled_groups(rng, sizes):
    """A group index for every row, group g taking sizes[g] rows, in random order."""
    return rng.permutation(np.repeat(np.arange(len(sizes)), sizes))


SUM_CASES = {
    "one row": ([1], 3),
    "one light group": ([7], 4),
    "one heavy group": ([40], 5),
    "exactly 16 rows": ([16], 3),
    "exactly 17 rows": ([17], 3),
    "one column": ([300, 16, 17, 1, 2], 1),
    "boundary mix": ([16, 17, 1, 15, 18, 2, 16], 6),
    "heavy among light": ([3, 300, 1, 16, 5, 17, 1, 9, 2, 40, 1, 12], 7),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", sorted(SUM_CASES))
def testsum_rows_by_matches_add_at(case, dtype, rng):
    sizes, C = SUM_CASES[case]
    group = shuffled_groups(rng, sizes)
    a = rng.standard_normal((group.size, C)).astype(dtype)
    got = K.words.sum_rows_by(a, group, len(sizes))
    want, scale = reference_sum_rows(a, group, len(sizes))
    assert got.dtype == dtype and got.shape == (len(sizes), C)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert np.all(np.abs(got - want) <= tol * scale), case


def testsum_rows_by_random_sizes_int32_groups_and_strided_rows(rng):
    sizes = list(rng.integers(1, 25, size=40)) + [300, 17, 16]
    group = shuffled_groups(rng, sizes).astype(np.int32)
    a = rng.standard_normal((group.size, 10))[:, ::2]  # a non-contiguous view
    got = K.words.sum_rows_by(a, group, len(sizes))
    want, scale = reference_sum_rows(a, group, len(sizes))
    assert np.all(np.abs(got - want) <= 1e-12 * scale)


def testsum_rows_by_rounds_longer_than_a_chunk(rng):
    # More light groups than K.words._CHUNK_ROWS (256), so the first rounds are added in several
    # pieces: 700 groups of 1..16 rows (about 6000 rows), as a batch of captions has.
    sizes = list(rng.integers(1, 17, size=700))
    assert sum(s >= 3 for s in sizes) > 2 * K.words._CHUNK_ROWS
    group = shuffled_groups(rng, sizes)
    a = rng.standard_normal((group.size, 3))
    got = K.words.sum_rows_by(a, group, len(sizes))
    want, scale = reference_sum_rows(a, group, len(sizes))
    assert np.all(np.abs(got - want) <= 1e-12 * scale)


def loop_embedding_gradient(dout, x, V):
    """dW[v] = sum of dout[n, t] over x[n, t] == v, one position at a time in float64."""
    dW = np.zeros((V, dout.shape[2]))
    for n in range(x.shape[0]):
        for t in range(x.shape[1]):
            dW[x[n, t]] += dout[n, t]
    return dW


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_word_embedding_backward_heavy_and_unused_words(dtype, rng):
    N, T, V, D = 40, 5, 12, 6
    x = rng.choice([2, 3, 5, 9], size=(N, T), p=[0.6, 0.2, 0.1, 0.1])
    x[:, 0] = 1  # every caption starts with the same word: 40 rows of one group
    x[0, 1], x[1, 2], x[2, 3] = 7, 7, 11  # rare words; 0, 4, 6, 8, 10 stay unused
    W = rng.standard_normal((V, D)).astype(dtype)
    out, cache = L.word_embedding_forward(x, W)
    dout = rng.standard_normal((N, T, D)).astype(dtype)
    dW = L.word_embedding_backward(dout, cache)
    want = loop_embedding_gradient(dout, x, V)
    assert dW.dtype == dtype and dW.shape == (V, D)
    assert np.all(dW[[0, 4, 6, 8, 10]] == 0)
    assert rel(dW, want) < (1e-12 if dtype == np.float64 else 1e-5)


# ---------------------------------------------------------------------- word-indexed cell paths
# The model hands its sequences the caption words, so that x·Wx + b is formed once per distinct
# word and backward returns dW_embed directly. Expected: the public batch-major layers, with the
# embedding gradient scattered by np.add.at here.

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def heavy_words(rng, T, N, V):
    """Time-major (T, N) word indices: word 1 first, then mostly word 2; words 0, 4, 6, 8, 10
    and above never occur (V >= 12)."""
    words = rng.choice([2, 3, 5, 9], size=(T, N), p=[0.7, 0.1, 0.1, 0.1])
    words[0] = 1
    if T > 1:
        words[-1, 0] = 7  # one rare word
    return words


def cell_params(rng, cell, V, D, H, dtype):
    k = GATES[cell]
    return dict(
        W_embed=rng.standard_normal((V, D)).astype(dtype),
        h0=rng.standard_normal((H,)).astype(dtype),
        Wx=(rng.standard_normal((D, k * H)) / np.sqrt(D)).astype(dtype),
        Wh=(rng.standard_normal((H, k * H)) / np.sqrt(H)).astype(dtype),
        b=rng.standard_normal(k * H).astype(dtype),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("T,N", [(5, 40), (1, 1), (6, 1), (1, 30), (3, 7)])
@pytest.mark.parametrize("cell", sorted(GATES))
def test_sequence_with_words_equals_public_layers(cell, T, N, dtype, rng):
    V, D, H = 12, 5, 4
    p = cell_params(rng, cell, V, D, H, dtype)
    words = heavy_words(rng, T, N, V)
    h0 = (rng.standard_normal((N, H)) * 0.5).astype(dtype)
    dh = rng.standard_normal((N, T, H)).astype(dtype)
    forward, backward = getattr(L, cell + "_forward"), getattr(L, cell + "_backward")

    # Public path, batch-major words
    x, _ = L.word_embedding_forward(words.T, p["W_embed"])
    want_h, cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])
    dx, *want_rest = backward(dh, cache)
    want_dW_embed = np.zeros((V, D))
    np.add.at(want_dW_embed, words.T, dx.astype(np.float64))

    # Private path, time-major words
    seq = getattr(K.cells, "%s_sequence" % cell)
    seq_backward = getattr(K.cells, "%s_sequence_backward" % cell)
    xs = p["W_embed"][words]
    h, cache = seq(xs, h0, p["Wx"], p["Wh"], p["b"], words.ravel(), p["W_embed"])
    got = seq_backward(dh, cache, words.ravel(), V)

    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert h.shape == (N, T, H) and h.dtype == dtype
    assert rel(h, want_h) < tol
    names = ("dW_embed", "dh0", "dWx", "dWh", "db")
    for g, e, name in zip(got, [want_dW_embed] + want_rest, names):
        assert g.dtype == dtype and g.shape == e.shape, name
        assert rel(g, e) < tol, name
    unused = np.setdiff1d(np.arange(V), words)
    assert np.all(got[0][unused] == 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("J", [1, 4])
@pytest.mark.parametrize("distinct", ["repeated", "all distinct"])
def testinput_products_with_words_equal_plain_products(distinct, J, dtype, rng):
    V, D, C = 50, 6, 3
    M = 45 if distinct == "repeated" else 40
    words = rng.choice([3, 8, 20], size=M) if distinct == "repeated" else rng.permutation(V)[:M]
    W_embed = rng.standard_normal((V, D)).astype(dtype)
    Wx = rng.standard_normal((D, J * C)).astype(dtype)
    b = rng.standard_normal(J * C).astype(dtype)
    xs = W_embed[words]
    plain = K.words.input_products(np.empty((J, M, C), dtype=dtype), xs, Wx, b)
    by_word = K.words.input_products(np.empty((J, M, C), dtype=dtype), xs, Wx, b, words, W_embed)
    xa = xs.astype(np.float64) @ Wx.astype(np.float64) + b  # (M, J * C)
    want = xa.reshape(M, J, C).transpose(1, 0, 2)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for got in (plain, by_word):
        assert got.dtype == dtype
        assert rel(got, want) < tol
    assert rel(by_word, plain) < tol


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def testinput_products_backward_explicit(dtype, rng):
    T, N, D, kH, V = 4, 25, 5, 8, 15
    words = heavy_words(rng, T, N, V)
    W_embed = rng.standard_normal((V, D)).astype(dtype)
    xs = W_embed[words]
    Wx = rng.standard_normal((D, kH)).astype(dtype)
    da = rng.standard_normal((T, N, kH)).astype(dtype)
    x64, W64, da64 = (a.astype(np.float64) for a in (xs, Wx, da))
    want_dx = np.einsum("tnk,dk->ntd", da64, W64)
    want_dWx = np.einsum("tnd,tnk->dk", x64, da64)
    want_db = da64.sum(axis=(0, 1))
    want_dW_embed = np.zeros((V, D))
    np.add.at(want_dW_embed, words, np.einsum("tnk,dk->tnd", da64, W64))
    tol = 1e-12 if dtype == np.float64 else 1e-5

    dx, dWx, db = K.words.input_products_backward(da, xs, Wx)
    for g, e, name in ((dx, want_dx, "dx"), (dWx, want_dWx, "dWx"), (db, want_db, "db")):
        assert g.dtype == dtype and g.shape == e.shape, name
        assert rel(g, e) < tol, name
    dW_embed, dWx, db = K.words.input_products_backward(da, xs, Wx, words.ravel(), V)
    for g, e, name in ((dW_embed, want_dW_embed, "dW_embed"), (dWx, want_dWx, "dWx"),
                       (db, want_db, "db")):
        assert g.dtype == dtype and g.shape == e.shape, name
        assert rel(g, e) < tol, name


# ----------------------------------------------------------------------------- the model's loss
# CaptioningRNN.loss uses the word-indexed paths and the fused output layer; here against the
# public layers composed the classic way, on batches whose words repeat far more than 16 times.

MODEL_VOCAB = ["<NULL>", "<START>", "<END>"] + ["w%d" % i for i in range(3, 20)]
MODEL_WORD_TO_IDX = {w: i for i, w in enumerate(MODEL_VOCAB)}


def heavy_captions(rng, N, T1):
    """<START>, then mostly word 3, a few rare words, <END> and <NULL> padding; words 12..19
    never occur."""
    captions = rng.choice([3, 4, 5, 6, 7], size=(N, T1), p=[0.8, 0.05, 0.05, 0.05, 0.05])
    captions[:, 0] = 1
    captions[0, 1], captions[1, -1] = 11, 10  # each once
    captions[2, 2:] = [2] + [0] * (T1 - 3)  # an early <END>, then padding
    captions[3:, -1] = 2
    return captions


def model_params(rng, cell, V, D, W, H):
    k = GATES[cell]
    shapes = dict(W_embed=(V, W), W_proj=(D, H), b_proj=(H,), Wx=(W, k * H), Wh=(H, k * H),
                  b=(k * H,), W_vocab=(H, V), b_vocab=(V,))
    return {name: rng.normal(scale=0.7, size=shape) for name, shape in shapes.items()}


def public_model_loss(cell, p, features, captions):
    """The captioning loss and gradients from the public layers, composed the classic way."""
    forward, backward = getattr(L, cell + "_forward"), getattr(L, cell + "_backward")
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != 0
    h0, cache_proj = L.affine_forward(features, p["W_proj"], p["b_proj"])
    x, _ = L.word_embedding_forward(captions_in, p["W_embed"])
    h, cache_cell = forward(x, h0, p["Wx"], p["Wh"], p["b"])
    scores, cache_vocab = L.temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
    loss, dscores = L.temporal_softmax_loss(scores, captions_out, mask)
    grads = {}
    dh, grads["W_vocab"], grads["b_vocab"] = L.temporal_affine_backward(dscores, cache_vocab)
    dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, cache_cell)
    grads["W_embed"] = np.zeros_like(p["W_embed"])
    np.add.at(grads["W_embed"], captions_in, dx)
    _, grads["W_proj"], grads["b_proj"] = L.affine_backward(dh0, cache_proj)
    return loss, grads


@pytest.mark.parametrize("cell", sorted(GATES))
def test_model_loss_with_heavy_words_equals_public_layers(cell, rng):
    from rnncap import CaptioningRNN

    N, T1, V, D, W, H = 40, 7, len(MODEL_VOCAB), 6, 5, 4
    p = model_params(rng, cell, V, D, W, H)
    model = CaptioningRNN.from_params(MODEL_WORD_TO_IDX, p, cell)
    features, captions = rng.normal(size=(N, D)), heavy_captions(rng, N, T1)
    loss, grads = model.loss(features, captions)
    want_loss, want_grads = public_model_loss(cell, p, features, captions)
    assert abs(loss - want_loss) <= 1e-10 * abs(want_loss)
    assert sorted(grads) == sorted(want_grads)
    for name in want_grads:
        assert grads[name].dtype == np.float64 and grads[name].shape == p[name].shape, name
        assert rel(grads[name], want_grads[name]) < 1e-10, name
    assert np.all(grads["W_embed"][12:] == 0)


@pytest.mark.parametrize("cell", sorted(GATES))
def test_model_heavy_words_gradients_match_numeric(cell, rng):
    from rnncap import CaptioningRNN
    from rnncap.gradient_check import eval_numerical_gradient

    N, T1, V, D, W, H = 40, 4, len(MODEL_VOCAB), 4, 3, 3
    model = CaptioningRNN.from_params(MODEL_WORD_TO_IDX, model_params(rng, cell, V, D, W, H),
                                      cell)
    features, captions = rng.normal(size=(N, D)), heavy_captions(rng, N, T1)
    _, grads = model.loss(features, captions)
    for name in ("W_embed", "Wx"):
        f = lambda _: model.loss(features, captions)[0]
        numeric = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
        analytic = grads[name]
        # bounds as in test_model.py: absolute, and relative to the gradients' norms
        assert np.abs(analytic - numeric).max() < 1e-8, name
        norm_rel = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic)
                                                         + np.linalg.norm(numeric))
        assert norm_rel < 1e-7, name


# ------------------------------------------------------------------ the model's one speed switch
# CaptioningRNN(fast=True) runs rnncap/kernels/captioning.py, fast=False the readable pipeline on
# the public layers. Both must give the same loss, gradients and captions.

def readable_and_fast(cell, p, dtype=np.float64):
    from rnncap import CaptioningRNN

    p = {k: v.astype(dtype) for k, v in p.items()}
    return (CaptioningRNN.from_params(MODEL_WORD_TO_IDX, p, cell, fast=False),
            CaptioningRNN.from_params(MODEL_WORD_TO_IDX, p, cell, fast=True))


@pytest.mark.parametrize("N,T1", [(40, 7), (1, 2), (1, 6), (5, 2)])
@pytest.mark.parametrize("cell", sorted(GATES))
def test_fast_and_readable_loss_agree_float64(cell, N, T1, rng):
    V, D, W, H = len(MODEL_VOCAB), 6, 5, 4
    readable, fast = readable_and_fast(cell, model_params(rng, cell, V, D, W, H))
    features = rng.normal(size=(N, D))
    captions = rng.integers(0, V, size=(N, T1))
    if N >= 5:
        captions = heavy_captions(rng, N, T1) if T1 > 3 else captions
        captions[1, 1:] = 0  # a fully masked row: every target is <NULL>
    loss_r, grads_r = readable.loss(features, captions)
    loss_f, grads_f = fast.loss(features, captions)
    assert abs(loss_f - loss_r) <= 1e-10 * abs(loss_r)
    assert sorted(grads_f) == sorted(grads_r)
    for name in grads_r:
        assert grads_f[name].dtype == np.float64 and grads_f[name].shape == grads_r[name].shape
        assert rel(grads_f[name], grads_r[name]) <= 1e-10, name


@pytest.mark.parametrize("cell", sorted(GATES))
def test_fast_and_readable_loss_agree_float32(cell, rng):
    V, D, W, H = len(MODEL_VOCAB), 6, 5, 4
    readable, fast = readable_and_fast(cell, model_params(rng, cell, V, D, W, H), np.float32)
    features, captions = rng.normal(size=(30, D)), heavy_captions(rng, 30, 6)
    loss_r, grads_r = readable.loss(features, captions)
    loss_f, grads_f = fast.loss(features, captions)
    assert loss_f.dtype == loss_r.dtype == np.float32
    assert abs(loss_f - loss_r) <= 1e-5 * abs(loss_r)
    for name in grads_r:
        assert grads_f[name].dtype == np.float32, name
        assert rel(grads_f[name], grads_r[name]) < 1e-5, name


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("cell", sorted(GATES))
def test_fast_and_readable_greedy_captions_agree(cell, seed):
    rng = np.random.default_rng(seed)
    V, D, W, H = len(MODEL_VOCAB), 6, 5, 8
    p = model_params(rng, cell, V, D, W, H)
    p["b_vocab"][2] += 1.5  # <END> often wins, so rows finish at different steps
    features = rng.normal(size=(7, D))
    for dtype in (np.float64, np.float32):
        readable, fast = readable_and_fast(cell, p, dtype)
        want = readable.sample(features, max_length=9)
        got = fast.sample(features, max_length=9)
        assert got.dtype == want.dtype and got.shape == (7, 9)
        np.testing.assert_array_equal(got, want)


def test_fast_switch_defaults_and_attribute(rng):
    from rnncap import CaptioningRNN
    from rnncap.classifiers import rnn

    np.random.seed(3)
    model = CaptioningRNN(MODEL_WORD_TO_IDX, input_dim=4, wordvec_dim=3, hidden_dim=5,
                          cell_type="lstm", dtype=np.float64)
    np.random.seed(3)
    slow = CaptioningRNN(MODEL_WORD_TO_IDX, input_dim=4, wordvec_dim=3, hidden_dim=5,
                         cell_type="lstm", dtype=np.float64, fast=False)
    assert model.fast is True and slow.fast is False
    for name in model.params:  # the switch draws nothing: the seeded parameters are the same
        np.testing.assert_array_equal(model.params[name], slow.params[name])
    features, captions = rng.normal(size=(3, 4)), heavy_captions(rng, 3, 5)
    state = np.random.get_state()
    loss_fast, _ = model.loss(features, captions)
    model.fast = False
    loss_slow, _ = model.loss(features, captions)
    model.sample(features, max_length=4)
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # neither path draws
    assert abs(loss_fast - loss_slow) <= 1e-10 * abs(loss_slow)
    for bad in ("yes", 1, None):
        with pytest.raises(ValueError, match="fast"):
            CaptioningRNN(MODEL_WORD_TO_IDX, input_dim=4, fast=bad)
    assert rnn.kernels is K


def test_fast_without_kernels_runs_the_readable_code(rng, monkeypatch):
    from rnncap.classifiers import rnn

    p = model_params(rng, "gru", len(MODEL_VOCAB), 4, 3, 5)
    readable, fast = readable_and_fast("gru", p)
    features, captions = rng.normal(size=(6, 4)), heavy_captions(rng, 6, 5)
    want = readable.loss(features, captions)

    def fail(*args):
        raise AssertionError("the kernels must not run")
    monkeypatch.setattr(K.captioning, "loss", fail)
    monkeypatch.setattr(K.captioning, "greedy_sample", fail)
    with pytest.raises(AssertionError, match="must not run"):
        fast.loss(features, captions)
    monkeypatch.setattr(rnn, "kernels", None)  # as in the student copy, which ships no kernels
    got = fast.loss(features, captions)
    assert got[0] == want[0]
    np.testing.assert_array_equal(fast.sample(features, 6), readable.sample(features, 6))


@pytest.mark.parametrize("fast", [True, False])
def test_both_paths_return_nan_for_non_finite_parameters(fast, rng):
    p = model_params(rng, "lstm", len(MODEL_VOCAB), 4, 3, 5)
    p["Wh"][0, 0] = np.inf
    model = readable_and_fast("lstm", p)[int(fast)]
    with np.errstate(invalid="ignore", over="ignore"):
        loss, grads = model.loss(rng.normal(size=(3, 4)), heavy_captions(rng, 3, 5))
    assert np.isnan(loss) and all(np.isnan(g).all() for g in grads.values())
