"""Input checks shared by every public function: clear ValueErrors, raised before any NumPy work."""
import numpy as np


class NonFiniteError(ValueError):
    """An input holds NaN or inf (a ValueError, so callers may treat it like any bad input)."""


def _fmt(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


def check_array(name, x, ndim=None, shape=None, dtype_kind="f", finite=False):
    """Return np.asarray(x) after checking it, else raise ValueError naming `name`.

    ndim: the required number of dimensions (an int) or None.
    shape: a tuple where each entry is an int, a string label (for messages) or None (any size);
           the first mismatching entry is reported as "expected (N, D) = (4, 5), got (4, 6)".
    dtype_kind: 'f' floating, 'i' integer, None any.
    finite: reject NaN / inf.
    """
    a = np.asarray(x)
    if dtype_kind == "f" and a.dtype.kind != "f":
        raise ValueError("%s must be a floating-point array, got dtype %s" % (name, a.dtype))
    if dtype_kind == "i" and a.dtype.kind not in "iu":
        raise ValueError("%s must be an integer array, got dtype %s" % (name, a.dtype))
    if ndim is not None and a.ndim != ndim:
        raise ValueError("%s must have %d dimensions, got shape %s" % (name, ndim, _fmt(a.shape)))
    if shape is not None:
        if a.ndim != len(shape):
            raise ValueError("%s must have shape %s, got %s" % (name, _fmt(shape), _fmt(a.shape)))
        for want, got in zip(shape, a.shape):
            if want is not None and not isinstance(want, str) and want != got:
                raise ValueError("%s must have shape %s, got %s" % (name, _fmt(shape), _fmt(a.shape)))
    if finite and a.dtype.kind == "f" and not np.isfinite(a).all():
        raise NonFiniteError("%s contains NaN or inf" % name)
    return a


def check_same_dtype(**arrays):
    """Raise ValueError unless every floating array shares one dtype (no silent up/down-casting)."""
    dtypes = {name: np.asarray(a).dtype for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        desc = ", ".join("%s %s" % (n, d) for n, d in dtypes.items())
        raise ValueError("arrays must share one float dtype, got " + desc)


def check_indices(name, x, upper, shape=None):
    """Integer array with every value in [0, upper)."""
    a = check_array(name, x, shape=shape, dtype_kind="i")
    if a.size and (a.min() < 0 or a.max() >= upper):
        raise ValueError("%s values must lie in [0, %d), got min %d, max %d"
                         % (name, upper, a.min(), a.max()))
    return a


def available_memory():
    """Bytes of memory this process can expect to get: MemAvailable on Linux, else the
    physical memory; None when neither can be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _human(nbytes):
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if nbytes < 1000 or unit == "PB":
            return ("%d %s" if unit == "bytes" else "%.1f %s") % (nbytes, unit)
        nbytes /= 1000.0


def check_memory(what, nbytes, available=None):
    """Raise ValueError naming `what` (e.g. "--batch-size 10000000") when an estimate of the
    bytes it needs exceeds the memory available; called before allocating."""
    available = available_memory() if available is None else available
    if available is not None and nbytes > available:
        raise ValueError("%s needs about %s of memory (estimated), more than the %s available"
                         % (what, _human(nbytes), _human(available)))
