"""First-order update rules (CS231n API).

Each rule has the interface

    next_w, config = update(w, dw, config=None)

Inputs:
- w: A numpy array giving the current weights, of any shape
- dw: A numpy array of the same shape and dtype as w giving the gradient of the loss wrt w
- config: A dictionary of hyperparameters (learning rate, momentum, ...) and of the rule's state
  (velocity, running averages, ...); missing hyperparameters take the defaults below.

Returns:
- next_w: The updated weights, a new array of w's shape and dtype (w itself is not modified)
- config: The same dictionary, with its state updated for the next call

Hyperparameters are read as Python floats and state arrays are allocated like w, so float32
weights stay float32 (NumPy 2 would otherwise upcast them when a hyperparameter is a np.float64).
"""
import numpy as np

from ._validate import check_array, check_same_dtype

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam"]


def _check(w, dw, config):
    """Validate (w, dw, config); return them as arrays and a dict."""
    w = check_array("w", w)
    dw = check_array("dw", dw)
    if dw.shape != w.shape:
        raise ValueError("dw must have w's shape %s, got %s" % (w.shape, dw.shape))
    check_same_dtype(w=w, dw=dw)
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError("config must be a dict or None, got %s" % type(config).__name__)
    return w, dw, config


def _state(config, key, w):
    """The rule's state array config[key], or zeros shaped like w on the first call."""
    return config[key] if key in config else np.zeros_like(w)


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: next_w = w - learning_rate * dw.

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).
    """
    w, dw, config = _check(w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    # BEGIN SOLUTION
    # HINT: one step against the gradient, scaled by the learning rate
    next_w = w - float(config["learning_rate"]) * dw
    # END SOLUTION
    return next_w, config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum:

        v = momentum * v - learning_rate * dw
        next_w = w + v

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).
    - momentum: Scalar between 0 and 1 giving the momentum value (default 0.9);
      momentum = 0 reduces to sgd.
    - velocity: A numpy array of the same shape as w, a moving average of the gradients
      (created as zeros on the first call).
    """
    w, dw, config = _check(w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = _state(config, "velocity", w)
    # BEGIN SOLUTION
    # HINT: update the velocity v from its previous value and dw (the docstring's equations), then move w by v
    v = float(config["momentum"]) * v - float(config["learning_rate"]) * dw
    next_w = w + v
    # END SOLUTION
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: a per-parameter learning rate from a moving average of squared gradients:

        cache = decay_rate * cache + (1 - decay_rate) * dw**2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).
    - decay_rate: Scalar between 0 and 1 giving the decay rate for the squared gradient cache
      (default 0.99).
    - epsilon: Small scalar used for smoothing to avoid dividing by zero (default 1e-8).
    - cache: Moving average of second moments of gradients, shaped like w (zeros at first).
    """
    w, dw, config = _check(w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = _state(config, "cache", w)
    # BEGIN SOLUTION
    # HINT: a moving average of dw squared in cache, then a step scaled by 1 / (sqrt(cache) + epsilon)
    decay = float(config["decay_rate"])
    cache = decay * cache + (1 - decay) * (dw * dw)
    next_w = w - float(config["learning_rate"]) * dw / (np.sqrt(cache) + float(config["epsilon"]))
    # END SOLUTION
    config["cache"] = cache
    return next_w, config


def adam(w, dw, config=None):
    """Adam with bias correction; t is incremented *before* the correction (first step t = 1):

        t = t + 1
        m = beta1 * m + (1 - beta1) * dw            mt = m / (1 - beta1**t)
        v = beta2 * v + (1 - beta2) * dw**2         vt = v / (1 - beta2**t)
        next_w = w - learning_rate * mt / (sqrt(vt) + epsilon)

    config format:
    - learning_rate: Scalar learning rate (default 1e-3).
    - beta1: Decay rate for moving average of first moment of gradient (default 0.9).
    - beta2: Decay rate for moving average of second moment of gradient (default 0.999).
    - epsilon: Small scalar used for smoothing to avoid dividing by zero (default 1e-8).
    - m: Moving average of gradient, shaped like w (zeros at first).
    - v: Moving average of squared gradient, shaped like w (zeros at first).
    - t: Iteration number (0 at first).
    """
    w, dw, config = _check(w, dw, config)
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    m = _state(config, "m", w)
    v = _state(config, "v", w)
    t = int(config.get("t", 0))
    # BEGIN SOLUTION
    # HINT: increment t first; update m and v as moving averages of dw and dw squared, correct each for its bias with 1 - beta**t, then step
    beta1, beta2 = float(config["beta1"]), float(config["beta2"])
    t += 1
    m = beta1 * m + (1 - beta1) * dw
    mt = m / (1 - beta1 ** t)
    v = beta2 * v + (1 - beta2) * (dw * dw)
    vt = v / (1 - beta2 ** t)
    next_w = w - float(config["learning_rate"]) * mt / (np.sqrt(vt) + float(config["epsilon"]))
    # END SOLUTION
    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config
