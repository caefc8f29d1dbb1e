"""Bad input to every public forward function of rnncap.rnn_layers.

Each case starts from a valid call, breaks one argument, and expects a ValueError whose message
names the argument. Only the name is matched; the wording is the implementation's. Where a
mismatch is genuinely between two arguments (x's D against Wx's D), either name is accepted.
"""
import numpy as np
import pytest

from rnncap import rnn_layers as L

N, T, D, H, V, M = 2, 3, 4, 5, 6, 7


def f64(*shape):
    return np.random.default_rng(0).standard_normal(shape)


def valid_args():
    """Valid keyword arguments for every public forward (fresh arrays at every call)."""
    return {
        "affine_forward": dict(x=f64(N, 3, 4), w=f64(12, M), b=f64(M)),
        "rnn_step_forward": dict(x=f64(N, D), prev_h=f64(N, H), Wx=f64(D, H), Wh=f64(H, H),
                                 b=f64(H)),
        "rnn_forward": dict(x=f64(N, T, D), h0=f64(N, H), Wx=f64(D, H), Wh=f64(H, H), b=f64(H)),
        "word_embedding_forward": dict(x=np.array([[0, 5, 1], [2, 2, 3]]), W=f64(V, D)),
        "lstm_step_forward": dict(x=f64(N, D), prev_h=f64(N, H), prev_c=f64(N, H),
                                  Wx=f64(D, 4 * H), Wh=f64(H, 4 * H), b=f64(4 * H)),
        "lstm_forward": dict(x=f64(N, T, D), h0=f64(N, H), Wx=f64(D, 4 * H), Wh=f64(H, 4 * H),
                             b=f64(4 * H)),
        "gru_step_forward": dict(x=f64(N, D), prev_h=f64(N, H), Wx=f64(D, 3 * H),
                                 Wh=f64(H, 3 * H), b=f64(3 * H)),
        "gru_forward": dict(x=f64(N, T, D), h0=f64(N, H), Wx=f64(D, 3 * H), Wh=f64(H, 3 * H),
                            b=f64(3 * H)),
        "temporal_affine_forward": dict(x=f64(N, T, D), w=f64(D, M), b=f64(M)),
        "temporal_softmax_loss": dict(x=f64(N, T, V), y=np.array([[0, 5, 1], [2, 2, 3]]),
                                      mask=np.array([[True, True, False], [True, False, False]])),
    }


def with_nan(a):
    a = a.copy()
    a.flat[1] = np.nan
    return a


def with_inf(a):
    a = a.copy()
    a.flat[0] = -np.inf
    return a


