"""The one registry of gradient checks: every public layer of rnn_layers and CaptioningRNN.loss,
and of transformer_layers and CaptioningTransformer.loss (TRANSFORMER_*_CHECKS, at the end).

Each check names the layer's forward and backward (looked up in rnncap.rnn_layers when it runs),
builds small float64 inputs from a seeded Generator, says which inputs are differentiated, and
carries the threshold of `rnncap gradcheck`. The same inputs feed `rnncap gradcheck`
(run_checks), the grader (rnncap.teaching.grader) and the tests; only the public forward/backward
API is used, never a cache's contents.
"""
from collections import namedtuple

import copy

import numpy as np

from . import rnn_layers, transformer_layers
from .gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

THRESHOLD = 1e-6
# The model chains every layer: its near-zero gradient entries carry ~1e-11 absolute error,
# which the element-wise relative error magnifies, so it gets a looser bar.
MODEL_THRESHOLD = 1e-5

# name: the check's name; forward, backward: names in rnn_layers (backward None: forward is a loss
# returning (loss, dx)); inputs(rng) -> list of forward's arguments; n_out: forward's outputs
# before the cache; wrt: indices of the inputs backward returns gradients for, in order; bare:
# backward returns one array instead of a tuple.
LayerCheck = namedtuple("LayerCheck", "name forward backward inputs n_out wrt bare threshold")
# cell_type: CaptioningRNN's cell; its inputs come from model_inputs.
ModelCheck = namedtuple("ModelCheck", "name cell_type threshold")

WORDS = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4, "a": 5}
MODEL_SIZES = dict(input_dim=3, wordvec_dim=3, hidden_dim=4)
CELL_TYPES = ("rnn", "lstm", "gru")


# ----------------------------------------------------------------------------- inputs

def cell_inputs(rng, k, T=None, lstm_c=False, N=3, D=5, H=4):
    """x, prev_h (or h0), [prev_c,] Wx, Wh, b for a cell with k gates (a sequence when T)."""
    x = rng.standard_normal((N, D) if T is None else (N, T, D))
    h = rng.standard_normal((N, H))
    c = [rng.standard_normal((N, H))] if lstm_c else []
    return [x, h] + c + [0.5 * rng.standard_normal((D, k * H)),
                         0.5 * rng.standard_normal((H, k * H)), 0.5 * rng.standard_normal(k * H)]


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


def seeded_model(rng, cell_type, scale=0.5):
    """A float64 CaptioningRNN(WORDS, **MODEL_SIZES) with params scale * rng.standard_normal,
    drawn in sorted name order (the global np.random, used by the constructor, is restored)."""
    from .classifiers.rnn import CaptioningRNN

    state = np.random.get_state()
    try:
        model = CaptioningRNN(WORDS, cell_type=cell_type, dtype=np.float64, **MODEL_SIZES)
    finally:
        np.random.set_state(state)
    model.params = {k: scale * rng.standard_normal(v.shape)
                    for k, v in sorted(model.params.items())}
    return model


def model_inputs(rng, cell_type):
    """(model, features (2, D), captions (2, 5)) for CaptioningRNN.loss; the second caption is
    padded with <NULL>, so the mask matters."""
    model = seeded_model(rng, cell_type, 0.5)
    features = rng.standard_normal((2, MODEL_SIZES["input_dim"]))
    captions = rng.integers(0, len(WORDS), size=(2, 5))
    captions[1, 3:] = WORDS["<NULL>"]
    return model, features, captions


def _check(name, inputs, n_out=1, wrt=(0, 1, 2, 3, 4), bare=False):
    return LayerCheck(name, name + "_forward", name + "_backward", inputs, n_out, wrt, bare,
                      THRESHOLD)


LAYER_CHECKS = [
    _check("affine", affine_inputs, wrt=(0, 1, 2)),
    _check("rnn_step", lambda rng: cell_inputs(rng, 1)),
    _check("rnn", lambda rng: cell_inputs(rng, 1, T=4)),
    _check("lstm_step", lambda rng: cell_inputs(rng, 4, lstm_c=True), n_out=2,
           wrt=(0, 1, 2, 3, 4, 5)),
    _check("lstm", lambda rng: cell_inputs(rng, 4, T=4)),
    _check("gru_step", lambda rng: cell_inputs(rng, 3)),
    _check("gru", lambda rng: cell_inputs(rng, 3, T=4)),
    _check("word_embedding", word_embedding_inputs, wrt=(1,), bare=True),
    _check("temporal_affine", temporal_affine_inputs, wrt=(0, 1, 2)),
    LayerCheck("temporal_softmax_loss", "temporal_softmax_loss", None,
               temporal_softmax_loss_inputs, 1, (0,), True, THRESHOLD),
]

