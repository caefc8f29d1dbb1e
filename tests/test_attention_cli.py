"""The attention model at the command line and its maps: `rnncap train / sample / evaluate` with
--cell attention on a tiny data directory that has grid features and object records, the
localisation score (against maps and boxes worked out by hand) and the attention figure.
"""
import json
import os

import numpy as np
import pytest

from rnncap.attention_maps import cell_centres, format_localisation, localisation, word_maps
from rnncap.cli import main
from test_cli_train import PNG_MAGIC, WORDS, make_data_dir, one_error_line

W2I = {w: i for i, w in enumerate(WORDS)}
G, C = 4, 5  # the tiny data's grid: 4 x 4 cells of 5 channels over 64 x 64 images


# ----------------------------------------------------------------------------- localisation

class StubModel:
    """Stands in for an attention model: sample() returns the given captions and maps."""
    cell_type = "attention"
    idx_to_word = dict(enumerate(WORDS))

    def __init__(self, captions, maps):
        self.captions, self.maps = captions, maps
        self.calls = []

    def sample(self, features, max_length=30, return_attention=False):
        assert return_attention
        self.calls.append(features.copy())
        rows = np.zeros((len(features), max_length), dtype=np.int64)  # <NULL> padding
        weights = np.zeros((len(features), max_length, G, G))
        for n, f in enumerate(features):
            k = int(f[0, 0, 0])  # the test writes each image's number into its features
            words = [W2I[w] for w in self.captions[k].split()] + [W2I["<END>"]]
            rows[n, :len(words)] = words
            weights[n, :len(words) - 1] = self.maps[k]
        return rows, weights


def one_hot_map(i, j):
    m = np.zeros((G, G))
    m[i, j] = 1.0
    return m


def test_cell_centres_cover_the_image():
    xs, ys = cell_centres(4, 64)
    np.testing.assert_array_equal(xs[0], [8, 24, 40, 56])  # x along columns
    np.testing.assert_array_equal(ys[:, 0], [8, 24, 40, 56])  # y along rows


def test_localisation_by_hand():
    # Cell centres sit at 8, 24, 40, 56 px. Box A [20, 20, 44, 44] holds the four centres of
    # rows and columns 1-2 (chance 4/16); box B [0, 0, 12, 30] holds (row 0, col 0) and
    # (row 1, col 0) (chance 2/16).
    box_a, box_b = [20, 20, 44, 44], [0, 0, 12, 30]
    records = [{"objects": [{"box": box_a}]},
               {"objects": [{"box": box_a}, {"box": box_b}]},  # two objects: not scored
               {"objects": [{"box": box_b}]},
               {"objects": [{"box": box_a}]},
               {"objects": [{"box": box_b}]}]
    captions = {
        # colour at (1, 1) and shape at (3, 3): their average peaks at (1, 1), a tie broken
        # towards the first cell; the other words' maps (at (0, 0)) are not used: a hit.
        0: "a big red circle",
        1: "a big red circle",
        # colour and shape maps both at (0, 3): outside box B: a miss.
        2: "a small blue square",
        # no colour and no shape named: a miss whatever the maps.
        3: "there is a",
        # only the shape word is named, at (1, 0), inside box B: a hit.
        4: "a big square",
    }
    maps = {0: [one_hot_map(0, 0), one_hot_map(0, 0), one_hot_map(1, 1), one_hot_map(3, 3)],
            1: [one_hot_map(0, 0)] * 4,
            2: [one_hot_map(0, 0), one_hot_map(0, 0), one_hot_map(0, 3), one_hot_map(0, 3)],
            3: [one_hot_map(1, 1)] * 3,
            4: [one_hot_map(0, 0), one_hot_map(0, 0), one_hot_map(1, 0)]}
    maps = {k: np.stack(v) for k, v in maps.items()}
    features = np.zeros((5, C, G, G))
    features[:, 0, 0, 0] = np.arange(5)
    model = StubModel(captions, maps)
    result = localisation(model, features, records, max_length=6)
    assert result["images"] == 4 and result["localised"] == 2
    assert result["score"] == pytest.approx(0.5)
    assert result["chance"] == pytest.approx((4 + 2 + 4 + 2) / 16 / 4)
    assert [int(f[0, 0, 0]) for batch in model.calls for f in batch] == [0, 2, 3, 4]
    assert format_localisation(result) == "attention localisation: 50.0% (chance 18.8%)"


def test_localisation_errors_and_no_single_objects():
    model = StubModel({}, {})
    with pytest.raises(ValueError, match="one scene record per image"):
        localisation(model, np.zeros((2, C, G, G)), [{"objects": [{"box": [0, 0, 1, 1]}]}])
    two = {"objects": [{"box": [0, 0, 1, 1]}, {"box": [2, 2, 3, 3]}]}
    result = localisation(model, np.zeros((1, C, G, G)), [two])
    assert result["images"] == 0 and np.isnan(result["score"])
    model.cell_type = "gru"
    with pytest.raises(ValueError, match="cell_type 'attention'"):
        word_maps(model, np.zeros((1, C, G, G)))


def test_word_maps_stop_at_end_with_one_map_per_word():
    captions = {0: "a big red circle", 1: "there is"}
    maps = {0: np.stack([one_hot_map(t, t) for t in range(4)]), 1: np.stack([one_hot_map(0, 1)] * 2)}
    features = np.zeros((2, C, G, G))
    features[1, 0, 0, 0] = 1
    words, got = word_maps(StubModel(captions, maps), features, max_length=7, batch_size=1)
    assert words == [["a", "big", "red", "circle"], ["there", "is"]]
    np.testing.assert_array_equal(got[0], maps[0])
    np.testing.assert_array_equal(got[1], maps[1])