# (function, argument to replace, bad value, names any one of which the message must contain)
CASES = [
    # affine
    ("affine_forward", "w", f64(11, M), ("w", "x")),
    ("affine_forward", "w", f64(12), ("w",)),
    ("affine_forward", "b", f64(M + 1), ("b",)),
    ("affine_forward", "b", f64(1, M), ("b",)),
    ("affine_forward", "x", f64(N, 3, 4).astype(np.float32), ("x",)),
    # rnn step
    ("rnn_step_forward", "x", f64(N, D + 1), ("x", "Wx")),
    ("rnn_step_forward", "x", f64(N, 1, D), ("x",)),
    ("rnn_step_forward", "prev_h", f64(N, H + 1), ("prev_h",)),
    ("rnn_step_forward", "prev_h", f64(N + 1, H), ("prev_h", "x")),
    ("rnn_step_forward", "Wh", f64(H, H + 1), ("Wh",)),
    ("rnn_step_forward", "b", f64(H + 1), ("b",)),
    ("rnn_step_forward", "prev_h", f64(N, H).astype(np.float32), ("prev_h",)),
    # rnn sequence
    ("rnn_forward", "x", f64(N, D), ("x",)),
    ("rnn_forward", "x", f64(N, T, D + 1), ("x", "Wx")),
    ("rnn_forward", "h0", f64(N, H + 1), ("h0",)),
    ("rnn_forward", "h0", f64(N + 1, H), ("h0", "x")),
    ("rnn_forward", "Wh", f64(H, H + 1), ("Wh",)),
    ("rnn_forward", "b", f64(H - 1), ("b",)),
    ("rnn_forward", "Wx", f64(D, H).astype(np.float32), ("Wx",)),
    # word embedding
    ("word_embedding_forward", "x", np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 0.0]]), ("x",)),
    ("word_embedding_forward", "x", np.array([[0, 1, V], [1, 1, 0]]), ("x",)),
    ("word_embedding_forward", "x", np.array([[0, 1, 2], [-1, 1, 0]]), ("x",)),
    ("word_embedding_forward", "x", np.zeros((N, T, 1), dtype=int), ("x",)),
    ("word_embedding_forward", "W", f64(V * D), ("W",)),
    ("word_embedding_forward", "W", np.ones((V, D), dtype=int), ("W",)),
    # lstm step
    ("lstm_step_forward", "x", f64(N, D + 1), ("x", "Wx")),
    ("lstm_step_forward", "prev_h", f64(N, H + 1), ("prev_h",)),
    ("lstm_step_forward", "prev_c", f64(N, H + 1), ("prev_c",)),
    ("lstm_step_forward", "prev_c", f64(N + 1, H), ("prev_c",)),
    ("lstm_step_forward", "Wx", f64(D, 4 * H - 1), ("Wx",)),       # not a multiple of 4
    ("lstm_step_forward", "Wx", f64(D, 3 * H), ("Wx",)),           # a GRU-sized Wx (15 columns)
    ("lstm_step_forward", "Wh", f64(H, 3 * H), ("Wh",)),
    ("lstm_step_forward", "b", f64(3 * H), ("b",)),
    ("lstm_step_forward", "b", f64(4 * H + 1), ("b",)),
    ("lstm_step_forward", "prev_c", f64(N, H).astype(np.float32), ("prev_c",)),
    # lstm sequence
    ("lstm_forward", "x", f64(N, D), ("x",)),
    ("lstm_forward", "h0", f64(N, H + 1), ("h0",)),
    ("lstm_forward", "Wx", f64(D, 4 * H - 2), ("Wx",)),
    ("lstm_forward", "Wh", f64(H, 4 * H + 1), ("Wh",)),
    ("lstm_forward", "b", f64(H), ("b",)),
    ("lstm_forward", "b", f64(4 * H).astype(np.float32), ("b",)),
    # gru step
    ("gru_step_forward", "x", f64(N, D + 1), ("x", "Wx")),
    ("gru_step_forward", "prev_h", f64(N, H + 1), ("prev_h",)),
    ("gru_step_forward", "Wx", f64(D, 4 * H), ("Wx",)),            # an LSTM-sized Wx (20 columns)
    ("gru_step_forward", "Wh", f64(H, 4 * H), ("Wh",)),
    ("gru_step_forward", "b", f64(4 * H), ("b",)),
    ("gru_step_forward", "Wh", f64(H, 3 * H).astype(np.float32), ("Wh",)),
    # gru sequence
    ("gru_forward", "x", f64(N, T), ("x",)),
    ("gru_forward", "h0", f64(N, H + 1), ("h0",)),
    ("gru_forward", "Wx", f64(D, 3 * H + 1), ("Wx",)),
    ("gru_forward", "Wh", f64(H + 1, 3 * H), ("Wh",)),
    ("gru_forward", "b", f64(3 * H - 1), ("b",)),
    ("gru_forward", "x", f64(N, T, D).astype(np.float32), ("x",)),
    # temporal affine
    ("temporal_affine_forward", "x", f64(N, D), ("x",)),
    ("temporal_affine_forward", "w", f64(D + 1, M), ("w", "x")),
    ("temporal_affine_forward", "b", f64(M + 1), ("b",)),
    ("temporal_affine_forward", "w", f64(D, M).astype(np.float32), ("w",)),
    # temporal softmax loss
    ("temporal_softmax_loss", "x", f64(N, V), ("x",)),
    ("temporal_softmax_loss", "y", np.zeros((N, T + 1), dtype=int), ("y",)),
    ("temporal_softmax_loss", "y", np.zeros((N + 1, T), dtype=int), ("y",)),
    ("temporal_softmax_loss", "y", np.zeros((N, T)), ("y",)),                  # float targets
    ("temporal_softmax_loss", "y", np.array([[0, 1, V], [0, 0, 0]]), ("y",)),  # out of range
    ("temporal_softmax_loss", "y", np.array([[0, 1, 2], [0, -1, 0]]), ("y",)),
    ("temporal_softmax_loss", "mask", np.ones((N, T - 1), dtype=bool), ("mask",)),
    ("temporal_softmax_loss", "mask", np.ones((T, N), dtype=bool), ("mask",)),
    ("temporal_softmax_loss", "mask", np.full((N, T), 2), ("mask",)),
    ("temporal_softmax_loss", "mask", np.ones((N, T)), ("mask",)),
    ("temporal_softmax_loss", "x", with_nan(f64(N, T, V)), ("x",)),
    ("temporal_softmax_loss", "x", with_inf(f64(N, T, V)), ("x",)),
    # non-finite inputs to the recurrent cells (a NaN would silently poison every later step)
    ("rnn_step_forward", "x", with_nan(f64(N, D)), ("x",)),
    ("rnn_forward", "h0", with_inf(f64(N, H)), ("h0",)),
    ("lstm_step_forward", "prev_c", with_nan(f64(N, H)), ("prev_c",)),
    ("lstm_forward", "x", with_nan(f64(N, T, D)), ("x",)),
    ("gru_step_forward", "prev_h", with_inf(f64(N, H)), ("prev_h",)),
    ("gru_forward", "x", with_inf(f64(N, T, D)), ("x",)),
]


def case_id(case):
    fn, arg, bad, _ = case
    return "%s-%s-%s-%s" % (fn, arg, "x".join(map(str, bad.shape)), bad.dtype)


@pytest.mark.parametrize("fn, arg, bad, names", CASES, ids=[case_id(c) for c in CASES])
def test_bad_argument_raises_value_error_naming_it(fn, arg, bad, names):
    kwargs = valid_args()[fn]
    kwargs[arg] = bad
    pattern = r"\b(%s)\b" % "|".join(names)
    with pytest.raises(ValueError, match=pattern):
        getattr(L, fn)(**kwargs)


@pytest.mark.parametrize("fn", sorted(valid_args()))
def test_valid_arguments_are_accepted(fn):
    """The baseline of every case above is a valid call (so each error comes from the one change)."""
    getattr(L, fn)(**valid_args()[fn])


@pytest.mark.parametrize("fn", sorted(valid_args()))
def test_positional_order_matches_cs231n(fn):
    """The keyword names above are CS231n's argument names, in CS231n's order."""
    kwargs = valid_args()[fn]
    by_keyword = getattr(L, fn)(**kwargs)
    by_position = getattr(L, fn)(*kwargs.values())
    first_kw, first_pos = by_keyword[0], by_position[0]
    assert np.array_equal(np.asarray(first_kw), np.asarray(first_pos))
