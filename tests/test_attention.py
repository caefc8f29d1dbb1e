"""The attention LSTM: dot-product attention, the attention step and sequence (rnn_layers), and
CaptioningRNN(cell_type='attention'): loss, gradients, sampling, parameters and errors.

Expected values never come from the code under test: forward passes are recomputed here with
explicit loops over examples and grid locations, and gradients are centred differences from the
small helper below (independent of rnncap.gradient_check).
"""
import math

import numpy as np
import pytest

from rnncap import CaptioningRNN
from rnncap import rnn_layers as L
from rnncap.checkpoint import load_model, save_model
from rnncap.decoding import beam_search

GRAD_TOL = 1e-7
VOCAB = ["<NULL>", "<START>", "<END>", "a", "b", "c", "d", "e"]
WORD_TO_IDX = {w: i for i, w in enumerate(VOCAB)}
NULL, START, END = 0, 1, 2


# --------------------------------------------------------------------------------------- helpers

def rel_err(a, b):
    """max|a - b| / max(|a| + |b|): one scale per array (near-zero entries cannot blow it up)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
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
    return 1.0 / (1.0 + np.exp(-a))


# ------------------------------------------------------------------- references (written here)

def ref_attention(h, A):
    """Scores, softmax and weighted sum one example and one location at a time."""
    N, H, G, _ = A.shape
    attn, weights = np.zeros((N, H)), np.zeros((N, G, G))
    for n in range(N):
        scores = np.array([[sum(h[n, k] * A[n, k, i, j] for k in range(H)) / math.sqrt(H)
                            for j in range(G)] for i in range(G)])
        e = np.exp(scores - scores.max())
        weights[n] = e / e.sum()
        for i in range(G):
            for j in range(G):
                attn[n] += weights[n, i, j] * A[n, :, i, j]
    return attn, weights


def ref_attention_step(x, h, c, Wx, Wh, b, attn, Wattn):
    """The LSTM equations with the attention term, gate by gate."""
    H = h.shape[1]
    a = x @ Wx + h @ Wh + attn @ Wattn + b
    i, f, o = sig(a[:, :H]), sig(a[:, H:2 * H]), sig(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    c = f * c + i * g
    return o * np.tanh(c), c


def ref_attention_sequence(x, A, Wx, Wh, Wattn, b):
    """h (N, T, H) and weights (N, T, G, G), starting from h0 = c0 = the grid's mean."""
    N, T, _ = x.shape
    h = c = A.reshape(A.shape[0], A.shape[1], -1).mean(axis=2)
    hs, ws = [], []
    for t in range(T):
        attn, w = ref_attention(h, A)
        h, c = ref_attention_step(x[:, t], h, c, Wx, Wh, b, attn, Wattn)
        hs.append(h)
        ws.append(w)
    return np.stack(hs, axis=1), np.stack(ws, axis=1)


def ref_grid(p, features):
    """A (N, H, G, G): W_proj and b_proj applied at every location, one at a time."""
    N, C, G, _ = features.shape
    A = np.zeros((N, p["W_proj"].shape[1], G, G))
    for n in range(N):
        for i in range(G):
            for j in range(G):
                A[n, :, i, j] = features[n, :, i, j] @ p["W_proj"] + p["b_proj"]
    return A


def ref_model_loss(p, features, captions):
    """The attention captioning loss, one image at a time."""
    total = 0.0
    N = captions.shape[0]
    A = ref_grid(p, features)
    for n in range(N):
        x = p["W_embed"][captions[n, :-1]][None]
        h, _ = ref_attention_sequence(x, A[n:n + 1], p["Wx"], p["Wh"], p["Wattn"], p["b"])
        for t, target in enumerate(captions[n, 1:]):
            if target == NULL:
                continue
            s = h[0, t] @ p["W_vocab"] + p["b_vocab"]
            total -= s[target] - s.max() - np.log(np.sum(np.exp(s - s.max())))
    return total / N


