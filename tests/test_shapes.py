"""The built-in shapes dataset: layout, determinism, captions true to the pixels, features that
carry the caption facts, and generation on first use.

Expected values are computed here from the pixels (read back with PIL, an independent PNG
decoder) and from the decoded captions; nothing is taken from the generator's internals.
"""
import colorsys
import os

import numpy as np
import pytest
from PIL import Image

from rnncap import shapes
from rnncap.coco_utils import decode_captions, load_coco_data, load_objects, resolve_dataset
from rnncap.shapes.features import extract_features

N_TRAIN, N_VAL = 600, 150  # small enough to generate in a few seconds, big enough for a probe
COLOURS = ("red", "green", "blue", "yellow", "purple", "white")
RELATION_WORDS = {"left": "left", "right": "right", "above": "above", "over": "above",
                  "below": "below", "under": "below"}


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("shapes") / "small")
    shapes.generate_shapes(d, num_train=N_TRAIN, num_val=N_VAL, seed=3)
    return d, load_coco_data(d, pca_features=False)


def _words(data, split):
    """Per image: the list of its decoded captions (lists of words, no special tokens)."""
    out = [[] for _ in range(len(data[split + "_urls"]))]
    caps = decode_captions(data[split + "_captions"], data["idx_to_word"])
    for c, i in zip(caps, data[split + "_image_idxs"]):
        out[i].append(c.split()[1:-1])
    return out


SHAPE_WORDS = ("circle", "square", "triangle", "diamond")


def _two_objects(words):
    return sum(w in SHAPE_WORDS for w in words) == 2


def _objects(img):
    """Pixels that differ clearly from the background -> list of (mean colour, ys, xs) blobs,
    one per distinct colour cluster (objects of one scene never share colour and shape)."""
    bg = np.median(img.reshape(-1, 3), axis=0)
    mask = np.abs(img.astype(float) - bg).max(axis=2) > 60
    ys, xs = np.nonzero(mask)
    return mask, ys, xs


def _colour_name(rgb):
    """Name a colour by hue (white: unsaturated), with the usual colour-wheel boundaries."""
    h, s, _ = colorsys.rgb_to_hsv(*(np.asarray(rgb, dtype=float) / 255.0))
    if s < 0.25:
        return "white"
    h *= 360
    return ("red" if h < 25 or h >= 320 else "yellow" if h < 90 else "green" if h < 180
            else "blue" if h < 255 else "purple")


def test_layout(small):
    d, data = small
    assert data["train_captions"].shape == (5 * N_TRAIN, 17)
    assert data["val_captions"].shape == (5 * N_VAL, 17)
    assert data["train_captions"].dtype == np.int32
    np.testing.assert_array_equal(data["train_image_idxs"], np.repeat(np.arange(N_TRAIN), 5))
    assert data["train_features"].shape == (N_TRAIN, 4096)
    assert data["val_features"].shape == (N_VAL, 4096)
    assert data["train_features"].dtype == np.float32 and data["train_features"].min() >= 0
    pca = load_coco_data(d)
    assert pca["train_features"].shape == (N_TRAIN, 512)
    # PCA features are centred on train
    np.testing.assert_allclose(pca["train_features"].mean(axis=0), 0, atol=1e-3)
    for split in ("train", "val"):
        caps = data[split + "_captions"]
        assert (caps[:, 0] == 1).all()
        lengths = (caps != 0).sum(axis=1)
        assert lengths.max() <= 17
        assert (caps[np.arange(len(caps)), lengths - 1] == 2).all()  # <END> then only <NULL>
        assert (np.cumsum(caps == 0, axis=1)[np.arange(len(caps)), lengths - 1] == 0).all()
        assert os.path.isfile(data[split + "_urls"][-1])
    assert not (data["train_captions"] == 3).any()  # no <UNK>


