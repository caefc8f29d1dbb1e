"""The one registry of checks: every graded function, its seeded inputs and how it is checked.

`rnncap gradcheck` (run_checks), the grader (rnncap.teaching.grader) and the tests all take their
inputs from here. Each entry names the functions it calls (looked up in its module when it runs),
builds small float64 inputs from a seeded Generator and, for gradient checks, says which inputs
are differentiated. Only the public API is used, never a cache's contents.

Adding a graded function
------------------------
Put its body between solution markers in the reference code, then add one entry here; nothing
else changes (the grader makes its rows from GRADED_CHECKS, and `rnncap gradcheck` runs the
gradient checks):

- a layer with a forward and a backward (rnn_layers.py, transformer_layers.py, ...): a LayerCheck
  in LAYER_CHECKS, usually through _check(name, inputs, n_out=..., wrt=..., module=...,
  outputs=...). The grader grades two rows: <forward> (its outputs against the reference) and
  <backward> (called on the cache of the student's own forward, against centred differences of
  the reference forward). Gradient names come from the forward's argument names ("d" + name).
- a loss returning (loss, dx): a LayerCheck with backward None (one row: loss value, dx).
- a model's loss(features, captions) -> (loss, grads): a ModelCheck in MODEL_CHECKS; row
  <Class>.loss[<variant>]. The model is built as Class(WORDS, **init) with params redrawn from the
  Generator in sorted name order, so it must keep its parameters in model.params.
- a model's sample(features, max_length): a SampleCheck in SAMPLE_CHECKS; row
  <Class>.sample[<variant>]; captions are compared up to and including each row's first <END>.
- a function graded on its values only (the update rules): a ValueCheck in VALUE_CHECKS; it is
  called once per argument list, each time on fresh copies.
"""
import copy
import importlib
import inspect
from collections import namedtuple

import numpy as np

from .gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

THRESHOLD = 1e-6
# The model chains every layer: its near-zero gradient entries carry ~1e-11 absolute error,
# which an element-wise relative error magnifies past any bar on unlucky seeds, so the model's
# error is relative to each gradient array's scale (array_error) and the bar is strict.
MODEL_THRESHOLD = 1e-7

LAYERS, MODEL, OPTIM = "rnncap.rnn_layers", "rnncap.classifiers.rnn", "rnncap.optim"
TLAYERS, TMODEL = "rnncap.transformer_layers", "rnncap.classifiers.transformer"

# name: the check's name; forward, backward: function names in `module` (backward None: forward
# is a loss returning (loss, dx)); inputs(rng) -> list of forward's arguments; n_out: forward's
# outputs before the cache; wrt: indices of the inputs backward returns gradients for, in order;
# bare: backward returns one array instead of a tuple; threshold: `rnncap gradcheck`'s bar;
# module: where the functions live; outputs: names of forward's n_out outputs (None: "out");
# n_dout: how many of the first outputs backward takes upstream gradients of (None: all n_out;
# dot-product attention also returns its weights, for pictures, but its backward takes dattn only).
# zero: keys of a dict input (a layer's parameters) whose gradient is exactly zero (expected:
# zeros, since centred differences give only rounding noise there). An input in wrt may be a
# dict of arrays (backward then returns a dict of their gradients); a np.random.Generator input
# is copied before every call, so that each evaluation draws the same numbers.
LayerCheck = namedtuple("LayerCheck", "name forward backward inputs n_out wrt bare threshold "
                        "module outputs n_dout zero", defaults=(LAYERS, None, None, ()))
# A model's loss. name: `rnncap gradcheck`'s row, "<cls>[<variant>]" (or "<cls>");
# cell_type: CaptioningRNN's cell (the default init); module, cls: where the model class lives;
# init: constructor keywords besides the vocabulary (None: MODEL_SIZES, cell_type, float64);
# inputs(rng, model) -> loss's arguments (None: loss_inputs); zero: parameter-name suffixes
# whose gradient is exactly zero (expected: zeros); draw(rng, model, scale) -> the model's params
# (None: scale * standard normal for every parameter, in sorted name order).
ModelCheck = namedtuple("ModelCheck", "name cell_type threshold module cls init inputs zero draw",
                        defaults=(MODEL, "CaptioningRNN", None, None, (), None))
