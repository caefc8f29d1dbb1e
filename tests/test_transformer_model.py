"""CaptioningTransformer: construction and draw order, the loss (independent loops, PyTorch's
values, numeric gradients), greedy sampling (readable and fast), grid features, dropout, errors,
training with CaptioningSolver and the CS231n overfit protocol on the built-in data."""
import math
from pathlib import Path

import numpy as np
import pytest

from rnncap import CaptioningSolver, CaptioningTransformer
from rnncap.classifiers import transformer as transformer_module
from rnncap.gradient_check import eval_numerical_gradient
from rnncap.transformer_layers import ATTENTION_KEYS, DECODER_LAYER_KEYS

VOCAB = ["<NULL>", "<START>", "<END>", "a", "b", "c", "d", "e"]
WORD_TO_IDX = {w: i for i, w in enumerate(VOCAB)}
NULL, START, END = 0, 1, 2
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "transformer" / "cs231n.npz"


# ----------------------------------------------------------------------------- reference math

def ref_erf(x):
    return np.vectorize(math.erf)(x)


def ref_layernorm(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def ref_attention(query, key, value, p, H, causal=False):
    """One image: query (S, E), key and value (T, E); loops over heads and queries."""
    S, E = query.shape
    Dh = E // H
    q, k, v = query @ p["Wq"] + p["bq"], key @ p["Wk"] + p["bk"], value @ p["Wv"] + p["bv"]
    heads = np.zeros((S, E))
    for h in range(H):
        c = slice(h * Dh, (h + 1) * Dh)
        for i in range(S):
            n_keys = i + 1 if causal else key.shape[0]
            s = np.array([q[i, c] @ k[j, c] for j in range(n_keys)]) / math.sqrt(Dh)
            w = np.exp(s - s.max())
            heads[i, c] = (w / w.sum()) @ v[:n_keys, c]
    return heads @ p["Wo"] + p["bo"]


def ref_decoder(params, L, H, activation, memory, words):
    """The decoder's output (T, W) for one image's memory (S, W) and input words (T,)."""
    T = len(words)
    W = params["W_embed"].shape[1]
    x = params["W_embed"][words].copy()
    for t in range(T):
        for j in range(W):
            angle = t * 10000.0 ** (-(j - j % 2) / W)
            x[t, j] += math.sin(angle) if j % 2 == 0 else math.cos(angle)
    for l in range(L):
        p = {k: params["layers.%d.%s" % (l, k)] for k in DECODER_LAYER_KEYS}
        sub = lambda pre: {k: p[pre + k] for k in ATTENTION_KEYS}  # noqa: E731
        x = ref_layernorm(x + ref_attention(x, x, x, sub("self_attn."), H, causal=True),
                          p["norm1.gamma"], p["norm1.beta"])
        x = ref_layernorm(x + ref_attention(x, memory, memory, sub("cross_attn."), H),
                          p["norm2.gamma"], p["norm2.beta"])
        a = x @ p["ffn.W1"] + p["ffn.b1"]
        a = np.maximum(a, 0) if activation == "relu" else a * 0.5 * (1 + ref_erf(a / math.sqrt(2)))
        x = ref_layernorm(x + a @ p["ffn.W2"] + p["ffn.b2"], p["norm3.gamma"], p["norm3.beta"])
    return x


def ref_memory(params, feature):
    """One image's memory: (1, W) for a vector, (G*G, W) for a grid (row-major locations)."""
    if feature.ndim == 1:
        return (feature @ params["W_proj"] + params["b_proj"])[None]
    C = feature.shape[0]
    locations = np.array([feature[:, i, j] for i in range(feature.shape[1])
                          for j in range(feature.shape[2])])
    assert locations.shape[1] == C
    return locations @ params["W_proj"] + params["b_proj"] + params["W_pos"]


def ref_loss(model, features, captions):
    """Cross-entropy at non-<NULL> targets, summed over images and positions, / (N * T)."""
    p = model.params
    N, T1 = captions.shape
    total = 0.0
    for n in range(N):
        x = ref_decoder(p, model.num_layers, model.num_heads, model.activation,
                        ref_memory(p, features[n]), captions[n, :-1])
        for t in range(T1 - 1):
            target = captions[n, t + 1]
            if target == NULL:
                continue
            scores = x[t] @ p["W_vocab"] + p["b_vocab"]
            m = scores.max()
            total += m + math.log(np.sum(np.exp(scores - m))) - scores[target]
    return total / (N * (T1 - 1))


def ref_greedy(model, features, max_length):
    """CS231n's greedy loop on the reference decoder, then <NULL> after each row's <END>."""
    p = model.params
    out = np.full((len(features), max_length), NULL)
    for n in range(len(features)):
        memory = ref_memory(p, features[n])
        words = [START]
        for t in range(max_length):
            x = ref_decoder(p, model.num_layers, model.num_heads, model.activation, memory, words)
            word = int(np.argmax(x[-1] @ p["W_vocab"] + p["b_vocab"]))
            out[n, t] = word
            if word == END:
                break
            words.append(word)
    return out


# ----------------------------------------------------------------------------- models and inputs

def make_model(W=6, H=3, L=2, F=4, D=5, grid=None, activation="relu", dtype=np.float64,
               max_length=8, scale=0.5, qk_scale=0.3, seed=0, fast=False, **kwargs):
    """A model whose weights are large enough that every gradient is well above the rounding
    noise of a centred difference (queries and keys smaller, so that attention stays soft)."""
    np.random.seed(seed)
    model = CaptioningTransformer(WORD_TO_IDX, input_dim=D, wordvec_dim=W, num_heads=H,
                                  num_layers=L, max_length=max_length, dim_feedforward=F,
                                  activation=activation, dtype=dtype, grid_size=grid,
                                  fast=fast, **kwargs)
    rng = np.random.default_rng(seed + 1)
    for name, value in model.params.items():
        s = qk_scale if name.endswith(("Wq", "Wk")) else scale
        model.params[name] = (s * rng.standard_normal(value.shape)
                              + (1.0 if name.endswith("gamma") else 0.0)).astype(dtype)
    return model


def make_inputs(N=2, D=5, T=5, grid=None, seed=2):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((N, D) if grid is None else (N, D, grid, grid))
    captions = rng.integers(3, len(VOCAB), size=(N, T + 1))
    captions[:, 0] = START
    if T >= 3:
        captions[0, 3:] = NULL  # padding: masked out of the loss, still read as input words
        captions[0, 3] = END
    return features, captions


def check_gradients(model, features, captions):
    """Every parameter's gradient against centred differences (float64).

    The error is relative to each gradient's size: max|a - n| / max(|a| + |n|) < 1e-7. The
    parameters whose gradient is exactly zero must be zero on both sides, up to the centred
    difference's rounding noise: every attention's key bias (softmax ignores a constant added
    to all of a row's scores), and the query and key weights of an attention over a single key
    (its weight is 1): cross-attention to one memory vector, self-attention when T = 1."""
    loss, grads = model.loss(features, captions)
    assert list(grads) == list(model.params)
    single = {"cross_attn": model.grid_size is None, "self_attn": captions.shape[1] == 2}
    for name in model.params:
        f = lambda _: model.loss(features, captions)[0]  # noqa: E731
        num = eval_numerical_gradient(f, model.params[name], verbose=False)
        a = grads[name]
        assert a.shape == model.params[name].shape and a.dtype == model.params[name].dtype
        kind = name.split(".", 2)[-1]
        attn, _, k = kind.partition(".")
        if k == "bk" or (single.get(attn) and k in ("Wq", "bq", "Wk")):
            assert np.abs(a).max() < 1e-13 and np.abs(num).max() < 1e-9, name
            continue
        err = np.abs(a - num).max() / np.max(np.abs(a) + np.abs(num))
        assert err < 1e-7, (name, err)
    return loss, grads


# ----------------------------------------------------------------------------- construction

@pytest.mark.parametrize("grid", [None, 3])
def test_parameters_order_shapes_and_draws(grid):
    V, D, W, F, L = len(VOCAB), 7, 6, 5, 2
    np.random.seed(231)
    model = CaptioningTransformer(WORD_TO_IDX, input_dim=D, wordvec_dim=W, num_heads=2,
                                  num_layers=L, dim_feedforward=F, grid_size=grid)
    np.random.seed(231)
    draw = lambda *shape: np.random.normal(0, 0.02, shape)  # noqa: E731
    expected = {"W_embed": draw(V, W), "W_proj": draw(D, W), "b_proj": np.zeros(W)}
    if grid:
        expected["W_pos"] = draw(grid * grid, W)
    for l in range(L):
        for attn in ("self_attn", "cross_attn"):
            for k in ATTENTION_KEYS:
                expected["layers.%d.%s.%s" % (l, attn, k)] = draw(W, W) if k[0] == "W" \
                    else np.zeros(W)
        for i in (1, 2, 3):
            expected["layers.%d.norm%d.gamma" % (l, i)] = np.ones(W)
            expected["layers.%d.norm%d.beta" % (l, i)] = np.zeros(W)
        expected["layers.%d.ffn.W1" % l], expected["layers.%d.ffn.b1" % l] = draw(W, F), np.zeros(F)
        expected["layers.%d.ffn.W2" % l], expected["layers.%d.ffn.b2" % l] = draw(F, W), np.zeros(W)
    expected["W_vocab"], expected["b_vocab"] = draw(W, V), np.zeros(V)
    assert list(model.params) == list(expected)  # the listed order is the draw order
    for name, value in expected.items():
        assert model.params[name].dtype == np.float32, name
        np.testing.assert_array_equal(model.params[name], value.astype(np.float32), name)
    assert (model.vocab_size, model.input_dim, model.wordvec_dim) == (V, D, W)
    assert (model.num_layers, model.dim_feedforward, model.grid_size) == (L, F, grid)
    assert (model.num_heads, model.max_length, model.activation) == (2, 50, "relu")
    assert (model._null, model._start, model._end) == (NULL, START, END)


def test_from_params_draws_nothing_and_copies():
    model = make_model(grid=2, activation="gelu")
    state = np.random.get_state()
    clone = CaptioningTransformer.from_params(WORD_TO_IDX, model.params, num_heads=3,
                                              max_length=8, activation="gelu")
    assert np.random.get_state()[1].tolist() == state[1].tolist()
    for k, v in model.params.items():
        np.testing.assert_array_equal(clone.params[k], v)
        assert clone.params[k] is not v
    assert (clone.dtype, clone.grid_size, clone.num_layers, clone.dim_feedforward) == \
        (np.float64, 2, 2, 4)
    features, captions = make_inputs(grid=2)
    assert clone.loss(features, captions)[0] == model.loss(features, captions)[0]
    with pytest.raises(ValueError, match="must have exactly the keys"):
        CaptioningTransformer.from_params(WORD_TO_IDX, dict(model.params, extra=np.ones(2)),
                                          num_heads=3)
    with pytest.raises(ValueError, match="num_heads must divide wordvec_dim = 6"):
        CaptioningTransformer.from_params(WORD_TO_IDX, model.params, num_heads=4)
    bad = dict(model.params)
    bad["layers.1.ffn.W2"] = np.ones((3, 6))
    with pytest.raises(ValueError, match=r"params\['layers.1.ffn.W2'\] must have shape \(4, 6\)"):
        CaptioningTransformer.from_params(WORD_TO_IDX, bad, num_heads=3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_heads=4), "num_heads must divide wordvec_dim = 6, got num_heads = 4"),
    (dict(num_heads=0), "num_heads must be a positive integer"),
    (dict(num_layers=0), "num_layers must be a positive integer"),
    (dict(activation="tanh"), "activation must be 'relu' or 'gelu'"),
    (dict(dtype=np.int32), "dtype must be a numpy floating dtype"),
    (dict(max_length=0), "max_length must be a positive integer"),
    (dict(grid_size=0), "grid_size must be a positive integer"),
    (dict(dropout=1.0), "dropout must be a probability"),
])
def test_construction_errors(kwargs, match):
    args = dict(input_dim=4, wordvec_dim=6, num_heads=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        CaptioningTransformer(WORD_TO_IDX, **args)


def test_vocabulary_errors():
    with pytest.raises(ValueError, match="<NULL>"):
        CaptioningTransformer({"a": 0}, 4, 6, num_heads=2)
    model = CaptioningTransformer({"<NULL>": 0, "cat": 1}, 3, 4, num_heads=2)
    assert model._start is None and model._end is None
    with pytest.raises(ValueError, match="<START>"):
        model.sample(np.zeros((1, 3)))


# ----------------------------------------------------------------------------- the loss

@pytest.mark.parametrize("grid, activation", [(None, "relu"), (2, "gelu")])
def test_loss_matches_the_reference_loops(grid, activation):
    model = make_model(grid=grid, activation=activation)
    features, captions = make_inputs(N=3, grid=grid)
    loss, grads = model.loss(features, captions)
    assert abs(loss - ref_loss(model, features, captions)) < 1e-12
    assert set(grads) == set(model.params)


def test_loss_is_sum_over_words_divided_by_N_times_T():
    """A caption whose every target is <NULL> adds nothing to the sum but counts in N * T."""
    model = make_model()
    features, captions = make_inputs(N=2, T=4)
    loss_one = model.loss(features[:1], captions[:1])[0]
    padded = np.vstack([captions[:1], [START] + [NULL] * 4])
    loss_two = model.loss(features, padded)[0]
    assert abs(loss_two - loss_one / 2) < 1e-14


def test_gradients_vector_features_relu():
    model = make_model()
    check_gradients(model, *make_inputs(T=4))


def test_gradients_grid_features_gelu():
    model = make_model(grid=2, activation="gelu", L=1)
    check_gradients(model, *make_inputs(grid=2))


@pytest.mark.parametrize("N, T", [(1, 4), (2, 1)])
def test_gradients_one_image_and_one_word(N, T):
    model = make_model(L=1)
    check_gradients(model, *make_inputs(N=N, T=T))


def test_null_row_of_the_embedding_gets_no_gradient():
    model = make_model()
    features, captions = make_inputs(N=2, T=5)
    assert (captions[:, :-1] == NULL).any()  # <NULL> is read as an input word
    _, grads = model.loss(features, captions)
    assert not grads["W_embed"][NULL].any()
    # under the causal mask, a word read at position t matters iff a target at t or later is a
    # word (not <NULL>)
    targets = captions[:, 1:] != NULL
    matters = np.flip(np.cumsum(np.flip(targets, 1), 1), 1) > 0
    used = set(captions[:, :-1][matters].tolist()) - {NULL}
    assert used and all(np.abs(grads["W_embed"][w]).max() > 1e-6 for w in used)
    unused = sorted(set(range(len(VOCAB))) - used)
    assert not grads["W_embed"][unused].any()


def test_published_captioning_transformer_check():
    """The CS231n notebook's CaptioningTransformer check (every parameter linspace(-1.4, 1.3)
    in PyTorch's layout, eval mode): our loss equals PyTorch's, and the gradient of b_vocab
    equals the one computed here from PyTorch's scores."""
    with np.load(FIXTURES) as d:
        for activation in ("relu", "gelu"):
            pre = "model_%s." % activation
            features, captions, scores = d[pre + "features"], d[pre + "captions"], d[pre + "scores"]
            word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
            model = CaptioningTransformer(word_to_idx, input_dim=20, wordvec_dim=30,
                                          num_heads=2, num_layers=2, max_length=30,
                                          activation=activation, dtype=np.float64)
            for name, value in model.params.items():
                p = np.linspace(-1.4, 1.3, num=value.size)
                # torch stores a Linear's weight as (out, in), ours as (in, out)
                linear = value.ndim == 2 and name != "W_embed"
                model.params[name] = p.reshape(value.shape[::-1]).T if linear \
                    else p.reshape(value.shape)
            loss, grads = model.loss(features, captions)
            assert abs(loss - d[pre + "loss"]) < 1e-10
            targets = captions[:, 1:]
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            probs[np.arange(4)[:, None], np.arange(3), targets] -= 1
            dscores = probs * (targets != 0)[..., None] / targets.size
            assert np.abs(grads["b_vocab"] - dscores.sum(axis=(0, 1))).max() < 1e-10
            assert d[pre + "captions_in"].tolist() == captions[:, :-1].tolist()


@pytest.mark.parametrize("name, grid, activation", [("small_relu", None, "relu"),
                                                    ("small_grid", 2, "gelu")])
def test_loss_and_gradients_match_pytorch_autograd(name, grid, activation):
    with np.load(FIXTURES) as d:
        params = {k[len(name) + 8:]: d[k] for k in d.files if k.startswith(name + ".params.")}
        grads = {k[len(name) + 7:]: d[k] for k in d.files if k.startswith(name + ".grads.")}
        features, captions, loss = d[name + ".features"], d[name + ".captions"], d[name + ".loss"]
    word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2}
    word_to_idx.update(("w%d" % i, i) for i in range(3, params["W_embed"].shape[0]))
    model = CaptioningTransformer.from_params(word_to_idx, params, num_heads=2, max_length=10,
                                              activation=activation)
    assert model.grid_size == grid
    ours, our_grads = model.loss(features, captions)
    assert abs(ours - loss) < 1e-13
    assert set(our_grads) == set(grads)
    for k, g in grads.items():
        assert np.abs(our_grads[k] - g).max() <= 1e-15 + 1e-11 * np.abs(g).max(), k