def test_vocabulary_order(small):
    _, data = small
    itw = data["idx_to_word"]
    assert itw[:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    counts = {w: 0 for w in itw[4:]}
    for c in decode_captions(data["train_captions"], itw):
        for w in c.split()[1:-1]:
            counts[w] += 1
    freq = [counts[w] for w in itw[4:]]
    assert freq == sorted(freq, reverse=True)


def test_captions_vary(small):
    _, data = small
    per_image = _words(data, "train")
    distinct = np.mean([len({" ".join(c) for c in caps}) for caps in per_image])
    assert distinct > 3.5
    firsts = {c[0] for caps in per_image for c in caps}
    assert {"a", "the", "there"} <= firsts
    relations = {w for caps in per_image for c in caps for w in c} & set(RELATION_WORDS)
    assert relations == set(RELATION_WORDS)


def test_png_files_hold_the_pixels(small):
    d, data = small
    img = np.asarray(Image.open(data["val_urls"][0]).convert("RGB"))
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert img.std() > 5  # not blank
    path = os.path.join(d, "round_trip.png")
    want = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3)).astype(np.uint8)
    shapes.write_png(path, want)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), want)


def test_lone_objects_are_where_and_what_the_captions_say(small):
    _, data = small
    checked = 0
    for i, caps in enumerate(_words(data, "val")):
        if _two_objects(caps[0]):
            continue
        img = np.asarray(Image.open(data["val_urls"][i]).convert("RGB"))
        mask, ys, xs = _objects(img)
        row, col = int(ys.mean() // (64 / 3)), int(xs.mean() // (64 / 3))
        colour = _colour_name(img[mask].mean(axis=0))
        for c in caps:
            text = " ".join(c)
            assert colour in c, (text, colour)
            v = "top" if "top" in c else "bottom" if "bottom" in c else "middle"
            h = "left" if "left" in c else "right" if "right" in c else "middle"
            assert (["top", "middle", "bottom"][row], ["left", "middle", "right"][col]) == (v, h), text
        checked += 1
    assert checked > 0.3 * N_VAL


def test_two_object_relations_match_the_pixels(small):
    _, data = small
    checked = 0
    for i, caps in enumerate(_words(data, "val")):
        if not _two_objects(caps[0]):
            continue
        img = np.asarray(Image.open(data["val_urls"][i]).convert("RGB"))
        mask, ys, xs = _objects(img)
        names = np.array([_colour_name(p) for p in img[mask]])
        for c in caps:
            rel_at = [j for j, w in enumerate(c) if w in RELATION_WORDS][0]
            ca = [w for w in c[:rel_at] if w in COLOURS][0]
            cb = [w for w in c[rel_at:] if w in COLOURS][0]
            if ca == cb or min((names == ca).sum(), (names == cb).sum()) < 10:
                continue
            ya, xa = ys[names == ca].mean(), xs[names == ca].mean()
            yb, xb = ys[names == cb].mean(), xs[names == cb].mean()
            seen = (("left" if xa < xb else "right") if abs(xa - xb) > abs(ya - yb)
                    else ("above" if ya < yb else "below"))
            assert RELATION_WORDS[c[rel_at]] == seen, " ".join(c)
            checked += 1
    assert checked > N_VAL


def test_big_objects_are_bigger_than_small_ones_of_the_same_shape(small):
    _, data = small
    areas = {}
    for i, caps in enumerate(_words(data, "val")):
        c = caps[0]
        if _two_objects(c):
            continue
        size = "big" if ("big" in c or "large" in c) else "small"
        shape = [w for w in c if w in SHAPE_WORDS][0]
        img = np.asarray(Image.open(data["val_urls"][i]).convert("RGB"))
        areas.setdefault((shape, size), []).append(_objects(img)[0].sum())
    for shape in ("circle", "square", "triangle", "diamond"):
        assert max(areas[(shape, "small")]) < min(areas[(shape, "big")]), shape


def _ridge_accuracy(Xtr, ytr, Xva, yva, lam=10.0):
    """Val accuracy of a one-vs-rest ridge-regression probe on standardized features."""
    classes = sorted(set(ytr))
    Y = np.array([[c == y for c in classes] for y in ytr], dtype=float)
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0) + 1e-3
    A, B = (Xtr - mu) / sd, (Xva - mu) / sd
    alpha = np.linalg.solve(A @ A.T + lam * np.eye(len(A)), Y - Y.mean(axis=0))
    pred = (B @ (A.T @ alpha)).argmax(axis=1)
    return np.mean([classes[p] == y for p, y in zip(pred, yva)])


