"""Incremental decoding for CaptioningTransformer: greedy sample() (fast=True) and the one-word
steps that beam search and temperature sampling (rnncap/decoding.py) drive.

The readable CaptioningTransformer.sample (fast=False) runs the whole partial caption through
every layer at every step, as CS231n's does: step t costs t + 1 positions. Under the causal mask,
appending a word changes no earlier position's output, so those rows are recomputed only to be
thrown away. Here:

- each step runs only the newest position through the layers; self-attention reads the keys and
  values of the earlier positions from a per-layer cache (a "KV cache") that grows by one
  position per step;
- cross-attention's keys and values of the memory are computed once per layer, not per step;
  for vector features (a memory of one vector) the attention weight is exactly 1, so
  cross-attention's output, (memory Wv + bv) Wo + bo, is a constant per image, computed once;
- the query, key and value projections of self-attention are one product with [Wq | Wk | Wv];
- greedy sample() drops the rows that have emitted <END> from the work (their caption is final).

sample(model, features, max_length) = CaptioningTransformer.sample(features, max_length) with
fast=False, up to the rounding of different summation orders (the captions are identical in
float64; tests/test_transformer_model.py checks it). initial_state / step give the scores of the
next word after each prefix, the same scores the readable decoder computes for its last position.
No dropout: this is test time. The training step has no kernel: the readable layers already
match PyTorch CPU's speed (benchmarks/bench_transformer.py).
"""
import math

import numpy as np


class DecoderState:
    """The incremental state of a batch of partial captions: every array has one row per
    caption, so state[rows] (rows: an index array or a slice) selects captions, as beam search
    does with hypotheses.

    Attributes:
    - t: the number of words read so far (every row has read the same number)
    - layers: one dict per decoder layer: 'keys' and 'values' (n, H, t, Dh), self-attention's
      cache; 'cross_out' (n, W) for a memory of one vector, else 'mem_k' (n, H, Dh, S) and
      'mem_v' (n, H, S, Dh), cross-attention's keys (transposed) and values
    """

    def __init__(self, t, layers):
        self.t, self.layers = t, layers

    def __getitem__(self, rows):
        return DecoderState(self.t, [{k: v[rows] for k, v in layer.items()}
                                     for layer in self.layers])

    def __len__(self):
        return len(next(iter(self.layers[0].values())))


def _layernorm(x, gamma, beta, eps=1e-5):
    """layernorm_forward's output for x (n, W), without the cache."""
    x = x - x.mean(axis=-1, keepdims=True)
    x *= 1 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + x.dtype.type(eps))
    x *= gamma
    x += beta
    return x


def _softmax_(scores):
    """In-place softmax over the last axis."""
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def _activation(name, a):
    if name == "relu":
        return np.maximum(a, 0, out=a)
    from ..transformer_layers import gelu_forward  # exact GELU: the reference's erf
    return gelu_forward(a)[0]


def initial_state(model, features):
    """
    The state before the first word: the memory's cross-attention arrays, empty caches.

    Inputs:
    - model: A CaptioningTransformer (parameters already checked)
    - features: (N, D) or (N, D, G, G) array in the model's dtype (already checked)

    Returns:
    - state: A DecoderState with t = 0 and N rows
    """
    p, dtype = model.params, np.dtype(model.dtype)
    N = features.shape[0]
    W, H = model.wordvec_dim, model.num_heads
    Dh = W // H
    if model.grid_size is None:
        locations = features[:, None, :]
    else:
        locations = features.reshape(N, model.input_dim, -1).transpose(0, 2, 1)
    memory = locations @ p["W_proj"] + p["b_proj"]
    if model.grid_size is not None:
        memory = memory + p["W_pos"]
    S = memory.shape[1]
    layers = []
    for l in range(model.num_layers):
        lp = model.layer_params(l)
        layer = {"keys": np.empty((N, H, 0, Dh), dtype=dtype),
                 "values": np.empty((N, H, 0, Dh), dtype=dtype)}
        mem_v = memory @ lp["cross_attn.Wv"] + lp["cross_attn.bv"]
        if S == 1:  # one key: its weight is 1, whatever the query
            layer["cross_out"] = mem_v[:, 0] @ lp["cross_attn.Wo"] + lp["cross_attn.bo"]
        else:
            mem_k = memory @ lp["cross_attn.Wk"] + lp["cross_attn.bk"]
            layer["mem_k"] = np.ascontiguousarray(mem_k.reshape(N, S, H, Dh).transpose(0, 2, 3, 1))
            layer["mem_v"] = np.ascontiguousarray(mem_v.reshape(N, S, H, Dh).transpose(0, 2, 1, 3))
        layers.append(layer)
    return DecoderState(0, layers)


