"""Recurrent layers with hand-written backward passes (CS231n assignment-3 API).

Every forward returns (out, cache) and every backward takes (dout, cache); caches hold exactly
what backward needs. Outputs follow the input dtype (float32 stays float32). Public forwards check
their inputs and raise ValueError naming the argument; backwards trust their cache.

Gate layouts along the last axis of the pre-activations `a`:
  LSTM (4H): i, f, o, g        GRU (3H): r, z, n
Sequence functions use one GEMM for x·Wx over all time steps and accumulate dWx, dWh with one GEMM
each after the backward loop; step functions are the same math for a single step. Their caches
are time-major, (T, N, ...), so that every step works on contiguous slices; the per-step cell
math lives in private kernels that write into preallocated arrays. Private fast paths for the
model: the sequences given the caption words (_*_sequence, _*_sequence_backward: repeated words
share x·Wx and backward's products, see _input_products*), the decoding steps _*_step_xa (from
precomputed x·Wx + b and h·Wh) and the fused output layer _temporal_affine_softmax_loss.
benchmarks/bench_model.py times all of this against PyTorch.
"""
import numpy as np

from ._validate import check_array, check_indices, check_same_dtype

__all__ = [
    "sigmoid", "log_softmax",
    "affine_forward", "affine_backward",
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward",
    "word_embedding_forward", "word_embedding_backward",
    "temporal_affine_forward", "temporal_affine_backward",
    "temporal_softmax_loss",
]


# ----------------------------------------------------------------------------- primitives

def sigmoid(x):
    """Numerically stable logistic sigmoid, 1 / (1 + exp(-x)), in x's dtype.

    Written as 0.5 * (1 + tanh(x / 2)): tanh saturates instead of overflowing, so there is no
    warning and no NaN for any finite x, and no boolean-mask copies.
    """
    x = np.asarray(x)
    out = np.multiply(x, 0.5)
    np.tanh(out, out=out)
    out += 1
    out *= 0.5
    return out


# The kernels below use exp for both squashing functions: NumPy's exp is vectorised where its
# tanh often is not (float64 tanh can cost 3x an exp). Overflow of exp(-a) to inf is the right
# limit (1 / inf = 0), so the kernels silence only that warning.

