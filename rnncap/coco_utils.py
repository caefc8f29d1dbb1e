"""COCO captioning data in the CS231n layout, and the built-in "shapes" data in the same layout.

A data directory holds
    coco2014_captions.h5           train_captions (N, 17) int, train_image_idxs (N,) int,
                                   val_captions, val_image_idxs
    coco2014_vocab.json            {"idx_to_word": [...], "word_to_idx": {...}}
                                   (<NULL>=0, <START>=1, <END>=2, <UNK>=3)
    train2014_vgg16_fc7.h5         features (num_images, 4096) float   (and val2014_...)
    train2014_vgg16_fc7_pca.h5     features (num_images, 512) float    (and val2014_...)
    train2014_urls.txt             one image URL per line              (and val2014_...)
A URL line that is a relative path (the built-in data's PNGs) is taken relative to the directory.
The built-in data also has, for attention models and for checking captions,
    train2014_grid.h5              features (num_images, C, G, G) float (and val2014_...)
    train2014_objects.json         one scene record per image          (and val2014_...)

Where the data is (load_coco_data's base_dir): a path; 'coco' or None -> $RNNCAP_DATA if set,
else datasets/coco_captioning in the repository root (what get_coco_captioning.sh fills);
'shapes' -> the built-in dataset, generated on first use into $RNNCAP_CACHE/shapes or
~/.cache/rnncap/shapes.

Global RNG: load_coco_data draws exactly one np.random.randint(num_train, size=max_train) when
max_train is given, and nothing else; sample_coco_minibatch draws one np.random.choice per call.
"""
import json
import os

import numpy as np

from rnncap import shapes
from rnncap._validate import check_array, check_indices

CAPTIONS_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"
CAPTION_KEYS = ("train_captions", "train_image_idxs", "val_captions", "val_image_idxs")
SPECIAL_TOKENS = ("<NULL>", "<START>", "<END>", "<UNK>")
GRID_FILE = "%s2014_grid.h5"
OBJECTS_FILE = "%s2014_objects.json"
_HINT = ("run ./get_coco_captioning.sh to download COCO, or use the built-in dataset "
         "(load_coco_data('shapes'), --data shapes)")


def required_files():
    """The file names a complete data directory holds."""
    names = [CAPTIONS_FILE, VOCAB_FILE]
    for split in ("train", "val"):
        names += ["%s2014_vgg16_fc7.h5" % split, "%s2014_vgg16_fc7_pca.h5" % split,
                  "%s2014_urls.txt" % split]
    return names


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def coco_dir():
    """Where COCO is expected: $RNNCAP_DATA, else <repository>/datasets/coco_captioning."""
    env = os.environ.get("RNNCAP_DATA")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    return os.path.join(_repo_root(), "datasets", "coco_captioning")


def missing_files(directory):
    """The required file names absent from `directory` (all of them if it does not exist)."""
    return [f for f in required_files() if not os.path.isfile(os.path.join(str(directory), f))]


def resolve_dataset(data=None):
    """Decide which data directory to use.

    Inputs:
    - data: None (COCO if its directory is complete, else the built-in shapes data),
      'coco' (COCO or FileNotFoundError), 'shapes' (the built-in data, generated if needed),
      or a directory path

    Returns:
    - (directory, kind): the absolute directory and kind in {'coco', 'shapes', 'dir'}
    """
    if data is not None and not isinstance(data, (str, os.PathLike)):
        raise ValueError("data must be None, 'coco', 'shapes' or a directory path, got %r" % (data,))
    if data is None or data == "coco":
        d = coco_dir()
        missing = missing_files(d)
        if not missing:
            return d, "coco"
        if data == "coco":
            raise FileNotFoundError("COCO data not found in %s (missing %s): run "
                                    "./get_coco_captioning.sh, or use --data shapes"
                                    % (d, ", ".join(missing)))
        return shapes.ensure_shapes(), "shapes"
    if data == "shapes":
        return shapes.ensure_shapes(), "shapes"
    d = os.path.abspath(os.path.expanduser(str(data)))
    if os.path.exists(d) and not os.path.isdir(d):
        raise ValueError("%s is a file; data is a directory in the COCO layout" % d)
    if not os.path.isdir(d):
        raise FileNotFoundError("data directory %s does not exist; %s" % (d, _HINT))
    return d, "dir"


def _base_dir(base_dir):
    if base_dir is None or base_dir == "coco":
        return coco_dir()
    if base_dir == "shapes":
        return shapes.ensure_shapes()
    if not isinstance(base_dir, (str, os.PathLike)):
        raise ValueError("base_dir must be None, 'coco', 'shapes' or a directory path, got %r"
                         % (base_dir,))
    return os.path.abspath(os.path.expanduser(str(base_dir)))


