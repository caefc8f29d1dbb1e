"""The one registry of gradient checks: every public layer of rnn_layers and CaptioningRNN.loss.

Each check names the layer's forward and backward (looked up in rnncap.rnn_layers when it runs),
builds small float64 inputs from a seeded Generator, says which inputs are differentiated, and
carries the threshold of `rnncap gradcheck`. The same inputs feed `rnncap gradcheck`
(run_checks), the grader (rnncap.teaching.grader) and the tests; only the public forward/backward
API is used, never a cache's contents.
"""
from collections import namedtuple

import numpy as np

from . import rnn_layers
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
