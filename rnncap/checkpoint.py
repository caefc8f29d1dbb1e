"""Checkpoints: one .npz file holding arrays plus a JSON document, written atomically.

Layout of the .npz (read back with allow_pickle=False, so loading runs no stored code):
- '__meta__': a 0-d unicode array holding JSON: the format tag, the model config (cell type,
  dtype, vocabulary) and whatever else the writer adds (solver config, histories, ...)
- 'params/NAME': the model's parameters
- other keys: further arrays of the writer (the solver's optimizer state, best parameters, ...)

save_model / load_model handle a bare model; CaptioningSolver.save / load build on
save_checkpoint / load_checkpoint to add the training state.
"""
import json
import os
import tempfile

import numpy as np

FORMAT = "rnncap-checkpoint"
VERSION = 1
_META = "__meta__"


def save_checkpoint(path, arrays, meta):
    """
    Write arrays and a JSON-serialisable meta dict to path, atomically.

    The file is written to a temporary file in the same directory, flushed to disk and renamed
    over path, so an interrupted save never leaves a truncated checkpoint.

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
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(path):
    """
    Read a checkpoint written by save_checkpoint.

    Inputs:
    - path: The .npz file

    Returns a tuple of:
    - arrays: Dictionary of name -> numpy array (every key but the JSON document)
    - meta: The JSON document as a dictionary

    Raises FileNotFoundError when path does not exist and ValueError when it is not an rnncap
    checkpoint.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError("checkpoint %s not found" % path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {name: f[name] for name in f.files}
    except Exception as e:  # zipfile / format errors come in many types
        raise ValueError("checkpoint %s is not a readable .npz file (%s)" % (path, e))
    try:
        meta = json.loads(str(arrays.pop(_META)[()]))
    except (KeyError, ValueError) as e:
        raise ValueError("checkpoint %s has no valid %s JSON document (%s)" % (path, _META, e))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError("%s is not an rnncap checkpoint (no format tag %r)" % (path, FORMAT))
    if meta.get("version") != VERSION:
        raise ValueError("checkpoint %s has version %r; this rnncap reads version %d"
                         % (path, meta.get("version"), VERSION))
    return arrays, meta


def model_meta(model):
    """The JSON description of a CaptioningRNN (everything but its parameters)."""
    return {"cell_type": model.cell_type,
            "dtype": np.dtype(model.dtype).name,
            "word_to_idx": {w: int(i) for w, i in model.word_to_idx.items()}}


def model_arrays(model, prefix="params/"):
    """The model's parameters as checkpoint arrays under prefix."""
    return {prefix + name: value for name, value in model.params.items()}


def model_from_checkpoint(arrays, meta, path="checkpoint"):
    """Rebuild a CaptioningRNN from load_checkpoint's output (draws no random numbers)."""
    from .classifiers.rnn import CaptioningRNN

    if "model" not in meta:
        raise ValueError("%s holds no model description" % path)
    params = {name[len("params/"):]: value for name, value in arrays.items()
              if name.startswith("params/")}
    m = meta["model"]
    model = CaptioningRNN.from_params(m["word_to_idx"], params, cell_type=m["cell_type"])
    if np.dtype(model.dtype).name != m["dtype"]:
        raise ValueError("%s: parameters have dtype %s but the model description says %s"
                         % (path, np.dtype(model.dtype).name, m["dtype"]))
    return model


def save_model(path, model, extra_meta=None):
    """
    Save a CaptioningRNN (parameters, cell type, dtype, vocabulary) to an .npz checkpoint.

    Inputs:
    - path: Destination file ('.npz' appended when missing)
    - model: The CaptioningRNN
    - extra_meta: Optional JSON-serialisable dictionary stored beside the model description

    Returns:
    - path: The path written
    """
    meta = dict(extra_meta or {}, model=model_meta(model))
    return save_checkpoint(path, model_arrays(model), meta)


def load_model(path):
    """
    Load the CaptioningRNN stored in a checkpoint (from save_model or CaptioningSolver.save).

    Inputs:
    - path: The .npz file

    Returns:
    - model: A CaptioningRNN with the stored parameters, cell type, dtype and vocabulary
    """
    arrays, meta = load_checkpoint(path)
    return model_from_checkpoint(arrays, meta, path)
