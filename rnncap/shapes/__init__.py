"""The built-in "shapes" captioning dataset, written in the CS231n COCO layout.

Each image is 64x64 RGB: one or two flat objects on a dark noisy background. Objects sit in the
cells of a 3x3 grid (a little jitter); two objects always share a row or a column, so exactly
one of "left of / right of / above / below" holds. Every caption is a deterministic function of
what is visible plus free choices of template, word order and synonyms:

    one object:   colour, shape, size and the cell ("a big red circle in the top left corner")
    two objects:  both objects' colour, shape, size and their relation
                  ("a small blue square to the left of a large white diamond")

Which caption facts are recoverable from the features (rnncap/shapes/features.py): all of them.
Each object's colour, shape and size, a lone object's grid cell and the relation of two objects
are visible in the pixels, and the extractor keeps them. On unseen val images, a linear (ridge)
probe on the 4096-d features gets a lone object's cell right 100% of the time, its size 95%,
its colour 93% and its shape 60% (chance 25%) (tests/test_shapes.py: 600 train and 150 val
images). The
captioning model, which is nonlinear, learns the shapes too. The template, word-order and synonym
choices cannot be recovered, because they are random: a model can learn only how often each
one occurs.

Besides the CS231n files, each split gets {split}2014_grid.h5, the (N, 152, 8, 8) grid features
for attention models (features.py), and {split}2014_objects.json, one scene_record per image:
what it shows, the ground truth that facts.py checks captions against.

Everything is drawn from one np.random.Generator seeded by `seed` (never the global RNG), so a
seed gives the same files, byte for byte on one machine.
"""
import json
import os
import shutil
import struct
import tempfile
import time
import zlib

import numpy as np

from rnncap._validate import check_array

GENERATOR_VERSION = 6  # 4: grid features and object records; 5: PCA rows beyond the rank are zero;
# 6: edge-orientation channels in the grid
META_FILE = "shapes_meta.json"
DEFAULT_SIZES = {"num_train": 4000, "num_val": 500}
CAPTIONS_PER_IMAGE = 5
MAX_WORDS = 15
SPECIAL = ["<NULL>", "<START>", "<END>", "<UNK>"]
PCA_DIM = 512

COLOURS = {
    "red": (215, 40, 40),
    "green": (40, 185, 60),
    "blue": (50, 90, 235),
    "yellow": (235, 215, 40),
    "purple": (160, 60, 210),
    "white": (235, 235, 235),
}
SHAPES = ("circle", "square", "triangle", "diamond")
SIZES = {"small": (4.5, 6.0), "big": (7.5, 9.0)}  # radius range in pixels
SIZE_WORDS = {"small": ["small", "little"], "big": ["big", "large"]}

_ROW = ("top", "middle", "bottom")
_COL = ("left", "middle", "right")
# A lone object's cell (row, col) -> ways to say where it is.
CELL_PHRASES = {
    (0, 0): ["in the top left corner", "at the top left"],
    (0, 2): ["in the top right corner", "at the top right"],
    (2, 0): ["in the bottom left corner", "at the bottom left"],
    (2, 2): ["in the bottom right corner", "at the bottom right"],
    (0, 1): ["at the top", "near the top"],
    (2, 1): ["at the bottom", "near the bottom"],
    (1, 0): ["on the left", "on the left side"],
    (1, 2): ["on the right", "on the right side"],
    (1, 1): ["in the center", "in the middle"],
}
RELATIONS = {
    "left": ["to the left of", "left of"],
    "right": ["to the right of", "right of"],
    "above": ["above", "over"],
    "below": ["below", "under"],
}
_INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}

# {o}: an object phrase without article; {p}: a place; {a} {r} {b}: object, relation, object.
# Two-object captions are kept short: a vanilla RNN must carry the second object from the image
# through every word before it.
ONE_TEMPLATES = ["a {o} {p}", "there is a {o} {p}", "{p} there is a {o}", "the {o} is {p}"]
TWO_TEMPLATES = ["a {a} {r} a {b}", "the {a} is {r} the {b}"]

CAPTION_FILES = ["coco2014_captions.h5", "coco2014_vocab.json", "train2014_urls.txt",
                 "val2014_urls.txt"]
FEATURE_FILES = ["train2014_vgg16_fc7.h5", "val2014_vgg16_fc7.h5",
                 "train2014_vgg16_fc7_pca.h5", "val2014_vgg16_fc7_pca.h5"]
GRID_FILES = ["train2014_grid.h5", "val2014_grid.h5"]
OBJECT_FILES = ["train2014_objects.json", "val2014_objects.json"]