def test_dropout_is_reproducible_and_checked(rng):
    model = make_model(dropout=0.2, seed=3, L=1)
    features, captions = make_inputs()
    model.rng = np.random.default_rng(5)
    a = model.loss(features, captions)[0]
    b = model.loss(features, captions)[0]  # the Generator moved on: other units dropped
    model.rng = np.random.default_rng(5)
    assert model.loss(features, captions)[0] == a and a != b
    model.dropout = 0.0
    assert abs(model.loss(features, captions)[0] - ref_loss(model, features, captions)) < 1e-12
    # gradients with dropout: the same units dropped in every evaluation
    model.dropout = 0.2
    model.rng = np.random.default_rng(9)
    loss, grads = model.loss(features, captions)
    for name in ("W_embed", "layers.0.self_attn.Wv", "layers.0.ffn.W1", "W_proj"):
        def f(_):
            model.rng = np.random.default_rng(9)
            return model.loss(features, captions)[0]
        num = eval_numerical_gradient(f, model.params[name], verbose=False)
        assert np.abs(grads[name] - num).max() / np.max(np.abs(grads[name]) + np.abs(num)) \
            < 1e-7, name
    # sampling never drops
    model.rng = np.random.default_rng(0)
    state = model.rng.bit_generator.state
    model.sample(features, max_length=4)
    assert model.rng.bit_generator.state == state


