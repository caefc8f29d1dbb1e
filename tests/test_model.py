"""CaptioningRNN: construction, loss (published value, independent loop, numeric gradients),
greedy sampling, beam search and temperature sampling."""
import numpy as np
import pytest

from rnncap import CaptioningRNN
from rnncap.decoding import beam_search
from rnncap.gradient_check import eval_numerical_gradient

CELLS = ["rnn", "lstm", "gru"]
VOCAB = ["<NULL>", "<START>", "<END>", "a", "b", "c", "d", "e"]
WORD_TO_IDX = {w: i for i, w in enumerate(VOCAB)}
NULL, START, END = 0, 1, 2
# b_vocab[<END>] offsets with which some but not all greedy captions end (make_model, seed 0)
END_BIAS = {"rnn": 0.0, "lstm": 1.0, "gru": 1.5}


# ----------------------------------------------------------------------------- reference math

def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref_step(cell, x, h, c, p):
    """One cell step written from the equations, independent of rnncap.rnn_layers."""
    H = h.shape[-1]
    if cell == "rnn":
        return np.tanh(x @ p["Wx"] + h @ p["Wh"] + p["b"]), c
    if cell == "lstm":
        a = x @ p["Wx"] + h @ p["Wh"] + p["b"]
        i, f, o = _sig(a[..., :H]), _sig(a[..., H:2 * H]), _sig(a[..., 2 * H:3 * H])
        g = np.tanh(a[..., 3 * H:])
        c = f * c + i * g
        return o * np.tanh(c), c
    xa, ha = x @ p["Wx"] + p["b"], h @ p["Wh"]
    r = _sig(xa[..., :H] + ha[..., :H])
    z = _sig(xa[..., H:2 * H] + ha[..., H:2 * H])
    n = np.tanh(xa[..., 2 * H:] + r * ha[..., 2 * H:])
    return (1 - z) * n + z * h, c


def ref_loss(cell, p, features, captions):
    """The captioning loss with explicit loops over images and time steps."""
    N, T1 = captions.shape
    total = 0.0
    for n in range(N):
        h = features[n] @ p["W_proj"] + p["b_proj"]
        c = np.zeros_like(h)
        for t in range(T1 - 1):
            h, c = ref_step(cell, p["W_embed"][captions[n, t]], h, c, p)
            target = captions[n, t + 1]
            if target == NULL:
                continue
            scores = h @ p["W_vocab"] + p["b_vocab"]
            total -= scores[target] - np.log(np.sum(np.exp(scores - scores.max()))) - scores.max()
    return total / N


def ref_greedy(cell, p, features, max_length):
    """Classic greedy decoding, then <NULL> after each row's first <END>."""
    N = features.shape[0]
    out = np.full((N, max_length), NULL)
    for n in range(N):
        h = features[n] @ p["W_proj"] + p["b_proj"]
        c = np.zeros_like(h)
        word = START
        for t in range(max_length):
            h, c = ref_step(cell, p["W_embed"][word], h, c, p)
            word = int(np.argmax(h @ p["W_vocab"] + p["b_vocab"]))
            out[n, t] = word
            if word == END:
                break
    return out


def make_model(cell, dtype=np.float64, D=6, W=5, H=4, seed=0, end_bias=0.0):
    np.random.seed(seed)
    model = CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type=cell, dtype=dtype)
    rng = np.random.default_rng(seed)
    for k, v in model.params.items():   # non-zero biases and larger weights exercise more
        model.params[k] = rng.normal(scale=0.7, size=v.shape).astype(dtype)
    model.params["b_vocab"][END] += end_bias
    return model


def make_inputs(N=3, D=6, T=5, seed=1):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(N, D))
    captions = rng.integers(3, len(VOCAB), size=(N, T + 1))
    captions[:, 0] = START
    captions[0, 3:] = [END, NULL, NULL]   # padding is masked out of the loss
    captions[1, -1] = END
    return features, captions


# ----------------------------------------------------------------------------- construction

