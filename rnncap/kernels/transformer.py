"""Fast greedy sampling for CaptioningTransformer(fast=True): the same captions as the readable
CaptioningTransformer.sample (fast=False), with a fraction of the work.

The readable sample() runs the whole partial caption through every layer at every step, as
CS231n's does: step t costs t + 1 positions. Under the causal mask, appending a word changes no
earlier position's output, so those rows are recomputed only to be thrown away. Here:

- sample() decodes incrementally: each step runs only the newest position through the layers;
  self-attention reads the keys and values of earlier positions from a per-layer cache
  (a "KV cache"), appended to as the caption grows;
- cross-attention's keys and values of the memory are computed once per layer, not per step;
  for vector features (a memory of one vector) the attention weight is exactly 1, so
  cross-attention's output, (memory Wv + bv) Wo + bo, is a constant per image, computed once;
- the query, key and value projections of self-attention are one product with [Wq | Wk | Wv];
- rows that have emitted <END> are dropped from the work (their caption is final).

Equal to the reference up to the rounding of different summation orders (the captions are
identical in float64; tests/test_transformer_model.py checks it); no dropout at test time.
The training step has no kernel: the readable layers already match PyTorch CPU's speed
(benchmarks/bench_transformer.py).
"""
import math

import numpy as np

def _layernorm(x, gamma, beta, eps=1e-5):
    """layernorm_forward's output for x (M, W), without the cache."""
    mu = x.mean(axis=-1, keepdims=True)
    x = x - mu
    var = np.mean(x * x, axis=-1, keepdims=True)
    x *= 1 / np.sqrt(var + x.dtype.type(eps))
    x *= gamma
    x += beta
    return x


def _activation(name, a):
    if name == "relu":
        return np.maximum(a, 0, out=a)
    from ..transformer_layers import gelu_forward  # exact GELU: erf as in the reference
    return gelu_forward(a)[0]


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
    p, dtype = model.params, np.dtype(model.dtype)
    N = features.shape[0]
    W, H, L = model.wordvec_dim, model.num_heads, model.num_layers
    Dh = W // H
    scale = dtype.type(1 / math.sqrt(Dh))
    captions = np.full((N, max_length), model._null, dtype=np.int32)

    if model.grid_size is None:
        locations = features[:, None, :]
    else:
        locations = features.reshape(N, model.input_dim, -1).transpose(0, 2, 1)
    memory = locations @ p["W_proj"] + p["b_proj"]
    if model.grid_size is not None:
        memory = memory + p["W_pos"]
    S = memory.shape[1]

    layers = []
    for l in range(L):
        lp = model.layer_params(l)
        layer = {
            "Wqkv": np.concatenate([lp["self_attn.Wq"], lp["self_attn.Wk"], lp["self_attn.Wv"]],
                                   axis=1),
            "bqkv": np.concatenate([lp["self_attn.bq"], lp["self_attn.bk"], lp["self_attn.bv"]]),
            "keys": np.empty((N, H, max_length, Dh), dtype=dtype),  # the KV cache
            "values": np.empty((N, H, max_length, Dh), dtype=dtype),
        }
        mem_v = memory @ lp["cross_attn.Wv"] + lp["cross_attn.bv"]
        if S == 1:  # one key: its weight is 1, whatever the query
            layer["cross_out"] = mem_v[:, 0] @ lp["cross_attn.Wo"] + lp["cross_attn.bo"]
        else:
            mem_k = memory @ lp["cross_attn.Wk"] + lp["cross_attn.bk"]
            layer["mem_k"] = mem_k.reshape(N, S, H, Dh).transpose(0, 2, 3, 1).copy()  # (N,H,Dh,S)
            layer["mem_v"] = mem_v.reshape(N, S, H, Dh).transpose(0, 2, 1, 3).copy()  # (N,H,S,Dh)
        layer.update(lp)
        layers.append(layer)

    rows = np.arange(N)  # the rows still decoding, as indices into captions
    words = np.full(N, model._start)
    for t in range(max_length):
        x = p["W_embed"][words] + model._positions[t]  # (n, W): the newest position only
        n = x.shape[0]
        for layer in layers:
            qkv = x @ layer["Wqkv"] + layer["bqkv"]
            q = qkv[:, :W].reshape(n, H, 1, Dh)
            layer["keys"][:, :, t] = qkv[:, W:2 * W].reshape(n, H, Dh)
            layer["values"][:, :, t] = qkv[:, 2 * W:].reshape(n, H, Dh)
            keys, values = layer["keys"][:, :, :t + 1], layer["values"][:, :, :t + 1]
            scores = (q @ keys.transpose(0, 1, 3, 2)) * scale  # (n, H, 1, t + 1)
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            attended = (scores @ values).reshape(n, W)
            x = _layernorm(x + attended @ layer["self_attn.Wo"] + layer["self_attn.bo"],
                           layer["norm1.gamma"], layer["norm1.beta"])

            if S == 1:
                cross = layer["cross_out"]
            else:
                q = (x @ layer["cross_attn.Wq"] + layer["cross_attn.bq"]).reshape(n, H, 1, Dh)
                scores = (q @ layer["mem_k"]) * scale  # (n, H, 1, S)
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                cross = ((scores @ layer["mem_v"]).reshape(n, W) @ layer["cross_attn.Wo"]
                         + layer["cross_attn.bo"])
            x = _layernorm(x + cross, layer["norm2.gamma"], layer["norm2.beta"])

            hidden = _activation(model.activation, x @ layer["ffn.W1"] + layer["ffn.b1"])
            x = _layernorm(x + hidden @ layer["ffn.W2"] + layer["ffn.b2"],
                           layer["norm3.gamma"], layer["norm3.beta"])
        scores = x @ p["W_vocab"] + p["b_vocab"]
        words = scores.argmax(axis=1)
        captions[rows, t] = words
        if model._end is None:
            continue
        going = words != model._end
        if not going.any():
            break
        if not going.all():  # drop the finished rows from every per-row array
            rows, words = rows[going], words[going]
            for layer in layers:
                for key in ("keys", "values", "cross_out", "mem_k", "mem_v"):
                    if key in layer:
                        layer[key] = layer[key][going]
    return captions