def test_nonfinite_parameters_give_a_nan_loss():
    model = make_model()
    model.params["layers.0.ffn.W1"][0, 0] = np.nan
    loss, grads = model.loss(*make_inputs())
    assert np.isnan(loss) and all(np.isnan(g).all() for g in grads.values())


def test_loss_input_errors():
    model = make_model()
    features, captions = make_inputs()
    with pytest.raises(ValueError, match=r"features must have shape \(N, D\) = \(N, 5\) for this "
                                         "vector-feature model"):
        model.loss(features[:, :, None, None], captions)
    grid = make_model(grid=2)
    with pytest.raises(ValueError, match=r"features must have shape \(N, D, G, G\) = \(N, 5, 2, 2"):
        grid.loss(features, captions)
    with pytest.raises(ValueError, match="features must have shape"):
        grid.loss(np.zeros((2, 5, 3, 3)), captions)
    with pytest.raises(ValueError, match="captions must have shape"):
        model.loss(features, captions[:1])
    with pytest.raises(ValueError, match=r"1 <= T <= max_length = 8"):
        model.loss(features, np.ones((2, 10), dtype=int))
    with pytest.raises(ValueError, match=r"1 <= T <= max_length = 8"):
        model.loss(features, np.ones((2, 1), dtype=int))
    with pytest.raises(ValueError, match=r"captions values must lie in \[0, 8\)"):
        model.loss(features, captions + 8)
    with pytest.raises(ValueError, match="features contains NaN"):
        model.loss(np.full_like(features, np.nan), captions)
    model.params["W_vocab"] = model.params["W_vocab"].astype(np.float32)
    with pytest.raises(ValueError, match=r"params\['W_vocab'\] must have the model's dtype"):
        model.loss(features, captions)