def _open_h5(path):
    """Open an HDF5 file for reading, turning every failure into an error that names the file."""
    import h5py

    if not os.path.isfile(path):
        raise FileNotFoundError("missing data file %s; %s" % (path, _HINT))
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise ValueError("%s is not a readable HDF5 file (truncated or corrupt?): %s" % (path, e))


def _dataset(f, name, path):
    """The HDF5 dataset `name` of open file f (not read yet); ValueError naming the file if it is
    absent or is a group."""
    import h5py

    if name not in f:
        raise ValueError("%s has no dataset '%s' (it has: %s)" % (path, name, ", ".join(f.keys())))
    if not isinstance(f[name], h5py.Dataset):
        raise ValueError("%s: '%s' is an HDF5 %s, not a dataset (an array)"
                         % (path, name, type(f[name]).__name__.lower()))
    return f[name]


def _read(f, name, path):
    """The whole dataset `name` of open file f as an array."""
    dset = _dataset(f, name, path)
    try:
        return dset[()]
    except (OSError, RuntimeError) as e:
        raise ValueError("cannot read dataset '%s' of %s (truncated or corrupt?): %s" % (name, path, e))


def _check_finite(rows, path, name, row_of=lambda i: i):
    """ValueError naming the file and dataset if float array `rows` holds NaN or inf; checked
    in blocks, so a large feature matrix needs no second matrix of flags."""
    rows = np.asarray(rows)
    if rows.dtype.kind != "f" or rows.ndim == 0:
        return
    block = max(1, 2 ** 22 // max(1, int(np.prod(rows.shape[1:]))))
    for start in range(0, rows.shape[0], block):
        ok = np.isfinite(rows[start:start + block])
        if not ok.all():
            bad = start + int(np.argwhere(~ok)[0][0])
            raise ValueError("%s: dataset '%s' holds NaN or inf (first in row %d); the features "
                             "are damaged" % (path, name, row_of(bad)))


class LazyFeatures:
    """Image features that stay in their HDF5 file; indexing reads only the rows asked for.

    feats[idx] for an integer array idx (any order, repeats, negative as in NumPy) returns the
    same (len(idx), D) array that indexing the eager array would, reading the sorted unique rows.
    Also supports ints and slices, .shape, .dtype, .ndim, len() and np.asarray (reads all).
    """

    def __init__(self, path, name="features"):
        self.path, self.name = path, name
        self._file = _open_h5(path)
        try:
            self._dset = _dataset(self._file, name, path)
        except ValueError:
            self._file.close()
            raise
        self.shape, self.dtype, self.ndim = self._dset.shape, self._dset.dtype, self._dset.ndim
        # HDF5 reads bytes past the end of a file as zeros; a file that shrinks while open is
        # caught by its size, checked after every read.
        self._size = self._file_size()

    def __len__(self):
        return self.shape[0]

    def _file_size(self):
        try:
            return os.fstat(self._file.id.get_vfd_handle()).st_size
        except Exception:  # a driver without a file descriptor: the path is the next best thing
            try:
                return os.stat(self.path).st_size
            except OSError:
                return -1

    def _rows(self, idx):
        try:
            rows = self._dset[idx]
        except (OSError, RuntimeError) as e:
            raise ValueError("cannot read features from %s (truncated or corrupt?): %s"
                             % (self.path, e))
        size = self._file_size()
        if size < self._size:
            raise ValueError("%s was truncated while open (%d bytes when opened, %d now); the "
                             "features read from it are not valid" % (self.path, self._size, size))
        if isinstance(idx, slice):
            row_of = range(self.shape[0])[idx].__getitem__
        elif isinstance(idx, np.ndarray):
            row_of = idx.__getitem__
        else:
            row_of = lambda i: idx  # noqa: E731 - one row was read
        _check_finite(rows, self.path, self.name, row_of)
        return rows

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer, slice)):
            return np.asarray(self._rows(idx))
        idx = np.asarray(idx)
        if idx.dtype == bool:
            check_array("idx", idx, shape=(self.shape[0],), dtype_kind=None)
            idx = np.flatnonzero(idx)
        n = self.shape[0]
        check_indices("idx", idx + n * (idx < 0) if idx.dtype.kind in "iu" else idx, n)
        flat = (idx % n).ravel()
        if flat.size == 0:
            return np.empty(idx.shape + self.shape[1:], dtype=self.dtype)
        uniq, inverse = np.unique(flat, return_inverse=True)
        rows = self._rows(uniq)  # h5py wants increasing, unique indices
        return rows[inverse.ravel()].reshape(idx.shape + self.shape[1:])

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self._rows(slice(None)))
        return a if dtype is None else a.astype(dtype)

    def close(self):
        self._file.close()

    def __del__(self):
        try:
            self._file.close()
        except Exception:  # interpreter shutdown: h5py may already be gone
            pass

    def __repr__(self):
        return "LazyFeatures(%r, shape=%s, dtype=%s)" % (self.path, self.shape, self.dtype)