def ref_greedy(p, features, max_length):
    """Greedy decoding with the grid's attention; (captions, weights), <NULL> / zeros after
    each row's first <END>."""
    N, _, G, _ = features.shape
    A = ref_grid(p, features)
    captions = np.full((N, max_length), NULL)
    weights = np.zeros((N, max_length, G, G))
    for n in range(N):
        h = c = A[n].reshape(A.shape[1], -1).mean(axis=1)[None]
        word = START
        for t in range(max_length):
            attn, w = ref_attention(h, A[n:n + 1])
            h, c = ref_attention_step(p["W_embed"][word][None], h, c, p["Wx"], p["Wh"], p["b"],
                                      attn, p["Wattn"])
            word = int(np.argmax(h[0] @ p["W_vocab"] + p["b_vocab"]))
            captions[n, t], weights[n, t] = word, w[0]
            if word == END:
                break
    return captions, weights


# ------------------------------------------------------------------------------- inputs

def attention_args(rng, N, H, G):
    return [rng.standard_normal((N, H)), rng.standard_normal((N, H, G, G))]


def step_args(rng, N, D, H):
    return [rng.standard_normal((N, D)), rng.standard_normal((N, H)),
            rng.standard_normal((N, H)), 0.5 * rng.standard_normal((D, 4 * H)),
            0.5 * rng.standard_normal((H, 4 * H)), 0.5 * rng.standard_normal(4 * H),
            rng.standard_normal((N, H)), 0.5 * rng.standard_normal((H, 4 * H))]


def sequence_args(rng, N, T, D, H, G):
    return [rng.standard_normal((N, T, D)), rng.standard_normal((N, H, G, G)),
            0.5 * rng.standard_normal((D, 4 * H)), 0.5 * rng.standard_normal((H, 4 * H)),
            0.5 * rng.standard_normal((H, 4 * H)), 0.5 * rng.standard_normal(4 * H)]


def check_backward(forward, backward, args, n_dout, rng):
    """Every gradient of backward(douts, cache) against centred differences of
    sum_k <forward(*args)[k], douts[k]>, for the first n_dout outputs."""
    out = forward(*args)
    douts = [rng.standard_normal(np.shape(o)) for o in out[:n_dout]]
    grads = backward(*douts, out[-1])
    assert len(grads) == len(args)

    def objective():
        res = forward(*args)
        return sum(float(np.sum(r * d)) for r, d in zip(res[:n_dout], douts))
    for i, (arg, grad) in enumerate(zip(args, grads)):
        assert grad.shape == arg.shape, i
        assert rel_err(grad, num_grad(objective, arg)) < GRAD_TOL, i


# -------------------------------------------------------------------- layers: forward values

@pytest.mark.parametrize("N,H,G", [(1, 1, 1), (2, 3, 2), (3, 5, 3), (1, 4, 4)])
def test_dot_product_attention_forward_matches_loops(N, H, G, rng):
    h, A = attention_args(rng, N, H, G)
    attn, weights, _ = L.dot_product_attention_forward(h, A)
    want_attn, want_weights = ref_attention(h, A)
    assert attn.shape == (N, H) and weights.shape == (N, G, G)
    assert rel_err(attn, want_attn) < 1e-12 and rel_err(weights, want_weights) < 1e-12
    np.testing.assert_allclose(weights.sum(axis=(1, 2)), 1.0, rtol=1e-12)


def test_dot_product_attention_is_scaled_by_sqrt_h_and_stable():
    # prev_h = ones(4): location (0, 0) holds ones, score 4 / sqrt(4) = 2; location (1, 1)
    # holds zeros, score 0; the other two score -100. Their weights differ by a factor e^2.
    H = 4
    h = np.full((1, H), 1.0)
    A = np.full((1, H, 2, 2), -50.0)
    A[0, :, 0, 0] = 1.0
    A[0, :, 1, 1] = 0.0
    _, w, _ = L.dot_product_attention_forward(h, A)
    assert w[0, 0, 0] / w[0, 1, 1] == pytest.approx(math.exp(2.0), rel=1e-12)
    # Huge scores: the softmax subtracts the max, no overflow, no NaN.
    _, w, _ = L.dot_product_attention_forward(1e6 * h, A)
    assert np.isfinite(w).all() and w[0, 0, 0] == pytest.approx(1.0)


def test_attention_step_forward_matches_equations(rng):
    args = step_args(rng, 3, 4, 5)
    next_h, next_c, _ = L.attention_step_forward(*args)
    want_h, want_c = ref_attention_step(*args)
    assert rel_err(next_h, want_h) < 1e-12 and rel_err(next_c, want_c) < 1e-12