@pytest.mark.parametrize("cell,k", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_parameters_shapes_dtype_and_draw_order(cell, k):
    V, D, W, H = len(VOCAB), 7, 5, 3
    np.random.seed(231)
    model = CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type=cell)
    np.random.seed(231)
    expected = {
        "W_embed": np.random.randn(V, W) / 100,
        "W_proj": np.random.randn(D, H) / np.sqrt(D), "b_proj": np.zeros(H),
        "Wx": np.random.randn(W, k * H) / np.sqrt(W),
        "Wh": np.random.randn(H, k * H) / np.sqrt(H), "b": np.zeros(k * H),
        "W_vocab": np.random.randn(H, V) / np.sqrt(H), "b_vocab": np.zeros(V),
    }
    assert sorted(model.params) == sorted(expected)
    for name, value in expected.items():
        assert model.params[name].dtype == np.float32
        np.testing.assert_array_equal(model.params[name], value.astype(np.float32))
    assert (model.cell_type, model.dtype) == (cell, np.float32)
    assert (model._null, model._start, model._end) == (NULL, START, END)
    assert model.idx_to_word == dict(enumerate(VOCAB))
    assert (model.input_dim, model.wordvec_dim, model.hidden_dim, model.vocab_size) == (D, W, H, V)


def test_construction_errors():
    with pytest.raises(ValueError, match="cell_type must be one of"):
        CaptioningRNN(WORD_TO_IDX, cell_type="transformer")
    with pytest.raises(ValueError, match="<NULL>"):
        CaptioningRNN({"a": 0})
    with pytest.raises(ValueError, match="hidden_dim must be a positive integer"):
        CaptioningRNN(WORD_TO_IDX, hidden_dim=0)
    with pytest.raises(ValueError, match="dtype must be a numpy floating dtype"):
        CaptioningRNN(WORD_TO_IDX, dtype=np.int32)


def test_start_and_end_are_optional_until_sampling():
    model = CaptioningRNN({"<NULL>": 0, "cat": 1}, input_dim=3, wordvec_dim=2, hidden_dim=2)
    assert model._start is None and model._end is None
    with pytest.raises(ValueError, match="<START>"):
        model.sample(np.zeros((1, 3)))


def test_from_params_draws_nothing_and_copies():
    model = make_model("lstm")
    state = np.random.get_state()
    clone = CaptioningRNN.from_params(WORD_TO_IDX, model.params, cell_type="lstm")
    assert np.random.get_state()[1].tolist() == state[1].tolist()
    assert np.random.get_state()[2] == state[2]
    for k, v in model.params.items():
        np.testing.assert_array_equal(clone.params[k], v)
        assert clone.params[k] is not v
    assert clone.dtype == np.float64
    params = dict(model.params)
    params["Wh"] = params["Wh"][:, :-1]
    with pytest.raises(ValueError, match=r"params\['Wh'\] must have shape"):
        CaptioningRNN.from_params(WORD_TO_IDX, params, cell_type="lstm")


# ----------------------------------------------------------------------------- loss

def test_loss_matches_published_cs231n_value():
    # The RNN_Captioning notebook's check: expected loss 9.83235591003.
    N, D, W, H, T = 10, 20, 30, 40, 13
    word_to_idx = {"<NULL>": 0, "cat": 2, "dog": 3}
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type="rnn", dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(-1.5, 0.3, num=(N * D)).reshape(N, D)
    captions = (np.arange(N * T) % len(word_to_idx)).reshape(N, T)
    loss, _ = model.loss(features, captions)
    assert abs(loss - 9.83235591003) < 1e-10


@pytest.mark.parametrize("cell", CELLS)
def test_loss_matches_independent_loop(cell):
    model = make_model(cell)
    features, captions = make_inputs()
    loss, grads = model.loss(features, captions)
    assert sorted(grads) == sorted(model.params)
    assert abs(loss - ref_loss(cell, model.params, features, captions)) < 1e-12


