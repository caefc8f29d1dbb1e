"""load_coco_data (eager and lazy), resolve_dataset, sample_coco_minibatch, decode_captions.

Every data directory here is written by the test itself with h5py, so expected values are the
arrays the test wrote, never values computed by rnncap.
"""
import json
import os

import h5py
import numpy as np
import pytest

from rnncap import coco_utils
from rnncap.coco_utils import (LazyFeatures, decode_captions, load_coco_data, resolve_dataset,
                               sample_coco_minibatch)

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "on", "mat"]


def _layout(d, n_train_img=6, n_val_img=4, D=5, pca_D=3, relative_urls=False):
    """Write a small, valid COCO-layout directory; returns the arrays written."""
    g = np.random.default_rng(0)
    os.makedirs(d, exist_ok=True)
    arrays = {}
    for split, n_img in (("train", n_train_img), ("val", n_val_img)):
        n_cap = 2 * n_img
        caps = np.zeros((n_cap, 17), np.int32)
        caps[:, 0] = 1
        caps[:, 1:4] = g.integers(4, len(WORDS), size=(n_cap, 3))
        caps[:, 4] = 2
        arrays[split + "_captions"] = caps
        arrays[split + "_image_idxs"] = np.repeat(np.arange(n_img, dtype=np.int32), 2)
        arrays[split + "_fc7"] = g.standard_normal((n_img, D)).astype(np.float32)
        arrays[split + "_pca"] = g.standard_normal((n_img, pca_D)).astype(np.float32)
        urls = ["%s/%d.png" % (split, i) if relative_urls else "http://x.org/%s/%d.jpg" % (split, i)
                for i in range(n_img)]
        arrays[split + "_urls"] = urls
        for suffix, key in (("", "_fc7"), ("_pca", "_pca")):
            with h5py.File(os.path.join(d, "%s2014_vgg16_fc7%s.h5" % (split, suffix)), "w") as f:
                f["features"] = arrays[split + key]
        with open(os.path.join(d, "%s2014_urls.txt" % split), "w") as f:
            f.write("\n".join(urls) + "\n")
    with h5py.File(os.path.join(d, "coco2014_captions.h5"), "w") as f:
        for k in coco_utils.CAPTION_KEYS:
            f[k] = arrays[k]
    with open(os.path.join(d, "coco2014_vocab.json"), "w") as f:
        json.dump({"idx_to_word": WORDS, "word_to_idx": {w: i for i, w in enumerate(WORDS)}}, f)
    return arrays


@pytest.fixture
def layout(tmp_path):
    d = str(tmp_path / "coco")
    return d, _layout(d)


def _rewrite_h5(path, **datasets):
    """Rewrite an HDF5 file with some datasets replaced (value None deletes one)."""
    with h5py.File(path, "r") as f:
        content = {k: f[k][()] for k in f}
    content.update(datasets)
    with h5py.File(path, "w") as f:
        for k, v in content.items():
            if v is not None:
                f[k] = v


# ----------------------------------------------------------------------------- round trip

@pytest.mark.parametrize("pca, key", [(True, "_pca"), (False, "_fc7")])
def test_round_trip(layout, pca, key):
    d, a = layout
    data = load_coco_data(d, pca_features=pca)
    assert set(data) == {"train_captions", "train_image_idxs", "val_captions", "val_image_idxs",
                         "train_features", "val_features", "idx_to_word", "word_to_idx",
                         "train_urls", "val_urls"}
    for split in ("train", "val"):
        np.testing.assert_array_equal(data[split + "_captions"], a[split + "_captions"])
        np.testing.assert_array_equal(data[split + "_image_idxs"], a[split + "_image_idxs"])
        np.testing.assert_array_equal(data[split + "_features"], a[split + key])
        assert data[split + "_features"].dtype == np.float32
        assert list(data[split + "_urls"]) == a[split + "_urls"]
    assert data["idx_to_word"] == WORDS
    assert data["word_to_idx"]["cat"] == 5


def test_relative_urls_are_resolved_against_the_directory(tmp_path):
    d = str(tmp_path / "rel")
    _layout(d, relative_urls=True)
    data = load_coco_data(d)
    assert data["train_urls"][2] == os.path.join(os.path.abspath(d), "train", "2.png")


