"""CaptioningRNN's loss and greedy sampling, fast (the model's fast=True path).

  loss(model, features, captions)    equals  CaptioningRNN.loss with fast=False
  greedy_sample(model, features, T)  equals  CaptioningRNN.sample with fast=False (greedy)

The tricks: repeated caption words share their input products (x·Wx once per distinct word,
dW_embed and dWx from per-word sums); the output layer scores only the positions whose target
is a word (output.py); dW_proj and db_proj without the features' unused gradient. Greedy
decoding forms W_embed·Wx + b once for the whole vocabulary, and one product per step,
h·[Wh | W_vocab], gives the scores and the next step's h·Wh together.

Callers (CaptioningRNN) check the inputs first: features (N, D) in the model's dtype, captions
(N, T + 1) of valid word indices, parameters of the right shapes and dtype.
"""
import numpy as np

from .cells import (gru_sequence, gru_sequence_backward, gru_step_xa, lstm_exponents,
                    lstm_sequence, lstm_sequence_backward, lstm_step_xa, rnn_sequence,
                    rnn_sequence_backward, rnn_step_xa)
from .output import temporal_affine_softmax_loss

SEQUENCES = {
    "rnn": (rnn_sequence, rnn_sequence_backward),
    "lstm": (lstm_sequence, lstm_sequence_backward),
    "gru": (gru_sequence, gru_sequence_backward),
}


def loss(model, features, captions):
    """(loss, grads) of model on checked inputs; (NaN, NaN grads) if anything is not finite."""
    p = model.params
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != model.word_to_idx["<NULL>"]
    h0 = features @ p["W_proj"]
    h0 += p["b_proj"]
    # Words time-major, as the sequences store their inputs; xs_words names each row's word.
    words = captions_in.T
    xs = p["W_embed"][words]
    xs_words = words.ravel()
    if not (np.isfinite(xs).all() and np.isfinite(h0).all()):
        return None  # the readable path's input checks would reject these
    forward, backward = SEQUENCES[model.cell_type]
    h, cache = forward(xs, h0, p["Wx"], p["Wh"], p["b"], xs_words, p["W_embed"])
    grads = {}
    value, dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_softmax_loss(
        h, p["W_vocab"], p["b_vocab"], captions_out, mask)
    if not np.isfinite(value):
        return None
    grads["W_embed"], dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(
        dh, cache, xs_words, model.vocab_size)
    grads["W_proj"], grads["b_proj"] = features.T @ dh0, dh0.sum(axis=0)
    return value, grads


def greedy_sample(model, features, max_length):
    """Greedy captions (N, max_length) of model on checked features, as CaptioningRNN.sample."""
    p = model.params
    null, start = model.word_to_idx["<NULL>"], model.word_to_idx["<START>"]
    end = model.word_to_idx.get("<END>")
    N = features.shape[0]
    captions = np.full((N, max_length), null, dtype=np.int32)
    h = features @ p["W_proj"]
    h += p["b_proj"]
    c = np.zeros_like(h)
    Wx, b, Wh = p["Wx"], p["b"], p["Wh"]
    if model.cell_type == "lstm":  # the LSTM kernel's exponent factors, once, not per step
        scale = lstm_exponents(model.hidden_dim, Wh.dtype)
        Wx, b, Wh = Wx * scale, b * scale, Wh * scale
    xa_table = p["W_embed"] @ Wx  # row w: W_embed[w]·Wx + b
    xa_table += b
    kH = Wh.shape[1]
    W_next = np.concatenate([Wh, p["W_vocab"]], axis=1)
    hWh = h @ Wh
    words = np.full(N, start)
    done = np.zeros(N, dtype=bool)
    for t in range(max_length):
        xa = xa_table[words]
        if model.cell_type == "lstm":
            h, c = lstm_step_xa(xa, hWh, c, scaled=True)
        elif model.cell_type == "gru":
            h = gru_step_xa(xa, hWh, h)
        else:
            h = rnn_step_xa(xa, hWh)
        hW = h @ W_next
        hWh, scores = hW[:, :kH], hW[:, kH:]
        scores += p["b_vocab"]
        words = scores.argmax(axis=1)
        captions[~done, t] = words[~done]
        if end is not None:
            done |= words == end
        if done.all():
            break
    return captions