# A model's sampler; fields as ModelCheck's, inputs(rng, model) -> sample's arguments
# (None: sample_inputs; it may adjust the model's params), max_length: sample's keyword.
SampleCheck = namedtuple("SampleCheck", "name cell_type module cls init inputs max_length draw",
                         defaults=(MODEL, "CaptioningRNN", None, None, 8, None))
# A function graded on its values: calls(rng) -> [argument list, ...]; outputs: names of the
# returned tuple's items (nested dict entries are named "config['m']").
ValueCheck = namedtuple("ValueCheck", "name module calls outputs")

WORDS = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4, "a": 5}
MODEL_SIZES = dict(input_dim=3, wordvec_dim=3, hidden_dim=4)
CELL_TYPES = ("rnn", "lstm", "gru")
GRID = 2  # the attention model's features are (N, input_dim, GRID, GRID)


# ----------------------------------------------------------------------------- inputs

def cell_inputs(rng, k, T=None, lstm_c=False, N=3, D=5, H=4):
    """x, prev_h (or h0), [prev_c,] Wx, Wh, b for a cell with k gates (a sequence when T)."""
    x = rng.standard_normal((N, D) if T is None else (N, T, D))
    h = rng.standard_normal((N, H))
    c = [rng.standard_normal((N, H))] if lstm_c else []
    return [x, h] + c + [0.5 * rng.standard_normal((D, k * H)),
                         0.5 * rng.standard_normal((H, k * H)), 0.5 * rng.standard_normal(k * H)]


def dot_product_attention_inputs(rng, N=3, H=4, D_a=3):
    """prev_h (N, H), A (N, H, D_a, D_a)."""
    return [rng.standard_normal((N, H)), rng.standard_normal((N, H, D_a, D_a))]


def attention_step_inputs(rng, N=3, D=5, H=4):
    """x, prev_h, prev_c, Wx, Wh, b, attn, Wattn for attention_step_forward."""
    x, prev_h, prev_c, Wx, Wh, b = cell_inputs(rng, 4, lstm_c=True, N=N, D=D, H=H)
    return [x, prev_h, prev_c, Wx, Wh, b, rng.standard_normal((N, H)),
            0.5 * rng.standard_normal((H, 4 * H))]


def attention_inputs(rng, N=3, T=4, D=5, H=4, D_a=2):
    """x (N, T, D), A (N, H, D_a, D_a), Wx, Wh, Wattn, b for attention_forward."""
    return [rng.standard_normal((N, T, D)), rng.standard_normal((N, H, D_a, D_a)),
            0.5 * rng.standard_normal((D, 4 * H)), 0.5 * rng.standard_normal((H, 4 * H)),
            0.5 * rng.standard_normal((H, 4 * H)), 0.5 * rng.standard_normal(4 * H)]


def affine_inputs(rng):
    """x (N, d_1, d_2), w (D, M), b (M,)."""
    return [rng.standard_normal((3, 2, 3)), rng.standard_normal((6, 4)), rng.standard_normal(4)]


def word_embedding_inputs(rng):
    """x (N, T) word indices, W (V, D)."""
    return [rng.integers(0, 5, size=(3, 4)), rng.standard_normal((5, 6))]


def temporal_affine_inputs(rng):
    """x (N, T, D), w (D, M), b (M,)."""
    return [rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)]


def temporal_softmax_loss_inputs(rng):
    """x (N, T, V) scores, y (N, T) targets, mask (N, T) with a fully masked row."""
    x = rng.standard_normal((3, 4, 6))
    y = rng.integers(0, 6, size=(3, 4))
    mask = rng.random((3, 4)) > 0.3
    mask[0] = False  # a fully masked row
    return [x, y, mask]


def model_init(check):
    """The constructor keywords of a ModelCheck / SampleCheck's model (besides WORDS)."""
    if check.init is not None:
        return dict(check.init)
    return dict(MODEL_SIZES, cell_type=check.cell_type, dtype=np.float64)