def test_max_train_draws_exactly_one_randint(layout):
    d, a = layout
    np.random.seed(231)
    expected = np.random.randint(12, size=7)
    after_one_draw = np.random.get_state()[1].copy()
    np.random.seed(231)
    data = load_coco_data(d, max_train=7)
    np.testing.assert_array_equal(np.random.get_state()[1], after_one_draw)
    np.testing.assert_array_equal(data["train_captions"], a["train_captions"][expected])
    np.testing.assert_array_equal(data["train_image_idxs"], a["train_image_idxs"][expected])
    np.testing.assert_array_equal(data["val_captions"], a["val_captions"])  # val untouched


def test_no_global_draw_without_max_train(layout):
    np.random.seed(5)
    state = np.random.get_state()[1].copy()
    load_coco_data(layout[0])
    load_coco_data(layout[0], lazy=True)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_bad_max_train(layout, bad):
    with pytest.raises(ValueError, match="max_train"):
        load_coco_data(layout[0], max_train=bad)


# ----------------------------------------------------------------------------- lazy

def test_lazy_indexing_matches_eager(layout):
    d, a = layout
    data = load_coco_data(d, lazy=True, pca_features=False)
    feats = data["train_features"]
    assert isinstance(feats, LazyFeatures)
    want = a["train_fc7"]
    assert feats.shape == want.shape and feats.dtype == want.dtype and len(feats) == 6
    for idx in ([5, 0, 5, 2, 2], [3], [], [-1, 0], np.array([[1, 4], [4, 1]])):
        np.testing.assert_array_equal(feats[np.asarray(idx, dtype=np.int64)],
                                      want[np.asarray(idx, dtype=np.int64)])
    np.testing.assert_array_equal(feats[4], want[4])
    np.testing.assert_array_equal(feats[1:4], want[1:4])
    np.testing.assert_array_equal(np.asarray(feats), want)
    with pytest.raises(ValueError, match="idx"):
        feats[np.array([6])]
    with pytest.raises(ValueError, match="idx"):
        feats[np.array([0.5])]


def test_eager_and_lazy_give_identical_minibatches(layout):
    d = layout[0]
    batches = []
    for lazy in (False, True):
        np.random.seed(17)
        data = load_coco_data(d, max_train=9, lazy=lazy)
        batches.append([sample_coco_minibatch(data, 4, split) for split in ("train", "val")])
    for (c1, f1, u1), (c2, f2, u2) in zip(*batches):
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_array_equal(f1, f2)
        np.testing.assert_array_equal(u1, u2)


# ----------------------------------------------------------------------------- minibatch

def test_sample_coco_minibatch_follows_the_cs231n_protocol(layout):
    d, a = layout
    data = load_coco_data(d)
    np.random.seed(3)
    mask = np.random.choice(8, 5)
    np.random.seed(3)
    caps, feats, urls = sample_coco_minibatch(data, batch_size=5, split="val")
    np.testing.assert_array_equal(caps, a["val_captions"][mask])
    img = a["val_image_idxs"][mask]
    np.testing.assert_array_equal(feats, a["val_pca"][img])
    assert list(urls) == [a["val_urls"][i] for i in img]
    # exactly one draw per call
    np.random.seed(3)
    np.random.choice(8, 5)
    after_one_draw = np.random.get_state()[1].copy()
    np.random.seed(3)
    sample_coco_minibatch(data, 5, "val")
    np.testing.assert_array_equal(np.random.get_state()[1], after_one_draw)


@pytest.mark.parametrize("kwargs, match", [({"split": "test"}, "split"),
                                           ({"batch_size": 0}, "batch_size"),
                                           ({"batch_size": 2.0}, "batch_size")])
def test_sample_coco_minibatch_bad_input(layout, kwargs, match):
    data = load_coco_data(layout[0])
    with pytest.raises(ValueError, match=match):
        sample_coco_minibatch(data, **kwargs)
    with pytest.raises(ValueError, match="train_captions"):
        sample_coco_minibatch({}, 2)


# ----------------------------------------------------------------------------- decode

def test_decode_captions():
    caps = np.array([[1, 4, 0, 5, 2, 6, 6],
                     [1, 6, 7, 4, 8, 0, 0]])
    assert decode_captions(caps, WORDS) == ["<START> a cat <END>", "<START> dog on a mat"]
    assert decode_captions(caps[0], WORDS) == "<START> a cat <END>"
    as_dict = {i: w for i, w in enumerate(WORDS)}
    assert decode_captions(caps, as_dict) == decode_captions(caps, WORDS)


@pytest.mark.parametrize("caps, match", [(np.array([[1, 9]]), "captions"),
                                         (np.array([1.0, 2.0]), "integer"),
                                         (np.zeros((1, 2, 2), int), "dimensions")])