# ----------------------------------------------------------------------------- scenes

def sample_scene(rng):
    """Draw one scene.

    Returns a dict with
    - objects: list of 1 or 2 dicts {colour, shape, size, radius, row, col, cx, cy}
    - background: gray level (int), noise: per-image noise std (float)
    Two objects share a row or a column and differ in at least one of colour, shape, size.
    """
    _check_rng(rng)
    if rng.random() < 0.4:
        cells = [(int(rng.integers(3)), int(rng.integers(3)))]
    else:
        line, (i, j) = int(rng.integers(3)), [(0, 1), (0, 2), (1, 2)][int(rng.integers(3))]
        cells = [(line, i), (line, j)] if rng.random() < 0.5 else [(i, line), (j, line)]
        if rng.random() < 0.5:
            cells = cells[::-1]
    objects = []
    while len(objects) < len(cells):
        obj = {"colour": _pick(list(COLOURS), rng), "shape": _pick(SHAPES, rng),
               "size": _pick(list(SIZES), rng)}
        if objects and all(objects[0][k] == obj[k] for k in ("colour", "shape", "size")):
            continue  # two identical objects would make "the red circle" ambiguous
        row, col = cells[len(objects)]
        lo, hi = SIZES[obj["size"]]
        obj.update(row=row, col=col, radius=float(rng.uniform(lo, hi)),
                   cx=(col + 0.5) * 64 / 3 + float(rng.uniform(-1.5, 1.5)),
                   cy=(row + 0.5) * 64 / 3 + float(rng.uniform(-1.5, 1.5)))
        objects.append(obj)
    return {"objects": objects, "background": int(rng.integers(15, 55)),
            "noise": float(rng.uniform(2.0, 6.0))}


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a np.random.Generator, got %s" % type(rng).__name__)


def relation(a, b):
    """'left' / 'right' / 'above' / 'below': where object a is relative to object b."""
    if a["row"] == b["row"]:
        return "left" if a["col"] < b["col"] else "right"
    return "above" if a["row"] < b["row"] else "below"


def _pick(options, rng):
    return options[int(rng.integers(len(options)))]


def _object_phrase(obj, rng):
    return "%s %s %s" % (_pick(SIZE_WORDS[obj["size"]], rng), obj["colour"], obj["shape"])


def caption_scene(scene, rng):
    """One caption (a str of lower-case words) for a scene: template, order, synonyms from rng."""
    _check_rng(rng)
    if not isinstance(scene, dict) or len(scene.get("objects", ())) not in (1, 2):
        raise ValueError("scene must be a dict from sample_scene with 1 or 2 objects")
    objs = scene["objects"]
    if len(objs) == 1:
        place = _pick(CELL_PHRASES[(objs[0]["row"], objs[0]["col"])], rng)
        return _pick(ONE_TEMPLATES, rng).format(o=_object_phrase(objs[0], rng), p=place)
    a, b = objs if rng.random() < 0.5 else objs[::-1]
    rel = _pick(RELATIONS[relation(a, b)], rng)
    return _pick(TWO_TEMPLATES, rng).format(a=_object_phrase(a, rng), r=rel,
                                           b=_object_phrase(b, rng))


def scene_captions(scene, rng, n=CAPTIONS_PER_IMAGE):
    """n captions for a scene, distinct where the grammar allows (a few redraws at most)."""
    caps = []
    for _ in range(20 * n):
        c = caption_scene(scene, rng)
        if c not in caps:
            caps.append(c)
        if len(caps) == n:
            break
    while len(caps) < n:
        caps.append(caption_scene(scene, rng))
    return caps


# ----------------------------------------------------------------------------- pixels

_SS = 2  # supersampling factor for anti-aliased edges
_GRID = (np.arange(64 * _SS) + 0.5) / _SS


