"""Checkpoints: one .npz file holding arrays plus a JSON document, written atomically.

Layout of the .npz (read back without unpickling, so loading runs no stored code):
- '__meta__': a 0-d unicode array holding JSON: the format tag, the model config (its kind, dtype,
  vocabulary and architecture) and whatever else the writer adds (solver config, histories, ...)
  The model config of a CaptioningTransformer has kind 'transformer'; one without a kind (every
  checkpoint written before transformers) is a CaptioningRNN.
- 'params/NAME': the model's parameters
- 'best/NAME': the best epoch's parameters; 'optim/NAME/KEY': the optimizer's state arrays
  (KEY one of m, v, velocity, cache); 'rng/keys': the global np.random state's key array

Loading checks the whole JSON document (naming the first bad field) and reads only the arrays
named above, each after checking from its header that its shape and dtype fit the model config;
any other array in the file is never read. save_model / load_model handle a bare model;
CaptioningSolver.save / load build on save_checkpoint / load_checkpoint to add the training state.

Temporary files (.NAME.npz.PID.XXXX.tmp) of a save that was killed are removed by the next
save into the same directory, and when a solver resumes from it.
"""
import json
import math
import os
import tempfile
import time
import zipfile

import numpy as np

FORMAT = "rnncap-checkpoint"
VERSION = 1
_META = "__meta__"
MAX_META_CHARS = 2 ** 26          # the JSON document: loss histories of about 3M iterations
CELL_GATES = {"rnn": 1, "lstm": 4, "gru": 3, "attention": 4}
PARAM_NAMES = ("W_embed", "W_proj", "b_proj", "Wx", "Wh", "b", "W_vocab", "b_vocab")
MODEL_KINDS = ("rnn", "transformer")  # model.kind; absent means rnn
ACTIVATIONS = ("relu", "gelu")
OPTIM_ARRAYS = ("m", "v", "velocity", "cache")
# The optimizer arrays each built-in rule has once it has taken a step.
RULE_ARRAYS = {"sgd": (), "sgd_momentum": ("velocity",), "rmsprop": ("cache",),
               "adam": ("m", "v")}
_OLD_TEMP_SECONDS = 3600          # a temporary file without a PID is stale after this long




def cell_param_names(cell_type):
    """The parameter names of a model with this cell: PARAM_NAMES, plus Wattn for 'attention'."""
    return PARAM_NAMES + ("Wattn",) if cell_type == "attention" else PARAM_NAMES


# ------------------------------------------------------------------ writing

def _temp_owner(name):
    """(is an rnncap checkpoint temporary, pid or None) for a file name in a checkpoint dir."""
    if not (name.startswith(".") and name.endswith(".tmp") and ".npz." in name):
        return False, None
    middle = name[name.index(".npz.") + len(".npz."):-len(".tmp")]
    pid = middle.split(".", 1)[0]
    return True, int(pid) if pid.isdigit() and "." in middle else None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process
    return True


def remove_stale_temporaries(directory):
    """
    Delete the temporary files that killed saves left in directory: those of processes that no
    longer run, and those without a process id that are over an hour old. Returns their names.
    """
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        is_temp, pid = _temp_owner(name)
        if not is_temp:
            continue
        path = os.path.join(directory, name)
        try:
            if pid is not None:
                stale = pid != os.getpid() and not _alive(pid)
            else:
                stale = time.time() - os.path.getmtime(path) > _OLD_TEMP_SECONDS
            if stale:
                os.unlink(path)
                removed.append(name)
        except OSError:
            pass
    return removed