def test_decode_captions_bad_input(caps, match):
    with pytest.raises(ValueError, match=match):
        decode_captions(caps, WORDS)
    if caps.dtype.kind == "i" and caps.ndim == 2:
        with pytest.raises(ValueError, match="9"):
            decode_captions(caps, {i: w for i, w in enumerate(WORDS)})


# ----------------------------------------------------------------------------- damaged data

@pytest.mark.parametrize("name", coco_utils.required_files())
def test_missing_file_is_named(layout, name):
    d = layout[0]
    os.remove(os.path.join(d, name))
    needs_pca = "_pca" in name or "fc7" not in name  # load the feature set that needs the file
    with pytest.raises(FileNotFoundError) as e:
        load_coco_data(d, pca_features=needs_pca)
    assert name in str(e.value) and "get_coco_captioning.sh" in str(e.value)


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.*get_coco_captioning.sh"):
        load_coco_data(str(tmp_path / "nowhere"))


def test_not_hdf5_and_truncated(layout):
    d = layout[0]
    path = os.path.join(d, "train2014_vgg16_fc7_pca.h5")
    with open(path, "wb") as f:
        f.write(b"this is not an HDF5 file" * 10)
    with pytest.raises(ValueError, match="train2014_vgg16_fc7_pca.h5.*HDF5"):
        load_coco_data(d)
    path = os.path.join(d, "coco2014_captions.h5")
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(ValueError, match="coco2014_captions.h5"):
        load_coco_data(d)


def test_missing_dataset(layout):
    d, a = layout
    _rewrite_h5(os.path.join(d, "coco2014_captions.h5"), val_image_idxs=None)
    with pytest.raises(ValueError, match="coco2014_captions.h5.*val_image_idxs"):
        load_coco_data(d)
    _rewrite_h5(os.path.join(d, "coco2014_captions.h5"), val_image_idxs=a["val_image_idxs"])
    _rewrite_h5(os.path.join(d, "val2014_vgg16_fc7.h5"), features=None, other=np.zeros(2))
    with pytest.raises(ValueError, match="val2014_vgg16_fc7.h5.*features"):
        load_coco_data(d, pca_features=False, lazy=True)


@pytest.mark.parametrize("change, match", [
    ({"train_captions": np.full((12, 17), 9, np.int32)}, "train_captions.*vocabulary"),
    ({"val_captions": -np.ones((8, 17), np.int32)}, "val_captions.*vocabulary"),
    ({"train_image_idxs": np.arange(12, dtype=np.int32)}, "train_image_idxs.*outside the 6 images"),
    ({"val_image_idxs": np.zeros(7, np.int32)}, "val_captions has 8 rows but val_image_idxs has 7"),
    ({"train_captions": np.zeros((12, 17), np.float32)}, "train_captions must be a 2-D integer"),
])
@pytest.mark.parametrize("lazy", [False, True])
def test_inconsistent_captions(layout, change, match, lazy):
    d = layout[0]
    _rewrite_h5(os.path.join(d, "coco2014_captions.h5"), **change)
    with pytest.raises(ValueError, match="coco2014_captions.h5.*" + match):
        load_coco_data(d, lazy=lazy)


def test_urls_and_feature_rows_must_agree(layout):
    d = layout[0]
    with open(os.path.join(d, "val2014_urls.txt"), "w") as f:
        f.write("http://x.org/1.jpg\nhttp://x.org/2.jpg\n")
    with pytest.raises(ValueError, match="val2014_vgg16_fc7_pca.h5 has 4 feature rows but "
                                         ".*val2014_urls.txt lists 2"):
        load_coco_data(d)


def test_feature_shapes_checked(layout):
    d = layout[0]
    _rewrite_h5(os.path.join(d, "val2014_vgg16_fc7_pca.h5"), features=np.zeros((4, 7), np.float32))
    with pytest.raises(ValueError, match="3 columns but val features 7"):
        load_coco_data(d)
    _rewrite_h5(os.path.join(d, "val2014_vgg16_fc7_pca.h5"), features=np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="val2014_vgg16_fc7_pca.h5: features must be a 2-D float"):
        load_coco_data(d)