def _coverage(obj):
    """(y0, x0, cov): cov (h, w) in [0, 1] is how much of each pixel of the object's bounding
    box, whose top left pixel is (y0, x0), the object covers."""
    r = obj["radius"]
    y0, x0 = max(int(obj["cy"] - r) - 1, 0), max(int(obj["cx"] - r) - 1, 0)
    y1, x1 = min(int(obj["cy"] + r) + 2, 64), min(int(obj["cx"] + r) + 2, 64)
    dx = _GRID[None, x0 * _SS:x1 * _SS] - obj["cx"]
    dy = _GRID[y0 * _SS:y1 * _SS, None] - obj["cy"]
    shape = obj["shape"]
    if shape == "circle":
        m = dx ** 2 + dy ** 2 <= r ** 2
    elif shape == "square":
        m = (np.abs(dx) <= 0.8 * r) & (np.abs(dy) <= 0.8 * r)
    elif shape == "diamond":
        m = np.abs(dx) + np.abs(dy) <= r
    else:  # triangle pointing up: apex at cy - r, base at cy + 0.75 r, base half-width 0.9 r
        m = (dy >= -r) & (dy <= 0.75 * r) & (np.abs(dx) <= (dy + r) * (0.9 / 1.75))
    return y0, x0, m.reshape(y1 - y0, _SS, x1 - x0, _SS).mean(axis=(1, 3))


def object_box(obj):
    """The pixel extent of a drawn object: [x0, y0, x1, y1] in image coordinates, where pixel
    (row i, column j) covers [j, j + 1) x [i, i + 1); the object's pixels lie inside."""
    r, cx, cy = obj["radius"], obj["cx"], obj["cy"]
    half_w, top, bottom = {"circle": (r, -r, r), "square": (0.8 * r, -0.8 * r, 0.8 * r),
                           "diamond": (r, -r, r), "triangle": (0.9 * r, -r, 0.75 * r)}[obj["shape"]]
    return [cx - half_w, cy + top, cx + half_w, cy + bottom]


def scene_record(scene):
    """What the objects file stores for one image: {"objects": [one dict per object]}, each with
    colour, shape, size, row and col (its cell of the 3x3 layout), cx, cy and radius (pixels),
    and box [x0, y0, x1, y1] (object_box). Floats are rounded to 0.01 pixel."""
    objects = []
    for obj in scene["objects"]:
        rec = {k: obj[k] for k in ("colour", "shape", "size", "row", "col")}
        rec.update({k: round(float(obj[k]), 2) for k in ("cx", "cy", "radius")})
        rec["box"] = [round(float(v), 2) for v in object_box(obj)]
        objects.append(rec)
    return {"objects": objects}


def render_scene(scene, rng):
    """Draw a scene. Returns a (64, 64, 3) uint8 image (rng supplies colour jitter and noise)."""
    _check_rng(rng)
    img = np.full((64, 64, 3), float(scene["background"]))
    img += scene["noise"] * rng.standard_normal((64, 64, 3))
    for obj in scene["objects"]:
        colour = np.array(COLOURS[obj["colour"]], dtype=float) + rng.uniform(-15, 15, size=3)
        y0, x0, cov = _coverage(obj)
        box = img[y0:y0 + cov.shape[0], x0:x0 + cov.shape[1]]
        box[...] = box * (1 - cov[:, :, None]) + colour * cov[:, :, None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def write_png(path, image):
    """Write an (H, W, 3) uint8 image as an 8-bit RGB PNG (zlib; no image library needed)."""
    image = check_array("image", image, ndim=3, dtype_kind=None)
    if image.dtype != np.uint8 or image.shape[2] != 3:
        raise ValueError("image must be an (H, W, 3) uint8 array, got shape %s dtype %s"
                         % (image.shape, image.dtype))
    image = np.ascontiguousarray(image)
    H, W, _ = image.shape
    raw = np.concatenate([np.zeros((H, 1), np.uint8), image.reshape(H, W * 3)], axis=1)

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


# ----------------------------------------------------------------------------- vocabulary

def build_vocab(captions):
    """Vocabulary of a list of caption strings: specials first, then words by frequency.

    Returns (idx_to_word list, word_to_idx dict); ties in frequency are broken alphabetically.
    """
    if isinstance(captions, str) or not all(isinstance(c, str) for c in captions):
        raise ValueError("captions must be a list of str")
    counts = {}
    for c in captions:
        for w in c.split():
            counts[w] = counts.get(w, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))
    idx_to_word = SPECIAL + words
    return idx_to_word, {w: i for i, w in enumerate(idx_to_word)}


def encode_captions(captions, word_to_idx, length=MAX_WORDS + 2):
    """(N,) caption strings -> (N, length) int32: <START> words <END> <NULL>..., unknown -> <UNK>."""
    if isinstance(captions, str) or not all(isinstance(c, str) for c in captions):
        raise ValueError("captions must be a list of str")
    out = np.zeros((len(captions), length), dtype=np.int32)
    for i, c in enumerate(captions):
        words = c.split()
        if len(words) > length - 2:
            raise ValueError("caption %r has %d words, at most %d fit" % (c, len(words), length - 2))
        ids = [1] + [word_to_idx.get(w, 3) for w in words] + [2]
        out[i, :len(ids)] = ids
    return out