def test_linear_probe_reads_the_caption_facts_from_features(small):
    """A linear probe trained on train features predicts a lone object's colour, shape, size and
    place on unseen val images far above chance (labels come from the captions)."""
    _, data = small
    facts = {}
    for split in ("train", "val"):
        rows, labels = [], {"colour": [], "shape": [], "size": [], "place": []}
        for i, caps in enumerate(_words(data, split)):
            c = caps[0]
            if _two_objects(c):
                continue
            rows.append(i)
            labels["colour"].append([w for w in c if w in COLOURS][0])
            labels["shape"].append([w for w in c if w in SHAPE_WORDS][0])
            labels["size"].append("big" if ("big" in c or "large" in c) else "small")
            labels["place"].append(tuple(w in c for w in ("top", "bottom", "left", "right")))
        facts[split] = (data[split + "_features"][rows].astype(np.float64), labels)
    (Xtr, ltr), (Xva, lva) = facts["train"], facts["val"]
    accuracy = {k: _ridge_accuracy(Xtr, ltr[k], Xva, lva[k]) for k in ltr}
    # chance: colour 1/6, shape 1/4, size 1/2, place 1/9
    floors = {"colour": 0.85, "shape": 0.4, "size": 0.8, "place": 0.9}  # measured 0.93, 0.6, 0.95, 1
    assert all(accuracy[k] >= floors[k] for k in accuracy), accuracy


def test_determinism_and_global_rng_untouched(tmp_path):
    np.random.seed(99)
    state = np.random.get_state()[1].copy()
    a = shapes.generate_shapes(str(tmp_path / "a"), num_train=12, num_val=4, seed=7)
    b = shapes.generate_shapes(str(tmp_path / "b"), num_train=12, num_val=4, seed=7)
    c = shapes.generate_shapes(str(tmp_path / "c"), num_train=12, num_val=4, seed=8)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    da, db, dc = (load_coco_data(x, pca_features=False) for x in (a, b, c))
    for k in ("train_captions", "val_captions", "train_features", "val_features"):
        np.testing.assert_array_equal(da[k], db[k])
    assert da["idx_to_word"] == db["idx_to_word"]
    np.testing.assert_array_equal(load_coco_data(a)["val_features"], load_coco_data(b)["val_features"])
    for ua, ub in zip(da["train_urls"], db["train_urls"]):
        with open(ua, "rb") as fa, open(ub, "rb") as fb:
            assert fa.read() == fb.read()
    assert not np.array_equal(da["train_features"], dc["train_features"])
    ga, gb = (load_coco_data(x, grid_features=True)["val_grid"] for x in (a, b))
    np.testing.assert_array_equal(ga, gb)
    assert load_objects(a, "train") == load_objects(b, "train") != load_objects(c, "train")
    assert sorted(os.listdir(str(tmp_path))) == ["a", "b", "c"]  # no temporary directories left