def test_attention_step_with_zero_wattn_is_the_lstm_step(rng):
    x, h, c, Wx, Wh, b, attn, Wattn = step_args(rng, 2, 3, 4)
    got = L.attention_step_forward(x, h, c, Wx, Wh, b, attn, np.zeros_like(Wattn))
    want = L.lstm_step_forward(x, h, c, Wx, Wh, b)
    assert rel_err(got[0], want[0]) < 1e-15 and rel_err(got[1], want[1]) < 1e-15


@pytest.mark.parametrize("N,T,D,H,G", [(1, 1, 1, 1, 1), (2, 3, 4, 5, 2), (3, 2, 3, 2, 3)])
def test_attention_forward_matches_loops(N, T, D, H, G, rng):
    args = sequence_args(rng, N, T, D, H, G)
    h, cache = L.attention_forward(*args)
    want_h, want_weights = ref_attention_sequence(*args)
    assert h.shape == (N, T, H)
    assert rel_err(h, want_h) < 1e-12
    # The reference implementation keeps every step's weights as the cache's last entry.
    assert rel_err(cache[-1], want_weights) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outputs_keep_the_input_dtype(dtype, rng):
    h, A = (a.astype(dtype) for a in attention_args(rng, 2, 3, 2))
    attn, w, cache = L.dot_product_attention_forward(h, A)
    assert attn.dtype == w.dtype == dtype
    assert all(g.dtype == dtype for g in L.dot_product_attention_backward(attn, cache))
    args = [a.astype(dtype) for a in step_args(rng, 2, 3, 4)]
    next_h, next_c, cache = L.attention_step_forward(*args)
    assert next_h.dtype == next_c.dtype == dtype
    assert all(g.dtype == dtype for g in L.attention_step_backward(next_h, next_c, cache))
    args = [a.astype(dtype) for a in sequence_args(rng, 2, 3, 2, 4, 2)]
    out, cache = L.attention_forward(*args)
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in L.attention_backward(out, cache))
    if dtype == np.float32:  # float32 agrees with float64 on the same inputs
        out64, _ = L.attention_forward(*[a.astype(np.float64) for a in args])
        assert rel_err(out, out64) < 1e-5


# ------------------------------------------------------------------- layers: gradients

@pytest.mark.parametrize("N,H,G", [(1, 1, 1), (1, 3, 2), (2, 4, 3), (3, 2, 1), (2, 5, 4)])
def test_dot_product_attention_backward_numeric(N, H, G, rng):
    check_backward(L.dot_product_attention_forward, L.dot_product_attention_backward,
                   attention_args(rng, N, H, G), 1, rng)


@pytest.mark.parametrize("N,D,H", [(1, 1, 1), (2, 3, 4), (3, 5, 2)])
def test_attention_step_backward_numeric(N, D, H, rng):
    check_backward(L.attention_step_forward, L.attention_step_backward,
                   step_args(rng, N, D, H), 2, rng)


@pytest.mark.parametrize("N,T,D,H,G", [(1, 1, 1, 1, 1), (2, 3, 4, 3, 2), (1, 4, 2, 3, 3),
                                       (3, 1, 3, 2, 2), (2, 2, 2, 2, 1)])
def test_attention_backward_numeric(N, T, D, H, G, rng):
    check_backward(L.attention_forward, L.attention_backward,
                   sequence_args(rng, N, T, D, H, G), 1, rng)


def test_attention_backward_includes_the_initial_state(rng):
    # One step with Wx = Wh = Wattn = 0 and gates saturated by b (i = 0, f = o = 1): next_c =
    # c0 and next_h = tanh(c0), with c0 = A's mean, so A's whole gradient comes through c0 and
    # is spread equally over the G * G locations.
    N, H, G = 2, 3, 2
    A = rng.standard_normal((N, H, G, G))
    x = rng.standard_normal((N, 1, 2))
    b = np.concatenate([np.full(H, -50.0), np.full(H, 50.0), np.full(H, 50.0), np.zeros(H)])
    zeros = [np.zeros((2, 4 * H)), np.zeros((H, 4 * H)), np.zeros((H, 4 * H))]
    h, cache = L.attention_forward(x, A, zeros[0], zeros[1], zeros[2], b)
    c0 = A.mean(axis=(2, 3))
    assert rel_err(h[:, 0], np.tanh(c0)) < 1e-12
    dh = rng.standard_normal(h.shape)
    _, dA, _, _, _, _ = L.attention_backward(dh, cache)
    want = (dh[:, 0] * (1 - np.tanh(c0) ** 2))[:, :, None, None] / (G * G) * np.ones_like(A)
    assert rel_err(dA, want) < 1e-12