@pytest.mark.parametrize("cell", CELLS)
def test_every_gradient_matches_numeric(cell):
    model = make_model(cell)
    features, captions = make_inputs()
    _, grads = model.loss(features, captions)
    for name in sorted(model.params):
        f = lambda _: model.loss(features, captions)[0]
        numeric = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
        analytic = grads[name]
        assert analytic.shape == model.params[name].shape
        # Element-wise relative error is meaningless for near-zero entries (the centred
        # difference is accurate to ~1e-10 absolute), so bound the absolute error and the
        # error relative to the gradient's norm.
        assert np.abs(analytic - numeric).max() < 1e-8, name
        norm_rel = np.linalg.norm(analytic - numeric) / (np.linalg.norm(analytic)
                                                         + np.linalg.norm(numeric))
        assert norm_rel < 1e-7, name


@pytest.mark.parametrize("cell", CELLS)
def test_float32_model_stays_float32(cell):
    model64 = make_model(cell)
    model32 = CaptioningRNN.from_params(
        WORD_TO_IDX, {k: v.astype(np.float32) for k, v in model64.params.items()}, cell)
    features, captions = make_inputs()
    loss32, grads32 = model32.loss(features, captions)   # float64 features are cast
    loss64, grads64 = model64.loss(features, captions)
    assert loss32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads32.values())
    assert abs(loss32 - loss64) < 1e-5 * abs(loss64)
    for k in grads64:
        np.testing.assert_allclose(grads32[k], grads64[k], rtol=1e-3, atol=1e-5)


def test_fully_padded_captions_give_zero_loss_and_gradient():
    model = make_model("rnn")
    features, _ = make_inputs()
    captions = np.zeros((3, 4), dtype=np.int64)
    captions[:, 0] = START
    loss, grads = model.loss(features, captions)
    assert loss == 0
    assert all(not g.any() for g in grads.values())


def test_loss_bad_input():
    model = make_model("rnn")
    features, captions = make_inputs()
    with pytest.raises(ValueError, match="features must have shape"):
        model.loss(features[:, :-1], captions)
    with pytest.raises(ValueError, match="captions must have shape"):
        model.loss(features, captions[:2])
    with pytest.raises(ValueError, match=r"captions values must lie in \[0, 8\)"):
        model.loss(features, captions + 5)
    with pytest.raises(ValueError, match="captions must be an integer array"):
        model.loss(features, captions.astype(float))
    with pytest.raises(ValueError, match="T >= 1"):
        model.loss(features, captions[:, :1])
    bad = features.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="features contains NaN"):
        model.loss(bad, captions)
    model.params["Wx"] = model.params["Wx"].astype(np.float32)
    with pytest.raises(ValueError, match=r"params\['Wx'\] must have the model's dtype"):
        model.loss(features, captions)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_nonfinite_parameters_or_overflow_give_nan_loss():
    features, captions = make_inputs()
    model = make_model("lstm")
    model.params["W_embed"][4, 0] = np.inf
    loss, grads = model.loss(features, captions)
    assert np.isnan(loss) and all(np.isnan(g).all() for g in grads.values())
    model = make_model("rnn", dtype=np.float32)
    model.params["W_proj"][:] = np.float32(3e38)    # h0 overflows float32
    loss, grads = model.loss(features, captions)
    assert np.isnan(loss) and np.isnan(grads["Wx"]).all()


# ----------------------------------------------------------------------------- greedy sampling

@pytest.mark.parametrize("cell", CELLS)
def test_greedy_sample_matches_reference(cell):
    model = make_model(cell, end_bias=END_BIAS[cell])
    features = np.random.default_rng(5).normal(size=(12, 6))
    captions = model.sample(features, max_length=9)
    expected = ref_greedy(cell, model.params, features, 9)
    np.testing.assert_array_equal(captions, expected)
    assert captions.shape == (12, 9) and captions.dtype.kind == "i"
    ended = (captions == END).any(axis=1)
    assert ended.any() and not ended.all()   # the test covers both kinds of rows


def test_sample_after_end_stays_null():
    model = make_model("gru", end_bias=1.5)
    captions = model.sample(np.random.default_rng(6).normal(size=(20, 6)), max_length=12)
    for row in captions:
        ends = np.flatnonzero(row == END)
        if ends.size:
            assert (row[ends[0] + 1:] == NULL).all()
    assert not (captions[:, 0] == NULL).all()   # the first column is a generated word


