"""Array helpers of the kernels: time-major layouts, gate views and exp-based squashing.

NumPy's exp is vectorised where its tanh often is not (float64 tanh can cost 3x an exp), so the
kernels build both squashing functions from exp. Overflow of exp(-a) to inf is the right limit
(1 / inf = 0), so callers silence only that warning.
"""
import numpy as np


def sigmoid_(a):
    """In-place sigmoid of a float array: 1 / (1 + exp(-a)); call under np.errstate(over=...)."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    np.divide(1, a, out=a)
    return a


def tanh_(a, out):
    """out = tanh(a) = 2 / (1 + exp(-2a)) - 1 (out may be a); call under np.errstate(over=...)."""
    np.multiply(a, -2, out=out)
    np.exp(out, out=out)
    out += 1
    np.divide(2, out, out=out)
    out -= 1
    return out


def time_major(x):
    """(N, T, D) -> a contiguous (T, N, D) copy, so that every step's slice x[t] is contiguous."""
    return np.ascontiguousarray(x.transpose(1, 0, 2))


def batch_major(a):
    """(T, N, D) -> a contiguous (N, T, D) copy (the layout the public API returns)."""
    return np.ascontiguousarray(a.transpose(1, 0, 2))


def by_gate(a, k=4):
    """(N, kH) -> a (k, N, H) view of the same memory, gate j at [j] (as the cell kernels take
    gates); a view even where reshape would copy, so writes through it land in a."""
    N, kH = a.shape
    row, col = a.strides
    return np.lib.stride_tricks.as_strided(a, (k, N, kH // k), (kH // k * col, row, col))