# ----------------------------------------------------------------------------- sampling

@pytest.fixture(scope="module")
def trained():
    """{(grid, activation): (model, features)}: small float64 models trained briefly on a tiny
    dataset, so that their greedy captions end after different numbers of words."""
    from test_solver import D, WORD_TO_IDX as SOLVER_VOCAB, tiny_data
    models = {}
    for grid, activation in ((None, "relu"), (2, "gelu")):
        data = tiny_data(num_images=12, captions_per_image=1)
        if grid:
            rng = np.random.default_rng(3)
            for split in ("train", "val"):
                n = len(data[split + "_features"])
                data[split + "_features"] = rng.normal(size=(n, D, grid, grid))
        np.random.seed(231)
        model = CaptioningTransformer(SOLVER_VOCAB, input_dim=D, wordvec_dim=16, num_heads=2,
                                      num_layers=2, dim_feedforward=16, max_length=10,
                                      activation=activation, grid_size=grid, dtype=np.float64,
                                      fast=False)
        solver = CaptioningSolver(model, data, update_rule="adam",
                                  optim_config={"learning_rate": 1e-2}, num_epochs=80,
                                  batch_size=12, verbose=False)
        solver.train()
        features = np.concatenate([data["train_features"], data["val_features"]])
        models[grid, activation] = model, features, solver.loss_history
    return models