MODEL_CHECKS = [ModelCheck("CaptioningRNN[%s]" % c, c, MODEL_THRESHOLD) for c in CELL_TYPES]


# ----------------------------------------------------------------------------- numeric gradients

def numeric_grads(forward, args, wrt, douts):
    """Centred-difference gradients of sum_k <forward(*args)[k], douts[k]> w.r.t. each args[i],
    i in wrt (args are left as they were)."""
    grads = []
    for i in wrt:
        total = 0
        for k, dout in enumerate(douts):
            def f(z, i=i, k=k):
                a = list(args)
                a[i] = z
                return forward(*a)[k]
            total = total + eval_numerical_gradient_array(f, args[i].copy(), dout)
        grads.append(total)
    return grads


def loss_numeric_grad(check, args):
    """Centred-difference gradient of a loss check's scalar loss w.r.t. args[0]."""
    loss_fn = getattr(rnn_layers, check.forward)
    return eval_numerical_gradient(lambda z: loss_fn(z, *args[1:])[0], args[0].copy(),
                                   verbose=False)


def model_numeric_grads(model, features, captions):
    """{param name: centred-difference gradient of model.loss(features, captions)[0]}."""
    return {name: eval_numerical_gradient(lambda _: model.loss(features, captions)[0],
                                          model.params[name], verbose=False)
            for name in model.params}


# ----------------------------------------------------------------------------- running checks

def layer_error(check, rng):
    """Max relative error between a layer's backward and the numeric gradients of its forward."""
    args = check.inputs(rng)
    forward = getattr(rnn_layers, check.forward)
    if check.backward is None:
        return rel_error(forward(*args)[1], loss_numeric_grad(check, args))
    result = forward(*args)
    douts = [rng.standard_normal(np.shape(o)) for o in result[:check.n_out]]
    analytic = getattr(rnn_layers, check.backward)(*douts, result[check.n_out])
    analytic = [analytic] if check.bare else list(analytic)
    numeric = numeric_grads(forward, args, check.wrt, douts)
    return max(rel_error(a, n) for a, n in zip(analytic, numeric))


def model_error(check, rng):
    """Max relative error between CaptioningRNN.loss's grads and the numeric gradients."""
    model, features, captions = model_inputs(rng, check.cell_type)
    _, grads = model.loss(features, captions)
    numeric = model_numeric_grads(model, features, captions)
    return max(rel_error(numeric[name], grads[name]) for name in sorted(numeric))


def run_checks(checks, seed=0):
    """Run LayerCheck / ModelCheck / TransformerCheck / TransformerModelCheck entries; returns a
    list of (name, max_rel_error, passed).

    Each check draws from its own Generator seeded with `seed`. A check whose layer raises
    NotImplementedError (a student copy) gets error None and fails.
    """
    runners = {ModelCheck: model_error, LayerCheck: layer_error,
               TransformerCheck: transformer_error,
               TransformerModelCheck: transformer_model_error}
    results = []
    for check in checks:
        run = runners[type(check)]
        try:
            err = run(check, np.random.default_rng(seed))
        except NotImplementedError:
            results.append((check.name, None, False))
            continue
        results.append((check.name, err, bool(err < check.threshold)))
    return results


# ----------------------------------------------------------------------------- the Transformer
# The layers of rnncap.transformer_layers take some inputs the RNN layers do not: a dict of
# parameters (whose entries get gradients, returned by backward as a dict) and a Generator for
# dropout (copied before every call, so that each evaluation drops the same units). Their
# errors are relative to each array's largest entry, max|a - n| / max(|a| + |n|) (the grader's
# measure), and parameters whose gradient is exactly zero are checked to be zero.

# name: the check's name; forward, backward: names in transformer_layers (backward None: a
# value-only function, not a gradient check); inputs(rng) -> forward's arguments; n_out:
# forward's outputs before the cache; wrt: indices of the array inputs backward returns
# gradients for, first in its outputs; params_arg: index of the parameter dict (None: none);
# zero: parameter names whose gradient is exactly zero (an attention's key bias: softmax
# ignores a constant added to all of a row's scores).
TransformerCheck = namedtuple("TransformerCheck",
                              "name forward backward inputs n_out wrt params_arg zero threshold")
# grid: grid size G of the model's features (None: vector features); activation: relu or gelu
TransformerModelCheck = namedtuple("TransformerModelCheck", "name grid activation threshold")

TRANSFORMER_WORDS = WORDS
TRANSFORMER_SIZES = dict(input_dim=3, wordvec_dim=6, num_heads=3, num_layers=1,
                         dim_feedforward=4, max_length=8)
