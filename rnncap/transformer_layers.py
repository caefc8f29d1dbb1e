"""Transformer decoder layers with hand-written backward passes (the CS231n captioning Transformer).

Every forward returns (out, cache) and every backward takes (dout, cache); caches are plain tuples
of what backward needs (whatever your backward needs, when you write them). Every weight W has shape (in, out) and is applied as x @ W + b. Outputs
follow the input dtype (float32 stays float32). Public forwards check their inputs and raise
ValueError naming the argument; backwards trust their cache.

The pieces, in the order a reader meets them:
  erf, relu_forward/backward, gelu_forward/backward   activations (exact erf-based GELU)
  dropout_forward/backward                            inverted dropout with a np.random.Generator
  layernorm_forward/backward                          layer norm over the last axis
  positional_encoding                                 the sinusoidal position table
  multihead_attention_forward/backward                scaled dot-product attention, several heads
  transformer_decoder_layer_forward/backward          post-norm decoder layer, as in CS231n:
      x = LN1(tgt + SelfAttn(tgt, tgt, tgt, tgt_mask))
      x = LN2(x + CrossAttn(x, memory, memory))
      out = LN3(x + FFN(x)),   FFN(x) = act(x @ W1 + b1) @ W2 + b2

Dropout (off unless a probability and a Generator are given) sits where CS231n puts it: on the
attention weights, on each residual branch before its addition, and after the FFN's activation.
"""
import math

import numpy as np

from ._validate import check_array, check_same_dtype

__all__ = [
    "ATTENTION_KEYS", "DECODER_LAYER_KEYS",
    "erf", "relu_forward", "relu_backward", "gelu_forward", "gelu_backward",
    "dropout_forward", "dropout_backward",
    "layernorm_forward", "layernorm_backward",
    "positional_encoding",
    "multihead_attention_forward", "multihead_attention_backward",
    "transformer_decoder_layer_forward", "transformer_decoder_layer_backward",
]

# The parameters of one multi-head attention, in their initialisation order.
ATTENTION_KEYS = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")
# The parameters of one decoder layer, in their initialisation order.
DECODER_LAYER_KEYS = (
    tuple("self_attn." + k for k in ATTENTION_KEYS)
    + tuple("cross_attn." + k for k in ATTENTION_KEYS)
    + ("norm1.gamma", "norm1.beta", "norm2.gamma", "norm2.beta", "norm3.gamma", "norm3.beta",
       "ffn.W1", "ffn.b1", "ffn.W2", "ffn.b2")
)


# ----------------------------------------------------------------------------- input checks

def _check_float(name, x, ndim=None, shape=None):
    """A finite floating array (check_array with finite=True)."""
    return check_array(name, x, ndim=ndim, shape=shape, finite=True)


def _check_attention(query, key, value, params, num_heads, attn_mask, where="params"):
    """Validate multi-head attention inputs; returns (query, key, value, params, allowed)."""
    query = _check_float("query", query, shape=("N", "S", "E"))
    N, S, E = query.shape
    key = _check_float("key", key, shape=(N, "T", E))
    T = key.shape[1]
    value = _check_float("value", value, shape=(N, T, E))
    if isinstance(num_heads, bool) or not isinstance(num_heads, (int, np.integer)) \
            or num_heads < 1:
        raise ValueError("num_heads must be a positive integer, got %r" % (num_heads,))
    if E % num_heads:
        raise ValueError("num_heads must divide the embedding size E = %d, got num_heads = %d"
                         % (E, num_heads))
    if not isinstance(params, dict):
        raise ValueError("%s must be a dict with keys %s, got %s"
                         % (where, list(ATTENTION_KEYS), type(params).__name__))
    missing = [k for k in ATTENTION_KEYS if k not in params]
    if missing:
        raise ValueError("%s is missing %s (it needs %s)" % (where, missing, list(ATTENTION_KEYS)))
    checked = {}
    for k in ATTENTION_KEYS:
        shape = (E, E) if k.startswith("W") else (E,)
        checked[k] = _check_float("%s['%s']" % (where, k), params[k], shape=shape)
    check_same_dtype(query=query, key=key, value=value,
                     **{"%s['%s']" % (where, k): v for k, v in checked.items()})
    allowed = None
    if attn_mask is not None:
        attn_mask = np.asarray(attn_mask)
        if attn_mask.shape != (S, T):
            raise ValueError("attn_mask must have shape (S, T) = (%d, %d), got %s"
                             % (S, T, attn_mask.shape))
        if attn_mask.dtype.kind not in "biuf":
            raise ValueError("attn_mask must be boolean or numeric (0 blocks), got dtype %s"
                             % attn_mask.dtype)
        allowed = attn_mask != 0
        blind = np.flatnonzero(~allowed.any(axis=1))
        if blind.size:
            raise ValueError("attn_mask blocks every key for query row(s) %s; each query must "
                             "be allowed at least one key" % blind.tolist())
    return query, key, value, checked, allowed