def end_steps(captions):
    """The steps at which rows emitted <END> (None: never)."""
    return [list(row).index(END) if END in row else None for row in captions]


@pytest.mark.parametrize("grid, activation", [(None, "relu"), (2, "gelu")])
def test_greedy_sample_matches_the_reference_loop(trained, grid, activation):
    model, features, _ = trained[grid, activation]
    expected = ref_greedy(model, features, max_length=8)
    assert len({e for e in end_steps(expected) if e is not None}) >= 3  # varied lengths
    captions = model.sample(features, max_length=8)
    assert captions.dtype == np.int32 and captions.shape == (len(features), 8)
    np.testing.assert_array_equal(captions, expected)
    for row, end in zip(captions, end_steps(captions)):  # <NULL> after <END>, never <START>
        if end is not None:
            assert (row[end + 1:] == NULL).all()
        assert START not in row


@pytest.mark.parametrize("grid, activation", [(None, "relu"), (2, "gelu")])
def test_fast_sample_equals_readable(trained, grid, activation):
    model, features, _ = trained[grid, activation]
    readable = model.sample(features, max_length=10)
    fast = CaptioningTransformer.from_params(model.word_to_idx, model.params, num_heads=2,
                                             max_length=10, activation=activation, fast=True)
    assert fast._use_kernels()
    np.testing.assert_array_equal(fast.sample(features, max_length=10), readable)
    assert len({e for e in end_steps(readable) if e is not None}) >= 3  # rows leave at
    np.testing.assert_array_equal(fast.sample(features[:1], max_length=1), readable[:1, :1])
    np.testing.assert_array_equal(fast.sample(features, max_length=3), readable[:, :3])