def build_model(check, rng, scale):
    """The reference model of a ModelCheck / SampleCheck: cls(WORDS, **model_init(check)) with
    params scale * rng.standard_normal, drawn in sorted name order (the global np.random, used
    by the constructor, is restored)."""
    cls = getattr(importlib.import_module(check.module), check.cls)
    state = np.random.get_state()
    try:
        model = cls(WORDS, **model_init(check))
    finally:
        np.random.set_state(state)
    if check.draw is not None:
        model.params = check.draw(rng, model, scale)
    else:
        model.params = {k: scale * rng.standard_normal(v.shape)
                        for k, v in sorted(model.params.items())}
    return model


def loss_inputs(rng, model):
    """(features (2, D), captions (2, 5)) for a model's loss; the second caption is padded with
    <NULL>, so the mask matters."""
    features = rng.standard_normal((2, MODEL_SIZES["input_dim"]))
    captions = rng.integers(0, len(WORDS), size=(2, 5))
    captions[1, 3:] = WORDS["<NULL>"]
    return [features, captions]


def sample_inputs(rng, model, max_length=8):
    """(features (8, D),) for a model's sample. When no caption of `model` (the reference) ends
    before max_length, <END>'s score bias b_vocab is raised in steps of 0.5 until one does: a
    sampler must stop writing at <END>, so the inputs must reach it."""
    features = rng.standard_normal((8, MODEL_SIZES["input_dim"]))
    _reach_end(model, features, max_length)
    return [features]


def _reach_end(model, features, max_length):
    """Raise <END>'s score bias in steps of 0.5 (at most 12) until a caption ends early."""
    end = WORDS["<END>"]
    for _ in range(12):
        if (model.sample(features, max_length=max_length)[:, :-1] == end).any():
            break
        model.params["b_vocab"][end] += 0.5


def grid_loss_inputs(rng, model):
    """(features (2, D, GRID, GRID), captions (2, 5)) for the attention model's loss, as
    loss_inputs with a grid of features per image."""
    features = rng.standard_normal((2, MODEL_SIZES["input_dim"], GRID, GRID))
    captions = rng.integers(0, len(WORDS), size=(2, 5))
    captions[1, 3:] = WORDS["<NULL>"]
    return [features, captions]


def grid_sample_inputs(rng, model, max_length=8):
    """(features (8, D, GRID, GRID),) for the attention model's sample, as sample_inputs."""
    features = rng.standard_normal((8, MODEL_SIZES["input_dim"], GRID, GRID))
    _reach_end(model, features, max_length)
    return [features]


def sample_args(check, rng, model):
    """The arguments of a SampleCheck's sample call (its inputs, or sample_inputs)."""
    if check.inputs is not None:
        return check.inputs(rng, model)
    return sample_inputs(rng, model, check.max_length)


def seeded_model(rng, cell_type, scale=0.5):
    """A float64 CaptioningRNN(WORDS, **MODEL_SIZES) with params scale * rng.standard_normal."""
    return build_model(ModelCheck("", cell_type, MODEL_THRESHOLD), rng, scale)


def model_inputs(rng, cell_type):
    """(model, features (2, D), captions (2, 5)) for CaptioningRNN.loss (see loss_inputs; the
    attention model gets grid_loss_inputs' (2, D, GRID, GRID) features)."""
    model = seeded_model(rng, cell_type, 0.5)
    inputs = grid_loss_inputs if cell_type == "attention" else loss_inputs
    return (model, *inputs(rng, model))


def update_calls(config):
    """calls(rng) of an update rule: w and dw (3, 4), then two calls: with config(rng, w) (the
    rule's state included), and with config None (the defaults)."""
    def calls(rng):
        w, dw = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
        return [[w, dw, config(rng, w)], [w, dw, None]]
    return calls


def _check(name, inputs, n_out=1, wrt=(0, 1, 2, 3, 4), bare=False, module=LAYERS, outputs=None):
    return LayerCheck(name, name + "_forward", name + "_backward", inputs, n_out, wrt, bare,
                      THRESHOLD, module, outputs)


