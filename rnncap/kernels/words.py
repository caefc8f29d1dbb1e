"""Word-sharing input products and the scatter-add behind them.

A captioning RNN's input at every position is a word vector, x = W_embed[word], so
x·Wx + b = (W_embed·Wx + b)[word]: with ~1000 distinct words among 4096 positions, repeated
words share one product. Backward sums the pre-activation gradients per word first.

  input_products           equals  x·Wx + b, one row per position (the step forwards' input part)
  input_products_backward  equals  the dx (or dW_embed via word_embedding_backward), dWx, db of
                                   the sequence backwards
  sum_rows_by              equals  np.add.at(out, group, a) (word_embedding_backward's scatter-add)
"""
import numpy as np

from ._arrays import batch_major


_MANY_ROWS = 16  # sum_rows_by sums a group with more rows than this in one call
_CHUNK_ROWS = 256  # and adds at most this many rows at a time


def input_products(out, xs, Wx, b, words=None, W_embed=None):
    """x·Wx + b for the inputs of every step, written into out one column block of Wx at a time.

    Inputs:
    - out: Output, of shape (J, M, C): Wx's kH columns split into J blocks of C (the LSTM's
      gate-major layout has J = 4, the others J = 1), for M = T * N input rows
    - xs: Input rows, of shape (M, D)
    - Wx: Weights, of shape (D, J * C); b: Biases, of shape (J * C,)
    - words, W_embed: Optional, when xs = W_embed[words] with words of shape (M,): repeated
      words then share one product, formed for each distinct word and picked by row
    """
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

def input_products_backward(da, xs, Wx, words=None, V=None):
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
    T, N, D = xs.shape
    da = da.reshape(T * N, -1)
    db = da.sum(axis=0)
    if words is None:
        dx = batch_major((da @ Wx.T).reshape(T, N, D))
        return dx, xs.reshape(T * N, D).T @ da, db
    distinct, first, row_of = np.unique(words, return_index=True, return_inverse=True)
    da_word = sum_rows_by(da, row_of.ravel(), distinct.size)  # (distinct words, kH)
    dW_embed = np.zeros((V, D), dtype=da.dtype)
    dW_embed[distinct] = da_word @ Wx.T
    return dW_embed, xs.reshape(T * N, D)[first].T @ da_word, db

def sum_rows_by(a, group, n):
    """out[g] = the sum of the rows a[i] with group[i] == g: a scatter-add, much faster than
    np.add.at for wide rows.

    Inputs:
    - a: Rows, of shape (M, C)
    - group: Integers of shape (M,), taking every value in [0, n)
    - n: The number of groups

    Returns:
    - out: Array of shape (n, C)
    """
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

