"""Numeric gradients by centred differences, and the relative error used to compare them.

Every probe changes one entry of x, evaluates f, and puts the original value back, so x is
bit-identical afterwards.
"""
import numpy as np

from ._validate import check_array


def rel_error(x, y):
    """Maximum relative error: max(|x - y| / max(1e-8, |x| + |y|))."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError("rel_error: x and y must have the same shape, got %s and %s"
                         % (x.shape, y.shape))
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _centred(f, x, ix, h):
    """(f(x + h e_ix) - f(x - h e_ix)) / 2h, with x[ix] restored afterwards."""
    old = x[ix]
    x[ix] = old + h
    fxph = f(x)
    x[ix] = old - h
    fxmh = f(x)
    x[ix] = old
    return fxph, fxmh


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numeric gradient of a scalar function f at x.

    Inputs:
    - f: function taking one argument (x) and returning a scalar
    - x: the point (a float numpy array), modified in place during probing and restored
    - verbose: print each index and its gradient
    - h: step of the centred difference

    Returns:
    - grad: array of the same shape as x
    """
    x = check_array("x", x)
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        fxph, fxmh = _centred(f, x, ix, h)
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numeric gradient of sum(f(x) * df) at x, for f returning an array and df its upstream grad.

    Inputs:
    - f: function taking x and returning an array
    - x: the point (a float numpy array), modified in place during probing and restored
    - df: upstream gradient, of f(x)'s shape
    - h: step of the centred difference

    Returns:
    - grad: array of the same shape as x
    """
    x = check_array("x", x)
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        pos, neg = _centred(lambda z: np.array(f(z), copy=True), x, ix, h)
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None):
    """Compare analytic_grad with the numeric gradient at num_checks random entries of x.

    Prints one line per entry and returns the list of relative errors. The entries are drawn from
    a Generator of its own (seeded by `seed`), so the global np.random state is left untouched.
    """
    x = check_array("x", x)
    analytic_grad = check_array("analytic_grad", analytic_grad, shape=x.shape)
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(m)) for m in x.shape)
        fxph, fxmh = _centred(f, x, ix, h)
        grad_numerical = (fxph - fxmh) / (2 * h)
        grad_analytic = analytic_grad[ix]
        err = abs(grad_numerical - grad_analytic) / max(1e-8, abs(grad_numerical) + abs(grad_analytic))
        errors.append(err)
        print("numerical: %f analytic: %f, relative error: %e" % (grad_numerical, grad_analytic, err))
    return errors