def test_fast_sample_float32_agrees(trained):
    model, features, _ = trained[None, "relu"]
    params32 = {k: v.astype(np.float32) for k, v in model.params.items()}
    readable = CaptioningTransformer.from_params(model.word_to_idx, params32, num_heads=2,
                                                 max_length=10, fast=False)
    fast = CaptioningTransformer.from_params(model.word_to_idx, params32, num_heads=2,
                                             max_length=10, fast=True)
    f32 = features.astype(np.float32)
    np.testing.assert_array_equal(fast.sample(f32, max_length=10),
                                  readable.sample(f32, max_length=10))


def test_sample_stops_when_every_caption_ended():
    model = make_model(max_length=8)
    model.params["b_vocab"][END] += 50.0  # <END> always wins
    features = make_inputs(N=3, seed=9)[0]
    captions = model.sample(features, max_length=6)
    np.testing.assert_array_equal(captions, [[END] + [NULL] * 5] * 3)
    model.fast = True
    np.testing.assert_array_equal(model.sample(features, max_length=6), captions)


def ref_log_prob(model, feature, words):
    """The log-probability the reference decoder gives a caption (<END> included)."""
    p = model.params
    x = ref_decoder(p, model.num_layers, model.num_heads, model.activation,
                    ref_memory(p, feature), [START] + list(words[:-1]))
    scores = x @ p["W_vocab"] + p["b_vocab"]
    m = scores.max(axis=1, keepdims=True)
    logp = scores - m - np.log(np.exp(scores - m).sum(axis=1, keepdims=True))
    return float(sum(logp[t, w] for t, w in enumerate(words)))