def test_sample_bad_input():
    model = make_model("rnn")
    features = np.zeros((2, 6))
    with pytest.raises(ValueError, match="max_length must be a positive integer"):
        model.sample(features, max_length=0)
    with pytest.raises(ValueError, match="features must have shape"):
        model.sample(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="not both"):
        model.sample(features, beam_size=2, temperature=1.0)
    with pytest.raises(ValueError, match="beam_size must be a positive integer"):
        model.sample(features, beam_size=0)
    with pytest.raises(ValueError, match="temperature must be a positive"):
        model.sample(features, temperature=0.0)
    with pytest.raises(ValueError, match="rng is used only with temperature"):
        model.sample(features, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng must be a np.random.Generator"):
        model.sample(features, temperature=1.0, rng=np.random.RandomState(0))


# ----------------------------------------------------------------------------- beam search

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_beam_of_one_is_greedy(cell, dtype):
    model = make_model(cell, dtype=dtype, end_bias=END_BIAS[cell])
    features = np.random.default_rng(7).normal(size=(15, 6))
    greedy = model.sample(features, max_length=10)
    np.testing.assert_array_equal(model.sample(features, max_length=10, beam_size=1), greedy)


def caption_log_prob(model, features, words):
    """log p(words | image) from the model's own training loss: loss = -sum log p / N, N = 1."""
    row = [START] + [int(w) for w in words]
    loss, _ = model.loss(features[None], np.array([row]))
    return -float(loss)


@pytest.mark.parametrize("cell", CELLS)
def test_beam_log_prob_is_the_models_score(cell):
    model = make_model(cell, end_bias=1.0)
    features = np.random.default_rng(8).normal(size=(6, 6))
    captions, log_probs = beam_search(model, features, beam_size=3, max_length=7)
    greedy = model.sample(features, max_length=7)
    for n in range(6):
        words = captions[n]
        ends = np.flatnonzero(words == END)
        words = words[:ends[0] + 1] if ends.size else words
        assert abs(log_probs[n] - caption_log_prob(model, features[n], words)) < 1e-10
        g = greedy[n]
        g_ends = np.flatnonzero(g == END)
        g = g[:g_ends[0] + 1] if g_ends.size else g
        # the beam's caption is at least as probable as greedy's when both have ended
        if ends.size and g_ends.size:
            assert log_probs[n] >= caption_log_prob(model, features[n], g) - 1e-12


def hand_model(next_word_probs):
    """
    An RNN whose next-word distribution depends only on the current word:
    next_word_probs[word] is a dict next_word -> probability (the rest share a tiny mass).
    The hidden state is exactly the one-hot current word (tanh(20) == 1.0 in float64), so the
    scores after word w are row w of W_vocab, which holds the log-probabilities.
    """
    V = len(VOCAB)
    log_p = np.full((V, V), -30.0)
    for word, probs in next_word_probs.items():
        row = np.full(V, 1e-9)
        for nxt, prob in probs.items():
            row[WORD_TO_IDX[nxt]] = prob
        log_p[WORD_TO_IDX[word]] = np.log(row / row.sum())
    params = {"W_embed": 20 * np.eye(V), "W_proj": np.zeros((2, V)), "b_proj": np.zeros(V),
              "Wx": np.eye(V), "Wh": np.zeros((V, V)), "b": np.zeros(V),
              "W_vocab": log_p, "b_vocab": np.zeros(V)}
    return CaptioningRNN.from_params(WORD_TO_IDX, params, cell_type="rnn"), log_p


def test_beam_finds_better_caption_than_greedy():
    # Greedy takes "a" (0.55) but then can only end with 0.4: p("a <END>") = 0.22.
    # "b" (0.45) ends with 0.98: p("b <END>") = 0.441, which a beam of 2 finds.
    model, log_p = hand_model({"<START>": {"a": 0.55, "b": 0.45},
                               "a": {"<END>": 0.4, "c": 0.3, "d": 0.3},
                               "b": {"<END>": 0.98, "c": 0.02}})
    features = np.zeros((1, 2))
    a, b = WORD_TO_IDX["a"], WORD_TO_IDX["b"]
    assert model.sample(features, max_length=5).tolist() == [[a, END, NULL, NULL, NULL]]
    captions, log_probs = beam_search(model, features, beam_size=2, max_length=5)
    assert captions.tolist() == [[b, END, NULL, NULL, NULL]]
    assert model.sample(features, max_length=5, beam_size=2).tolist() == captions.tolist()
    assert abs(log_probs[0] - (log_p[START, b] + log_p[b, END])) < 1e-12
    assert abs(log_probs[0] - np.log(0.45 * 0.98)) < 1e-6
    assert abs(log_probs[0] - caption_log_prob(model, features[0], [b, END])) < 1e-12


def test_length_normalisation_prefers_the_longer_caption():
    # "<END>" alone: log 0.4 = -0.92. "a <END>": log(0.35 * 0.9) = -1.16 in total but -0.58 per
    # word, so only the length-normalised ranking picks it.
    model, _ = hand_model({"<START>": {"<END>": 0.4, "a": 0.35, "b": 0.25},
                           "a": {"<END>": 0.9, "b": 0.1},
                           "b": {"<END>": 0.5, "c": 0.5}})
    features = np.zeros((1, 2))
    a = WORD_TO_IDX["a"]
    plain = model.sample(features, max_length=4, beam_size=2)
    normed = model.sample(features, max_length=4, beam_size=2, length_norm=True)
    assert plain.tolist() == [[END, NULL, NULL, NULL]]
    assert normed.tolist() == [[a, END, NULL, NULL]]


def test_beam_without_end_uses_the_best_live_hypothesis():
    # <END> is never likely: every hypothesis runs to max_length; the best is "a a a".
    model, log_p = hand_model({"<START>": {"a": 0.6, "b": 0.4}, "a": {"a": 0.9, "b": 0.1},
                               "b": {"b": 0.5, "c": 0.5}})
    a = WORD_TO_IDX["a"]
    captions, log_probs = beam_search(model, np.zeros((1, 2)), beam_size=3, max_length=3)
    assert captions.tolist() == [[a, a, a]]
    assert abs(log_probs[0] - np.log(0.6 * 0.9 * 0.9)) < 1e-6


# ----------------------------------------------------------------------------- temperature

def test_temperature_sampling_is_seedable_and_leaves_global_rng_alone():
    model = make_model("lstm", end_bias=0.5)
    features = np.random.default_rng(9).normal(size=(10, 6))
    np.random.seed(123)
    before = np.random.get_state()
    a = model.sample(features, max_length=8, temperature=1.0, rng=np.random.default_rng(42))
    b = model.sample(features, max_length=8, temperature=1.0, rng=np.random.default_rng(42))
    c = model.sample(features, max_length=8, temperature=1.0, rng=42)
    after = np.random.get_state()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert before[1].tolist() == after[1].tolist() and before[2] == after[2]
    for row in a:
        ends = np.flatnonzero(row == END)
        if ends.size:
            assert (row[ends[0] + 1:] == NULL).all()


def test_temperature_sampling_follows_the_tempered_distribution():
    model, _ = hand_model({"<START>": {"a": 0.55, "b": 0.45}, "a": {"<END>": 1.0},
                           "b": {"<END>": 1.0}})
    features = np.zeros((4000, 2))
    rng = np.random.default_rng(0)
    first = model.sample(features, max_length=2, temperature=1.0, rng=rng)[:, 0]
    assert abs(np.mean(first == WORD_TO_IDX["a"]) - 0.55) < 0.03
    # temperature 0.5 squares the probabilities: 0.3025 / (0.3025 + 0.2025) = 0.599
    first = model.sample(features, max_length=2, temperature=0.5, rng=rng)[:, 0]
    assert abs(np.mean(first == WORD_TO_IDX["a"]) - 0.599) < 0.03
    assert set(np.unique(first)) <= {WORD_TO_IDX["a"], WORD_TO_IDX["b"]}


def test_low_temperature_is_greedy():
    model = make_model("rnn", end_bias=1.5)
    features = np.random.default_rng(10).normal(size=(10, 6))
    cold = model.sample(features, max_length=8, temperature=1e-4, rng=0)
    np.testing.assert_array_equal(cold, model.sample(features, max_length=8))