# ----------------------------------------------------------------------------- the commands

def add_grids_and_objects(data_dir, num_train=12, num_val=6):
    """Grid features (n, C, G, G) and one-object records for every image of the tiny data."""
    import h5py

    rng = np.random.default_rng(1)
    for split, n in (("train", num_train), ("val", num_val)):
        with h5py.File(os.path.join(data_dir, "%s2014_grid.h5" % split), "w") as f:
            f["features"] = rng.standard_normal((n, C, G, G)).astype(np.float32)
        records = [{"objects": [{"colour": "red", "shape": "circle", "size": "big", "row": 1,
                                 "col": 1, "box": [20, 20, 44, 44]}]} for _ in range(n)]
        with open(os.path.join(data_dir, "%s2014_objects.json" % split), "w") as f:
            json.dump(records, f)
    return data_dir


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data dir, checkpoint) of a tiny attention model trained by `rnncap train`."""
    root = tmp_path_factory.mktemp("attention_cli")
    data_dir = add_grids_and_objects(make_data_dir(root / "data"))
    out = root / "run"
    assert main(["train", "--data", data_dir, "--out", str(out), "--cell", "attention",
                 "--hidden-dim", "8", "--wordvec-dim", "6", "--batch-size", "12",
                 "--lr", "0.02", "--epochs", "2", "--no-progress"]) == 0
    return data_dir, str(out / "best.npz")


def test_train_attention_writes_a_checkpoint_of_the_attention_model(trained):
    from rnncap.commands.common import load_model

    _, ckpt = trained
    model, meta = load_model(ckpt)
    assert model.cell_type == "attention" and model.input_dim == C
    assert model.params["Wattn"].shape == (8, 32)
    assert meta["train"]["options"]["cell"] == "attention"


def test_evaluate_prints_the_localisation_line(trained, capsys):
    from rnncap.attention_maps import localisation as localise
    from rnncap.commands.common import load_data, load_model

    data_dir, ckpt = trained
    assert main(["evaluate", ckpt, "--beam-size", "2"]) == 0
    out = capsys.readouterr().out
    lines = [l for l in out.splitlines() if l.startswith("attention localisation: ")]
    assert len(lines) == 1
    # Every val image has one object whose box holds 4 of the 16 cell centres: chance 25%.
    assert lines[0].endswith("(chance 25.0%)")
    assert "caption accuracy" in out
    # The same model and the same centred grids as the command: the same figure.
    model, _ = load_model(ckpt)
    data, _, _ = load_data(data_dir, grid=True)
    records = json.load(open(os.path.join(data_dir, "val2014_objects.json")))
    assert lines[0] == format_localisation(localise(model, data["val_features"], records))


def test_sample_attention_saves_the_figure(trained, tmp_path, capsys):
    _, ckpt = trained
    out = tmp_path / "maps.png"
    assert main(["sample", ckpt, "--attention", "--index", "0", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "val image 0" in printed and "val image 1" in printed and str(out) in printed
    with open(out, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    assert main(["sample", ckpt, "--attention", "--beam-size", "2", "--out", str(out)]) == 2
    assert "greedy" in one_error_line(capsys)


def test_attention_options_on_vector_models_and_vector_data(trained, tmp_path, capsys):
    from rnncap.checkpoint import save_model
    from test_cli_sample_evaluate import chain_model

    data_dir, _ = trained
    ckpt = save_model(str(tmp_path / "chain.npz"), chain_model(),
                      extra_meta={"train": {"data": data_dir}})
    assert main(["sample", ckpt, "--attention", "--out", str(tmp_path / "x.png")]) == 2
    err = one_error_line(capsys)
    assert "--attention needs an attention model" in err and "rnn" in err
    # Data without grid features: one line saying they are absent.
    plain = make_data_dir(tmp_path / "plain")
    assert main(["train", "--data", plain, "--cell", "attention", "--out",
                 str(tmp_path / "run"), "--epochs", "1"]) == 2
    assert "grid features are absent" in one_error_line(capsys)
    assert main(["overfit", "--cell", "attention", "--data", plain, "--plot",
                 str(tmp_path / "o.png")]) == 2
    assert "grid features are absent" in one_error_line(capsys)


def test_plot_attention_checks_its_inputs(tmp_path):
    from rnncap.plots import plot_attention

    image = np.zeros((64, 64, 3), dtype=np.uint8)
    fig = plot_attention([image, None], [["a", "cat"], []], [np.ones((2, 2, 2)) / 4,
                                                             np.zeros((0, 2, 2))],
                         tmp_path / "a.png", title="t")
    assert len(fig.axes) == 3 + 1  # a row per image: the image, then one panel per word
    with open(tmp_path / "a.png", "rb") as f:
        assert f.read(8) == PNG_MAGIC
    with pytest.raises(ValueError, match=r"maps\[0\] must have shape"):
        plot_attention([image], [["a"]], [np.ones((2, 2, 2))], tmp_path / "b.png")
    with pytest.raises(ValueError, match="one entry per image"):
        plot_attention([image], [], [], tmp_path / "b.png")


def test_resume_keeps_the_attention_model_and_its_grid(trained, tmp_path):
    from rnncap.commands.common import load_model

    data_dir, _ = trained
    out = tmp_path / "run"
    common = ["--data", data_dir, "--out", str(out), "--hidden-dim", "8", "--wordvec-dim", "6",
              "--batch-size", "12", "--no-progress"]
    assert main(["train", "--cell", "attention", "--epochs", "1"] + common) == 0
    assert main(["train", "--resume", "--epochs", "2", "--out", str(out), "--no-progress"]) == 0
    model, meta = load_model(str(out / "last.npz"))
    assert model.cell_type == "attention" and meta["state"]["epoch"] == 2