LAYER_CHECKS = [
    _check("affine", affine_inputs, wrt=(0, 1, 2)),
    _check("rnn_step", lambda rng: cell_inputs(rng, 1), outputs=("next_h",)),
    _check("rnn", lambda rng: cell_inputs(rng, 1, T=4), outputs=("h",)),
    _check("lstm_step", lambda rng: cell_inputs(rng, 4, lstm_c=True), n_out=2,
           wrt=(0, 1, 2, 3, 4, 5), outputs=("next_h", "next_c")),
    _check("lstm", lambda rng: cell_inputs(rng, 4, T=4), outputs=("h",)),
    _check("gru_step", lambda rng: cell_inputs(rng, 3), outputs=("next_h",)),
    _check("gru", lambda rng: cell_inputs(rng, 3, T=4), outputs=("h",)),
    LayerCheck("dot_product_attention", "dot_product_attention_forward",
               "dot_product_attention_backward", dot_product_attention_inputs, 2, (0, 1), False,
               THRESHOLD, LAYERS, ("attn", "attn_weights"), 1),
    _check("attention_step", attention_step_inputs, n_out=2, wrt=tuple(range(8)),
           outputs=("next_h", "next_c")),
    _check("attention", attention_inputs, wrt=tuple(range(6)), outputs=("h",)),
    _check("word_embedding", word_embedding_inputs, wrt=(1,), bare=True),
    _check("temporal_affine", temporal_affine_inputs, wrt=(0, 1, 2)),
    LayerCheck("temporal_softmax_loss", "temporal_softmax_loss", None,
               temporal_softmax_loss_inputs, 1, (0,), True, THRESHOLD, LAYERS, ("loss", "dx")),
]

MODEL_CHECKS = [ModelCheck("CaptioningRNN[%s]" % c, c, MODEL_THRESHOLD) for c in CELL_TYPES] + [
    ModelCheck("CaptioningRNN[attention]", "attention", MODEL_THRESHOLD,
               inputs=grid_loss_inputs)]

SAMPLE_CHECKS = [SampleCheck("CaptioningRNN[%s]" % c, c) for c in CELL_TYPES] + [
    SampleCheck("CaptioningRNN[attention]", "attention",
                inputs=grid_sample_inputs)]


# ----------------------------------------------------------------------------- the Transformer