# ----------------------------------------------------------------------------- the dataset

def _check_sizes(num_train, num_val, seed):
    for name, v, lo in (("num_train", num_train, 2), ("num_val", num_val, 1), ("seed", seed, 0)):
        if not (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= lo):
            raise ValueError("%s must be an integer >= %d, got %r" % (name, lo, v))


def _make_split(n, rng):
    """n scenes -> (images (n, 64, 64, 3) uint8, captions list of n * 5 str, n scene records)."""
    images = np.empty((n, 64, 64, 3), dtype=np.uint8)
    captions, records = [], []
    for i in range(n):
        scene = sample_scene(rng)
        images[i] = render_scene(scene, rng)
        captions += scene_captions(scene, rng)
        records.append(scene_record(scene))
    return images, captions, records


def _write_h5(path, **arrays):
    import h5py

    with h5py.File(path, "w") as f:
        for name, a in arrays.items():
            f.create_dataset(name, data=a)


def _write_dataset(d, seed, images, captions, records, log):
    """Write every file of the layout into directory d (which exists and is empty)."""
    from rnncap.shapes.features import apply_pca, extract_features, fit_pca

    idx_to_word, word_to_idx = build_vocab(captions["train"])
    caps, feats = {}, {}
    for split in ("train", "val"):
        n = images[split].shape[0]
        os.makedirs(os.path.join(d, "images", split))
        urls = []
        for i in range(n):
            rel = "images/%s/%05d.png" % (split, i)
            write_png(os.path.join(d, rel), images[split][i])
            urls.append(rel)
        with open(os.path.join(d, "%s2014_urls.txt" % split), "w") as f:
            f.write("\n".join(urls) + "\n")
        caps[split + "_captions"] = encode_captions(captions[split], word_to_idx)
        caps[split + "_image_idxs"] = np.repeat(np.arange(n, dtype=np.int32), CAPTIONS_PER_IMAGE)
        t = time.time()
        feats[split], grid = extract_features(images[split], grid=True)
        _write_h5(os.path.join(d, "%s2014_grid.h5" % split), features=grid)
        with open(os.path.join(d, "%s2014_objects.json" % split), "w") as f:
            json.dump(records[split], f, separators=(",", ":"))
        log("  %s: %d images, features in %.1f s" % (split, n, time.time() - t))
    _write_h5(os.path.join(d, "coco2014_captions.h5"), **caps)
    with open(os.path.join(d, "coco2014_vocab.json"), "w") as f:
        json.dump({"idx_to_word": idx_to_word, "word_to_idx": word_to_idx}, f)
    t = time.time()
    # A tiny train split has fewer than 512 directions: pad the projection with zero columns.
    dim = min(PCA_DIM, images["train"].shape[0])
    mean, comps = fit_pca(feats["train"], dim=dim, seed=seed)
    for split in ("train", "val"):
        pca = np.zeros((feats[split].shape[0], PCA_DIM), np.float32)
        pca[:, :dim] = apply_pca(feats[split], mean, comps)
        _write_h5(os.path.join(d, "%s2014_vgg16_fc7.h5" % split), features=feats[split])
        _write_h5(os.path.join(d, "%s2014_vgg16_fc7_pca.h5" % split), features=pca)
    log("  PCA (%d components) in %.1f s" % (dim, time.time() - t))


def read_meta(directory):
    """The generator's metadata dict of a shapes directory, or None if absent or unreadable."""
    try:
        with open(os.path.join(str(directory), META_FILE)) as f:
            meta = json.load(f)
        return meta if isinstance(meta, dict) else None
    except (OSError, ValueError):
        return None


def is_complete(directory, num_train=None, num_val=None, seed=None):
    """True if `directory` holds a complete shapes dataset of this generator version
    (and of the given sizes/seed, where given). The metadata file is written last."""
    meta = read_meta(directory)
    if meta is None or meta.get("version") != GENERATOR_VERSION:
        return False
    want = {"num_train": num_train, "num_val": num_val, "seed": seed}
    if any(v is not None and meta.get(k) != v for k, v in want.items()):
        return False
    names = CAPTION_FILES + FEATURE_FILES + GRID_FILES + OBJECT_FILES
    return all(os.path.isfile(os.path.join(str(directory), f)) for f in names)


