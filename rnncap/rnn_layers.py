"""Recurrent layers with hand-written backward passes (CS231n assignment-3 API).

Every forward returns (out, cache) and every backward takes (dout, cache); caches hold exactly
what backward needs. Outputs follow the input dtype (float32 stays float32). Public forwards check
their inputs and raise ValueError naming the argument; backwards trust their cache.

Gate layouts along the last axis of the pre-activations `a`:
  LSTM (4H): i, f, o, g        GRU (3H): r, z, n
Sequence functions use one GEMM for x·Wx over all time steps and accumulate dWx, dWh with one GEMM
each after the backward loop; step functions are the same math for a single step.
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


def _sigmoid_(a):
    """In-place sigmoid of a float array (same formula as sigmoid)."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5
    return a


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
    out = x.reshape(x.shape[0], D) @ w + b
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
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
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
    da = dnext_h * (1 - next_h * next_h)  # tanh'(a) = 1 - tanh(a)^2
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
    - cache: (x, h0, Wx, Wh, h)
    """
    x, h0, Wx, Wh, b = _check_cell(x, h0, Wx, Wh, b, 1, h_name="h0", seq=True)
    check_same_dtype(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    N, T, D = x.shape
    H = h0.shape[1]
    h = (x.reshape(N * T, D) @ Wx + b).reshape(N, T, H)  # input part of every step at once
    prev_h = h0
    for t in range(T):
        ht = h[:, t]
        ht += prev_h @ Wh
        np.tanh(ht, out=ht)
        prev_h = ht
    # END SOLUTION
    return h, (x, h0, Wx, Wh, h)


def rnn_backward(dh, cache):
    """Backward pass for a vanilla RNN over an entire sequence of data.

    Inputs:
    - dh: Upstream gradients of all hidden states, of shape (N, T, H)
    - cache: (x, h0, Wx, Wh, h) from rnn_forward

    Returns a tuple of:
    - dx: Gradient of inputs, of shape (N, T, D)
    - dh0: Gradient of initial hidden state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weights, of shape (D, H)
    - dWh: Gradient of hidden-to-hidden weights, of shape (H, H)
    - db: Gradient of biases, of shape (H,)
    """
    x, h0, Wx, Wh, h = cache
    # BEGIN SOLUTION
    N, T, D = x.shape
    H = h0.shape[1]
    da = np.empty_like(h)
    dnext = np.zeros_like(h0)  # gradient flowing into h[:, t] from step t + 1
    for t in reversed(range(T)):
        dat = da[:, t]
        np.add(dh[:, t], dnext, out=dat)
        dat *= 1 - h[:, t] * h[:, t]
        dnext = dat @ Wh.T
    da2 = da.reshape(N * T, H)
    prev_hs = np.concatenate([h0[:, None], h[:, :-1]], axis=1).reshape(N * T, H)
    dx = (da2 @ Wx.T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ da2
    dWh = prev_hs.T @ da2
    db = da2.sum(axis=0)
    dh0 = dnext
    # END SOLUTION
    return dx, dh0, dWx, dWh, db


# ----------------------------------------------------------------------------- LSTM

def _lstm_gates(a, H):
    """Turn pre-activations a (N, 4H) into gates in place: sigmoid on i, f, o; tanh on g."""
    _sigmoid_(a[:, :3 * H])
    np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])
    return a


def _lstm_cell_backward(dnext_h, dnext_c, gates, prev_c, tanh_c):
    """Gradients of one LSTM cell w.r.t. its pre-activations a (N, 4H) and prev_c (N, H)."""
    H = prev_c.shape[1]
    i, f, o, g = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
    da = np.empty_like(gates)
    da[:, :H] = dc * g * i * (1 - i)
    da[:, H:2 * H] = dc * prev_c * f * (1 - f)
    da[:, 2 * H:3 * H] = dnext_h * tanh_c * o * (1 - o)
    da[:, 3 * H:] = dc * i * (1 - g * g)
    dprev_c = dc * f
    return da, dprev_c


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
    - cache: (x, prev_h, prev_c, Wx, Wh, gates, tanh(next_c)); gates (N, 4H) holds i, f, o, g
    """
    x, prev_h, Wx, Wh, b = _check_cell(x, prev_h, Wx, Wh, b, 4)
    prev_c = check_array("prev_c", prev_c, shape=prev_h.shape, finite=True)
    check_same_dtype(x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    H = prev_h.shape[1]
    gates = _lstm_gates(x @ Wx + prev_h @ Wh + b, H)
    i, f, o, g = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
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
    da, dprev_c = _lstm_cell_backward(dnext_h, dnext_c, gates, prev_c, tanh_c)
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
    - cache: (x, h0, Wx, Wh, h, gates (N, T, 4H), c (N, T, H), tanh(c) (N, T, H))
    """
    x, h0, Wx, Wh, b = _check_cell(x, h0, Wx, Wh, b, 4, h_name="h0", seq=True)
    check_same_dtype(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    N, T, D = x.shape
    H = h0.shape[1]
    gates = (x.reshape(N * T, D) @ Wx + b).reshape(N, T, 4 * H)  # x·Wx for every step at once
    h = np.empty((N, T, H), dtype=x.dtype)
    c = np.empty_like(h)
    prev_h, prev_c = h0, np.zeros_like(h0)
    for t in range(T):
        at = gates[:, t]
        at += prev_h @ Wh
        _lstm_gates(at, H)
        np.multiply(at[:, H:2 * H], prev_c, out=c[:, t])
        c[:, t] += at[:, :H] * at[:, 3 * H:]
        np.multiply(at[:, 2 * H:3 * H], np.tanh(c[:, t]), out=h[:, t])
        prev_h, prev_c = h[:, t], c[:, t]
    tanh_c = np.tanh(c)
    # END SOLUTION
    return h, (x, h0, Wx, Wh, h, gates, c, tanh_c)


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
    x, h0, Wx, Wh, h, gates, c, tanh_c = cache
    # BEGIN SOLUTION
    N, T, D = x.shape
    H = h0.shape[1]
    da = np.empty_like(gates)
    dnext_h = np.zeros_like(h0)
    dnext_c = np.zeros_like(h0)
    zeros = np.zeros_like(h0)
    for t in reversed(range(T)):
        prev_c = c[:, t - 1] if t > 0 else zeros
        da[:, t], dnext_c = _lstm_cell_backward(dh[:, t] + dnext_h, dnext_c,
                                                gates[:, t], prev_c, tanh_c[:, t])
        dnext_h = da[:, t] @ Wh.T
    da2 = da.reshape(N * T, 4 * H)
    prev_hs = np.concatenate([h0[:, None], h[:, :-1]], axis=1).reshape(N * T, H)
    dx = (da2 @ Wx.T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ da2
    dWh = prev_hs.T @ da2
    db = da2.sum(axis=0)
    dh0 = dnext_h
    # END SOLUTION
    return dx, dh0, dWx, dWh, db


# ----------------------------------------------------------------------------- GRU

def _gru_cell(xa, prev_h, Wh):
    """One GRU cell from its input part xa = x·Wx + b (N, 3H). Returns next_h, gates, ha_n."""
    H = prev_h.shape[1]
    ha = prev_h @ Wh
    gates = xa.copy()
    gates[:, :2 * H] += ha[:, :2 * H]
    _sigmoid_(gates[:, :2 * H])
    r, z = gates[:, :H], gates[:, H:2 * H]
    ha_n = ha[:, 2 * H:]
    n = gates[:, 2 * H:]
    n += r * ha_n
    np.tanh(n, out=n)
    next_h = n + z * (prev_h - n)  # (1 - z) * n + z * prev_h
    return next_h, gates, ha_n


def _gru_cell_backward(dnext_h, prev_h, gates, ha_n):
    """Gradients of one GRU cell w.r.t. xa (N, 3H), ha = prev_h·Wh (N, 3H) and prev_h directly."""
    H = prev_h.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dn = dnext_h * (1 - z)
    dxa = np.empty_like(gates)
    dxa[:, 2 * H:] = dn * (1 - n * n)
    dxa[:, H:2 * H] = dnext_h * (prev_h - n) * z * (1 - z)
    dxa[:, :H] = dxa[:, 2 * H:] * ha_n * r * (1 - r)
    dha = dxa.copy()
    dha[:, 2 * H:] *= r
    return dxa, dha, dnext_h * z


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
    - cache: (x, prev_h, Wx, Wh, gates (N, 3H) holding r, z, n, prev_h·Wh_n (N, H))
    """
    x, prev_h, Wx, Wh, b = _check_cell(x, prev_h, Wx, Wh, b, 3)
    check_same_dtype(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    next_h, gates, ha_n = _gru_cell(x @ Wx + b, prev_h, Wh)
    # END SOLUTION
    return next_h, (x, prev_h, Wx, Wh, gates, ha_n)


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
    x, prev_h, Wx, Wh, gates, ha_n = cache
    # BEGIN SOLUTION
    dxa, dha, dprev_h = _gru_cell_backward(dnext_h, prev_h, gates, ha_n)
    dx = dxa @ Wx.T
    dprev_h += dha @ Wh.T
    dWx = x.T @ dxa
    dWh = prev_h.T @ dha
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
    - cache: (x, h0, Wx, Wh, h, gates (N, T, 3H), prev_h·Wh_n (N, T, H))
    """
    x, h0, Wx, Wh, b = _check_cell(x, h0, Wx, Wh, b, 3, h_name="h0", seq=True)
    check_same_dtype(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    N, T, D = x.shape
    H = h0.shape[1]
    xa = (x.reshape(N * T, D) @ Wx + b).reshape(N, T, 3 * H)  # x·Wx for every step at once
    h = np.empty((N, T, H), dtype=x.dtype)
    gates = np.empty_like(xa)
    ha_n = np.empty_like(h)
    prev_h = h0
    for t in range(T):
        h[:, t], gates[:, t], ha_n[:, t] = _gru_cell(xa[:, t], prev_h, Wh)
        prev_h = h[:, t]
    # END SOLUTION
    return h, (x, h0, Wx, Wh, h, gates, ha_n)


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
    x, h0, Wx, Wh, h, gates, ha_n = cache
    # BEGIN SOLUTION
    N, T, D = x.shape
    H = h0.shape[1]
    dxa = np.empty_like(gates)
    dha = np.empty_like(gates)
    dnext_h = np.zeros_like(h0)
    for t in reversed(range(T)):
        prev_h = h[:, t - 1] if t > 0 else h0
        dxa[:, t], dha[:, t], dprev_h = _gru_cell_backward(dh[:, t] + dnext_h, prev_h,
                                                           gates[:, t], ha_n[:, t])
        dnext_h = dprev_h + dha[:, t] @ Wh.T
    dxa2 = dxa.reshape(N * T, 3 * H)
    prev_hs = np.concatenate([h0[:, None], h[:, :-1]], axis=1).reshape(N * T, H)
    dx = (dxa2 @ Wx.T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ dxa2
    dWh = prev_hs.T @ dha.reshape(N * T, 3 * H)
    db = dxa2.sum(axis=0)
    dh0 = dnext_h
    # END SOLUTION
    return dx, dh0, dWx, dWh, db


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
    # Sort once and sum runs of equal indices: much faster than np.add.at.
    idx = x.ravel()
    rows = dout.reshape(idx.size, W_shape[1])
    order = np.argsort(idx, kind="stable")
    sorted_idx = idx[order]
    starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]]) if idx.size else []
    dW = np.zeros(W_shape, dtype=dout.dtype)
    if idx.size:
        dW[sorted_idx[starts]] = np.add.reduceat(rows[order], starts, axis=0)
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
    out = (x.reshape(N * T, D) @ w + b).reshape(N, T, w.shape[1])
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
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)
    rows = np.arange(N * T)
    logp = log_softmax(x_flat)
    loss = -logp[rows, y_flat][mask_flat].sum() / N
    dx_flat = np.exp(logp)
    dx_flat[rows, y_flat] -= 1
    dx_flat *= (mask_flat / N).astype(x.dtype)[:, None]
    if verbose:
        print("dx_flat: ", dx_flat.shape)
    dx = dx_flat.reshape(N, T, V)
    # END SOLUTION
    return x.dtype.type(loss), dx