# ------------------------------------------------------------------- the model

def make_model(dtype=np.float64, C=3, W=4, H=5, seed=0, end_bias=0.0, scale=0.7):
    np.random.seed(seed)
    model = CaptioningRNN(WORD_TO_IDX, input_dim=C, wordvec_dim=W, hidden_dim=H,
                          cell_type="attention", dtype=dtype)
    rng = np.random.default_rng(seed)
    for k, v in model.params.items():  # non-zero biases and larger weights exercise more
        model.params[k] = rng.normal(scale=scale, size=v.shape).astype(dtype)
    model.params["b_vocab"][END] += end_bias
    return model


def make_inputs(N=3, C=3, G=2, T=5, seed=1):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(N, C, G, G))
    captions = rng.integers(3, len(VOCAB), size=(N, T + 1))
    captions[:, 0] = START
    if T >= 3:  # padding is masked out of the loss
        captions[0, 3], captions[0, 4:] = END, NULL
    captions[-1, -1] = END
    return features, captions


def test_parameters_shapes_and_draw_order():
    V, C, W, H = len(VOCAB), 7, 5, 3
    np.random.seed(231)
    model = CaptioningRNN(WORD_TO_IDX, input_dim=C, wordvec_dim=W, hidden_dim=H,
                          cell_type="attention")
    np.random.seed(231)
    expected = {
        "W_embed": np.random.randn(V, W) / 100,
        "W_proj": np.random.randn(C, H) / np.sqrt(C), "b_proj": np.zeros(H),
        "Wx": np.random.randn(W, 4 * H) / np.sqrt(W),
        "Wh": np.random.randn(H, 4 * H) / np.sqrt(H),
        "Wattn": np.random.randn(H, 4 * H) / np.sqrt(H), "b": np.zeros(4 * H),
        "W_vocab": np.random.randn(H, V) / np.sqrt(H), "b_vocab": np.zeros(V),
    }
    assert list(model.params) == list(expected)  # Wattn is drawn right after Wh
    for name, value in expected.items():
        assert model.params[name].dtype == np.float32
        np.testing.assert_array_equal(model.params[name], value.astype(np.float32))
    assert (model.input_dim, model.wordvec_dim, model.hidden_dim) == (C, W, H)
    # The draws before Wattn are the LSTM's, so they are unchanged.
    np.random.seed(231)
    lstm = CaptioningRNN(WORD_TO_IDX, input_dim=C, wordvec_dim=W, hidden_dim=H, cell_type="lstm")
    assert "Wattn" not in lstm.params
    for name in ("W_embed", "W_proj", "Wx", "Wh"):
        np.testing.assert_array_equal(model.params[name], lstm.params[name])


def test_loss_matches_independent_loop():
    model = make_model()
    features, captions = make_inputs()
    loss, grads = model.loss(features, captions)
    assert sorted(grads) == sorted(model.params)
    assert abs(loss - ref_model_loss(model.params, features, captions)) < 1e-12


@pytest.mark.parametrize("G", [1, 2])
def test_every_model_gradient_matches_numeric(G):
    model = make_model()
    features, captions = make_inputs(G=G)
    _, grads = model.loss(features, captions)
    for name in sorted(model.params):
        numeric = num_grad(lambda: model.loss(features, captions)[0], model.params[name])
        assert grads[name].shape == model.params[name].shape
        assert rel_err(grads[name], numeric) < GRAD_TOL, name


