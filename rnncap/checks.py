"""Numeric gradient checks of every layer (and the captioning model), as a list of named checks.

Each check builds small float64 inputs from its own seeded Generator, runs forward and backward,
and returns the maximum relative error between the analytic and the centred-difference gradients
over all of the backward's outputs. `rnncap gradcheck` prints them as a table.
"""
import numpy as np

from . import rnn_layers as L
from .gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

THRESHOLD = 1e-6
# The model chains every layer: its near-zero gradient entries carry ~1e-11 absolute error,
# which the element-wise relative error magnifies, so it gets a looser bar.
MODEL_THRESHOLD = 1e-5


def _max_error(forward, backward, args, upstream_shape_of=None, rng=None):
    """Max rel error over every gradient backward returns, for forward(*args) -> (out, cache)."""
    out, cache = forward(*args)
    dout = rng.standard_normal(np.shape(out))
    analytic = backward(dout, cache)
    errors = []
    for i, grad in enumerate(analytic):
        def f(z, i=i):
            a = list(args)
            a[i] = z
            return forward(*a)[0]
        errors.append(rel_error(grad, eval_numerical_gradient_array(f, args[i], dout)))
    return max(errors)


def _cell_args(rng, k, N=3, D=5, H=4, T=None):
    x_shape = (N, D) if T is None else (N, T, D)
    return [rng.standard_normal(x_shape), rng.standard_normal((N, H)),
            0.5 * rng.standard_normal((D, k * H)), 0.5 * rng.standard_normal((H, k * H)),
            0.5 * rng.standard_normal(k * H)]


def check_affine(rng):
    args = [rng.standard_normal((3, 2, 3)), rng.standard_normal((6, 4)), rng.standard_normal(4)]
    return _max_error(L.affine_forward, L.affine_backward, args, rng=rng)


def check_rnn_step(rng):
    return _max_error(L.rnn_step_forward, L.rnn_step_backward, _cell_args(rng, 1), rng=rng)


def check_rnn(rng):
    return _max_error(L.rnn_forward, L.rnn_backward, _cell_args(rng, 1, T=4), rng=rng)


def check_gru_step(rng):
    return _max_error(L.gru_step_forward, L.gru_step_backward, _cell_args(rng, 3), rng=rng)


def check_gru(rng):
    return _max_error(L.gru_forward, L.gru_backward, _cell_args(rng, 3, T=4), rng=rng)


def check_lstm(rng):
    return _max_error(L.lstm_forward, L.lstm_backward, _cell_args(rng, 4, T=4), rng=rng)


def check_lstm_step(rng):
    x, h, Wx, Wh, b = _cell_args(rng, 4)
    c = rng.standard_normal(h.shape)

    def forward(x, h, c, Wx, Wh, b):
        next_h, next_c, cache = L.lstm_step_forward(x, h, c, Wx, Wh, b)
        return np.concatenate([next_h, next_c], axis=1), cache

    def backward(dout, cache):
        H = dout.shape[1] // 2
        return L.lstm_step_backward(dout[:, :H], dout[:, H:], cache)

    return _max_error(forward, backward, [x, h, c, Wx, Wh, b], rng=rng)


def check_word_embedding(rng):
    x = rng.integers(0, 5, size=(3, 4))
    W = rng.standard_normal((5, 6))
    out, cache = L.word_embedding_forward(x, W)
    dout = rng.standard_normal(out.shape)
    dW_num = eval_numerical_gradient_array(lambda z: L.word_embedding_forward(x, z)[0], W, dout)
    return rel_error(L.word_embedding_backward(dout, cache), dW_num)


def check_temporal_affine(rng):
    args = [rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)]
    return _max_error(L.temporal_affine_forward, L.temporal_affine_backward, args, rng=rng)


def check_temporal_softmax_loss(rng):
    x = rng.standard_normal((3, 4, 6))
    y = rng.integers(0, 6, size=(3, 4))
    mask = rng.random((3, 4)) > 0.3
    mask[0] = False  # a fully masked row
    _, dx = L.temporal_softmax_loss(x, y, mask)
    dx_num = eval_numerical_gradient(lambda z: L.temporal_softmax_loss(z, y, mask)[0], x,
                                     verbose=False)
    return rel_error(dx, dx_num)


def check_model(cell_type):
    """Gradient check of CaptioningRNN.loss for one cell type (float64, tiny sizes)."""
    def check(rng):
        from .classifiers.rnn import CaptioningRNN
        word_to_idx = {"<NULL>": 0, "<START>": 1, "<END>": 2, "cat": 3, "dog": 4, "a": 5}
        model = CaptioningRNN(word_to_idx, input_dim=4, wordvec_dim=3, hidden_dim=5,
                              cell_type=cell_type, dtype=np.float64)
        for k, v in model.params.items():
            model.params[k] = 0.5 * rng.standard_normal(v.shape)
        features = rng.standard_normal((2, 4))
        captions = rng.integers(0, 6, size=(2, 5))
        captions[1, 3:] = 0  # padding, so the mask matters
        _, grads = model.loss(features, captions)
        errors = []
        for name in sorted(model.params):
            f = lambda _: model.loss(features, captions)[0]
            num = eval_numerical_gradient(f, model.params[name], verbose=False)
            errors.append(rel_error(num, grads[name]))
        return max(errors)
    return check


LAYER_CHECKS = [
    ("affine", check_affine),
    ("rnn_step", check_rnn_step),
    ("rnn", check_rnn),
    ("lstm_step", check_lstm_step),
    ("lstm", check_lstm),
    ("gru_step", check_gru_step),
    ("gru", check_gru),
    ("word_embedding", check_word_embedding),
    ("temporal_affine", check_temporal_affine),
    ("temporal_softmax_loss", check_temporal_softmax_loss),
]

MODEL_CHECKS = [("CaptioningRNN[%s]" % c, check_model(c), MODEL_THRESHOLD)
                for c in ("rnn", "lstm", "gru")]


def run_checks(checks, seed=0):
    """Run (name, check[, threshold]) tuples; returns a list of (name, max_rel_error, passed).

    A check whose layer raises NotImplementedError (a student copy) gets error None and fails.
    """
    results = []
    for name, check, *threshold in checks:
        try:
            err = check(np.random.default_rng(seed))
        except NotImplementedError:
            results.append((name, None, False))
            continue
        results.append((name, err, bool(err < (threshold[0] if threshold else THRESHOLD))))
    return results
