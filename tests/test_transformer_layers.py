"""Tests for rnncap.transformer_layers: forward values, gradients, dtypes, dropout and errors.

Expected forward values never come from the code under test: they are recomputed here with loops
over images, heads and positions (and math.erf), or are PyTorch's outputs stored in
tests/fixtures/transformer/. Gradients are centred differences in float64
(rnncap.gradient_check). Relative errors are per array: max|a - b| / max(|a| + |b|).
"""
import math
from pathlib import Path

import numpy as np
import pytest

from rnncap import transformer_layers as L
from rnncap.gradient_check import eval_numerical_gradient_array

GRAD_TOL = 1e-7
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "transformer" / "cs231n.npz"


# --------------------------------------------------------------------------------------- helpers

def rel_err(a, b):
    """max|a - b| / max(1e-8, max(|a| + |b|)): one scale per array."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-8, float(np.max(np.abs(a) + np.abs(b)))))


def numeric(f, x, dout):
    """Centred-difference gradient of sum(f() * dout) with respect to x (perturbed in place)."""
    return eval_numerical_gradient_array(lambda _: f(), x, dout)


def attention_params(rng, E, scale=0.5):
    return {k: scale * rng.standard_normal((E, E) if k.startswith("W") else E)
            for k in L.ATTENTION_KEYS}


def layer_params(rng, E, F, scale=0.5):
    p = {}
    for name in L.DECODER_LAYER_KEYS:
        kind = name.split(".")[-1]
        shape = {"W1": (E, F), "b1": (F,), "W2": (F, E), "b2": (E,)}.get(
            kind, (E, E) if kind.startswith("W") else (E,))
        p[name] = scale * rng.standard_normal(shape) + (1.0 if kind == "gamma" else 0.0)
    return p


def ref_erf(x):
    return np.vectorize(math.erf)(x)


def ref_act(name, x):
    return np.maximum(x, 0) if name == "relu" else x * 0.5 * (1 + ref_erf(x / math.sqrt(2)))


def ref_layernorm(x, gamma, beta, eps=1e-5):
    out = np.empty_like(x)
    for idx in np.ndindex(*x.shape[:-1]):
        row = x[idx]
        mu = sum(row) / len(row)
        var = sum((r - mu) ** 2 for r in row) / len(row)
        out[idx] = gamma * (row - mu) / math.sqrt(var + eps) + beta
    return out


def ref_attention(query, key, value, p, H, mask=None):
    """Multi-head attention with explicit loops over images, heads, queries and keys."""
    N, S, E = query.shape
    T = key.shape[1]
    Dh = E // H
    q, k, v = query @ p["Wq"] + p["bq"], key @ p["Wk"] + p["bk"], value @ p["Wv"] + p["bv"]
    heads = np.zeros((N, S, E))
    for n in range(N):
        for h in range(H):
            c = slice(h * Dh, (h + 1) * Dh)
            for i in range(S):
                keys = [j for j in range(T) if mask is None or mask[i, j]]
                s = np.array([q[n, i, c] @ k[n, j, c] / math.sqrt(Dh) for j in keys])
                w = np.exp(s - s.max())
                w /= w.sum()
                heads[n, i, c] = sum(wj * v[n, j, c] for wj, j in zip(w, keys))
    return heads @ p["Wo"] + p["bo"]


def ref_decoder_layer(tgt, memory, p, H, mask, activation):
    sub = lambda pre: {k: p[pre + k] for k in L.ATTENTION_KEYS}  # noqa: E731
    x = ref_layernorm(tgt + ref_attention(tgt, tgt, tgt, sub("self_attn."), H, mask),
                      p["norm1.gamma"], p["norm1.beta"])
    x = ref_layernorm(x + ref_attention(x, memory, memory, sub("cross_attn."), H),
                      p["norm2.gamma"], p["norm2.beta"])
    ff = ref_act(activation, x @ p["ffn.W1"] + p["ffn.b1"]) @ p["ffn.W2"] + p["ffn.b2"]
    return ref_layernorm(x + ff, p["norm3.gamma"], p["norm3.beta"])


def causal(T):
    return np.tril(np.ones((T, T), dtype=bool))


# --------------------------------------------------------------------------------------- erf, activations

def test_erf_is_accurate_to_1e_12_over_a_wide_grid():
    x = np.concatenate([np.linspace(-8, 8, 160001), np.linspace(-40, 40, 8001),
                        [0.0, -0.0, 1e-300, -1e-300, 2.0, -2.0, np.nextafter(2.0, 0), 1e-8]])
    err = np.abs(L.erf(x) - ref_erf(x))
    assert err.max() < 1e-12
    assert L.erf(np.array([np.inf, -np.inf])).tolist() == [1.0, -1.0]
    np.testing.assert_array_equal(L.erf(-x), -L.erf(x))  # odd, exactly


def test_erf_keeps_float32():
    x = np.linspace(-5, 5, 1001).astype(np.float32)
    out = L.erf(x)
    assert out.dtype == np.float32
    assert np.abs(out - ref_erf(x.astype(np.float64))).max() < 1e-6


@pytest.mark.parametrize("name", ["relu", "gelu"])
def test_activation_values_and_gradients(name, rng):
    forward, backward = getattr(L, name + "_forward"), getattr(L, name + "_backward")
    x = rng.standard_normal((3, 4, 5)) * 2
    x[np.abs(x) < 1e-3] = 0.5  # no ReLU kink within a difference step
    out, cache = forward(x)
    assert rel_err(out, ref_act(name, x)) < 1e-14
    dout = rng.standard_normal(x.shape)
    dx = backward(dout, cache)
    assert rel_err(dx, numeric(lambda: forward(x)[0], x, dout)) < GRAD_TOL


def test_gelu_matches_its_definition_far_out(rng):
    x = np.array([-40.0, -12.0, -6.0, -3.0, 3.0, 6.0, 12.0, 40.0])
    out, _ = L.gelu_forward(x)
    np.testing.assert_allclose(out, x * 0.5 * (1 + ref_erf(x / math.sqrt(2))), rtol=0, atol=1e-12)
    assert out.dtype == np.float64
    out32, _ = L.gelu_forward(x.astype(np.float32))
    assert out32.dtype == np.float32


# --------------------------------------------------------------------------------------- dropout

def test_dropout_zero_is_the_identity_and_draws_nothing(rng):
    x = rng.standard_normal((4, 5))
    state = rng.bit_generator.state
    out, cache = L.dropout_forward(x, 0.0, rng)
    assert out is x and rng.bit_generator.state == state
    dout = rng.standard_normal(x.shape)
    assert L.dropout_backward(dout, cache) is dout
    assert L.dropout_forward(x, 0.0, None)[0] is x


def test_dropout_drops_and_rescales(rng):
    x = np.ones((400, 500), dtype=np.float32)
    out, cache = L.dropout_forward(x, 0.25, rng)
    assert out.dtype == np.float32
    assert set(np.unique(out).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert abs(np.mean(out == 0) - 0.25) < 0.01
    # the same Generator state gives the same mask
    a = L.dropout_forward(x, 0.25, np.random.default_rng(5))[0]
    b = L.dropout_forward(x, 0.25, np.random.default_rng(5))[0]
    np.testing.assert_array_equal(a, b)
    dout = np.full(x.shape, 2.0, dtype=np.float32)
    np.testing.assert_array_equal(L.dropout_backward(dout, cache), 2 * out)


def test_dropout_gradient(rng):
    x = rng.standard_normal((3, 7))
    f = lambda: L.dropout_forward(x, 0.4, np.random.default_rng(1))[0]  # noqa: E731
    _, cache = L.dropout_forward(x, 0.4, np.random.default_rng(1))
    dout = rng.standard_normal(x.shape)
    assert rel_err(L.dropout_backward(dout, cache), numeric(f, x, dout)) < GRAD_TOL


@pytest.mark.parametrize("p, rng_arg, match", [
    (1.0, np.random.default_rng(0), "dropout must be a probability"),
    (-0.1, np.random.default_rng(0), "dropout must be a probability"),
    (0.1, None, "needs rng, a np.random.Generator"),
    (0.1, np.random.RandomState(0), "needs rng, a np.random.Generator"),
])
def test_dropout_errors(p, rng_arg, match):
    with pytest.raises(ValueError, match=match):
        L.dropout_forward(np.ones(3), p, rng_arg)


# --------------------------------------------------------------------------------------- layer norm

@pytest.mark.parametrize("shape", [(1, 5), (2, 3, 4), (3, 1, 1, 6)])
def test_layernorm_values_and_gradients(shape, rng):
    x = rng.standard_normal(shape) * 3 + 1
    D = shape[-1]
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    out, cache = L.layernorm_forward(x, gamma, beta)
    assert rel_err(out, ref_layernorm(x, gamma, beta)) < 1e-13
    dout = rng.standard_normal(shape)
    dx, dgamma, dbeta = L.layernorm_backward(dout, cache)
    f = lambda: L.layernorm_forward(x, gamma, beta)[0]  # noqa: E731
    for name, a, v in (("x", x, dx), ("gamma", gamma, dgamma), ("beta", beta, dbeta)):
        assert rel_err(v, numeric(f, a, dout)) < GRAD_TOL, name


def test_layernorm_eps_and_dtype():
    x = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 2.0, 0.0, 2.0]], dtype=np.float32)
    out, _ = L.layernorm_forward(x, np.ones(4, np.float32), np.zeros(4, np.float32), eps=1e-5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0], np.zeros(4))  # a constant row: 0 / sqrt(eps)
    np.testing.assert_allclose(out[1], [-1, 1, -1, 1], atol=1e-5)  # biased variance 1
    with pytest.raises(ValueError, match="gamma must have shape"):
        L.layernorm_forward(x, np.ones(3, np.float32), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="arrays must share one float dtype"):
        L.layernorm_forward(x, np.ones(4), np.zeros(4))
    with pytest.raises(ValueError, match="eps must be a positive number"):
        L.layernorm_forward(x, np.ones(4, np.float32), np.zeros(4, np.float32), eps=0)


# --------------------------------------------------------------------------------------- positions

@pytest.mark.parametrize("max_len, E", [(1, 1), (7, 6), (5, 9), (50, 256)])
def test_positional_encoding_formula(max_len, E):
    P = L.positional_encoding(max_len, E)
    assert P.shape == (max_len, E)
    expected = np.zeros((max_len, E))
    for t in range(max_len):
        for j in range(E):
            i2 = j - j % 2  # the exponent 2i shared by columns 2i and 2i + 1
            angle = t * 10000.0 ** (-i2 / E)
            expected[t, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    assert np.abs(P - expected).max() < 1e-12


@pytest.mark.parametrize("args", [(0, 4), (3, 0), (2.5, 4), (True, 4)])
def test_positional_encoding_errors(args):
    with pytest.raises(ValueError, match="must be a positive integer"):
        L.positional_encoding(*args)


# --------------------------------------------------------------------------------------- attention

ATTN_CASES = [  # (N, S, T, E, H, masked)
    (2, 3, 3, 6, 2, False),
    (2, 4, 4, 6, 3, True),   # masked self-attention shapes
    (1, 2, 5, 4, 2, False),  # cross-attention: S != T, N = 1
    (3, 1, 1, 4, 4, False),  # one query, one key, heads of size 1
    (2, 3, 2, 5, 1, True),   # a single head, a mask on cross-attention
]


def make_mask(rng, S, T):
    mask = rng.random((S, T)) < 0.5
    mask[np.arange(S), rng.integers(0, T, size=S)] = True  # every query keeps a key
    return mask


@pytest.mark.parametrize("N, S, T, E, H, masked", ATTN_CASES)
def test_attention_matches_loops_and_numeric_gradients(N, S, T, E, H, masked, rng):
    query, key, value = (rng.standard_normal((N, L_, E)) for L_ in (S, T, T))
    p = attention_params(rng, E)
    mask = make_mask(rng, S, T) if masked else None
    out, cache = L.multihead_attention_forward(query, key, value, p, H, mask)
    assert out.shape == (N, S, E)
    assert rel_err(out, ref_attention(query, key, value, p, H, mask)) < 1e-13
    dout = rng.standard_normal(out.shape)
    dquery, dkey, dvalue, dp = L.multihead_attention_backward(dout, cache)
    assert list(dp) == list(L.ATTENTION_KEYS)
    f = lambda: L.multihead_attention_forward(query, key, value, p, H, mask)[0]  # noqa: E731
    for name, a, g in (("query", query, dquery), ("key", key, dkey), ("value", value, dvalue)):
        assert rel_err(g, numeric(f, a, dout)) < GRAD_TOL, name
    for name in L.ATTENTION_KEYS:
        num = numeric(f, p[name], dout)
        if name == "bk":
            # softmax ignores a constant added to every score of a row: the key bias's gradient
            # is exactly zero, and both sides hold only rounding noise
            assert np.abs(dp[name]).max() < 1e-12 and np.abs(num).max() < 1e-9
        else:
            assert rel_err(dp[name], num) < GRAD_TOL, name


def test_self_attention_gradient_adds_the_three_inputs(rng):
    N, T, E, H = 2, 4, 6, 2
    x = rng.standard_normal((N, T, E))
    p = attention_params(rng, E)
    out, cache = L.multihead_attention_forward(x, x, x, p, H, causal(T))
    dout = rng.standard_normal(out.shape)
    dq, dk, dv, _ = L.multihead_attention_backward(dout, cache)
    f = lambda: L.multihead_attention_forward(x, x, x, p, H, causal(T))[0]  # noqa: E731
    assert rel_err(dq + dk + dv, numeric(f, x, dout)) < GRAD_TOL


def test_attention_mask_blocks_keys_and_accepts_0_1(rng):
    N, T, E, H = 1, 4, 4, 2
    x = rng.standard_normal((N, T, E))
    p = attention_params(rng, E)
    out_bool, _ = L.multihead_attention_forward(x, x, x, p, H, causal(T))
    out_int, _ = L.multihead_attention_forward(x, x, x, p, H, causal(T).astype(int))
    out_float, _ = L.multihead_attention_forward(x, x, x, p, H, causal(T).astype(float))
    np.testing.assert_array_equal(out_bool, out_int)
    np.testing.assert_array_equal(out_bool, out_float)
    # a blocked key has no influence: changing the last word changes no earlier output
    y = x.copy()
    y[0, -1] += 10
    out_y, _ = L.multihead_attention_forward(y, y, y, p, H, causal(T))
    np.testing.assert_array_equal(out_y[0, :-1], out_bool[0, :-1])
    assert not np.allclose(out_y[0, -1], out_bool[0, -1])


def test_attention_float32(rng):
    N, S, T, E, H = 2, 3, 4, 8, 2
    query, key, value = (rng.standard_normal((N, L_, E)) for L_ in (S, T, T))
    p = attention_params(rng, E)
    out64, _ = L.multihead_attention_forward(query, key, value, p, H)
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    out32, cache = L.multihead_attention_forward(f32(query), f32(key), f32(value),
                                                 {k: f32(v) for k, v in p.items()}, H)
    assert out32.dtype == np.float32 and rel_err(out32, out64) < 1e-5
    grads = L.multihead_attention_backward(np.ones_like(out32), cache)
    assert all(g.dtype == np.float32 for g in grads[:3] + tuple(grads[3].values()))


def test_attention_errors(rng):
    x = rng.standard_normal((2, 3, 6))
    p = attention_params(rng, 6)
    with pytest.raises(ValueError, match="num_heads must divide the embedding size E = 6, got "
                                         "num_heads = 4"):
        L.multihead_attention_forward(x, x, x, p, 4)
    with pytest.raises(ValueError, match="num_heads must be a positive integer"):
        L.multihead_attention_forward(x, x, x, p, 0)
    with pytest.raises(ValueError, match="key must have shape"):
        L.multihead_attention_forward(x, x[:, :, :4], x, p, 2)
    with pytest.raises(ValueError, match="value must have shape"):
        L.multihead_attention_forward(x, x, x[:, :2], p, 2)
    with pytest.raises(ValueError, match="query must have shape"):
        L.multihead_attention_forward(x[0], x, x, p, 2)
    with pytest.raises(ValueError, match=r"params is missing \['Wo'\]"):
        L.multihead_attention_forward(x, x, x, {k: v for k, v in p.items() if k != "Wo"}, 2)
    with pytest.raises(ValueError, match=r"params\['Wq'\] must have shape"):
        L.multihead_attention_forward(x, x, x, dict(p, Wq=np.ones((6, 5))), 2)
    with pytest.raises(ValueError, match="arrays must share one float dtype"):
        L.multihead_attention_forward(x.astype(np.float32), x, x, p, 2)
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(S, T\) = \(3, 3\)"):
        L.multihead_attention_forward(x, x, x, p, 2, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"blocks every key for query row\(s\) \[1\]"):
        L.multihead_attention_forward(x, x, x, p, 2, np.array([[1, 0, 0], [0, 0, 0], [1, 1, 1]]))
    with pytest.raises(ValueError, match="query contains NaN or inf"):
        L.multihead_attention_forward(np.full_like(x, np.nan), x, x, p, 2)
    with pytest.raises(ValueError, match="query must be a floating-point array"):
        L.multihead_attention_forward(x.astype(int), x, x, p, 2)


# --------------------------------------------------------------------------------------- decoder layer

LAYER_CASES = [  # (N, T, S, E, H, F, activation, masked)
    (2, 3, 1, 6, 2, 5, "relu", True),   # vector memory, causal mask
    (2, 3, 4, 6, 3, 4, "gelu", True),   # grid memory
    (1, 1, 1, 4, 2, 3, "relu", True),   # N = 1, T = 1
    (2, 4, 2, 4, 1, 6, "gelu", False),  # no mask, one head
]


@pytest.mark.parametrize("N, T, S, E, H, F, activation, masked", LAYER_CASES)
def test_decoder_layer_matches_reference_and_numeric_gradients(N, T, S, E, H, F, activation,
                                                               masked, rng):
    tgt, memory = rng.standard_normal((N, T, E)), rng.standard_normal((N, S, E))
    p = layer_params(rng, E, F)
    mask = causal(T) if masked else None
    out, cache = L.transformer_decoder_layer_forward(tgt, memory, p, H, mask, activation)
    assert rel_err(out, ref_decoder_layer(tgt, memory, p, H, mask, activation)) < 1e-13
    dout = rng.standard_normal(out.shape)
    dtgt, dmemory, dp = L.transformer_decoder_layer_backward(dout, cache)
    assert list(dp) == list(L.DECODER_LAYER_KEYS)
    f = lambda: L.transformer_decoder_layer_forward(tgt, memory, p, H, mask, activation)[0]  # noqa
    for name, a, g in [("tgt", tgt, dtgt), ("memory", memory, dmemory)] + \
            [(k, p[k], dp[k]) for k in L.DECODER_LAYER_KEYS]:
        num = numeric(f, a, dout)
        if name.endswith("attn.bk") or (S == 1 and name.split(".")[-1] in ("Wq", "bq", "Wk")
                                        and name.startswith("cross_attn")):
            # exactly zero: a key bias never changes a softmax, and with one memory vector
            # the cross-attention weight is 1 whatever the query and key
            assert np.abs(g).max() < 1e-12 and np.abs(num).max() < 1e-9, name
        else:
            assert rel_err(g, num) < GRAD_TOL, name


def test_decoder_layer_dropout_gradient(rng):
    N, T, S, E, H, F = 2, 3, 2, 4, 2, 5
    tgt, memory = rng.standard_normal((N, T, E)), rng.standard_normal((N, S, E))
    p = layer_params(rng, E, F)

    def f():  # the same Generator state each call: the same units dropped
        return L.transformer_decoder_layer_forward(tgt, memory, p, H, causal(T), "gelu",
                                                   0.3, np.random.default_rng(7))[0]

    out, cache = L.transformer_decoder_layer_forward(tgt, memory, p, H, causal(T), "gelu",
                                                     0.3, np.random.default_rng(7))
    no_drop, _ = L.transformer_decoder_layer_forward(tgt, memory, p, H, causal(T), "gelu")
    assert not np.allclose(out, no_drop)
    dout = rng.standard_normal(out.shape)
    dtgt, dmemory, dp = L.transformer_decoder_layer_backward(dout, cache)
    assert rel_err(dtgt, numeric(f, tgt, dout)) < GRAD_TOL
    assert rel_err(dmemory, numeric(f, memory, dout)) < GRAD_TOL
    for name in ("self_attn.Wv", "cross_attn.Wq", "ffn.W1", "ffn.b2", "norm2.gamma"):
        assert rel_err(dp[name], numeric(f, p[name], dout)) < GRAD_TOL, name


def test_decoder_layer_dropout_zero_draws_nothing(rng):
    tgt, memory = rng.standard_normal((1, 2, 4)), rng.standard_normal((1, 1, 4))
    gen = np.random.default_rng(3)
    state = gen.bit_generator.state
    L.transformer_decoder_layer_forward(tgt, memory, layer_params(rng, 4, 3), 2, causal(2),
                                        dropout=0.0, rng=gen)
    assert gen.bit_generator.state == state


def test_decoder_layer_errors(rng):
    tgt, memory = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 1, 4))
    p = layer_params(rng, 4, 5)
    with pytest.raises(ValueError, match="activation must be 'relu' or 'gelu', got 'tanh'"):
        L.transformer_decoder_layer_forward(tgt, memory, p, 2, activation="tanh")
    with pytest.raises(ValueError, match=r"tgt_mask must have shape \(T, T\) = \(3, 3\)"):
        L.transformer_decoder_layer_forward(tgt, memory, p, 2, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"params is missing \['norm3.beta'\]"):
        L.transformer_decoder_layer_forward(
            tgt, memory, {k: v for k, v in p.items() if k != "norm3.beta"}, 2)
    with pytest.raises(ValueError, match=r"params\['ffn.W2'\] must have shape \(5, 4\)"):
        L.transformer_decoder_layer_forward(tgt, memory, dict(p, **{"ffn.W2": np.ones((4, 5))}), 2)
    with pytest.raises(ValueError, match=r"params\['norm1.gamma'\] must have tgt's dtype"):
        L.transformer_decoder_layer_forward(
            tgt, memory, dict(p, **{"norm1.gamma": np.ones(4, np.float32)}), 2)
    with pytest.raises(ValueError, match="memory must have shape"):
        L.transformer_decoder_layer_forward(tgt, memory[:1], p, 2)
    with pytest.raises(ValueError, match="num_heads must divide the embedding size"):
        L.transformer_decoder_layer_forward(tgt, memory, p, 3)


# --------------------------------------------------------------------------------------- published values

@pytest.fixture(scope="module")
def published():
    if not FIXTURES.is_file():
        pytest.fail("missing %s: run tests/fixtures/transformer/make_fixtures.py" % FIXTURES)
    with np.load(FIXTURES) as f:
        return dict(f)


def fixture_params(data, prefix, keys):
    return {k: data[prefix + k] for k in keys}


def test_published_multihead_attention(published):
    d = published
    p = fixture_params(d, "mha.", L.ATTENTION_KEYS)
    x, other, mask = d["mha.data"], d["mha.other_data"], d["mha.mask"]
    for inputs, m, name in (((x, x, x), None, "self"), ((x, x, x), mask, "masked_self"),
                            ((x, other, other), None, "cross")):
        out, _ = L.multihead_attention_forward(*inputs, p, 2, m)
        assert rel_err(out, d["mha.%s_out" % name]) < 1e-6, name


def test_published_positional_encoding(published):
    d = published
    P = L.positional_encoding(d["pe.data"].shape[1], d["pe.data"].shape[2])
    assert rel_err(d["pe.data"] + P, d["pe.out"]) < 1e-6
    table = d["pe.table"]
    assert rel_err(L.positional_encoding(*table.shape), table) < 1e-6


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_published_decoder_layer(published, activation):
    d = published
    pre = "decoder_%s." % activation
    p = fixture_params(d, pre, L.DECODER_LAYER_KEYS)
    out, _ = L.transformer_decoder_layer_forward(d[pre + "tgt"], d[pre + "memory"], p, 2,
                                                 d[pre + "tgt_mask"], activation)
    assert rel_err(out, d[pre + "out"]) < 1e-6