ZERO_TOL = 1e-9  # |gradient| allowed where it is exactly zero (centred differences' noise)


def attention_params(rng, E, scale=0.5):
    """Wq, bq, ..., Wo, bo of one attention (E, E) / (E,)."""
    return {k: scale * rng.standard_normal((E, E) if k.startswith("W") else E)
            for k in transformer_layers.ATTENTION_KEYS}


def decoder_layer_params(rng, E, F, scale=0.5):
    """The DECODER_LAYER_KEYS of one decoder layer; gammas near 1."""
    p = {}
    for name in transformer_layers.DECODER_LAYER_KEYS:
        kind = name.split(".")[-1]
        shape = {"W1": (E, F), "b1": (F,), "W2": (F, E), "b2": (E,)}.get(
            kind, (E, E) if kind.startswith("W") else (E,))
        p[name] = scale * rng.standard_normal(shape) + (1.0 if kind == "gamma" else 0.0)
    return p


def attention_mask(rng, S, T):
    """A random (S, T) boolean mask in which every query keeps at least one key."""
    mask = rng.random((S, T)) < 0.6
    mask[np.arange(S), rng.integers(0, T, size=S)] = True
    return mask


def relu_inputs(rng):
    x = rng.standard_normal((3, 4, 5))
    x[np.abs(x) < 0.05] = 0.5  # away from the kink, where centred differences are exact
    return [x]


def dropout_inputs(rng):
    """x (4, 5), p, and a Generator (its seed drawn from rng)."""
    return [rng.standard_normal((4, 5)), 0.3, np.random.default_rng(int(rng.integers(2 ** 31)))]


def layernorm_inputs(rng):
    return [2 * rng.standard_normal((2, 3, 6)) + 1, 1 + 0.5 * rng.standard_normal(6),
            rng.standard_normal(6)]


def attention_inputs(rng):
    """query (2, 3, 6), key and value (2, 4, 6), params, 2 heads, an attention mask."""
    N, S, T, E = 2, 3, 4, 6
    query, key, value = (rng.standard_normal((N, L, E)) for L in (S, T, T))
    return [query, key, value, attention_params(rng, E), 2, attention_mask(rng, S, T)]


def decoder_layer_inputs(rng):
    """tgt (2, 3, 6), memory (2, 4, 6), params (F = 5), 3 heads, the causal mask, GELU."""
    N, T, S, E = 2, 3, 4, 6
    tgt, memory = rng.standard_normal((N, T, E)), rng.standard_normal((N, S, E))
    return [tgt, memory, decoder_layer_params(rng, E, 5), 3, np.tril(np.ones((T, T), bool)),
            "gelu"]


def fresh(args):
    """args with every Generator copied: each evaluation starts from the same random state."""
    return [copy.deepcopy(a) if isinstance(a, np.random.Generator) else a for a in args]