def _check_dropout(p, rng):
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p < 1:
        raise ValueError("dropout must be a probability in [0, 1), got %r" % (p,))
    if p > 0 and not isinstance(rng, np.random.Generator):
        raise ValueError("dropout > 0 needs rng, a np.random.Generator, got %r" % (rng,))


# ----------------------------------------------------------------------------- activations

def erf(x):
    """The error function erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt, elementwise.

    NumPy has none, so it is computed here to an absolute error below 1e-14 in float64 (in x's
    float dtype); erf is odd, so the work is done on |x| and the sign put back:
    - |x| < 2: the series erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (1*3*...*(2n+1)),
      whose terms are all positive (no cancellation); 30 terms reach double precision;
    - |x| >= 2: erfc(x) = 1 - erf(x) from Laplace's continued fraction
      erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + 2 / (x + ...))))),
      evaluated from the 40th level up.

    Inputs:
    - x: Floating-point array of any shape

    Returns:
    - out: erf(x), of x's shape and dtype
    """
    x = check_array("x", x)
    # BEGIN SOLUTION
    # HINT: a power series for small |x|, the continued fraction of erfc for large |x|; erf(-x) = -erf(x)
    a = np.abs(x)
    out = np.empty_like(a)
    small = a < 2
    s = a[small]
    s2 = s * s
    term, total = s.copy(), s.copy()
    for n in range(1, 30):
        term *= 2 * s2 / (2 * n + 1)
        total += term
    out[small] = 2 / math.sqrt(math.pi) * np.exp(-s2) * total
    b = a[~small]
    fraction = b.copy()
    for k in range(40, 0, -1):  # from the deepest level up, so each level divides once
        fraction = b + (k / 2) / fraction
    out[~small] = 1 - np.exp(-b * b) / (math.sqrt(math.pi) * fraction)
    # END SOLUTION
    return np.copysign(out, x)


def relu_forward(x):
    """Rectified linear unit: out = max(x, 0), elementwise.

    Inputs:
    - x: Input data, of any shape

    Returns a tuple of:
    - out: Output, of the same shape as x
    - cache: Whatever your backward pass needs
    """
    x = _check_float("x", x)
    # BEGIN SOLUTION
    # HINT: keep the positive entries and zero the rest (np.maximum); backward needs to know where x was positive
    out = np.maximum(x, 0)
    cache = (x,)
    # END SOLUTION
    return out, cache


def relu_backward(dout, cache):
    """Backward pass for relu_forward.

    Inputs:
    - dout: Upstream gradients, of x's shape
    - cache: From relu_forward

    Returns:
    - dx: Gradient with respect to x, of x's shape
    """
    # BEGIN SOLUTION
    # HINT: the gradient passes where x was positive and is zero elsewhere
    (x,) = cache
    dx = dout * (x > 0)
    # END SOLUTION
    return dx


def gelu_forward(x):
    """Exact GELU (CS231n 2025-2026, torch.nn.GELU()): out = x * Phi(x), elementwise, where
    Phi(x) = (1 + erf(x / sqrt(2))) / 2 is the standard normal CDF.

    Inputs:
    - x: Input data, of any shape

    Returns a tuple of:
    - out: Output, of the same shape as x
    - cache: Whatever your backward pass needs
    """
    x = _check_float("x", x)
    # BEGIN SOLUTION
    # HINT: Phi(x) from erf (above) at x / sqrt(2); keep x and Phi(x), which the backward reuses
    cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
    out = x * cdf
    cache = (x, cdf)
    # END SOLUTION
    return out, cache