def test_float32_model_stays_float32():
    model64 = make_model()
    model32 = CaptioningRNN.from_params(
        WORD_TO_IDX, {k: v.astype(np.float32) for k, v in model64.params.items()}, "attention")
    features, captions = make_inputs()
    loss32, grads32 = model32.loss(features, captions)  # float64 features are cast
    loss64, grads64 = model64.loss(features, captions)
    assert loss32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads32.values())
    assert abs(loss32 - loss64) < 1e-5 * abs(loss64)
    for k in grads64:
        np.testing.assert_allclose(grads32[k], grads64[k], rtol=1e-3, atol=1e-5)


def test_fully_padded_captions_give_zero_loss_and_gradient():
    model = make_model()
    features, captions = make_inputs()
    captions[:, 1:] = NULL
    loss, grads = model.loss(features, captions)
    assert loss == 0 and all(not g.any() for g in grads.values())


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_nonfinite_parameters_give_nan_loss():
    model = make_model()
    features, captions = make_inputs()
    model.params["W_proj"][0, 0] = np.inf
    loss, grads = model.loss(features, captions)
    assert np.isnan(loss) and all(np.isnan(g).all() for g in grads.values())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_greedy_sample_and_attention_maps_match_reference(dtype):
    model = make_model(dtype=dtype)  # 7 of the 10 captions end before max_length
    features = np.random.default_rng(5).normal(size=(10, 3, 2, 2))
    captions, weights = model.sample(features, max_length=8, return_attention=True)
    want_captions, want_weights = ref_greedy(model.params, features, 8)
    np.testing.assert_array_equal(captions, want_captions)
    assert weights.shape == (10, 8, 2, 2) and weights.dtype == dtype
    assert rel_err(weights, want_weights) < (1e-12 if dtype == np.float64 else 1e-5)
    ended = (captions == END).any(axis=1)
    assert ended.any() and not ended.all()  # both kinds of rows
    written = captions != NULL
    np.testing.assert_allclose(weights.sum(axis=(2, 3))[written], 1.0, rtol=1e-5)
    assert not weights[~written].any()  # padding after <END> gets no map
    np.testing.assert_array_equal(model.sample(features, max_length=8), captions)


def test_beam_of_one_is_greedy_and_temperature_samples():
    model = make_model(end_bias=1.0)
    features = np.random.default_rng(7).normal(size=(6, 3, 2, 2))
    greedy = model.sample(features, max_length=7)
    np.testing.assert_array_equal(model.sample(features, max_length=7, beam_size=1), greedy)
    captions, log_probs = beam_search(model, features, beam_size=3, max_length=7)
    for n in range(6):  # the beam's score is the model's own log-probability
        words = captions[n][:np.flatnonzero(captions[n] == END)[0] + 1] \
            if (captions[n] == END).any() else captions[n]
        loss, _ = model.loss(features[n:n + 1], np.array([[START] + list(words)]))
        assert -float(loss) == pytest.approx(log_probs[n], rel=1e-9)
    a = model.sample(features, max_length=7, temperature=1.0, rng=3)
    b = model.sample(features, max_length=7, temperature=1.0, rng=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.sample(features, max_length=7, temperature=1e-3, rng=0),
                                  greedy)


def test_checkpoint_round_trip(tmp_path):
    model = make_model()
    features, captions = make_inputs()
    path = save_model(tmp_path / "attn", model)
    loaded = load_model(path)
    assert loaded.cell_type == "attention" and sorted(loaded.params) == sorted(model.params)
    assert loaded.loss(features, captions)[0] == model.loss(features, captions)[0]
    params = {k: v for k, v in model.params.items() if k != "Wattn"}
    with pytest.raises(ValueError, match="Wattn"):
        CaptioningRNN.from_params(WORD_TO_IDX, params, cell_type="attention")
    with pytest.raises(ValueError, match="Wattn"):
        CaptioningRNN.from_params(WORD_TO_IDX, model.params, cell_type="lstm")
    bad = dict(model.params, Wattn=model.params["Wattn"][:, :-1])
    with pytest.raises(ValueError, match=r"params\['Wattn'\] must have shape"):
        CaptioningRNN.from_params(WORD_TO_IDX, bad, cell_type="attention")