def _load_vocab(path):
    if not os.path.isfile(path):
        raise FileNotFoundError("missing data file %s; %s" % (path, _HINT))
    try:
        with open(path, encoding="utf-8") as f:
            vocab = json.load(f)
    except UnicodeDecodeError as e:
        raise ValueError("%s is not UTF-8 text (byte %d): %s" % (path, e.start, e.reason))
    except ValueError as e:
        raise ValueError("%s is not valid JSON: %s" % (path, e))
    if not isinstance(vocab, dict) or not {"idx_to_word", "word_to_idx"} <= set(vocab):
        raise ValueError("%s must hold an object with keys idx_to_word and word_to_idx" % path)
    itw, wti = vocab["idx_to_word"], vocab["word_to_idx"]
    if not isinstance(itw, list) or not isinstance(wti, dict) or len(itw) != len(wti):
        raise ValueError("%s: idx_to_word (a list) and word_to_idx (a dict) must have one entry "
                         "per word" % path)
    if tuple(itw[:4]) != SPECIAL_TOKENS:
        raise ValueError("%s: the first four words must be %s, got %s"
                         % (path, list(SPECIAL_TOKENS), itw[:4]))
    bad = [w for i, w in enumerate(itw) if wti.get(w) != i]
    if bad:
        raise ValueError("%s: word_to_idx disagrees with idx_to_word for %r" % (path, bad[0]))
    return itw, wti


def _load_urls(path, directory):
    if not os.path.isfile(path):
        raise FileNotFoundError("missing data file %s; %s" % (path, _HINT))
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except UnicodeDecodeError as e:
        raise ValueError("%s is not UTF-8 text (byte %d): %s" % (path, e.start, e.reason))
    while lines and not lines[-1]:
        lines.pop()
    urls = [u if "://" in u or os.path.isabs(u) else os.path.join(directory, u) for u in lines]
    return np.asarray(urls)


def _check_split(data, split, num_words, files):
    """Raise ValueError naming the file for any inconsistency of one split."""
    caps, idxs = data[split + "_captions"], data[split + "_image_idxs"]
    feats, urls = data[split + "_features"], data[split + "_urls"]
    cfile, ffile, ufile = files
    if caps.ndim != 2 or caps.dtype.kind not in "iu":
        raise ValueError("%s: %s_captions must be a 2-D integer array, got shape %s dtype %s"
                         % (cfile, split, caps.shape, caps.dtype))
    if idxs.ndim != 1 or idxs.dtype.kind not in "iu":
        raise ValueError("%s: %s_image_idxs must be a 1-D integer array, got shape %s dtype %s"
                         % (cfile, split, idxs.shape, idxs.dtype))
    if caps.shape[0] == 0:
        raise ValueError("%s: dataset %s_captions is empty; every split needs at least one caption"
                         % (cfile, split))
    if caps.shape[0] != idxs.shape[0]:
        raise ValueError("%s: %s_captions has %d rows but %s_image_idxs has %d"
                         % (cfile, split, caps.shape[0], split, idxs.shape[0]))
    if caps.size and (caps.min() < 0 or caps.max() >= num_words):
        raise ValueError("%s: %s_captions holds word indices in [%d, %d], outside the vocabulary "
                         "[0, %d)" % (cfile, split, caps.min(), caps.max(), num_words))
    if len(feats.shape) != 2 or feats.dtype.kind != "f":
        raise ValueError("%s: features must be a 2-D float array, got shape %s dtype %s"
                         % (ffile, feats.shape, feats.dtype))
    if feats.shape[0] == 0:
        raise ValueError("%s: dataset 'features' has no rows" % ffile)
    if feats.shape[0] != len(urls):
        raise ValueError("%s has %d feature rows but %s lists %d URLs"
                         % (ffile, feats.shape[0], ufile, len(urls)))
    if idxs.size and (idxs.min() < 0 or idxs.max() >= feats.shape[0]):
        raise ValueError("%s: %s_image_idxs holds values in [%d, %d], outside the %d images of %s"
                         % (cfile, split, idxs.min(), idxs.max(), feats.shape[0], ffile))