def per_array_error(a, n):
    """max|a - n| / max(|a| + |n|): one scale per array (the grader's measure)."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - n)) / max(1e-8, float(np.max(np.abs(a) + np.abs(n)))))


def transformer_numeric_grads(forward, args, wrt, params_arg, douts):
    """Centred-difference gradients of sum_k <forward(*args)[k], douts[k]>: a list for the
    array inputs in wrt, then a dict for the entries of args[params_arg] (when not None)."""
    def total(f, x):
        return sum(eval_numerical_gradient_array(lambda z, k=k: f(z)[k], x.copy(), d)
                   for k, d in enumerate(douts))

    grads = []
    for i in wrt:
        def f(z, i=i):
            a = fresh(args)
            a[i] = z
            return forward(*a)
        grads.append(total(f, args[i]))
    if params_arg is None:
        return grads, {}
    pgrads = {}
    for name in args[params_arg]:
        def f(z, name=name):
            a = fresh(args)
            a[params_arg] = dict(args[params_arg], **{name: z})
            return forward(*a)
        pgrads[name] = total(f, args[params_arg][name])
    return grads, pgrads


def transformer_expected(check, rng, layers=transformer_layers):
    """(args, douts, forward's result, numeric input grads, numeric param grads) of a check."""
    args = check.inputs(rng)
    forward = getattr(layers, check.forward)
    result = forward(*fresh(args))
    douts = [rng.standard_normal(np.shape(o)) for o in result[:check.n_out]]
    grads, pgrads = transformer_numeric_grads(forward, args, check.wrt, check.params_arg, douts)
    return args, douts, result, grads, pgrads


def compare_gradients(got_inputs, got_params, grads, pgrads, zero, compare=per_array_error):
    """The largest error of a backward's outputs against numeric gradients; parameters in
    `zero` must be zero (an error of 0 when within ZERO_TOL, else inf)."""
    errs = [compare(g, n) for g, n in zip(got_inputs, grads)]
    for name, n in pgrads.items():
        if name.split(".")[-1] in zero:
            errs.append(0.0 if np.abs(got_params[name]).max() <= ZERO_TOL else float("inf"))
        else:
            errs.append(compare(got_params[name], n))
    return max(errs)


def transformer_error(check, rng):
    """Max relative error of a Transformer layer's backward against numeric gradients."""
    args, douts, result, grads, pgrads = transformer_expected(check, rng)
    out = getattr(transformer_layers, check.backward)(*douts, result[check.n_out])
    out = list(out) if isinstance(out, tuple) else [out]
    got_params = out[len(check.wrt)] if check.params_arg is not None else {}
    return compare_gradients(out[:len(check.wrt)], got_params, grads, pgrads, check.zero)


def seeded_transformer(rng, grid=None, activation="gelu", scale=0.5, qk_scale=0.3):
    """A float64 CaptioningTransformer(TRANSFORMER_WORDS, **TRANSFORMER_SIZES) with params
    scale * rng.standard_normal (queries and keys smaller, so that attention stays soft),
    gammas near 1, drawn in the params' order (the global np.random is restored)."""
    from .classifiers.transformer import CaptioningTransformer

    state = np.random.get_state()
    try:
        model = CaptioningTransformer(TRANSFORMER_WORDS, dtype=np.float64, grid_size=grid,
                                      activation=activation, fast=False, **TRANSFORMER_SIZES)
    finally:
        np.random.set_state(state)
    for name, value in model.params.items():
        s = qk_scale if name.endswith(("Wq", "Wk")) else scale
        model.params[name] = s * rng.standard_normal(value.shape) + \
            (1.0 if name.endswith("gamma") else 0.0)
    return model


def transformer_model_inputs(rng, grid=None, activation="gelu"):
    """(model, features (2, D) or (2, D, G, G), captions (2, 5)); the second caption is padded
    with <NULL>."""
    model = seeded_transformer(rng, grid, activation)
    D = TRANSFORMER_SIZES["input_dim"]
    features = rng.standard_normal((2, D) if grid is None else (2, D, grid, grid))
    captions = rng.integers(3, len(TRANSFORMER_WORDS), size=(2, 5))
    captions[:, 0] = TRANSFORMER_WORDS["<START>"]
    captions[1, 3:] = TRANSFORMER_WORDS["<NULL>"]
    captions[1, 2] = TRANSFORMER_WORDS["<END>"]
    return model, features, captions


def transformer_zero_grads(model):
    """Names of the model's parameters whose gradient is exactly zero: the key biases, and
    cross-attention's query and key weights when the memory is one vector."""
    single = model.grid_size is None
    return {name for name in model.params
            if name.endswith("attn.bk") or (single and name.split(".", 2)[-1] in (
                "cross_attn.Wq", "cross_attn.bq", "cross_attn.Wk"))}


def transformer_model_error(check, rng):
    """Max relative error of CaptioningTransformer.loss's grads against numeric gradients."""
    model, features, captions = transformer_model_inputs(rng, check.grid, check.activation)
    _, grads = model.loss(features, captions)
    numeric = model_numeric_grads(model, features, captions)
    zero = transformer_zero_grads(model)
    return max((0.0 if np.abs(grads[k]).max() <= ZERO_TOL else float("inf")) if k in zero
               else per_array_error(grads[k], numeric[k]) for k in numeric)


def _tcheck(name, inputs, wrt=(0,), params_arg=None, zero=()):
    return TransformerCheck(name, name + "_forward", name + "_backward", inputs, 1, wrt,
                            params_arg, zero, THRESHOLD)


TRANSFORMER_LAYER_CHECKS = [
    _tcheck("relu", relu_inputs),
    _tcheck("gelu", lambda rng: [2 * rng.standard_normal((3, 4, 5))]),
    _tcheck("dropout", dropout_inputs),
    _tcheck("layernorm", layernorm_inputs, wrt=(0, 1, 2)),
    _tcheck("multihead_attention", attention_inputs, wrt=(0, 1, 2), params_arg=3, zero=("bk",)),
    _tcheck("transformer_decoder_layer", decoder_layer_inputs, wrt=(0, 1), params_arg=2,
            zero=("bk",)),
]

TRANSFORMER_MODEL_CHECKS = [
    TransformerModelCheck("CaptioningTransformer[grid, gelu]", 2, "gelu", THRESHOLD),
]