def test_feature_shape_errors_name_what_each_cell_needs():
    model = make_model()
    features, captions = make_inputs()
    for bad in (features[:, :, 0, 0], features[:, :2], features[:, :, :, :1], features[None]):
        with pytest.raises(ValueError, match=r"features must have shape \(N, C, G, G\).*"
                                             r"'attention'.*\(N, D\)"):
            model.loss(bad, captions)
        with pytest.raises(ValueError, match=r"\(N, C, G, G\)"):
            model.sample(bad)
    np.random.seed(0)
    lstm = CaptioningRNN(WORD_TO_IDX, input_dim=3, wordvec_dim=4, hidden_dim=5, cell_type="lstm")
    with pytest.raises(ValueError, match=r"features must have shape \(N, D\).*'lstm'.*"
                                         r"\(N, C, G, G\) needs cell_type 'attention'"):
        lstm.loss(features, captions)
    with pytest.raises(ValueError, match="return_attention needs cell_type 'attention'"):
        lstm.sample(features[:, :, 0, 0], return_attention=True)
    with pytest.raises(ValueError, match="return_attention works with greedy decoding only"):
        model.sample(features, beam_size=2, return_attention=True)
    with pytest.raises(ValueError, match="cell_type must be one of 'rnn', 'lstm', 'gru', "
                                         "'attention'"):
        CaptioningRNN(WORD_TO_IDX, cell_type="transformer")


# ------------------------------------------------------------------- the fast kernel
# CaptioningRNN(fast=True) runs rnncap/kernels/attention.py for the attention model's loss; it
# must equal the readable path (fast=False) that the tests above check.

def both_paths(model, features, captions):
    model.fast = True
    fast = model.loss(features, captions)
    model.fast = False
    readable = model.loss(features, captions)
    return fast, readable


@pytest.mark.parametrize("N,T,G,H", [(3, 5, 2, 5), (1, 1, 1, 3), (2, 1, 3, 4), (1, 6, 2, 1),
                                     (4, 3, 4, 2)])
def test_fast_and_readable_loss_agree_float64(N, T, G, H):
    model = make_model(H=H)
    features, captions = make_inputs(N=N, G=G, T=T, seed=N + T + G)
    (loss, grads), (want_loss, want_grads) = both_paths(model, features, captions)
    assert rel_err(loss, want_loss) <= 1e-10
    assert sorted(grads) == sorted(want_grads)
    for name in want_grads:
        assert grads[name].shape == want_grads[name].shape and grads[name].dtype == np.float64
        assert rel_err(grads[name], want_grads[name]) <= 1e-10, name


def test_fast_loss_with_many_repeated_words_and_padded_rows():
    # 40 captions over an 8-word vocabulary: the kernel's per-word input products take over.
    model = make_model()
    features, captions = make_inputs(N=40, T=7, seed=3)
    captions[5, 1:] = NULL  # a fully padded caption
    (loss, grads), (want_loss, want_grads) = both_paths(model, features, captions)
    assert rel_err(loss, want_loss) <= 1e-10
    for name in want_grads:
        assert rel_err(grads[name], want_grads[name]) <= 1e-10, name


def test_fast_loss_float32_stays_float32_and_close():
    model = make_model(dtype=np.float32)
    features, captions = make_inputs(N=6, G=3, seed=4)
    (loss, grads), (want_loss, want_grads) = both_paths(model, features, captions)
    assert loss.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    assert rel_err(loss, want_loss) < 1e-5
    for name in want_grads:
        assert rel_err(grads[name], want_grads[name]) < 1e-5, name


@pytest.mark.filterwarnings("ignore:overflow encountered", "ignore:invalid value encountered")
@pytest.mark.parametrize("name", ["W_proj", "W_embed", "Wattn"])
def test_both_paths_give_nan_for_non_finite_parameters(name):
    model = make_model()
    features, captions = make_inputs()
    model.params[name][...] = np.inf
    for fast in (True, False):
        model.fast = fast
        loss, grads = model.loss(features, captions)
        assert np.isnan(loss) and all(np.isnan(g).all() for g in grads.values()), fast


def test_fast_model_samples_the_same_captions():
    model = make_model()
    features = np.random.default_rng(9).normal(size=(8, 3, 2, 2))
    model.fast = True
    fast = model.sample(features, max_length=6, return_attention=True)
    model.fast = False
    readable = model.sample(features, max_length=6, return_attention=True)
    np.testing.assert_array_equal(fast[0], readable[0])
    np.testing.assert_array_equal(fast[1], readable[1])