def save_checkpoint(path, arrays, meta):
    """
    Write arrays and a JSON-serialisable meta dict to path, atomically.

    The file is written to a temporary file in the same directory, flushed to disk and renamed
    over path, so an interrupted save never leaves a truncated checkpoint. Temporary files that
    earlier killed saves left in the directory are removed first.

    Inputs:
    - path: Destination file name; '.npz' is appended when missing (as np.savez does)
    - arrays: Dictionary of name -> numpy array (not object arrays)
    - meta: JSON-serialisable dictionary

    Returns:
    - path: The path written
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    for name, value in arrays.items():
        if name == _META or np.asarray(value).dtype.kind == "O":
            raise ValueError("checkpoint array %r must be a non-object array with a name other "
                             "than %r" % (name, _META))
    payload = dict(arrays)
    payload[_META] = np.array(json.dumps(dict(meta, format=FORMAT, version=VERSION)))
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(directory)
    fd, tmp = tempfile.mkstemp(prefix=".%s.%d." % (os.path.basename(path), os.getpid()),
                               suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); a checkpoint gets the mode of any new file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# ------------------------------------------------------------------ reading

class _Npz:
    """An .npz file whose members are looked at (shape, dtype) before any is read."""

    def __init__(self, path):
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
            self.members = {n[:-4]: n for n in self.zip.namelist() if n.endswith(".npy")}
        except (OSError, zipfile.BadZipFile, ValueError, EOFError) as e:
            raise ValueError("checkpoint %s is not a readable .npz file (%s)" % (path, e))

    def close(self):
        self.zip.close()

    def header(self, name):
        """(shape, dtype) of array `name`, from its .npy header alone."""
        try:
            with self.zip.open(self.members[name]) as fp:
                version = np.lib.format.read_magic(fp)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
            return tuple(shape), np.dtype(dtype)
        except Exception as e:  # zipfile / format errors come in many types
            raise ValueError("checkpoint %s: array %r is not readable (%s)" % (self.path, name, e))

    def read(self, name):
        try:
            with self.zip.open(self.members[name]) as fp:
                return np.lib.format.read_array(fp, allow_pickle=False)
        except Exception as e:
            raise ValueError("checkpoint %s: array %r is not readable (truncated or corrupt?): %s"
                             % (self.path, name, e))


def _read_meta(npz):
    path = npz.path
    if _META not in npz.members:
        raise ValueError("checkpoint %s has no valid %s JSON document (no such array)"
                         % (path, _META))
    shape, dtype = npz.header(_META)
    if shape != () or dtype.kind != "U" or dtype.itemsize // 4 > MAX_META_CHARS:
        raise ValueError("checkpoint %s has no valid %s JSON document (a %s array of shape %s)"
                         % (path, _META, dtype, shape))
    try:
        meta = json.loads(str(npz.read(_META)[()]))
    except ValueError as e:
        raise ValueError("checkpoint %s has no valid %s JSON document (%s)" % (path, _META, e))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError("%s is not an rnncap checkpoint (no format tag %r)" % (path, FORMAT))
    if meta.get("version") != VERSION:
        raise ValueError("checkpoint %s has version %r; this rnncap reads version %d"
                         % (path, meta.get("version"), VERSION))
    return meta


def read_meta(path):
    """The JSON document of a checkpoint, checked as load_checkpoint checks it, without reading
    any of its arrays."""
    path = _existing(path)
    npz = _Npz(path)
    try:
        meta = _read_meta(npz)
        check_document(meta, path)
        return meta
    finally:
        npz.close()


def _existing(path):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ValueError("checkpoint %s is a directory, not an .npz file" % path)
    if not os.path.isfile(path):
        raise FileNotFoundError("checkpoint %s not found" % path)
    return path


def load_checkpoint(path):
    """
    Read a checkpoint written by save_checkpoint.

    Inputs:
    - path: The .npz file

    Returns a tuple of:
    - arrays: Dictionary of name -> numpy array: the arrays the format names (params/, best/,
      optim/, rng/keys), each checked against the model config before it is read
    - meta: The JSON document as a dictionary, every field checked

    Raises FileNotFoundError when path does not exist and ValueError (naming the file and the
    field or array) when it is not a valid rnncap checkpoint.
    """
    path = _existing(path)
    npz = _Npz(path)
    try:
        meta = _read_meta(npz)
        check_document(meta, path)
        expected = _expected_arrays(npz, meta, path)
        arrays = {name: npz.read(name) for name in expected}
    finally:
        npz.close()
    for name, (shape, dtype) in expected.items():  # the data must agree with its header
        if arrays[name].shape != shape or arrays[name].dtype != dtype:
            raise ValueError("checkpoint %s: array %r is damaged" % (path, name))
    return arrays, meta


# ------------------------------------------------------------------ checking the document

def _bad(path, field, expected, value=None, missing=False):
    if missing:
        return ValueError("checkpoint %s: field %s is missing (expected %s)" % (path, field, expected))
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return ValueError("checkpoint %s: field %s must be %s, got %s" % (path, field, expected, text))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_CHECKS = {
    "int>=0": ("a non-negative integer", lambda v: _is_int(v) and v >= 0),
    "int>=1": ("a positive integer", lambda v: _is_int(v) and v >= 1),
    "number": ("a number", _is_number),
    "positive": ("a positive finite number", lambda v: _is_number(v) and 0 < v < math.inf),
    "finite": ("a finite number", lambda v: _is_number(v) and math.isfinite(v)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "dict": ("an object", lambda v: isinstance(v, dict)),
    "list": ("a list", lambda v: isinstance(v, list)),
}


def _check(path, section, name, kind, optional=False, required=True):
    """Check one field of the document: section is (dict, its dotted label); `optional`: null is
    allowed too; `required`: a missing field is an error. Returns the value (None if absent)."""
    where, prefix = section
    label = "%s.%s" % (prefix, name)
    if name not in where:
        if required:
            raise _bad(path, label, _CHECKS[kind][0], missing=True)
        return None
    value = where[name]
    if optional and value is None:
        return None
    expected, ok = _CHECKS[kind]
    if not ok(value):
        raise _bad(path, label, expected + (" or null" if optional else ""), value)
    return value


def check_document(meta, path="checkpoint"):
    """Raise ValueError naming the first field of a checkpoint's JSON document that is missing
    or has a value of the wrong type or range (sections model, solver, state when present)."""
    if "model" in meta:
        _check_model(meta["model"], path)
    if "solver" in meta:
        _check_solver(meta["solver"], path)
    if "state" in meta:
        if "model" not in meta or "solver" not in meta:
            raise _bad(path, "model and solver", "present with state", missing=True)
        _check_state(meta["state"], meta["solver"], path, model_param_names(meta["model"]))


def model_kind(m):
    """'rnn' or 'transformer': the kind of model a (checked) model config describes."""
    return m.get("kind", "rnn")


def model_param_names(m):
    """The parameter names of the model a (checked) model config describes, in order."""
    if model_kind(m) == "rnn":
        return cell_param_names(m["cell_type"])
    from .classifiers.transformer import param_shapes
    return tuple(param_shapes(1, 1, 1, 1, m["num_layers"], m["grid_size"]))


def _check_model(m, path):
    if not isinstance(m, dict):
        raise _bad(path, "model", "an object", m)
    sec = (m, "model")
    kind = _check(path, sec, "kind", "str", required=False)
    if kind is not None and kind not in MODEL_KINDS:
        raise _bad(path, "model.kind", "one of %s (absent: rnn)" % ", ".join(MODEL_KINDS), kind)
    if kind == "transformer":
        for name in ("num_heads", "num_layers", "max_length"):
            _check(path, sec, name, "int>=1")
        activation = _check(path, sec, "activation", "str")
        if activation not in ACTIVATIONS:
            raise _bad(path, "model.activation", "one of %s" % ", ".join(ACTIVATIONS), activation)
        _check(path, sec, "grid_size", "int>=1", optional=True)
        dropout = _check(path, sec, "dropout", "number")
        if not 0 <= dropout < 1:
            raise _bad(path, "model.dropout", "a probability in [0, 1)", dropout)
    else:
        cell = _check(path, sec, "cell_type", "str")
        if cell not in CELL_GATES:
            raise _bad(path, "model.cell_type", "one of %s" % ", ".join(CELL_GATES), cell)
    dtype = _check(path, (m, "model"), "dtype", "str")
    try:
        ok = np.dtype(dtype).kind == "f"
    except TypeError:
        ok = False
    if not ok:
        raise _bad(path, "model.dtype", "a float dtype name such as float32", dtype)
    wti = _check(path, (m, "model"), "word_to_idx", "dict")
    if not wti or not all(_is_int(i) for i in wti.values()) \
            or sorted(wti.values()) != list(range(len(wti))):
        raise _bad(path, "model.word_to_idx", "an object mapping each word to a distinct index "
                   "0..V-1", wti)


def _check_solver(s, path):
    if not isinstance(s, dict):
        raise _bad(path, "solver", "an object", s)
    sec = (s, "solver")
    known = {"update_rule", "optim_config", "lr_decay", "batch_size", "num_epochs",
             "print_every", "verbose", "clip_norm", "num_val", "best_metric", "restore_best",
             "checkpoint_dir", "progress", "seed"}
    unknown = sorted(set(s) - known)
    if unknown:
        raise ValueError("checkpoint %s: field solver.%s is not a solver option" % (path, unknown[0]))
    _check(path, sec, "update_rule", "str")
    config = _check(path, sec, "optim_config", "dict")
    _check_optim_scalars(config, "solver.optim_config", path)
    _check(path, sec, "lr_decay", "positive")
    _check(path, sec, "batch_size", "int>=1")
    _check(path, sec, "num_epochs", "int>=0")
    _check(path, sec, "print_every", "int>=1")
    _check(path, sec, "verbose", "bool")
    _check(path, sec, "clip_norm", "positive", optional=True)
    _check(path, sec, "num_val", "int>=0")
    _check(path, sec, "best_metric", "str", optional=True)
    _check(path, sec, "restore_best", "bool")
    _check(path, sec, "checkpoint_dir", "str", optional=True)
    _check(path, sec, "progress", "bool")
    _check(path, sec, "seed", "int>=0", optional=True)


def _check_optim_scalars(config, label, path):
    for key, kind in (("learning_rate", "positive"), ("momentum", "finite"),
                      ("decay_rate", "finite"), ("epsilon", "positive"), ("beta1", "finite"),
                      ("beta2", "finite"), ("t", "int>=0")):
        _check(path, (config, label), key, kind, required=False)
    for key, value in config.items():
        if key in OPTIM_ARRAYS:
            raise _bad(path, "%s.%s" % (label, key), "an array of the checkpoint, not JSON", value)


def _check_state(st, solver, path, param_names=PARAM_NAMES):
    if not isinstance(st, dict):
        raise _bad(path, "state", "an object", st)
    sec = (st, "state")
    epoch = _check(path, sec, "epoch", "int>=0")
    _check(path, sec, "iteration", "int>=0")
    for name, item_kind, nullable in (("loss_history", "number", False),
                                      ("train_loss_history", "number", False),
                                      ("val_loss_history", "number", True)):
        for i, v in enumerate(_check(path, sec, name, "list")):
            if not (_is_number(v) or (nullable and v is None)):
                raise _bad(path, "state.%s[%d]" % (name, i),
                           "a number" + (" or null" if nullable else ""), v)
    for i, metrics in enumerate(_check(path, sec, "val_metrics_history", "list")):
        if not isinstance(metrics, dict) or not all(_is_number(v) for v in metrics.values()):
            raise _bad(path, "state.val_metrics_history[%d]" % i, "an object of numbers", metrics)
    best_epoch = _check(path, sec, "best_epoch", "int>=0", optional=True)
    if best_epoch is not None and best_epoch > epoch:
        raise _bad(path, "state.best_epoch", "at most state.epoch (%d)" % epoch, best_epoch)
    _check(path, sec, "best_val_loss", "number", optional=True)
    _check(path, sec, "best_score", "number", optional=True)
    scalars = _check(path, sec, "optim_scalars", "dict")
    for p in param_names:
        if p not in scalars:
            raise _bad(path, "state.optim_scalars.%s" % p, "an object", missing=True)
        if not isinstance(scalars[p], dict):
            raise _bad(path, "state.optim_scalars.%s" % p, "an object", scalars[p])
        _check_optim_scalars(scalars[p], "state.optim_scalars.%s" % p, path)
    g = _check(path, sec, "global_rng", "dict")
    gsec = (g, "state.global_rng")
    if _check(path, gsec, "name", "str") != "MT19937":
        raise _bad(path, "state.global_rng.name", "'MT19937'", g["name"])
    if not 0 <= _check(path, gsec, "pos", "int>=0") <= 624:
        raise _bad(path, "state.global_rng.pos", "an integer in [0, 624]", g["pos"])
    if _check(path, gsec, "has_gauss", "int>=0") not in (0, 1):
        raise _bad(path, "state.global_rng.has_gauss", "0 or 1", g["has_gauss"])
    _check(path, gsec, "cached_gaussian", "number")


def _expected_arrays(npz, meta, path):
    """{name: (shape, dtype)} of the arrays to read, checked from their headers against the
    model config; raises ValueError naming the first array that is missing or does not fit."""
    expected = {}
    if "model" not in meta:
        return expected
    m = meta["model"]
    dtype = np.dtype(m["dtype"])
    names = model_param_names(m)
    headers = {}
    for p in names:
        name = "params/" + p
        if name not in npz.members:
            raise ValueError("checkpoint %s: array %r is missing" % (path, name))
        headers[p] = npz.header(name)
    for p, (shape, dt) in headers.items():
        if dt != dtype:
            raise ValueError("checkpoint %s: array 'params/%s' has dtype %s, but model.dtype is %s"
                             % (path, p, dt, dtype))
    # The sizes come from the first dimension of a few headers; every shape follows from
    # them and the config, so a bloated array (with V or k*H too large) is the one named.
    V = len(m["word_to_idx"])
    if model_kind(m) == "transformer":
        from .classifiers.transformer import param_shapes
        first = ("W_proj", "W_vocab", "layers.0.ffn.W2")
    else:
        k = CELL_GATES[m["cell_type"]]
        first = ("W_proj", "Wx", "Wh")
    for p in first:
        if len(headers[p][0]) != 2:
            raise ValueError("checkpoint %s: array 'params/%s' must be 2-D, got shape %s"
                             % (path, p, headers[p][0]))
    if model_kind(m) == "transformer":
        D, W, F = (headers[p][0][0] for p in first)
        shapes = param_shapes(V, D, W, F, m["num_layers"], m["grid_size"])
        config = "V=%d, D=%d, W=%d, F=%d, %d layers%s" % (
            V, D, W, F, m["num_layers"], ", grid %d" % m["grid_size"] if m["grid_size"] else "")
    else:
        D, W, H = (headers[p][0][0] for p in first)
        shapes = {"W_embed": (V, W), "W_proj": (D, H), "b_proj": (H,), "Wx": (W, k * H),
                  "Wh": (H, k * H), "b": (k * H,), "W_vocab": (H, V), "b_vocab": (V,)}
        if m["cell_type"] == "attention":
            shapes["Wattn"] = (H, k * H)
        config = "V=%d, W=%d, D=%d, H=%d, %s" % (V, W, D, H, m["cell_type"])
    for p, shape in shapes.items():
        if headers[p][0] != shape:
            raise ValueError("checkpoint %s: array 'params/%s' has shape %s, but the model "
                             "config (%s) needs %s" % (path, p, headers[p][0], config, shape))
        expected["params/" + p] = (shape, dtype)
    best = [p for p in names if "best/" + p in npz.members]
    if best and len(best) != len(names):
        missing = [p for p in names if p not in best]
        raise ValueError("checkpoint %s: array 'best/%s' is missing" % (path, missing[0]))
    for p in best:
        _fits(npz, "best/" + p, shapes[p], dtype, path, expected)
    if "state" in meta:
        rule = meta["solver"]["update_rule"]
        stepped = meta["state"]["iteration"] > 0
        for p in names:
            for key in OPTIM_ARRAYS:
                name = "optim/%s/%s" % (p, key)
                if name in npz.members:
                    _fits(npz, name, shapes[p], None, path, expected)
                elif stepped and key in RULE_ARRAYS.get(rule, ()):
                    raise ValueError("checkpoint %s: optimizer state array %r is missing (the "
                                     "%s rule has taken steps)" % (path, name, rule))
        if "rng/keys" not in npz.members:
            raise ValueError("checkpoint %s: array 'rng/keys' (the global RNG state) is missing"
                             % path)
        _fits(npz, "rng/keys", (624,), np.dtype(np.uint32), path, expected)
    return expected


def _fits(npz, name, shape, dtype, path, expected):
    got_shape, got_dtype = npz.header(name)
    if got_shape != shape or (dtype is not None and got_dtype != dtype) or got_dtype.kind not in "fu":
        raise ValueError("checkpoint %s: array %r is %s %s, expected %s %s"
                         % (path, name, got_dtype, got_shape, dtype or "float", shape))
    expected[name] = (got_shape, got_dtype)


# ------------------------------------------------------------------ models

def model_meta(model):
    """The JSON description of a CaptioningRNN or CaptioningTransformer (all but its
    parameters, whose shapes give the sizes)."""
    meta = {"dtype": np.dtype(model.dtype).name,
            "word_to_idx": {w: int(i) for w, i in model.word_to_idx.items()}}
    if getattr(model, "kind", "rnn") == "transformer":
        meta.update(kind="transformer", num_heads=model.num_heads, num_layers=model.num_layers,
                    max_length=model.max_length, activation=model.activation,
                    grid_size=model.grid_size, dropout=model.dropout)
    else:
        meta["cell_type"] = model.cell_type
    return meta


def model_arrays(model, prefix="params/"):
    """The model's parameters as checkpoint arrays under prefix."""
    return {prefix + name: value for name, value in model.params.items()}


