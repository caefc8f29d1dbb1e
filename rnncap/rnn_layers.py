"""Recurrent layers with hand-written backward passes (the CS231n assignment-3 API).

Read this file top to bottom to learn backpropagation through time:
  affine -> vanilla RNN step -> RNN over a sequence -> LSTM -> GRU -> word embedding ->
  temporal affine -> temporal softmax loss.

Every forward returns (out, cache) and every backward takes (dout, cache); the cache is a plain
tuple of the values the backward pass needs. A sequence forward is a loop over its step forward,
and a sequence backward is a loop over its step backward that adds up the weight gradients of
every step (backpropagation through time). Outputs keep the input dtype (float32 stays float32).
Public forwards check their inputs and raise ValueError naming the argument.

Notation: N minibatch size, T time steps, D input size, H hidden size, V vocabulary size.
The gates sit side by side along the last axis of the pre-activation `a`:
  LSTM (4H): i, f, o, g        GRU (3H): r, z, n

Speed lives elsewhere: rnncap/kernels/ computes the same values with fewer passes, and
CaptioningRNN(fast=True) uses it; tests prove the two equal.
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


def sigmoid(x):
    """Logistic sigmoid, 1 / (1 + exp(-x)), in x's dtype; its derivative is s * (1 - s).

    Written as 0.5 * (1 + tanh(x / 2)), the same function: tanh saturates where exp(-x) would
    overflow, so there is no warning and no NaN for any finite x.
    """
    x = np.asarray(x)
    return 0.5 * (1 + np.tanh(0.5 * x))


def log_softmax(x, axis=-1):
    """Stable log-softmax along `axis`: x - max - log(sum(exp(x - max))), in x's dtype."""
    x = np.asarray(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# ----------------------------------------------------------------------------- affine

def affine_forward(x, w, b):
    """Affine (fully connected) layer: out = x.reshape(N, D) · w + b.

    Inputs:
    - x: Input data, of shape (N, d_1, ..., d_k), D = d_1 * ... * d_k
    - w: Weights, of shape (D, M)
    - b: Biases, of shape (M,)

    Returns a tuple of:
    - out: Output, of shape (N, M)
    - cache: Values needed for the backward pass
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
    # HINT: flatten each example to a row of D values, multiply by w, add b; keep x and w for backward
    out = x.reshape(x.shape[0], D) @ w + b
    cache = (x, w)
    # END SOLUTION
    return out, cache


def affine_backward(dout, cache):
    """Backward pass for affine_forward.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: From affine_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    # BEGIN SOLUTION
    # HINT: out = x2 · w + b with x2 the flattened x: dx comes through w, dw through x2, and b gets the sum over rows
    x, w = cache
    x2 = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2.T @ dout
    db = dout.sum(axis=0)
    # END SOLUTION
    return dx, dw, db


# ----------------------------------------------------------------------------- vanilla RNN

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One timestep of a vanilla RNN with a tanh activation:

        next_h = tanh(x·Wx + prev_h·Wh + b)

    Inputs:
    - x: Input data for this timestep, of shape (N, D)
    - prev_h: Hidden state from previous timestep, of shape (N, H)
    - Wx: Weight matrix for input-to-hidden connections, of shape (D, H)
    - Wh: Weight matrix for hidden-to-hidden connections, of shape (H, H)
    - b: Biases, of shape (H,)

    Returns a tuple of:
    - next_h: Next hidden state, of shape (N, H)
    - cache: Whatever your backward pass needs
    """
    x, prev_h, Wx, Wh, b = _check_cell(x, prev_h, Wx, Wh, b, 1)
    check_same_dtype(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    # HINT: compute the pre-activation, then tanh; the backward needs the inputs, the weights and next_h (tanh's derivative is 1 - next_h**2)
    a = x @ Wx + prev_h @ Wh + b
    next_h = np.tanh(a)
    cache = (x, prev_h, Wx, Wh, next_h)
    # END SOLUTION
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """Backward pass for a single timestep of a vanilla RNN.

    Inputs:
    - dnext_h: Gradient of loss with respect to next hidden state, of shape (N, H)
    - cache: From rnn_step_forward

    Returns a tuple of:
    - dx: Gradients of input data, of shape (N, D)
    - dprev_h: Gradients of previous hidden state, of shape (N, H)
    - dWx: Gradients of input-to-hidden weights, of shape (D, H)
    - dWh: Gradients of hidden-to-hidden weights, of shape (H, H)
    - db: Gradients of bias vector, of shape (H,)
    """
    # BEGIN SOLUTION
    # HINT: first the gradient of the pre-activation (through tanh), then each product sends it to one input and one weight
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)  # tanh'(a) = 1 - tanh(a)^2
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    # END SOLUTION
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """Vanilla RNN over a whole sequence of T steps: step t maps x[:, t] and the previous hidden
    state to h[:, t] with rnn_step_forward, starting from h0.

    Inputs:
    - x: Input data for the entire timeseries, of shape (N, T, D)
    - h0: Initial hidden state, of shape (N, H)
    - Wx: Weight matrix for input-to-hidden connections, of shape (D, H)
    - Wh: Weight matrix for hidden-to-hidden connections, of shape (H, H)
    - b: Biases, of shape (H,)

    Returns a tuple of:
    - h: Hidden states for the entire timeseries, of shape (N, T, H)
    - cache: Whatever your backward pass needs
    """
    x, h0, Wx, Wh, b = _check_cell(x, h0, Wx, Wh, b, 1, h_name="h0", seq=True)
    check_same_dtype(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    # HINT: loop over t calling rnn_step_forward, feeding each step's next_h into the next step; keep every step's cache
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=x.dtype)
    step_caches = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        step_caches.append(step_cache)
    cache = step_caches
    # END SOLUTION
    return h, cache


def rnn_backward(dh, cache):
    """Backward pass for a vanilla RNN over an entire sequence of data.

    Inputs:
    - dh: Upstream gradients of all hidden states, of shape (N, T, H)
    - cache: From rnn_forward

    Returns a tuple of:
    - dx: Gradient of inputs, of shape (N, T, D)
    - dh0: Gradient of initial hidden state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weights, of shape (D, H)
    - dWh: Gradient of hidden-to-hidden weights, of shape (H, H)
    - db: Gradient of biases, of shape (H,)
    """
    # BEGIN SOLUTION
    # HINT: loop t = T-1 .. 0 calling rnn_step_backward; h[:, t] reaches the loss directly (dh) and through step t+1, so add both; the weights are shared, so sum their gradients over steps
    N, T, H = dh.shape
    dx_steps = [None] * T
    dWx = dWh = db = 0
    dprev_h = np.zeros((N, H), dtype=dh.dtype)  # nothing flows back from beyond the last step
    for t in reversed(range(T)):
        dx_steps[t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h,
                                                                     cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    dx = np.stack(dx_steps, axis=1)
    dh0 = dprev_h
    # END SOLUTION
    return dx, dh0, dWx, dWh, db


# ----------------------------------------------------------------------------- LSTM

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One timestep of an LSTM:

        a = x·Wx + prev_h·Wh + b, split into four (N, H) blocks a_i, a_f, a_o, a_g
        i = sigmoid(a_i)   input gate        f = sigmoid(a_f)   forget gate
        o = sigmoid(a_o)   output gate       g = tanh(a_g)      candidate cell values
        next_c = f * prev_c + i * g
        next_h = o * tanh(next_c)

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
    - cache: Whatever your backward pass needs
    """
    x, prev_h, Wx, Wh, b = _check_cell(x, prev_h, Wx, Wh, b, 4)
    prev_c = check_array("prev_c", prev_c, shape=prev_h.shape, finite=True)
    check_same_dtype(x=x, prev_h=prev_h, prev_c=prev_c, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    # HINT: one pre-activation of shape (N, 4H), sliced into i, f, o, g in that order; use sigmoid from this file and np.tanh; keep the gates and tanh(next_c) for backward
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i = sigmoid(a[:, 0 * H:1 * H])
    f = sigmoid(a[:, 1 * H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:4 * H])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)
    # END SOLUTION
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass for a single timestep of an LSTM.

    Inputs:
    - dnext_h: Gradients of next hidden state, of shape (N, H)
    - dnext_c: Gradients of next cell state, of shape (N, H)
    - cache: From lstm_step_forward

    Returns a tuple of:
    - dx: Gradient of input data, of shape (N, D)
    - dprev_h: Gradient of previous hidden state, of shape (N, H)
    - dprev_c: Gradient of previous cell state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weights, of shape (D, 4H)
    - dWh: Gradient of hidden-to-hidden weights, of shape (H, 4H)
    - db: Gradient of biases, of shape (4H,)
    """
    # BEGIN SOLUTION
    # HINT: next_c gets gradient from dnext_c and, through tanh, from next_h; from it reach each gate, then each gate's pre-activation (sigmoid' = s(1 - s), tanh' = 1 - t^2); join them in i, f, o, g order and finish as in rnn_step_backward
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    do = dnext_h * tanh_c
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)  # next_c reaches the loss two ways
    di = dc * g
    df = dc * prev_c
    dg = dc * i
    dprev_c = dc * f
    da = np.concatenate([di * i * (1 - i),   # through each gate's squashing function
                         df * f * (1 - f),
                         do * o * (1 - o),
                         dg * (1 - g ** 2)], axis=1)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    # END SOLUTION
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """LSTM over an entire sequence of T steps with lstm_step_forward, starting from the hidden
    state h0 and a cell state of zeros.

    Inputs:
    - x: Input data, of shape (N, T, D)
    - h0: Initial hidden state, of shape (N, H)
    - Wx: Weights for input-to-hidden connections, of shape (D, 4H)
    - Wh: Weights for hidden-to-hidden connections, of shape (H, 4H)
    - b: Biases, of shape (4H,)

    Returns a tuple of:
    - h: Hidden states for all timesteps of all sequences, of shape (N, T, H)
    - cache: Whatever your backward pass needs
    """
    x, h0, Wx, Wh, b = _check_cell(x, h0, Wx, Wh, b, 4, h_name="h0", seq=True)
    check_same_dtype(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    # HINT: as rnn_forward, with lstm_step_forward and a second state, the cell state, that starts at zero and is not returned
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=x.dtype)
    step_caches = []
    prev_h, prev_c = h0, np.zeros_like(h0)
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        step_caches.append(step_cache)
    cache = step_caches
    # END SOLUTION
    return h, cache


def lstm_backward(dh, cache):
    """Backward pass for an LSTM over an entire sequence of data.

    Inputs:
    - dh: Upstream gradients of hidden states, of shape (N, T, H)
    - cache: From lstm_forward

    Returns a tuple of:
    - dx: Gradient of input data, of shape (N, T, D)
    - dh0: Gradient of initial hidden state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weight matrix, of shape (D, 4H)
    - dWh: Gradient of hidden-to-hidden weight matrix, of shape (H, 4H)
    - db: Gradient of biases, of shape (4H,)
    """
    # BEGIN SOLUTION
    # HINT: as rnn_backward, with lstm_step_backward; the cell state's gradient flows back through the steps too (it starts at zero after the last step, and c0's is not returned)
    N, T, H = dh.shape
    dx_steps = [None] * T
    dWx = dWh = db = 0
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    dprev_c = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx_steps[t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dprev_h, dprev_c, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    dx = np.stack(dx_steps, axis=1)
    dh0 = dprev_h
    # END SOLUTION
    return dx, dh0, dWx, dWh, db


# ----------------------------------------------------------------------------- GRU

def gru_step_forward(x, prev_h, Wx, Wh, b):
    """One timestep of a GRU (gate order r, z, n along the 3H axis):

        r = sigmoid(x·Wx_r + prev_h·Wh_r + b_r)        reset gate
        z = sigmoid(x·Wx_z + prev_h·Wh_z + b_z)        update gate
        n = tanh(x·Wx_n + b_n + r * (prev_h·Wh_n))      candidate state
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
    - cache: Whatever your backward pass needs
    """
    x, prev_h, Wx, Wh, b = _check_cell(x, prev_h, Wx, Wh, b, 3)
    check_same_dtype(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    # HINT: keep the input part x·Wx + b and the recurrent part prev_h·Wh apart, since r scales only the n block of the recurrent part; keep the gates and prev_h·Wh_n for backward
    H = prev_h.shape[1]
    xa = x @ Wx + b
    ha = prev_h @ Wh
    r = sigmoid(xa[:, 0 * H:1 * H] + ha[:, 0 * H:1 * H])
    z = sigmoid(xa[:, 1 * H:2 * H] + ha[:, 1 * H:2 * H])
    hn = ha[:, 2 * H:3 * H]
    n = np.tanh(xa[:, 2 * H:3 * H] + r * hn)
    next_h = (1 - z) * n + z * prev_h
    cache = (x, prev_h, Wx, Wh, r, z, n, hn)
    # END SOLUTION
    return next_h, cache


def gru_step_backward(dnext_h, cache):
    """Backward pass for a single timestep of a GRU.

    Inputs:
    - dnext_h: Gradient of next hidden state, of shape (N, H)
    - cache: From gru_step_forward

    Returns a tuple of:
    - dx: Gradient of input data, of shape (N, D)
    - dprev_h: Gradient of previous hidden state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weights, of shape (D, 3H)
    - dWh: Gradient of hidden-to-hidden weights, of shape (H, 3H)
    - db: Gradient of biases, of shape (3H,)
    """
    # BEGIN SOLUTION
    # HINT: prev_h reaches next_h directly (through z * prev_h) and through all three gates' products; the input part and the recurrent part get the same gradient except in the n block, where the recurrent part is scaled by r
    x, prev_h, Wx, Wh, r, z, n, hn = cache
    dn = dnext_h * (1 - z)
    dz = dnext_h * (prev_h - n)
    dan = dn * (1 - n ** 2)  # through tanh
    dr = dan * hn
    dar = dr * r * (1 - r)  # through the sigmoids
    daz = dz * z * (1 - z)
    dxa = np.concatenate([dar, daz, dan], axis=1)  # gradient of x·Wx + b
    dha = np.concatenate([dar, daz, dan * r], axis=1)  # gradient of prev_h·Wh
    dx = dxa @ Wx.T
    dprev_h = dnext_h * z + dha @ Wh.T
    dWx = x.T @ dxa
    dWh = prev_h.T @ dha
    db = dxa.sum(axis=0)
    # END SOLUTION
    return dx, dprev_h, dWx, dWh, db


def gru_forward(x, h0, Wx, Wh, b):
    """GRU over an entire sequence of T steps with gru_step_forward, starting from h0.

    Inputs:
    - x: Input data, of shape (N, T, D)
    - h0: Initial hidden state, of shape (N, H)
    - Wx: Input-to-hidden weights, of shape (D, 3H)
    - Wh: Hidden-to-hidden weights, of shape (H, 3H)
    - b: Biases, of shape (3H,)

    Returns a tuple of:
    - h: Hidden states for all timesteps, of shape (N, T, H)
    - cache: Whatever your backward pass needs
    """
    x, h0, Wx, Wh, b = _check_cell(x, h0, Wx, Wh, b, 3, h_name="h0", seq=True)
    check_same_dtype(x=x, h0=h0, Wx=Wx, Wh=Wh, b=b)
    # BEGIN SOLUTION
    # HINT: exactly rnn_forward's loop, with gru_step_forward
    N, T, _ = x.shape
    h = np.empty((N, T, h0.shape[1]), dtype=x.dtype)
    step_caches = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = gru_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        step_caches.append(step_cache)
    cache = step_caches
    # END SOLUTION
    return h, cache


def gru_backward(dh, cache):
    """Backward pass for a GRU over an entire sequence of data.

    Inputs:
    - dh: Upstream gradients of hidden states, of shape (N, T, H)
    - cache: From gru_forward

    Returns a tuple of:
    - dx: Gradient of input data, of shape (N, T, D)
    - dh0: Gradient of initial hidden state, of shape (N, H)
    - dWx: Gradient of input-to-hidden weights, of shape (D, 3H)
    - dWh: Gradient of hidden-to-hidden weights, of shape (H, 3H)
    - db: Gradient of biases, of shape (3H,)
    """
    # BEGIN SOLUTION
    # HINT: exactly rnn_backward's loop, with gru_step_backward
    N, T, H = dh.shape
    dx_steps = [None] * T
    dWx = dWh = db = 0
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx_steps[t], dprev_h, dWx_t, dWh_t, db_t = gru_step_backward(dh[:, t] + dprev_h,
                                                                     cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    dx = np.stack(dx_steps, axis=1)
    dh0 = dprev_h
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
    - cache: Whatever your backward pass needs
    """
    W = check_array("W", W, ndim=2)
    x = check_indices("x", x, W.shape[0], shape=("N", "T"))
    # BEGIN SOLUTION
    # HINT: integer array indexing does it in one line; backward needs the indices and W's shape
    out = W[x]
    cache = (x, W.shape)
    # END SOLUTION
    return out, cache


def word_embedding_backward(dout, cache):
    """Backward pass for word embeddings: a word used several times gets the sum of the
    gradients of every place it was used.

    Inputs:
    - dout: Upstream gradients, of shape (N, T, D)
    - cache: From word_embedding_forward

    Returns:
    - dW: Gradient of word embedding matrix, of shape (V, D)
    """
    # BEGIN SOLUTION
    # HINT: start from zeros and add each dout[n, t] to its word's row; dW[x] += dout loses repeated words, np.add.at does not
    x, W_shape = cache
    dW = np.zeros(W_shape, dtype=dout.dtype)
    np.add.at(dW, x, dout)
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
    - cache: Whatever your backward pass needs
    """
    x = check_array("x", x, shape=("N", "T", "D"))
    w = check_array("w", w, shape=(x.shape[2], "M"))
    if w.shape[0] != x.shape[2]:
        raise ValueError("w must have shape (D, M) with D = %d (x's last axis), got %s"
                         % (x.shape[2], w.shape))
    b = check_array("b", b, shape=(w.shape[1],))
    check_same_dtype(x=x, w=w, b=b)
    # BEGIN SOLUTION
    # HINT: matmul applies w to the last axis of every (n, t) at once; keep x and w
    out = x @ w + b
    cache = (x, w)
    # END SOLUTION
    return out, cache


def temporal_affine_backward(dout, cache):
    """Backward pass for temporal affine layer.

    Inputs:
    - dout: Upstream gradients, of shape (N, T, M)
    - cache: From temporal_affine_forward

    Returns a tuple of:
    - dx: Gradient of input, of shape (N, T, D)
    - dw: Gradient of weights, of shape (D, M)
    - db: Gradient of biases, of shape (M,)
    """
    # BEGIN SOLUTION
    # HINT: affine_backward with the N * T positions as rows: reshape to 2-D, then back
    x, w = cache
    N, T, D = x.shape
    dout_rows = dout.reshape(N * T, -1)
    dx = dout @ w.T
    dw = x.reshape(N * T, D).T @ dout_rows
    db = dout_rows.sum(axis=0)
    # END SOLUTION
    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
    """Softmax cross-entropy summed over the unmasked timesteps, divided by N:

        loss = -1/N * sum over (n, t) with mask[n, t] of log softmax(x[n, t])[y[n, t]]
        dx[n, t] = mask[n, t] / N * (softmax(x[n, t]) - onehot(y[n, t]))

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
    # HINT: flatten to N * T rows; subtract each row's max before exp so it cannot overflow; average over N (not over the words), and zero the masked rows of dx
    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)
    rows = np.arange(N * T)
    shifted = x_flat - x_flat.max(axis=1, keepdims=True)  # softmax is unchanged by the shift
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.sum(log_probs[rows, y_flat] * mask_flat) / N
    dx_flat = np.exp(log_probs)
    dx_flat[rows, y_flat] -= 1
    dx_flat *= (mask_flat / N)[:, None].astype(x.dtype)
    if verbose:
        print("dx_flat: ", dx_flat.shape)
    dx = dx_flat.reshape(N, T, V)
    # END SOLUTION
    return x.dtype.type(loss), dx


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
    if seq and x.shape[1] < 1:
        raise ValueError("%s must have shape (N, T, D) with T >= 1, got %s"
                         % (x_name, x.shape))
    return x, prev_h, Wx, Wh, b
