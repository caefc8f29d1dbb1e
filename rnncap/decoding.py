"""Decoders beyond greedy for CaptioningRNN and CaptioningTransformer: beam search and
temperature sampling.

Both drive the model one step at a time: model._initial_state(features) gives the first hidden
state, LSTM cell state and (attention LSTM) projected grid A, and model._step(words, h, c, A) ->
(scores, h, c, attention weights) advances every row by one word (a CaptioningTransformer's h is
its incremental decoder state, c and A are None; both select rows with h[rows]).
Log-probabilities are accumulated in float64 whatever the model's dtype. Neither touches the
global np.random.
"""
import numpy as np

from .rnn_layers import log_softmax


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError("%s must be a positive integer, got %r" % (name, value))


def beam_search(model, features, beam_size=3, max_length=30, length_norm=False):
    """
    Beam search: for each image, keep the beam_size most probable partial captions.

    At every step each live hypothesis is extended by every word and the beam_size best
    extensions (by total log-probability) are kept. An extension ending in <END> is finished and
    leaves the beam, which narrows by one; the search stops when no hypothesis is left or after
    max_length words, when the live ones count as finished too. With beam_size=1 this is exactly
    greedy decoding. Ties go to the lower (hypothesis, word) index, like argmax.

    Inputs:
    - model: A CaptioningRNN or CaptioningTransformer (its vocabulary must contain '<START>')
    - features: Image features of shape (N, D), or (N, C, G, G) for an attention model
    - beam_size: Number K of hypotheses kept per image
    - max_length: Maximum number T of generated words
    - length_norm: If True, finished captions are ranked by log-probability divided by their
      length (generated words, <END> included) instead of by total log-probability

    Returns a tuple of:
    - captions: Integer array of shape (N, T) holding each image's best caption, padded with
      <NULL> after its <END>
    - log_probs: float64 array of shape (N,), the total log-probability the model assigns to
      each returned caption (<END> included; not length-normalised)
    """
    _check_positive_int("beam_size", beam_size)
    features = model._prepare_sampling(features, max_length)
    N = features.shape[0]
    captions = np.full((N, max_length), model._null, dtype=np.int32)
    log_probs = np.zeros(N)
    h0, c0, A0 = model._initial_state(features)
    for i in range(N):
        c = None if c0 is None else c0[i:i + 1]
        A = None if A0 is None else A0[i:i + 1]
        words, log_probs[i] = _beam_one(model, h0[i:i + 1], c, A, beam_size, max_length,
                                        length_norm)
        captions[i, :len(words)] = words
    return captions, log_probs


def _beam_one(model, h, c, A, beam_size, max_length, length_norm):
    """Beam search for one image from state h, c of shape (1, H) and grid A (1, H, G, G) or
    None; returns (words, log_prob)."""
    words = np.array([model._start])
    seqs = np.zeros((1, 0), dtype=np.int64)     # (B, t) the live hypotheses
    totals = np.zeros(1)                         # (B,) their log-probabilities
    finished = []                                # (words, log_prob) pairs
    width = beam_size
    for _ in range(max_length):
        scores, h, c, _ = model._step(words, h, c, A)
        candidates = totals[:, None] + log_softmax(scores.astype(np.float64))   # (B, V)
        V = candidates.shape[1]
        best = np.argsort(-candidates.ravel(), kind="stable")[:width]
        beam_idx, words = np.divmod(best, V)
        totals = candidates.ravel()[best]
        seqs = np.concatenate([seqs[beam_idx], words[:, None]], axis=1)
        ended = words == model._end
        finished.extend(zip(seqs[ended], totals[ended]))
        width -= int(ended.sum())
        if width == 0:
            break
        live = ~ended
        seqs, totals, words = seqs[live], totals[live], words[live]
        h = h[beam_idx[live]]
        c = None if c is None else c[beam_idx[live]]
        A = None if A is None else A[beam_idx[live]]
    else:
        finished.extend(zip(seqs, totals))      # ran out of length: live ones count too

    def rank(item):
        seq, total = item
        return total / len(seq) if length_norm else total

    best_seq, best_total = max(finished, key=rank)  # max keeps the first of equal ranks
    return best_seq, float(best_total)


def temperature_sample(model, features, temperature=1.0, max_length=30, rng=None):
    """
    Sample captions word by word from softmax(scores / temperature).

    Lower temperatures approach greedy decoding, higher ones give more varied captions. As in
    greedy sampling, a row's positions after its <END> stay <NULL>.

    Inputs:
    - model: A CaptioningRNN or CaptioningTransformer (its vocabulary must contain '<START>')
    - features: Image features of shape (N, D), or (N, C, G, G) for an attention model
    - temperature: Positive float tau
    - max_length: Maximum number T of generated words
    - rng: A np.random.Generator, an int seed for a new one, or None for a fresh unseeded one;
      the global np.random is never used

    Returns:
    - captions: Integer array of shape (N, T)
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)) \
            or not np.isfinite(temperature) or temperature <= 0:
        raise ValueError("temperature must be a positive finite number, got %r" % (temperature,))
    if rng is None or isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        rng = np.random.default_rng(rng)
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a np.random.Generator, an int seed or None, got %s"
                         % type(rng).__name__)
    features = model._prepare_sampling(features, max_length)
    N = features.shape[0]
    captions = np.full((N, max_length), model._null, dtype=np.int32)
    h, c, A = model._initial_state(features)
    words = np.full(N, model._start)
    done = np.zeros(N, dtype=bool)
    for t in range(max_length):
        scores, h, c, _ = model._step(words, h, c, A)
        probs = np.exp(log_softmax(scores.astype(np.float64) / temperature))
        # Inverse-CDF draw: the first word whose cumulative probability exceeds u.
        u = rng.random((N, 1))
        words = np.minimum((np.cumsum(probs, axis=1) <= u).sum(axis=1), probs.shape[1] - 1)
        captions[~done, t] = words[~done]
        if model._end is not None:
            done |= words == model._end
        if done.all():
            break
    return captions