def load_coco_data(base_dir=None, max_train=None, pca_features=True, lazy=False,
                   grid_features=False):
    """Load captioning data in the CS231n COCO layout (see the module docstring).

    Inputs:
    - base_dir: a directory, 'coco', 'shapes' or None (-> $RNNCAP_DATA, else the default COCO dir)
    - max_train: if given, keep max_train train captions drawn with replacement by one
      np.random.randint(num_train, size=max_train) (the CS231n protocol)
    - pca_features: load the 512-d *_pca features instead of the 4096-d fc7 ones
    - lazy: leave the features in their HDF5 files (LazyFeatures); minibatches read their rows
    - grid_features: also load the spatial grid features {train,val}2014_grid.h5, which only
      the built-in data has (FileNotFoundError elsewhere, saying so)

    Returns a dict:
    - train_captions (N, 17) int32, train_image_idxs (N,) int32, val_captions, val_image_idxs
    - train_features (num_train_images, D), val_features: float32 arrays (LazyFeatures if lazy)
    - idx_to_word: list of str; word_to_idx: dict str -> int
    - train_urls, val_urls: arrays of str, one per image
    - train_grid, val_grid (only if grid_features): (num_images, C, G, G) float32 arrays
      (LazyFeatures if lazy)

    Raises FileNotFoundError for a missing directory or file, ValueError (naming the file) for
    damaged data: unreadable HDF5, a missing dataset (or a group in its place), an empty split,
    NaN or inf features, text that is not UTF-8, out-of-range indices, mismatched lengths. Lazy
    features are checked for NaN and inf as their rows are read, and a features file that
    shrinks while open is an error, not rows of zeros.
    """
    if max_train is not None and not (isinstance(max_train, (int, np.integer))
                                      and not isinstance(max_train, bool) and max_train >= 1):
        raise ValueError("max_train must be None or a positive integer, got %r" % (max_train,))
    d = _base_dir(base_dir)
    if not os.path.isdir(d):
        raise FileNotFoundError("data directory %s does not exist; %s" % (d, _HINT))
    data = {}
    cfile = os.path.join(d, CAPTIONS_FILE)
    with _open_h5(cfile) as f:
        for k in CAPTION_KEYS:
            data[k] = _read(f, k, cfile)
    data["idx_to_word"], data["word_to_idx"] = _load_vocab(os.path.join(d, VOCAB_FILE))
    suffix = "_pca" if pca_features else ""
    for split in ("train", "val"):
        ffile = os.path.join(d, "%s2014_vgg16_fc7%s.h5" % (split, suffix))
        ufile = os.path.join(d, "%s2014_urls.txt" % split)
        if lazy:
            data[split + "_features"] = LazyFeatures(ffile)
        else:
            with _open_h5(ffile) as f:
                data[split + "_features"] = _read(f, "features", ffile)
            _check_finite(data[split + "_features"], ffile, "features")
        data[split + "_urls"] = _load_urls(ufile, d)
        _check_split(data, split, len(data["idx_to_word"]), (cfile, ffile, ufile))
    if data["train_features"].shape[1] != data["val_features"].shape[1]:
        raise ValueError("train features have %d columns but val features %d (in %s)"
                         % (data["train_features"].shape[1], data["val_features"].shape[1], d))
    if grid_features:
        _load_grids(data, d, lazy)
    if max_train is not None:
        num_train = data["train_captions"].shape[0]
        mask = np.random.randint(num_train, size=max_train)
        data["train_captions"] = data["train_captions"][mask]
        data["train_image_idxs"] = data["train_image_idxs"][mask]
    return data


def _load_grids(data, d, lazy):
    """Add train_grid and val_grid to data, checked against the splits' image counts."""
    paths = [os.path.join(d, GRID_FILE % split) for split in ("train", "val")]
    missing = [os.path.basename(p) for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            "grid features are absent from %s (no %s): the COCO captioning files hold only "
            "fc7 vectors, and grid features would come from a CNN's last convolutional map "
            "(VGG-16 conv5: 512 x 14 x 14 per image), which rnncap does not ship; the built-in "
            "data has them (load_coco_data('shapes', grid_features=True), --data shapes)"
            % (d, " and ".join(missing)))
    for split, path in zip(("train", "val"), paths):
        if lazy:
            grid = LazyFeatures(path)
        else:
            with _open_h5(path) as f:
                grid = _read(f, "features", path)
            _check_finite(grid, path, "features")
        shape = tuple(grid.shape)
        if len(shape) != 4 or grid.dtype.kind != "f" or shape[2] != shape[3]:
            raise ValueError("%s: features must be a (num_images, C, G, G) float array, got "
                             "shape %s dtype %s" % (path, shape, grid.dtype))
        if shape[0] != len(data[split + "_urls"]):
            raise ValueError("%s has %d images but %s2014_urls.txt lists %d"
                             % (path, shape[0], split, len(data[split + "_urls"])))
        data[split + "_grid"] = grid
    if data["train_grid"].shape[1:] != data["val_grid"].shape[1:]:
        raise ValueError("train grid features have shape (C, G, G) = %s but val ones %s (in %s)"
                         % (data["train_grid"].shape[1:], data["val_grid"].shape[1:], d))