def attention_params(rng, E, scale=0.5):
    """Wq, bq, ..., Wo, bo of one multi-head attention: (E, E) and (E,)."""
    return {k: scale * rng.standard_normal((E, E) if k[0] == "W" else E)
            for k in ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")}


def decoder_layer_params(rng, E, F, scale=0.5):
    """The parameters of one decoder layer (transformer_layers.DECODER_LAYER_KEYS); gammas
    near 1."""
    p = {}
    for attn in ("self_attn", "cross_attn"):
        p.update({attn + "." + k: v for k, v in attention_params(rng, E, scale).items()})
    for i in (1, 2, 3):
        p["norm%d.gamma" % i] = 1 + scale * rng.standard_normal(E)
        p["norm%d.beta" % i] = scale * rng.standard_normal(E)
    p["ffn.W1"], p["ffn.b1"] = scale * rng.standard_normal((E, F)), scale * rng.standard_normal(F)
    p["ffn.W2"], p["ffn.b2"] = scale * rng.standard_normal((F, E)), scale * rng.standard_normal(E)
    return p


def attention_mask(rng, S, T):
    """A random (S, T) 0/1 mask in which every query keeps at least one key."""
    mask = rng.random((S, T)) < 0.6
    mask[np.arange(S), rng.integers(0, T, size=S)] = True
    return mask


def relu_inputs(rng):
    """x (3, 4, 5), away from the kink at 0 (where centred differences are wrong)."""
    x = rng.standard_normal((3, 4, 5))
    x[np.abs(x) < 0.05] = 0.5
    return [x]


def dropout_inputs(rng):
    """x (4, 5), p = 0.3 and a Generator (copied before every call)."""
    return [rng.standard_normal((4, 5)), 0.3, np.random.default_rng(int(rng.integers(2 ** 31)))]


def layernorm_inputs(rng):
    """x (2, 3, 6), gamma and beta (6,)."""
    return [rng.standard_normal((2, 3, 6)), 1 + 0.5 * rng.standard_normal(6),
            rng.standard_normal(6)]


def mha_inputs(rng):
    """query (2, 3, 6), key and value (2, 4, 6), params, 2 heads, a mask (3, 4)."""
    N, S, T, E = 2, 3, 4, 6
    query, key, value = (rng.standard_normal((N, L, E)) for L in (S, T, T))
    return [query, key, value, attention_params(rng, E), 2, attention_mask(rng, S, T)]


def decoder_layer_inputs(rng):
    """tgt (2, 3, 6), memory (2, 4, 6), params (F = 5), 3 heads, the causal mask, GELU."""
    N, T, S, E = 2, 3, 4, 6
    tgt, memory = rng.standard_normal((N, T, E)), rng.standard_normal((N, S, E))
    return [tgt, memory, decoder_layer_params(rng, E, 5), 3, np.tril(np.ones((T, T), bool)),
            "gelu"]


# The key bias of every attention: softmax ignores a constant added to all scores of a row.
ZERO_GRAD_KEYS = ("bk", "self_attn.bk", "cross_attn.bk")
TRANSFORMER_INIT = dict(input_dim=MODEL_SIZES["input_dim"], wordvec_dim=6, num_heads=3,
                        num_layers=1, dim_feedforward=4, max_length=8, grid_size=2,
                        activation="gelu", dtype=np.float64)


def transformer_draw(rng, model, scale):
    """A Transformer's params, in sorted name order: scale * standard normal, gammas around 1
    (near 0 a layer norm would cut the gradient of everything below it down to rounding
    noise), query and key weights smaller (keeping the attention soft)."""
    params = {}
    for name, value in sorted(model.params.items()):
        s = 0.6 * scale if name.endswith(("Wq", "Wk")) else scale
        params[name] = s * rng.standard_normal(value.shape) + (name.endswith("gamma") * 1.0)
    return params


def transformer_grid_loss_inputs(rng, model):
    """(features (2, D, 2, 2), captions (2, 5)) for a grid model's loss: <START>, words, and the
    second caption padded with <NULL> after its <END>. (<NULL> is padding only: the model gives
    its word vector no gradient, as CS231n's does, which is the true gradient only where no
    target after it is a word.)"""
    features = rng.standard_normal((2, MODEL_SIZES["input_dim"], 2, 2))
    captions = rng.integers(3, len(WORDS), size=(2, 5))
    captions[:, 0] = WORDS["<START>"]
    captions[1, 2:] = [WORDS["<END>"], WORDS["<NULL>"], WORDS["<NULL>"]]
    return [features, captions]


def transformer_grid_sample_inputs(rng, model, max_length=8):
    """(features (8, D, 2, 2),) for a grid model's sample; <END>'s bias raised until a caption
    ends, as in sample_inputs."""
    features = rng.standard_normal((8, MODEL_SIZES["input_dim"], 2, 2))
    end = WORDS["<END>"]
    for _ in range(12):
        if (model.sample(features, max_length=max_length)[:, :-1] == end).any():
            break
        model.params["b_vocab"][end] += 0.5
    return [features]


def _tcheck(name, inputs, wrt, outputs=None, zero=()):
    return LayerCheck(name, name + "_forward", name + "_backward", inputs, 1, wrt,
                      len(wrt) == 1, THRESHOLD, TLAYERS, outputs, zero=zero)


LAYER_CHECKS += [
    _tcheck("relu", relu_inputs, (0,)),
    _tcheck("gelu", lambda rng: [2 * rng.standard_normal((3, 4, 5))], (0,)),
    _tcheck("dropout", dropout_inputs, (0,)),
    _tcheck("layernorm", layernorm_inputs, (0, 1, 2)),
    _tcheck("multihead_attention", mha_inputs, (0, 1, 2, 3), zero=ZERO_GRAD_KEYS),
    _tcheck("transformer_decoder_layer", decoder_layer_inputs, (0, 1, 2), zero=ZERO_GRAD_KEYS),
]

MODEL_CHECKS += [
    ModelCheck("CaptioningTransformer[grid]", None, MODEL_THRESHOLD, TMODEL,
               "CaptioningTransformer", TRANSFORMER_INIT, transformer_grid_loss_inputs, ("attn.bk",),
               transformer_draw),
]

SAMPLE_CHECKS += [
    SampleCheck("CaptioningTransformer[vector]", None, TMODEL, "CaptioningTransformer",
                dict(TRANSFORMER_INIT, grid_size=None, activation="relu"),
                draw=transformer_draw),
    SampleCheck("CaptioningTransformer[grid]", None, TMODEL, "CaptioningTransformer",
                TRANSFORMER_INIT, transformer_grid_sample_inputs, draw=transformer_draw),
]

VALUE_CHECKS = [
    ValueCheck("erf", TLAYERS, lambda rng: [[np.concatenate([4 * rng.standard_normal(40),
                                                            [0.0, -2.0, 2.0, 7.0, -30.0]])]],
               ("out",)),
    ValueCheck("positional_encoding", TLAYERS, lambda rng: [[7, 6]], ("P",)),
    ValueCheck("sgd", OPTIM, update_calls(lambda rng, w: {"learning_rate": 0.05}),
               ("next_w", "config")),
    ValueCheck("sgd_momentum", OPTIM, update_calls(
        lambda rng, w: {"learning_rate": 0.05, "momentum": 0.8,
                        "velocity": rng.standard_normal(w.shape)}), ("next_w", "config")),
    ValueCheck("rmsprop", OPTIM, update_calls(
        lambda rng, w: {"learning_rate": 0.05, "decay_rate": 0.9, "epsilon": 1e-8,
                        "cache": rng.random(w.shape)}), ("next_w", "config")),
    ValueCheck("adam", OPTIM, update_calls(
        lambda rng, w: {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-8,
                        "m": rng.standard_normal(w.shape), "v": rng.random(w.shape), "t": 3}),
        ("next_w", "config")),
]

# Everything the grader grades, in the order of its score table.
GRADED_CHECKS = LAYER_CHECKS + MODEL_CHECKS + SAMPLE_CHECKS + VALUE_CHECKS


# ----------------------------------------------------------------------------- names

def function(check, name):
    """The reference function `name` of a LayerCheck's module."""
    return getattr(importlib.import_module(check.module), name)


def output_names(check):
    """Names of a LayerCheck's forward outputs (before the cache)."""
    if check.outputs is not None:
        return tuple(check.outputs)
    return ("out",) if check.n_out == 1 else tuple("out%d" % k for k in range(check.n_out))


def grad_names(check):
    """Names of a LayerCheck's backward outputs: "d" + the forward's argument names."""
    params = list(inspect.signature(function(check, check.forward)).parameters)
    return tuple("d" + params[i] if i < len(params) else "d%d" % i for i in check.wrt)


def n_douts(check):
    """How many upstream gradients a LayerCheck's backward takes (before the cache)."""
    return check.n_out if check.n_dout is None else check.n_dout


def method_row(check, method):
    """The grader's row of a ModelCheck / SampleCheck: "<cls>.<method>[<variant>]"."""
    variant = check.name[len(check.cls):] if check.name.startswith(check.cls) else ""
    return "%s.%s%s" % (check.cls, method, variant)


# ----------------------------------------------------------------------------- numeric gradients

def fresh(args):
    """args with every np.random.Generator copied: each call starts from the same state."""
    return [copy.deepcopy(a) if isinstance(a, np.random.Generator) else a for a in args]


def numeric_grads(forward, args, wrt, douts, zero=()):
    """Centred-difference gradients of sum_k <forward(*args)[k], douts[k]> w.r.t. each args[i],
    i in wrt (args are left as they were). A dict input gets a dict of gradients, one per
    entry, with zeros for the keys in `zero`."""
    def numeric(i, key=None):
        total = 0
        for k, dout in enumerate(douts):
            def f(z, k=k):
                a = fresh(args)
                a[i] = z if key is None else dict(args[i], **{key: z})
                return forward(*a)[k]
            x = args[i] if key is None else args[i][key]
            total = total + eval_numerical_gradient_array(f, x.copy(), dout)
        return total

    grads = []
    for i in wrt:
        if isinstance(args[i], dict):
            grads.append({key: np.zeros_like(v) if key in zero else numeric(i, key)
                          for key, v in args[i].items()})
        else:
            grads.append(numeric(i))
    return grads


def gradient_pairs(analytic, numeric):
    """[(label, analytic, numeric)] of a backward's outputs, a dict's entries one by one."""
    pairs = []
    for j, (a, n) in enumerate(zip(analytic, numeric)):
        if isinstance(n, dict):
            pairs += [("%d/%s" % (j, key), a[key], n[key]) for key in n]
        else:
            pairs.append(("%d" % j, a, n))
    return pairs


def loss_numeric_grad(check, args):
    """Centred-difference gradient of a loss check's scalar loss w.r.t. args[0]."""
    loss_fn = function(check, check.forward)
    return eval_numerical_gradient(lambda z: loss_fn(z, *args[1:])[0], args[0].copy(),
                                   verbose=False)


def model_numeric_grads(model, *args, zero=()):
    """{param name: centred-difference gradient of model.loss(*args)[0]}; zeros for the names
    ending in a suffix of `zero` (exactly-zero gradients)."""
    return {name: np.zeros_like(model.params[name]) if name.endswith(tuple(zero)) else
            eval_numerical_gradient(lambda _: model.loss(*args)[0], model.params[name],
                                    verbose=False)
            for name in model.params}


# ----------------------------------------------------------------------------- running checks

def layer_error(check, rng):
    """Max relative error between a layer's backward and the numeric gradients of its forward."""
    args = check.inputs(rng)
    forward = function(check, check.forward)
    if check.backward is None:
        return rel_error(forward(*args)[1], loss_numeric_grad(check, args))
    result = forward(*fresh(args))
    douts = [rng.standard_normal(np.shape(o)) for o in result[:n_douts(check)]]
    analytic = function(check, check.backward)(*douts, result[check.n_out])
    analytic = [analytic] if check.bare else list(analytic)
    numeric = numeric_grads(forward, args, check.wrt, douts, check.zero)
    # The Transformer's gradients, like a model's, have entries near zero: judged per array.
    # An exactly-zero gradient (expected: zeros) must be zero to within 1e-8 * the bar.
    measure = array_error if check.module == TLAYERS else rel_error
    return max(rel_error(a, n) if label.split("/")[-1] in check.zero else measure(a, n)
               for label, a, n in gradient_pairs(analytic, numeric))


def model_error(check, rng):
    """Max relative error between a model's loss gradients and the numeric gradients."""
    model = build_model(check, rng, 0.5)
    args = (check.inputs or loss_inputs)(rng, model)
    _, grads = model.loss(*args)
    numeric = model_numeric_grads(model, *args, zero=check.zero)
    zero = tuple(check.zero)  # exactly-zero gradients: absolute, |grad| / 1e-8
    return max(rel_error(numeric[name], grads[name]) if zero and name.endswith(zero)
               else array_error(numeric[name], grads[name]) for name in sorted(numeric))


def array_error(x, y):
    """max |x - y| relative to the array's scale, max(|x| + |y|): an entry near zero is judged
    by the size of its neighbours, not by itself."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y)) / max(1e-12, float(np.max(np.abs(x) + np.abs(y)))))


def run_checks(checks, seed=0):
    """Run LayerCheck / ModelCheck entries; returns a list of (name, max_rel_error, passed).

    Each check draws from its own Generator seeded with `seed`. A check whose layer raises
    NotImplementedError (a student copy) gets error None and fails.
    """
    results = []
    for check in checks:
        run = model_error if isinstance(check, ModelCheck) else layer_error
        try:
            err = run(check, np.random.default_rng(seed))
        except NotImplementedError:
            results.append((check.name, None, False))
            continue
        results.append((check.name, err, bool(err < check.threshold)))
    return results