def generate_shapes(out_dir, num_train=DEFAULT_SIZES["num_train"], num_val=DEFAULT_SIZES["num_val"],
                    seed=0, overwrite=False, verbose=False):
    """Generate the shapes dataset into out_dir (atomically: built beside it, then renamed).

    Inputs:
    - out_dir: target directory; created; if it already holds this exact dataset, nothing is done
    - num_train, num_val: number of images per split (5 captions each)
    - seed: seed of the dataset's np.random.Generator
    - overwrite: replace an existing shapes dataset of other sizes/seed/version; a non-empty
      directory that is not a shapes dataset is never replaced
    - verbose: print progress and timings

    Returns out_dir (str). Raises ValueError for bad sizes or a directory it must not replace.
    """
    _check_sizes(num_train, num_val, seed)
    out_dir = os.path.abspath(os.path.expanduser(str(out_dir)))
    log = print if verbose else (lambda *a: None)
    if is_complete(out_dir, num_train, num_val, seed):
        log("shapes dataset already present in %s" % out_dir)
        return out_dir
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        if read_meta(out_dir) is None and not _is_partial_shapes(out_dir):
            raise ValueError("out_dir %s exists and is not a shapes dataset; refusing to replace it"
                             % out_dir)
        if not overwrite and is_complete(out_dir):
            raise ValueError("out_dir %s holds a shapes dataset with other sizes or seed; pass "
                             "overwrite=True (--force) to replace it" % out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".%s.tmp-" % os.path.basename(out_dir), dir=parent)
    try:
        t0 = time.time()
        rng = np.random.Generator(np.random.PCG64(seed))
        images, captions, records = {}, {}, {}
        images["train"], captions["train"], records["train"] = _make_split(num_train, rng)
        images["val"], captions["val"], records["val"] = _make_split(num_val, rng)
        log("generating shapes into %s (seed %d): scenes in %.1f s"
            % (out_dir, seed, time.time() - t0))
        _write_dataset(tmp, seed, images, captions, records, log)
        meta = {"name": "rnncap-shapes", "version": GENERATOR_VERSION, "seed": seed,
                "num_train": num_train, "num_val": num_val,
                "captions_per_image": CAPTIONS_PER_IMAGE}
        with open(os.path.join(tmp, META_FILE), "w") as f:
            json.dump(meta, f, indent=1)
        _move_into_place(tmp, out_dir, num_train, num_val, seed)
        log("done in %.1f s" % (time.time() - t0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _is_partial_shapes(d):
    """A directory with only shapes-layout names in it (e.g. an interrupted old generation)."""
    names = set(CAPTION_FILES + FEATURE_FILES + GRID_FILES + OBJECT_FILES + [META_FILE, "images"])
    return set(os.listdir(d)) <= names


def _move_into_place(tmp, out_dir, num_train, num_val, seed):
    """Rename tmp to out_dir; whatever was there is moved aside first and then deleted."""
    if os.path.isdir(out_dir) and not os.listdir(out_dir):
        os.rmdir(out_dir)
    if not os.path.exists(out_dir):
        try:
            os.rename(tmp, out_dir)
            return
        except OSError:
            if not os.path.exists(out_dir):
                raise
    if is_complete(out_dir, num_train, num_val, seed):
        return  # another process finished the same dataset first
    trash = tempfile.mkdtemp(prefix=".%s.old-" % os.path.basename(out_dir),
                             dir=os.path.dirname(out_dir))
    os.rename(out_dir, os.path.join(trash, "old"))
    os.rename(tmp, out_dir)
    shutil.rmtree(trash, ignore_errors=True)


def default_dir():
    """Where the built-in dataset is cached: $RNNCAP_CACHE/shapes, else ~/.cache/rnncap/shapes
    (or $XDG_CACHE_HOME/rnncap/shapes)."""
    if os.environ.get("RNNCAP_CACHE"):
        return os.path.join(os.path.expanduser(os.environ["RNNCAP_CACHE"]), "shapes")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rnncap", "shapes")


def ensure_shapes(directory=None, verbose=False):
    """Return the directory of the default built-in dataset, generating it there first if it is
    missing, incomplete or from another generator version (default: default_dir())."""
    directory = default_dir() if directory is None else str(directory)
    if not is_complete(directory, seed=0, **DEFAULT_SIZES):
        generate_shapes(directory, seed=0, overwrite=True, verbose=verbose, **DEFAULT_SIZES)
    return os.path.abspath(directory)


# The caption checker needs the grammar above, so it is imported last.
from rnncap.shapes.facts import (caption_accuracy, caption_facts, format_caption_accuracy,  # noqa: E402
                                 scene_facts)