def test_existing_directories(tmp_path):
    d = str(tmp_path / "s")
    shapes.generate_shapes(d, num_train=6, num_val=2)
    stamp = os.path.getmtime(os.path.join(d, shapes.META_FILE))
    shapes.generate_shapes(d, num_train=6, num_val=2)  # same dataset: nothing to do
    assert os.path.getmtime(os.path.join(d, shapes.META_FILE)) == stamp
    with pytest.raises(ValueError, match="other sizes or seed.*--force"):
        shapes.generate_shapes(d, num_train=7, num_val=2)
    shapes.generate_shapes(d, num_train=7, num_val=2, overwrite=True)
    assert load_coco_data(d)["train_features"].shape == (7, 512)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a shapes dataset"):
        shapes.generate_shapes(str(other), num_train=6, num_val=2, overwrite=True)
    assert (other / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("kwargs, match", [({"num_train": 1}, "num_train"),
                                           ({"num_val": 0}, "num_val"),
                                           ({"seed": -1}, "seed"),
                                           ({"num_train": 5.0}, "num_train")])
def test_bad_sizes(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        shapes.generate_shapes(str(tmp_path / "x"), **kwargs)


def test_generated_on_first_use_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNCAP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RNNCAP_DATA", str(tmp_path / "no_coco"))
    monkeypatch.setattr(shapes, "DEFAULT_SIZES", {"num_train": 10, "num_val": 3})
    d, kind = resolve_dataset()
    assert (d, kind) == (str(tmp_path / "cache" / "shapes"), "shapes")
    assert resolve_dataset("shapes") == (d, "shapes")
    data = load_coco_data("shapes")
    assert data["train_captions"].shape == (50, 17)
    stamp = os.path.getmtime(os.path.join(d, shapes.META_FILE))
    load_coco_data("shapes", lazy=True)  # reused, not regenerated
    assert os.path.getmtime(os.path.join(d, shapes.META_FILE)) == stamp
    os.remove(os.path.join(d, "val2014_urls.txt"))  # incomplete -> regenerated
    assert load_coco_data("shapes")["val_urls"].shape == (3,)


def test_data_command(tmp_path, monkeypatch, capsys):
    from rnncap.cli import main

    monkeypatch.setenv("RNNCAP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RNNCAP_DATA", str(tmp_path / "coco"))
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "coco") in out and "get_coco_captioning.sh" in out
    assert str(tmp_path / "cache" / "shapes") in out and "not generated yet" in out
    d = str(tmp_path / "built")
    assert main(["data", "shapes", "--out", d, "--num-train", "5", "--num-val", "2"]) == 0
    assert load_coco_data(d)["train_captions"].shape == (25, 17)
    assert main(["data", "shapes", "--out", d, "--num-train", "6", "--num-val", "2"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["data", "shapes", "--out", d, "--num-train", "6", "--num-val", "2",
                 "--force"]) == 0
    assert main(["data", "--out", d]) == 2  # --out belongs to `data shapes`


# ----------------------------------------------------------------------------- grid and objects

def test_grid_features_layout(small):
    d, data = small
    grid = load_coco_data(d, grid_features=True, pca_features=False)
    G = grid["val_grid"]
    assert G.shape == (N_VAL, 152, 8, 8) and G.dtype == np.float32
    assert grid["train_grid"].shape == (N_TRAIN, 152, 8, 8)
    # the first 64 channels are the 4096-d vector's numbers: an (8, 8, 64) map, flattened
    np.testing.assert_array_equal(G[:, :64].transpose(0, 2, 3, 1).reshape(N_VAL, -1),
                                  data["val_features"])
    # then 64 mean-pooled channels of the same map: never above the max-pooled ones
    assert (G[:, 64:128] >= 0).all() and (G[:, 64:128] <= G[:, :64] + 1e-5).all()
    assert (G[:, 64:128] < G[:, :64] - 1e-3).mean() > 0.5
    # then 8 edge-orientation channels: non-negative, and zero only where nothing changes
    assert (G[:, 128:136] >= 0).all() and (G[:, 128:136].sum(axis=1) > 0).all()
    # then a one-hot of the cell's row (8 channels) and of its column (8 channels)
    on = G[:, 136:] > 0
    rows, cols = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    np.testing.assert_array_equal(on[:, :8], np.broadcast_to(np.arange(8)[:, None, None] == rows,
                                                             (N_VAL, 8, 8, 8)))
    np.testing.assert_array_equal(on[:, 8:], np.broadcast_to(np.arange(8)[:, None, None] == cols,
                                                             (N_VAL, 8, 8, 8)))
    assert len(np.unique(G[:, 136:][on])) == 1
    lazy = load_coco_data(d, grid_features=True, lazy=True)["val_grid"]
    np.testing.assert_array_equal(lazy[[5, 0, 5]], G[[5, 0, 5]])
    # the extractor gives the same numbers for images read back from the PNGs
    images = np.stack([np.asarray(Image.open(u).convert("RGB")) for u in data["val_urls"][:3]])
    vec, grid3 = extract_features(images, grid=True)
    np.testing.assert_array_equal(grid3, G[:3])
    np.testing.assert_array_equal(vec, data["val_features"][:3])
    np.testing.assert_array_equal(extract_features(images), vec)


def test_objects_file_matches_the_captions_and_the_pixels(small):
    d, data = small
    for split in ("train", "val"):
        records = load_objects(d, split)
        assert len(records) == len(data[split + "_urls"])
        for i, caps in enumerate(_words(data, split)):
            truth = shapes.scene_facts(records[i])
            assert all(shapes.caption_facts(" ".join(c)) == truth for c in caps), i
    checked = 0
    for i, record in enumerate(load_objects(d, "val")):
        img = np.asarray(Image.open(data["val_urls"][i]).convert("RGB"))
        mask, ys, xs = _objects(img)
        boxes = np.array([o["box"] for o in record["objects"]])
        inside = ((xs[:, None] + 0.5 >= boxes[:, 0] - 1) & (xs[:, None] + 0.5 <= boxes[:, 2] + 1)
                  & (ys[:, None] + 0.5 >= boxes[:, 1] - 1) & (ys[:, None] + 0.5 <= boxes[:, 3] + 1))
        assert inside.any(axis=1).all(), i  # every object pixel lies in an object's box
        if len(record["objects"]) == 1:  # and a lone object's box is tight around its pixels
            x0, y0, x1, y1 = boxes[0]
            assert abs(xs.min() - x0) < 1.5 and abs(xs.max() + 1 - x1) < 1.5, i
            assert abs(ys.min() - y0) < 1.5 and abs(ys.max() + 1 - y1) < 1.5, i
            o = record["objects"][0]
            assert _colour_name(img[mask].mean(axis=0)) == o["colour"]
            assert (int(o["cy"] // (64 / 3)), int(o["cx"] // (64 / 3))) == (o["row"], o["col"])
            checked += 1
    assert checked > 0.3 * N_VAL


def test_edge_orientation_channels_by_hand():
    """Straight edges between black and white, worked out by hand: central differences give a
    step of 1 (pixels in [-0.5, 0.5]) on the two pixels either side of the edge, in the bin of
    its gradient's direction (0: left to right, 4: top to bottom, 6: 135 degrees); a cell's
    window spans its 8 pixels and 4 on each side, so cells 3 and 4 see a vertical edge between
    columns 31 and 32 (16 rows each, 12 in the first and last row of cells, cut by the image)."""
    from rnncap.shapes.features import _ORIENTATION_SCALE

    x = np.arange(64)
    images = np.zeros((3, 64, 64, 3), np.uint8)
    images[0, :, 32:] = 255                                   # vertical edge
    images[1, 32:, :] = 255                                   # horizontal edge
    images[2] = 255 * (x[None, :] > x[:, None])[:, :, None]   # diagonal: white above it
    edges = extract_features(images, grid=True)[1][:, 128:136] / _ORIENTATION_SCALE
    lines = np.zeros(8)
    lines[3:5] = 2  # two pixels of the edge in each of cells 3 and 4
    rows = np.array([12] + [16] * 6 + [12])
    expected = np.zeros((2, 8, 8, 8))
    expected[0, 0] = rows[:, None] * lines[None, :]
    expected[1, 4] = lines[:, None] * rows[None, :]
    np.testing.assert_allclose(edges[:2], expected, atol=1e-5)
    # gradient (1, -1): 135 degrees only (away from the image's border rows and columns,
    # where one of the two differences is 0)
    assert (edges[2, [0, 1, 2, 3, 4, 5, 7], 1:7, 1:7] == 0).all()
    # the diagonal crosses window (3, 3) (rows and columns 20 to 35) on pixels x = y (16 of
    # them) and x = y + 1 (15), each of magnitude sqrt(2)
    assert edges[2, 6, 3, 3] == pytest.approx(31 * np.sqrt(2), rel=1e-5)
    assert edges[2, 6, 0, 7] == 0


def _attended(grid, records):
    """Per object: the mean grid vector over the cells whose centres lie in its box (what a
    perfect attention map would read), and its labels."""
    X, labels = [], {"colour": [], "shape": [], "size": [], "cell": []}
    centres = (np.arange(8) + 0.5) * 8
    for g, record in zip(grid, records):
        for o in record["objects"]:
            x0, y0, x1, y1 = o["box"]
            rows = np.flatnonzero((centres >= y0) & (centres <= y1))
            cols = np.flatnonzero((centres >= x0) & (centres <= x1))
            if rows.size == 0 or cols.size == 0:  # a small square between cell centres
                rows, cols = [int(o["cy"] // 8)], [int(o["cx"] // 8)]
            X.append(g[:, rows][:, :, cols].mean(axis=(1, 2)))
            for k in ("colour", "shape", "size"):
                labels[k].append(o[k])
            labels["cell"].append((o["row"], o["col"]))
    return np.array(X, dtype=np.float64), labels


def test_grid_cells_of_an_object_carry_its_facts(small):
    """What a perfect attention map reads from the grid (the mean over the object's cells)
    tells a linear probe the object's colour, size, shape and its cell of the 3x3 layout, on
    unseen val images; the cell comes from the position channels."""
    d, _ = small
    grid = load_coco_data(d, grid_features=True)
    (Xtr, ltr), (Xva, lva) = (_attended(grid[s + "_grid"], load_objects(d, s))
                              for s in ("train", "val"))
    accuracy = {k: _ridge_accuracy(Xtr, ltr[k], Xva, lva[k]) for k in ltr}
    # chance: colour 1/6, shape 1/4, size 1/2, cell 1/9
    floors = {"colour": 0.95, "shape": 0.9, "size": 0.9, "cell": 0.9}  # measured 1, 1, 1, .97
    assert all(accuracy[k] >= floors[k] for k in accuracy), accuracy
    no_edges = np.r_[0:128, 136:152]
    shape_without_edges = _ridge_accuracy(Xtr[:, no_edges], ltr["shape"], Xva[:, no_edges],
                                          lva["shape"])
    assert shape_without_edges < accuracy["shape"] - 0.1, shape_without_edges  # measured 0.78
    no_position = _ridge_accuracy(Xtr[:, :136], ltr["cell"], Xva[:, :136], lva["cell"])
    assert no_position < accuracy["cell"] - 0.2, no_position  # measured 0.55



@pytest.fixture(scope="module")
def small_datasets(tmp_path_factory):
    """num_train -> directory of a built-in dataset that small, made by `rnncap data shapes`."""
    from rnncap.cli import main

    dirs = {}
    for n in (60, 300, 512):
        dirs[n] = str(tmp_path_factory.mktemp("shapes%d" % n))
        assert main(["data", "shapes", "--out", dirs[n], "--num-train", str(n), "--num-val", "2",
                     "--force"]) == 0
    return dirs


@pytest.mark.parametrize("num_train", [60, 300, 512])
def test_small_datasets_have_sane_features(num_train, small_datasets):
    """Up to 512 train images, centring leaves fewer directions than PCA components: the extra
    ones must be zero, not round-off scaled up to ~1e11 (which made training diverge). On the
    features, the reduced overfit run (10 captions of 10 images) memorises its captions."""
    import h5py

    from rnncap import CaptioningRNN, CaptioningSolver
    from rnncap.coco_utils import load_coco_data

    d = small_datasets[num_train]
    for split in ("train", "val"):
        with h5py.File(os.path.join(d, "%s2014_vgg16_fc7_pca.h5" % split), "r") as f:
            feats = f["features"][()]
        assert np.isfinite(feats).all() and np.abs(feats).max() < 200, np.abs(feats).max()
    data = load_coco_data(d)
    first = np.searchsorted(data["train_image_idxs"], np.arange(10))  # images 0..9, one each
    data["train_captions"] = data["train_captions"][first]
    data["train_image_idxs"] = data["train_image_idxs"][first]
    np.random.seed(231)
    model = CaptioningRNN(data["word_to_idx"], input_dim=512, wordvec_dim=32, hidden_dim=64)
    solver = CaptioningSolver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2},
                              num_epochs=100, batch_size=10, verbose=False)
    solver.train()
    assert max(solver.loss_history) < 50 and solver.loss_history[-1] < 0.1


def test_overfit_bar_holds_on_a_small_dataset(small_datasets, tmp_path, capsys):
    """`rnncap overfit` (the classic protocol) on 512 train images. (With far fewer images the
    50 captions it draws share images, whose different captions no model can all fit: with
    60 images and seed 231 that floor alone is a loss of 0.40.)"""
    import re

    from rnncap.cli import main

    capsys.readouterr()
    assert main(["overfit", "--data", small_datasets[512], "--plot",
                 str(tmp_path / "overfit.png")]) == 0
    final = re.search(r"^Final loss: (\S+)$", capsys.readouterr().out, re.M)
    assert float(final.group(1)) < 0.1


@pytest.mark.parametrize("N", [5, 12, 40])
def test_fit_pca_zeroes_directions_beyond_the_rank(N):
    """N centred points span N - 1 directions; asking for N components gives N - 1 orthonormal
    rows and a zero row, and projections no larger than the data."""
    from rnncap.shapes.features import apply_pca, fit_pca

    X = np.random.default_rng(N).standard_normal((N, 64)).astype(np.float32) * 3 + 1
    mean, comps = fit_pca(X, dim=N, seed=0)
    np.testing.assert_allclose(comps[:N - 1] @ comps[:N - 1].T, np.eye(N - 1), atol=1e-4)
    assert not comps[N - 1:].any()
    Z = apply_pca(X, mean, comps)
    assert np.abs(Z).max() <= np.linalg.norm(X - X.mean(0), axis=1).max() * (1 + 1e-4)