def load_objects(base_dir=None, split="val"):
    """
    The scene records of the built-in data: what each image of a split shows.

    Inputs:
    - base_dir: a directory, 'shapes', 'coco' or None, as for load_coco_data
    - split: 'train' or 'val'

    Returns:
    - records: list with one dict per image (in image-index order), {"objects": [...]}; each
      object is a dict with colour, shape, size ('small'/'big'), row and col (its cell of the
      3x3 layout), cx, cy, radius and box [x0, y0, x1, y1] in pixels

    Raises FileNotFoundError when the directory has no objects file (COCO has none), ValueError
    when the file is not a list of such records.
    """
    if split not in ("train", "val"):
        raise ValueError("split must be 'train' or 'val', got %r" % (split,))
    d = _base_dir(base_dir)
    path = os.path.join(d, OBJECTS_FILE % split)
    if not os.path.isfile(path):
        raise FileNotFoundError("no object records in %s (missing %s): only the built-in data "
                                "(--data shapes) records what each image shows"
                                % (d, os.path.basename(path)))
    try:
        with open(path, encoding="utf-8") as f:
            records = json.load(f)
    except UnicodeDecodeError as e:
        raise ValueError("%s is not UTF-8 text (byte %d): %s" % (path, e.start, e.reason))
    except ValueError as e:
        raise ValueError("%s is not valid JSON: %s" % (path, e))
    if not isinstance(records, list) or not all(
            isinstance(r, dict) and isinstance(r.get("objects"), list) and r["objects"]
            for r in records):
        raise ValueError("%s must hold a list of {\"objects\": [...]} records, one per image"
                         % path)
    return records


def decode_captions(captions, idx_to_word):
    """Turn word indices into strings.

    Inputs:
    - captions: (T,) or (N, T) integer array
    - idx_to_word: list (or dict int -> str) of words

    Returns a str for 1-D input, a list of N str for 2-D input. <NULL> is skipped, words stop
    after <END> (which is kept), <START> is kept.
    """
    captions = check_array("captions", captions, dtype_kind="i")
    if captions.ndim not in (1, 2):
        raise ValueError("captions must have 1 or 2 dimensions, got shape %s" % (captions.shape,))
    if isinstance(idx_to_word, dict):
        bad = [int(i) for i in np.unique(captions) if int(i) not in idx_to_word]
        if bad:
            raise ValueError("captions holds index %d, which idx_to_word does not have" % bad[0])
    else:
        check_indices("captions", captions, len(idx_to_word))
    rows = captions[None] if captions.ndim == 1 else captions
    decoded = []
    for row in rows:
        words = []
        for i in row:
            word = idx_to_word[int(i)]
            if word != "<NULL>":
                words.append(word)
            if word == "<END>":
                break
        decoded.append(" ".join(words))
    return decoded[0] if captions.ndim == 1 else decoded


def sample_coco_minibatch(data, batch_size=100, split="train"):
    """Draw a minibatch of captions with one np.random.choice(num_captions, batch_size).

    Inputs:
    - data: dict from load_coco_data
    - batch_size: number of captions
    - split: 'train' or 'val'

    Returns:
    - captions: (batch_size, T) int array
    - image_features: (batch_size, D) features of each caption's image
    - urls: (batch_size,) array of str
    """
    if split not in ("train", "val"):
        raise ValueError("split must be 'train' or 'val', got %r" % (split,))
    if not (isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool)
            and batch_size >= 1):
        raise ValueError("batch_size must be a positive integer, got %r" % (batch_size,))
    keys = [split + k for k in ("_captions", "_image_idxs", "_features", "_urls")]
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError("data lacks %s (expected the dict of load_coco_data)" % ", ".join(missing))
    split_size = data[keys[0]].shape[0]
    mask = np.random.choice(split_size, batch_size)
    captions = data[keys[0]][mask]
    image_idxs = data[keys[1]][mask]
    image_features = data[keys[2]][image_idxs]
    urls = data[keys[3]][image_idxs]
    return captions, image_features, urls