@pytest.mark.parametrize("content, match", [
    ("{not json", "not valid JSON"),
    ('{"idx_to_word": ["a"]}', "keys idx_to_word and word_to_idx"),
    ('{"idx_to_word": ["<NULL>", "<START>", "<END>", "<UNK>", "a", "cat", "dog", "on", "mat"], '
     '"word_to_idx": {"<NULL>": 0, "<START>": 1, "<END>": 2, "<UNK>": 3, "a": 4, "cat": 6, '
     '"dog": 5, "on": 7, "mat": 8}}', "disagrees.*cat"),
    ('{"idx_to_word": ["<START>", "<NULL>", "<END>", "<UNK>"], "word_to_idx": '
     '{"<START>": 0, "<NULL>": 1, "<END>": 2, "<UNK>": 3}}', "first four words"),
])
def test_bad_vocabulary(layout, content, match):
    d = layout[0]
    with open(os.path.join(d, "coco2014_vocab.json"), "w") as f:
        f.write(content)
    with pytest.raises(ValueError, match="coco2014_vocab.json.*" + match):
        load_coco_data(d)


def _replace_with_group(path):
    os.remove(path)
    with h5py.File(path, "w") as f:
        f.create_group("features")


def _empty_split(d, split):
    _rewrite_h5(os.path.join(d, "coco2014_captions.h5"),
                **{split + "_captions": np.zeros((0, 17), np.int32),
                   split + "_image_idxs": np.zeros(0, np.int32)})


def _append_bytes(path, data):
    with open(path, "ab") as f:
        f.write(data)


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("damage, file, match", [
    (lambda d: _empty_split(d, "val"), "coco2014_captions.h5", "val_captions is empty"),
    (lambda d: _empty_split(d, "train"), "coco2014_captions.h5", "train_captions is empty"),
    (lambda d: _replace_with_group(os.path.join(d, "train2014_vgg16_fc7_pca.h5")),
     "train2014_vgg16_fc7_pca.h5", "'features' is an HDF5 group"),
    (lambda d: _append_bytes(os.path.join(d, "val2014_urls.txt"), b"caf\xe9.jpg\n"),
     "val2014_urls.txt", "not UTF-8"),
    (lambda d: _append_bytes(os.path.join(d, "coco2014_vocab.json"), b"\xff\xfe"),
     "coco2014_vocab.json", "not UTF-8"),
], ids=["empty-val", "empty-train", "features-group", "urls-latin1", "vocab-latin1"])
def test_bad_datasets_are_named_at_load(tmp_path, damage, file, match, lazy):
    d = str(tmp_path / "coco")
    _layout(d)
    damage(d)
    with pytest.raises(ValueError, match=match) as e:
        load_coco_data(d, lazy=lazy)
    assert os.path.join(d, file) in str(e.value)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_features_are_named(layout, value):
    d, _ = layout
    path = os.path.join(d, "val2014_vgg16_fc7_pca.h5")
    with h5py.File(path, "r+") as f:
        f["features"][2, 1] = value
    with pytest.raises(ValueError, match="NaN or inf.*row 2") as e:
        load_coco_data(d)
    assert path in str(e.value) and "'features'" in str(e.value)
    # Lazy features stay on disk, so rows are checked as they are read.
    data = load_coco_data(d, lazy=True)
    np.testing.assert_array_equal(data["val_features"][[0, 1]].shape, (2, 3))
    for idx in ([3, 2], 2, slice(1, 4)):
        with pytest.raises(ValueError, match="NaN or inf.*row 2") as e:
            data["val_features"][idx]
        assert path in str(e.value)


def test_lazy_features_truncated_while_open(layout):
    d, a = layout
    path = os.path.join(d, "train2014_vgg16_fc7_pca.h5")
    data = load_coco_data(d, lazy=True)
    np.testing.assert_array_equal(data["train_features"][[0, 1]], a["train_pca"][:2])
    with h5py.File(path, "r") as f:
        data_start = f["features"].id.get_offset()
    os.truncate(path, data_start)  # HDF5 reads the missing bytes as zeros
    with pytest.raises(ValueError, match="truncated while open") as e:
        data["train_features"][[0, 1]]
    assert path in str(e.value)


# ----------------------------------------------------------------------------- where data is

def test_default_dir_and_env(monkeypatch, tmp_path, layout):
    monkeypatch.delenv("RNNCAP_DATA", raising=False)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(coco_utils.__file__)))
    assert coco_utils.coco_dir() == os.path.join(repo, "datasets", "coco_captioning")
    monkeypatch.setenv("RNNCAP_DATA", layout[0])
    assert coco_utils.coco_dir() == layout[0]
    np.testing.assert_array_equal(load_coco_data()["val_captions"], layout[1]["val_captions"])
    np.testing.assert_array_equal(load_coco_data("coco")["val_captions"], layout[1]["val_captions"])
    assert resolve_dataset() == (layout[0], "coco")
    assert resolve_dataset("coco") == (layout[0], "coco")