def _sigmoid_(a):
    """In-place sigmoid of a float array: 1 / (1 + exp(-a)); call under np.errstate(over=...)."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    np.divide(1, a, out=a)
    return a


def _tanh(a, out):
    """out = tanh(a) = 2 / (1 + exp(-2a)) - 1 (out may be a); call under np.errstate(over=...)."""
    np.multiply(a, -2, out=out)
    np.exp(out, out=out)
    out += 1
    np.divide(2, out, out=out)
    out -= 1
    return out


def log_softmax(x, axis=-1):
    """Stable log-softmax along `axis`: x - max - log(sum(exp(x - max))), in x's dtype."""
    x = np.asarray(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# ----------------------------------------------------------------------------- input checks

def _check_cell(x, prev_h, Wx, Wh, b, k, x_name="x", h_name="prev_h", seq=False):
    """Validate a recurrent cell's inputs; k gates (1 rnn, 4 lstm, 3 gru). Returns arrays."""
    x_shape = ("N", "T", "D") if seq else ("N", "D")
    x = check_array(x_name, x, shape=x_shape, finite=True)
    Wh = check_array("Wh", Wh, ndim=2)
    H = Wh.shape[0]
    if Wh.shape[1] != k * H:
        raise ValueError("Wh must have shape (H, %dH) = (%d, %d), got %s"
                         % (k, H, k * H, Wh.shape))
    Wx = check_array("Wx", Wx, ndim=2)
    if Wx.shape != (x.shape[-1], k * H):
        raise ValueError("Wx must have shape (D, %dH) = (%d, %d) to match %s and Wh, got %s"
                         % (k, x.shape[-1], k * H, x_name, Wx.shape))
    b = check_array("b", b, shape=(k * H,))
    prev_h = check_array(h_name, prev_h, shape=(x.shape[0], H), finite=True)
    return x, prev_h, Wx, Wh, b


# ----------------------------------------------------------------------------- layout helpers

def _time_major(x):
    """(N, T, D) -> a contiguous (T, N, D) copy, so that every step's slice x[t] is contiguous."""
    return np.ascontiguousarray(x.transpose(1, 0, 2))


def _batch_major(a):
    """(T, N, D) -> a contiguous (N, T, D) copy (the layout the public API returns)."""
    return np.ascontiguousarray(a.transpose(1, 0, 2))


def _by_gate(a, k=4):
    """(N, kH) -> a (k, N, H) view of the same memory, gate j at [j] (as the cell kernels take
    gates); a view even where reshape would copy, so writes through it land in a."""
    N, kH = a.shape
    row, col = a.strides
    return np.lib.stride_tricks.as_strided(a, (k, N, kH // k), (kH // k * col, row, col))


# ----------------------------------------------------------------------------- input products

def _input_products(out, xs, Wx, b, words=None, W_embed=None):
    """x·Wx + b for the inputs of every step, written into out one column block of Wx at a time.

    Inputs:
    - out: Output, of shape (J, M, C): Wx's kH columns split into J blocks of C (the LSTM's
      gate-major layout has J = 4, the others J = 1), for M = T * N input rows
    - xs: Input rows, of shape (M, D)
    - Wx: Weights, of shape (D, J * C); b: Biases, of shape (J * C,)
    - words, W_embed: Optional, when xs = W_embed[words] with words of shape (M,): repeated
      words then share one product, formed for each distinct word and picked by row
    """
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    J, M, C = out.shape
    if words is not None:
        distinct, row_of = np.unique(words, return_inverse=True)
        if 4 * distinct.size <= 3 * M:  # a row copy costs far less than a row's product
            rows = W_embed[distinct]
            for j in range(J):
                table = rows @ Wx[:, j * C:(j + 1) * C]
                table += b[j * C:(j + 1) * C]
                np.take(table, row_of.ravel(), axis=0, out=out[j], mode="clip")  # no buffering
            return out
    for j in range(J):
        np.matmul(xs, Wx[:, j * C:(j + 1) * C], out=out[j])
        out[j] += b[j * C:(j + 1) * C]
    return out
    # END SOLUTION


def _input_products_backward(da, xs, Wx, words=None, V=None):
    """Gradients through the input products x·Wx + b of a sequence.

    Inputs:
    - da: Gradient of the products, of shape (T, N, kH)
    - xs: Time-major inputs, of shape (T, N, D)
    - Wx: Weights, of shape (D, kH)
    - words, V: Optional, when xs = W_embed[words] with words (T * N,) and W_embed (V, D)

    Returns a tuple of:
    - dx: Gradient of the inputs, of shape (N, T, D) (batch-major, as the public API returns);
      given words, dW_embed of shape (V, D) instead: da's rows are summed per distinct word
      first, so both products have a row per distinct word rather than per position
    - dWx: Gradient of Wx, of shape (D, kH)
    - db: Gradient of b, of shape (kH,)
    """
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    T, N, D = xs.shape
    da = da.reshape(T * N, -1)
    db = da.sum(axis=0)
    if words is None:
        dx = _batch_major((da @ Wx.T).reshape(T, N, D))
        return dx, xs.reshape(T * N, D).T @ da, db
    distinct, first, row_of = np.unique(words, return_index=True, return_inverse=True)
    da_word = _sum_rows_by(da, row_of.ravel(), distinct.size)  # (distinct words, kH)
    dW_embed = np.zeros((V, D), dtype=da.dtype)
    dW_embed[distinct] = da_word @ Wx.T
    return dW_embed, xs.reshape(T * N, D)[first].T @ da_word, db
    # END SOLUTION


_MANY_ROWS = 16  # _sum_rows_by sums a group with more rows than this in one call
_CHUNK_ROWS = 256  # and adds at most this many rows at a time


def _sum_rows_by(a, group, n):
    """out[g] = the sum of the rows a[i] with group[i] == g: a scatter-add, much faster than
    np.add.at for wide rows.

    Inputs:
    - a: Rows, of shape (M, C)
    - group: Integers of shape (M,), taking every value in [0, n)
    - n: The number of groups

    Returns:
    - out: Array of shape (n, C)
    """
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    starts = np.searchsorted(sorted_group, np.arange(n + 1))
    counts = np.diff(starts)
    out = np.empty((n, a.shape[1]), dtype=a.dtype)
    for g in np.flatnonzero(counts > _MANY_ROWS):  # frequent words (<START>, <NULL>) at once
        np.sum(a[order[starts[g]:starts[g + 1]]], axis=0, out=out[g])
    # The other rows one occurrence at a time: a group's first rows, then its second rows, ...
    # No round repeats a group, so each is a plain fancy-indexed add.
    light = counts[sorted_group] <= _MANY_ROWS
    rank = (np.arange(group.size) - starts[sorted_group])[light]
    by_rank = np.argsort(rank, kind="stable")
    rows, groups = order[light][by_rank], sorted_group[light][by_rank]
    bounds = np.searchsorted(rank[by_rank], np.arange(_MANY_ROWS + 1))
    for k in range(_MANY_ROWS):
        for start in range(bounds[k], bounds[k + 1], _CHUNK_ROWS):  # small temporaries
            r = slice(start, min(start + _CHUNK_ROWS, bounds[k + 1]))
            if k == 0:
                out[groups[r]] = a[rows[r]]
            else:
                out[groups[r]] += a[rows[r]]
    return out
    # END SOLUTION


# ----------------------------------------------------------------------------- affine

def affine_forward(x, w, b):
    """Affine (fully connected) layer: out = x.reshape(N, D) · w + b.

    Inputs:
    - x: Input data, of shape (N, d_1, ..., d_k), D = d_1 * ... * d_k
    - w: Weights, of shape (D, M)
    - b: Biases, of shape (M,)

    Returns a tuple of:
    - out: Output, of shape (N, M)
    - cache: (x, w)
    """
    x = check_array("x", x)
    if x.ndim < 1:
        raise ValueError("x must have at least 1 dimension (N, ...), got a scalar")
    D = int(np.prod(x.shape[1:]))
    w = check_array("w", w, shape=(D, "M"))
    if w.shape[0] != D:
        raise ValueError("w must have shape (D, M) with D = %d (x's trailing size), got %s"
                         % (D, w.shape))
    b = check_array("b", b, shape=(w.shape[1],))
    check_same_dtype(x=x, w=w, b=b)
    # BEGIN SOLUTION
    out = x.reshape(x.shape[0], D) @ w
    out += b
    # END SOLUTION
    return out, (x, w)


def affine_backward(dout, cache):
    """Backward pass for affine_forward.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: (x, w) from affine_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    x, w = cache
    # BEGIN SOLUTION
    x2 = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2.T @ dout
    db = dout.sum(axis=0)
    # END SOLUTION
    return dx, dw, db


# ----------------------------------------------------------------------------- vanilla RNN

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One timestep of a vanilla RNN with tanh: next_h = tanh(x·Wx + prev_h·Wh + b).

    Inputs:
    - x: Input data for this timestep, of shape (N, D)
    - prev_h: Hidden state from previous timestep, of shape (N, H)
    - Wx: Weight matrix for input-to-hidden connections, of shape (D, H)
    - Wh: Weight matrix for hidden-to-hidden connections, of shape (H, H)
    - b: Biases, of shape (H,)

    Returns a tuple of:
    - next_h: Next hidden state, of shape (N, H)
    - cache: (x, prev_h, Wx, Wh, next_h)
    """
    x, prev_h, Wx, Wh, b = _check_cell(x, prev_h, Wx, Wh, b, 1)
    check_same_dtype(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    next_h = x @ Wx
    next_h += prev_h @ Wh
    next_h += b
    with np.errstate(over="ignore"):
        _tanh(next_h, out=next_h)
    # END SOLUTION
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """Backward pass for a single timestep of a vanilla RNN.

    Inputs:
    - dnext_h: Gradient of loss with respect to next hidden state, of shape (N, H)
    - cache: (x, prev_h, Wx, Wh, next_h) from rnn_step_forward

    Returns a tuple of:
    - dx: Gradients of input data, of shape (N, D)
    - dprev_h: Gradients of previous hidden state, of shape (N, H)
    - dWx: Gradients of input-to-hidden weights, of shape (D, H)
    - dWh: Gradients of hidden-to-hidden weights, of shape (H, H)
    - db: Gradients of bias vector, of shape (H,)
    """
    x, prev_h, Wx, Wh, next_h = cache
    # BEGIN SOLUTION
    da = next_h * next_h
    np.subtract(1, da, out=da)  # tanh'(a) = 1 - tanh(a)^2
    da *= dnext_h
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    # END SOLUTION
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """Vanilla RNN over a whole sequence of T steps, hidden size H, minibatch of N.

    Inputs:
    - x: Input data for the entire timeseries, of shape (N, T, D)
    - h0: Initial hidden state, of shape (N, H)
    - Wx: Weight matrix for input-to-hidden connections, of shape (D, H)
    - Wh: Weight matrix for hidden-to-hidden connections, of shape (H, H)
    - b: Biases, of shape (H,)

    Returns a tuple of:
    - h: Hidden states for the entire timeseries, of shape (N, T, H)
    - cache: (xs, hs, Wx, Wh), stored time-major so that each step's slice is contiguous:
      xs (T, N, D) holds x[:, t] at xs[t]; hs (T + 1, N, H) holds h0 at hs[0] and h[:, t] at
      hs[t + 1]
    """
    x, h0, Wx, Wh, b = _check_cell(x, h0, Wx, Wh, b, 1, h_name="h0", seq=True)
    check_same_dtype(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    h, cache = _rnn_sequence(_time_major(x), h0, Wx, Wh, b)
    # END SOLUTION
    return h, cache


def _rnn_sequence(xs, h0, Wx, Wh, b, words=None, W_embed=None):
    """rnn_forward after its input checks, from time-major inputs xs of shape (T, N, D); words
    (T * N,) and W_embed: see _input_products (the model passes its captions' word indices)."""
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    T, N, D = xs.shape
    H = h0.shape[1]
    hs = np.empty((T + 1, N, H), dtype=xs.dtype)
    hs[0] = h0
    _input_products(hs[1:].reshape(1, T * N, H), xs.reshape(T * N, D), Wx, b, words, W_embed)
    hWh = np.empty_like(h0)
    with np.errstate(over="ignore"):
        for t in range(T):
            np.matmul(hs[t], Wh, out=hWh)
            hs[t + 1] += hWh
            _tanh(hs[t + 1], out=hs[t + 1])
    return _batch_major(hs[1:]), (xs, hs, Wx, Wh)
    # END SOLUTION


def rnn_backward(dh, cache):
    """Backward pass for a vanilla RNN over an entire sequence of data.

    Inputs:
    - dh: Upstream gradients of all hidden states, of shape (N, T, H)
    - cache: (xs, hs, Wx, Wh) from rnn_forward

    Returns a tuple of:
    - dx: Gradient of inputs, of shape (N, T, D)
    - dh0: Gradient of initial hidden state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weights, of shape (D, H)
    - dWh: Gradient of hidden-to-hidden weights, of shape (H, H)
    - db: Gradient of biases, of shape (H,)
    """
    # BEGIN SOLUTION
    dx, dh0, dWx, dWh, db = _rnn_sequence_backward(dh, cache)
    # END SOLUTION
    return dx, dh0, dWx, dWh, db


def _rnn_sequence_backward(dh, cache, words=None, V=None):
    """rnn_backward; given the words of _rnn_sequence and V, W_embed's row count, the first
    output is dW_embed (V, D) instead of dx (see _input_products_backward)."""
    xs, hs, Wx, Wh = cache
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    T, N, D = xs.shape
    H = hs.shape[2]
    da = np.empty((T, N, H), dtype=hs.dtype)  # gradient of the pre-activation of every step
    dnext_h = np.zeros((N, H), dtype=hs.dtype)  # gradient reaching h_t from step t + 1
    tanh_grad = np.empty_like(dnext_h)
    for t in reversed(range(T)):
        np.add(dh[:, t], dnext_h, out=da[t])
        np.multiply(hs[t + 1], hs[t + 1], out=tanh_grad)
        np.subtract(1, tanh_grad, out=tanh_grad)  # tanh'(a) = 1 - tanh(a)^2
        da[t] *= tanh_grad
        np.matmul(da[t], Wh.T, out=dnext_h)
    dWh = hs[:-1].reshape(T * N, H).T @ da.reshape(T * N, H)
    dx, dWx, db = _input_products_backward(da, xs, Wx, words, V)
    return dx, dnext_h, dWx, dWh, db
    # END SOLUTION


# ----------------------------------------------------------------------------- LSTM

def _lstm_exponents(H, dtype):
    """Column factors (4H,) taking pre-activations a to the exponents z of _lstm_cell_forward."""
    return np.repeat(np.array([-1, -1, -1, -2], dtype=dtype), H)


def _lstm_cell_forward(z, prev_c, next_c, tanh_c, next_h):
    """The LSTM cell after its matrix products, in preallocated arrays.

    All four gates need one exp pass: sigmoid(a) = 1 / (1 + exp(-a)) and
    tanh(a) = 2 sigmoid(2a) - 1, so the kernel takes z = -a for i, f, o and z = -2a for g
    (a times _lstm_exponents; the sequence forward scales the weights instead, once).

    Inputs:
    - z: Exponents from the pre-activations a = x·Wx + prev_h·Wh + b, of shape (4, N, H), one
      gate per block (contiguous blocks make every pass faster); turned into the gates
      i, f, o, g in place
    - prev_c: Previous cell state, of shape (N, H)
    - next_c, tanh_c, next_h: Outputs, each of shape (N, H): f * prev_c + i * g, tanh(next_c)
      and o * tanh(next_c)
    """
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    with np.errstate(over="ignore"):
        np.exp(z, out=z)
        z += 1
        np.divide(1, z, out=z)
        i, f, o, g = z
        g *= 2
        g -= 1
        np.multiply(i, g, out=tanh_c)  # tanh_c as scratch until the last two lines
        np.multiply(f, prev_c, out=next_c)
        next_c += tanh_c
        _tanh(next_c, out=tanh_c)
    np.multiply(o, tanh_c, out=next_h)
    # END SOLUTION


def _lstm_cell_backward(dnext_h, dnext_c, gates, prev_c, tanh_c, next_h, da, dprev_c):
    """Gradients of one LSTM cell, written into preallocated arrays.

    Inputs:
    - dnext_h, dnext_c: Upstream gradients of next_h and next_c, each of shape (N, H)
    - gates: The gates i, f, o, g of this step, of shape (4, N, H)
    - prev_c, tanh_c, next_h: The previous cell state, tanh(next_c) and next_h, each (N, H)
    - da: Output, gradient of the pre-activations, of shape (N, 4H)
    - dprev_c: Output, gradient of prev_c, of shape (N, H); it may be the same array as dnext_c
    """
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    i, f, o, g = gates
    di, df, do, dg = _by_gate(da)
    # Products are built in contiguous scratch; only each gate's last one writes into da.
    # dc = dnext_c + dnext_h * o * (1 - tanh_c^2), with o * tanh_c = next_h
    dc = np.multiply(next_h, tanh_c)
    np.subtract(o, dc, out=dc)
    dc *= dnext_h
    dc += dnext_c
    # do = dnext_h * tanh_c * o * (1 - o) = dnext_h * next_h * (1 - o)
    tmp = np.subtract(1, o)
    tmp *= next_h
    np.multiply(tmp, dnext_h, out=do)
    # di = dc * g * i * (1 - i) and dg = dc * i * (1 - g^2) share dc * i
    dc_i = np.multiply(dc, i)
    np.subtract(1, i, out=tmp)
    tmp *= g
    np.multiply(tmp, dc_i, out=di)
    np.multiply(g, g, out=tmp)
    np.subtract(1, tmp, out=tmp)
    np.multiply(tmp, dc_i, out=dg)
    # df = dc * prev_c * f * (1 - f)
    np.subtract(1, f, out=tmp)
    tmp *= f
    tmp *= prev_c
    np.multiply(tmp, dc, out=df)
    np.multiply(dc, f, out=dprev_c)
    # END SOLUTION


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One timestep of an LSTM.

    a = x·Wx + prev_h·Wh + b, split into i, f, o, g (each (N, H));
    i, f, o = sigmoid(...), g = tanh(...); next_c = f * prev_c + i * g; next_h = o * tanh(next_c).

    Inputs:
    - x: Input data, of shape (N, D)
    - prev_h: Previous hidden state, of shape (N, H)
    - prev_c: Previous cell state, of shape (N, H)
    - Wx: Input-to-hidden weights, of shape (D, 4H)
    - Wh: Hidden-to-hidden weights, of shape (H, 4H)
    - b: Biases, of shape (4H,)

    Returns a tuple of:
    - next_h: Next hidden state, of shape (N, H)
    - next_c: Next cell state, of shape (N, H)
    - cache: (x, prev_h, prev_c, Wx, Wh, gates, tanh(next_c)); gates (4, N, H) holds i, f, o, g
    """
    x, prev_h, Wx, Wh, b = _check_cell(x, prev_h, Wx, Wh, b, 4)
    prev_c = check_array("prev_c", prev_c, shape=prev_h.shape, finite=True)
    check_same_dtype(x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    gates = x @ Wx
    gates += prev_h @ Wh
    gates += b
    gates *= _lstm_exponents(prev_h.shape[1], gates.dtype)
    gates = _by_gate(gates)
    next_h, next_c, tanh_c = (np.empty_like(prev_h) for _ in range(3))
    _lstm_cell_forward(gates, prev_c, next_c, tanh_c, next_h)
    # END SOLUTION
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, gates, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass for a single timestep of an LSTM.

    Inputs:
    - dnext_h: Gradients of next hidden state, of shape (N, H)
    - dnext_c: Gradients of next cell state, of shape (N, H)
    - cache: from lstm_step_forward

    Returns a tuple of:
    - dx: Gradient of input data, of shape (N, D)
    - dprev_h: Gradient of previous hidden state, of shape (N, H)
    - dprev_c: Gradient of previous cell state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weights, of shape (D, 4H)
    - dWh: Gradient of hidden-to-hidden weights, of shape (H, 4H)
    - db: Gradient of biases, of shape (4H,)
    """
    x, prev_h, prev_c, Wx, Wh, gates, tanh_c = cache
    # BEGIN SOLUTION
    N, H = prev_c.shape
    next_h = gates[2] * tanh_c  # o * tanh(next_c)
    da = np.empty((N, 4 * H), dtype=prev_c.dtype)
    dprev_c = np.empty_like(prev_c)
    _lstm_cell_backward(dnext_h, dnext_c, gates, prev_c, tanh_c, next_h, da, dprev_c)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    # END SOLUTION
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """LSTM over an entire sequence; the initial cell state is zero.

    Inputs:
    - x: Input data, of shape (N, T, D)
    - h0: Initial hidden state, of shape (N, H)
    - Wx: Weights for input-to-hidden connections, of shape (D, 4H)
    - Wh: Weights for hidden-to-hidden connections, of shape (H, 4H)
    - b: Biases, of shape (4H,)

    Returns a tuple of:
    - h: Hidden states for all timesteps of all sequences, of shape (N, T, H)
    - cache: (xs, hs, cs, gates, tanh_cs, Wx, Wh), stored time-major so that each step's slice is
      contiguous: xs (T, N, D) holds x[:, t] at xs[t]; hs and cs (T + 1, N, H) hold the hidden
      and cell states, h0 and zeros at index 0 and step t's at t + 1; gates (4, T, N, H) holds
      i, f, o, g (gates[:, t] is step t's) and tanh_cs (T, N, H) tanh(c) of every step
    """
    x, h0, Wx, Wh, b = _check_cell(x, h0, Wx, Wh, b, 4, h_name="h0", seq=True)
    check_same_dtype(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    h, cache = _lstm_sequence(_time_major(x), h0, Wx, Wh, b)
    # END SOLUTION
    return h, cache


def _lstm_sequence(xs, h0, Wx, Wh, b, words=None, W_embed=None):
    """lstm_forward after its input checks, from time-major inputs xs of shape (T, N, D); words
    (T * N,) and W_embed: see _input_products (the model passes its captions' word indices)."""
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    T, N, D = xs.shape
    H = h0.shape[1]
    scale = _lstm_exponents(H, xs.dtype)  # scaled weights give the kernel's exponents directly
    Wx_scaled, b_scaled, Wh_scaled = Wx * scale, b * scale, Wh * scale
    gates = np.empty((4, T, N, H), dtype=xs.dtype)
    _input_products(gates.reshape(4, T * N, H), xs.reshape(T * N, D), Wx_scaled, b_scaled,
                    words, W_embed)
    hs = np.empty((T + 1, N, H), dtype=xs.dtype)
    cs = np.empty_like(hs)
    tanh_cs = np.empty((T, N, H), dtype=xs.dtype)
    hs[0], cs[0] = h0, 0
    hWh = np.empty((N, 4 * H), dtype=xs.dtype)
    for t in range(T):
        np.matmul(hs[t], Wh_scaled, out=hWh)
        gates[:, t] += _by_gate(hWh)
        _lstm_cell_forward(gates[:, t], cs[t], cs[t + 1], tanh_cs[t], hs[t + 1])
    return _batch_major(hs[1:]), (xs, hs, cs, gates, tanh_cs, Wx, Wh)
    # END SOLUTION


def lstm_backward(dh, cache):
    """Backward pass for an LSTM over an entire sequence of data.

    Inputs:
    - dh: Upstream gradients of hidden states, of shape (N, T, H)
    - cache: from lstm_forward

    Returns a tuple of:
    - dx: Gradient of input data, of shape (N, T, D)
    - dh0: Gradient of initial hidden state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weight matrix, of shape (D, 4H)
    - dWh: Gradient of hidden-to-hidden weight matrix, of shape (H, 4H)
    - db: Gradient of biases, of shape (4H,)
    """
    # BEGIN SOLUTION
    dx, dh0, dWx, dWh, db = _lstm_sequence_backward(dh, cache)
    # END SOLUTION
    return dx, dh0, dWx, dWh, db


def _lstm_sequence_backward(dh, cache, words=None, V=None):
    """lstm_backward; given the words of _lstm_sequence and V, W_embed's row count, the first
    output is dW_embed (V, D) instead of dx (see _input_products_backward)."""
    xs, hs, cs, gates, tanh_cs, Wx, Wh = cache
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    T, N, D = xs.shape
    H = hs.shape[2]
    da = np.empty((T, N, 4 * H), dtype=hs.dtype)  # gradient of the pre-activations, every step
    dnext_h = np.zeros((N, H), dtype=hs.dtype)  # gradients reaching step t from step t + 1
    dnext_c = np.zeros_like(dnext_h)
    dh_t = np.empty_like(dnext_h)
    for t in reversed(range(T)):
        np.add(dh[:, t], dnext_h, out=dh_t)
        _lstm_cell_backward(dh_t, dnext_c, gates[:, t], cs[t], tanh_cs[t], hs[t + 1], da[t],
                            dnext_c)
        np.matmul(da[t], Wh.T, out=dnext_h)
    dWh = hs[:-1].reshape(T * N, H).T @ da.reshape(T * N, 4 * H)
    dx, dWx, db = _input_products_backward(da, xs, Wx, words, V)
    return dx, dnext_h, dWx, dWh, db
    # END SOLUTION


# ----------------------------------------------------------------------------- GRU

def _gru_cell_forward(xa, hWh, prev_h, gates, next_h):
    """The GRU cell after its matrix products, in preallocated arrays.

    Inputs:
    - xa: Input part x·Wx + b, of shape (N, 3H) (not modified)
    - hWh: Recurrent part prev_h·Wh, of shape (N, 3H) (not modified)
    - prev_h: Previous hidden state, of shape (N, H)
    - gates: Output, r, z, n, of shape (3, N, H) (contiguous blocks make every pass faster)
    - next_h: Output, (1 - z) * n + z * prev_h, of shape (N, H)
    """
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    r, z, n = gates
    xa, hWh = _by_gate(xa, 3), _by_gate(hWh, 3)
    with np.errstate(over="ignore"):
        np.add(xa[:2], hWh[:2], out=gates[:2])
        _sigmoid_(gates[:2])
        np.multiply(r, hWh[2], out=n)  # the reset gate acts after the product
        n += xa[2]
        _tanh(n, out=n)
    np.subtract(prev_h, n, out=next_h)
    next_h *= z
    next_h += n  # n + z * (prev_h - n) = (1 - z) * n + z * prev_h
    # END SOLUTION


def _gru_cell_backward(dnext_h, prev_h, gates, hWh_n, dxa, dhWh, dprev_h):
    """Gradients of one GRU cell, written into preallocated arrays.

    Inputs:
    - dnext_h: Upstream gradient of next_h, of shape (N, H)
    - prev_h: Previous hidden state, of shape (N, H)
    - gates: r, z, n of this step, of shape (3, N, H)
    - hWh_n: prev_h·Wh_n of this step, of shape (N, H)
    - dxa: Output, gradient of the input part x·Wx + b, of shape (N, 3H)
    - dhWh: Output, gradient of prev_h·Wh, of shape (N, 3H)
    - dprev_h: Output, the direct part dnext_h * z of prev_h's gradient, of shape (N, H)
    """
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    r, z, n = gates
    dxa, dhWh = _by_gate(dxa, 3), _by_gate(dhWh, 3)
    # Products are built in contiguous scratch; only the last ones write into dxa and dhWh.
    one_z = np.subtract(1, z)
    # dn = dnext_h * (1 - z) * (1 - n^2)
    dn = np.multiply(n, n)
    np.subtract(1, dn, out=dn)
    dn *= one_z
    dn *= dnext_h
    np.copyto(dxa[2], dn)
    np.multiply(dn, r, out=dhWh[2])
    # dz = dnext_h * (prev_h - n) * z * (1 - z)
    tmp = np.subtract(prev_h, n)
    tmp *= z
    tmp *= one_z
    np.multiply(tmp, dnext_h, out=dxa[1])
    np.copyto(dhWh[1], dxa[1])
    # dr = dn * hWh_n * r * (1 - r)
    np.subtract(1, r, out=tmp)
    tmp *= r
    tmp *= hWh_n
    np.multiply(tmp, dn, out=dxa[0])
    np.copyto(dhWh[0], dxa[0])
    np.multiply(dnext_h, z, out=dprev_h)
    # END SOLUTION


def gru_step_forward(x, prev_h, Wx, Wh, b):
    """One timestep of a GRU (gate order r, z, n along the 3H axis):

        r = sigmoid(x·Wx_r + prev_h·Wh_r + b_r)
        z = sigmoid(x·Wx_z + prev_h·Wh_z + b_z)
        n = tanh(x·Wx_n + r * (prev_h·Wh_n) + b_n)
        next_h = (1 - z) * n + z * prev_h

    The reset gate multiplies prev_h·Wh_n after the product, as in cuDNN and PyTorch.

    Inputs:
    - x: Input data, of shape (N, D)
    - prev_h: Previous hidden state, of shape (N, H)
    - Wx: Input-to-hidden weights, of shape (D, 3H)
    - Wh: Hidden-to-hidden weights, of shape (H, 3H)
    - b: Biases, of shape (3H,)

    Returns a tuple of:
    - next_h: Next hidden state, of shape (N, H)
    - cache: (x, prev_h, Wx, Wh, gates (3, N, H) holding r, z, n, prev_h·Wh_n (N, H))
    """
    x, prev_h, Wx, Wh, b = _check_cell(x, prev_h, Wx, Wh, b, 3)
    check_same_dtype(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    N, H = prev_h.shape
    xa = x @ Wx
    xa += b
    hWh = prev_h @ Wh
    gates = np.empty((3, N, H), dtype=xa.dtype)
    next_h = np.empty_like(prev_h)
    _gru_cell_forward(xa, hWh, prev_h, gates, next_h)
    hWh_n = hWh[:, 2 * H:].copy()  # a view would keep all of hWh alive
    # END SOLUTION
    return next_h, (x, prev_h, Wx, Wh, gates, hWh_n)


def gru_step_backward(dnext_h, cache):
    """Backward pass for a single timestep of a GRU.

    Inputs:
    - dnext_h: Gradient of next hidden state, of shape (N, H)
    - cache: from gru_step_forward

    Returns a tuple of:
    - dx: Gradient of input data, of shape (N, D)
    - dprev_h: Gradient of previous hidden state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weights, of shape (D, 3H)
    - dWh: Gradient of hidden-to-hidden weights, of shape (H, 3H)
    - db: Gradient of biases, of shape (3H,)
    """
    x, prev_h, Wx, Wh, gates, hWh_n = cache
    # BEGIN SOLUTION
    N, H = prev_h.shape
    dxa, dhWh = np.empty((2, N, 3 * H), dtype=prev_h.dtype)
    dprev_h = np.empty_like(prev_h)
    _gru_cell_backward(dnext_h, prev_h, gates, hWh_n, dxa, dhWh, dprev_h)
    dx = dxa @ Wx.T
    dprev_h += dhWh @ Wh.T
    dWx = x.T @ dxa
    dWh = prev_h.T @ dhWh
    db = dxa.sum(axis=0)
    # END SOLUTION
    return dx, dprev_h, dWx, dWh, db


def gru_forward(x, h0, Wx, Wh, b):
    """GRU over an entire sequence (equations in gru_step_forward).

    Inputs:
    - x: Input data, of shape (N, T, D)
    - h0: Initial hidden state, of shape (N, H)
    - Wx: Input-to-hidden weights, of shape (D, 3H)
    - Wh: Hidden-to-hidden weights, of shape (H, 3H)
    - b: Biases, of shape (3H,)

    Returns a tuple of:
    - h: Hidden states for all timesteps, of shape (N, T, H)
    - cache: (xs, hs, gates, hWh_ns, Wx, Wh), stored time-major so that each step's slice is
      contiguous: xs (T, N, D) holds x[:, t] at xs[t]; hs (T + 1, N, H) holds h0 at hs[0] and
      h[:, t] at hs[t + 1]; gates (3, T, N, H) holds r, z, n (gates[:, t] is step t's) and
      hWh_ns (T, N, H) prev_h·Wh_n
    """
    x, h0, Wx, Wh, b = _check_cell(x, h0, Wx, Wh, b, 3, h_name="h0", seq=True)
    check_same_dtype(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    h, cache = _gru_sequence(_time_major(x), h0, Wx, Wh, b)
    # END SOLUTION
    return h, cache


def _gru_sequence(xs, h0, Wx, Wh, b, words=None, W_embed=None):
    """gru_forward after its input checks, from time-major inputs xs of shape (T, N, D); words
    (T * N,) and W_embed: see _input_products (the model passes its captions' word indices)."""
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    T, N, D = xs.shape
    H = h0.shape[1]
    xa = np.empty((T, N, 3 * H), dtype=xs.dtype)  # x·Wx + b of every step
    _input_products(xa.reshape(1, T * N, 3 * H), xs.reshape(T * N, D), Wx, b, words, W_embed)
    hs = np.empty((T + 1, N, H), dtype=xs.dtype)
    hs[0] = h0
    gates = np.empty((3, T, N, H), dtype=xs.dtype)
    hWh_ns = np.empty((T, N, H), dtype=xs.dtype)
    hWh = np.empty((N, 3 * H), dtype=xs.dtype)
    for t in range(T):
        np.matmul(hs[t], Wh, out=hWh)
        _gru_cell_forward(xa[t], hWh, hs[t], gates[:, t], hs[t + 1])
        hWh_ns[t] = hWh[:, 2 * H:]
    return _batch_major(hs[1:]), (xs, hs, gates, hWh_ns, Wx, Wh)
    # END SOLUTION


def gru_backward(dh, cache):
    """Backward pass for a GRU over an entire sequence of data.

    Inputs:
    - dh: Upstream gradients of hidden states, of shape (N, T, H)
    - cache: from gru_forward

    Returns a tuple of:
    - dx: Gradient of input data, of shape (N, T, D)
    - dh0: Gradient of initial hidden state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weights, of shape (D, 3H)
    - dWh: Gradient of hidden-to-hidden weights, of shape (H, 3H)
    - db: Gradient of biases, of shape (3H,)
    """
    # BEGIN SOLUTION
    dx, dh0, dWx, dWh, db = _gru_sequence_backward(dh, cache)
    # END SOLUTION
    return dx, dh0, dWx, dWh, db


def _gru_sequence_backward(dh, cache, words=None, V=None):
    """gru_backward; given the words of _gru_sequence and V, W_embed's row count, the first
    output is dW_embed (V, D) instead of dx (see _input_products_backward)."""
    xs, hs, gates, hWh_ns, Wx, Wh = cache
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    T, N, D = xs.shape
    H = hs.shape[2]
    dxa = np.empty((T, N, 3 * H), dtype=hs.dtype)  # gradients of x·Wx + b and of prev_h·Wh
    dhWh = np.empty_like(dxa)
    dnext_h = np.zeros((N, H), dtype=hs.dtype)
    dh_t = np.empty_like(dnext_h)
    dhWh_h = np.empty_like(dnext_h)
    for t in reversed(range(T)):
        np.add(dh[:, t], dnext_h, out=dh_t)
        _gru_cell_backward(dh_t, hs[t], gates[:, t], hWh_ns[t], dxa[t], dhWh[t], dnext_h)
        np.matmul(dhWh[t], Wh.T, out=dhWh_h)
        dnext_h += dhWh_h
    dWh = hs[:-1].reshape(T * N, H).T @ dhWh.reshape(T * N, 3 * H)
    dx, dWx, db = _input_products_backward(dxa, xs, Wx, words, V)
    return dx, dnext_h, dWx, dWh, db
    # END SOLUTION


# ----------------------------------------------------------------------------- decoding kernels
# Test-time steps from both matrix products done: the input part xa = x·Wx + b and the recurrent
# part hWh = prev_h·Wh. A greedy decoder forms W_embed·Wx + b once for the whole vocabulary and
# picks its rows, and gets hWh from the same product as the previous step's scores.
# No input checks and no cache: callers pass arrays of one dtype with consistent shapes.

def _rnn_step_xa(xa, hWh):
    """next_h = tanh(xa + hWh), with xa and hWh of shape (N, H)."""
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    next_h = np.add(xa, hWh)
    with np.errstate(over="ignore"):
        _tanh(next_h, out=next_h)
    # END SOLUTION
    return next_h


def _lstm_step_xa(xa, hWh, prev_c, scaled=False):
    """LSTM step from xa, hWh (N, 4H) and prev_c (N, H); returns next_h, next_c.
    scaled=True: xa and hWh already carry the factors _lstm_exponents (a decoder scales the table
    and Wh once instead of every step)."""
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    a = np.add(xa, hWh)
    if not scaled:
        a *= _lstm_exponents(prev_c.shape[1], a.dtype)
    next_h, next_c, tanh_c = (np.empty_like(prev_c) for _ in range(3))
    _lstm_cell_forward(_by_gate(a), prev_c, next_c, tanh_c, next_h)
    # END SOLUTION
    return next_h, next_c


def _gru_step_xa(xa, hWh, prev_h):
    """GRU step from xa, hWh (N, 3H) and prev_h (N, H); returns next_h."""
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    gates = np.empty((3,) + prev_h.shape, dtype=prev_h.dtype)
    next_h = np.empty_like(prev_h)
    _gru_cell_forward(xa, hWh, prev_h, gates, next_h)
    # END SOLUTION
    return next_h


# ----------------------------------------------------------------------------- word embedding

def word_embedding_forward(x, W):
    """Word embeddings: each of the N*T integer word indices picks a row of W.

    Inputs:
    - x: Integer array of shape (N, T) giving indices of words, each in [0, V)
    - W: Weight matrix of shape (V, D) giving word vectors for all words

    Returns a tuple of:
    - out: Array of shape (N, T, D) giving word vectors for all input words
    - cache: (x, W.shape)
    """
    W = check_array("W", W, ndim=2)
    x = check_indices("x", x, W.shape[0], shape=("N", "T"))
    # BEGIN SOLUTION
    out = W[x]
    # END SOLUTION
    return out, (x, W.shape)


def word_embedding_backward(dout, cache):
    """Backward pass for word embeddings; rows of repeated words accumulate.

    Inputs:
    - dout: Upstream gradients, of shape (N, T, D)
    - cache: (x, W.shape) from word_embedding_forward

    Returns:
    - dW: Gradient of word embedding matrix, of shape (V, D)
    """
    x, W_shape = cache
    # BEGIN SOLUTION
    distinct, row_of = np.unique(x, return_inverse=True)
    dW = np.zeros(W_shape, dtype=dout.dtype)
    dW[distinct] = _sum_rows_by(dout.reshape(x.size, W_shape[1]), row_of.ravel(), distinct.size)
    # END SOLUTION
    return dW


# ----------------------------------------------------------------------------- temporal layers

def temporal_affine_forward(x, w, b):
    """Affine layer applied at every timestep: out[n, t] = x[n, t]·w + b.

    Inputs:
    - x: Input data, of shape (N, T, D)
    - w: Weights, of shape (D, M)
    - b: Biases, of shape (M,)

    Returns a tuple of:
    - out: Output data, of shape (N, T, M)
    - cache: (x, w)
    """
    x = check_array("x", x, shape=("N", "T", "D"))
    w = check_array("w", w, shape=(x.shape[2], "M"))
    if w.shape[0] != x.shape[2]:
        raise ValueError("w must have shape (D, M) with D = %d (x's last axis), got %s"
                         % (x.shape[2], w.shape))
    b = check_array("b", b, shape=(w.shape[1],))
    check_same_dtype(x=x, w=w, b=b)
    # BEGIN SOLUTION
    N, T, D = x.shape
    out = x.reshape(N * T, D) @ w
    out += b
    out = out.reshape(N, T, w.shape[1])
    # END SOLUTION
    return out, (x, w)


def temporal_affine_backward(dout, cache):
    """Backward pass for temporal affine layer.

    Inputs:
    - dout: Upstream gradients, of shape (N, T, M)
    - cache: (x, w) from temporal_affine_forward

    Returns a tuple of:
    - dx: Gradient of input, of shape (N, T, D)
    - dw: Gradient of weights, of shape (D, M)
    - db: Gradient of biases, of shape (M,)
    """
    x, w = cache
    # BEGIN SOLUTION
    N, T, D = x.shape
    M = w.shape[1]
    dout2 = dout.reshape(N * T, M)
    dx = (dout2 @ w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T @ dout2
    db = dout2.sum(axis=0)
    # END SOLUTION
    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
    """Softmax cross-entropy summed over the unmasked timesteps, divided by N.

    loss = -1/N * sum over (n, t) with mask[n, t] of log softmax(x[n, t])[y[n, t]]

    Inputs:
    - x: Input scores, of shape (N, T, V)
    - y: Ground-truth indices, of shape (N, T) where each element is in the range 0 <= y[i, t] < V
    - mask: Boolean array of shape (N, T) where mask[i, t] tells whether or not
      the scores at x[i, t] should contribute to the loss.
    - verbose: print the shape of the flattened gradient (CS231n's debugging aid)

    Returns a tuple of:
    - loss: Scalar giving loss, in x's dtype
    - dx: Gradient of loss with respect to scores x, of shape (N, T, V); zero where mask is False
    """
    x = check_array("x", x, shape=("N", "T", "V"), finite=True)
    N, T, V = x.shape
    y = check_indices("y", y, V, shape=(N, T))
    mask = np.asarray(mask)
    if mask.shape != (N, T):
        raise ValueError("mask must have shape (N, T) = (%d, %d) to match x, got %s"
                         % (N, T, mask.shape))
    if mask.dtype != bool:
        if mask.dtype.kind not in "iu" or not np.isin(mask, (0, 1)).all():
            raise ValueError("mask must be boolean (or 0/1 integers), got dtype %s" % mask.dtype)
        mask = mask.astype(bool)
    # BEGIN SOLUTION
    x_flat = x.reshape(N * T, V)
    rows = np.arange(N * T)
    y_flat = y.reshape(N * T)
    weight = (mask.reshape(N * T) / N).astype(x.dtype)  # 1/N where counted, else 0
    # Softmax with the row max subtracted; one buffer becomes the probabilities, then dx.
    probs = x_flat - x_flat.max(axis=1, keepdims=True)
    target = probs[rows, y_flat]  # shifted score of the correct word
    np.exp(probs, out=probs)
    total = probs.sum(axis=1)  # >= 1: the max entry contributes exp(0)
    loss = np.dot(weight, np.log(total) - target)  # -log p[y] = log(total) - target
    probs *= (weight / total)[:, None]
    probs[rows, y_flat] -= weight
    if verbose:
        print("dx_flat: ", probs.shape)
    dx = probs.reshape(N, T, V)
    # END SOLUTION
    return x.dtype.type(loss), dx



# ----------------------------------------------------------------------------- fused output layer

def _temporal_affine_softmax_loss(x, w, b, y, mask, block_rows=1024):
    """temporal_affine_forward, temporal_softmax_loss and temporal_affine_backward in one call.

    Only the positions with mask on are scored (the others add nothing to the loss and get zero
    gradient), a block of rows at a time, so the (N, T, M) scores and their gradient never exist
    whole. Same loss and gradients as the three public calls, up to rounding. No input checks.

    Inputs:
    - x: Hidden states, of shape (N, T, D)
    - w: Weights, of shape (D, M)
    - b: Biases, of shape (M,)
    - y: Integer targets, of shape (N, T), each in [0, M)
    - mask: Boolean array of shape (N, T)
    - block_rows: How many positions to score at a time

    Returns a tuple of:
    - loss: Scalar in x's dtype, as temporal_softmax_loss; NaN if a score is not finite
    - dx: Gradient of x, of shape (N, T, D)
    - dw: Gradient of w, of shape (D, M)
    - db: Gradient of b, of shape (M,)
    """
    # BEGIN SOLUTION
    # HINT: optional, not graded: a fast path of the reference library that your code does not call
    N, T, D = x.shape
    x_flat = x.reshape(N * T, D)
    y_flat = y.reshape(N * T)
    rows = np.flatnonzero(mask.reshape(N * T))
    dx = np.zeros_like(x_flat)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    inv_N = x.dtype.type(1.0 / N)
    loss = x.dtype.type(0)
    # Equal blocks of at most block_rows: a small last block would run its products slowly.
    n_blocks = max(1, -(-rows.size // block_rows))
    step = max(1, -(-rows.size // n_blocks))
    for start in range(0, rows.size, step):
        r = rows[start:start + step]
        k = np.arange(r.size)
        xb = x_flat[r]
        probs = xb @ w
        probs += b
        if not np.isfinite(probs).all():
            return x.dtype.type(np.nan), dx.reshape(N, T, D), dw, db
        probs -= probs.max(axis=1, keepdims=True)
        target = probs[k, y_flat[r]]  # shifted score of the correct word
        np.exp(probs, out=probs)
        total = probs.sum(axis=1)
        loss += np.log(total).sum() - target.sum()  # -log p[y] = log(total) - target
        probs *= (inv_N / total)[:, None]
        probs[k, y_flat[r]] -= inv_N  # now the gradient of the scores
        dx[r] = probs @ w.T
        dw += xb.T @ probs
        db += probs.sum(axis=0)
    # END SOLUTION
    return loss * inv_N, dx.reshape(N, T, D), dw, db
