"""The output layer fused: scores, softmax loss and their backward in one pass.

  temporal_affine_softmax_loss  equals  temporal_affine_forward, temporal_softmax_loss and
                                        temporal_affine_backward of rnncap/rnn_layers.py

The trick: only positions whose target is a word are scored, a block of rows at a time, so the
(N, T, V) scores and their gradient never exist whole and padding costs nothing.
"""
import numpy as np


def temporal_affine_softmax_loss(x, w, b, y, mask, block_rows=1024):
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
    return loss * inv_N, dx.reshape(N, T, D), dw, db