def gelu_backward(dout, cache):
    """Backward pass for gelu_forward: d/dx [x Phi(x)] = Phi(x) + x phi(x), where
    phi(x) = exp(-x^2 / 2) / sqrt(2 pi) is the standard normal density.

    Inputs:
    - dout: Upstream gradients, of x's shape
    - cache: From gelu_forward

    Returns:
    - dx: Gradient with respect to x, of x's shape
    """
    # BEGIN SOLUTION
    # HINT: the product rule on x * Phi(x), where Phi' is the normal density phi
    x, cdf = cache
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    dx = dout * (cdf + x * pdf)
    # END SOLUTION
    return dx


_ACTIVATIONS = {"relu": (relu_forward, relu_backward), "gelu": (gelu_forward, gelu_backward)}


# ----------------------------------------------------------------------------- dropout

def dropout_forward(x, p, rng):
    """Inverted dropout: each entry is zeroed with probability p and the survivors are scaled by
    1 / (1 - p), so the expected output is x (evaluation then needs no rescaling).

    Inputs:
    - x: Input data, of any shape
    - p: Probability of dropping an entry, in [0, 1); p = 0 returns x itself and draws nothing
    - rng: A np.random.Generator (draws x.size uniforms); may be None when p = 0

    Returns a tuple of:
    - out: Output, of x's shape and dtype
    - cache: Whatever your backward pass needs
    """
    x = check_array("x", x)
    _check_dropout(p, rng)
    # BEGIN SOLUTION
    # HINT: with p = 0 return x untouched; else keep an entry where rng.random(x.shape) >= p and scale the kept ones by 1 / (1 - p); backward needs that array of 0 and 1 / (1 - p)
    if p == 0:
        return x, (None,)  # no draws: evaluation and checks stay deterministic
    scale = (rng.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    out = x * scale
    cache = (scale,)
    # END SOLUTION
    return out, cache


def dropout_backward(dout, cache):
    """Backward pass for dropout_forward.

    Inputs:
    - dout: Upstream gradients, of x's shape
    - cache: From dropout_forward

    Returns:
    - dx: Gradient with respect to x, of x's shape (dout itself when p was 0)
    """
    # BEGIN SOLUTION
    # HINT: the same entries as the forward pass pass through, with the same 1 / (1 - p)
    (scale,) = cache
    if scale is None:
        return dout
    dx = dout * scale
    # END SOLUTION
    return dx


# ----------------------------------------------------------------------------- layer norm

def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer normalisation over the last axis (torch.nn.LayerNorm):

        mu = mean(x), var = mean((x - mu)^2)   (biased), over the last axis of each row
        xhat = (x - mu) / sqrt(var + eps),     out = gamma * xhat + beta

    Inputs:
    - x: Input data, of shape (..., D)
    - gamma: Scale, of shape (D,)
    - beta: Shift, of shape (D,)
    - eps: Constant added to the variance for numeric stability

    Returns a tuple of:
    - out: Output, of shape (..., D)
    - cache: Whatever your backward pass needs
    """
    x = _check_float("x", x)
    if x.ndim < 1:
        raise ValueError("x must have at least one dimension, got a scalar")
    D = x.shape[-1]
    gamma = _check_float("gamma", gamma, shape=(D,))
    beta = _check_float("beta", beta, shape=(D,))
    check_same_dtype(x=x, gamma=gamma, beta=beta)
    if not (isinstance(eps, (int, float, np.floating)) and eps > 0):
        raise ValueError("eps must be a positive number, got %r" % (eps,))
    # BEGIN SOLUTION
    # HINT: mean and biased variance over the last axis with keepdims=True, so they broadcast; the backward formula needs xhat, 1 / sqrt(var + eps) and gamma
    mu = x.mean(axis=-1, keepdims=True)
    centred = x - mu
    var = (centred * centred).mean(axis=-1, keepdims=True)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    xhat = centred * inv_std
    out = gamma * xhat + beta
    cache = (xhat, inv_std, gamma)
    # END SOLUTION
    return out, cache


def layernorm_backward(dout, cache):
    """Backward pass for layernorm_forward.

    With g = dout * gamma, differentiating xhat = (x - mu) / std through mu and var gives
        dx = (g - mean(g) - xhat * mean(g * xhat)) / std     (means over the last axis).

    Inputs:
    - dout: Upstream gradients, of shape (..., D)
    - cache: From layernorm_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (..., D)
    - dgamma: Gradient with respect to gamma, of shape (D,)
    - dbeta: Gradient with respect to beta, of shape (D,)
    """
    # BEGIN SOLUTION
    # HINT: dbeta and dgamma sum dout and dout * xhat over every axis but the last; dx is the formula above
    xhat, inv_std, gamma = cache
    D = xhat.shape[-1]
    dbeta = dout.reshape(-1, D).sum(axis=0)
    dgamma = (dout * xhat).reshape(-1, D).sum(axis=0)
    g = dout * gamma
    dx = (g - g.mean(axis=-1, keepdims=True)
          - xhat * (g * xhat).mean(axis=-1, keepdims=True)) * inv_std
    # END SOLUTION
    return dx, dgamma, dbeta


# ----------------------------------------------------------------------------- positions

def positional_encoding(max_len, embed_dim):
    """The sinusoidal position table of "Attention Is All You Need" (as CS231n builds it):

        P[t, 2i] = sin(t * 10000^(-2i / embed_dim)),   P[t, 2i + 1] = cos(t * 10000^(-2i / embed_dim))

    Inputs:
    - max_len: Number of positions T (rows), a positive integer
    - embed_dim: Embedding size E (columns), a positive integer

    Returns:
    - P: Array of shape (max_len, embed_dim), float64 (callers cast it to their dtype)
    """
    for name, value in (("max_len", max_len), ("embed_dim", embed_dim)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError("%s must be a positive integer, got %r" % (name, value))
    # BEGIN SOLUTION
    # HINT: one frequency per pair of columns; sines in the even columns, cosines in the odd
    t = np.arange(max_len)[:, None]
    two_i = np.arange(0, embed_dim, 2)  # the exponent 2i shared by columns 2i and 2i + 1
    angle = t * 10000.0 ** (-two_i / embed_dim)  # (max_len, ceil(embed_dim / 2))
    P = np.zeros((max_len, embed_dim))
    P[:, 0::2] = np.sin(angle)
    P[:, 1::2] = np.cos(angle[:, :embed_dim // 2])
    # END SOLUTION
    return P


# ----------------------------------------------------------------------------- attention

def multihead_attention_forward(query, key, value, params, num_heads, attn_mask=None,
                                dropout=0.0, rng=None):
    """Multi-head scaled dot-product attention (CS231n's MultiHeadAttention).

    With H = num_heads heads of size Dh = E / H, head h uses columns h*Dh:(h+1)*Dh of
        q = query @ Wq + bq,   k = key @ Wk + bk,   v = value @ Wv + bv
    and computes
        scores = q_h k_h^T / sqrt(Dh)                      (blocked where attn_mask is 0)
        weights = softmax(scores) over the keys,   head_h = weights @ v_h
    The output is concat(head_0, ..., head_{H-1}) @ Wo + bo.

    Inputs:
    - query: Input data used as the query, of shape (N, S, E)
    - key: Input data used as the key, of shape (N, T, E)
    - value: Input data used as the value, of shape (N, T, E)
    - params: Dictionary with Wq, Wk, Wv, Wo of shape (E, E) and bq, bk, bv, bo of shape (E,)
    - num_heads: Number of heads H; must divide E
    - attn_mask: Optional array of shape (S, T); where it is False or 0, query i may not attend
      to key j. Every query must keep at least one key.
    - dropout: Probability of dropping an attention weight (training only); default 0
    - rng: A np.random.Generator, needed when dropout > 0

    Returns a tuple of:
    - out: Output, of shape (N, S, E)
    - cache: Whatever your backward pass needs
    """
    query, key, value, params, allowed = _check_attention(query, key, value, params,
                                                          num_heads, attn_mask)
    _check_dropout(dropout, rng)
    N, S, E = query.shape
    T = key.shape[1]
    H, Dh = num_heads, E // num_heads
    # allowed: attn_mask != 0, a boolean (S, T) array, or None without a mask
    # BEGIN SOLUTION
    # HINT: project the three inputs, then reshape (N, L, E) -> (N, L, H, Dh) and transpose to (N, H, L, Dh) so that matmul works head by head; scores (N, H, S, T) get -inf where allowed is False (None: no mask); softmax over the last axis, dropout_forward on the weights, weights @ v, then undo the transpose and reshape to (N, S, E) before Wo; backward needs the inputs, the per-head q, k, v, the weights before and after dropout, the concatenated heads and params
    q = (query @ params["Wq"] + params["bq"]).reshape(N, S, H, Dh).transpose(0, 2, 1, 3)
    k = (key @ params["Wk"] + params["bk"]).reshape(N, T, H, Dh).transpose(0, 2, 1, 3)
    v = (value @ params["Wv"] + params["bv"]).reshape(N, T, H, Dh).transpose(0, 2, 1, 3)

    scores = q @ k.transpose(0, 1, 3, 2) / q.dtype.type(math.sqrt(Dh))  # (N, H, S, T)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)  # exp(-inf) = 0: no weight on blocked keys
    scores = scores - scores.max(axis=-1, keepdims=True)  # stable softmax; every row has a key
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    dropped, drop_cache = dropout_forward(weights, dropout, rng)

    heads = (dropped @ v).transpose(0, 2, 1, 3).reshape(N, S, E)  # head h in columns h*Dh:...
    out = heads @ params["Wo"] + params["bo"]
    cache = (query, key, value, q, k, v, weights, dropped, heads, params, drop_cache)
    # END SOLUTION
    return out, cache


def multihead_attention_backward(dout, cache):
    """Backward pass for multihead_attention_forward.

    The softmax backward per row is dscores = weights * (dweights - sum(dweights * weights)).
    When the same array was passed as query, key and value (self-attention), the caller adds
    dquery, dkey and dvalue.

    Inputs:
    - dout: Upstream gradients, of shape (N, S, E)
    - cache: From multihead_attention_forward

    Returns a tuple of:
    - dquery: Gradient with respect to query, of shape (N, S, E)
    - dkey: Gradient with respect to key, of shape (N, T, E)
    - dvalue: Gradient with respect to value, of shape (N, T, E)
    - dparams: Dictionary of gradients with the keys of params (Wq, bq, ..., Wo, bo)
    """
    # BEGIN SOLUTION
    # HINT: undo the forward step by step: Wo (a temporal affine), the merge of the heads (reshape and transpose back), weights @ v (two matmuls), dropout_backward, the softmax (formula above), the 1/sqrt(Dh) scale, then each projection sends its gradient to its input and its W and b
    query, key, value, q, k, v, weights, dropped, heads, params, drop_cache = cache
    N, H, S, Dh = q.shape
    T, E = k.shape[2], H * Dh
    dparams = {}
    dparams["Wo"] = heads.reshape(N * S, E).T @ dout.reshape(N * S, E)
    dparams["bo"] = dout.reshape(N * S, E).sum(axis=0)
    dheads = (dout @ params["Wo"].T).reshape(N, S, H, Dh).transpose(0, 2, 1, 3)  # (N, H, S, Dh)

    ddropped = dheads @ v.transpose(0, 1, 3, 2)  # (N, H, S, T)
    dv = dropped.transpose(0, 1, 3, 2) @ dheads  # (N, H, T, Dh)
    dweights = dropout_backward(ddropped, drop_cache)
    dscores = weights * (dweights - (dweights * weights).sum(axis=-1, keepdims=True))
    dscores /= dscores.dtype.type(math.sqrt(Dh))
    dq = dscores @ k  # (N, H, S, Dh)
    dk = dscores.transpose(0, 1, 3, 2) @ q  # (N, H, T, Dh)

    grads_in = []
    for name, x, d in (("q", query, dq), ("k", key, dk), ("v", value, dv)):
        L = x.shape[1]
        d = d.transpose(0, 2, 1, 3).reshape(N * L, E)  # heads back side by side
        dparams["W" + name] = x.reshape(N * L, E).T @ d
        dparams["b" + name] = d.sum(axis=0)
        grads_in.append((d @ params["W" + name].T).reshape(N, L, E))
    dquery, dkey, dvalue = grads_in
    # END SOLUTION
    dparams = {name: dparams[name] for name in ATTENTION_KEYS}
    return dquery, dkey, dvalue, dparams


# ----------------------------------------------------------------------------- decoder layer

def _check_layer_params(params, E, dtype):
    """The decoder layer's parameters: every key of DECODER_LAYER_KEYS, with tgt's dtype and
    the shapes the docstring gives (F, the FFN's width, is read from ffn.W1)."""
    if not isinstance(params, dict):
        raise ValueError("params must be a dict with keys %s, got %s"
                         % (list(DECODER_LAYER_KEYS), type(params).__name__))
    missing = [k for k in DECODER_LAYER_KEYS if k not in params]
    if missing:
        raise ValueError("params is missing %s (a decoder layer needs %s)"
                         % (missing, list(DECODER_LAYER_KEYS)))
    F = _check_float("params['ffn.W1']", params["ffn.W1"], shape=(E, "F")).shape[1]
    for name in DECODER_LAYER_KEYS:
        last = name.split(".")[-1]
        if name.startswith("ffn."):
            shape = {"W1": (E, F), "b1": (F,), "W2": (F, E), "b2": (E,)}[last]
        else:
            shape = (E, E) if last.startswith("W") else (E,)
        value = _check_float("params['%s']" % name, params[name], shape=shape)
        if value.dtype != dtype:
            raise ValueError("params['%s'] must have tgt's dtype %s, got %s"
                             % (name, dtype, value.dtype))


def transformer_decoder_layer_forward(tgt, memory, params, num_heads, tgt_mask=None,
                                      activation="relu", dropout=0.0, rng=None):
    """One post-norm Transformer decoder layer (CS231n's TransformerDecoderLayer):

        x1 = LN1(tgt + SelfAttn(tgt, tgt, tgt, tgt_mask))
        x2 = LN2(x1 + CrossAttn(x1, memory, memory))
        out = LN3(x2 + act(x2 @ W1 + b1) @ W2 + b2)

    Inputs:
    - tgt: The sequence fed to the layer, of shape (N, T, E)
    - memory: The sequence it attends to (the image), of shape (N, S, E)
    - params: Dictionary with the keys DECODER_LAYER_KEYS: 'self_attn.Wq' ... 'self_attn.bo',
      'cross_attn.Wq' ... 'cross_attn.bo' (as multihead_attention_forward takes them),
      'norm1.gamma', 'norm1.beta', ..., 'norm3.beta' of shape (E,), 'ffn.W1' (E, F),
      'ffn.b1' (F,), 'ffn.W2' (F, E), 'ffn.b2' (E,)
    - num_heads: Number of attention heads; must divide E
    - tgt_mask: Optional self-attention mask, of shape (T, T) (False or 0 blocks)
    - activation: 'relu' (CS231n 2021-2024) or 'gelu' (the exact GELU of CS231n 2025-2026)
    - dropout: Dropout probability during training (attention weights, each residual branch,
      the FFN's hidden units); default 0
    - rng: A np.random.Generator, needed when dropout > 0

    Returns a tuple of:
    - out: Output, of shape (N, T, E)
    - cache: Whatever your backward pass needs
    """
    tgt = _check_float("tgt", tgt, shape=("N", "T", "E"))
    N, T, E = tgt.shape
    memory = _check_float("memory", memory, shape=(N, "S", E))
    check_same_dtype(tgt=tgt, memory=memory)
    if activation not in _ACTIVATIONS:
        raise ValueError("activation must be 'relu' or 'gelu', got %r" % (activation,))
    _check_layer_params(params, E, tgt.dtype)
    if tgt_mask is not None and np.shape(tgt_mask) != (T, T):
        raise ValueError("tgt_mask must have shape (T, T) = (%d, %d), got %s"
                         % (T, T, np.shape(tgt_mask)))
    _check_dropout(dropout, rng)
    act_forward = _ACTIVATIONS[activation][0]  # relu_forward or gelu_forward
    self_params = {k: params["self_attn." + k] for k in ATTENTION_KEYS}
    cross_params = {k: params["cross_attn." + k] for k in ATTENTION_KEYS}
    # BEGIN SOLUTION
    # HINT: three sub-layers, each x = LN(x + dropout(sublayer(x))) with multihead_attention_forward (self: tgt three times with tgt_mask; cross: x, memory, memory), layernorm_forward, act_forward and dropout_forward (also on the FFN's activations); keep every sub-layer's cache, the FFN's input and activations, params and the activation's name
    # Self-attention: every word looks at the words the mask allows.
    sa, cache_sa = multihead_attention_forward(tgt, tgt, tgt, self_params, num_heads, tgt_mask,
                                               dropout, rng)
    sa, cache_drop1 = dropout_forward(sa, dropout, rng)
    x1, cache_norm1 = layernorm_forward(tgt + sa, params["norm1.gamma"], params["norm1.beta"])

    # Cross-attention: every word looks at the image.
    ca, cache_ca = multihead_attention_forward(x1, memory, memory, cross_params, num_heads,
                                               None, dropout, rng)
    ca, cache_drop2 = dropout_forward(ca, dropout, rng)
    x2, cache_norm2 = layernorm_forward(x1 + ca, params["norm2.gamma"], params["norm2.beta"])

    # Feed-forward network, the same at every position.
    hidden = x2 @ params["ffn.W1"] + params["ffn.b1"]  # (N, T, F)
    act, cache_act = act_forward(hidden)
    act, cache_drop_act = dropout_forward(act, dropout, rng)
    ff = act @ params["ffn.W2"] + params["ffn.b2"]
    ff, cache_drop3 = dropout_forward(ff, dropout, rng)
    out, cache_norm3 = layernorm_forward(x2 + ff, params["norm3.gamma"], params["norm3.beta"])
    cache = (cache_sa, cache_drop1, cache_norm1, cache_ca, cache_drop2, cache_norm2,
             x2, act, cache_act, cache_drop_act, cache_drop3, cache_norm3, params, activation)
    # END SOLUTION
    return out, cache


def transformer_decoder_layer_backward(dout, cache):
    """Backward pass for transformer_decoder_layer_forward.

    Inputs:
    - dout: Upstream gradients, of shape (N, T, E)
    - cache: From transformer_decoder_layer_forward

    Returns a tuple of:
    - dtgt: Gradient with respect to tgt, of shape (N, T, E)
    - dmemory: Gradient with respect to memory, of shape (N, S, E)
    - dparams: Dictionary of gradients with the keys DECODER_LAYER_KEYS
    """
    # BEGIN SOLUTION
    # HINT: the sub-layers in reverse, with the matching *_backward functions (_ACTIVATIONS[activation][1] is the activation's); a residual sum x + f(x) passes its gradient to both terms; memory feeds cross-attention's key and value, and tgt self-attention's query, key and value: add those gradients
    (cache_sa, cache_drop1, cache_norm1, cache_ca, cache_drop2, cache_norm2,
     x2, act, cache_act, cache_drop_act, cache_drop3, cache_norm3, params, activation) = cache
    act_backward = _ACTIVATIONS[activation][1]
    N, T, E = x2.shape
    F = act.shape[-1]
    dparams = {}
    # Feed-forward sub-layer.
    dsum3, dparams["norm3.gamma"], dparams["norm3.beta"] = layernorm_backward(dout, cache_norm3)
    dff = dropout_backward(dsum3, cache_drop3).reshape(N * T, E)
    dparams["ffn.W2"] = act.reshape(N * T, F).T @ dff
    dparams["ffn.b2"] = dff.sum(axis=0)
    dact = dropout_backward((dff @ params["ffn.W2"].T).reshape(N, T, F), cache_drop_act)
    dhidden = act_backward(dact, cache_act).reshape(N * T, F)
    dparams["ffn.W1"] = x2.reshape(N * T, E).T @ dhidden
    dparams["ffn.b1"] = dhidden.sum(axis=0)
    dx2 = dsum3 + (dhidden @ params["ffn.W1"].T).reshape(N, T, E)

    # Cross-attention sub-layer: the query is x1, key and value are the memory.
    dsum2, dparams["norm2.gamma"], dparams["norm2.beta"] = layernorm_backward(dx2, cache_norm2)
    dquery, dkey, dvalue, dcross = multihead_attention_backward(
        dropout_backward(dsum2, cache_drop2), cache_ca)
    dx1 = dsum2 + dquery
    dmemory = dkey + dvalue

    # Self-attention sub-layer: tgt is query, key and value at once.
    dsum1, dparams["norm1.gamma"], dparams["norm1.beta"] = layernorm_backward(dx1, cache_norm1)
    dquery, dkey, dvalue, dself = multihead_attention_backward(
        dropout_backward(dsum1, cache_drop1), cache_sa)
    dtgt = dsum1 + dquery + dkey + dvalue
    for k in ATTENTION_KEYS:
        dparams["self_attn." + k] = dself[k]
        dparams["cross_attn." + k] = dcross[k]
    # END SOLUTION
    dparams = {name: dparams[name] for name in DECODER_LAYER_KEYS}
    return dtgt, dmemory, dparams