def model_from_checkpoint(arrays, meta, path="checkpoint"):
    """Rebuild the CaptioningRNN or CaptioningTransformer of load_checkpoint's output (draws no
    random numbers)."""
    if "model" not in meta:
        raise ValueError("%s holds no model description" % path)
    params = {name[len("params/"):]: value for name, value in arrays.items()
              if name.startswith("params/")}
    m = meta["model"]
    if model_kind(m) == "transformer":
        from .classifiers.transformer import CaptioningTransformer
        model = CaptioningTransformer.from_params(
            m["word_to_idx"], params, num_heads=m["num_heads"], max_length=m["max_length"],
            activation=m["activation"], dropout=m["dropout"])
    else:
        from .classifiers.rnn import CaptioningRNN
        model = CaptioningRNN.from_params(m["word_to_idx"], params, cell_type=m["cell_type"])
    if np.dtype(model.dtype).name != m["dtype"]:
        raise ValueError("%s: parameters have dtype %s but the model description says %s"
                         % (path, np.dtype(model.dtype).name, m["dtype"]))
    return model


def save_model(path, model, extra_meta=None):
    """
    Save a CaptioningRNN or CaptioningTransformer (parameters, architecture, dtype, vocabulary)
    to an .npz checkpoint.

    Inputs:
    - path: Destination file ('.npz' appended when missing)
    - model: The model
    - extra_meta: Optional JSON-serialisable dictionary stored beside the model description

    Returns:
    - path: The path written
    """
    meta = dict(extra_meta or {}, model=model_meta(model))
    return save_checkpoint(path, model_arrays(model), meta)


def load_model(path):
    """
    Load the model stored in a checkpoint (from save_model or CaptioningSolver.save).

    Inputs:
    - path: The .npz file

    Returns:
    - model: A CaptioningRNN (or CaptioningTransformer, by the checkpoint's model.kind) with
      the stored parameters, architecture, dtype and vocabulary
    """
    arrays, meta = load_checkpoint(path)
    return model_from_checkpoint(arrays, meta, path)