def step(model, words, state):
    """
    Read one more word in every row: the scores of the word after it.

    Inputs:
    - model: The CaptioningTransformer of the state
    - words: Integer array (n,), the newest word of each row (<START> first)
    - state: A DecoderState with n rows; updated in place (t grows by one, the caches by one
      position) and returned

    Returns a tuple of:
    - scores: (n, V) unnormalised scores of the next word, in the model's dtype
    - state: The same DecoderState
    """
    p = model.params
    W, H = model.wordvec_dim, model.num_heads
    Dh = W // H
    scale = np.dtype(model.dtype).type(1 / math.sqrt(Dh))
    t = state.t
    x = p["W_embed"][words] + model._positions[t]  # (n, W): the newest position only
    n = x.shape[0]
    for l, layer in enumerate(state.layers):
        lp = model.layer_params(l)
        Wqkv = np.concatenate([lp["self_attn.Wq"], lp["self_attn.Wk"], lp["self_attn.Wv"]], 1)
        bqkv = np.concatenate([lp["self_attn.bq"], lp["self_attn.bk"], lp["self_attn.bv"]])
        qkv = x @ Wqkv + bqkv
        q = qkv[:, :W].reshape(n, H, 1, Dh)
        layer["keys"] = np.concatenate([layer["keys"], qkv[:, W:2 * W].reshape(n, H, 1, Dh)], 2)
        layer["values"] = np.concatenate([layer["values"], qkv[:, 2 * W:].reshape(n, H, 1, Dh)],
                                         2)
        weights = _softmax_((q @ layer["keys"].transpose(0, 1, 3, 2)) * scale)  # (n, H, 1, t+1)
        attended = (weights @ layer["values"]).reshape(n, W)
        x = _layernorm(x + attended @ lp["self_attn.Wo"] + lp["self_attn.bo"],
                       lp["norm1.gamma"], lp["norm1.beta"])

        if "cross_out" in layer:
            cross = layer["cross_out"]
        else:
            q = (x @ lp["cross_attn.Wq"] + lp["cross_attn.bq"]).reshape(n, H, 1, Dh)
            weights = _softmax_((q @ layer["mem_k"]) * scale)  # (n, H, 1, S)
            cross = ((weights @ layer["mem_v"]).reshape(n, W) @ lp["cross_attn.Wo"]
                     + lp["cross_attn.bo"])
        x = _layernorm(x + cross, lp["norm2.gamma"], lp["norm2.beta"])

        hidden = _activation(model.activation, x @ lp["ffn.W1"] + lp["ffn.b1"])
        x = _layernorm(x + hidden @ lp["ffn.W2"] + lp["ffn.b2"],
                       lp["norm3.gamma"], lp["norm3.beta"])
    state.t = t + 1
    return x @ p["W_vocab"] + p["b_vocab"], state


def sample(model, features, max_length):
    """
    Greedy captions equal to CaptioningTransformer.sample(features, max_length) with fast=False.

    Inputs:
    - model: A CaptioningTransformer (parameters already checked)
    - features: (N, D) or (N, D, G, G) array in the model's dtype (already checked)
    - max_length: Number of words to generate at most (already checked)

    Returns:
    - captions: int32 array (N, max_length), <NULL> after each row's <END>
    """
    N = features.shape[0]
    captions = np.full((N, max_length), model._null, dtype=np.int32)
    state = initial_state(model, features)
    rows = np.arange(N)  # the rows still decoding, as indices into captions
    words = np.full(N, model._start)
    for t in range(max_length):
        scores, state = step(model, words, state)
        words = scores.argmax(axis=1)
        captions[rows, t] = words
        if model._end is None:
            continue
        going = words != model._end
        if not going.any():
            break
        if not going.all():  # finished rows leave the work
            rows, words, state = rows[going], words[going], state[going]
    return captions