def test_resolve_dataset_paths_and_missing_coco(monkeypatch, tmp_path, layout):
    monkeypatch.setenv("RNNCAP_DATA", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="get_coco_captioning.sh.*--data shapes"):
        resolve_dataset("coco")
    assert resolve_dataset(layout[0]) == (layout[0], "dir")
    with pytest.raises(FileNotFoundError, match="nope"):
        resolve_dataset(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="data"):
        resolve_dataset(3)
    with pytest.raises(ValueError, match="base_dir"):
        load_coco_data(3)


# ----------------------------------------------------------------------------- grid and objects

def _write_grids(d, grids):
    for split, g in grids.items():
        with h5py.File(os.path.join(d, "%s2014_grid.h5" % split), "w") as f:
            f["features"] = g


@pytest.mark.parametrize("lazy", [False, True])
def test_grid_features_round_trip(layout, lazy):
    d, a = layout
    g = np.random.default_rng(1)
    grids = {"train": g.standard_normal((6, 7, 3, 3)).astype(np.float32),
             "val": g.standard_normal((4, 7, 3, 3)).astype(np.float32)}
    _write_grids(d, grids)
    data = load_coco_data(d, grid_features=True, lazy=lazy)
    assert set(data) >= {"train_grid", "val_grid"}
    for split in ("train", "val"):
        assert isinstance(data[split + "_grid"], LazyFeatures) == lazy
        assert data[split + "_grid"].shape == grids[split].shape
        np.testing.assert_array_equal(data[split + "_grid"][[3, 0, 3]], grids[split][[3, 0, 3]])
        np.testing.assert_array_equal(data[split + "_features"], a[split + "_pca"])
    assert "train_grid" not in load_coco_data(d)


def test_grid_features_absent_say_so_and_what_would_make_them(layout):
    d, _ = layout
    for lazy in (False, True):
        with pytest.raises(FileNotFoundError) as err:
            load_coco_data(d, grid_features=True, lazy=lazy)
        message = str(err.value)
        assert "grid features are absent" in message and d in message
        assert "train2014_grid.h5 and val2014_grid.h5" in message
        assert "convolutional map" in message and "--data shapes" in message


@pytest.mark.parametrize("grids, match", [
    ({"train": np.zeros((6, 7, 3, 3), np.float32), "val": np.zeros((4, 7, 3), np.float32)},
     "val2014_grid.h5: features must be a .num_images, C, G, G. float array"),
    ({"train": np.zeros((6, 7, 3, 3), np.int32), "val": np.zeros((4, 7, 3, 3), np.float32)},
     "train2014_grid.h5: features must be"),
    ({"train": np.zeros((6, 7, 3, 2), np.float32), "val": np.zeros((4, 7, 3, 2), np.float32)},
     "train2014_grid.h5: features must be"),
    ({"train": np.zeros((5, 7, 3, 3), np.float32), "val": np.zeros((4, 7, 3, 3), np.float32)},
     "train2014_grid.h5 has 5 images but train2014_urls.txt lists 6"),
    ({"train": np.zeros((6, 7, 3, 3), np.float32), "val": np.zeros((4, 8, 3, 3), np.float32)},
     r"train grid features have shape \(C, G, G\) = \(7, 3, 3\) but val ones \(8, 3, 3\)"),
    ({"train": np.zeros((6, 7, 3, 3), np.float32), "val": np.full((4, 7, 3, 3), np.nan, np.float32)},
     "val2014_grid.h5: dataset 'features' holds NaN or inf"),
])
def test_bad_grid_features_name_the_file(layout, grids, match):
    d, _ = layout
    _write_grids(d, grids)
    with pytest.raises(ValueError, match=match):
        load_coco_data(d, grid_features=True)


def test_load_objects(layout):
    d, _ = layout
    with pytest.raises(FileNotFoundError, match="no object records in .*val2014_objects.json"):
        coco_utils.load_objects(d)
    records = [{"objects": [{"colour": "red", "shape": "circle", "size": "big", "row": 0,
                             "col": 1, "box": [1.0, 2.0, 3.0, 4.0]}]}] * 4
    with open(os.path.join(d, "val2014_objects.json"), "w") as f:
        json.dump(records, f)
    assert coco_utils.load_objects(d, "val") == records
    with pytest.raises(ValueError, match="split"):
        coco_utils.load_objects(d, "test")
    for bad in (b"[1, 2]", b'{"objects": []}', b'[{"objects": []}]', b"not json", b"[\xff]"):
        with open(os.path.join(d, "train2014_objects.json"), "wb") as f:
            f.write(bad)
        with pytest.raises(ValueError, match="train2014_objects.json"):
            coco_utils.load_objects(d, "train")