@pytest.mark.parametrize("grid, activation", [(None, "relu"), (2, "gelu")])
def test_beam_search_and_temperature_sampling(trained, grid, activation):
    from rnncap.decoding import beam_search
    model, features, _ = trained[grid, activation]
    greedy = model.sample(features, max_length=8)
    np.testing.assert_array_equal(model.sample(features, max_length=8, beam_size=1), greedy)
    captions, log_probs = beam_search(model, features[:6], beam_size=3, max_length=8)
    for feature, row, lp in zip(features[:6], captions, log_probs):
        words = list(row[:list(row).index(END) + 1]) if END in row else list(row)
        assert abs(lp - ref_log_prob(model, feature, words)) < 1e-10
        greedy_row = list(model.sample(feature[None], max_length=8)[0])
        g = greedy_row[:greedy_row.index(END) + 1] if END in greedy_row else greedy_row
        assert lp >= ref_log_prob(model, feature, g) - 1e-12  # as good as greedy, here
    cold = model.sample(features, max_length=8, temperature=1e-4, rng=0)
    np.testing.assert_array_equal(cold, greedy)
    hot = model.sample(features, max_length=8, temperature=5.0, rng=1)
    np.testing.assert_array_equal(hot, model.sample(features, max_length=8, temperature=5.0,
                                                    rng=np.random.default_rng(1)))
    assert (hot != greedy).any()
    state = np.random.get_state()
    model.sample(features, max_length=8, temperature=1.0, rng=3)
    assert np.random.get_state()[2] == state[2]
    with pytest.raises(ValueError, match="give beam_size or temperature, not both"):
        model.sample(features, max_length=5, beam_size=2, temperature=1.0)


def test_beam_search_needs_the_kernels(trained, monkeypatch):
    model, features, _ = trained[None, "relu"]
    monkeypatch.setattr(transformer_module, "_kernels", None)
    with pytest.raises(ValueError, match="beam search and temperature sampling of a "
                                         "CaptioningTransformer read one word at a time"):
        model.sample(features, max_length=5, beam_size=2)


def test_sample_errors():
    model = make_model()
    features = make_inputs()[0]
    with pytest.raises(ValueError, match=r"max_length must be an integer in \[1, 8\]"):
        model.sample(features, max_length=9)
    with pytest.raises(ValueError, match=r"max_length must be an integer in \[1, 8\]"):
        model.sample(features, max_length=0)
    with pytest.raises(ValueError, match="features must have shape"):
        model.sample(features[:, :3], max_length=5)


def test_fast_flag_without_kernels_runs_the_readable_code(trained, monkeypatch):
    model, features, _ = trained[None, "relu"]
    expected = model.sample(features, max_length=8)
    monkeypatch.setattr(transformer_module, "_kernels", None)
    fast = CaptioningTransformer.from_params(model.word_to_idx, model.params, num_heads=2,
                                             max_length=10, fast=True)
    assert fast.fast and not fast._use_kernels()
    original, calls = transformer_module.transformer_decoder_layer_forward, []

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(transformer_module, "transformer_decoder_layer_forward", spy)
    np.testing.assert_array_equal(fast.sample(features, max_length=8), expected)
    assert calls  # the readable layers ran


# ----------------------------------------------------------------------------- training

def test_solver_trains_it_unchanged(trained):
    """CaptioningSolver needs only model.params and model.loss: the trained fixtures' runs."""
    for model, _, history in trained.values():
        assert len(history) == 80
        assert history[-1] < 0.25 * history[0]


def test_cs231n_overfit_protocol_on_builtin_data():
    """50 built-in examples; wordvec 256, 2 heads, 2 layers, max_length 30; Adam 1e-3,
    100 epochs of batch 25 = 200 iterations: the final loss is below 0.05."""
    from rnncap.coco_utils import load_coco_data
    np.random.seed(231)
    data = load_coco_data("shapes", max_train=50)
    model = CaptioningTransformer(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                                  wordvec_dim=256, num_heads=2, num_layers=2, max_length=30)
    solver = CaptioningSolver(model, data, update_rule="adam",
                              optim_config={"learning_rate": 1e-3}, num_epochs=100,
                              batch_size=25, verbose=False)
    solver.train()
    assert len(solver.loss_history) == 200
    assert solver.loss_history[0] > 2 and solver.loss_history[-1] < 0.05
